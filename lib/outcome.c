/*
 * outcome.c - transport result and HTTP status to one outcome, by table.
 * Pure: no I/O, no state.
 */
#include "outcome.h"

#include <stdio.h>

#include "payload.h"

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

void outcome_describe(const struct outcome_info *in, const char *prefix,
		      char *out, size_t cap)
{
	char msg[201];
	const char *sep;
	int n = in->attempts;

	payload_error_message(in->body, in->body_len, msg, sizeof(msg));
	sep = msg[0] ? ": " : "";
	switch (in->outcome) {
	case OUTCOME_TIMEOUT:
		snprintf(out, cap, "%stimeout after %d attempt%s", prefix, n, plural(n));
		break;
	case OUTCOME_NOT_SENT:
		snprintf(out, cap, "%scannot connect after %d attempt%s: %s", prefix, n,
			 plural(n), in->detail ? in->detail : "");
		break;
	case OUTCOME_LOST:
		snprintf(out, cap, "%sconnection lost after %d attempt%s", prefix, n,
			 plural(n));
		break;
	case OUTCOME_BAD_RESPONSE:
		if (in->transport == TRANSPORT_TOO_BIG)
			snprintf(out, cap, "%sresponse body larger than 1 MiB", prefix);
		else if (in->transport != TRANSPORT_OK)
			snprintf(out, cap, "%stransport error: %s", prefix,
				 in->detail ? in->detail : "");
		else if (in->status >= 300 && in->status <= 399)
			snprintf(out, cap, "%sHTTP %ld: redirect not followed", prefix,
				 in->status);
		else
			snprintf(out, cap, "%sHTTP %ld: %s", prefix, in->status,
				 in->why ? in->why : msg);
		break;
	default:
		if (in->exhausted)
			snprintf(out, cap, "%sHTTP %ld after %d attempt%s%s%s", prefix,
				 in->status, n, plural(n), sep, msg);
		else
			snprintf(out, cap, "%sHTTP %ld%s%s", prefix, in->status, sep, msg);
		break;
	}
}
