/*
 * restore.c - restore-ledger: a new ledger rebuilt from earlier results
 * files (read with the reader module), the ledger itself serving as the
 * merge table: one lookup per row, the most protective state kept.
 */
#include "restore.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "phone.h"
#include "reader.h"
#include "results.h"
#include "user.h"

#include "banned.h"

#define COMMIT_EVERY 10000 /* rows per transaction: bounds the WAL */

enum col { C_STATUS, C_USER_ID, C_VERIF, C_CC, C_PHONE, C_COUNT };

static const char *const col_names[C_COUNT] = {
	"status", "user_id", "verification", "country_code", "phone_number"};

static const struct {
	const char *name;
	enum ledger_verif v;
} verif_names[] = {
	{"", LEDGER_VERIF_NONE},         {"sent", LEDGER_VERIF_SENT},
	{"in_doubt", LEDGER_VERIF_IN_DOUBT}, {"failed", LEDGER_VERIF_FAILED},
	{"verified", LEDGER_VERIF_VERIFIED}, {"off", LEDGER_VERIF_OFF},
};

/* How well a state protects the customer from a second code. */
static int protection(enum ledger_verif v)
{
	switch (v) {
	case LEDGER_VERIF_VERIFIED:
		return 5;
	case LEDGER_VERIF_SENT:
		return 4;
	case LEDGER_VERIF_IN_DOUBT:
	case LEDGER_VERIF_INTENT:
		return 3;
	case LEDGER_VERIF_FAILED:
		return 2;
	case LEDGER_VERIF_OFF:
		return 1;
	case LEDGER_VERIF_NONE:
		break;
	}
	return 0;
}

static int map_columns(const struct reader *r, const char *path, int col[C_COUNT],
		       struct err *err)
{
	for (int c = 0; c < C_COUNT; c++) {
		col[c] = reader_find_column(r, col_names[c]);
		if (col[c] < 0)
			return err_set(err,
				       "'%s': missing column \"%s\" (not a dots-import results file?)",
				       path, col_names[c]);
	}
	return 0;
}

/* A cell without the "'" the results writer put before = + - @ tab CR. */
struct cell {
	const char *p;
	size_t n;
};

static struct cell get_cell(const struct reader_row *row, int c)
{
	struct cell x = {"", 0};

	if ((size_t)c < row->nfields) {
		x.p = row->field[c];
		x.n = row->len[c];
	}
	if (x.n >= 2 && x.p[0] == '\'' && results_needs_guard(x.p + 1, x.n - 1)) {
		x.p++;
		x.n--;
	}
	return x;
}

static bool cell_is(struct cell c, const char *s)
{
	return strlen(s) == c.n && memcmp(c.p, s, c.n) == 0;
}

/* A cell as a C string in buf; fails when it is too long or holds a NUL. */
static int cell_str(struct cell c, char *buf, size_t cap, const char *what,
		    struct err *err)
{
	if (c.n >= cap)
		return err_set(err, "%s longer than %zu bytes", what, cap - 1);
	if (memchr(c.p, '\0', c.n))
		return err_set(err, "%s holds a NUL byte", what);
	memcpy(buf, c.p, c.n);
	buf[c.n] = '\0';
	return 0;
}

struct run {
	struct ledger *led;
	struct restore_stats *st;
	size_t uncommitted;
};

/* One row to restore: merged into the ledger. Errors without file/line. */
static int restore_row(struct run *r, const struct reader_row *row, const int col[C_COUNT],
		       struct err *err)
{
	struct cell verif = get_cell(row, col[C_VERIF]);
	char id[65], cc[32], pn[32];
	struct user u;
	struct ledger_user old;
	enum ledger_verif v = LEDGER_VERIF_NONE;
	size_t i;
	uint64_t key;
	int rc;

