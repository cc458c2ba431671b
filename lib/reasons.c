/*
 * reasons.c - grouping of row errors into reasons, and the masking of the
 * examples' emails and phones (reasons.h). No I/O; bounded by the struct.
 */
#include "reasons.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

void reasons_init(struct reasons *rs)
{
	memset(rs, 0, sizeof(*rs));
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Appends bytes to out while room is left (out stays terminated). */
struct sink {
	char *out;
	size_t cap, n;
};

static void put(struct sink *k, const char *s, size_t len)
{
	while (len-- && k->n + 1 < k->cap)
		k->out[k->n++] = *s++;
	k->out[k->n] = '\0';
}

/* "row 12: " / "line 7: " at the start: its length, else 0. */
static size_t prefix_len(const char *m)
{
	static const char *const words[] = {"row ", "line "};

	for (size_t w = 0; w < 2; w++) {
		size_t l = strlen(words[w]), i = l;

		if (strncmp(m, words[w], l) != 0 || !is_digit(m[i]))
			continue;
		while (is_digit(m[i]))
			i++;
		if (m[i] == ':' && m[i + 1] == ' ')
			return i + 2;
	}
	return 0;
}

void reasons_class(const char *msg, char *out, size_t cap)
{
	struct sink k = {out, cap, 0};
	const char *p, *start;

	if (!cap)
		return;
	out[0] = '\0';
	if (!msg)
		return;
	p = msg;
	for (size_t l; (l = prefix_len(p)) > 0;)
		p += l;
	start = p;
	while (*p && k.n + 1 < cap) {
		char c = *p;
		bool word_start = p == start || is_space(p[-1]) || p[-1] == '(';

		if (c == '"' || (c == '\'' && (p == start || !is_alpha(p[-1])))) {
			const char *q = strchr(p + 1, c);
			size_t len = q ? (size_t)(q - p - 1) : strlen(p + 1);

			if (len <= 1 && q) {
				put(&k, p, len + 2);
			} else {
				put(&k, &c, 1);
				put(&k, "...", 3);
				if (q)
					put(&k, &c, 1);
			}
			p = q ? q + 1 : p + 1 + len;
			continue;
		}
		if (word_start) {
			size_t len = 0, at = 0;

			while (p[len] && !is_space(p[len]))
				len++;
			for (size_t i = 1; i + 1 < len && !at; i++)
				if (p[i] == '@')
					at = i;
			if (at) {
				put(&k, "...@...", 7);
				p += len;
				continue;
			}
		}
		if (is_digit(c)) {
			size_t len = 0;
			bool keep = (p > start && (is_alpha(p[-1]) ||
						  (p[-1] == '-' && p - 1 > start && is_alpha(p[-2])))) ||
				    (p - start >= 5 && strncmp(p - 5, "HTTP ", 5) == 0);

			while (is_digit(p[len]))
				len++;
			if (keep)
				put(&k, p, len);
			else
				put(&k, "N", 1);
			p += len;
			continue;
		}
		put(&k, p, 1);
		p++;
	}
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void reasons_add(struct reasons *rs, const char *msg, const struct reason_row *row)
{
	char text[REASONS_TEXT_MAX + 1];
	struct reason *r = NULL;

	if (!msg || !*msg)
		return;
	rs->total++;
	reasons_class(msg, text, sizeof(text));
	for (size_t i = 0; i < rs->n && !r; i++)
		if (strcmp(rs->r[i].text, text) == 0)
			r = &rs->r[i];
	if (!r) {
		if (rs->n == REASONS_MAX) {
			rs->other++;
			return;
		}
		r = &rs->r[rs->n];
		memset(r, 0, sizeof(*r));
		memcpy(r->text, text, sizeof(text));
		r->seq = rs->n++;
	}
	r->count++;
	if (row && r->nrows < REASONS_EXAMPLES) {
		struct reason_row *e = &r->rows[r->nrows++];

		e->row = row->row;
		e->line = row->line;
		copy(e->status, sizeof(e->status), row->status);
		copy(e->email, sizeof(e->email), row->email);
		copy(e->phone, sizeof(e->phone), row->phone);
	}
}

static int by_count(const void *a, const void *b)
{
	const struct reason *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void reasons_sort(struct reasons *rs)
{
	qsort(rs->r, rs->n, sizeof(rs->r[0]), by_count);
}

void reasons_mask_email(const char *in, char *out, size_t cap)
{
	struct sink k = {out, cap, 0};
	const char *at, *dot;

	if (!cap)
		return;
	out[0] = '\0';
	if (!in || !*in)
		return;
	put(&k, in, 1);
	put(&k, "***", 3);
	at = strchr(in, '@');
	if (!at)
		return;
	put(&k, "@", 1);
	if (at[1])
		put(&k, at + 1, 1);
	put(&k, "***", 3);
	dot = strrchr(at + 1, '.');
	if (dot && dot > at + 1 && strlen(dot) <= 8)
		put(&k, dot, strlen(dot));
}

void reasons_mask_phone(const char *in, char *out, size_t cap)
{
	struct sink k = {out, cap, 0};
	size_t digits = 0, seen = 0;

	if (!cap)
		return;
	out[0] = '\0';
	if (!in)
		return;
	for (const char *p = in; *p; p++)
		digits += is_digit(*p);
	for (const char *p = in; *p; p++) {
		if (!is_digit(*p)) {
			put(&k, p, 1);
			continue;
		}
		seen++;
		put(&k, digits > 4 && (seen <= 2 || seen > digits - 2) ? p : "*", 1);
	}
}
