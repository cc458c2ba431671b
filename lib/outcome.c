/*
 * outcome.c - transport result and HTTP status to one outcome, by table.
 * Pure: no I/O, no state.
 */
#include "outcome.h"

#include <stdio.h>
#include <string.h>

#include "payload.h"
#include "scrub.h"

#include "banned.h"

static const struct {
	long status;
	enum outcome outcome;
} status_table[] = {
	{400, OUTCOME_REJECTED},     {401, OUTCOME_AUTH},
	{403, OUTCOME_AUTH},         {404, OUTCOME_REJECTED},
	{409, OUTCOME_REJECTED},     {422, OUTCOME_REJECTED},
	{429, OUTCOME_RATE_LIMITED}, {500, OUTCOME_SERVER_ERROR},
	{502, OUTCOME_SERVER_ERROR}, {503, OUTCOME_UNAVAILABLE},
	{504, OUTCOME_SERVER_ERROR},
};

static const struct {
	const char *name;
	bool not_acted;
	bool in_doubt;
} outcome_table[OUTCOME_COUNT] = {
	[OUTCOME_OK] = {"ok", false, false},
	[OUTCOME_REJECTED] = {"rejected", false, false},
	[OUTCOME_AUTH] = {"unauthorized", true, false},
	[OUTCOME_RATE_LIMITED] = {"rate_limited", true, false},
	[OUTCOME_UNAVAILABLE] = {"unavailable", true, false},
	[OUTCOME_SERVER_ERROR] = {"server_error", false, true},
	[OUTCOME_NOT_SENT] = {"not_sent", true, false},
	[OUTCOME_TIMEOUT] = {"timeout", false, true},
	[OUTCOME_LOST] = {"connection_lost", false, true},
	[OUTCOME_BAD_RESPONSE] = {"bad_response", false, true},
	[OUTCOME_CONFIG] = {"config_error", true, false},
};

enum outcome outcome_classify(enum transport t, long status)
{
	switch (t) {
	case TRANSPORT_OK:
		break;
	case TRANSPORT_NOT_SENT:
		return OUTCOME_NOT_SENT;
	case TRANSPORT_TIMEOUT:
		return OUTCOME_TIMEOUT;
	case TRANSPORT_LOST:
		return OUTCOME_LOST;
	case TRANSPORT_TOO_BIG:
	case TRANSPORT_ERROR:
		return OUTCOME_BAD_RESPONSE;
	case TRANSPORT_DNS:
	case TRANSPORT_TLS:
		return OUTCOME_CONFIG;
	}
	if (status >= 200 && status <= 299)
		return OUTCOME_OK;
	for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
		if (status_table[i].status == status)
			return status_table[i].outcome;
	if (status >= 400 && status <= 499)
		return OUTCOME_REJECTED;
	if (status >= 500 && status <= 599)
		return OUTCOME_SERVER_ERROR;
	return OUTCOME_BAD_RESPONSE; /* 1xx, 3xx (redirects are never followed) */
}

const char *outcome_name(enum outcome o)
{
	return o < OUTCOME_COUNT ? outcome_table[o].name : "unknown";
}

bool outcome_not_acted(enum outcome o)
{
	return o < OUTCOME_COUNT && outcome_table[o].not_acted;
}

bool outcome_in_doubt(enum outcome o)
{
	return o < OUTCOME_COUNT && outcome_table[o].in_doubt;
}

static const char *plural(int n)
{
	return n == 1 ? "" : "s";
}

#define MSG_SHOWN 200 /* bytes of an API message in the line */

/* The API's message, masked while whole, then cut to MSG_SHOWN bytes (with
 * "..."): masking first means a cut never leaves the start of a secret. */
static void api_message(const struct outcome_info *in, char *msg, size_t cap)
{
	size_t n;

	payload_error_message(in->body, in->body_len, msg, cap);
	n = strlen(msg);
	scrub_apply(in->scrub, msg, n);
	if (n > MSG_SHOWN) {
		n = MSG_SHOWN - 3;
		/* do not leave half a UTF-8 sequence before "..." */
		while (n && ((unsigned char)msg[n] & 0xC0) == 0x80)
			n--;
		while (n && msg[n - 1] == ' ')
			n--;
		memcpy(msg + n, "...", 4);
	}
}

static void describe_config(const struct outcome_info *in, const char *prefix,
			    char *line, size_t cap)
{
	const char *detail = in->detail ? in->detail : "";

	if (in->transport == TRANSPORT_TLS)
		snprintf(line, cap,
			 "%sTLS: certificate not trusted (%s): use --ca-cert FILE, "
			 "or check the base URL's host",
			 prefix, detail);
	else if (in->transport == TRANSPORT_DNS && in->host && in->host[0])
		snprintf(line, cap, "%scannot resolve host '%s': check --base-url", prefix,
			 in->host);
	else if (in->transport == TRANSPORT_DNS)
		snprintf(line, cap,
			 "%scannot resolve host (%s): check --base-url and the proxy "
			 "environment variables",
			 prefix, detail);
	else if (in->status == 404) /* a caller's verdict: the route is missing */
		snprintf(line, cap, "%s%s", prefix, outcome_hint_404());
	else /* a caller's own configuration verdict on a response */
		snprintf(line, cap, "%sHTTP %ld: configuration error", prefix, in->status);
}

void outcome_describe(const struct outcome_info *in, const char *prefix,
		      char *out, size_t cap)
{
	/* msg: a decoded message can be longer than its cut; the line holds
	 * every part whole (prefix and why are ours and short) */
	char msg[1024], line[2048];
	const char *sep;
	int n = in->attempts;

	if (cap == 0)
		return;
	api_message(in, msg, sizeof(msg));
	sep = msg[0] ? ": " : "";
	switch (in->outcome) {
	case OUTCOME_TIMEOUT:
		snprintf(line, sizeof(line), "%stimeout after %d attempt%s", prefix, n,
			 plural(n));
		break;
	case OUTCOME_NOT_SENT:
		snprintf(line, sizeof(line), "%scannot connect after %d attempt%s: %s",
			 prefix, n, plural(n), in->detail ? in->detail : "");
		break;
	case OUTCOME_LOST:
		snprintf(line, sizeof(line), "%sconnection lost after %d attempt%s", prefix,
			 n, plural(n));
		break;
	case OUTCOME_CONFIG:
		describe_config(in, prefix, line, sizeof(line));
		break;
	case OUTCOME_BAD_RESPONSE:
		if (in->transport == TRANSPORT_TOO_BIG)
			snprintf(line, sizeof(line), "%sresponse body larger than 1 MiB",
				 prefix);
		else if (in->transport != TRANSPORT_OK)
			snprintf(line, sizeof(line), "%stransport error: %s", prefix,
				 in->detail ? in->detail : "");
		else if (in->status >= 300 && in->status <= 399)
			snprintf(line, sizeof(line), "%sHTTP %ld: redirect not followed",
				 prefix, in->status);
		else
			snprintf(line, sizeof(line), "%sHTTP %ld: %s", prefix, in->status,
				 in->why ? in->why : msg);
		break;
	default:
		if (in->exhausted)
			snprintf(line, sizeof(line), "%sHTTP %ld after %d attempt%s%s%s",
				 prefix, in->status, n, plural(n), sep, msg);
		else
			snprintf(line, sizeof(line), "%sHTTP %ld%s%s", prefix, in->status,
				 sep, msg);
		break;
	}
	scrub_apply(in->scrub, line, strlen(line));
	snprintf(out, cap, "%s", line);
}

const char *outcome_hint_404(void)
{
	return "HTTP 404 on the users route: does the base URL end in /api?";
}
