/*
 * engine.c - runs jobs to their verdicts over a transport: due retries
 * first, then the feed's new jobs, within the free slots and the pace;
 * every answer goes through outcome -> retry, and each job ends once, in
 * the done callback. Never sleeps: waits are transport poll timeouts up
 * to the next not-before time. Knows nothing of ledgers or results.
 */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#include "banned.h"

/* ---- the http module as a transport ----------------------------------- */

static int h_free_slots(void *ctx) { return http_free_slots(ctx); }
static int h_in_flight(void *ctx) { return http_in_flight(ctx); }
static int h_start(void *ctx, const struct http_request *req, struct err *err)
{
	return http_start(ctx, req, err);
}
static int h_poll(void *ctx, int timeout_ms, struct err *err)
{
	return http_poll(ctx, timeout_ms, err);
}
static int h_next(void *ctx, struct http_result *res) { return http_next_result(ctx, res); }

void engine_http_transport(struct http *h, struct engine_transport *t)
{
	t->ctx = h;
	t->free_slots = h_free_slots;
	t->in_flight = h_in_flight;
	t->start = h_start;
	t->poll = h_poll;
	t->next_result = h_next;
}

/* ---- set-up ------------------------------------------------------------ */

int64_t engine_now(const struct engine *e)
{
	return e->o.now_ms ? e->o.now_ms(e->o.clock_ctx) : clock_now_ms();
}

int engine_init(struct engine *e, const struct engine_opts *o,
		const struct engine_transport *t, struct err *err)
{
	memset(e, 0, sizeof(*e));
	e->o = *o;
	e->t = *t;
	if (e->o.policy.max_retry_after_ms <= 0)
		e->o.policy.max_retry_after_ms = ENGINE_MAX_RETRY_AFTER_MS;
	e->rng = o->seed ? o->seed : clock_seed();
	adapt_init(&e->adapt, o->adaptive, o->rate, o->learned_rate, o->sharers,
		   engine_now(e));
	pace_init(&e->pace, adapt_rate(&e->adapt, engine_now(e)), engine_now(e));
	e->cap_waiting = 64;
	e->waiting = malloc(e->cap_waiting * sizeof(*e->waiting));
	if (!e->waiting)
		return err_set(err, "out of memory");
	return 0;
}

void engine_release(struct engine *e)
{
	free(e->waiting);
	e->waiting = NULL;
}

static void event(struct engine *e, enum engine_event ev, const struct engine_job *j,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void event(struct engine *e, enum engine_event ev, const struct engine_job *j,
		  const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (!e->o.event || (ev == ENGINE_EV_REQUEST && !e->o.log_requests))
		return; /* one per attempt: not formatted for nothing */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e->o.event(e->o.ctx, ev, j, msg);
}

void engine_halt(struct engine *e, enum engine_halt why, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (e->halt != ENGINE_RUNNING)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e->halt = why;
	e->deadline_ms = engine_now(e) + ENGINE_STOP_GRACE_MS;
	if (why == ENGINE_HALT_ABORT)
		memcpy(e->st.abort_reason, msg, sizeof(e->st.abort_reason));
	event(e, why == ENGINE_HALT_SIGNAL ? ENGINE_EV_SIGNAL : ENGINE_EV_ABORT, NULL, "%s%s",
	      why == ENGINE_HALT_SIGNAL ? "" : "stopping: ", msg);
}

bool engine_halted(const struct engine *e)
{
	return e->halt != ENGINE_RUNNING;
}

size_t engine_in_flight(const struct engine *e)
{
	return e->nflying;
}

/* ---- the retry heap (min by ready_at_ms) -------------------------------- */

static int wait_push(struct engine *e, struct engine_job *j, struct err *err)
{
	size_t i;

	if (e->nwaiting == e->cap_waiting) {
		size_t cap = e->cap_waiting * 2;
		struct engine_job **p = realloc(e->waiting, cap * sizeof(*p));

		if (!p)
			return err_set(err, "out of memory");
		e->waiting = p;
		e->cap_waiting = cap;
	}
	j->queued = true;
	for (i = e->nwaiting++; i > 0; i = (i - 1) / 2) {
		struct engine_job *up = e->waiting[(i - 1) / 2];

		if (up->ready_at_ms <= j->ready_at_ms)
			break;
		e->waiting[i] = up;
	}
	e->waiting[i] = j;
	return 0;
}

static struct engine_job *wait_pop(struct engine *e)
{
	struct engine_job *top = e->waiting[0], *last = e->waiting[--e->nwaiting];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= e->nwaiting)
			break;
		if (c + 1 < e->nwaiting && e->waiting[c + 1]->ready_at_ms < e->waiting[c]->ready_at_ms)
			c++;
		if (last->ready_at_ms <= e->waiting[c]->ready_at_ms)
			break;
		e->waiting[i] = e->waiting[c];
		i = c;
	}
	if (e->nwaiting)
		e->waiting[i] = last;
	top->queued = false;
	return top;
}

