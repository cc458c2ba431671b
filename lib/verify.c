/*
 * verify.c - the verify command: tokens from a CSV (columns user_id,token)
 * submitted in groups on the engine codes.c sets up, one results line per
 * input row in input order. A malformed row is never sent; nothing here
 * touches the ledger.
 */
#include "codes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "codes_int.h"
#include "num.h"
#include "payload.h"
#include "reader.h"
#include "results.h"

#include "banned.h"

static const char *const verify_header[] = {"row", "line", "user_id", "status",
					    "http_status", "attempts", "error"};

/*
 * The token to send, into out: a code typed in groups ("12 34 56",
 * "123-456") loses its blanks and dashes; anything else is taken as it
 * is. Returns its length, or 0 when it is not 1-64 visible characters.
 */
static size_t token_clean(const char *t, size_t n, char out[65])
{
	bool grouped = true;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		grouped = grouped && ((t[i] >= '0' && t[i] <= '9') || t[i] == ' ' ||
				      t[i] == '\t' || t[i] == '-');
	for (size_t i = 0; i < n; i++) {
		if (grouped && (t[i] < '0' || t[i] > '9'))
			continue;
		if (t[i] <= ' ' || t[i] > '~' || k == 64)
			return 0;
		out[k++] = t[i];
	}
	out[k] = '\0';
	return k;
}

static bool user_id_ok(const char *s, size_t n)
{
	if (n == 0 || n > PAYLOAD_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

/* A cell trimmed of blanks, bounded. */
static void trimmed(const struct reader_row *r, int col, const char **s, size_t *n)
{
	*s = (size_t)col < r->nfields ? r->field[col] : "";
	*n = (size_t)col < r->nfields ? r->len[col] : 0;
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
		(*n)--;
}

/* Reads up to GROUP_SIZE rows into the group. Returns the count, -1 on error. */
static long read_tokens(struct codes *c, struct reader *rd, int c_user, int c_token,
			struct err *err)
{
	struct reader_row r;
	long n = 0;
	int rc = 0;

	while (n < GROUP_SIZE && (rc = reader_next(rd, &r, err)) == 1) {
		struct cjob *t = &c->jobs[n];
		const char *uid, *tok;
		size_t ul, tl;
		char token[65];

		free(t->body);
		memset(t, 0, sizeof(*t));
		t->row = r.row;
		t->line = r.line;
		trimmed(&r, c_user, &uid, &ul);
		trimmed(&r, c_token, &tok, &tl);
		t->skip = true;
		if (r.problem) {
			snprintf(t->error, sizeof(t->error), "line %zu: %s", r.line, r.problem);
		} else if (!user_id_ok(uid, ul)) {
			snprintf(t->error, sizeof(t->error), "user_id: not a Dots user id");
		} else if (!token_clean(tok, tl, token)) {
			snprintf(t->error, sizeof(t->error), "token: expected 1-64 visible characters");
		} else {
			t->skip = false;
			memcpy(t->user_id, uid, ul);
			t->user_id[ul] = '\0';
			t->body = payload_verify(token, &t->job.body_len, err);
			if (!t->body)
				return -1;
			t->job.body = t->body;
			t->job.kind = REQUEST_VERIFY;
			snprintf(t->url, sizeof(t->url), "%s/v2/users/%s/verify",
				 c->o->cfg->base_url, t->user_id);
			t->job.url = t->url;
		}
		if (t->skip) {
			size_t k = ul < PAYLOAD_ID_MAX ? ul : PAYLOAD_ID_MAX;

			memcpy(t->user_id, uid, strnlen(uid, k));
			t->user_id[strnlen(uid, k)] = '\0';
		}
		n++;
	}
	return rc < 0 && n == 0 ? -1 : n;
}

static int verify_turn(void *ctx, int64_t now, struct err *err)
{
	(void)now;
	(void)err;
	codes_progress(ctx, false);
	return 0;
}

static int verify_done(void *ctx, struct engine_job *ej, const struct engine_end *end,
		       struct err *err)
{
	struct cjob *j = (struct cjob *)ej;

	(void)err;
	j->ended = true;
	j->cut = end->cut;
	((struct codes *)ctx)->st->done++;
	j->verdict = end->verdict;
	if (!end->cut && end->verdict != RETRY_DONE)
		engine_describe(ej, end, "", j->error, sizeof(j->error));
	return 0;
}

enum import_result codes_verify_run(const struct import_opts *o, struct import_stats *st,
				    struct err *err)
{
	struct codes c = {.o = o, .st = st, .err = err};
	struct engine_feed f = {.ctx = &c, .done = verify_done, .turn = verify_turn,
				.next = codes_group_next, .idle = codes_group_idle};
	struct reader *rd = NULL;
	enum import_result res = IMPORT_INPUT_ERROR;
	bool all_ok = true;
	int c_user, c_token;
	long n = 0;
	int64_t t0 = o->now_ms ? o->now_ms(o->ctx) : clock_now_ms();

	memset(st, 0, sizeof(*st));
	c.t0 = c.progress_ms = t0;
	if (reader_open(&rd, o->input_path, err) < 0)
		return IMPORT_INPUT_ERROR;
	c_user = reader_find_column(rd, "user_id");
	c_token = reader_find_column(rd, "token");
	if (c_user < 0 || c_token < 0) {
		err_set(err, "'%s': missing required column \"%s\"", o->input_path,
			c_user < 0 ? "user_id" : "token");
		goto done;
	}
	if (results_open(&c.out, o->results_path, verify_header, 7, err) < 0 ||
	    codes_start(&c, err) < 0)
		goto done;
	while (!c.local_failed && (n = read_tokens(&c, rd, c_user, c_token, err)) > 0) {
		c.prepared = (size_t)n;
		if (codes_run_group(&c, &f, (size_t)n, err) < 0)
			codes_fail(&c);
		for (long i = 0; i < n; i++) {
			struct cjob *t = &c.jobs[i];
			char rowb[21], lineb[21], http[21], att[21];
			const char *status;
			const char *cells[7];

			st->rows++;
			if (t->skip) {
				status = "invalid";
				st->by_status[ROW_INVALID]++;
			} else if (t->ended && !t->cut && t->verdict == RETRY_DONE) {
				status = "verified";
				st->by_status[ROW_CREATED]++;
			} else if (t->ended && !t->cut) {
				status = "failed";
				st->by_status[ROW_FAILED]++;
			} else {
				status = "pending";
				st->by_status[ROW_PENDING]++;
			}
			if (strcmp(status, "verified") != 0)
				all_ok = false;
			cells[0] = num_format_u64(t->row, rowb);
			cells[1] = num_format_u64(t->line, lineb);
			cells[2] = t->user_id;
			cells[3] = status;
			cells[4] = t->job.http_status
					   ? num_format_u64((unsigned long long)t->job.http_status, http)
					   : "";
			cells[5] = t->job.attempts ? num_format_u64((unsigned)t->job.attempts, att) : "";
			cells[6] = t->error;
			if (!c.local_failed && results_row(c.out, cells, NULL, 7, err) < 0)
				codes_fail(&c);
			codes_line(&c, t->ended, t->row, t->line, status, t->error, "", "");
		}
		codes_progress(&c, false);
	}
	if (n < 0)
		goto done;
	res = codes_finish(&c, all_ok);
done:
	codes_close(&c);
	reader_free(rd);
	return res;
}
