/*
 * codes.c - send-verification, and what it shares with verify (verify.c):
 * groups of jobs run by the one engine (the same pacing, retries, breaker,
 * stop grace, events and first request as an import), one results line per
 * user or token.
 * A send's intent is committed to the ledger before it leaves, and its
 * outcome as soon as it is known, exactly as in an import (verif.h); nothing
 * here ever resends an in-doubt code unless asked.
 */
#include "codes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "codes_int.h"
#include "ledger.h"
#include "num.h"
#include "payload.h"
#include "probe.h"
#include "results.h"

#include "banned.h"

#define LEDGER_COMMIT_MS 500      /* outcomes durable at least this often */

static const char *const send_header[] = {"user_id", "country_code", "phone_number",
					  "verification", "http_status", "attempts",
					  "error"};

static int64_t codes_now(const struct codes *c)
{
	return c->o->now_ms ? c->o->now_ms(c->o->ctx) : clock_now_ms();
}

void codes_progress(struct codes *c, bool force)
{
	if (c->eng_live)
		import_progress(c->o, &c->eng, c->st, codes_now(c), c->t0, &c->progress_ms, force);
}

void codes_line(struct codes *c, bool counted, size_t row, size_t line,
		const char *status, const char *error, const char *cc, const char *phone)
{
	struct import_row ir = {row, line, status, error, "", cc, phone};

	c->st->done += !counted;
	if (error[0] && c->o->row_error)
		c->o->row_error(c->o->ctx, &ir);
}

static void codes_event(void *ctx, enum engine_event ev, const struct engine_job *j,
			const char *msg)
{
	struct codes *c = ctx;
	struct import_event e = {.kind = import_event_of(ev), .msg = msg};

	if (j && ev == ENGINE_EV_REQUEST)
		import_event_attempt(&e, j);
	if (c->o->log)
		c->o->log(c->o->ctx, &e);
}

/* Engine and first request from the options. A configuration error fails
 * the set-up (nothing sent); refused credentials halt the engine: no job
 * of this run starts. */
int codes_start(struct codes *c, struct err *err)
{
	struct http_opts ho;
	struct engine_opts eo;
	struct engine_transport t;

	if (c->o->transport) { /* a test's fake: the probe goes through it too */
		t = *c->o->transport;
	} else {
		import_http_opts(c->o, &ho);
		if (http_new(&c->http, &ho, err) < 0)
			return -1;
		engine_http_transport(c->http, &t);
	}
	import_engine_opts(c->o, &eo);
	eo.learned_rate = c->led ? ledger_learned_rate(c->led) : 0;
	eo.event = codes_event;
	eo.ctx = c;
	if (engine_init(&c->eng, &eo, &t, err) < 0)
		return -1;
	c->eng_live = true;
	c->jobs = calloc(GROUP_SIZE, sizeof(*c->jobs));
	if (!c->jobs)
		return err_set(err, "out of memory");
	if (probe_run(&c->eng, c->o->cfg->base_url, err) == PROBE_CONFIG)
		return -1;
	c->probe_requests = c->eng.st.requests;
	return 0;
}

enum import_result codes_ending(const struct codes *c, bool all_ok)
{
	if (c->local_failed)
		return c->eng.st.requests > c->probe_requests ? IMPORT_LOCAL_FAILURE
							      : IMPORT_INPUT_ERROR;
	if (c->eng.st.signal)
		return IMPORT_INTERRUPTED;
	if (c->eng.st.abort_reason[0])
		return IMPORT_ABORTED;
	return all_ok ? IMPORT_COMPLETE : IMPORT_PARTIAL;
}

enum import_result codes_finish(struct codes *c, bool all_ok)
{
	if (!c->local_failed && results_commit(c->out, c->err) < 0)
		codes_fail(c);
	else if (!c->local_failed)
		c->st->results_written = true;
	import_take_figures(&c->eng, c->st);
	codes_progress(c, true);
	return codes_ending(c, all_ok);
}

void codes_close(struct codes *c)
{
	if (c->eng_live)
		import_take_figures(&c->eng, c->st);
	c->st->elapsed_s = (double)(codes_now(c) - c->t0) / 1000.0;
	codes_release(c);
}

void codes_release(struct codes *c)
{
	if (c->led && c->eng_live)
		ledger_keep_rate(c->led, adapt_learned(&c->eng.adapt));
	for (size_t i = 0; c->jobs && i < GROUP_SIZE; i++)
		free(c->jobs[i].body);
	free(c->jobs);
	if (c->eng_live)
		engine_release(&c->eng);
	http_free(c->http);
	results_free(c->out);
	ledger_close(c->led);
}

/* A local failure (ledger, results): the run stops like after a signal. */
void codes_fail(struct codes *c)
{
	if (!c->local_failed) {
		c->local_failed = true;
		engine_halt(&c->eng, ENGINE_HALT_LOCAL, "%s", c->err->msg);
	}
}

/* ---- the group feed -------------------------------------------------------- */

