/*
 * auth.c - decodes "Basic <base64>" into a bounded stack buffer and
 * compares without early exit. Must not allocate, log or keep secrets:
 * the decoded buffer is wiped before returning (auth_decode copies out
 * only into its caller's buffers, for the echo fault).
 */
#include "auth.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "banned.h"

static int auth_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes n base64 chars (padding optional); returns length or -1. */
static long auth_b64_decode(const char *in, size_t n, unsigned char *out,
			    size_t cap)
{
	unsigned long acc = 0;
	size_t i, o = 0, pad = 0;
	int bits = 0;

	while (n > 0 && in[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if ((n + pad) % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		int v = auth_b64_value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	return (long)o;
}

/* Equal lengths and bytes, in time that depends only on the lengths. */
static int auth_same(const unsigned char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b), i;
	unsigned char diff = alen != blen;

	for (i = 0; i < alen && i < blen; i++)
		diff |= (unsigned char)(a[i] ^ (unsigned char)b[i]);
	return diff == 0;
}

/* Decodes the credentials of a Basic header into dec; length or -1. */
static long auth_parse(const char *header, unsigned char *dec, size_t cap)
{
	const char *p;
	size_t n;

	if (!header || strnlen(header, AUTH_HEADER_MAX + 1) > AUTH_HEADER_MAX)
		return -1;
	p = header;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
		return -1;
	p += 5;
	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return auth_b64_decode(p, n, dec, cap);
}

int auth_check(const char *header, const char *client_id, const char *api_key)
{
	unsigned char dec[AUTH_DECODED_MAX];
	const unsigned char *colon;
	long len;
	int ok;

	len = auth_parse(header, dec, sizeof(dec));
	if (len <= 1) {
		explicit_bzero(dec, sizeof(dec));
		return -1; /* nothing, or only ":" */
	}
	colon = memchr(dec, ':', (size_t)len);
	if (!colon) {
		ok = 0;
	} else if (!client_id || !api_key) {
		ok = 1;
	} else {
		size_t ulen = (size_t)(colon - dec);
		int u = auth_same(dec, ulen, client_id);
		int k = auth_same(colon + 1, (size_t)len - ulen - 1, api_key);

		ok = u & k;
	}
	explicit_bzero(dec, sizeof(dec));
	return ok ? 0 : -1;
}

/* Copies n bytes into out[cap] as a string, cut to fit. */
static void auth_copy(char *out, size_t cap, const unsigned char *in, size_t n)
{
	if (cap == 0)
		return;
	if (n > cap - 1)
		n = cap - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

int auth_decode(const char *header, char *id, size_t id_cap, char *key,
		size_t key_cap)
{
	unsigned char dec[AUTH_DECODED_MAX];
	const unsigned char *colon = NULL;
	long len;

	if (id_cap)
		id[0] = '\0';
	if (key_cap)
		key[0] = '\0';
	len = auth_parse(header, dec, sizeof(dec));
	if (len > 0)
		colon = memchr(dec, ':', (size_t)len);
	if (colon) {
		size_t ulen = (size_t)(colon - dec);

		auth_copy(id, id_cap, dec, ulen);
		auth_copy(key, key_cap, colon + 1, (size_t)len - ulen - 1);
	}
	explicit_bzero(dec, sizeof(dec));
	return colon ? 0 : -1;
}
