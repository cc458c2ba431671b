/*
 * import.c - one import run: the window and the wiring, in the order of a
 * row's life.
 *
 * Pass 1 (scan.c) validates the whole file and finds duplicates; nothing
 * is sent if it is broken. Pass 2 reads the same bytes again and streams
 * rows through a bounded window: admit_row decides what a row needs (a
 * create, a send for a user the ledger knows, nothing), the engine runs
 * the requests (pacing, retries, pauses, the breaker, the stop grace), and
 * job_done moves the row on - a created user gets its send, whose intent
 * the ledger makes durable before it leaves - until the row leaves the
 * window, in input order, into the results file. No globals: everything
 * lives in struct run.
 */
#include "import_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "http.h"
#include "probe.h"

#include "banned.h"

static const char *const results_header[] = {
	"row",   "line",         "status",       "user_id",
	"verification", "http_status", "attempts", "error",
	"email", "country_code", "phone_number"};

static int64_t clock_ms(const struct run *r)
{
	return r->o->now_ms ? r->o->now_ms(r->o->ctx) : clock_now_ms();
}

/* ---- a job's end (the engine's callbacks) ----------------------------- */

/* A create's 2xx must carry a usable id; whether the user is verified
 * comes along. */
static int accept(void *ctx, struct engine_job *j, const struct http_result *res,
		  struct err *why)
{
	struct run *r = ctx;
	struct slot *s = &r->win[(uintptr_t)j->cookie];
	bool verified = false;

	if (j->kind != REQUEST_CREATE)
		return 0;
	if (payload_created_user(r->arena, res->body, res->body_len, s->user_id, &verified,
				 why) < 0)
		return -1;
	{ /* a hostile API could hand a credential back as the id */
		char copy[sizeof(s->user_id)];
		size_t n = strlen(s->user_id);

		memcpy(copy, s->user_id, n + 1);
		if (res->scrub && scrub_apply(res->scrub, copy, n) > 0) {
			s->user_id[0] = '\0';
			return err_set(why, "response \"id\" contains a credential");
		}
	}
	s->verified = verified; /* created() acts on it */
	return 0;
}

/* A create succeeded: the user is recorded, then gets its code. */
static void created(struct run *r, size_t idx)
{
	struct slot *s = &r->win[idx];

	s->status = ROW_CREATED;
	free(s->body);
	s->body = NULL;
	if (s->verified) {
		/* the API says this person is verified (an earlier import whose
		 * ledger is gone, or verified elsewhere): never sent a code */
		s->unrecorded = true;
		win_apply_step(r, s, VERIF_EV_VERIFIED);
		r->st->codes_verified++;
		win_finish(s, ROW_CREATED);
		return;
	}
	if (r->cfg->send_verification && !win_stopping(r)) {
		/* recorded together with its send intent, moments from now; a
		 * crash before that only means the create is repeated, and the
		 * API answers a repeated create with the same user */
		s->unrecorded = true;
		win_queue_send(r, idx, LEDGER_VERIF_NONE);
		return;
	}
	win_record(r, s, r->cfg->send_verification ? LEDGER_VERIF_NONE : LEDGER_VERIF_OFF);
	if (!r->cfg->send_verification)
		s->verif = VERIF_OFF;
	else
		win_set_error(s, "verification: not sent (run stopped)");
	win_finish(s, ROW_CREATED);
}