struct engine_job *codes_group_next(void *ctx, int64_t now)
{
	struct codes *c = ctx;

	(void)now;
	while (c->next < c->prepared) {
		struct cjob *j = &c->jobs[c->next++];

		if (!j->skip)
			return &j->job;
	}
	return NULL;
}

bool codes_group_idle(void *ctx)
{
	const struct codes *c = ctx;

	return c->next >= c->n;
}

/* Runs jobs[0..n): the engine hands each over as the feed allows. */
int codes_run_group(struct codes *c, const struct engine_feed *f, size_t n, struct err *err)
{
	c->n = n;
	c->next = 0;
	if (engine_halted(&c->eng))
		return 0;
	return engine_run(&c->eng, f, err);
}

/* ---- send-verification ------------------------------------------------------- */

struct collect {
	uint64_t *keys;
	size_t n, cap;
	struct err *err;
};

static int collect(void *ctx, uint64_t key, const struct ledger_user *u)
{
	struct collect *k = ctx;

	(void)u;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 1024;
		uint64_t *p = realloc(k->keys, cap * sizeof(*p));

		if (!p)
			return err_set(k->err, "out of memory");
		k->keys = p;
		k->cap = cap;
	}
	k->keys[k->n++] = key;
	return 0;
}

static void send_row(struct codes *c, struct cjob *j)
{
	char http[21], att[21];
	const char *cells[7] = {j->user.id, j->user.country_code, j->user.phone_number,
				verif_name(j->verif),
				j->job.http_status ? num_format_u64((unsigned long long)j->job.http_status, http) : "",
				j->job.attempts ? num_format_u64((unsigned)j->job.attempts, att) : "",
				j->error};

	if (!c->local_failed && results_row(c->out, cells, NULL, 7, c->err) < 0)
		codes_fail(c);
	codes_line(c, false, c->st->done + 1, 0, cells[3], j->error, j->user.country_code,
		   j->user.phone_number);
}

/* A verification step of the table (verif.h) into the ledger. */
static void send_step(struct codes *c, struct cjob *j, enum verif_event ev)
{
	struct verif_step s = verif_next(j->user.verif, ev);

	j->verif = s.cell;
	if (s.write && !c->local_failed && ledger_set_verif(c->led, j->key, s.next, c->err) < 0)
		codes_fail(c);
}

/* Intents for the next 2 x concurrency jobs, committed (durable) before
 * any of them is handed over; outcomes committed at least every 500 ms. */
static int send_turn(void *ctx, int64_t now, struct err *err)
{
	struct codes *c = ctx;
	size_t want = (size_t)c->o->cfg->concurrency * 2;

	(void)err;
	if (c->prepared == c->next && c->prepared < c->n && !engine_halted(&c->eng)) {
		for (size_t i = c->prepared; i < c->n && i < c->next + want; i++) {
			send_step(c, &c->jobs[i], VERIF_EV_INTENT);
			c->jobs[i].intent = true;
		}
		if (!c->local_failed && ledger_commit(c->led, c->err) == 0 &&
		    ledger_begin(c->led, c->err) == 0) {
			c->prepared = c->next + want < c->n ? c->next + want : c->n;
			c->committed_ms = now;
		} else {
			codes_fail(c);
		}
	} else if (now - c->committed_ms >= LEDGER_COMMIT_MS && !c->local_failed) {
		if (ledger_commit(c->led, c->err) < 0 || ledger_begin(c->led, c->err) < 0)
			codes_fail(c);
		c->committed_ms = now;
	}
	codes_progress(c, false);
	return 0;
}

/* A send's outcome goes into the ledger at once (the next commit makes it
 * durable) and its line into the results. */
static int send_done(void *ctx, struct engine_job *ej, const struct engine_end *end,
		     struct err *err)
{
	struct codes *c = ctx;
	struct cjob *j = (struct cjob *)ej; /* job is the first member */
	enum verif_event ev = verif_event_of(end->verdict, end->cut, end->abandoned,
					     ej->maybe_acted);

	(void)err;
	j->ended = true;
	switch (ev) {
	case VERIF_EV_ACCEPTED:
		c->st->codes_sent++;
		break;
	case VERIF_EV_REFUSED:
		c->st->codes_failed++;
		engine_describe(ej, end, "", j->error, sizeof(j->error));
		break;
	case VERIF_EV_DOUBT:
		c->st->codes_in_doubt++;
		if (end->cut)
			snprintf(j->error, sizeof(j->error), "%s",
				 end->abandoned ? "interrupted while in flight"
						: "interrupted after an attempt with an unknown outcome");
		else
			engine_describe(ej, end, "", j->error, sizeof(j->error));
		break;
	default:
		snprintf(j->error, sizeof(j->error), "not sent (run stopped)");
		break;
	}
	send_step(c, j, ev);
	if (ev == VERIF_EV_WITHDRAWN)
		j->verif = VERIF_NONE;
	send_row(c, j);
	return 0;
}

