/*
 * echo.c - builds the --fault-echo message: the Authorization header
 * verbatim plus the decoded client id and API key, plain and
 * percent-encoded. Decoded copies live on the stack and are wiped; must
 * not log them or keep them past the call.
 */
#include "echo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#include "banned.h"

#define ECHO_PCT_MAX (AUTH_DECODED_MAX * 3 + 1)

static int echo_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

size_t echo_pct_encode(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		char enc[3];
		size_t k = 1, i;

		enc[0] = (char)c;
		if (!echo_unreserved(c)) {
			enc[0] = '%';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 0x0f];
			k = 3;
		}
		for (i = 0; i < k; i++, n++)
			if (n + 1 < cap)
				out[n] = enc[i];
	}
	if (cap > 0)
		out[n < cap ? n : cap - 1] = '\0';
	return n;
}

char *echo_text(const char *header)
{
	char id[AUTH_DECODED_MAX + 1], key[AUTH_DECODED_MAX + 1];
	char pid[ECHO_PCT_MAX], pkey[ECHO_PCT_MAX];
	const char *h = header ? header : "(none)";
	size_t hlen = strnlen(h, AUTH_HEADER_MAX), need;
	char *out;

	auth_decode(header, id, sizeof(id), key, sizeof(key));
	echo_pct_encode(id, pid, sizeof(pid));
	echo_pct_encode(key, pkey, sizeof(pkey));
	need = strlen(id) + strlen(pid) + strlen(key) + strlen(pkey) + hlen +
	       64;
	out = malloc(need);
	if (out)
		snprintf(out, need,
			 "bad request from client %s (%s) key %s (%s) auth %.*s",
			 id, pid, key, pkey, (int)hlen, h);
	explicit_bzero(id, sizeof(id));
	explicit_bzero(key, sizeof(key));
	explicit_bzero(pid, sizeof(pid));
	explicit_bzero(pkey, sizeof(pkey));
	return out;
}