/* A send ended: the verification table says what it means. */
static void send_ended(struct run *r, struct slot *s, const struct engine_end *end)
{
	enum verif_event ev = verif_event_of(end->verdict, end->cut, end->abandoned,
					     s->job.maybe_acted);

	if (ev == VERIF_EV_REFUSED || (ev == VERIF_EV_DOUBT && !end->cut))
		engine_describe(&s->job, end, "verification: ", s->error, sizeof(s->error));
	switch (ev) {
	case VERIF_EV_ACCEPTED:
		r->st->codes_sent++;
		break;
	case VERIF_EV_REFUSED:
		r->st->codes_failed++;
		break;
	case VERIF_EV_DOUBT: {
		size_t n = strlen(s->error);

		r->st->codes_in_doubt++;
		if (end->abandoned)
			win_set_error(s, "verification: interrupted while in flight "
				     "(outcome unknown: not resent)");
		else if (end->cut)
			win_set_error(s, "verification: interrupted after an attempt with an "
				     "unknown outcome (not resent)");
		else
			snprintf(s->error + n, sizeof(s->error) - n,
				 " (outcome unknown: not resent)");
		break;
	}
	case VERIF_EV_WITHDRAWN:
		win_set_error(s, "verification: not sent (run stopped)");
		break;
	default:
		break;
	}
	/* an intent that never reached the ledger needs no taking back */
	if (ev != VERIF_EV_WITHDRAWN || s->ticket || s->unrecorded)
		win_apply_step(r, s, ev);
	if (ev == VERIF_EV_WITHDRAWN)
		s->verif = s->before == LEDGER_VERIF_NONE ? VERIF_NONE : verif_cell(s->before);
	win_finish(s, s->status);
}

static int job_done(void *ctx, struct engine_job *j, const struct engine_end *end,
		    struct err *err)
{
	struct run *r = ctx;
	size_t idx = (uintptr_t)j->cookie;
	struct slot *s = &r->win[idx];

	(void)err;
	s->attempts += j->attempts;
	if (s->stage == STAGE_SEND) {
		send_ended(r, s, end);
		return 0;
	}
	if (end->cut && !end->abandoned) { /* a rerun creates it */
		win_pending_reason(r, s);
		win_finish(s, ROW_PENDING);
		return 0;
	}
	if (!end->cut && end->verdict == RETRY_DONE) {
		created(r, idx);
		return 0;
	}
	engine_describe(j, end, "", s->error, sizeof(s->error));
	if (end->abandoned)
		win_set_error(s, "interrupted while in flight: a rerun creates it (the API returns "
			     "the same user)");
	if (!end->cut && end->res && end->res->transport == TRANSPORT_OK &&
	    end->res->status == 404)
		/* the users route itself is missing: a wrong base URL */
		engine_halt(&r->eng, ENGINE_HALT_ABORT, "HTTP 404 for POST %s: %s",
			    r->create_url, outcome_hint_404());
	if (!end->cut)
		r->api_failures++;
	if (r->o->max_failures >= 0 && r->api_failures >= (size_t)r->o->max_failures)
		engine_halt(&r->eng, ENGINE_HALT_ABORT, "--max-failures: %zu rows failed at the API",
			    r->api_failures);
	win_finish(s, end->abandoned ? ROW_PENDING : ROW_FAILED);
	return 0;
}

static void engine_event(void *ctx, enum engine_event ev, const struct engine_job *j,
			 const char *msg)
{
	struct run *r = ctx;
	/* (the probe's read is no row's) */
	const struct slot *s = j && !j->get && r->win ? &r->win[(uintptr_t)j->cookie] : NULL;
	char line[800];

	if (j && ev == ENGINE_EV_REQUEST) {
		/* the attempt's own outcome, never the row's (it has none yet) */
		struct import_event e = {.kind = IMPORT_EV_REQUEST, .msg = msg};

		if (s) {
			snprintf(line, sizeof(line), "row %zu: %s", s->row, msg);
			e.row = s->row;
			e.line = s->line;
			e.msg = line;
		}
		import_event_attempt(&e, j);
		if (r->o->log)
			r->o->log(r->o->ctx, &e);
		return;
	}
	win_emit(r, import_event_of(ev), s, msg);
}

/* ---- the feed: what the engine runs next ------------------------------ */

static bool send_ready(const struct run *r, uint64_t durable)
{
	return r->durq.n && r->win[fifo_peek(&r->durq)].ticket <= durable;
}

static uint64_t durable_ticket(struct run *r)
{
	uint64_t durable = 0;

	if (ledger_durable(r->led, &durable, r->err) < 0)
		win_ledger_failed(r);
	return durable;
}

