/*
 * codes.c - send-verification and verify: feed batches of requests through
 * batch_run and write one results line per user or token.
 * A send's intent is committed to the ledger before it leaves, exactly as
 * in an import; nothing here ever resends an in-doubt code unless asked.
 */
#include "codes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch.h"
#include "clock.h"
#include "ledger.h"
#include "payload.h"
#include "probe.h"
#include "reader.h"
#include "results.h"

#include "banned.h"

#define BATCH_SIZE 512

static const char *const send_header[] = {"user_id", "country_code", "phone_number",
					  "verification", "http_status", "attempts",
					  "error"};
static const char *const verify_header[] = {"row", "line", "user_id", "status",
					    "http_status", "attempts", "error"};

/*
 * The run's first request (probe.h). A configuration error fails the
 * set-up (nothing sent); refused credentials abort the batch before its
 * first job.
 */
static int probe_batch(const struct import_opts *o, struct batch *b, struct err *err)
{
	struct probe p = {
		.http = b->http,
		.base_url = o->cfg->base_url,
		.policy = &b->policy,
		.stop = o->stop,
		.rng = &b->rng,
	};
	enum probe_result pr = probe_run(&p, err);

	b->requests += p.requests;
	b->probe_requests = p.requests;
	b->rate_limited += p.rate_limited;
	if (pr == PROBE_CONFIG)
		return -1;
	if (pr == PROBE_AUTH) { /* an outage (PROBE_UNREACHABLE) is left to the jobs' retries */
		b->aborted = true;
		snprintf(b->abort_reason, sizeof(b->abort_reason), "%s", err->msg);
	}
	return 0;
}

/* Shared set-up: engine and batch runner from the options. */
static int start_batch(const struct import_opts *o, struct batch *b, struct err *err)
{
	struct http_opts ho;

	import_http_opts(o, &ho);
	memset(b, 0, sizeof(*b));
	if (http_new(&b->http, &ho, err) < 0)
		return -1;
	b->policy.max_attempts = (int)o->cfg->max_attempts;
	b->policy.base_delay_ms = o->cfg->base_delay_ms;
	b->policy.max_delay_ms = o->cfg->max_delay_ms;
	b->policy.max_retry_after_ms = 300000;
	b->policy.resend_in_doubt = o->resend_in_doubt;
	b->stop = o->stop;
	b->abandon = o->abandon;
	pace_init(&b->pace, o->cfg->rate_limit, clock_now_ms());
	b->rng = o->seed ? o->seed : clock_seed();
	return probe_batch(o, b, err);
}

static void copy_figures(const struct batch *b, struct import_stats *st)
{
	st->requests = b->requests;
	st->retries = b->retries;
	st->rate_limited = b->rate_limited;
	st->signal = b->signal;
	if (b->aborted)
		snprintf(st->abort_reason, sizeof(st->abort_reason), "%s", b->abort_reason);
}

static enum import_result ending(const struct batch *b, bool all_ok)
{
	if (b->signal)
		return IMPORT_INTERRUPTED;
	if (b->aborted)
		return IMPORT_ABORTED;
	return all_ok ? IMPORT_COMPLETE : IMPORT_PARTIAL;
}

/* ---- send-verification ---------------------------------------------------- */

struct send_ctx {
	struct ledger *led;
	struct err *err;      /* for the ledger_each callbacks */
	struct results *out;
	struct import_stats *st;
	uint64_t *keys;
	size_t n, cap;
	uint64_t *batch_keys; /* key of each job in the current batch */
	struct batch_job *jobs;
	char *body;           /* the (empty) body of every send */
	size_t body_len;
};

static int collect(void *ctx, uint64_t key, const struct ledger_user *u)
{
	struct send_ctx *c = ctx;

	(void)u;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		uint64_t *p = realloc(c->keys, cap * sizeof(*p));
		if (!p)
			return err_set(c->err, "out of memory");
		c->keys = p;
		c->cap = cap;
	}
	c->keys[c->n++] = key;
	return 0;
}