/* ---- one answer ----------------------------------------------------------- */

/*
 * An answer for the pacing: a 429 pauses every new request (for its
 * Retry-After at least) and adaptive pacing lowers the rate; any other
 * answer counts as accepted by the API's limiter.
 */
static void throttle(struct engine *e, bool limited, long retry_after_ms, long elapsed_ms,
		     int64_t now)
{
	int64_t until;

	if (retry_after_ms > e->o.policy.max_retry_after_ms)
		retry_after_ms = e->o.policy.max_retry_after_ms;
	until = adapt_answer(&e->adapt, limited, retry_after_ms,
			     now - (elapsed_ms > 0 ? elapsed_ms : 0), now);
	if (until <= now)
		return;
	/* time paused, without counting overlapping pauses twice */
	if (until > e->pause_until_ms) {
		e->st.paused_ms += until - (e->pause_until_ms > now ? e->pause_until_ms : now);
		e->pause_until_ms = until;
	}
	/* (pace_pause adds the millisecond a truncating clock may lose) */
	pace_pause(&e->pace, until);
	if (e->adapt.on)
		event(e, ENGINE_EV_PAUSE, NULL,
		      "HTTP 429: pausing all requests for %ld ms; then %.0f requests/s (limit "
		      "seen %.0f/s)", (long)(until - now), adapt_rate(&e->adapt, until),
		      e->adapt.w_max);
	else
		event(e, ENGINE_EV_PAUSE, NULL, "HTTP 429: pausing all requests for %ld ms",
		      (long)(until - now));
}

static size_t lat_bucket(long ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		return (size_t)ms;
	ms = 1000 + (ms - 1000) / 100;
	return ms < ENGINE_LAT_BUCKETS ? (size_t)ms : ENGINE_LAT_BUCKETS - 1;
}

double engine_latency_ms(const uint32_t hist[ENGINE_LAT_BUCKETS], double p)
{
	uint64_t total = 0, seen = 0, want;

	for (size_t i = 0; i < ENGINE_LAT_BUCKETS; i++)
		total += hist[i];
	if (!total)
		return -1;
	want = (uint64_t)((double)total * p / 100.0 + 0.5);
	if (want < 1)
		want = 1;
	for (size_t i = 0; i < ENGINE_LAT_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= want)
			return i < 1000 ? (double)i : 1000.0 + (double)(i - 1000) * 100.0;
	}
	return -1;
}

static void unfly(struct engine *e, struct engine_job *j)
{
	for (size_t i = 0; i < e->nflying; i++)
		if (e->flying[i] == j) {
			e->flying[i] = e->flying[--e->nflying];
			break;
		}
	j->in_flight = false;
}

static int end_job(struct engine *e, struct engine_job *j, const struct engine_end *end,
		   struct err *err)
{
	return e->feed->done(e->feed->ctx, j, end, err);
}

static int handle(struct engine *e, const struct http_result *res, int64_t now,
		  struct err *err)
{
	struct engine_job *j = res->cookie;
	struct engine_end end = {0};
	struct retry_decision d;
	struct err why;
	enum outcome o = outcome_classify(res->transport, res->status);

