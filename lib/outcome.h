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

/* What the caller knows about a failed exchange, for outcome_describe. */
struct outcome_info {
	enum outcome outcome;
	enum transport transport;
	long status;           /* HTTP status or 0 */
	const char *body;      /* response body (any bytes) */
	size_t body_len;
	const char *detail;    /* transport error text */
	const char *why;       /* our own reason for a bad 2xx, or NULL */
	int attempts;          /* attempts made of this request */
	bool exhausted;        /* attempts ran out (vs. a final answer) */
};

/*
 * The one-line "error" cell for a failed request: "HTTP 422: <API message>",
 * "timeout after 5 attempts", "HTTP 503 after 5 attempts: ...",
 * "cannot connect after 5 attempts: ...", "response body larger than 1 MiB".
 * prefix (e.g. "verification: ") goes first. Always NUL-terminated in cap.
 */
void outcome_describe(const struct outcome_info *in, const char *prefix,
		      char *out, size_t cap);

#endif
