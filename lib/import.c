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
#include "import.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dupset.h"
#include "http.h"
#include "jobq.h"
#include "ledger.h"
#include "num.h"
#include "payload.h"
#include "probe.h"
#include "reader.h"
#include "results.h"
#include "scan.h"
#include "user.h"

#include "banned.h"

#define WINDOW_MIN 1024           /* rows held at once (bounded memory) */
#define ERROR_MAX 300             /* chars of a results "error" cell */
#define URL_MAX 512
#define LEDGER_COMMIT_MS 500      /* outcomes become durable at least this often */
#define INTENT_GATHER_MS 10       /* send intents gather this long for one fsync */
#define INTENTS_AHEAD 4           /* x concurrency: sends with an intent, not started */

enum stage { STAGE_IDLE, STAGE_CREATE, STAGE_SEND, STAGE_DONE };

/* One input row while it is in the window. */
struct slot {
	size_t row, line;
	enum row_status status;
	enum verif_status verif;
	enum stage stage;
	bool unrecorded;   /* created, not yet in the ledger (its send is about
			    * to write it with the intent, saving a statement) */
	bool verified;     /* the create's answer says the user is verified */
	enum ledger_verif before; /* the ledger state a send started from */
	int attempts;      /* HTTP attempts of the row's finished requests */
	uint64_t ticket;   /* ledger commit that makes the send intent durable */
	uint64_t key;
	struct engine_job job; /* the request in progress */
	char *body;        /* create request body, freed after the create */
	char user_id[PAYLOAD_ID_MAX + 1];
	char email[USER_EMAIL_MAX + 1];
	char country_code[4];
	char phone_number[16];
	char url[URL_MAX];
	char error[ERROR_MAX + 1];
};

struct run {
	const struct import_opts *o;
	const struct config *cfg;
	struct import_stats *st;
	struct err *err;

	struct scan scan;     /* the input, validated (pass 1), read again */
	bool eof;

	struct results *out;
	struct ledger *led;
	struct http *http;
	struct engine eng;
	bool eng_live;

	struct slot *win;  /* ring of win_cap slots; rows head..tail-1 */
	size_t win_cap;
	size_t head, tail; /* sequence numbers, slot = seq % win_cap */

	struct fifo fresh;    /* new creates (slot indexes) */
	struct fifo sendq;    /* first send attempts (they need an intent) */
	struct fifo durq;     /* sends with an intent, waiting for its fsync */
	size_t uncommitted_n; /* intents in the open ledger group */
	int64_t uncommitted_ms; /* since when */

	char create_url[URL_MAX];
	char *send_body;   /* the (empty) body of every verification send */
	size_t send_body_len;
	int64_t start_ms;
	int64_t committed_ms; /* last ledger commit */
	int64_t last_progress_ms;
	size_t api_failures;
	size_t probe_requests; /* the first request's attempts (a read) */

	/* A local failure (ledger, results, input, log) stops the run like a
	 * signal; the first one is kept for the message. */
	bool failed;
	enum import_result fail_result; /* LOCAL_FAILURE, or ABORTED: input changed */
	struct err fail_err;
	struct ledger *led_dead; /* a failed ledger: no more writes, closed last */
	bool out_dead;           /* the results file failed: no more rows written */
};

static const char *const results_header[] = {
	"row",   "line",         "status",       "user_id",
	"verification", "http_status", "attempts", "error",
	"email", "country_code", "phone_number"};

/* ---- small helpers ---------------------------------------------------- */

static int64_t clock_ms(const struct run *r)
{
	return r->o->now_ms ? r->o->now_ms(r->o->ctx) : clock_now_ms();
}

static void emit(struct run *r, enum import_event_kind kind, const struct slot *s,
		 const char *msg)
{
	struct import_event ev = {kind, 0, 0, NULL, msg};

	if (!r->o->log)
		return;
	if (s) {
		ev.row = s->row;
		ev.line = s->line;
		ev.status = import_status_name(s->status);
	}
	r->o->log(r->o->ctx, &ev);
}