	unfly(e, j);
	j->attempts++;
	e->st.requests++;
	if (res->transport == TRANSPORT_OK)
		j->http_status = res->status;
	if (o == OUTCOME_OK && e->feed->accept && e->feed->accept(e->feed->ctx, j, res, &why) < 0) {
		o = OUTCOME_BAD_RESPONSE;
		end.why = why.msg;
	}
	if (!outcome_not_acted(o))
		j->maybe_acted = true;
	if (o == OUTCOME_RATE_LIMITED)
		e->st.rate_limited++;
	e->st.latency_hist[lat_bucket(res->elapsed_ms)]++;
	if (pace_count(&e->pace, o))
		engine_halt(e, ENGINE_HALT_ABORT, "circuit breaker: %d consecutive failed requests",
			    PACE_BREAKER_LIMIT);
	d = retry_decide(&e->o.policy, j->kind, o, j->attempts, res->retry_after_ms,
			 clock_rand01(&e->rng));
	if (res->transport == TRANSPORT_OK)
		throttle(e, o == OUTCOME_RATE_LIMITED, res->retry_after_ms, res->elapsed_ms, now);
	j->last_outcome = o;
	j->last_status = res->transport == TRANSPORT_OK ? res->status : 0;
	j->last_elapsed_ms = res->elapsed_ms;
	event(e, ENGINE_EV_REQUEST, j, "%s attempt %d: %s (HTTP %ld, %ld ms)",
	      j->kind == REQUEST_CREATE ? (j->get ? "read" : "create")
	      : j->kind == REQUEST_SEND ? "send" : "verify",
	      j->attempts, outcome_name(o), res->status, res->elapsed_ms);
	end.outcome = o;
	end.res = res;
	if (d.verdict == RETRY_AGAIN && !engine_halted(e)) {
		e->st.retries++;
		j->ready_at_ms = now + d.delay_ms;
		return wait_push(e, j, err);
	}
	if (d.verdict == RETRY_AGAIN) {
		end.cut = true; /* would be retried, but the run stops */
		return end_job(e, j, &end, err);
	}
	if (d.verdict == RETRY_ABORT)
		engine_halt(e, ENGINE_HALT_ABORT, "HTTP %ld: the API refused the credentials",
			    res->status);
	end.verdict = d.verdict;
	end.exhausted = d.verdict == RETRY_FAIL && o != OUTCOME_REJECTED;
	if (d.verdict == RETRY_CONFIG) {
		char line[320];

		engine_describe(j, &end, "", line, sizeof(line));
		engine_halt(e, ENGINE_HALT_ABORT, "%s", line);
	}
	return end_job(e, j, &end, err);
}

void engine_describe(const struct engine_job *j, const struct engine_end *end,
		     const char *prefix, char *out, size_t cap)
{
	struct outcome_info in;

	if (!end->res) {
		snprintf(out, cap, "%snot attempted", prefix);
		return;
	}
	http_outcome_info(end->res, end->outcome, &in);
	in.why = end->why;
	in.attempts = j->attempts;
	in.exhausted = end->exhausted;
	outcome_describe(&in, prefix, out, cap);
}

/* ---- the loop --------------------------------------------------------------- */

static int start(struct engine *e, struct engine_job *j, struct err *err)
{
	struct http_request req = {0};

	req.url = j->url;
	req.body = j->body;
	req.body_len = j->body_len;
	req.get = j->get;
	req.once = j->once;
	req.url_repeats = j->url_repeats;
	req.cookie = j;
	if (e->t.start(e->t.ctx, &req, err) < 0)
		return -1;
	j->in_flight = true;
	e->flying[e->nflying++] = j;
	return 0;
}

/* Starts due retries, then the feed's jobs, within slots and the pace. A
 * job the feed handed over while the pace said wait is held for the next
 * turn. */
static int start_jobs(struct engine *e, const struct engine_feed *f, int64_t now,
		      struct err *err)
{
	e->st.rate = adapt_rate(&e->adapt, now);
	e->st.learned_rate = adapt_learned(&e->adapt);
	e->st.paused = now < e->pause_until_ms;
	e->st.pause_left_ms = e->st.paused ? e->pause_until_ms - now : 0;
	pace_set_rate(&e->pace, e->st.rate, now);
	while (!engine_halted(e) && e->t.free_slots(e->t.ctx) > 0 &&
	       e->nflying < ENGINE_MAX_IN_FLIGHT) {
		struct engine_job *j = NULL;

		if (e->nwaiting && e->waiting[0]->ready_at_ms <= now)
			j = wait_pop(e);
		else if (e->held)
			j = e->held;
		else if (!(j = f->next(f->ctx, now)))
			break;
		if (!pace_take(&e->pace, now)) {
			if (j->queued || j->ready_at_ms) { /* a retry: back in the heap */
				if (wait_push(e, j, err) < 0)
					return -1;
			} else {
				e->held = j;
			}
			break;
		}
		if (j == e->held)
			e->held = NULL;
		if (start(e, j, err) < 0)
			return -1;
	}
	return 0;
}

