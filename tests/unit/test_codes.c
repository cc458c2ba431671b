/*
 * test_codes.c - send-verification and verify (lib/codes.c, lib/verify.c)
 * on a fake transport that answers by URL and a fake clock, with a real
 * ledger and real results files in a temporary directory: who gets a code
 * and who never does, the ledger states and results lines after, codes in
 * doubt from earlier runs (counted, settled, resent), the intent durable
 * before the send leaves (a crash snapshot of the ledger taken as it
 * leaves), a stop signal and abandon, a refused first request, and verify's
 * rows in input order. No sockets, no sleeping: a poll advances the fake
 * clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "ledger.h"
#include "verif.h"

#include "testutil.h"

#include "banned.h"

#define BASE "http://api.test/api"
#define CLIENT "client-test-id"
#define PROBE_BODY "{\"data\":[],\"has_more\":false}"
#define SEND_HEADER "user_id,country_code,phone_number,verification,http_status,attempts,error"
#define VERIFY_HEADER "row,line,user_id,status,http_status,attempts,error"
#define KEY(i) (0x1000u + (uint64_t)(i))
#define MAXCALLS 4096
#define MAXROWS 1200
#define NCELL 7
#define CELL_MAX 200

/* ---- the fake API ---------------------------------------------------------- */

/* What the fake API answers one attempt with. */
struct answer {
	enum transport transport;
	long status;
	const char *body;
	long latency_ms;
};

/* Answers for one user id, attempt by attempt (the last one repeats). */
struct script {
	const char *id;
	struct answer a[4];
	int n, used;
};

struct call {
	char url[200];
	bool get;
	char body[96];
};

struct fake {
	int64_t now;
	int slots;
	struct {
		void *cookie;
		int64_t done_at;
		struct answer a;
	} fly[64];
	int nfly;
	struct http_result ready[64];
	int nready;
	struct call calls[MAXCALLS];
	int ncalls;
	struct answer probe;
	struct script scripts[16];
	int nscripts;
	volatile sig_atomic_t stop, abandon;
	int stop_after_sends;      /* a signal once this many sends started (0 = never) */
	bool abandon_too;          /* ... and a second one: abandon in-flight requests */
	int sends;
	int snap_at_send;          /* copy the ledger files as this send starts (0 = never) */
	const char *state, *snap;  /* the ledger, the copy */
	bool snapped;
};

static struct fake F;
static struct config CFG;
static struct import_opts O;
static struct engine_transport FT;
static char RESULTS[160], INPUT[160], SNAP[160];

static const struct answer A202 = {TRANSPORT_OK, 202, "{}", 20};
static const struct answer A200 = {TRANSPORT_OK, 200, "{}", 20};
static const struct answer A503 = {TRANSPORT_OK, 503, "{\"error\":\"busy\"}", 20};
static const struct answer A400 = {TRANSPORT_OK, 400, "{\"error\":\"bad request\"}", 20};
static const struct answer A401 = {TRANSPORT_OK, 401, "{\"error\":\"unauthorized\"}", 20};
static const struct answer ATIMEOUT = {TRANSPORT_TIMEOUT, 0, "", 30000};
static const struct answer ALOST = {TRANSPORT_LOST, 0, "", 20};

static int64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static void script(const char *id, int n, ...)
{
	struct script *s = &F.scripts[F.nscripts++];
	va_list ap;

	assert_true(F.nscripts <= 16 && n >= 1 && n <= 4);
	s->id = id;
	s->n = n;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		s->a[i] = va_arg(ap, struct answer);
	va_end(ap);
}

static struct answer scripted(const char *id, struct answer dflt)
{
	for (int i = 0; i < F.nscripts; i++) {
		struct script *s = &F.scripts[i];

		if (strcmp(s->id, id) == 0)
			return s->a[s->used < s->n ? s->used++ : s->n - 1];
	}
	return dflt;
}

/* The user id of BASE/v2/users/<id><suffix>, or false. */
static bool id_of(const char *url, const char *suffix, char *id, size_t cap)
{
	const char *pre = BASE "/v2/users/";
	size_t pl = strlen(pre), sl = strlen(suffix), ul = strlen(url);

	if (ul < pl + sl || strncmp(url, pre, pl) != 0 || strcmp(url + ul - sl, suffix) != 0 ||
	    ul - pl - sl >= cap)
		return false;
	memcpy(id, url + pl, ul - pl - sl);
	id[ul - pl - sl] = '\0';
	return true;
}