static void report_progress(struct run *r, int64_t now, bool force)
{
	if (!r->o->progress || (!force && now - r->last_progress_ms < 100))
		return;
	r->last_progress_ms = now;
	import_take_figures(&r->eng, r->st);
	r->st->in_flight = engine_in_flight(&r->eng);
	r->st->elapsed_s = (double)(now - r->start_ms) / 1000.0;
	r->o->progress(r->o->ctx, r->st);
}

static int feed_turn(void *ctx, int64_t now, struct err *err)
{
	struct run *r = ctx;

	(void)err;
	if (!r->failed && r->o->check && r->o->check(r->o->ctx, r->err) < 0)
		win_fail_local(r, IMPORT_LOCAL_FAILURE);
	while (win_has_room(r))
		if (win_admit_row(r) == 0)
			r->eof = true;
	if (!win_stopping(r))
		win_record_intents(r, now);
	if (win_intents_due(r, now) || now - r->committed_ms >= LEDGER_COMMIT_MS)
		win_commit(r, now);
	win_flush(r);
	report_progress(r, now, false);
	return 0;
}

/* Sends whose intent is durable, then new creates. */
static struct engine_job *feed_next(void *ctx, int64_t now)
{
	struct run *r = ctx;
	size_t idx;

	(void)now;
	if (r->durq.n && send_ready(r, durable_ticket(r)))
		idx = fifo_pop(&r->durq);
	else if (r->fresh.n)
		idx = fifo_pop(&r->fresh);
	else
		return NULL;
	return &r->win[idx].job;
}

static bool feed_idle(void *ctx)
{
	const struct run *r = ctx;

	return r->eof && !r->fresh.n && !r->sendq.n && !r->durq.n;
}

static int64_t feed_wait(void *ctx, int64_t now)
{
	struct run *r = ctx;

	/* work the next turn can do at once: rows to admit, sends to give an
	 * intent (while there is room for them: during a 429 pause sends
	 * queue up, and waiting then is right) */
	if (!win_stopping(r) && (win_has_room(r) ||
				 (r->sendq.n && r->durq.n < (size_t)r->cfg->concurrency * INTENTS_AHEAD)))
		return 0;
	if (r->uncommitted_n)
		return win_intents_due(r, now) ? 0 : r->uncommitted_ms + INTENT_GATHER_MS - now;
	return 250; /* a send waiting for its fsync is woken by the ledger's thread */
}

/* ---- the run ---------------------------------------------------------- */

/* Runs on the ledger's thread: curl_multi_wakeup is thread-safe. */
static void wake_loop(void *http)
{
	http_wakeup(http);
}

/*
 * The first request of every run: one authenticated read. A configuration
 * error (wrong base URL, untrusted certificate, unknown host) fails the
 * setup (-1, err set: nothing was sent); refused credentials abort the run
 * before any row is sent (exit 3, every night, even with nothing to send).
 */
static int preflight(struct run *r)
{
	enum probe_result pr = probe_run(&r->eng, r->cfg->base_url, r->err);

	r->probe_requests = r->eng.st.requests;
	switch (pr) {
	case PROBE_OK:
	case PROBE_STOPPED: /* the run sees the signal */
	case PROBE_AUTH:    /* the engine halted: the rows come out pending */
		return 0;
	case PROBE_CONFIG:
		return -1;
	case PROBE_UNREACHABLE:
		/* an outage, not a configuration error: the rows' own retries
		 * and the circuit breaker deal with it */
		win_emit(r, IMPORT_EV_PAUSE, NULL, r->err->msg);
		return 0;
	}
	return 0;
}