static void set_error(struct slot *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_error(struct slot *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
}

static bool stopping(const struct run *r)
{
	return r->eng_live && engine_halted(&r->eng);
}

/* ---- stopping ---------------------------------------------------------- */

/*
 * Something local failed mid-run (r->err says what): the run stops like
 * after a signal - no new request, those in flight finish, and whatever
 * still works is written. Returns 0 so the caller goes on winding down.
 */
static int fail_local(struct run *r, enum import_result why)
{
	if (!r->failed) {
		r->failed = true;
		r->fail_result = why;
		err_set(&r->fail_err, "%s", r->err->msg);
		if (r->eng_live)
			engine_halt(&r->eng, ENGINE_HALT_LOCAL, "%s", r->fail_err.msg);
		else
			emit(r, IMPORT_EV_ABORT, NULL, r->fail_err.msg);
	}
	return 0;
}

/* The ledger failed: it is written no more (a failure there is sticky),
 * and the run stops. Sends whose outcome it cannot record stay intents:
 * in doubt for a rerun, never sent twice. */
static int ledger_failed(struct run *r)
{
	if (r->led) {
		r->led_dead = r->led;
		r->led = NULL;
	}
	return fail_local(r, IMPORT_LOCAL_FAILURE);
}

/* Why rows that were not attempted are pending, for their error cell. */
static void set_pending_reason(const struct run *r, struct slot *s)
{
	const struct engine_stats *es = &r->eng.st;

	if (r->failed)
		set_error(s, "not attempted: %s", r->fail_err.msg);
	else if (es->abort_reason[0])
		set_error(s, "not attempted: run aborted: %s", es->abort_reason);
	else if (es->signal)
		set_error(s, "not attempted: run interrupted by signal %d", es->signal);
	else
		set_error(s, "not attempted: run stopped");
}

/* ---- the ledger -------------------------------------------------------- */

/* Writes a created user to the ledger with verification state v. */
static void record(struct run *r, struct slot *s, enum ledger_verif v)
{
	s->unrecorded = false;
	if (r->led && ledger_put(r->led, s->key, s->country_code, s->phone_number, s->user_id,
				 v, r->err) < 0)
		ledger_failed(r);
}

/* A verification step: the ledger write (the user row itself when it is
 * not written yet) and the results cell. */
static void apply_step(struct run *r, struct slot *s, enum verif_event ev)
{
	struct verif_step st = verif_next(s->before, ev);

	s->verif = st.cell;
	if (!st.write)
		return;
	if (s->unrecorded)
		record(r, s, st.next);
	else if (r->led && ledger_set_verif(r->led, s->key, st.next, r->err) < 0)
		ledger_failed(r);
}

static void commit_ledger(struct run *r, int64_t now)
{
	if (ledger_commit_async(r->led, r->err) < 0) {
		ledger_failed(r);
		return;
	}
	r->uncommitted_n = 0;
	r->committed_ms = now;
}

/*
 * Whether the intents in the open group should be committed now. Each
 * commit costs an fsync, so intents gather: for INTENT_GATHER_MS, until
 * 2 x concurrency of them wait, or at once when there is nothing else to
 * send.
 */
static bool intents_due(const struct run *r, int64_t now)
{
	if (!r->uncommitted_n)
		return false;
	return r->uncommitted_n >= (size_t)r->cfg->concurrency * 2 ||
	       now - r->uncommitted_ms >= INTENT_GATHER_MS || !r->fresh.n;
}

/* First sends get their intent into the ledger's open group (at most
 * INTENTS_AHEAD x concurrency ahead) and wait in durq for its fsync. */
static void record_intents(struct run *r, int64_t now)
{
	while (r->sendq.n && r->durq.n < (size_t)r->cfg->concurrency * INTENTS_AHEAD) {
		size_t idx = fifo_pop(&r->sendq);
		struct slot *s = &r->win[idx];

		if (r->led) {
			apply_step(r, s, VERIF_EV_INTENT);
			s->verif = VERIF_NONE;
			if (!r->led) /* it failed: this send never starts */
				return;
			s->ticket = ledger_next_ticket(r->led);
			if (!r->uncommitted_n++)
				r->uncommitted_ms = now;
		}
		fifo_push(&r->durq, idx);
	}
}

/* ---- a row's life ------------------------------------------------------- */

static void slot_finish(struct slot *s, enum row_status st)
{
	s->status = st;
	s->stage = STAGE_DONE;
	free(s->body);
	s->body = NULL;
}

static void set_job(struct slot *s, size_t idx, const char *url, const char *body,
		    size_t len, enum request_kind kind)
{
	memset(&s->job, 0, sizeof(s->job));
	s->job.url = url;
	s->job.body = body;
	s->job.body_len = len;
	s->job.kind = kind;
	s->job.once = kind == REQUEST_SEND;
	s->job.url_repeats = kind == REQUEST_CREATE;
	s->job.cookie = (void *)(uintptr_t)idx;
}

/* The row's user gets a code: its send waits for its intent. */
static void queue_send(struct run *r, size_t idx, enum ledger_verif before)
{
	struct slot *s = &r->win[idx];
	int n;

	s->stage = STAGE_SEND;
	s->before = before;
	n = snprintf(s->url, sizeof(s->url), "%s/%s/send-verification-token", r->create_url,
		     s->user_id);
	if (n < 0 || (size_t)n >= sizeof(s->url)) {
		s->verif = VERIF_FAILED;
		set_error(s, "verification: URL too long");
		s->stage = STAGE_DONE;
		return;
	}
	set_job(s, idx, s->url, r->send_body, r->send_body_len, REQUEST_SEND);
	fifo_push(&r->sendq, idx);
}

/*
 * A row whose user an earlier run created: it comes out `exists` with the
 * ledger's id, and its code goes as the verification table says (verif.h).
 */
static void admit_known(struct run *r, size_t idx, const struct ledger_user *lu)
{
	struct slot *s = &r->win[idx];
	struct verif_choice c = {r->cfg->send_verification, !stopping(r),
				 r->o->resend_in_doubt, r->o->settle_in_doubt};

	memcpy(s->user_id, lu->id, sizeof(s->user_id));
	s->status = ROW_EXISTS;
	s->before = lu->verif;
	s->verif = verif_cell(lu->verif);
	switch (verif_plan_known(lu->verif, &c)) {
	case VERIF_PLAN_SEND:
		queue_send(r, idx, lu->verif);
		return;
	case VERIF_PLAN_STOPPED:
		set_error(s, "verification: not sent (run stopped)");
		break;
	case VERIF_PLAN_SETTLE:
		/* the operator knows these went out: recorded as sent */
		apply_step(r, s, VERIF_EV_SETTLED);
		r->st->codes_settled++;
		set_error(s, "verification: was in doubt, recorded as sent (--settle-in-doubt)");
		break;
	case VERIF_PLAN_DOUBT:
		r->st->codes_in_doubt++;
		r->st->codes_in_doubt_earlier++;
		set_error(s, "verification: in doubt since an earlier run (not resent: "
			     "--resend-in-doubt sends it, --settle-in-doubt records it as sent)");
		if (lu->verif == LEDGER_VERIF_INTENT)
			apply_step(r, s, VERIF_EV_DOUBT);
		break;
	case VERIF_PLAN_SHOW:
		if (lu->verif == LEDGER_VERIF_NONE && !r->cfg->send_verification)
			s->verif = VERIF_OFF;
		break;
	}
	slot_finish(s, ROW_EXISTS);
}

/* Brings one input row into the window. Returns 1, 0 at end, -1 on error. */
static int admit_row(struct run *r)
{
	struct scan_row sr;
	struct slot *s;
	size_t idx;
	int rc;

	rc = scan_next(&r->scan, &sr, r->err);
	if (rc < 0) {
		/* the input changed since it was validated, or cannot be read:
		 * no row beyond this point is ever seen */
		fail_local(r, scan_changed(&r->scan) ? IMPORT_ABORTED : IMPORT_LOCAL_FAILURE);
		return 0;
	}
	if (rc == 0)
		return 0;
	if (!sr.ours)
		return 1;
	r->st->rows++;
	idx = r->tail % r->win_cap;
	s = &r->win[idx];
	memset(s, 0, offsetof(struct slot, url));
	s->error[0] = '\0';
	s->row = sr.row;
	s->line = sr.line;
	r->tail++;
	memcpy(s->email, sr.email, sizeof(s->email));
	memcpy(s->country_code, sr.country_code, sizeof(s->country_code));
	memcpy(s->phone_number, sr.phone_number, sizeof(s->phone_number));
	if (sr.status != ROW_VALID) {
		set_error(s, "%s", sr.error);
		slot_finish(s, sr.status);
		return 1;
	}
	s->key = sr.key;
	if (r->o->dry_run) {
		slot_finish(s, ROW_VALID);
		return 1;
	}
	/* a new ledger cannot know this phone: pass 1 already made every
	 * phone of the file unique */
	if (r->led && ledger_users_at_open(r->led) > 0) {
		struct ledger_user lu;

		rc = ledger_find(r->led, s->key, &lu, r->err);
		if (rc < 0)
			ledger_failed(r);
		if (rc == 1 && lu.id[0]) {
			admit_known(r, idx, &lu);
			return 1;
		}
	}
	if (stopping(r)) {
		set_pending_reason(r, s);
		slot_finish(s, ROW_PENDING);
		return 1;
	}
	s->body = payload_create_user(&sr.user, NULL, r->err);
	if (!s->body) {
		set_error(s, "%s", r->err->msg);
		slot_finish(s, ROW_INVALID);
		return 1;
	}
	s->stage = STAGE_CREATE;
	set_job(s, idx, r->create_url, s->body, strlen(s->body), REQUEST_CREATE);
	fifo_push(&r->fresh, idx);
	return 1;
}

/* Writes finished rows at the head of the window, in input order. */
static void flush_window(struct run *r)
{
	while (r->head < r->tail) {
		struct slot *s = &r->win[r->head % r->win_cap];
		char rowbuf[21], linebuf[21], httpbuf[21], attbuf[21];
		const char *cells[11];
		long http = s->job.http_status;

		if (s->stage != STAGE_DONE)
			break;
		cells[0] = num_format_u64(s->row, rowbuf);
		cells[1] = num_format_u64(s->line, linebuf);
		cells[2] = import_status_name(s->status);
		cells[3] = s->user_id;
		cells[4] = verif_name(s->verif);
		cells[5] = http > 0 ? num_format_u64((unsigned long long)http, httpbuf) : "";
		cells[6] = s->attempts > 0 ? num_format_u64((unsigned)s->attempts, attbuf) : "";
		cells[7] = s->error;
		cells[8] = s->email;
		cells[9] = s->country_code;
		cells[10] = s->phone_number;
		if (!r->out_dead && results_row(r->out, cells, NULL, 11, r->err) < 0) {
			r->out_dead = true; /* the rows go on leaving the window */
			fail_local(r, IMPORT_LOCAL_FAILURE);
		}
		if (s->error[0])
			emit(r, IMPORT_EV_ROW, s, s->error);
		r->st->by_status[s->status]++;
		r->st->done++;
		r->head++;
	}
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
	if (payload_created_user(res->body, res->body_len, s->user_id, &verified, why) < 0)
		return -1;
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
		apply_step(r, s, VERIF_EV_VERIFIED);
		r->st->codes_verified++;
		slot_finish(s, ROW_CREATED);
		return;
	}
	if (r->cfg->send_verification && !stopping(r)) {
		/* recorded together with its send intent, moments from now; a
		 * crash before that only means the create is repeated, and the
		 * API answers a repeated create with the same user */
		s->unrecorded = r->led != NULL;
		queue_send(r, idx, LEDGER_VERIF_NONE);
		return;
	}
	record(r, s, r->cfg->send_verification ? LEDGER_VERIF_NONE : LEDGER_VERIF_OFF);
	if (!r->cfg->send_verification)
		s->verif = VERIF_OFF;
	else
		set_error(s, "verification: not sent (run stopped)");
	slot_finish(s, ROW_CREATED);
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
			set_error(s, "verification: interrupted while in flight "
				     "(outcome unknown: not resent)");
		else if (end->cut)
			set_error(s, "verification: interrupted after an attempt with an "
				     "unknown outcome (not resent)");
		else
			snprintf(s->error + n, sizeof(s->error) - n,
				 " (outcome unknown: not resent)");
		break;
	}
	case VERIF_EV_WITHDRAWN:
		set_error(s, "verification: not sent (run stopped)");
		break;
	default:
		break;
	}
	/* an intent that never reached the ledger needs no taking back */
	if (ev != VERIF_EV_WITHDRAWN || s->ticket || s->unrecorded)
		apply_step(r, s, ev);
	if (ev == VERIF_EV_WITHDRAWN)
		s->verif = s->before == LEDGER_VERIF_NONE ? VERIF_NONE : verif_cell(s->before);
	slot_finish(s, s->status);
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
		set_pending_reason(r, s);
		slot_finish(s, ROW_PENDING);
		return 0;
	}
	if (!end->cut && end->verdict == RETRY_DONE) {
		created(r, idx);
		return 0;
	}
	engine_describe(j, end, "", s->error, sizeof(s->error));
	if (end->abandoned)
		set_error(s, "interrupted while in flight: a rerun creates it (the API returns "
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
	slot_finish(s, end->abandoned ? ROW_PENDING : ROW_FAILED);
	return 0;
}

