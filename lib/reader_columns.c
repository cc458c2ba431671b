/*
 * reader_columns.c - the header line: which delimiter it uses, which column
 * holds each user field, and the closest header name when one is missing.
 * Works on header cells already read: it must not read the file or parse
 * CSV (reader.c does), and needs no libcsv.
 */
#include "reader_int.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "banned.h"

#define HEADER_SHOW_MAX 120 /* bytes of the header quoted in a message */

unsigned char reader_detect_delim(const unsigned char *p, size_t n)
{
	static const unsigned char cand[] = {',', ';', '\t', '|'};
	size_t count[sizeof(cand)] = {0}, i = 0, k, best = 0;
	bool quoted = false;

	while (i < n && (p[i] == '\r' || p[i] == '\n'))
		i++;
	for (; i < n; i++) {
		if (p[i] == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted)
			continue;
		if (p[i] == '\n' || p[i] == '\r')
			break;
		for (k = 0; k < sizeof(cand); k++)
			if (p[i] == cand[k])
				count[k]++;
	}
	for (k = 1; k < sizeof(cand); k++)
		if (count[k] > count[best])
			best = k;
	return cand[best];
}

/* Header comparison: ASCII case-insensitive, blanks around ignored. */
static bool header_matches(const char *cell, const char *name)
{
	size_t n;

	while (*cell == ' ' || *cell == '\t')
		cell++;
	n = strlen(cell);
	while (n && (cell[n - 1] == ' ' || cell[n - 1] == '\t'))
		n--;
	return strlen(name) == n && strncasecmp(cell, name, n) == 0;
}

void reader_user_input(const struct reader_row *row, const int col[USER_FIELD_COUNT],
		       struct user_input *in)
{
	for (int f = 0; f < USER_FIELD_COUNT; f++) {
		int c = col[f];

		in->field[f] = c < 0 ? NULL : (size_t)c < row->nfields ? row->field[c] : "";
		in->len[f] = c >= 0 && (size_t)c < row->nfields ? row->len[c] : 0;
	}
}

int reader_columns_find(const struct reader_header *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (header_matches(h->cell[i], name))
			return (int)i;
	return -1;
}

/* ASCII case-insensitive edit distance (Levenshtein) of a and b, both cut
 * to 64 bytes; blanks around a are ignored. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la, lb, i, j, row[65];

	while (*a == ' ' || *a == '\t')
		a++;
	la = strlen(a);
	while (la && (a[la - 1] == ' ' || a[la - 1] == '\t'))
		la--;
	lb = strlen(b);
	la = la > 64 ? 64 : la;
	lb = lb > 64 ? 64 : lb;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) ==
					      tolower((unsigned char)b[j - 1])
					  ? 0
					  : 1;
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Appends s[0..n) to out (cap bytes incl. NUL) as printable text. */
static size_t show_append(char *out, size_t o, size_t cap, const char *s, size_t n)
{
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t' && o + 2 < cap) {
			out[o++] = '\\';
			out[o++] = 't';
		} else {
			out[o++] = c < 0x20 || c == 0x7F || c == '"' ? '?' : (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

/* "missing required column "x" (header: "a;b;c"; closest: "X")". */
static int missing_column(const struct reader_header *h, const char *name, const char *also,
			  struct err *err)
{
	char header[HEADER_SHOW_MAX + 8], closest[72] = "";
	char delim = h->delim;
	size_t o = 0, best = SIZE_MAX, bi = 0;

	header[0] = '\0';
	for (size_t i = 0; i < h->n && o < HEADER_SHOW_MAX; i++) {
		size_t d = edit_distance(h->cell[i], name);

		if (i > 0)
			o = show_append(header, o, HEADER_SHOW_MAX, &delim, 1);
		o = show_append(header, o, HEADER_SHOW_MAX, h->cell[i],
				strlen(h->cell[i]));
		if (d < best) {
			best = d;
			bi = i;
		}
	}
	if (o >= HEADER_SHOW_MAX - 1)
		memcpy(header + o, "...", 4);
	if (h->n && best > 0 && best <= (strlen(name) + 1) / 2) {
		const char *c = h->cell[bi];
		size_t n;

		while (*c == ' ' || *c == '\t')
			c++;
		n = strlen(c);
		while (n && (c[n - 1] == ' ' || c[n - 1] == '\t'))
			n--;
		show_append(closest, 0, 64, c, n);
	}
	return err_set(err, "%s: missing required column \"%s\"%s (header: \"%s\"%s%s%s)%s",
		       h->file, name, also, header, closest[0] ? "; closest: \"" : "",
		       closest, closest[0] ? "\"" : "",
		       h->not_utf8
			       ? "; the file is not UTF-8: use --encoding (e.g. windows-1252)"
			       : "");
}

int reader_columns_map(const struct reader_header *h,
		       const char *const names[USER_FIELD_COUNT],
		       int col[USER_FIELD_COUNT], struct err *err)
{
	bool split, claimed[READER_MAX_FIELDS] = {false};
	bool phone_only = names && names[USER_PHONE] && !names[USER_COUNTRY_CODE] &&
			  !names[USER_PHONE_NUMBER];
	char also[96];

	/* An explicit columns: mapping wins: the headers it names are not
	 * taken by another field's built-in name ("phone: phone_number"). */
	for (int pass = 0; pass < 2; pass++) {
		for (int f = 0; f < USER_FIELD_COUNT; f++) {
			bool explicit_name = names && names[f];
			const char *name = explicit_name ? names[f] : user_field_names[f];

			if (explicit_name != (pass == 0))
				continue;
			col[f] = -1;
			/* an explicit single "phone" column replaces the pair */
			if (!explicit_name && phone_only &&
			    (f == USER_COUNTRY_CODE || f == USER_PHONE_NUMBER))
				continue;
			for (size_t i = 0; i < h->n; i++) {
				if (!header_matches(h->cell[i], name) ||
				    (!explicit_name && i < READER_MAX_FIELDS && claimed[i]))
					continue;
				if (col[f] >= 0)
					return err_set(err,
						       "%s: column \"%s\" appears twice in the header",
						       h->file, name);
				col[f] = (int)i;
			}
			if (explicit_name && col[f] >= 0 && col[f] < READER_MAX_FIELDS)
				claimed[col[f]] = true;
		}
	}
	split = col[USER_COUNTRY_CODE] >= 0 || col[USER_PHONE_NUMBER] >= 0;
	static const enum user_field required[] = {USER_EMAIL, USER_FIRST_NAME,
						   USER_LAST_NAME};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		enum user_field f = required[i];
		if (col[f] < 0)
			return missing_column(h,
					      names && names[f] ? names[f]
								: user_field_names[f],
					      "", err);
	}
	if (!split && col[USER_PHONE] < 0) {
		snprintf(also, sizeof(also), " (or a single \"%.64s\" column)",
			 names && names[USER_PHONE] ? names[USER_PHONE] : "phone");
		return missing_column(h,
				      names && names[USER_PHONE_NUMBER]
					      ? names[USER_PHONE_NUMBER]
					      : "phone_number",
				      also, err);
	}
	if (split && col[USER_COUNTRY_CODE] < 0)
		return missing_column(h,
				      names && names[USER_COUNTRY_CODE]
					      ? names[USER_COUNTRY_CODE]
					      : "country_code",
				      "", err);
	if (split && col[USER_PHONE_NUMBER] < 0)
		return missing_column(h,
				      names && names[USER_PHONE_NUMBER]
					      ? names[USER_PHONE_NUMBER]
					      : "phone_number",
				      "", err);
	return 0;
}