static int send_intent(void *ctx, struct batch_job *j, struct err *err)
{
	struct send_ctx *c = ctx;

	return ledger_set_verif(c->led, c->batch_keys[j - c->jobs], LEDGER_VERIF_INTENT, err);
}

/*
 * The ledger state a send ends in. A send not done (the run stopped) whose
 * every attempt certainly did not reach the API goes back to its earlier
 * state, so a later run sends it; one that may have reached it is in doubt.
 */
static enum ledger_verif send_state(const struct batch_job *j, enum ledger_verif before)
{
	if (j->done && j->verdict == RETRY_DONE)
		return LEDGER_VERIF_SENT;
	if (j->in_flight || j->acted_maybe || (j->done && j->verdict == RETRY_IN_DOUBT))
		return LEDGER_VERIF_IN_DOUBT;
	return j->done ? LEDGER_VERIF_FAILED : before;
}

/* A send's outcome goes into the ledger at once; the next group commit
 * (one per group of starts) makes it durable, as in an import. */
static int send_done(void *ctx, struct batch_job *j, struct err *err)
{
	struct send_ctx *c = ctx;

	return ledger_set_verif(c->led, c->batch_keys[j - c->jobs],
				send_state(j, LEDGER_VERIF_NONE), err);
}

/* --settle-in-doubt: the operator knows these codes went out. */
static int settle(void *ctx, uint64_t key, const struct ledger_user *u)
{
	struct send_ctx *c = ctx;
	const char *cells[7] = {u->id, u->country_code, u->phone_number, "sent", "", "",
				"was in doubt, recorded as sent (--settle-in-doubt)"};

	c->st->codes_settled++;
	c->st->rows++;
	if (ledger_set_verif(c->led, key, LEDGER_VERIF_SENT, c->err) < 0 ||
	    results_row(c->out, cells, NULL, 7, c->err) < 0)
		return -1;
	return 0;
}

static int send_commit(void *ctx, struct err *err)
{
	struct send_ctx *c = ctx;

	if (ledger_commit(c->led, err) < 0)
		return -1;
	return ledger_begin(c->led, err);
}

enum import_result codes_send_run(const struct import_opts *o, struct import_stats *st,
				  struct err *err)
{
	struct send_ctx c = {0};
	struct results *out = NULL;
	struct batch b = {0};
	struct stat sb;
	unsigned mask = (1u << LEDGER_VERIF_NONE) | (1u << LEDGER_VERIF_OFF) |
			(1u << LEDGER_VERIF_FAILED);
	enum import_result res = IMPORT_INPUT_ERROR;
	unsigned doubt = (1u << LEDGER_VERIF_INTENT) | (1u << LEDGER_VERIF_IN_DOUBT);
	bool all_ok = true;
	long long left_in_doubt = 0;
	int64_t t0 = clock_now_ms();

