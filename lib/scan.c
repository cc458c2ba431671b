/*
 * scan.c - pass 1 and the row view of pass 2 over the reader: validation,
 * --shard, duplicates. It must never hand over a row that pass 1 did not
 * validate (the reader is sealed between the passes).
 */
#include "scan.h"

#include <stdio.h>
#include <string.h>

#include "hash.h"
#include "status.h"

#include "banned.h"

unsigned scan_shard_of(const char *country_code, const char *phone_number, unsigned n)
{
	uint64_t h = hash_fnv1a64(HASH_FNV1A64_INIT, country_code, strlen(country_code));

	h = hash_fnv1a64(h, ":", 1);
	h = hash_fnv1a64(h, phone_number, strlen(phone_number));
	return n ? (unsigned)(h % n) : 0;
}

uint64_t scan_external_key(const char *external_id)
{
	uint64_t h = hash_fnv1a64(HASH_FNV1A64_INIT, external_id, strlen(external_id));

	return h ? h : 1;
}

/* Is this row ours under --shard? Rows without a valid phone go by row number. */
static bool in_shard(const struct scan *s, size_t row, const struct user *u)
{
	if (!s->shard_n)
		return true;
	if (u)
		return scan_shard_of(u->country_code, u->phone_number, s->shard_n) == s->shard_k;
	return row % s->shard_n == s->shard_k;
}

/* Validates a row. Returns 0 (u filled) or -1 with the reason in e. */
static int row_validate(const struct scan *s, const struct reader_row *row, struct user *u,
			struct err *e)
{
	struct user_input in;

	if (row->problem)
		return err_set(e, "line %zu: %s", row->line, row->problem);
	reader_user_input(row, s->col, &in);
	return user_normalise(u, &in, &s->rules, e);
}

/* Copies a raw cell for the results file: bounded, NULs cut. */
static void copy_cell(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;
	size_t nul = strnlen(src, n);

	memcpy(dst, src, nul);
	dst[nul] = '\0';
}

static int pass1(struct scan *s, struct err *err)
{
	struct reader_row row;
	struct user u;
	struct err e;
	int rc;

	while ((rc = reader_next(s->rd, &row, err)) == 1) {
		if (row_validate(s, &row, &u, &e) < 0) {
			if (in_shard(s, row.row, NULL)) {
				s->invalid++;
				s->total++;
			}
			continue;
		}
		if (!in_shard(s, row.row, &u))
			continue;
		s->total++;
		if (dupset_add(&s->dups, user_phone_key(&u), err) < 0 ||
		    (u.external_id[0] &&
		     dupset_add(&s->ext_dups, scan_external_key(u.external_id), err) < 0))
			return -1;
	}
	if (rc < 0)
		return -1;
	return dupset_seal(&s->dups, err) < 0 ? -1 : dupset_seal(&s->ext_dups, err);
}

int scan_open(struct scan *s, const struct scan_opts *o, struct err *err)
{
	memset(s, 0, sizeof(*s));
	s->rules.default_country_code = o->default_country_code;
	s->shard_k = o->shard_k;
	s->shard_n = o->shard_n;
	struct reader_opts ro = {o->delimiter, o->encoding};

	if (reader_open_opts(&s->rd, o->path, &ro, err) < 0 ||
	    reader_map_columns(s->rd, o->columns, s->col, err) < 0 || pass1(s, err) < 0)
		return -1;
	/* pass 2 reads exactly the bytes validated, or stops */
	return reader_seal(s->rd, err);
}

int scan_next(struct scan *s, struct scan_row *out, struct err *err)
{
	struct reader_row row;
	struct err e;
	size_t first = 0;
	bool valid;
	int rc = reader_next(s->rd, &row, err);

	if (rc <= 0)
		return rc;
	memset(out, 0, offsetof(struct scan_row, user));
	out->row = row.row;
	out->line = row.line;
	valid = row_validate(s, &row, &out->user, &e) == 0;
	out->ours = in_shard(s, row.row, valid ? &out->user : NULL);
	if (!out->ours)
		return 1;
	if (!valid) {
		struct user_input in;

		reader_user_input(&row, s->col, &in);
		out->email[0] = out->country_code[0] = out->phone_number[0] = '\0';
		if (in.field[USER_EMAIL])
			copy_cell(out->email, sizeof(out->email), in.field[USER_EMAIL],
				  in.len[USER_EMAIL]);
		if (in.field[USER_COUNTRY_CODE])
			copy_cell(out->country_code, sizeof(out->country_code),
				  in.field[USER_COUNTRY_CODE], in.len[USER_COUNTRY_CODE]);
		if (in.field[USER_PHONE_NUMBER])
			copy_cell(out->phone_number, sizeof(out->phone_number),
				  in.field[USER_PHONE_NUMBER], in.len[USER_PHONE_NUMBER]);
		else if (in.field[USER_PHONE])
			copy_cell(out->phone_number, sizeof(out->phone_number),
				  in.field[USER_PHONE], in.len[USER_PHONE]);
		snprintf(out->error, sizeof(out->error), "%s", e.msg);
		out->key = 0;
		out->status = ROW_INVALID;
		return 1;
	}
	out->key = 0;
	memcpy(out->email, out->user.email, sizeof(out->email));
	memcpy(out->country_code, out->user.country_code, sizeof(out->user.country_code));
	memcpy(out->phone_number, out->user.phone_number, sizeof(out->user.phone_number));
	out->key = user_phone_key(&out->user);
	out->status = ROW_VALID;
	rc = dupset_check(&s->dups, out->key, out->row, &first, err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		snprintf(out->error, sizeof(out->error),
			 "duplicate of row %zu (same country_code and phone_number)", first);
		out->status = ROW_DUPLICATE;
	}
	/* every valid row with an external id, as pass 1 noted them: one
	 * person with two phones in one file is one row too many */
	if (out->user.external_id[0]) {
		rc = dupset_check(&s->ext_dups, scan_external_key(out->user.external_id), out->row,
				  &first, err);
		if (rc < 0)
			return -1;
		if (rc == 1 && out->status == ROW_VALID) {
			snprintf(out->error, sizeof(out->error),
				 "duplicate of row %zu (same external_id, another phone)", first);
			out->status = ROW_DUPLICATE;
		}
	}
	return 1;
}

bool scan_changed(const struct scan *s)
{
	return s->rd && reader_changed(s->rd);
}

long long scan_appended(const struct scan *s)
{
	return s->rd ? reader_appended(s->rd) : 0;
}

void scan_release(struct scan *s)
{
	dupset_release(&s->dups);
	dupset_release(&s->ext_dups);
	reader_free(s->rd);
	s->rd = NULL;
}