/* How long to wait for the network before there is work to do. */
static int wait_for(struct engine *e, const struct engine_feed *f, int64_t now)
{
	int64_t t = 250, pace_ms = pace_wait_ms(&e->pace, now);
	bool slot = e->t.free_slots(e->t.ctx) > 0;

	if (e->nwaiting) { /* the next retry, once the pace allows it */
		int64_t d = e->waiting[0]->ready_at_ms - now;

		if (d < pace_ms)
			d = pace_ms;
		if (slot && d < t)
			t = d;
	}
	if (e->held && slot && pace_ms < t)
		t = pace_ms;
	if (f->wait_ms) {
		int64_t d = f->wait_ms(f->ctx, now);

		if (d < t)
			t = d;
	}
	if (engine_halted(e) && e->deadline_ms - now < t)
		t = e->deadline_ms - now;
	return t < 0 ? 0 : (int)t;
}

/* Ends every job still held: waiting retries, then those on the wire. */
static int cut_all(struct engine *e, struct err *err)
{
	struct engine_end end = {0};
	int rc = 0;

	end.cut = true;
	if (e->held) {
		struct engine_job *j = e->held;

		e->held = NULL;
		if (end_job(e, j, &end, err) < 0)
			rc = -1;
	}
	while (e->nwaiting)
		if (end_job(e, wait_pop(e), &end, err) < 0)
			rc = -1;
	end.abandoned = true;
	while (e->nflying) {
		struct engine_job *j = e->flying[e->nflying - 1];

		unfly(e, j);
		if (end_job(e, j, &end, err) < 0)
			rc = -1;
	}
	return rc;
}

int engine_run(struct engine *e, const struct engine_feed *f, struct err *err)
{
	e->feed = f;
	for (;;) {
		int64_t now = engine_now(e);
		struct http_result res;

		if (e->o.stop && *e->o.stop && !e->st.signal) {
			e->st.signal = (int)*e->o.stop;
			engine_halt(e, ENGINE_HALT_SIGNAL,
				    "signal %d: finishing requests in flight (10 s at most)",
				    e->st.signal);
		}
		if ((e->o.abandon && *e->o.abandon) ||
		    (engine_halted(e) && now >= e->deadline_ms))
			break;
		if (f->turn && f->turn(f->ctx, now, err) < 0)
			goto fail;
		if (start_jobs(e, f, now, err) < 0)
			goto fail;
		if (!e->nflying && (engine_halted(e) || (!e->nwaiting && !e->held && f->idle(f->ctx))))
			break;
		if (e->t.poll(e->t.ctx, wait_for(e, f, now), err) < 0)
			goto fail;
		now = engine_now(e);
		while (e->t.next_result(e->t.ctx, &res))
			if (handle(e, &res, now, err) < 0)
				goto fail;
	}
	return cut_all(e, err);
fail: {
	struct err ignored;

	cut_all(e, &ignored);
	return -1;
}
}

/* ---- one job alone ------------------------------------------------------- */

struct one {
	struct engine_job *job;
	bool handed, ended;
	struct engine_end *end;
	char *desc;
	size_t desc_cap;
};

static struct engine_job *one_next(void *ctx, int64_t now)
{
	struct one *o = ctx;

	(void)now;
	if (o->handed)
		return NULL;
	o->handed = true;
	return o->job;
}

static bool one_idle(void *ctx)
{
	return ((struct one *)ctx)->handed;
}

static int one_done(void *ctx, struct engine_job *j, const struct engine_end *end,
		    struct err *err)
{
	struct one *o = ctx;

	(void)err;
	if (o->desc_cap)
		engine_describe(j, end, "", o->desc, o->desc_cap);
	*o->end = *end;
	o->end->res = NULL; /* gone once this returns */
	o->ended = true;
	return 0;
}

int engine_run_one(struct engine *e, struct engine_job *j, struct engine_end *end,
		   char *desc, size_t desc_cap, struct err *err)
{
	struct one o = {j, false, false, end, desc, desc_cap};
	struct engine_feed f = {0};

	memset(end, 0, sizeof(*end));
	f.ctx = &o;
	f.next = one_next;
	f.idle = one_idle;
	f.done = one_done;
	if (engine_run(e, &f, err) < 0)
		return -1;
	if (!o.ended) /* never started: the run was halted */
		end->cut = true;
	return 0;
}