static void engine_event(void *ctx, enum engine_event ev, const struct engine_job *j,
			 const char *msg)
{
	static const enum import_event_kind kinds[] = {
		[ENGINE_EV_PAUSE] = IMPORT_EV_PAUSE, [ENGINE_EV_ABORT] = IMPORT_EV_ABORT,
		[ENGINE_EV_SIGNAL] = IMPORT_EV_SIGNAL, [ENGINE_EV_REQUEST] = IMPORT_EV_REQUEST};
	struct run *r = ctx;
	const struct slot *s = j ? &r->win[(uintptr_t)j->cookie] : NULL;
	char line[800];

	if (s && ev == ENGINE_EV_REQUEST) {
		snprintf(line, sizeof(line), "row %zu: %s", s->row, msg);
		msg = line;
	}
	emit(r, kinds[ev], s, msg);
}

/* ---- the feed: what the engine runs next ------------------------------ */

static bool send_ready(const struct run *r, uint64_t durable)
{
	return r->durq.n && r->win[fifo_peek(&r->durq)].ticket <= durable;
}

static uint64_t durable_ticket(struct run *r)
{
	uint64_t durable = 0;

	if (r->led && ledger_durable(r->led, &durable, r->err) < 0)
		ledger_failed(r);
	return r->led ? durable : UINT64_MAX;
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

static bool window_has_room(const struct run *r)
{
	return !r->eof && r->tail - r->head < r->win_cap &&
	       (r->fresh.n < (size_t)r->cfg->concurrency * 4 || !r->http);
}

static int feed_turn(void *ctx, int64_t now, struct err *err)
{
	struct run *r = ctx;

	(void)err;
	if (!r->failed && r->o->check && r->o->check(r->o->ctx, r->err) < 0)
		fail_local(r, IMPORT_LOCAL_FAILURE);
	while (window_has_room(r))
		if (admit_row(r) == 0)
			r->eof = true;
	if (!stopping(r))
		record_intents(r, now);
	if (r->led && (intents_due(r, now) || now - r->committed_ms >= LEDGER_COMMIT_MS))
		commit_ledger(r, now);
	flush_window(r);
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

	if (!stopping(r) && (window_has_room(r) || r->sendq.n))
		return 0;
	if (r->uncommitted_n)
		return intents_due(r, now) ? 0 : r->uncommitted_ms + INTENT_GATHER_MS - now;
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
		emit(r, IMPORT_EV_PAUSE, NULL, r->err->msg);
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
	if (o->max_invalid >= 0 && r->scan.invalid > (size_t)o->max_invalid)
		return err_set(r->err,
			       "'%s': %zu invalid rows, more than --max-invalid %ld: nothing sent",
			       o->input_path, r->scan.invalid, o->max_invalid);
	n = snprintf(r->create_url, sizeof(r->create_url), "%s/v2/users", r->cfg->base_url);
	if (n < 0 || (size_t)n >= sizeof(r->create_url))
		return err_set(r->err, "base URL is too long");
	r->send_body = payload_send_verification(&r->send_body_len, r->err);
	if (!r->send_body)
		return -1;
	/* every output exists before the first request */
	if (results_open(&r->out, o->results_path, results_header, 11, r->err) < 0)
		return -1;
	if (!o->dry_run && o->state_path &&
	    ledger_open(&r->led, o->state_path, r->cfg->base_url, o->client_id, r->err) < 0)
		return -1;
	if (!o->dry_run) {
		struct http_opts ho;
		struct engine_opts eo;
		struct engine_transport t;

		import_http_opts(o, &ho);
		if (http_new(&r->http, &ho, r->err) < 0)
			return -1;
		import_engine_opts(o, &eo);
		eo.event = engine_event;
		eo.ctx = r;
		engine_http_transport(r->http, &t);
		if (engine_init(&r->eng, &eo, &t, r->err) < 0)
			return -1;
		r->eng_live = true;
		if (preflight(r) < 0)
			return -1;
		if (r->led) { /* SQL and fsyncs on the ledger's thread, which
			       * wakes the loop when a commit is durable */
			ledger_set_wake(r->led, wake_loop, r->http);
			if (ledger_go_async(r->led, r->err) < 0)
				return -1;
		}
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

/* A dry run: every row through validation into the results, no engine. */
static void dry_run(struct run *r)
{
	while (!r->eof) {
		while (window_has_room(r))
			if (admit_row(r) == 0)
				r->eof = true;
		flush_window(r);
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
			set_pending_reason(r, s);
			slot_finish(s, ROW_PENDING);
		}
	}
	flush_window(r);
	while (!r->eof) {
		if (admit_row(r) == 0)
			r->eof = true;
		for (size_t q = r->head; q < r->tail; q++) {
			struct slot *s = &r->win[q % r->win_cap];

			if (s->stage != STAGE_DONE) {
				set_pending_reason(r, s);
				slot_finish(s, ROW_PENDING);
			}
		}
		flush_window(r);
	}
	return 0;
}

static enum import_result verdict(const struct run *r)
{
	const struct import_stats *st = r->st;

	if (r->failed) /* exit 2 only ever means nothing was sent (the probe reads) */
		return st->requests > r->probe_requests ? r->fail_result : IMPORT_INPUT_ERROR;
	if (st->signal)
		return IMPORT_INTERRUPTED;
	if (st->abort_reason[0])
		return IMPORT_ABORTED;
	if (st->by_status[ROW_INVALID] || st->by_status[ROW_DUPLICATE] ||
	    st->by_status[ROW_FAILED] || st->by_status[ROW_PENDING] ||
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
	if (r.led && ledger_begin(r.led, err) < 0)
		ledger_failed(&r);
	if (!r.eng_live)
		dry_run(&r);
	else if (engine_run(&r.eng, &feed, err) < 0)
		/* the engine itself failed: what was durable stays durable */
		fail_local(&r, IMPORT_LOCAL_FAILURE);
	if (r.eng_live)
		import_take_figures(&r.eng, st);
	drain(&r);
	/* whatever still works is written: the ledger, then the results */
	if (r.led && ledger_commit(r.led, err) < 0)
		ledger_failed(&r);
	if (!r.out_dead && results_commit(r.out, err) < 0)
		fail_local(&r, IMPORT_LOCAL_FAILURE);
	else if (!r.out_dead)
		st->results_written = true;
	st->elapsed_s = (double)(clock_ms(&r) - r.start_ms) / 1000.0;
	st->input_appended = scan_appended(&r.scan);
	report_progress(&r, clock_ms(&r), true);
	res = verdict(&r);
	if (r.failed) {
		err_set(err, "%s", r.fail_err.msg);
		if (res == IMPORT_ABORTED && !st->abort_reason[0])
			snprintf(st->abort_reason, sizeof(st->abort_reason), "%s", r.fail_err.msg);
	}
	teardown(&r);
	return res;
}
