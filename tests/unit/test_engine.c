/*
 * test_engine.c - the request engine with a fake clock and a fake
 * transport: pacing, 429 pauses, Retry-After, backoff, the breaker, the
 * stop grace, abandon, in-doubt classification and rate accuracy. No
 * sockets, no sleeping: a poll advances the fake clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"

#define MAXJ 512

/* What the fake API answers one attempt with. */
struct answer {
	enum transport transport;
	long status;
	long retry_after_ms;
	long latency_ms;
};

struct fake {
	int64_t now;
	int slots;                 /* max in flight */
	struct {
		struct engine_job *job;
		int64_t done_at;
		struct answer a;
	} fly[64];
	int nfly;
	struct http_result ready[64];
	int nready;
	/* the script: answer for (job index, attempt) */
	struct answer (*script)(struct fake *f, int job, int attempt);
	struct engine_job *jobs;
	int64_t starts[4096];      /* start times, in order */
	int nstarts;
	int64_t pause_from, pause_until; /* for checks: no start in between */
	volatile sig_atomic_t stop, abandon;
	int stop_after_starts;     /* set stop once this many started (0 = never) */
	int abandon_at_ms;         /* set abandon at this time (0 = never) */
};

static int64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static int f_free(void *ctx)
{
	struct fake *f = ctx;

	return f->slots - f->nfly;
}

static int f_in_flight(void *ctx)
{
	return ((struct fake *)ctx)->nfly;
}

static int f_start(void *ctx, const struct http_request *req, struct err *err)
{
	struct fake *f = ctx;
	struct engine_job *j = req->cookie;
	int idx = (int)(j - f->jobs);

	(void)err;
	assert_true(f->nfly < f->slots);
	f->fly[f->nfly].job = j;
	f->fly[f->nfly].a = f->script(f, idx, j->attempts + 1);
	f->fly[f->nfly].done_at = f->now + f->fly[f->nfly].a.latency_ms;
	f->nfly++;
	assert_false(f->now >= f->pause_from && f->now < f->pause_until);
	if (f->nstarts < 4096)
		f->starts[f->nstarts++] = f->now;
	if (f->stop_after_starts && f->nstarts == f->stop_after_starts)
		f->stop = 15;
	return 0;
}

static int f_poll(void *ctx, int timeout_ms, struct err *err)
{
	struct fake *f = ctx;
	int64_t until = f->now + timeout_ms;

	(void)err;
	for (int i = 0; i < f->nfly; i++)
		if (f->fly[i].done_at < until)
			until = f->fly[i].done_at;
	if (f->abandon_at_ms && until >= f->abandon_at_ms && f->now < f->abandon_at_ms) {
		until = f->abandon_at_ms;
		f->abandon = 1;
	}
	if (until > f->now)
		f->now = until;
	for (int i = 0; i < f->nfly;) {
		if (f->fly[i].done_at <= f->now) {
			struct http_result *r = &f->ready[f->nready++];

			memset(r, 0, sizeof(*r));
			r->cookie = f->fly[i].job;
			r->transport = f->fly[i].a.transport;
			r->status = f->fly[i].a.status;
			r->retry_after_ms = f->fly[i].a.retry_after_ms ? f->fly[i].a.retry_after_ms : -1;
			r->elapsed_ms = f->fly[i].a.latency_ms;
			r->body = "{}";
			r->body_len = 2;
			r->detail = "";
			f->fly[i] = f->fly[--f->nfly];
		} else {
			i++;
		}
	}
	return 0;
}

static int f_next(void *ctx, struct http_result *res)
{
	struct fake *f = ctx;

	if (!f->nready)
		return 0;
	*res = f->ready[0];
	memmove(f->ready, f->ready + 1, (size_t)(--f->nready) * sizeof(f->ready[0]));
	return 1;
}

/* The feed: jobs[0..n) in order, and what became of each. */
struct feed {
	struct engine_job jobs[MAXJ];
	int n, next;
	struct engine_end ends[MAXJ];
	int ended[MAXJ];
	int order[MAXJ], norder;
};

static struct engine_job *feed_next(void *ctx, int64_t now)
{
	struct feed *fd = ctx;

	(void)now;
	return fd->next < fd->n ? &fd->jobs[fd->next++] : NULL;
}

static bool feed_idle(void *ctx)
{
	struct feed *fd = ctx;

	return fd->next >= fd->n;
}

static int feed_done(void *ctx, struct engine_job *j, const struct engine_end *end,
		     struct err *err)
{
	struct feed *fd = ctx;
	int i = (int)(j - fd->jobs);

	(void)err;
	fd->ends[i] = *end;
	fd->ended[i]++;
	fd->order[fd->norder++] = i;
	return 0;
}