	memset(st, 0, sizeof(*st));
	c.err = err;
	c.st = st;
	if (o->resend_in_doubt)
		mask |= doubt;
	if (stat(o->state_path, &sb) < 0) {
		err_set(err, "no ledger at '%s': send-verification works on users an import recorded",
			o->state_path);
		return IMPORT_INPUT_ERROR;
	}
	if (ledger_open(&c.led, o->state_path, o->cfg->base_url, o->client_id, err) < 0)
		return IMPORT_INPUT_ERROR;
	if (ledger_each(c.led, mask, collect, &c, err) < 0 ||
	    results_open(&out, o->results_path, send_header, 7, err) < 0 ||
	    start_batch(o, &b, err) < 0)
		goto done;
	c.out = out;
	/* codes in doubt since earlier runs keep the exit code at 1 until
	 * resent or settled */
	if (!o->resend_in_doubt && !o->settle_in_doubt &&
	    ledger_count(c.led, doubt, &left_in_doubt, err) < 0)
		goto done;
	st->codes_in_doubt_earlier = st->codes_in_doubt = (size_t)left_in_doubt;
	if (left_in_doubt)
		all_ok = false;
	if (o->settle_in_doubt && !b.aborted &&
	    (ledger_begin(c.led, err) < 0 || ledger_each(c.led, doubt, settle, &c, err) < 0 ||
	     ledger_commit(c.led, err) < 0))
		goto done;
	c.body = payload_send_verification(&c.body_len, err);
	if (!c.body)
		goto done;
	c.jobs = calloc(BATCH_SIZE, sizeof(*c.jobs));
	c.batch_keys = calloc(BATCH_SIZE, sizeof(*c.batch_keys));
	struct ledger_user *users = calloc(BATCH_SIZE, sizeof(*users));
	if (!c.jobs || !c.batch_keys || !users) {
		free(users);
		err_set(err, "out of memory");
		goto done;
	}
	b.before_start = send_intent;
	b.commit = send_commit;
	b.on_done = send_done;
	b.ctx = &c;
	for (size_t at = 0; at < c.n; at += BATCH_SIZE) {
		size_t nb = c.n - at < BATCH_SIZE ? c.n - at : BATCH_SIZE;
		bool stopped = b.aborted || b.signal;

		for (size_t i = 0; i < nb; i++) {
			c.batch_keys[i] = c.keys[at + i];
			if (ledger_find(c.led, c.batch_keys[i], &users[i], err) != 1)
				goto fail;
			snprintf(c.jobs[i].url, sizeof(c.jobs[i].url),
				 "%s/v2/users/%s/send-verification-token", o->cfg->base_url, users[i].id);
			c.jobs[i].kind = REQUEST_SEND;
			c.jobs[i].body = c.body;
			c.jobs[i].body_len = c.body_len;
		}
		if (!stopped && (ledger_begin(c.led, err) < 0 || batch_run(&b, c.jobs, nb, err) < 0 ||
				 ledger_commit(c.led, err) < 0))
			goto fail;
		if (ledger_begin(c.led, err) < 0)
			goto fail;
		for (size_t i = 0; i < nb; i++) {
			struct batch_job *j = &c.jobs[i];
			const char *verif = "";
			enum ledger_verif lv = users[i].verif;
			char http[16] = "", att[16] = "";
			const char *cells[7];

			st->rows++;
			if (stopped) {
				j->done = false;
				j->attempts = 0;
				j->error[0] = '\0';
			}
			if (!stopped)
				lv = send_state(j, lv);
			if (lv == LEDGER_VERIF_SENT) {
				verif = "sent";
				st->codes_sent++;
			} else if (lv == LEDGER_VERIF_IN_DOUBT) {
				verif = "in_doubt";
				if (!j->done)
					snprintf(j->error, sizeof(j->error),
						 "interrupted after an attempt with an unknown outcome "
						 "(not resent)");
				st->codes_in_doubt++;
				all_ok = false;
			} else if (lv == LEDGER_VERIF_FAILED && j->done) {
				verif = "failed";
				st->codes_failed++;
				all_ok = false;
			} else {
				/* never left, or certainly not acted on: as before */
				snprintf(j->error, sizeof(j->error), "not sent (run stopped)");
				all_ok = false;
			}
			if (ledger_set_verif(c.led, c.batch_keys[i], lv, err) < 0)
				goto fail;
			if (j->http_status)
				snprintf(http, sizeof(http), "%ld", j->http_status);
			if (j->attempts)
				snprintf(att, sizeof(att), "%d", j->attempts);
			cells[0] = users[i].id;
			cells[1] = users[i].country_code;
			cells[2] = users[i].phone_number;
			cells[3] = verif;
			cells[4] = http;
			cells[5] = att;
			cells[6] = j->error;
			if (results_row(out, cells, NULL, 7, err) < 0)
				goto fail;
		}
		if (ledger_commit(c.led, err) < 0)
			goto fail;
	}
	if (results_commit(out, err) < 0)
		goto fail;
	st->results_written = true;
	copy_figures(&b, st);
	res = ending(&b, all_ok);
fail:
	free(users);
	if (res == IMPORT_INPUT_ERROR && b.requests > b.probe_requests) {
		copy_figures(&b, st);
		res = IMPORT_LOCAL_FAILURE; /* requests went out: exit 2 would lie */
	}
done:
	st->elapsed_s = (double)(clock_now_ms() - t0) / 1000.0;
	http_free(b.http);
	results_free(out);
	ledger_close(c.led);
	free(c.keys);
	free(c.jobs);
	free(c.batch_keys);
	free(c.body);
	return res;
}

