/*
 * http.h - concurrent HTTP requests on one libcurl multi handle.
 *
 * A fixed pool of transfers (easy handles and their buffers are reused):
 * at most max_in_flight requests are in libcurl at once, so no queued
 * handle burns its timeout inside libcurl. The caller decides what to send
 * and when (retries are the caller's not-before times, never a sleep
 * here). Connections are kept alive and reused for every request.
 */
#ifndef DOTS_HTTP_H
#define DOTS_HTTP_H

#include <stddef.h>

#include "err.h"
#include "outcome.h"

#define HTTP_MAX_BODY (1024 * 1024) /* response bodies over 1 MiB are refused */

struct http_opts {
	const char *username;    /* Basic auth user (client id), NULL = no auth; borrowed */
	const char *password;    /* Basic auth password (API key); borrowed */
	const char *app_id;      /* Api-App-Id header value, or NULL */
	const char *ca_cert;     /* CA bundle path, or NULL for the system's */
	long connect_timeout_ms;
	long request_timeout_ms;
	int max_in_flight;       /* 1..256 */
};

struct http_request {
	const char *url;         /* borrowed until the result is reported */
	const char *body;        /* POST body, or NULL for an empty POST */
	size_t body_len;
	/*
	 * At most once: for side effects that must not be repeated (an SMS).
	 * libcurl silently re-sends a request when a reused connection dies
	 * before any response byte arrives (the server may have acted and then
	 * dropped the connection). A once request needs a non-empty body, which
	 * libcurl reads through a callback that refuses to rewind: once any
	 * body byte has left, that re-send fails instead (CURLE_SEND_FAIL_REWIND
	 * -> TRANSPORT_LOST, in doubt). A server cannot act on a request whose
	 * body it has not received, so a re-send before that is harmless.
	 */
	int once;
	/* The same URL for many requests (the create endpoint): libcurl gets
	 * it parsed once instead of parsing it for every transfer, and URLs
	 * that extend it with a path (the sends) reuse that parse. One such
	 * URL per engine (the first); others are parsed per request. */
	int url_repeats;
	void *cookie;            /* the caller's; handed back in the result */
};

struct http_result {
	void *cookie;
	enum transport transport;
	long status;             /* HTTP status, 0 when none */
	const char *body;        /* response body, NUL-terminated; valid until
				  * the next http_start or http_poll */
	size_t body_len;
	long retry_after_ms;     /* Retry-After header, -1 when absent */
	long elapsed_ms;         /* whole exchange */
	const char *detail;      /* transport error text, no credentials */
};

struct http;

/* Creates the engine. Fails when libcurl cannot be set up. */
int http_new(struct http **out, const struct http_opts *o, struct err *err);

/* Free slots: how many more requests http_start accepts now. */
int http_free_slots(const struct http *h);

/* Requests in flight. */
int http_in_flight(const struct http *h);

/* Starts a POST. Returns 0, or -1 (err set) when no slot is free or
 * libcurl refuses the request. */
int http_start(struct http *h, const struct http_request *req, struct err *err);

/*
 * Waits up to timeout_ms for network activity (0 = do not wait) and drives
 * the transfers. Returns 0 or -1 on a libcurl failure. A signal wakes it
 * early via http_wakeup.
 */
int http_poll(struct http *h, int timeout_ms, struct err *err);

/* Wakes a http_poll in progress. Thread-safe (curl_multi_wakeup), not
 * async-signal-safe. */
void http_wakeup(struct http *h);

/* Takes the next finished request. Returns 1 with *res filled, 0 when none. */
int http_next_result(struct http *h, struct http_result *res);

/* Fills the transport part of an outcome_info from a result (attempts,
 * exhausted and why stay zero for the caller to set). */
void http_outcome_info(const struct http_result *res, enum outcome o,
		       struct outcome_info *info);

/* Aborts every transfer and frees everything. NULL is a no-op. */
void http_free(struct http *h);

#endif
