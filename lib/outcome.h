/*
 * outcome.h - the API contract in one table: what a finished HTTP exchange
 * means (transport result + status + body → one outcome kind).
 *
 * Pure logic. The retry module decides what to do about each kind.
 */
#ifndef DOTS_OUTCOME_H
#define DOTS_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

/* What the transport layer saw, before any HTTP status. */
enum transport {
	TRANSPORT_OK,          /* a complete HTTP response arrived */
	TRANSPORT_NOT_SENT,    /* failed before the request left: DNS, connect,
				* TLS handshake, connect timeout */
	TRANSPORT_TIMEOUT,     /* sent, no complete answer in time */
	TRANSPORT_LOST,        /* sent, connection closed/reset without answer */
	TRANSPORT_TOO_BIG,     /* response body over the size cap */
	TRANSPORT_ERROR        /* anything else (protocol error, bad URL) */
};

enum outcome {
	OUTCOME_OK,            /* 2xx with a usable body */
	OUTCOME_REJECTED,      /* 400, 404, 409, 422 and other 4xx: final */
	OUTCOME_AUTH,          /* 401, 403: the run must stop */
	OUTCOME_RATE_LIMITED,  /* 429: did not act; pause everything */
	OUTCOME_UNAVAILABLE,   /* 503: did not act */
	OUTCOME_SERVER_ERROR,  /* 500, 502, 504: may have acted */
	OUTCOME_NOT_SENT,      /* never reached the API */
	OUTCOME_TIMEOUT,       /* may have acted */
	OUTCOME_LOST,          /* may have acted */
	OUTCOME_BAD_RESPONSE,  /* 2xx we cannot use, 3xx, oversized, protocol */
	OUTCOME_COUNT
};

/* Classifies an exchange. status is ignored unless transport is OK. */
enum outcome outcome_classify(enum transport t, long status);

/* Short name for logs and summaries ("rate_limited"). */
const char *outcome_name(enum outcome o);

/* True when the API certainly did not act on the request (safe to resend
 * even a side effect such as an SMS). */
bool outcome_not_acted(enum outcome o);

/* True when the API may have acted although we saw a failure. */
bool outcome_in_doubt(enum outcome o);

#endif