static struct fake F;
static struct feed FD;

static struct answer ok(struct fake *f, int job, int attempt)
{
	(void)f;
	(void)job;
	(void)attempt;
	return (struct answer){TRANSPORT_OK, 201, 0, 20};
}

static void setup_run(int n, enum request_kind kind, int slots, double rate,
		      struct answer (*script)(struct fake *, int, int), struct engine *e)
{
	struct engine_opts o = {0};
	struct engine_transport t = {&F, f_free, f_in_flight, f_start, f_poll, f_next};
	struct err err;

	memset(&F, 0, sizeof(F));
	memset(&FD, 0, sizeof(FD));
	F.now = 1000000;
	F.slots = slots;
	F.script = script;
	F.jobs = FD.jobs;
	FD.n = n;
	for (int i = 0; i < n; i++) {
		FD.jobs[i].url = "http://127.0.0.1/api/v2/users";
		FD.jobs[i].kind = kind;
		FD.jobs[i].once = kind == REQUEST_SEND;
	}
	o.policy = (struct retry_policy){5, 250, 30000, 300000, 0};
	o.rate = rate;
	o.stop = &F.stop;
	o.abandon = &F.abandon;
	o.now_ms = fake_now;
	o.clock_ctx = &F;
	o.seed = 42;
	err_init(&err);
	assert_int_equal(engine_init(e, &o, &t, &err), 0);
}

static int run(struct engine *e)
{
	struct engine_feed f = {.ctx = &FD, .done = feed_done, .next = feed_next,
				.idle = feed_idle};
	struct err err;

	err_init(&err);
	return engine_run(e, &f, &err);
}

static void test_all_succeed_each_ends_once(void **state)
{
	struct engine e;

	(void)state;
	setup_run(100, REQUEST_CREATE, 8, 0, ok, &e);
	assert_int_equal(run(&e), 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(FD.ended[i], 1);
		assert_int_equal(FD.ends[i].verdict, RETRY_DONE);
		assert_false(FD.ends[i].cut);
	}
	assert_int_equal(e.st.requests, 100);
	assert_int_equal(e.st.retries, 0);
	/* 100 jobs, 8 at a time, 20 ms each: 13 rounds */
	assert_int_equal(F.now - 1000000, 13 * 20);
	assert_true(engine_latency_ms(e.st.latency_hist, 50) == 20);
	engine_release(&e);
}

/* Job 3's first attempt gets a 429 with Retry-After 2 s: nothing starts
 * during the pause, and then the job succeeds. */
static struct answer one_429(struct fake *f, int job, int attempt)
{
	if (job == 3 && attempt == 1) {
		f->pause_from = f->now + 20; /* answered after 20 ms */
		f->pause_until = f->pause_from + 2000;
		return (struct answer){TRANSPORT_OK, 429, 2000, 20};
	}
	return ok(f, job, attempt);
}

static void test_429_pauses_everything_for_retry_after(void **state)
{
	struct engine e;

	(void)state;
	setup_run(40, REQUEST_CREATE, 4, 0, one_429, &e);
	assert_int_equal(run(&e), 0); /* f_start asserts no start in the pause */
	assert_int_equal(e.st.rate_limited, 1);
	assert_int_equal(e.st.retries, 1);
	assert_int_equal(FD.ends[3].verdict, RETRY_DONE);
	assert_int_equal(FD.jobs[3].attempts, 2);
	engine_release(&e);
}

/* 503 twice, then fine: retried after full-jitter backoff, at most
 * base * 2^(n-1) later. */
static struct answer flaky(struct fake *f, int job, int attempt)
{
	if (attempt <= 2)
		return (struct answer){TRANSPORT_OK, 503, 0, 10};
	return ok(f, job, attempt);
}

static void test_backoff_within_full_jitter(void **state)
{
	struct engine e;

	(void)state;
	setup_run(1, REQUEST_SEND, 1, 0, flaky, &e);
	assert_int_equal(run(&e), 0);
	assert_int_equal(F.nstarts, 3);
	assert_true(F.starts[1] - (F.starts[0] + 10) <= 250);
	assert_true(F.starts[2] - (F.starts[1] + 10) <= 500);
	assert_int_equal(FD.ends[0].verdict, RETRY_DONE);
	engine_release(&e);
}

/* Each attempt's own outcome, status and time reach the request event. */
struct seen_attempt {
	enum outcome outcome;
	long status, elapsed_ms;
	int attempt;
};
static struct seen_attempt seen[8];
static int nseen;

