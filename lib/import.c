/*
 * import.c - the scheduler of one import run.
 *
 * Pass 1 reads and validates the whole file (nothing is sent if it is
 * broken; duplicates are found). Pass 2 streams rows through a bounded
 * window: each valid row becomes a create, then a verification send, and
 * leaves the window - in input order - into the results file. Requests go
 * through the http engine; retries are not-before times on a heap, never a
 * sleep. The ledger makes every send intent durable before the request
 * goes out: intents are committed without waiting, the ledger's thread
 * fsyncs and wakes the loop, and the sends start then - meanwhile the loop
 * goes on with creates, and intents that arrive during one fsync share the
 * next. Users and outcomes ride along. No globals: everything lives in
 * struct run.
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
#include "outcome.h"
#include "pace.h"
#include "payload.h"
#include "probe.h"
#include "reader.h"
#include "results.h"
#include "retry.h"
#include "user.h"

#include "banned.h"

#define WINDOW_MIN 1024           /* rows held at once (bounded memory) */
#define ERROR_MAX 300             /* chars of a results "error" cell */
#define STOP_GRACE_MS 10000       /* in-flight requests may finish in this */
#define MAX_RETRY_AFTER_MS 300000 /* a Retry-After longer than this is cut */
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
	int in_flight;
	bool unrecorded;   /* created, not yet in the ledger (its send is about
			    * to write it with the intent, saving a statement) */
	bool maybe_acted;  /* an attempt of its send may have reached the API */
	int attempts;      /* all HTTP attempts for this row */
	int kind_attempts; /* attempts of the current request */
	long http_status;
	int64_t ready_at_ms; /* retry: not before */
	uint64_t ticket;   /* ledger commit that makes the send intent durable */
	uint64_t key;
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

	struct reader *rd;
	int col[USER_FIELD_COUNT];
	struct user_rules rules;
	bool eof;

	struct dupset dups; /* phones that occur more than once */

	struct results *out;
	struct ledger *led;
	struct http *http;
	struct retry_policy policy;

	struct slot *win;  /* ring of win_cap slots; rows head..tail-1 */
	size_t win_cap;
	size_t head, tail; /* sequence numbers, slot = seq % win_cap */

	struct fifo fresh;    /* new creates (slot indexes) */
	struct fifo prio;     /* retries whose backoff is over */
	struct fifo sendq;    /* first send attempts (they need an intent) */
	struct fifo durq;     /* sends with an intent, waiting for its fsync */
	size_t uncommitted_n; /* intents in the open ledger group */
	int64_t uncommitted_ms; /* since when */
	struct timerq delayed; /* retries waiting for their backoff */

	char create_url[URL_MAX];
	char *send_body;   /* the (empty) body of every verification send */
	size_t send_body_len;
	uint64_t rng;
	int64_t start_ms;
	struct pace pace;  /* rate limit, 429 pause, circuit breaker */
	int64_t committed_ms; /* last ledger commit */
	int64_t last_progress_ms;
	size_t api_failures;
	bool stopping, aborting;
	int64_t stop_deadline_ms;
	enum import_result abort_result;

	/* A local failure (ledger, results, input, log) stops the run like a
	 * signal; the first one is kept for the message. */
	bool failed;
	enum import_result fail_result; /* LOCAL_FAILURE, or ABORTED: input changed */
	struct err fail_err;
	struct ledger *led_dead; /* a failed ledger: no more writes, closed last */
	size_t probe_requests;   /* the first request's attempts (a read) */
	bool out_dead;           /* the results file failed: no more rows written */
};

static const char *const status_names[ROW_STATUS_COUNT] = {
	"created", "exists", "valid", "invalid", "duplicate", "failed", "pending"};
static const char *const verif_names[VERIF_STATUS_COUNT] = {
	"", "sent", "failed", "in_doubt", "off", "verified"};

const char *import_status_name(enum row_status s)
{
	return s < ROW_STATUS_COUNT ? status_names[s] : "?";
}

const char *import_verif_name(enum verif_status v)
{
	return v < VERIF_STATUS_COUNT ? verif_names[v] : "?";
}

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
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void emit(struct run *r, enum import_event_kind kind, const struct slot *s,
		 const char *fmt, ...)
{
	char line[768];
	struct import_event ev = {kind, 0, 0, NULL, line};
	va_list ap;

	if (!r->o->log || (kind == IMPORT_EV_REQUEST && !r->o->log_requests))
		return; /* one per HTTP attempt: not formatted for nothing */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (s) {
		ev.row = s->row;
		ev.line = s->line;
		ev.status = import_status_name(s->status);
	}
	r->o->log(r->o->ctx, &ev);
}

