/*
 * scrub.c - masks the run's credentials (API key, client id, Basic token)
 * and their percent-encoded and JSON-escaped forms in text from outside.
 * Forms are built once; masking is in place, allocation-free, one pass.
 */
#include "scrub.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

static size_t percent_encode(const char *in, size_t n, char *out, bool upper)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (unreserved(c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	return o;
}

static size_t json_escape(const char *in, size_t n, char *out, bool slash)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '"' || in[i] == '\\' || (slash && in[i] == '/'))
			out[o++] = '\\';
		out[o++] = in[i];
	}
	return o;
}

size_t scrub_base64(const unsigned char *in, size_t n, char *out)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	return o;
}

/* Keeps the form just written at s->forms + *used (len bytes) unless it is
 * empty, a duplicate or there is no room for another. */
static void keep(struct scrub *s, size_t *used, size_t len)
{
	const char *f = s->forms + *used;

	if (len == 0 || s->n == SCRUB_MAX_FORMS)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (s->len[i] == len && memcmp(s->forms + s->off[i], f, len) == 0) {
			explicit_bzero(s->forms + *used, len);
			return;
		}
	s->off[s->n] = *used;
	s->len[s->n] = len;
	s->n++;
	*used += len;
}

/* Room for every form of a secret of n bytes. */
static size_t forms_room(size_t n)
{
	return n + 3 * n + 3 * n + 2 * n + 2 * n;
}

static void add_secret(struct scrub *s, size_t *used, const char *secret, size_t n)
{
	if (n == 0)
		return;
	memcpy(s->forms + *used, secret, n);
	keep(s, used, n);
	keep(s, used, percent_encode(secret, n, s->forms + *used, true));
	keep(s, used, percent_encode(secret, n, s->forms + *used, false));
	if (memchr(secret, '"', n) || memchr(secret, '\\', n) || memchr(secret, '/', n)) {
		keep(s, used, json_escape(secret, n, s->forms + *used, true));
		keep(s, used, json_escape(secret, n, s->forms + *used, false));
	}
}

/* '*', or when a form holds it, the first printable byte no form holds. */
static char pick_mask(const struct scrub *s, size_t used)
{
	unsigned char seen[256] = {0};

	for (size_t i = 0; i < used; i++)
		seen[(unsigned char)s->forms[i]] = 1;
	if (!seen['*'])
		return '*';
	for (int c = 0x21; c < 0x7f; c++)
		if (!seen[c])
			return (char)c;
	return '*'; /* a secret holding every printable byte: best effort */
}

int scrub_init(struct scrub *s, const char *client_id, const char *api_key,
	       struct err *err)
{
	size_t nid = client_id ? strlen(client_id) : 0;
	size_t nkey = api_key ? strlen(api_key) : 0;
	bool token = client_id && (nid || nkey);
	size_t ntok = token ? (nid + 1 + nkey + 2) / 3 * 4 : 0;
	size_t room = forms_room(nid) + forms_room(nkey) + forms_room(ntok);
	size_t used = 0;

	memset(s, 0, sizeof(*s));
	s->mask = '*';
	if (room == 0)
		return 0;
	s->forms = malloc(room);
	if (!s->forms)
		return err_set(err, "out of memory");
	s->forms_len = room;
	add_secret(s, &used, api_key, nkey);
	add_secret(s, &used, client_id, nid);
	if (token) {
		unsigned char *in = malloc(nid + 1 + nkey);
		char *tok = malloc(ntok);

		if (!in || !tok) {
			free(in);
			free(tok);
			scrub_release(s);
			return err_set(err, "out of memory");
		}
		memcpy(in, client_id, nid);
		in[nid] = ':';
		if (nkey)
			memcpy(in + nid + 1, api_key, nkey);
		scrub_base64(in, nid + 1 + nkey, tok);
		add_secret(s, &used, tok, ntok);
		explicit_bzero(in, nid + 1 + nkey);
		explicit_bzero(tok, ntok);
		free(in);
		free(tok);
	}
	s->min_len = (size_t)-1;
	for (size_t i = 0; i < s->n; i++) {
		s->first[(unsigned char)s->forms[s->off[i]]] = 1;
		if (s->len[i] < s->min_len)
			s->min_len = s->len[i];
	}
	if (s->n == 0)
		s->min_len = 0;
	s->mask = pick_mask(s, used);
	return 0;
}

void scrub_release(struct scrub *s)
{
	if (s->forms) {
		explicit_bzero(s->forms, s->forms_len);
		free(s->forms);
	}
	explicit_bzero(s, sizeof(*s));
	s->mask = '*';
}

size_t scrub_apply(const struct scrub *s, char *text, size_t len)
{
	/* Occurrences are found on the original bytes: a masked range is
	 * written only once the scan has passed its end, so an overlapping
	 * occurrence that starts inside it is still seen. */
	size_t count = 0, from = 0, to = 0;

	if (!s || s->n == 0 || !text || len < s->min_len)
		return 0;
	for (size_t i = 0; i + s->min_len <= len; i++) {
		unsigned char c = (unsigned char)text[i];
		size_t end = 0;

		if (!s->first[c])
			continue;
		for (size_t k = 0; k < s->n; k++) {
			const char *f = s->forms + s->off[k];
			size_t fl = s->len[k];

			if ((unsigned char)f[0] == c && fl <= len - i && i + fl > end &&
			    memcmp(text + i, f, fl) == 0)
				end = i + fl;
		}
		if (!end)
			continue;
		count++;
		if (to < i) { /* the pending range lies wholly behind the scan */
			memset(text + from, s->mask, to - from);
			from = i;
		}
		if (end > to)
			to = end;
	}
	memset(text + from, s->mask, to - from);
	return count;
}
