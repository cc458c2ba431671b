/*
 * server.h - the sandbox HTTP server: libmicrohttpd around api.h, which
 * holds the routing, Basic auth, the users-v2 endpoints, /_sandbox/
 * introspection and fault injection.
 *
 * server_start() returns a running server on its own threads; the caller
 * only waits for a signal and calls server_free(). Credentials given in the
 * config are compared, never printed.
 */
#ifndef SANDBOX_SERVER_H
#define SANDBOX_SERVER_H

#include <stdint.h>

#include "err.h"
#include "faults.h"
#include "limit.h"

struct server_config {
	const char *bind_addr;	  /* IPv4 or IPv6 literal; "127.0.0.1" */
	unsigned port;		  /* 0 = any free port */
	const char *client_id;	  /* NULL: any Basic credentials pass */
	const char *api_key;	  /* NULL: any Basic credentials pass */
	unsigned threads;	  /* MHD thread pool size */
	unsigned max_connections; /* MHD connection limit */
	long retry_after_s;	  /* Retry-After of injected 429s */
	int retry_after_date;	  /* 1: send Retry-After as an HTTP-date */
	int trickle;		  /* 1: API bodies one byte per second */
	const char *redirect_url; /* non-NULL: every API request gets 302 */
	long hang_ms;		  /* hung requests close after this; 0 never */
	int echo_raw;		  /* 1: --fault-echo answers text/plain */
	const char *tls_cert;	  /* PEM text: serve HTTPS (with tls_key) */
	const char *tls_key;	  /* PEM text of the private key */
	struct faults_config faults;
	struct limit_settings limit; /* --limit-*: schedule offsets from start */
};

struct server;

/*
 * Binds, starts the threads and returns the server, or NULL (err). The TLS
 * PEM texts must stay valid until server_free.
 */
struct server *server_start(const struct server_config *cfg, struct err *err);

/* The port actually bound (useful with port 0). */
unsigned server_port(const struct server *s);

/*
 * Stops accepting, releases parked and hung requests (closing them without
 * an answer), joins every thread and frees everything. s may be NULL.
 */
void server_free(struct server *s);

#endif