static int setup(struct run *r)
{
	const struct import_opts *o = r->o;
	struct scan_opts so = {o->input_path, (const char *const *)r->cfg->columns,
			       r->cfg->default_country_code, o->shard_k, o->shard_n,
			       r->cfg->delimiter, r->cfg->encoding};
	int n;

	if (scan_open(&r->scan, &so, r->err) < 0)
		return -1;
	r->st->total = r->scan.total;
	r->st->invalid_rows = r->scan.invalid;
	/* too many invalid rows: nothing is sent, but the results (and the
	 * rejects and summary) show every row as it is */
	if (o->max_invalid >= 0 && r->scan.invalid > (size_t)o->max_invalid)
		snprintf(r->refused, sizeof(r->refused), "%zu invalid rows, more than --max-invalid %ld",
			 r->scan.invalid, o->max_invalid);
	n = snprintf(r->create_url, sizeof(r->create_url), "%s/v2/users", r->cfg->base_url);
	if (n < 0 || (size_t)n >= sizeof(r->create_url))
		return err_set(r->err, "base URL is too long");
	r->send_body = payload_send_verification(&r->send_body_len, r->err);
	r->arena = payload_arena_new();
	if (!r->send_body || !r->arena)
		return r->send_body ? err_set(r->err, "out of memory") : -1;
	/* every output exists before the first request */
	if (results_open(&r->out, o->results_path, results_header, 11, r->err) < 0)
		return -1;
	/* --no-state: the null ledger keeps nothing (ledger.h); a spare one
	 * replaces a real ledger that fails mid-run. A dry run reads the
	 * ledger, if there is one, to preview tonight, and writes nothing. */
	if (ledger_open_null(&r->led_null, r->err) < 0)
		return -1;
	if (o->dry_run && !r->refused[0] && o->state_path) {
		int rc = ledger_open_read(&r->led, o->state_path, r->cfg->base_url, o->client_id,
					  r->err);

		if (rc < 0)
			return -1;
		r->st->previewed = rc == 1;
	}
	if (!r->led && (!o->dry_run && !r->refused[0] && o->state_path
				? ledger_open(&r->led, o->state_path, r->cfg->base_url,
					      o->client_id, r->err) < 0
				: ledger_open_null(&r->led, r->err) < 0))
		return -1;
	if (!o->dry_run && !r->refused[0]) {
		struct http_opts ho;
		struct engine_opts eo;
		struct engine_transport t;

		import_http_opts(o, &ho);
		if (http_new(&r->http, &ho, r->err) < 0)
			return -1;
		import_engine_opts(o, &eo);
		eo.learned_rate = ledger_learned_rate(r->led); /* tonight starts from it */
		eo.event = engine_event;
		eo.ctx = r;
		engine_http_transport(r->http, &t);
		if (engine_init(&r->eng, &eo, &t, r->err) < 0)
			return -1;
		r->eng_live = true;
		if (preflight(r) < 0)
			return -1;
		/* SQL and fsyncs on the ledger's thread, which wakes the loop
		 * when a commit is durable */
		ledger_set_wake(r->led, wake_loop, r->http);
		if (ledger_go_async(r->led, r->err) < 0)
			return -1;
	}
	r->win_cap = (size_t)r->cfg->concurrency * 64;
	if (r->win_cap < WINDOW_MIN)
		r->win_cap = WINDOW_MIN;
	r->win = calloc(r->win_cap, sizeof(*r->win));
	if (!r->win || fifo_init(&r->fresh, r->win_cap) < 0 ||
	    fifo_init(&r->sendq, r->win_cap) < 0 || fifo_init(&r->durq, r->win_cap) < 0)
		return err_set(r->err, "out of memory");
	return 0;
}

/* A dry run, or a run --max-invalid refused: every row through validation
 * into the results, no engine. */
static void dry_run(struct run *r)
{
	while (!r->eof) {
		while (win_has_room(r))
			if (win_admit_row(r) == 0)
				r->eof = true;
		win_flush(r);
	}
}

/* After the engine: whatever did not finish is pending - rows never handed
 * over, sends that never left (their intent taken back), and the rows not
 * read yet. */
static int drain(struct run *r)
{
	for (size_t q = r->head; q < r->tail; q++) {
		struct slot *s = &r->win[q % r->win_cap];

		if (s->stage == STAGE_SEND) {
			struct engine_end end = {0};

			end.cut = true;
			send_ended(r, s, &end);
		} else if (s->stage != STAGE_DONE) {
			win_pending_reason(r, s);
			win_finish(s, ROW_PENDING);
		}
	}
	win_flush(r);
	while (!r->eof) {
		if (win_admit_row(r) == 0)
			r->eof = true;
		for (size_t q = r->head; q < r->tail; q++) {
			struct slot *s = &r->win[q % r->win_cap];

			if (s->stage != STAGE_DONE) {
				win_pending_reason(r, s);
				win_finish(s, ROW_PENDING);
			}
		}
		win_flush(r);
	}
	return 0;
}