unsigned import_shard_of(const char *country_code, const char *phone_number, unsigned n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *parts[3] = {country_code, ":", phone_number};

	for (int i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return n ? (unsigned)(h % n) : 0;
}

static size_t lat_bucket(long ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		return (size_t)ms;
	ms = 1000 + (ms - 1000) / 100;
	return ms < IMPORT_LAT_BUCKETS ? (size_t)ms : IMPORT_LAT_BUCKETS - 1;
}

double import_latency_ms(const struct import_stats *st, double p)
{
	uint64_t total = 0, seen = 0, want;

	for (size_t i = 0; i < IMPORT_LAT_BUCKETS; i++)
		total += st->latency_hist[i];
	if (!total)
		return -1;
	want = (uint64_t)((double)total * p / 100.0 + 0.5);
	if (want < 1)
		want = 1;
	for (size_t i = 0; i < IMPORT_LAT_BUCKETS; i++) {
		seen += st->latency_hist[i];
		if (seen >= want)
			return i < 1000 ? (double)i : 1000.0 + (double)(i - 1000) * 100.0;
	}
	return -1;
}

void import_http_opts(const struct import_opts *o, struct http_opts *out)
{
	memset(out, 0, sizeof(*out));
	out->username = o->client_id;
	out->password = o->api_key;
	out->app_id = o->app_id;
	out->ca_cert = o->cfg->ca_cert;
	out->connect_timeout_ms = o->cfg->connect_timeout_ms;
	out->request_timeout_ms = o->cfg->request_timeout_ms;
	out->max_in_flight = (int)o->cfg->concurrency;
}

/* Is this row ours under --shard? Rows without a valid phone go by row number. */
static bool in_shard(const struct run *r, size_t row, const struct user *u)
{
	unsigned n = r->o->shard_n;

	if (!n)
		return true;
	if (u)
		return import_shard_of(u->country_code, u->phone_number, n) == r->o->shard_k;
	return row % n == r->o->shard_k;
}

/* Copies a raw cell for the results file: bounded, NULs cut. */
static void copy_cell(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;
	size_t nul = strnlen(src, n);

	memcpy(dst, src, nul);
	dst[nul] = '\0';
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

/* ---- stopping ---------------------------------------------------------- */

static void begin_stop(struct run *r)
{
	if (!r->stopping) {
		r->stopping = true;
		r->stop_deadline_ms = clock_ms(r) + STOP_GRACE_MS;
	}
}

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
		emit(r, IMPORT_EV_ABORT, NULL, "stopping: %s", r->fail_err.msg);
	}
	begin_stop(r);
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
	if (r->failed)
		set_error(s, "not attempted: %s", r->fail_err.msg);
	else if (r->aborting)
		set_error(s, "not attempted: run aborted: %s", r->st->abort_reason);
	else if (r->st->signal)
		set_error(s, "not attempted: run interrupted by signal %d", r->st->signal);
	else
		set_error(s, "not attempted: run stopped");
}

/* ---- pass 1: validate everything, find duplicates --------------------- */

/* Validates a row. Returns 0 (u filled) or -1 with the reason in e. */
static int row_validate(const struct run *r, const struct reader_row *row,
			struct user *u, struct err *e)
{
	struct user_input in;

	if (row->problem)
		return err_set(e, "line %zu: %s", row->line, row->problem);
	reader_user_input(row, r->col, &in);
	return user_normalise(u, &in, &r->rules, e);
}

