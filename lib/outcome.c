/*
 * outcome.c - transport result and HTTP status to one outcome, by table.
 * Pure: no I/O, no state.
 */
#include "outcome.h"

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