static void on_event(void *ctx, enum engine_event ev, const struct engine_job *j,
		     const char *msg)
{
	(void)ctx;
	(void)msg;
	if (ev != ENGINE_EV_REQUEST || nseen == 8)
		return;
	seen[nseen++] = (struct seen_attempt){j->last_outcome, j->last_status, j->last_elapsed_ms,
					      j->attempts};
}

static struct answer lost_then_503_then_ok(struct fake *f, int job, int attempt)
{
	if (attempt == 1)
		return (struct answer){TRANSPORT_NOT_SENT, 0, 0, 3};
	if (attempt == 2)
		return (struct answer){TRANSPORT_OK, 503, 0, 10};
	return ok(f, job, attempt);
}

static void test_request_events_carry_each_attempt(void **state)
{
	struct engine e;

	(void)state;
	setup_run(1, REQUEST_CREATE, 1, 0, lost_then_503_then_ok, &e);
	e.o.event = on_event;
	e.o.log_requests = true;
	nseen = 0;
	assert_int_equal(run(&e), 0);
	assert_int_equal(nseen, 3);
	assert_int_equal(seen[0].attempt, 1);
	assert_int_equal(seen[0].status, 0); /* no answer */
	assert_int_equal(seen[0].elapsed_ms, 3);
	assert_int_equal(seen[1].attempt, 2);
	assert_int_equal(seen[1].status, 503);
	assert_string_equal(outcome_name(seen[1].outcome), outcome_name(OUTCOME_UNAVAILABLE));
	assert_int_equal(seen[1].elapsed_ms, 10);
	assert_int_equal(seen[2].attempt, 3);
	assert_int_equal(seen[2].outcome, OUTCOME_OK);
	assert_int_equal(FD.jobs[0].http_status, seen[2].status);
	engine_release(&e);
}

/* A send that times out is in doubt and never retried. */
static struct answer timeout(struct fake *f, int job, int attempt)
{
	(void)f;
	(void)job;
	(void)attempt;
	return (struct answer){TRANSPORT_TIMEOUT, 0, 0, 30000};
}

static void test_send_timeout_in_doubt_not_retried(void **state)
{
	struct engine e;

	(void)state;
	setup_run(3, REQUEST_SEND, 3, 0, timeout, &e);
	assert_int_equal(run(&e), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(FD.ends[i].verdict, RETRY_IN_DOUBT);
		assert_true(FD.jobs[i].maybe_acted);
		assert_int_equal(FD.jobs[i].attempts, 1);
	}
	engine_release(&e);
}

/* 50 consecutive connection failures trip the breaker: the run halts and
 * the jobs not finished end cut. */
static struct answer refused(struct fake *f, int job, int attempt)
{
	(void)f;
	(void)job;
	(void)attempt;
	return (struct answer){TRANSPORT_NOT_SENT, 0, 0, 1};
}

static void test_breaker_halts_and_cuts(void **state)
{
	struct engine e;
	int cut = 0;

	(void)state;
	setup_run(200, REQUEST_CREATE, 8, 0, refused, &e);
	assert_int_equal(run(&e), 0);
	assert_true(engine_halted(&e));
	assert_non_null(strstr(e.st.abort_reason, "circuit breaker"));
	assert_true(e.st.requests >= 50 && e.st.requests < 60);
	for (int i = 0; i < FD.next; i++) {
		assert_int_equal(FD.ended[i], 1);
		cut += FD.ends[i].cut;
	}
	assert_true(cut > 0);
	assert_true(FD.next < 200); /* the rest were never handed over */
	engine_release(&e);
}

/* A signal: in-flight requests finish, nothing new starts. */
static struct answer slow(struct fake *f, int job, int attempt)
{
	(void)f;
	(void)job;
	(void)attempt;
	return (struct answer){TRANSPORT_OK, 201, 0, 3000};
}

static void test_signal_lets_in_flight_finish(void **state)
{
	struct engine e;

	(void)state;
	setup_run(50, REQUEST_CREATE, 8, 0, slow, &e);
	F.stop_after_starts = 8;
	assert_int_equal(run(&e), 0);
	assert_int_equal(e.st.signal, 15);
	assert_int_equal(F.nstarts, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(FD.ends[i].verdict, RETRY_DONE);
		assert_false(FD.ends[i].cut);
	}
	engine_release(&e);
}

/* Past the 10 s grace, requests still on the wire are abandoned. */
static struct answer hang(struct fake *f, int job, int attempt)
{
	(void)f;
	(void)job;
	(void)attempt;
	return (struct answer){TRANSPORT_OK, 201, 0, 60000};
}

