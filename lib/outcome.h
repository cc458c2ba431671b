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

struct scrub;

/* What the transport layer saw, before any HTTP status. */
enum transport {
	TRANSPORT_OK,          /* a complete HTTP response arrived */
	TRANSPORT_NOT_SENT,    /* failed before the request left: connect
				* refused, TLS handshake broken off, connect
				* timeout (a blip: worth retrying) */
	TRANSPORT_TIMEOUT,     /* sent, no complete answer in time */
	TRANSPORT_LOST,        /* sent, connection closed/reset without answer */
	TRANSPORT_TOO_BIG,     /* response body over the size cap */
	TRANSPORT_ERROR,       /* anything else (protocol error, bad URL) */
	TRANSPORT_DNS,         /* the API's (or the proxy's) host name does not
				* resolve: a configuration error, not sent */
	TRANSPORT_TLS          /* the server's certificate failed verification
				* (untrusted, wrong host name) or the CA file is
				* unusable: a configuration error, not sent */
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
	OUTCOME_CONFIG,        /* DNS or TLS configuration error: never reached
				* the API, and resending will not help; the run
				* must stop (retry gives RETRY_CONFIG) */
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
	const char *host;      /* TRANSPORT_DNS: the URL's host that did not
				* resolve; NULL when unknown or it was the
				* proxy's (then detail names it) */
	const char *why;       /* our own reason for a bad 2xx, or NULL */
	const struct scrub *scrub; /* credentials to mask in the line, or NULL */
	int attempts;          /* attempts made of this request */
	bool exhausted;        /* attempts ran out (vs. a final answer) */
};

/*
 * The one-line "error" cell for a failed request: "HTTP 422: <API message>",
 * "timeout after 5 attempts", "HTTP 503 after 5 attempts: ...",
 * "cannot connect after 5 attempts: ...", "response body larger than 1 MiB".
 * OUTCOME_CONFIG names the cause and the likely fix:
 *   TLS: "TLS: certificate not trusted (<detail>): use --ca-cert FILE, or
 *        check the base URL's host"
 *   DNS: "cannot resolve host '<host>': check --base-url", or without a
 *        host (the proxy's name failed) "cannot resolve host (<detail>):
 *        check --base-url and the proxy environment variables".
 *   a caller's OUTCOME_CONFIG for an HTTP 404: outcome_hint_404().
 * prefix (e.g. "verification: ") goes first. The whole line is built, then
 * masked with in->scrub (a JSON message decoded from \u escapes can spell
 * a secret the raw body did not contain), then cut to cap: a cut never
 * leaves the start of a secret. Always NUL-terminated in cap.
 */
void outcome_describe(const struct outcome_info *in, const char *prefix,
		      char *out, size_t cap);

/*
 * The hint for HTTP 404 on the users route (GET or POST {base}/v2/users):
 * the route is missing, so the base URL is wrong, not the row. Callers that
 * see it on the first request treat it as a configuration error (stop the
 * run) and print "HTTP 404 on the users route: does the base URL end in
 * /api?". A 404 on a user's own route (send-verification-token) stays an
 * ordinary rejection.
 */
const char *outcome_hint_404(void);

#endif