static int pass1(struct run *r, size_t *invalid)
{
	struct reader_row row;
	struct user u;
	struct err e;
	int rc;

	*invalid = 0;
	while ((rc = reader_next(r->rd, &row, r->err)) == 1) {
		if (row_validate(r, &row, &u, &e) < 0) {
			if (in_shard(r, row.row, NULL)) {
				(*invalid)++;
				r->st->total++;
			}
			continue;
		}
		if (!in_shard(r, row.row, &u))
			continue;
		r->st->total++;
		if (dupset_add(&r->dups, user_phone_key(&u), r->err) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	return dupset_seal(&r->dups, r->err);
}

/* ---- queues ----------------------------------------------------------- */

/* ---- the window ------------------------------------------------------- */

static void slot_finish(struct run *r, struct slot *s, enum row_status st)
{
	(void)r;
	s->status = st;
	s->stage = STAGE_DONE;
	free(s->body);
	s->body = NULL;
}

static void queue_send(struct run *r, size_t idx)
{
	struct slot *s = &r->win[idx];
	int n;

	s->stage = STAGE_SEND;
	s->kind_attempts = 0;
	n = snprintf(s->url, sizeof(s->url), "%s/%s/send-verification-token", r->create_url,
		     s->user_id);
	if (n < 0 || (size_t)n >= sizeof(s->url)) {
		s->verif = VERIF_FAILED;
		set_error(s, "verification: URL too long");
		s->stage = STAGE_DONE;
		return;
	}
	fifo_push(&r->sendq, idx);
}

/*
 * A row whose user an earlier run created: it comes out `exists` with the
 * ledger's id and verification state. A send that was never decided (the
 * earlier run stopped between create and send) is made now; one that may
 * have gone out is in doubt and is resent only with --resend-in-doubt.
 */
static int admit_known(struct run *r, size_t idx, const struct ledger_user *lu)
{
	struct slot *s = &r->win[idx];
	bool may_send = r->cfg->send_verification && !r->stopping && !r->aborting;

	memcpy(s->user_id, lu->id, sizeof(s->user_id));
	s->status = ROW_EXISTS;
	switch (lu->verif) {
	case LEDGER_VERIF_NONE:
		if (may_send) {
			queue_send(r, idx);
			return 1;
		}
		if (r->cfg->send_verification)
			set_error(s, "verification: not sent (run stopped)");
		else
			s->verif = VERIF_OFF;
		break;
	case LEDGER_VERIF_INTENT:
	case LEDGER_VERIF_IN_DOUBT:
		if (may_send && r->o->resend_in_doubt) {
			queue_send(r, idx);
			return 1;
		}
		if (r->o->settle_in_doubt) {
			/* the operator knows these went out: recorded as sent */
			s->verif = VERIF_SENT;
			r->st->codes_settled++;
			set_error(s, "verification: was in doubt, recorded as sent (--settle-in-doubt)");
			if (ledger_set_verif(r->led, s->key, LEDGER_VERIF_SENT, r->err) < 0)
				ledger_failed(r);
			break;
		}
		s->verif = VERIF_IN_DOUBT;
		r->st->codes_in_doubt++;
		r->st->codes_in_doubt_earlier++;
		set_error(s, "verification: in doubt since an earlier run (not resent: "
			     "--resend-in-doubt sends it, --settle-in-doubt records it as sent)");
		if (lu->verif == LEDGER_VERIF_INTENT &&
		    ledger_set_verif(r->led, s->key, LEDGER_VERIF_IN_DOUBT, r->err) < 0)
			ledger_failed(r);
		break;
	case LEDGER_VERIF_SENT:
		s->verif = VERIF_SENT;
		break;
	case LEDGER_VERIF_VERIFIED:
		s->verif = VERIF_VERIFIED;
		break;
	case LEDGER_VERIF_FAILED:
		s->verif = VERIF_FAILED;
		break;
	case LEDGER_VERIF_OFF:
		s->verif = VERIF_OFF;
		break;
	}
	slot_finish(r, s, ROW_EXISTS);
	return 1;
}

/* Brings one input row into the window. Returns 1, 0 at end, -1 on error. */
static int admit_row(struct run *r)
{
	struct reader_row row;
	struct user u;
	struct err e;
	struct slot *s;
	size_t idx, first = 0;
	bool valid;
	int rc;

	rc = reader_next(r->rd, &row, r->err);
	if (rc < 0) {
		/* the input changed since it was validated, or cannot be read:
		 * no row beyond this point is ever seen */
		fail_local(r, reader_changed(r->rd) ? IMPORT_ABORTED : IMPORT_LOCAL_FAILURE);
		return 0;
	}
	if (rc == 0)
		return 0;
	valid = row_validate(r, &row, &u, &e) == 0;
	if (!in_shard(r, row.row, valid ? &u : NULL))
		return 1;
	r->st->rows++;
	idx = r->tail % r->win_cap;
	s = &r->win[idx];
	memset(s, 0, offsetof(struct slot, url));
	s->error[0] = '\0';
	s->row = row.row;
	s->line = row.line;
	s->stage = STAGE_IDLE;
	r->tail++;

	if (!valid) {
		struct user_input in;

		reader_user_input(&row, r->col, &in);
		if (in.field[USER_EMAIL])
			copy_cell(s->email, sizeof(s->email), in.field[USER_EMAIL],
				  in.len[USER_EMAIL]);
		if (in.field[USER_COUNTRY_CODE])
			copy_cell(s->country_code, sizeof(s->country_code),
				  in.field[USER_COUNTRY_CODE],
				  in.len[USER_COUNTRY_CODE]);
		if (in.field[USER_PHONE_NUMBER])
			copy_cell(s->phone_number, sizeof(s->phone_number),
				  in.field[USER_PHONE_NUMBER],
				  in.len[USER_PHONE_NUMBER]);
		else if (in.field[USER_PHONE])
			copy_cell(s->phone_number, sizeof(s->phone_number),
				  in.field[USER_PHONE], in.len[USER_PHONE]);
		set_error(s, "%s", e.msg);
		slot_finish(r, s, ROW_INVALID);
		return 1;
	}
	memcpy(s->email, u.email, sizeof(s->email));
	memcpy(s->country_code, u.country_code, sizeof(s->country_code));
	memcpy(s->phone_number, u.phone_number, sizeof(s->phone_number));
	s->key = user_phone_key(&u);

	rc = dupset_check(&r->dups, s->key, s->row, &first, r->err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		set_error(s, "duplicate of row %zu (same country_code and phone_number)", first);
		slot_finish(r, s, ROW_DUPLICATE);
		return 1;
	}

	if (r->o->dry_run) {
		slot_finish(r, s, ROW_VALID);
		return 1;
	}
	/* a new ledger cannot know this phone: pass 1 already made every
	 * phone of the file unique */
	if (r->led && ledger_users_at_open(r->led) > 0) {
		struct ledger_user lu;

		rc = ledger_find(r->led, s->key, &lu, r->err);
		if (rc < 0)
			ledger_failed(r);
		if (rc == 1 && lu.id[0])
			return admit_known(r, idx, &lu);
	}
	if (r->stopping || r->aborting) {
		set_pending_reason(r, s);
		slot_finish(r, s, ROW_PENDING);
		return 1;
	}
	s->body = payload_create_user(&u, NULL, &e);
	if (!s->body) {
		set_error(s, "%s", e.msg);
		slot_finish(r, s, ROW_INVALID);
		return 1;
	}
	s->stage = STAGE_CREATE;
	fifo_push(&r->fresh, idx);
	return 1;
}

/* Writes finished rows at the head of the window, in input order. */
static int flush_window(struct run *r)
{
	while (r->head < r->tail) {
		struct slot *s = &r->win[r->head % r->win_cap];
		char rowbuf[21], linebuf[21], httpbuf[21], attbuf[21];
		const char *cells[11];

		if (s->stage != STAGE_DONE)
			break;
		cells[0] = num_format_u64(s->row, rowbuf);
		cells[1] = num_format_u64(s->line, linebuf);
		cells[2] = import_status_name(s->status);
		cells[3] = s->user_id;
		cells[4] = import_verif_name(s->verif);
		cells[5] = s->http_status > 0 ? num_format_u64((unsigned long long)s->http_status, httpbuf)
					      : "";
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
			emit(r, IMPORT_EV_ROW, s, "%s", s->error);
		r->st->by_status[s->status]++;
		r->st->done++;
		r->head++;
	}
	return 0;
}

/* ---- responses -------------------------------------------------------- */

static void abort_run(struct run *r, enum import_result why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void abort_run(struct run *r, enum import_result why, const char *fmt, ...)
{
	va_list ap;

	if (r->aborting)
		return;
	r->aborting = true;
	r->abort_result = why;
	va_start(ap, fmt);
	vsnprintf(r->st->abort_reason, sizeof(r->st->abort_reason), fmt, ap);
	va_end(ap);
	emit(r, IMPORT_EV_ABORT, NULL, "stopping: %s", r->st->abort_reason);
}

/* The error text of a final failure. */
static void describe_failure(struct slot *s, enum outcome o,
			     const struct http_result *res, const char *why,
			     bool exhausted, const char *prefix)
{
	struct outcome_info in;

	http_outcome_info(res, o, &in);
	in.why = why;
	in.attempts = s->kind_attempts;
	in.exhausted = exhausted;
	outcome_describe(&in, prefix, s->error, sizeof(s->error));
}

/* Writes a created user to the ledger with verification state v. */
static int record(struct run *r, struct slot *s, enum ledger_verif v)
{
	s->unrecorded = false;
	if (r->led && ledger_put(r->led, s->key, s->country_code, s->phone_number, s->user_id,
				 v, r->err) < 0)
		return ledger_failed(r);
	return 0;
}

/* Changes a recorded user's verification state (no-op without a ledger). */
static void record_verif(struct run *r, const struct slot *s, enum ledger_verif v)
{
	if (r->led && ledger_set_verif(r->led, s->key, v, r->err) < 0)
		ledger_failed(r);
}

/* A create succeeded: record the user, then its verification send. */
static int created(struct run *r, size_t idx, bool verified)
{
	struct slot *s = &r->win[idx];
	bool send = r->cfg->send_verification;

	s->status = ROW_CREATED;
	free(s->body);
	s->body = NULL;
	if (verified) {
		/* the API says this person is verified (an earlier import whose
		 * ledger is gone, or verified elsewhere): never sent a code */
		s->verif = VERIF_VERIFIED;
		r->st->codes_verified++;
		if (record(r, s, LEDGER_VERIF_VERIFIED) < 0)
			return -1;
		slot_finish(r, s, ROW_CREATED);
		return 0;
	}
	if (send && !r->aborting && !r->stopping) {
		/* recorded together with its send intent, moments from now; a
		 * crash before that only means the create is repeated, and the
		 * API answers a repeated create with the same user */
		s->unrecorded = r->led != NULL;
		queue_send(r, idx);
		return 0;
	}
	if (record(r, s, send ? LEDGER_VERIF_NONE : LEDGER_VERIF_OFF) < 0)
		return -1;
	if (!send)
		s->verif = VERIF_OFF;
	else
		set_error(s, "verification: not sent (run stopped)");
	slot_finish(r, s, ROW_CREATED);
	return 0;
}

static int sent(struct run *r, struct slot *s)
{
	s->verif = VERIF_SENT;
	r->st->codes_sent++;
	record_verif(r, s, LEDGER_VERIF_SENT);
	slot_finish(r, s, s->status);
	return 0;
}

/* A send that did not succeed: in doubt (never resent) or failed. */
static int send_failed(struct run *r, struct slot *s, bool in_doubt)
{
	size_t n = strlen(s->error);

	if (in_doubt) {
		s->verif = VERIF_IN_DOUBT;
		r->st->codes_in_doubt++;
		snprintf(s->error + n, sizeof(s->error) - n, " (outcome unknown: not resent)");
	} else {
		s->verif = VERIF_FAILED;
		r->st->codes_failed++;
	}
	record_verif(r, s, in_doubt ? LEDGER_VERIF_IN_DOUBT : LEDGER_VERIF_FAILED);
	slot_finish(r, s, s->status);
	return 0;
}

/*
 * A send that is not going to be attempted again (the run stops). When no
 * attempt may have reached the API (never started, or every attempt
 * certainly not acted on: connection refused, 429, 503), its intent is
 * taken back, so a rerun sends it; otherwise it is in doubt.
 */
static void send_not_finished(struct run *r, struct slot *s)
{
	if (s->maybe_acted) {
		s->verif = VERIF_IN_DOUBT;
		r->st->codes_in_doubt++;
		set_error(s, "verification: interrupted after an attempt with an unknown "
			     "outcome (not resent)");
		record_verif(r, s, LEDGER_VERIF_IN_DOUBT);
	} else {
		set_error(s, "verification: not sent (run stopped)");
		if (s->unrecorded)
			record(r, s, LEDGER_VERIF_NONE);
		else if (s->ticket)
			record_verif(r, s, LEDGER_VERIF_NONE);
	}
	slot_finish(r, s, s->status);
}

/*
 * The run is stopping and this request would be retried: a create is left
 * pending (a rerun creates it); a send goes as send_not_finished says.
 */
static int cut_short(struct run *r, size_t idx, enum request_kind kind)
{
	struct slot *s = &r->win[idx];

	if (kind == REQUEST_CREATE) {
		set_pending_reason(r, s);
		slot_finish(r, s, ROW_PENDING);
		return 0;
	}
	send_not_finished(r, s);
	return 0;
}

static int handle_result(struct run *r, const struct http_result *res, int64_t now)
{
	size_t idx = (size_t)(uintptr_t)res->cookie;
	struct slot *s = &r->win[idx];
	enum request_kind kind = s->stage == STAGE_CREATE ? REQUEST_CREATE : REQUEST_SEND;
	enum outcome o = outcome_classify(res->transport, res->status);
	struct retry_decision d;
	struct err e;
	const char *why = NULL;
	bool verified = false;

	s->in_flight = 0;
	s->attempts++;
	s->kind_attempts++;
	r->st->requests++;
	if (res->transport == TRANSPORT_OK)
		s->http_status = res->status;
	if (kind == REQUEST_SEND && !outcome_not_acted(o))
		s->maybe_acted = true;
	if (o == OUTCOME_OK && kind == REQUEST_CREATE &&
	    payload_created_user(res->body, res->body_len, s->user_id, &verified, &e) < 0) {
		o = OUTCOME_BAD_RESPONSE;
		why = e.msg;
	}
	if (o == OUTCOME_RATE_LIMITED)
		r->st->rate_limited++;
	if (pace_count(&r->pace, o))
		abort_run(r, IMPORT_ABORTED, "circuit breaker: %d consecutive failed requests",
			  PACE_BREAKER_LIMIT);
	d = retry_decide(&r->policy, kind, o, s->kind_attempts,
			 res->retry_after_ms, clock_rand01(&r->rng));
	if (d.pause_all) {
		pace_pause(&r->pace, now + d.delay_ms);
		emit(r, IMPORT_EV_PAUSE, NULL, "HTTP 429: pausing all requests for %ld ms",
		      d.delay_ms);
	}
	r->st->latency_hist[lat_bucket(res->elapsed_ms)]++;
	emit(r, IMPORT_EV_REQUEST, s, "row %zu: %s attempt %d: %s (HTTP %ld, %ld ms)", s->row,
	     kind == REQUEST_CREATE ? "create" : "send", s->kind_attempts, outcome_name(o),
	     res->status, res->elapsed_ms);

	if (d.verdict == RETRY_AGAIN && (r->aborting || r->stopping))
		return cut_short(r, idx, kind);

	switch (d.verdict) {
	case RETRY_AGAIN:
		r->st->retries++;
		s->ready_at_ms = now + d.delay_ms;
		timerq_push(&r->delayed, s->ready_at_ms, idx);
		return 0;
	case RETRY_DONE:
		return kind == REQUEST_CREATE ? created(r, idx, verified) : sent(r, s);
	case RETRY_ABORT:
		describe_failure(s, o, res, why, false, kind == REQUEST_SEND ? "verification: " : "");
		abort_run(r, IMPORT_ABORTED, "HTTP %ld: the API refused the credentials",
			  res->status);
		break;
	case RETRY_CONFIG:
		/* TLS or DNS: every request would fail the same way */
		describe_failure(s, o, res, why, false, kind == REQUEST_SEND ? "verification: " : "");
		abort_run(r, IMPORT_ABORTED, "%s", s->error);
		break;
	case RETRY_FAIL:
	case RETRY_IN_DOUBT:
		describe_failure(s, o, res, why,
				 d.verdict == RETRY_FAIL && o != OUTCOME_REJECTED,
				 kind == REQUEST_SEND ? "verification: " : "");
		break;
	}
	if (kind == REQUEST_CREATE && res->transport == TRANSPORT_OK && res->status == 404)
		/* the users route itself is missing: a wrong base URL */
		abort_run(r, IMPORT_ABORTED, "HTTP 404 for POST %s: %s", r->create_url,
			  outcome_hint_404());
	if (kind == REQUEST_CREATE) {
		r->api_failures++;
		if (r->o->max_failures >= 0 && r->api_failures >= (size_t)r->o->max_failures)
			abort_run(r, IMPORT_ABORTED, "--max-failures: %zu rows failed at the API",
				  r->api_failures);
		slot_finish(r, s, ROW_FAILED);
		return 0;
	}
	return send_failed(r, s, d.verdict == RETRY_IN_DOUBT || s->maybe_acted);
}

/* ---- starting requests ------------------------------------------------ */

/* Runs on the ledger's thread: curl_multi_wakeup is thread-safe. */
static void wake_loop(void *http)
{
	http_wakeup(http);
}

/* Whether a send's intent is durable, so it may start. */
static bool send_ready(const struct run *r, uint64_t durable)
{
	return r->durq.n && r->win[fifo_peek(&r->durq)].ticket <= durable;
}

/* Next job to start: due retries, sends whose intent is durable, then new
 * creates. */
static int next_job(struct run *r, uint64_t durable, size_t *idx)
{
	if (r->prio.n) {
		*idx = fifo_pop(&r->prio);
		return 1;
	}
	if (send_ready(r, durable)) {
		*idx = fifo_pop(&r->durq);
		return 1;
	}
	if (r->fresh.n) {
		*idx = fifo_pop(&r->fresh);
		return 1;
	}
	return 0;
}

/*
 * Commits the ledger's open group without waiting for the disk. Commits
 * queued while the ledger's thread is in an fsync share the next one, so
 * groups pipeline without multiplying fsyncs. Only send intents must be
 * durable before their request leaves; everything else (created users,
 * send outcomes) rides along, because losing it in a crash is safe: a
 * create is idempotent by phone, and a send whose outcome was lost is in
 * doubt.
 */
static int commit_ledger(struct run *r, int64_t now)
{
	if (ledger_commit_async(r->led, r->err) < 0)
		return ledger_failed(r);
	r->uncommitted_n = 0;
	r->committed_ms = now;
	return 0;
}

/*
 * Whether the intents in the open group should be committed now. Each
 * commit costs an fsync (about a third of a millisecond of CPU on a VM's
 * disk), so intents gather: for INTENT_GATHER_MS, until 2 x concurrency
 * of them wait, or at once when there is nothing else to send.
 */
static bool intents_due(const struct run *r, int64_t now)
{
	if (!r->uncommitted_n)
		return false;
	return r->uncommitted_n >= (size_t)r->cfg->concurrency * 2 ||
	       now - r->uncommitted_ms >= INTENT_GATHER_MS || (!r->fresh.n && !r->prio.n);
}

/* First send attempts get their intent into the ledger's open group (at
 * most INTENTS_AHEAD x concurrency of them ahead) and wait in durq for its
 * fsync. */
static int record_intents(struct run *r, int64_t now)
{
	while (r->sendq.n && r->durq.n < (size_t)r->cfg->concurrency * INTENTS_AHEAD) {
		size_t idx = fifo_pop(&r->sendq);
		struct slot *s = &r->win[idx];

		if (r->led) {
			if (s->unrecorded)
				record(r, s, LEDGER_VERIF_INTENT);
			else
				record_verif(r, s, LEDGER_VERIF_INTENT);
			if (!r->led) /* it failed: this send never starts */
				return 0;
			s->ticket = ledger_next_ticket(r->led);
			if (!r->uncommitted_n++)
				r->uncommitted_ms = now;
		}
		fifo_push(&r->durq, idx);
	}
	return 0;
}

static int start_requests(struct run *r, int64_t now)
{
	size_t batch[256];
	int nb = 0, want;
	uint64_t durable = 0;
	struct err e;
	size_t due;

	while (timerq_pop_due(&r->delayed, now, &due))
		fifo_push(&r->prio, due);
	if (r->stopping || r->aborting)
		return 0;
	if (record_intents(r, now) < 0)
		return -1;
	if (r->led && intents_due(r, now))
		commit_ledger(r, now);
	if (r->led && ledger_durable(r->led, &durable, r->err) < 0)
		ledger_failed(r);
	if (!r->led && r->failed)
		return 0; /* stopping: nothing new starts */
	want = http_free_slots(r->http);
	while (nb < want && (r->prio.n || r->fresh.n || send_ready(r, durable)) &&
	       pace_take(&r->pace, now)) {
		size_t idx = 0;

		if (!next_job(r, durable, &idx))
			break;
		batch[nb++] = idx;
	}
	for (int i = 0; i < nb; i++) {
		struct slot *s = &r->win[batch[i]];
		struct http_request req = {0};

		req.cookie = (void *)(uintptr_t)batch[i];
		if (s->stage == STAGE_CREATE) {
			req.url = r->create_url;
			req.url_repeats = 1;
			req.body = s->body;
			req.body_len = strlen(s->body);
		} else {
			req.url = s->url;
			req.body = r->send_body;
			req.body_len = r->send_body_len;
			req.once = 1;
		}
		if (http_start(r->http, &req, &e) < 0)
			return err_set(r->err, "%s", e.msg);
		s->in_flight = 1;
	}
	return 0;
}

/* How long the loop may wait for the network before it has work to do. */
static int wait_ms(struct run *r, int64_t now)
{
	int64_t t = 250;
	uint64_t durable = 0;

	/* a send waiting for its fsync is woken by the ledger's thread */
	if (r->led && ledger_durable(r->led, &durable, NULL) < 0)
		return 0; /* the next start_requests reports it */
	if (timerq_next_ms(&r->delayed) - now < t)
		t = timerq_next_ms(&r->delayed) - now;
	if ((r->prio.n || r->fresh.n || send_ready(r, durable)) && http_free_slots(r->http) > 0) {
		int64_t d = pace_wait_ms(&r->pace, now);
		if (d < t)
			t = d;
	}
	if (r->uncommitted_n) {
		int64_t d = intents_due(r, now) ? 0 : r->uncommitted_ms + INTENT_GATHER_MS - now;
		if (d < t)
			t = d;
	}
	if (!r->eof && r->tail - r->head < r->win_cap &&
	    r->fresh.n < (size_t)r->cfg->concurrency * 4 && !r->stopping)
		t = 0;
	if (r->stopping && r->stop_deadline_ms - now < t)
		t = r->stop_deadline_ms - now;
	return t < 0 ? 0 : (int)t;
}

static void report_progress(struct run *r, int64_t now, bool force)
{
	if (!r->o->progress || (!force && now - r->last_progress_ms < 100))
		return;
	r->last_progress_ms = now;
	r->st->in_flight = r->http ? (size_t)http_in_flight(r->http) : 0;
	r->st->elapsed_s = (double)(now - r->start_ms) / 1000.0;
	r->o->progress(r->o->ctx, r->st);
}

/* ---- the run ---------------------------------------------------------- */

/*
 * The first request of every run: one authenticated read. A configuration
 * error (wrong base URL, untrusted certificate, unknown host) fails the
 * setup (-1, err set: nothing was sent); refused credentials abort the run
 * before any row is sent (exit 3, every night, even with nothing to send).
 */
static int preflight(struct run *r)
{
	struct probe p = {
		.http = r->http,
		.base_url = r->cfg->base_url,
		.policy = &r->policy,
		.stop = r->o->stop,
		.now_ms = r->o->now_ms,
		.ctx = r->o->ctx,
		.rng = &r->rng,
	};
	enum probe_result pr = probe_run(&p, r->err);

	r->st->requests += p.requests;
	r->st->rate_limited += p.rate_limited;
	r->probe_requests = p.requests;
	switch (pr) {
	case PROBE_OK:
	case PROBE_STOPPED: /* the loop sees the signal */
		return 0;
	case PROBE_CONFIG:
		return -1;
	case PROBE_UNREACHABLE:
		/* an outage, not a configuration error: the rows' own retries
		 * and the circuit breaker deal with it */
		emit(r, IMPORT_EV_PAUSE, NULL, "warning: %s; going on", r->err->msg);
		return 0;
	case PROBE_AUTH:
		break;
	}
	abort_run(r, IMPORT_ABORTED, "%s", r->err->msg);
	return 0;
}

static int setup(struct run *r, size_t *invalid)
{
	const struct import_opts *o = r->o;
	int n;

	if (reader_open(&r->rd, o->input_path, r->err) < 0)
		return -1;
	if (reader_map_columns(r->rd, (const char *const *)r->cfg->columns, r->col,
			       r->err) < 0)
		return -1;
	if (pass1(r, invalid) < 0)
		return -1;
	if (o->max_invalid >= 0 && *invalid > (size_t)o->max_invalid)
		return err_set(r->err,
			       "'%s': %zu invalid rows, more than --max-invalid %ld: nothing sent",
			       o->input_path, *invalid, o->max_invalid);
	/* pass 2 reads exactly the bytes validated, or stops */
	if (reader_seal(r->rd, r->err) < 0)
		return -1;
	n = snprintf(r->create_url, sizeof(r->create_url), "%s/v2/users", r->cfg->base_url);
	if (n < 0 || (size_t)n >= sizeof(r->create_url))
		return err_set(r->err, "base URL is too long");
	r->send_body = payload_send_verification(&r->send_body_len, r->err);
	if (!r->send_body)
		return -1;
	/* preflight: every output exists before the first request */
	if (results_open(&r->out, o->results_path, results_header, 11, r->err) < 0)
		return -1;
	if (!o->dry_run && o->state_path &&
	    ledger_open(&r->led, o->state_path, r->cfg->base_url, o->client_id, r->err) < 0)
		return -1;
	if (!o->dry_run) {
		struct http_opts ho;

		import_http_opts(o, &ho);
		if (http_new(&r->http, &ho, r->err) < 0)
			return -1;
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
	    fifo_init(&r->prio, r->win_cap) < 0 || fifo_init(&r->sendq, r->win_cap) < 0 ||
	    fifo_init(&r->durq, r->win_cap) < 0 ||
	    timerq_init(&r->delayed, r->win_cap) < 0)
		return err_set(r->err, "out of memory");
	return 0;
}

static int loop(struct run *r)
{
	for (;;) {
		int64_t now = clock_ms(r);
		struct http_result res;

		if (r->o->stop && *r->o->stop && !r->st->signal) {
			r->st->signal = (int)*r->o->stop;
			begin_stop(r);
			emit(r, IMPORT_EV_SIGNAL, NULL,
			     "signal %d: finishing requests in flight (10 s at most)", r->st->signal);
		}
		if (r->o->abandon && *r->o->abandon)
			break; /* a later second signal: in-flight requests abandoned */
		if (!r->failed && r->o->check && r->o->check(r->o->ctx, r->err) < 0)
			fail_local(r, IMPORT_LOCAL_FAILURE);
		if (r->stopping && now >= r->stop_deadline_ms)
			break;
		while (!r->eof && r->tail - r->head < r->win_cap &&
		       (r->fresh.n < (size_t)r->cfg->concurrency * 4 || !r->http)) {
			int rc = admit_row(r);
			if (rc < 0)
				return -1;
			if (rc == 0)
				r->eof = true;
		}
		if (r->http && start_requests(r, now) < 0)
			return -1;
		if (r->led && now - r->committed_ms >= LEDGER_COMMIT_MS)
			commit_ledger(r, now);
		flush_window(r);
		report_progress(r, now, false);
		if (!r->http || http_in_flight(r->http) == 0) {
			bool idle = !r->prio.n && !r->fresh.n && !r->sendq.n && !r->durq.n &&
				    !r->delayed.n;
			if ((r->eof && r->head == r->tail && idle) || r->stopping ||
			    r->aborting)
				break;
			if (!r->http)
				continue;
		}
		if (http_poll(r->http, wait_ms(r, now), r->err) < 0)
			return -1;
		now = clock_ms(r);
		while (http_next_result(r->http, &res))
			if (handle_result(r, &res, now) < 0)
				return -1;
	}
	return 0;
}

/* After the loop: whatever did not finish is pending (or in doubt). */
static int drain(struct run *r)
{
	for (size_t q = r->head; q < r->tail; q++) {
		struct slot *s = &r->win[q % r->win_cap];

		if (s->stage == STAGE_DONE)
			continue;
		if (s->stage == STAGE_SEND && s->in_flight) {
			s->verif = VERIF_IN_DOUBT;
			r->st->codes_in_doubt++;
			set_error(s, "verification: interrupted while in flight (outcome unknown: not resent)");
			record_verif(r, s, LEDGER_VERIF_IN_DOUBT);
			slot_finish(r, s, s->status);
		} else if (s->stage == STAGE_SEND) {
			send_not_finished(r, s);
		} else {
			set_pending_reason(r, s);
			slot_finish(r, s, ROW_PENDING);
		}
	}
	flush_window(r);
	while (!r->eof) {
		int rc = admit_row(r);

		if (rc < 0)
			return -1;
		if (rc == 0)
			r->eof = true;
		for (size_t q = r->head; q < r->tail; q++) {
			struct slot *s = &r->win[q % r->win_cap];

			if (s->stage != STAGE_DONE) {
				set_pending_reason(r, s);
				slot_finish(r, s, ROW_PENDING);
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
	if (r->aborting)
		return r->abort_result;
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
	fifo_release(&r->prio);
	fifo_release(&r->sendq);
	fifo_release(&r->durq);
	timerq_release(&r->delayed);
	dupset_release(&r->dups);
	if (r->led)
		ledger_set_wake(r->led, NULL, NULL); /* before the engine goes */
	http_free(r->http);
	ledger_close(r->led);
	ledger_close(r->led_dead);
	results_free(r->out);
	reader_free(r->rd);
}

enum import_result import_run(const struct import_opts *o,
			      struct import_stats *st, struct err *err)
{
	struct run r;
	size_t invalid = 0;
	enum import_result res;

	memset(&r, 0, sizeof(r));
	memset(st, 0, sizeof(*st));
	r.o = o;
	r.cfg = o->cfg;
	r.st = st;
	r.err = err;
	r.rules.default_country_code = o->cfg->default_country_code;
	r.policy.max_attempts = (int)o->cfg->max_attempts;
	r.policy.base_delay_ms = o->cfg->base_delay_ms;
	r.policy.max_delay_ms = o->cfg->max_delay_ms;
	r.policy.max_retry_after_ms = MAX_RETRY_AFTER_MS;
	r.policy.resend_in_doubt = o->resend_in_doubt;
	r.rng = o->seed ? o->seed : clock_seed();
	r.start_ms = clock_ms(&r);
	pace_init(&r.pace, o->cfg->rate_limit, r.start_ms);

	if (setup(&r, &invalid) < 0) {
		teardown(&r);
		return IMPORT_INPUT_ERROR;
	}
	r.committed_ms = r.start_ms;
	if (r.led && ledger_begin(r.led, err) < 0)
		ledger_failed(&r);
	if (loop(&r) < 0 || drain(&r) < 0) {
		/* the engine itself failed: what was durable stays durable */
		fail_local(&r, IMPORT_LOCAL_FAILURE);
	}
	/* whatever still works is written: the ledger, then the results */
	if (r.led && ledger_commit(r.led, err) < 0)
		ledger_failed(&r);
	if (!r.out_dead && results_commit(r.out, err) < 0)
		fail_local(&r, IMPORT_LOCAL_FAILURE);
	else if (!r.out_dead)
		st->results_written = true;
	st->elapsed_s = (double)(clock_ms(&r) - r.start_ms) / 1000.0;
	st->input_appended = reader_appended(r.rd);
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
