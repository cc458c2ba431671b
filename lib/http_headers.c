/*
 * http_headers.c - the header lines every request of an engine carries:
 * Content-Type, User-Agent, Api-App-Id and the Basic-auth Authorization
 * line, built once. Must not call libcurl (http.c hands the lines to it)
 * and must leave no copy of the credentials behind unwiped.
 */
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrub.h"

#include "banned.h"

/*
 * "Authorization: Basic base64(user:pass)" (RFC 7617), built once: libcurl
 * would format and encode it again for every request. Never follows a
 * redirect, so it only ever goes to the API host. The caller wipes it.
 */
static char *basic_auth(const char *user, const char *pass)
{
	static const char prefix[] = "Authorization: Basic ";
	size_t nu = strlen(user), np = strlen(pass), n = nu + 1 + np;
	size_t cap = sizeof(prefix) + (n + 2) / 3 * 4;
	unsigned char *in = malloc(n + 1);
	char *out = malloc(cap);
	size_t k;

	if (!in || !out) {
		free(in);
		free(out);
		return NULL;
	}
	memcpy(in, user, nu);
	in[nu] = ':';
	memcpy(in + nu + 1, pass, np);
	memcpy(out, prefix, sizeof(prefix) - 1);
	/* the same token that scrub.c masks in what comes back */
	k = scrub_base64(in, n, out + sizeof(prefix) - 1);
	out[sizeof(prefix) - 1 + k] = '\0';
	explicit_bzero(in, n + 1);
	free(in);
	return out;
}

int http_header_lines(const struct http_opts *o, char *line[HTTP_HEADER_LINES])
{
	static const char *const fixed[] = {
		"Content-Type: application/json",
		"User-Agent: dots-import/" DOTS_VERSION,
	};
	int n = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!(line[n] = strdup(fixed[i])))
			goto oom;
		n++;
	}
	if (o->app_id) {
		char app[300];

		snprintf(app, sizeof(app), "Api-App-Id: %s", o->app_id);
		if (!(line[n] = strdup(app)))
			goto oom;
		n++;
	}
	if (o->username) { /* no credentials at all for e.g. a webhook */
		if (!(line[n] = basic_auth(o->username, o->password ? o->password : "")))
			goto oom;
		n++;
	}
	return n;
oom:
	http_header_lines_free(line, n);
	return -1;
}

void http_header_lines_free(char *line[], int n)
{
	for (int i = 0; i < n; i++) {
		explicit_bzero(line[i], strlen(line[i]));
		free(line[i]);
	}
}
