/*
 * http.h - concurrent HTTP requests on one libcurl multi handle.
 *
 * A fixed pool of transfers (easy handles and their buffers are reused):
 * at most max_in_flight requests are in libcurl at once, so no queued
 * handle burns its timeout inside libcurl. The caller decides what to send
 * and when (retries are the caller's not-before times, never a sleep
 * here). Connections are kept alive and reused for every request.
 *
 * Credentials: the engine builds a scrub (scrub.h) from username/password;
 * every response body and transport error text is masked with it before a
 * result is handed out, so a server echoing the key cannot get it further.
 * Custom headers (Authorization) go to the API host only, never to a proxy.
 *
 * Proxies: a plain http:// (or scheme-less) URL never uses a proxy, whatever
 * the environment says (a proxy would see the Authorization header in
 * clear). An https:// URL may use one from the environment (https_proxy,
 * all_proxy, no_proxy as libcurl reads them), and then only as a CONNECT
 * tunnel: the proxy sees the host and port, never a request. The
 * environment is read once, at http_new.
 */
#ifndef DOTS_HTTP_H
#define DOTS_HTTP_H

#include <stddef.h>

#include "err.h"
#include "outcome.h"
#include "scrub.h"

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
	/* 1: a GET with no body (body, body_len, once and url_repeats are
	 * ignored; the URL, query included, is parsed for this request).
	 * 0: a POST, as every request before it. */
	int get;
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
	const char *body;        /* response body, NUL-terminated, credentials
				  * masked (scrub.h) unless a 2xx (data: check
				  * what is taken from it with scrub); valid
				  * until the next http_start or http_poll */
	size_t body_len;
	long retry_after_ms;     /* Retry-After header, -1 when absent */
	long elapsed_ms;         /* whole exchange */
	const char *detail;      /* transport error text, credentials masked */
	const char *host;        /* TRANSPORT_DNS: the URL's host that did not
				  * resolve (NULL when it was the proxy's);
				  * else NULL. Valid as body. */
	const struct scrub *scrub; /* the engine's (http_scrub), for the caller's
				    * own text; valid until http_free */
};

struct http;

/* Creates the engine. Fails when libcurl cannot be set up. */
int http_new(struct http **out, const struct http_opts *o, struct err *err);

/* The engine's credentials mask (from opts username and password), for
 * callers that must mask text of their own. Valid until http_free. */
const struct scrub *http_scrub(const struct http *h);

/* Free slots: how many more requests http_start accepts now. */
int http_free_slots(const struct http *h);

/* Requests in flight. */
int http_in_flight(const struct http *h);

/* Starts a POST (or a GET, req->get). Returns 0, or -1 (err set) when no
 * slot is free or libcurl refuses the request. */
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

/* Fills the transport part of an outcome_info from a result, host and the
 * engine's scrub included (attempts, exhausted and why stay zero for the
 * caller to set). */
void http_outcome_info(const struct http_result *res, enum outcome o,
		       struct outcome_info *info);

/* Aborts every transfer and frees everything. NULL is a no-op. */
void http_free(struct http *h);

#endif