static void test_grace_runs_out_jobs_abandoned(void **state)
{
	struct engine e;
	int64_t t0;

	(void)state;
	setup_run(4, REQUEST_SEND, 4, 0, hang, &e);
	F.stop_after_starts = 4;
	t0 = F.now;
	assert_int_equal(run(&e), 0);
	assert_true(F.now - t0 <= ENGINE_STOP_GRACE_MS + 250);
	for (int i = 0; i < 4; i++) {
		assert_true(FD.ends[i].cut);
		assert_true(FD.ends[i].abandoned);
	}
	engine_release(&e);
}

static void test_abandon_stops_at_once(void **state)
{
	struct engine e;

	(void)state;
	setup_run(4, REQUEST_SEND, 4, 0, hang, &e);
	F.abandon_at_ms = (int)(F.now + 500);
	assert_int_equal(run(&e), 0);
	assert_true(F.now <= F.abandon_at_ms + 1);
	for (int i = 0; i < 4; i++)
		assert_true(FD.ends[i].abandoned);
	engine_release(&e);
}

/* A 503 followed by a stop: the job is cut, and nothing reached the API. */
static struct answer always_503(struct fake *f, int job, int attempt)
{
	(void)job;
	(void)attempt;
	f->stop = 15;
	return (struct answer){TRANSPORT_OK, 503, 0, 10};
}

static void test_cut_after_not_acted_is_clean(void **state)
{
	struct engine e;

	(void)state;
	setup_run(1, REQUEST_SEND, 1, 0, always_503, &e);
	assert_int_equal(run(&e), 0);
	assert_true(FD.ends[0].cut);
	assert_false(FD.ends[0].abandoned);
	assert_false(FD.jobs[0].maybe_acted);
	engine_release(&e);
}

/* A TLS failure is a configuration error: the run halts at once. */
static struct answer tls(struct fake *f, int job, int attempt)
{
	(void)f;
	(void)job;
	(void)attempt;
	return (struct answer){TRANSPORT_TLS, 0, 0, 5};
}

static void test_config_error_halts(void **state)
{
	struct engine e;

	(void)state;
	setup_run(20, REQUEST_CREATE, 2, 0, tls, &e);
	assert_int_equal(run(&e), 0);
	assert_true(engine_halted(&e));
	assert_non_null(strstr(e.st.abort_reason, "--ca-cert"));
	assert_int_equal(FD.ends[0].verdict, RETRY_CONFIG);
	assert_true(e.st.requests <= 2);
	engine_release(&e);
}

/* --rate 100: 200 quick jobs take about 2 s, never more than 11 starts in
 * any 100 ms. */
static void test_rate_is_held(void **state)
{
	struct engine e;
	int64_t span;

	(void)state;
	setup_run(200, REQUEST_CREATE, 32, 100, ok, &e);
	assert_int_equal(run(&e), 0);
	span = F.starts[F.nstarts - 1] - F.starts[0];
	assert_true(span >= 1950 && span <= 2050);
	for (int i = 0; i + 11 < F.nstarts; i++)
		assert_true(F.starts[i + 11] - F.starts[i] >= 100);
	engine_release(&e);
}

/* engine_run_one: a single job to its end, with its description. */
static struct answer rejected(struct fake *f, int job, int attempt)
{
	(void)f;
	(void)job;
	(void)attempt;
	return (struct answer){TRANSPORT_OK, 404, 0, 5};
}

static void test_run_one_describes(void **state)
{
	struct engine e;
	struct engine_end end;
	char why[200] = "";
	struct err err;

	(void)state;
	setup_run(1, REQUEST_CREATE, 1, 0, rejected, &e);
	err_init(&err);
	assert_int_equal(engine_run_one(&e, &FD.jobs[0], &end, why, sizeof(why), &err), 0);
	assert_int_equal(end.verdict, RETRY_FAIL);
	assert_int_equal(end.outcome, OUTCOME_REJECTED);
	assert_null(end.res);
	assert_non_null(strstr(why, "HTTP 404"));
	engine_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_succeed_each_ends_once),
		cmocka_unit_test(test_429_pauses_everything_for_retry_after),
		cmocka_unit_test(test_backoff_within_full_jitter),
		cmocka_unit_test(test_send_timeout_in_doubt_not_retried),
		cmocka_unit_test(test_breaker_halts_and_cuts),
		cmocka_unit_test(test_signal_lets_in_flight_finish),
		cmocka_unit_test(test_grace_runs_out_jobs_abandoned),
		cmocka_unit_test(test_abandon_stops_at_once),
		cmocka_unit_test(test_cut_after_not_acted_is_clean),
		cmocka_unit_test(test_config_error_halts),
		cmocka_unit_test(test_rate_is_held),
		cmocka_unit_test(test_run_one_describes),
		cmocka_unit_test(test_request_events_carry_each_attempt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