static void copy_file(const char *from, const char *to, bool must)
{
	FILE *in = fopen(from, "rb"), *out;
	char buf[8192];
	size_t n;

	if (!in) {
		assert_false(must);
		return;
	}
	out = fopen(to, "wb");
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* What a crash right now would leave: the ledger and its -wal, copied. */
static void snapshot(void)
{
	char from[200], to[200];

	copy_file(F.state, F.snap, true);
	snprintf(from, sizeof(from), "%s-wal", F.state);
	snprintf(to, sizeof(to), "%s-wal", F.snap);
	copy_file(from, to, false);
	F.snapped = true;
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
	struct call *c = &f->calls[f->ncalls];
	struct answer a = A202;
	char id[80];

	(void)err;
	assert_true(f->nfly < f->slots);
	assert_true(f->ncalls < MAXCALLS);
	f->ncalls++;
	snprintf(c->url, sizeof(c->url), "%s", req->url);
	c->get = req->get;
	if (req->body)
		snprintf(c->body, sizeof(c->body), "%.*s", (int)req->body_len, req->body);
	if (req->get) {
		assert_string_equal(req->url, BASE "/v2/users?limit=1");
		a = f->probe;
	} else if (id_of(req->url, "/send-verification-token", id, sizeof(id))) {
		assert_true(req->once); /* an SMS: at most once on the wire */
		assert_int_equal(req->body_len, 2);
		assert_memory_equal(req->body, "{}", 2);
		f->sends++;
		if (f->snap_at_send == f->sends)
			snapshot();
		a = scripted(id, A202);
		if (f->stop_after_sends == f->sends) {
			f->stop = SIGTERM;
			if (f->abandon_too)
				f->abandon = 1;
		}
	} else if (id_of(req->url, "/verify", id, sizeof(id))) {
		assert_false(req->once);
		a = scripted(id, A200);
	} else {
		fail_msg("unexpected request: %s", req->url);
	}
	f->fly[f->nfly].cookie = req->cookie;
	f->fly[f->nfly].a = a;
	f->fly[f->nfly].done_at = f->now + a.latency_ms;
	f->nfly++;
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
	if (until > f->now)
		f->now = until;
	for (int i = 0; i < f->nfly;) {
		if (f->fly[i].done_at <= f->now) {
			struct http_result *r = &f->ready[f->nready++];

			memset(r, 0, sizeof(*r));
			r->cookie = f->fly[i].cookie;
			r->transport = f->fly[i].a.transport;
			r->status = f->fly[i].a.status;
			r->body = f->fly[i].a.body;
			r->body_len = strlen(r->body);
			r->retry_after_ms = -1;
			r->elapsed_ms = f->fly[i].a.latency_ms;
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

/* Requests sent to a user's send-verification-token. */
static int sends_to(const char *id)
{
	char url[200];
	int n = snprintf(url, sizeof(url), "%s/v2/users/%s/send-verification-token", BASE, id);

	assert_true(n > 0 && (size_t)n < sizeof(url));
	n = 0;
	for (int i = 0; i < F.ncalls; i++)
		n += strcmp(F.calls[i].url, url) == 0;
	return n;
}

/* ---- fixture --------------------------------------------------------------- */

static int setup(void **state)
{
	struct fixture *fx;

	if (fixture_setup(state, "test_codes", "state.db") < 0)
		return -1;
	fx = *state;
	memset(&F, 0, sizeof(F));
	F.now = 5000000;
	F.slots = 8;
	F.probe = (struct answer){TRANSPORT_OK, 200, PROBE_BODY, 20};
	snprintf(RESULTS, sizeof(RESULTS), "%s/results.csv", fx->dir);
	snprintf(INPUT, sizeof(INPUT), "%s/tokens.csv", fx->dir);
	snprintf(SNAP, sizeof(SNAP), "%s/snap.db", fx->dir);
	F.state = fx->path;
	F.snap = SNAP;
	config_init(&CFG);
	if (config_set_string(&CFG.base_url, BASE) < 0)
		return -1;
	CFG.concurrency = 8;
	FT = (struct engine_transport){&F, f_free, f_in_flight, f_start, f_poll, f_next};
	memset(&O, 0, sizeof(O));
	O.cfg = &CFG;
	O.input_path = INPUT;
	O.results_path = RESULTS;
	O.state_path = fx->path;
	O.client_id = CLIENT;
	O.api_key = "api-key";
	O.max_invalid = -1;
	O.max_failures = -1;
	O.stop = &F.stop;
	O.abandon = &F.abandon;
	O.now_ms = fake_now;
	O.ctx = &F;
	O.seed = 42;
	O.transport = &FT;
	return 0;
}

static int teardown(void **state)
{
	config_release(&CFG);
	return fixture_teardown(state);
}

static void concurrency(long n)
{
	CFG.concurrency = n;
	F.slots = (int)n;
}

/* ---- the ledger ---------------------------------------------------------- */

struct luser {
	const char *id;
	enum ledger_verif v;
};

static void phone_of(size_t i, char *out, size_t cap)
{
	snprintf(out, cap, "555%07u", (unsigned)(i % 10000000));
}

static void make_ledger(const char *path, const struct luser *us, size_t n)
{
	struct ledger *l = NULL;
	struct err e;
	char phone[16];

	err_init(&e);
	if (ledger_open(&l, path, BASE, CLIENT, &e) < 0 || ledger_begin(l, &e) < 0)
		fail_msg("ledger: %s", e.msg);
	for (size_t i = 0; i < n; i++) {
		phone_of(i, phone, sizeof(phone));
		if (ledger_put(l, KEY(i), "1", phone, us[i].id, us[i].v, &e) < 0)
			fail_msg("ledger_put: %s", e.msg);
	}
	if (ledger_commit(l, &e) < 0)
		fail_msg("ledger_commit: %s", e.msg);
	ledger_close(l);
}

/* The ledger's states of users 0..n-1 (it must be closed: the run closed it). */
static void states(const char *path, enum ledger_verif *out, size_t n)
{
	struct ledger *l = NULL;
	struct ledger_user u;
	struct err e;

	err_init(&e);
	if (ledger_open(&l, path, BASE, CLIENT, &e) < 0)
		fail_msg("ledger_open: %s", e.msg);
	for (size_t i = 0; i < n; i++) {
		if (ledger_find(l, KEY(i), &u, &e) != 1)
			fail_msg("user %zu missing: %s", i, e.msg);
		out[i] = u.verif;
	}
	ledger_close(l);
}

static void assert_states(const char *path, const enum ledger_verif *want, size_t n)
{
	enum ledger_verif got[16];

	assert_true(n <= 16);
	states(path, got, n);
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			fail_msg("user %zu: ledger state %d, want %d", i, (int)got[i], (int)want[i]);
}

/* ---- the results file ---------------------------------------------------- */

static char CELLS[MAXROWS][NCELL][CELL_MAX];
static int NROWS;

static void split(const char *s, char cells[NCELL][CELL_MAX])
{
	int c = 0;
	size_t n = 0;
	bool q = false;

	memset(cells, 0, sizeof(char[NCELL][CELL_MAX]));
	for (; *s; s++) {
		char ch = *s;

		if (q && ch == '"' && s[1] == '"') {
			s++;
		} else if (ch == '"') {
			q = !q;
			continue;
		} else if (!q && ch == ',') {
			c++;
			n = 0;
			assert_true(c < NCELL);
			continue;
		}
		if (n < CELL_MAX - 1)
			cells[c][n++] = ch;
	}
	assert_false(q);
	assert_int_equal(c, NCELL - 1);
}

static void load_results(const char *header)
{
	FILE *fp = fopen(RESULTS, "r");
	char line[1024];

	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	line[strcspn(line, "\r\n")] = '\0';
	assert_string_equal(line, header);
	NROWS = 0;
	while (fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\r\n")] = '\0';
		assert_true(NROWS < MAXROWS);
		split(line, CELLS[NROWS++]);
	}
	fclose(fp);
}

/* The send-verification results line of a user (exactly one). */
static char (*send_row(const char *id))[CELL_MAX]
{
	int at = -1;

	for (int i = 0; i < NROWS; i++)
		if (strcmp(CELLS[i][0], id) == 0) {
			if (at >= 0)
				fail_msg("two results lines for %s", id);
			at = i;
		}
	if (at < 0)
		fail_msg("no results line for %s", id);
	return CELLS[at];
}

static void assert_send_row(const char *id, const char *verif, const char *http,
			    const char *attempts, const char *error_prefix)
{
	char(*r)[CELL_MAX] = send_row(id);

	assert_string_equal(r[1], "1");
	assert_int_equal(strlen(r[2]), 10);
	assert_string_equal(r[3], verif);
	assert_string_equal(r[4], http);
	assert_string_equal(r[5], attempts);
	if (!error_prefix)
		assert_string_equal(r[6], "");
	else if (strncmp(r[6], error_prefix, strlen(error_prefix)) != 0)
		fail_msg("%s: error '%s', want it to start with '%s'", id, r[6], error_prefix);
}

static enum import_result send_run(struct import_stats *st, struct err *e)
{
	err_init(e);
	return codes_send_run(&O, st, e);
}

/* ---- send-verification ----------------------------------------------------- */

/* Codes go to NONE, OFF and FAILED users only; each outcome lands in the
 * ledger and the results as the verification table says. */
static void send_only_to_sendable_states(void **state)
{
	struct fixture *fx = *state;
	static const struct luser us[] = {
		{"u-none-ok", LEDGER_VERIF_NONE},     {"u-off-503", LEDGER_VERIF_OFF},
		{"u-failed-timeout", LEDGER_VERIF_FAILED}, {"u-none-400", LEDGER_VERIF_NONE},
		{"u-sent", LEDGER_VERIF_SENT},        {"u-doubt", LEDGER_VERIF_IN_DOUBT},
		{"u-verified", LEDGER_VERIF_VERIFIED}, {"u-intent", LEDGER_VERIF_INTENT},
	};
	static const enum ledger_verif want[] = {
		LEDGER_VERIF_SENT,     LEDGER_VERIF_SENT,     LEDGER_VERIF_IN_DOUBT,
		LEDGER_VERIF_IN_DOUBT, LEDGER_VERIF_SENT,     LEDGER_VERIF_IN_DOUBT,
		LEDGER_VERIF_VERIFIED, LEDGER_VERIF_INTENT};
	struct import_stats st;
	struct err e;

	make_ledger(fx->path, us, 8);
	script("u-off-503", 2, A503, A202);
	script("u-failed-timeout", 1, ATIMEOUT);
	script("u-none-400", 1, A400);
	/* the table: a 4xx answer to a send may have acted (it is not one of
	 * the "certainly not sent" outcomes): in doubt, never refused */
	assert_int_equal(verif_event_of(RETRY_FAIL, false, false, true), VERIF_EV_DOUBT);

	assert_int_equal(send_run(&st, &e), IMPORT_PARTIAL);
	assert_true(F.calls[0].get); /* the first request, through the fake */
	assert_int_equal(sends_to("u-none-ok"), 1);
	assert_int_equal(sends_to("u-off-503"), 2);
	assert_int_equal(sends_to("u-failed-timeout"), 1);
	assert_int_equal(sends_to("u-none-400"), 1);
	assert_int_equal(sends_to("u-sent"), 0);
	assert_int_equal(sends_to("u-doubt"), 0);
	assert_int_equal(sends_to("u-verified"), 0);
	assert_int_equal(sends_to("u-intent"), 0);
	assert_int_equal(F.ncalls, 1 + 5);

	assert_states(fx->path, want, 8);
	load_results(SEND_HEADER);
	assert_int_equal(NROWS, 4);
	assert_send_row("u-none-ok", "sent", "202", "1", NULL);
	assert_send_row("u-off-503", "sent", "202", "2", NULL);
	assert_send_row("u-failed-timeout", "in_doubt", "", "1", "timeout after 1 attempt");
	assert_send_row("u-none-400", "in_doubt", "400", "1", "HTTP 400");

	assert_int_equal(st.rows, 4);
	assert_int_equal(st.codes_sent, 2);
	assert_int_equal(st.codes_failed, 0);
	assert_int_equal(st.codes_in_doubt_earlier, 2); /* u-doubt, u-intent */
	assert_int_equal(st.codes_in_doubt, 2 + 2);
	assert_int_equal(st.requests, 1 + 5);
	assert_int_equal(st.retries, 1);
	assert_true(st.results_written);
}

/* Every send accepted and nothing in doubt: complete. */
static void send_all_accepted_complete(void **state)
{
	struct fixture *fx = *state;
	static const struct luser us[] = {
		{"a", LEDGER_VERIF_NONE}, {"b", LEDGER_VERIF_OFF}, {"c", LEDGER_VERIF_FAILED},
		{"d", LEDGER_VERIF_SENT}, {"e", LEDGER_VERIF_VERIFIED}};
	static const enum ledger_verif want[] = {LEDGER_VERIF_SENT, LEDGER_VERIF_SENT,
						 LEDGER_VERIF_SENT, LEDGER_VERIF_SENT,
						 LEDGER_VERIF_VERIFIED};
	struct import_stats st;
	struct err e;

	make_ledger(fx->path, us, 5);
	assert_int_equal(send_run(&st, &e), IMPORT_COMPLETE);
	assert_int_equal(sends_to("a") + sends_to("b") + sends_to("c"), 3);
	assert_int_equal(F.ncalls, 1 + 3);
	assert_states(fx->path, want, 5);
	load_results(SEND_HEADER);
	assert_int_equal(NROWS, 3);
	assert_send_row("a", "sent", "202", "1", NULL);
	assert_send_row("b", "sent", "202", "1", NULL);
	assert_send_row("c", "sent", "202", "1", NULL);
	assert_int_equal(st.codes_sent, 3);
	assert_int_equal(st.codes_in_doubt, 0);
}

/* 401 on a send: that code certainly did not go (failed), the run aborts
 * and the users after it keep their state. */
static void send_refused_credentials_aborts(void **state)
{
	struct fixture *fx = *state;
	static const struct luser us[] = {
		{"a", LEDGER_VERIF_NONE}, {"b", LEDGER_VERIF_OFF}, {"c", LEDGER_VERIF_NONE}};
	static const enum ledger_verif want[] = {LEDGER_VERIF_SENT, LEDGER_VERIF_FAILED,
						 LEDGER_VERIF_NONE};
	struct import_stats st;
	struct err e;

	concurrency(1);
	make_ledger(fx->path, us, 3);
	script("b", 1, A401);
	assert_int_equal(send_run(&st, &e), IMPORT_ABORTED);
	assert_int_equal(sends_to("a"), 1);
	assert_int_equal(sends_to("b"), 1);
	assert_int_equal(sends_to("c"), 0);
	assert_states(fx->path, want, 3);
	load_results(SEND_HEADER);
	assert_int_equal(NROWS, 3);
	assert_send_row("a", "sent", "202", "1", NULL);
	assert_send_row("b", "failed", "401", "1", "HTTP 401");
	assert_send_row("c", "", "", "", "not sent (run stopped)");
	assert_int_equal(st.codes_failed, 1);
	assert_non_null(strstr(st.abort_reason, "401"));
}

/* Codes in doubt from earlier runs are counted, never resent by default,
 * and keep the run from being complete. */
static const struct luser doubt_users[] = {
	{"a", LEDGER_VERIF_NONE}, {"b", LEDGER_VERIF_IN_DOUBT}, {"c", LEDGER_VERIF_INTENT}};

static void send_earlier_doubt_counted(void **state)
{
	struct fixture *fx = *state;
	static const enum ledger_verif want[] = {LEDGER_VERIF_SENT, LEDGER_VERIF_IN_DOUBT,
						 LEDGER_VERIF_INTENT};
	struct import_stats st;
	struct err e;

	make_ledger(fx->path, doubt_users, 3);
	assert_int_equal(send_run(&st, &e), IMPORT_PARTIAL);
	assert_int_equal(sends_to("a"), 1);
	assert_int_equal(sends_to("b") + sends_to("c"), 0);
	assert_states(fx->path, want, 3);
	load_results(SEND_HEADER);
	assert_int_equal(NROWS, 1);
	assert_send_row("a", "sent", "202", "1", NULL);
	assert_int_equal(st.codes_in_doubt_earlier, 2);
	assert_int_equal(st.codes_in_doubt, 2);
	assert_int_equal(st.codes_sent, 1);
	assert_int_equal(st.rows, 1);
}

/* Nothing to send, but codes in doubt from earlier runs: still partial. */
static void send_only_earlier_doubt_partial(void **state)
{
	struct fixture *fx = *state;
	static const struct luser us[] = {{"a", LEDGER_VERIF_SENT}, {"b", LEDGER_VERIF_IN_DOUBT}};
	struct import_stats st;
	struct err e;

	make_ledger(fx->path, us, 2);
	assert_int_equal(send_run(&st, &e), IMPORT_PARTIAL);
	assert_int_equal(F.sends, 0);
	assert_int_equal(st.rows, 0);
	assert_int_equal(st.codes_in_doubt_earlier, 1);
	load_results(SEND_HEADER);
	assert_int_equal(NROWS, 0);
}

/* --settle-in-doubt records them sent, without a request. */
static void send_settle_in_doubt(void **state)
{
	struct fixture *fx = *state;
	static const enum ledger_verif want[] = {LEDGER_VERIF_SENT, LEDGER_VERIF_SENT,
						 LEDGER_VERIF_SENT};
	struct import_stats st;
	struct err e;

	make_ledger(fx->path, doubt_users, 3);
	O.settle_in_doubt = true;
	assert_int_equal(send_run(&st, &e), IMPORT_COMPLETE);
	assert_int_equal(F.ncalls, 1 + 1);
	assert_int_equal(sends_to("a"), 1);
	assert_states(fx->path, want, 3);
	load_results(SEND_HEADER);
	assert_int_equal(NROWS, 3);
	assert_send_row("a", "sent", "202", "1", NULL);
	assert_send_row("b", "sent", "", "", "was in doubt, recorded as sent (--settle-in-doubt)");
	assert_send_row("c", "sent", "", "", "was in doubt, recorded as sent (--settle-in-doubt)");
	assert_int_equal(st.codes_settled, 2);
	assert_int_equal(st.codes_in_doubt, 0);
	assert_int_equal(st.codes_in_doubt_earlier, 0);
}

/* --resend-in-doubt sends them again. */
static void send_resend_in_doubt(void **state)
{
	struct fixture *fx = *state;
	static const enum ledger_verif want[] = {LEDGER_VERIF_SENT, LEDGER_VERIF_SENT,
						 LEDGER_VERIF_SENT};
	struct import_stats st;
	struct err e;

	make_ledger(fx->path, doubt_users, 3);
	O.resend_in_doubt = true;
	assert_int_equal(send_run(&st, &e), IMPORT_COMPLETE);
	assert_int_equal(sends_to("a"), 1);
	assert_int_equal(sends_to("b"), 1);
	assert_int_equal(sends_to("c"), 1);
	assert_states(fx->path, want, 3);
	load_results(SEND_HEADER);
	assert_int_equal(NROWS, 3);
	assert_send_row("b", "sent", "202", "1", NULL);
	assert_send_row("c", "sent", "202", "1", NULL);
	assert_int_equal(st.codes_sent, 3);
	assert_int_equal(st.codes_in_doubt_earlier, 0);
}

/* The intent is durable before the send leaves: a copy of the ledger files
 * taken as the request starts (what a crash then would leave) already
 * says INTENT, and a reset after the request left ends in doubt. */
static void send_intent_durable_first(void **state)
{
	struct fixture *fx = *state;
	static const struct luser us[] = {
		{"a", LEDGER_VERIF_NONE}, {"b", LEDGER_VERIF_OFF}, {"c", LEDGER_VERIF_FAILED}};
	static const enum ledger_verif want[] = {LEDGER_VERIF_IN_DOUBT, LEDGER_VERIF_SENT,
						 LEDGER_VERIF_SENT};
	enum ledger_verif snap[3];
	struct import_stats st;
	struct err e;

	concurrency(1);
	make_ledger(fx->path, us, 3);
	script("a", 1, ALOST);
	F.snap_at_send = 1;
	assert_int_equal(send_run(&st, &e), IMPORT_PARTIAL);
	assert_true(F.snapped);
	states(SNAP, snap, 3);
	assert_int_equal(snap[0], LEDGER_VERIF_INTENT); /* on disk before it left */
	assert_int_equal(snap[2], LEDGER_VERIF_FAILED); /* not yet prepared */
	assert_int_equal(sends_to("a"), 1);             /* never resent */
	assert_states(fx->path, want, 3);
	load_results(SEND_HEADER);
	assert_send_row("a", "in_doubt", "", "1", "connection lost after 1 attempt");
	assert_int_equal(st.codes_in_doubt, 1);
	assert_int_equal(st.codes_in_doubt_earlier, 0);
}

/* A signal: the send in flight finishes; users whose intent was taken but
 * whose send never left go back to their state (a later run sends them),
 * the others stay as they were. */
static void send_signal_takes_intents_back(void **state)
{
	struct fixture *fx = *state;
	static const struct luser us[] = {{"a", LEDGER_VERIF_NONE},
					 {"b", LEDGER_VERIF_OFF},
					 {"c", LEDGER_VERIF_FAILED},
					 {"d", LEDGER_VERIF_NONE}};
	static const enum ledger_verif want[] = {LEDGER_VERIF_SENT, LEDGER_VERIF_OFF,
						 LEDGER_VERIF_FAILED, LEDGER_VERIF_NONE};
	enum ledger_verif snap[4];
	struct import_stats st;
	struct err e;

	concurrency(1);
	make_ledger(fx->path, us, 4);
	F.stop_after_sends = 1;
	F.snap_at_send = 1;
	assert_int_equal(send_run(&st, &e), IMPORT_INTERRUPTED);
	assert_int_equal(st.signal, SIGTERM);
	states(SNAP, snap, 4);
	assert_int_equal(snap[1], LEDGER_VERIF_INTENT); /* b's intent was taken... */
	assert_states(fx->path, want, 4);               /* ... and taken back */
	assert_int_equal(sends_to("a"), 1);
	assert_int_equal(sends_to("b") + sends_to("c") + sends_to("d"), 0);
	load_results(SEND_HEADER);
	assert_int_equal(NROWS, 4);
	assert_send_row("a", "sent", "202", "1", NULL);
	assert_send_row("b", "", "", "", "not sent (run stopped)");
	assert_send_row("c", "", "", "", "not sent (run stopped)");
	assert_send_row("d", "", "", "", "not sent (run stopped)");
	assert_int_equal(st.codes_sent, 1);
	assert_int_equal(st.codes_in_doubt, 0);
	assert_true(st.results_written);
}

/* A signal while a send waits for its retry after a 503 (which certainly
 * did not act): the code is not in doubt, its state goes back. */
static void send_signal_cuts_waiting_retry(void **state)
{
	struct fixture *fx = *state;
	static const struct luser us[] = {{"a", LEDGER_VERIF_FAILED}};
	static const enum ledger_verif want[] = {LEDGER_VERIF_FAILED};
	struct import_stats st;
	struct err e;

	concurrency(1);
	make_ledger(fx->path, us, 1);
	script("a", 2, A503, A202);
	F.stop_after_sends = 1;
	assert_int_equal(send_run(&st, &e), IMPORT_INTERRUPTED);
	assert_int_equal(sends_to("a"), 1);
	assert_states(fx->path, want, 1);
	load_results(SEND_HEADER);
	assert_send_row("a", "", "503", "1", "not sent (run stopped)");
	assert_int_equal(st.codes_in_doubt, 0);
	assert_int_equal(st.codes_failed, 0);
}

/* A second signal abandons the send on the wire: in doubt. */
static void send_abandon_in_flight_in_doubt(void **state)
{
	static const struct answer slow202 = {TRANSPORT_OK, 202, "{}", 5000};
	struct fixture *fx = *state;
	static const struct luser us[] = {{"a", LEDGER_VERIF_NONE}, {"b", LEDGER_VERIF_NONE}};
	static const enum ledger_verif want[] = {LEDGER_VERIF_IN_DOUBT, LEDGER_VERIF_NONE};
	struct import_stats st;
	struct err e;

	concurrency(1);
	make_ledger(fx->path, us, 2);
	script("a", 1, slow202); /* still on the wire when abandoned */
	F.stop_after_sends = 1;
	F.abandon_too = true;
	assert_int_equal(send_run(&st, &e), IMPORT_INTERRUPTED);
	assert_states(fx->path, want, 2);
	load_results(SEND_HEADER);
	assert_send_row("a", "in_doubt", "", "", "interrupted while in flight");
	assert_send_row("b", "", "", "", "not sent (run stopped)");
	assert_int_equal(st.codes_in_doubt, 1);
}

/* 401 on the first request: nothing is sent, nothing changes. */
static void send_probe_refused(void **state)
{
	struct fixture *fx = *state;
	static const struct luser us[] = {{"a", LEDGER_VERIF_NONE}, {"b", LEDGER_VERIF_OFF}};
	static const enum ledger_verif want[] = {LEDGER_VERIF_NONE, LEDGER_VERIF_OFF};
	struct import_stats st;
	struct err e;

	make_ledger(fx->path, us, 2);
	F.probe = A401;
	assert_int_equal(send_run(&st, &e), IMPORT_ABORTED);
	assert_int_equal(F.ncalls, 1);
	assert_true(F.calls[0].get);
	assert_int_equal(F.sends, 0);
	assert_states(fx->path, want, 2);
	assert_non_null(strstr(st.abort_reason, "401"));
	load_results(SEND_HEADER);
	assert_send_row("a", "", "", "", "not sent (run stopped)");
	assert_send_row("b", "", "", "", "not sent (run stopped)");
	assert_int_equal(st.codes_sent, 0);
}

/* No ledger: an input error before any request. */
static void send_without_ledger(void **state)
{
	struct import_stats st;
	struct err e;

	(void)state;
	assert_int_equal(send_run(&st, &e), IMPORT_INPUT_ERROR);
	assert_non_null(strstr(e.msg, "no ledger"));
	assert_int_equal(F.ncalls, 0);
}

/* More users than one group (512): each gets exactly one code. */
static void send_many_users_groups(void **state)
{
	struct fixture *fx = *state;
	enum { N = 700 };
	static struct luser us[N];
	static char ids[N][16];
	static enum ledger_verif got[N];
	struct import_stats st;
	struct err e;

	for (size_t i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "user-%zu", i);
		us[i].id = ids[i];
		us[i].v = i % 3 == 0 ? LEDGER_VERIF_OFF : LEDGER_VERIF_NONE;
	}
	make_ledger(fx->path, us, N);
	assert_int_equal(send_run(&st, &e), IMPORT_COMPLETE);
	assert_int_equal(F.sends, N);
	assert_int_equal(F.ncalls, 1 + N);
	states(fx->path, got, N);
	load_results(SEND_HEADER);
	assert_int_equal(NROWS, N);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(got[i], LEDGER_VERIF_SENT);
		assert_int_equal(sends_to(ids[i]), 1);
		assert_send_row(ids[i], "sent", "202", "1", NULL);
	}
	assert_int_equal(st.rows, N);
	assert_int_equal(st.codes_sent, N);
}

/* ---- verify ---------------------------------------------------------------- */

static void write_input(const char *text)
{
	FILE *fp = fopen(INPUT, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static enum import_result verify_run(struct import_stats *st, struct err *e)
{
	err_init(e);
	return codes_verify_run(&O, st, e);
}

static void assert_verify_row(int i, const char *row, const char *user, const char *status,
			      const char *http, const char *error_prefix)
{
	assert_true(i < NROWS);
	assert_string_equal(CELLS[i][0], row);
	assert_string_equal(CELLS[i][2], user);
	assert_string_equal(CELLS[i][3], status);
	assert_string_equal(CELLS[i][4], http);
	if (!error_prefix)
		assert_string_equal(CELLS[i][6], "");
	else if (strncmp(CELLS[i][6], error_prefix, strlen(error_prefix)) != 0)
		fail_msg("row %s: error '%s', want it to start with '%s'", row, CELLS[i][6],
			 error_prefix);
}

/* Valid rows are submitted (200 verified, 400 failed), invalid ones never
 * are; the results keep the input's order whatever order answers come in. */
static void verify_rows_in_input_order(void **state)
{
	static const struct answer slow200 = {TRANSPORT_OK, 200, "{}", 900};
	struct import_stats st;
	struct err e;
	int verifies = 0;

	(void)state;
	write_input("user_id,token\n"
		    "u-good,123456\n"
		    "bad id!,123456\n"
		    "u-notoken,\n"
		    "u-wrong,000000\n"
		    "  u-good2 , 654321 \n"
		    "u-long,12345678901234567890123456789012345678901234567890123456789012345\n");
	script("u-good", 1, slow200); /* answers last */
	script("u-wrong", 1, A400);
	assert_int_equal(verify_run(&st, &e), IMPORT_PARTIAL);

	assert_true(F.calls[0].get);
	for (int i = 1; i < F.ncalls; i++) {
		assert_false(F.calls[i].get);
		verifies++;
	}
	assert_int_equal(verifies, 3);
	for (int i = 1; i < F.ncalls; i++) {
		if (strcmp(F.calls[i].url, BASE "/v2/users/u-good/verify") == 0)
			assert_non_null(strstr(F.calls[i].body, "\"123456\""));
		else if (strcmp(F.calls[i].url, BASE "/v2/users/u-wrong/verify") == 0)
			assert_non_null(strstr(F.calls[i].body, "\"000000\""));
		else if (strcmp(F.calls[i].url, BASE "/v2/users/u-good2/verify") == 0)
			assert_non_null(strstr(F.calls[i].body, "\"654321\"")); /* trimmed */
		else
			fail_msg("unexpected request %s", F.calls[i].url);
	}

	load_results(VERIFY_HEADER);
	assert_int_equal(NROWS, 6);
	assert_verify_row(0, "1", "u-good", "verified", "200", NULL);
	assert_verify_row(1, "2", "bad id!", "invalid", "", "user_id: not a Dots user id");
	assert_verify_row(2, "3", "u-notoken", "invalid", "", "token: expected 1-64");
	assert_verify_row(3, "4", "u-wrong", "failed", "400", "HTTP 400");
	assert_verify_row(4, "5", "u-good2", "verified", "200", NULL);
	assert_verify_row(5, "6", "u-long", "invalid", "", "token: expected 1-64");
	assert_string_equal(CELLS[3][1], "5"); /* the physical line */

	assert_int_equal(st.rows, 6);
	assert_int_equal(st.by_status[ROW_CREATED], 2);
	assert_int_equal(st.by_status[ROW_FAILED], 1);
	assert_int_equal(st.by_status[ROW_INVALID], 3);
	assert_int_equal(st.by_status[ROW_PENDING], 0);
	assert_true(st.results_written);
}

static void verify_all_verified_complete(void **state)
{
	struct import_stats st;
	struct err e;

	(void)state;
	write_input("token,user_id\nabc,u1\ndef,u2\n");
	assert_int_equal(verify_run(&st, &e), IMPORT_COMPLETE);
	assert_int_equal(F.ncalls, 1 + 2);
	load_results(VERIFY_HEADER);
	assert_int_equal(NROWS, 2);
	assert_verify_row(0, "1", "u1", "verified", "200", NULL);
	assert_verify_row(1, "2", "u2", "verified", "200", NULL);
	assert_int_equal(st.by_status[ROW_CREATED], 2);
}

static void verify_missing_column(void **state)
{
	struct import_stats st;
	struct err e;

	(void)state;
	write_input("user_id,code\nu1,abc\n");
	assert_int_equal(verify_run(&st, &e), IMPORT_INPUT_ERROR);
	assert_non_null(strstr(e.msg, "\"token\""));
	assert_int_equal(F.ncalls, 0);
}

/* 401 on the first request: no code submitted, every row pending. */
static void verify_probe_refused(void **state)
{
	struct import_stats st;
	struct err e;

	(void)state;
	write_input("user_id,token\nu1,abc\nu2,def\n");
	F.probe = A401;
	assert_int_equal(verify_run(&st, &e), IMPORT_ABORTED);
	assert_int_equal(F.ncalls, 1);
	load_results(VERIFY_HEADER);
	assert_int_equal(NROWS, 2);
	assert_verify_row(0, "1", "u1", "pending", "", NULL);
	assert_verify_row(1, "2", "u2", "pending", "", NULL);
	assert_int_equal(st.by_status[ROW_PENDING], 2);
}

/* More rows than one group: every one submitted once, lines in order. */
static void verify_many_rows_groups(void **state)
{
	enum { N = 1100 };
	static char text[N * 32 + 32];
	size_t at;
	struct import_stats st;
	struct err e;
	char want[32];

	(void)state;
	at = (size_t)snprintf(text, sizeof(text), "user_id,token\n");
	for (int i = 0; i < N; i++)
		at += (size_t)snprintf(text + at, sizeof(text) - at, "u%d,t%d\n", i, i);
	write_input(text);
	concurrency(16);
	script("u700", 1, A400);
	assert_int_equal(verify_run(&st, &e), IMPORT_PARTIAL);
	assert_int_equal(F.ncalls, 1 + N);
	load_results(VERIFY_HEADER);
	assert_int_equal(NROWS, N);
	for (int i = 0; i < N; i++) {
		char row[16];

		snprintf(row, sizeof(row), "%d", i + 1);
		snprintf(want, sizeof(want), "u%d", i);
		assert_verify_row(i, row, want, i == 700 ? "failed" : "verified",
				  i == 700 ? "400" : "200", i == 700 ? "HTTP 400" : NULL);
	}
	assert_int_equal(st.by_status[ROW_CREATED], N - 1);
	assert_int_equal(st.by_status[ROW_FAILED], 1);
}

/* What the run report is given: every results line with an error (row,
 * line, status, error) and the running figures, the last with every row. */
static struct {
	int rows, progress;
	size_t row[8], line[8], last_done, last_requests;
	char status[8][16], error[8][64];
} REC;

static void rec_row(void *ctx, const struct import_row *r)
{
	(void)ctx;
	assert_true(REC.rows < 8);
	REC.row[REC.rows] = r->row;
	REC.line[REC.rows] = r->line;
	snprintf(REC.status[REC.rows], sizeof(REC.status[0]), "%s", r->status);
	snprintf(REC.error[REC.rows], sizeof(REC.error[0]), "%s", r->error);
	REC.rows++;
}

static void rec_progress(void *ctx, const struct import_stats *st)
{
	(void)ctx;
	REC.progress++;
	REC.last_done = st->done;
	REC.last_requests = st->requests;
}

static void verify_reports_rows_and_progress(void **state)
{
	struct import_stats st;
	struct err e;

	(void)state;
	memset(&REC, 0, sizeof(REC));
	write_input("user_id,token\n"
		    "u-good,123456\n"
		    "bad id!,123456\n"
		    "\n"
		    "u-wrong,000000\n");
	script("u-wrong", 1, A400);
	O.row_error = rec_row;
	O.progress = rec_progress;
	assert_int_equal(verify_run(&st, &e), IMPORT_PARTIAL);
	assert_int_equal(REC.rows, 2);
	assert_int_equal(REC.row[0], 2);
	assert_int_equal(REC.line[0], 3);
	assert_string_equal(REC.status[0], "invalid");
	assert_string_equal(REC.error[0], "user_id: not a Dots user id");
	assert_int_equal(REC.row[1], 3);
	assert_int_equal(REC.line[1], 5); /* the blank line counts */
	assert_string_equal(REC.status[1], "failed");
	assert_true(strncmp(REC.error[1], "HTTP 400", 8) == 0);
	assert_true(REC.progress >= 1);
	assert_int_equal(REC.last_done, 3);
	assert_int_equal(REC.last_requests, st.requests);
	assert_int_equal(st.done, st.rows);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(send_only_to_sendable_states),
		T(send_all_accepted_complete),
		T(send_refused_credentials_aborts),
		T(send_earlier_doubt_counted),
		T(send_only_earlier_doubt_partial),
		T(send_settle_in_doubt),
		T(send_resend_in_doubt),
		T(send_intent_durable_first),
		T(send_signal_takes_intents_back),
		T(send_signal_cuts_waiting_retry),
		T(send_abandon_in_flight_in_doubt),
		T(send_probe_refused),
		T(send_without_ledger),
		T(send_many_users_groups),
		T(verify_rows_in_input_order),
		T(verify_all_verified_complete),
		T(verify_missing_column),
		T(verify_probe_refused),
		T(verify_many_rows_groups),
		T(verify_reports_rows_and_progress),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
