/*
 * api.h - the sandbox's API logic without the HTTP server: Basic auth, the
 * users-v2 routes and endpoints, /_sandbox/ introspection (hooks.h), fault
 * decisions and their rendering, latency deadlines and the stats counters.
 *
 * The limiter (limit.h) answers 429 before an endpoint acts; it is
 * changed at run time through /_sandbox/limit (limitdoc.h).
 *
 * A request comes in as a struct api_request (method, path, ?limit,
 * Authorization, body, times) and goes out as a struct reply (reply.h).
 * Times are passed in, never read, so everything is testable without a
 * clock or a socket. All functions are thread-safe after api_init().
 */
#ifndef SANDBOX_API_H
#define SANDBOX_API_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"
#include "faults.h"
#include "limit.h"
#include "reply.h"
#include "stats.h"
#include "store.h"

#define API_BODY_MAX (64 * 1024) /* larger request bodies get 413 */
#define API_ID_MAX 64		 /* longer path ids cannot exist: 404 */
#define API_URL_MAX 512		 /* longer paths: 404 without parsing */
#define API_OVERSIZE (5u << 20)	 /* --fault-oversize body, 5 MiB */

struct api_config {
	const char *client_id;	  /* NULL: any Basic credentials pass */
	const char *api_key;	  /* NULL: any Basic credentials pass */
	long retry_after_s;	  /* Retry-After of injected 429s */
	int retry_after_date;	  /* 1: send Retry-After as an HTTP-date */
	int trickle;		  /* 1: API bodies one byte per second */
	const char *redirect_url; /* non-NULL: every API request gets 302 */
	long hang_ms;		  /* hung requests close after this; 0 never */
	int echo_raw;		  /* 1: --fault-echo answers text/plain */
	struct faults_config faults;
	struct limit_settings limit; /* the --limit-* limiter */
	uint64_t start_ns; /* monotonic server start: limiter second 0 */
};

/* One request as the HTTP server received it; everything borrowed. */
struct api_request {
	const char *method;	   /* "GET", "POST", ... */
	const char *url;	   /* path, without the query string */
	const char *limit;	   /* first ?limit: NULL absent, "" no value */
	const char *authorization; /* the header's value, or NULL */
	const char *body;	   /* body_len bytes, then a NUL */
	size_t body_len;
	uint64_t arrival_ns; /* monotonic, when the headers arrived */
	uint64_t now_ns;     /* monotonic, now: hang deadlines */
	time_t now_wall;     /* wall clock, now: Retry-After dates */
};

struct api {
	struct api_config cfg;
	struct store store;
	struct faults faults;
	struct stats stats;
	struct limit limit;
	char *oversize; /* the --fault-oversize body, or NULL */
	int parts;	/* init progress, for api_release */
};

/*
 * Prepares the store, the faults and (with --fault-oversize) its 5 MiB body.
 * Strings in cfg must outlive the api. Returns 0 or -1 (err).
 */
int api_init(struct api *a, const struct api_config *cfg, struct err *err);
void api_release(struct api *a);

/* 1 when url is /api or below it. */
int api_is_api(const char *url);

/* Counts a request whose headers arrived (call once per request). */
void api_arrive(struct api *a, const char *url, uint64_t arrival_ns);

/* The 413 for a body over API_BODY_MAX (declared or received). */
void api_too_large(struct api *a, const char *url, struct reply *out);

/*
 * Answers a complete request: fills out (reply_init'ed here; the caller
 * releases it with reply_clear). out->park says to wait until out->due_ns
 * (latency, jitter, hangs) before acting on out->action.
 */
void api_handle(struct api *a, const struct api_request *rq, struct reply *out);

/* The answer to a request body a userdoc_parse_* refused (rc, its msg):
 * 400 for one that is not JSON, else 422 with the message. */
void api_reply_refused(struct reply *out, int rc, const char *msg);

/* Records that r went out at now_ns: its status, and a 429's pause. */
void api_sent(struct api *a, const struct reply *r, uint64_t now_ns);

#endif