/* --settle-in-doubt: the operator knows these codes went out. */
struct settle_ctx {
	struct codes *c;
};

static int settle(void *ctx, uint64_t key, const struct ledger_user *u)
{
	struct codes *c = ((struct settle_ctx *)ctx)->c;
	struct cjob j = {0};

	j.user = *u;
	j.key = key;
	snprintf(j.error, sizeof(j.error), "was in doubt, recorded as sent (--settle-in-doubt)");
	send_step(c, &j, VERIF_EV_SETTLED);
	send_row(c, &j);
	c->st->codes_settled++;
	c->st->rows++;
	return c->local_failed ? -1 : 0;
}

enum import_result codes_send_run(const struct import_opts *o, struct import_stats *st,
				  struct err *err)
{
	struct codes c = {.o = o, .st = st, .err = err};
	struct collect k = {NULL, 0, 0, err};
	struct engine_feed f = {.ctx = &c, .done = send_done, .turn = send_turn,
				.next = codes_group_next, .idle = codes_group_idle};
	unsigned doubt = (1u << LEDGER_VERIF_INTENT) | (1u << LEDGER_VERIF_IN_DOUBT);
	unsigned mask = (1u << LEDGER_VERIF_NONE) | (1u << LEDGER_VERIF_OFF) |
			(1u << LEDGER_VERIF_FAILED);
	enum import_result res = IMPORT_INPUT_ERROR;
	bool all_ok = true;
	long long left_in_doubt = 0;
	int64_t t0 = o->now_ms ? o->now_ms(o->ctx) : clock_now_ms();
	struct stat sb;

	memset(st, 0, sizeof(*st));
	c.t0 = c.progress_ms = t0;
	if (o->resend_in_doubt)
		mask |= doubt;
	if (stat(o->state_path, &sb) < 0) {
		err_set(err, "no ledger at '%s': send-verification works on users an import recorded",
			o->state_path);
		return IMPORT_INPUT_ERROR;
	}
	if (ledger_open(&c.led, o->state_path, o->cfg->base_url, o->client_id, err) < 0 ||
	    ledger_each(c.led, mask, collect, &k, err) < 0 ||
	    results_open(&c.out, o->results_path, send_header, 7, err) < 0 ||
	    codes_start(&c, err) < 0)
		goto done;
	/* codes in doubt since earlier runs keep the exit code at 1 until
	 * resent or settled */
	if (!o->resend_in_doubt && !o->settle_in_doubt &&
	    ledger_count(c.led, doubt, &left_in_doubt, err) < 0)
		goto done;
	st->codes_in_doubt_earlier = st->codes_in_doubt = (size_t)left_in_doubt;
	if (o->limit > 0 && k.n > (size_t)o->limit) { /* daytime pacing: the rest later */
		st->limit_left = k.n - (size_t)o->limit;
		k.n = (size_t)o->limit;
	}
	all_ok = left_in_doubt == 0;
	if (ledger_begin(c.led, err) < 0)
		goto done;
	if (o->settle_in_doubt && !engine_halted(&c.eng)) {
		struct settle_ctx sc = {&c};

		if (ledger_each(c.led, doubt, settle, &sc, err) < 0)
			codes_fail(&c);
	}
	for (size_t at = 0; at < k.n && !c.local_failed; at += GROUP_SIZE) {
		size_t n = k.n - at < GROUP_SIZE ? k.n - at : GROUP_SIZE;

		for (size_t i = 0; i < n; i++) {
			struct cjob *j = &c.jobs[i];

			memset(j, 0, sizeof(*j));
			j->key = k.keys[at + i];
			if (ledger_find(c.led, j->key, &j->user, err) != 1) {
				codes_fail(&c);
				break;
			}
			snprintf(j->url, sizeof(j->url), "%s/v2/users/%s/send-verification-token",
				 o->cfg->base_url, j->user.id);
			j->job.url = j->url;
			j->job.kind = REQUEST_SEND;
			j->job.once = true;
			j->job.body = "{}";
			j->job.body_len = 2;
		}
		c.prepared = 0;
		if (!c.local_failed && codes_run_group(&c, &f, n, err) < 0)
			codes_fail(&c);
		for (size_t i = 0; i < n; i++) { /* never handed over: as before */
			struct cjob *j = &c.jobs[i];

			st->rows++;
			if (j->ended)
				continue;
			snprintf(j->error, sizeof(j->error), "not sent (run stopped)");
			if (j->intent) /* its intent is taken back */
				send_step(&c, j, VERIF_EV_WITHDRAWN);
			j->verif = VERIF_NONE;
			send_row(&c, j);
		}
		if (st->codes_failed || st->codes_in_doubt || engine_halted(&c.eng))
			all_ok = false;
	}
	if (!c.local_failed && ledger_commit(c.led, err) < 0)
		codes_fail(&c);
	res = codes_finish(&c, all_ok && st->rows == st->codes_sent + st->codes_settled);
done:
	codes_close(&c);
	free(k.keys);
	return res;
}
