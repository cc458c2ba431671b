/*
 * probe.h - the one cheap authenticated request every run makes before
 * anything else: GET {base}/v2/users?limit=1. A wrong key, a wrong base URL,
 * an untrusted certificate or an unknown host is found before any row is
 * sent - also on a night when no row needs a request.
 */
#ifndef DOTS_PROBE_H
#define DOTS_PROBE_H

#include "engine.h"
#include "err.h"

enum probe_result {
	PROBE_OK,          /* the API answered 2xx: go on */
	PROBE_AUTH,        /* 401/403: the credentials are refused (the engine
			    * is halted: the run aborts) */
	PROBE_CONFIG,      /* 404 on the users route, TLS, DNS, another 4xx:
			    * the configuration is wrong (nothing was sent) */
	PROBE_UNREACHABLE, /* no usable answer after every attempt, or one
			    * that says nothing about the configuration (a
			    * redirect, a broken body): the caller goes on */
	PROBE_STOPPED      /* a signal came first */
};

/*
 * Makes the request through the run's engine, with the retry rules of any
 * idempotent request. Returns the verdict; for anything but PROBE_OK err
 * holds a one-line cause with the likely fix ("does the base URL end in
 * /api?"), never a credential.
 */
enum probe_result probe_run(struct engine *e, const char *base_url, struct err *err);

#endif