static enum import_result verdict(const struct run *r)
{
	const struct import_stats *st = r->st;

	if (r->failed) /* exit 2 only ever means nothing was sent (the probe reads) */
		return st->requests > r->probe_requests ? r->fail_result : IMPORT_INPUT_ERROR;
	if (r->refused[0])
		return IMPORT_INPUT_ERROR;
	if (st->signal)
		return IMPORT_INTERRUPTED;
	if (st->abort_reason[0])
		return IMPORT_ABORTED;
	if (st->by_status[ROW_INVALID] || st->by_status[ROW_DUPLICATE] ||
	    st->by_status[ROW_FAILED] || st->by_status[ROW_PENDING] > st->limit_left ||
	    st->by_status[ROW_CONFLICT] ||
	    st->codes_failed || st->codes_in_doubt)
		return IMPORT_PARTIAL;
	return IMPORT_COMPLETE;
}

static void teardown(struct run *r)
{
	for (size_t i = 0; r->win && i < r->win_cap; i++)
		free(r->win[i].body);
	free(r->win);
	free(r->send_body);
	fifo_release(&r->fresh);
	fifo_release(&r->sendq);
	fifo_release(&r->durq);
	if (r->led)
		ledger_set_wake(r->led, NULL, NULL); /* before the engine goes */
	if (r->led && r->eng_live) /* stored when the ledger closes */
		ledger_keep_rate(r->led, adapt_learned(&r->eng.adapt));
	ledger_close(r->led_null);
	payload_arena_free(r->arena);
	if (r->eng_live)
		engine_release(&r->eng);
	http_free(r->http);
	ledger_close(r->led);
	ledger_close(r->led_dead);
	results_free(r->out);
	scan_release(&r->scan);
}

enum import_result import_run(const struct import_opts *o,
			      struct import_stats *st, struct err *err)
{
	struct run r;
	enum import_result res;
	struct engine_feed feed = {.ctx = &r, .accept = accept, .done = job_done,
				   .turn = feed_turn, .next = feed_next, .idle = feed_idle,
				   .wait_ms = feed_wait};

	memset(&r, 0, sizeof(r));
	memset(st, 0, sizeof(*st));
	r.o = o;
	r.cfg = o->cfg;
	r.st = st;
	r.err = err;
	r.start_ms = clock_ms(&r);
	if (setup(&r) < 0) {
		if (r.eng_live)
			import_take_figures(&r.eng, st);
		teardown(&r);
		return IMPORT_INPUT_ERROR;
	}
	r.committed_ms = r.start_ms;
	if (ledger_begin(r.led, err) < 0)
		win_ledger_failed(&r);
	if (!r.eng_live)
		dry_run(&r);
	else if (engine_run(&r.eng, &feed, err) < 0)
		/* the engine itself failed: what was durable stays durable */
		win_fail_local(&r, IMPORT_LOCAL_FAILURE);
	if (r.eng_live)
		import_take_figures(&r.eng, st);
	drain(&r);
	/* whatever still works is written: the ledger, then the results */
	if (ledger_commit(r.led, err) < 0)
		win_ledger_failed(&r);
	if (!r.out_dead && results_commit(r.out, err) < 0)
		win_fail_local(&r, IMPORT_LOCAL_FAILURE);
	else if (!r.out_dead)
		st->results_written = true;
	st->elapsed_s = (double)(clock_ms(&r) - r.start_ms) / 1000.0;
	st->input_appended = scan_appended(&r.scan);
	report_progress(&r, clock_ms(&r), true);
	res = verdict(&r);
	if (r.refused[0])
		err_set(err, "'%s': %s: nothing sent", o->input_path, r.refused);
	if (r.failed) {
		err_set(err, "%s", r.fail_err.msg);
		if (res == IMPORT_ABORTED && !st->abort_reason[0])
			snprintf(st->abort_reason, sizeof(st->abort_reason), "%s", r.fail_err.msg);
	}
	teardown(&r);
	return res;
}