/* ---- verify --------------------------------------------------------------- */

struct token_row {
	size_t row, line;
	char user_id[PAYLOAD_ID_MAX + 1];
	char *body;
	char error[BATCH_ERROR_MAX + 1];
	bool invalid;
};

static bool token_ok(const char *t, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= ' ' || t[i] > '~')
			return false;
	return true;
}

static bool user_id_ok(const char *s, size_t n)
{
	if (n == 0 || n > PAYLOAD_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Reads up to BATCH_SIZE rows into rows/jobs. Returns the count, -1 on error. */
static long read_tokens(struct reader *rd, int c_user, int c_token, const struct import_opts *o,
			struct token_row *rows, struct batch_job *jobs, struct err *err)
{
	struct reader_row r;
	long n = 0;
	int rc;

	while (n < BATCH_SIZE && (rc = reader_next(rd, &r, err)) == 1) {
		struct token_row *t = &rows[n];
		const char *uid = (size_t)c_user < r.nfields ? r.field[c_user] : "";
		size_t ul = (size_t)c_user < r.nfields ? r.len[c_user] : 0;
		const char *tok = (size_t)c_token < r.nfields ? r.field[c_token] : "";
		size_t tl = (size_t)c_token < r.nfields ? r.len[c_token] : 0;

		memset(t, 0, sizeof(*t));
		memset(&jobs[n], 0, sizeof(jobs[n]));
		t->row = r.row;
		t->line = r.line;
		while (ul && (*uid == ' ' || *uid == '\t')) {
			uid++;
			ul--;
		}
		while (ul && (uid[ul - 1] == ' ' || uid[ul - 1] == '\t'))
			ul--;
		while (tl && (*tok == ' ' || *tok == '\t')) {
			tok++;
			tl--;
		}
		while (tl && (tok[tl - 1] == ' ' || tok[tl - 1] == '\t'))
			tl--;
		if (r.problem) {
			t->invalid = true;
			snprintf(t->error, sizeof(t->error), "line %zu: %s", r.line, r.problem);
		} else if (!user_id_ok(uid, ul)) {
			t->invalid = true;
			snprintf(t->error, sizeof(t->error), "user_id: not a Dots user id");
		} else if (!token_ok(tok, tl)) {
			t->invalid = true;
			snprintf(t->error, sizeof(t->error), "token: expected 1-64 visible characters");
		} else {
			char token[65];

			memcpy(t->user_id, uid, ul);
			t->user_id[ul] = '\0';
			memcpy(token, tok, tl);
			token[tl] = '\0';
			t->body = payload_verify(token, &jobs[n].body_len, err);
			if (!t->body)
				return -1;
			jobs[n].body = t->body;
			jobs[n].kind = REQUEST_VERIFY;
			snprintf(jobs[n].url, sizeof(jobs[n].url), "%s/v2/users/%s/verify",
				 o->cfg->base_url, t->user_id);
		}
		if (t->invalid) {
			size_t k = ul < PAYLOAD_ID_MAX ? ul : PAYLOAD_ID_MAX;
			memcpy(t->user_id, uid, strnlen(uid, k));
			t->user_id[strnlen(uid, k)] = '\0';
			jobs[n].done = true; /* nothing to send */
		}
		n++;
	}
	return rc < 0 && n == 0 ? -1 : n;
}

enum import_result codes_verify_run(const struct import_opts *o, struct import_stats *st,
				    struct err *err)
{
	struct reader *rd = NULL;
	struct results *out = NULL;
	struct batch b = {0};
	struct token_row *rows = NULL;
	struct batch_job *jobs = NULL, *todo = NULL;
	enum import_result res = IMPORT_INPUT_ERROR;
	bool all_ok = true;
	int c_user, c_token;
	long n;

	memset(st, 0, sizeof(*st));
	if (reader_open(&rd, o->input_path, err) < 0)
		return IMPORT_INPUT_ERROR;
	c_user = reader_find_column(rd, "user_id");
	c_token = reader_find_column(rd, "token");
	if (c_user < 0 || c_token < 0) {
		err_set(err, "'%s': missing required column \"%s\"", o->input_path,
			c_user < 0 ? "user_id" : "token");
		goto done;
	}
	rows = calloc(BATCH_SIZE, sizeof(*rows));
	jobs = calloc(BATCH_SIZE, sizeof(*jobs));
	todo = calloc(BATCH_SIZE, sizeof(*todo));
	if (!rows || !jobs || !todo) {
		err_set(err, "out of memory");
		goto done;
	}
	if (results_open(&out, o->results_path, verify_header, 7, err) < 0 ||
	    start_batch(o, &b, err) < 0)
		goto done;
	while ((n = read_tokens(rd, c_user, c_token, o, rows, jobs, err)) > 0) {
		size_t nt = 0, k = 0;

		for (long i = 0; i < n; i++)
			if (!rows[i].invalid)
				todo[nt++] = jobs[i];
		if (!b.aborted && !b.signal && batch_run(&b, todo, nt, err) < 0)
			goto done;
		for (long i = 0; i < n; i++) {
			struct token_row *t = &rows[i];
			struct batch_job *j = t->invalid ? &jobs[i] : &todo[k++];
			char rowb[24], lineb[24], http[16] = "", att[16] = "";
			const char *status;
			const char *cells[7];

			st->rows++;
			if (t->invalid) {
				status = "invalid";
				st->by_status[ROW_INVALID]++;
				snprintf(j->error, sizeof(j->error), "%s", t->error);
			} else if (j->done && j->verdict == RETRY_DONE) {
				status = "verified";
				st->by_status[ROW_CREATED]++;
			} else if (j->done) {
				status = "failed";
				st->by_status[ROW_FAILED]++;
			} else {
				status = "pending";
				st->by_status[ROW_PENDING]++;
			}
			if (strcmp(status, "verified") != 0)
				all_ok = false;
			snprintf(rowb, sizeof(rowb), "%zu", t->row);
			snprintf(lineb, sizeof(lineb), "%zu", t->line);
			if (j->http_status)
				snprintf(http, sizeof(http), "%ld", j->http_status);
			if (j->attempts)
				snprintf(att, sizeof(att), "%d", j->attempts);
			cells[0] = rowb;
			cells[1] = lineb;
			cells[2] = t->user_id;
			cells[3] = status;
			cells[4] = http;
			cells[5] = att;
			cells[6] = j->error;
			if (results_row(out, cells, NULL, 7, err) < 0)
				goto done;
			free(t->body);
			t->body = NULL;
		}
	}
	if (n < 0 || results_commit(out, err) < 0)
		goto done;
	st->results_written = true;
	copy_figures(&b, st);
	res = ending(&b, all_ok);
done:
	for (size_t i = 0; rows && i < BATCH_SIZE; i++)
		free(rows[i].body);
	free(rows);
	free(jobs);
	free(todo);
	http_free(b.http);
	results_free(out);
	reader_free(rd);
	return res;
}