	for (i = 0; i < sizeof(verif_names) / sizeof(verif_names[0]); i++)
		if (cell_is(verif, verif_names[i].name))
			break;
	if (i == sizeof(verif_names) / sizeof(verif_names[0]))
		return err_set(err, "unknown verification \"%.*s\"",
			       verif.n > 32 ? 32 : (int)verif.n, verif.p);
	v = verif_names[i].v;
	memset(&u, 0, sizeof(u));
	if (cell_str(get_cell(row, col[C_USER_ID]), id, sizeof(id), "user_id", err) < 0 ||
	    cell_str(get_cell(row, col[C_CC]), cc, sizeof(cc), "country_code", err) < 0 ||
	    cell_str(get_cell(row, col[C_PHONE]), pn, sizeof(pn), "phone_number", err) < 0 ||
	    phone_check(cc, pn, u.country_code, u.phone_number, err) < 0)
		return -1;
	key = user_phone_key(&u);
	rc = ledger_find(r->led, key, &old, err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		if (ledger_put(r->led, key, u.country_code, u.phone_number, id, v, err) < 0)
			return -1;
	} else {
		if (strcmp(old.id, id) != 0)
			r->st->conflicts++;
		if (protection(v) > protection(old.verif) &&
		    ledger_set_verif(r->led, key, v, err) < 0)
			return -1;
	}
	if (++r->uncommitted >= COMMIT_EVERY) {
		r->uncommitted = 0;
		if (ledger_commit(r->led, err) < 0 || ledger_begin(r->led, err) < 0)
			return -1;
	}
	return 0;
}

/* Reads one results file into the ledger. */
static int restore_file(struct run *r, const char *path, struct err *err)
{
	struct reader *rd = NULL;
	struct reader_row row;
	int col[C_COUNT];
	int rc;

	if (reader_open(&rd, path, err) < 0)
		return -1;
	if (map_columns(rd, path, col, err) < 0) {
		reader_free(rd);
		return -1;
	}
	r->st->files++;
	while ((rc = reader_next(rd, &row, err)) == 1) {
		struct cell status = get_cell(&row, col[C_STATUS]);

		r->st->rows++;
		if (row.problem) {
			err_set(err, "'%s' line %zu: %s", path, row.line, row.problem);
			rc = -1;
			break;
		}
		if ((!cell_is(status, "created") && !cell_is(status, "exists")) ||
		    get_cell(&row, col[C_USER_ID]).n == 0) {
			r->st->skipped++;
			continue;
		}
		if (restore_row(r, &row, col, err) < 0) {
			err_prefix(err, "'%s' line %zu", path, row.line);
			rc = -1;
			break;
		}
	}
	reader_free(rd);
	return rc < 0 ? -1 : 0;
}

/* Every file's header, before anything is restored. */
static int check_headers(const struct restore_opts *o, struct err *err)
{
	for (size_t i = 0; i < o->nresults; i++) {
		struct reader *rd = NULL;
		int col[C_COUNT];
		int rc;

		if (reader_open(&rd, o->results_paths[i], err) < 0)
			return -1;
		rc = map_columns(rd, o->results_paths[i], col, err);
		reader_free(rd);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int count_states(struct run *r, struct err *err)
{
	if (ledger_count(r->led, (1u << (LEDGER_VERIF_MAX + 1)) - 1, &r->st->users, err) < 0)
		return -1;
	for (int v = 0; v <= LEDGER_VERIF_MAX; v++)
		if (ledger_count(r->led, 1u << v, &r->st->by_state[v], err) < 0)
			return -1;
	return 0;
}

int restore_ledger(const struct restore_opts *o, struct restore_stats *st,
		   struct err *err)
{
	struct run r = {NULL, st, 0};

	memset(st, 0, sizeof(*st));
	if (!o->ledger_path || !*o->ledger_path)
		return err_set(err, "restore-ledger: no ledger path given");
	if (!o->nresults || !o->results_paths)
		return err_set(err, "restore-ledger: no results file given");
	if (check_headers(o, err) < 0 ||
	    ledger_create(&r.led, o->ledger_path, o->base_url ? o->base_url : "",
			  o->client_id, err) < 0)
		return -1;
	if (ledger_begin(r.led, err) < 0)
		goto fail;
	for (size_t i = 0; i < o->nresults; i++)
		if (restore_file(&r, o->results_paths[i], err) < 0)
			goto fail;
	if (ledger_commit(r.led, err) < 0 || count_states(&r, err) < 0)
		goto fail;
	ledger_close(r.led);
	return 0;
fail:
	ledger_discard(r.led);
	return -1;
}
