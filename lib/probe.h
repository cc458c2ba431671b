/*
 * probe.h - the one cheap authenticated request every run makes before
 * anything else: GET {base}/v2/users?limit=1. A wrong key, a wrong base URL,
 * an untrusted certificate or an unknown host is found before any row is
 * sent - also on a night when no row needs a request.
 */
#ifndef DOTS_PROBE_H
#define DOTS_PROBE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "http.h"
#include "retry.h"

enum probe_result {
	PROBE_OK,          /* the API answered 2xx: go on */
	PROBE_AUTH,        /* 401/403: the credentials are refused */
	PROBE_CONFIG,      /* 404 on the users route, TLS, DNS, another 4xx:
			    * the configuration is wrong (nothing was sent) */
	PROBE_UNREACHABLE, /* no usable answer after every attempt, or one
			    * that says nothing about the configuration (a
			    * redirect, a broken body): the caller goes on */
	PROBE_STOPPED      /* a signal arrived first */
};

struct probe {
	struct http *http;                   /* borrowed engine, idle */
	const char *base_url;                /* with /api, without /v2 */
	const struct retry_policy *policy;   /* attempts and backoff */
	volatile sig_atomic_t *stop;         /* signal flag, or NULL */
	int64_t (*now_ms)(void *ctx);        /* clock; NULL = monotonic */
	void *ctx;
	uint64_t *rng;                       /* jitter state */
	size_t requests;                     /* out: attempts made */
	size_t rate_limited;                 /* out: 429 answers */
};

/*
 * Makes the request, retrying what the retry policy retries for an
 * idempotent request (429 after its Retry-After, 5xx, timeouts, connection
 * failures); waits are poll timeouts, never a sleep. Returns the verdict;
 * for anything but PROBE_OK err holds a one-line cause with the likely fix
 * ("does the base URL end in /api?"), never a credential.
 */
enum probe_result probe_run(struct probe *p, struct err *err);

#endif
