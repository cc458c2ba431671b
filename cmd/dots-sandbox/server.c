/*
 * server.c - libmicrohttpd glue (HTTP, or HTTPS from PEM texts): one struct
 * server_req per request, routing to the users-v2 endpoints and /_sandbox/,
 * faults, and parking delayed requests (suspend + delayq) so latency never
 * occupies a worker thread. The only file with <microhttpd.h>; prints nothing.
 */
#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "auth.h"
#include "delayq.h"
#include "echo.h"
#include "num.h"
#include "store.h"
#include "userdoc.h"

#include "banned.h"

#define SERVER_ID_MAX 64	     /* longer path ids cannot exist: 404 */
#define SERVER_URL_MAX 512	     /* longer paths: 404 without parsing */
#define SERVER_DRAIN_MAX (16u << 20) /* bytes read past the body cap */
#define SERVER_INLINE_BODY 2048	     /* bodies up to this need no malloc */
#define SERVER_OVERSIZE (5u << 20)   /* --fault-oversize body, 5 MiB */
#define SERVER_CONN_TIMEOUT_S 120    /* idle keep-alive connections */
#define SERVER_STATUS_MAX 600	     /* statuses counted: 0..599 */
#define SERVER_CTYPE_JSON "application/json"
#define SERVER_CTYPE_TEXT "text/plain; charset=utf-8"
#define SERVER_CTYPE_HTML "text/html; charset=utf-8"

static const char server_malformed[] = "{\"id\": \"abc\", broken";
static const char server_html[] =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx"
    "</center>\r\n</body>\r\n</html>\r\n";

/* What the final handler call does with the connection. */
enum server_action {
	SERVER_RESPOND = 0, /* queue resp */
	SERVER_RESET,	    /* return MHD_NO: close, no answer */
	SERVER_HANG,	    /* close without answer at stop or --hang-ms */
};

enum server_ep {
	SERVER_EP_NONE = 0,
	SERVER_EP_CREATE, /* POST /api/v2/users */
	SERVER_EP_LIST,	  /* GET /api/v2/users?limit=N */
	SERVER_EP_GET,	  /* GET /api/v2/users/{id} */
	SERVER_EP_SEND,	  /* POST /api/v2/users/{id}/send-verification-token */
	SERVER_EP_VERIFY, /* POST /api/v2/users/{id}/verify */
};

struct server {
	struct server_config cfg;
	struct MHD_Daemon *daemon;
	struct store store;
	struct faults faults;
	struct delayq delayq;
	int threaded;		       /* thread per connection (--trickle) */
	int parts;		       /* init progress, for server_free */
	uint16_t port;		       /* bound port */
	char *oversize;		       /* the 5 MiB body, or NULL */
	atomic_ulong requests;	       /* every request under /api */
	atomic_ulong sandbox_requests; /* every request under /_sandbox */
	atomic_ulong unauthorized;
	atomic_ulong create_requests; /* routed, authenticated creates */
	atomic_ulong send_requests;
	atomic_ulong verify_requests;
	atomic_ulong get_requests;
	atomic_ulong list_requests;
	atomic_ulong echoed; /* --fault-echo answers */
	atomic_ulong too_large;
	atomic_ulong status[SERVER_STATUS_MAX]; /* API answers by status */
};

/* One HTTP request, from its headers to its completion callback. */
struct server_req {
	struct server *srv;
	struct MHD_Connection *conn;
	uint64_t arrival_ns; /* monotonic, at the first handler call */
	int is_api;	     /* path under /api */
	int parked;	     /* suspended (or slept), waiting for due */
	int done;	     /* final answer given */
	int overflow;	     /* body exceeded SERVER_BODY_MAX */
	enum server_action action;
	struct MHD_Response *resp; /* answer prepared, not yet queued */
	unsigned status;
	long retry_after_s; /* >= 0: resp is a 429 with this delay */
	char *body;	    /* inline or heap, body_len bytes + NUL */
	size_t body_len;
	size_t body_cap;
	uint64_t upload_total; /* body bytes received, kept or not */
	char inline_body[SERVER_INLINE_BODY];
};

/* Body of a --trickle response, released by MHD through trickle_free. */
struct server_trickle {
	struct server *srv;
	char *data;
	size_t len;
	int owned; /* data is ours to free */
};

static void server_count(atomic_ulong *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static unsigned long server_load(atomic_ulong *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- responses ------------------------------------------------------ */

static ssize_t server_trickle_read(void *cls, uint64_t pos, char *buf,
				   size_t max)
{
	struct server_trickle *t = cls;

	if (pos >= t->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max < 1)
		return 0;
	if (pos > 0 && delayq_sleep_until(&t->srv->delayq,
					  delayq_now_ns() + 1000000000ULL) < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	buf[0] = t->data[pos];
	return 1;
}

static void server_trickle_free(void *cls)
{
	struct server_trickle *t = cls;

	if (t->owned)
		free(t->data);
	free(t);
}

static void server_drop_resp(struct server_req *r)
{
	if (r->resp)
		MHD_destroy_response(r->resp);
	r->resp = NULL;
	r->retry_after_s = -1;
}

/*
 * Prepares the answer. Takes data when owned (malloc'd); otherwise data
 * must outlive the response. On out of memory the connection is reset.
 */
static void server_respond(struct server_req *r, unsigned status,
			   const char *ctype, char *data, size_t len, int owned)
{
	struct server *s = r->srv;

	server_drop_resp(r);
	r->action = SERVER_RESPOND;
	r->status = status;
	if (s->cfg.trickle && r->is_api) {
		struct server_trickle *t = malloc(sizeof(*t));

		if (t) {
			t->srv = s;
			t->data = data;
			t->len = len;
			t->owned = owned;
			r->resp = MHD_create_response_from_callback(
			    len, 1, server_trickle_read, t,
			    server_trickle_free);
			if (!r->resp)
				server_trickle_free(t);
		} else if (owned) {
			free(data);
		}
	} else {
		r->resp = MHD_create_response_from_buffer(
		    len, data,
		    owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
		if (!r->resp && owned)
			free(data);
	}
	if (!r->resp) {
		r->action = SERVER_RESET;
		return;
	}
	MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
}

/* Prepares a JSON answer; takes the reference to doc. */
static void server_json(struct server_req *r, unsigned status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (!text) {
		server_drop_resp(r);
		r->action = SERVER_RESET;
		return;
	}
	server_respond(r, status, SERVER_CTYPE_JSON, text, strlen(text), 1);
}

static void server_error(struct server_req *r, unsigned status,
			 const char *error, const char *message)
{
	server_json(r, status, userdoc_error(error, message));
}

static void server_text(struct server_req *r, unsigned status, const char *text)
{
	server_respond(r, status, SERVER_CTYPE_TEXT, (char *)text, strlen(text),
		       0);
}

static void server_header(struct server_req *r, const char *name,
			  const char *value)
{
	if (r->resp)
		MHD_add_response_header(r->resp, name, value);
}

/* A 429 with Retry-After in seconds or as an HTTP-date. */
static void server_429(struct server_req *r, long secs, int as_date,
		       const char *message)
{
	char value[64];

	server_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited", message);
	if (as_date) {
		time_t when = time(NULL) + secs;
		struct tm tm;

		gmtime_r(&when, &tm);
		strftime(value, sizeof(value), "%a, %d %b %Y %H:%M:%S GMT",
			 &tm);
	} else {
		snprintf(value, sizeof(value), "%ld", secs);
	}
	server_header(r, MHD_HTTP_HEADER_RETRY_AFTER, value);
	if (r->resp)
		r->retry_after_s = secs;
}

static void server_405(struct server_req *r, const char *allow)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "method not allowed, use %s", allow);
	server_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", msg);
	server_header(r, MHD_HTTP_HEADER_ALLOW, allow);
}

/* ---- /_sandbox/ ----------------------------------------------------- */

static void server_put(json_t *o, const char *key, unsigned long v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

static json_t *server_stats_doc(struct server *s)
{
	struct store_stats ss;
	struct faults_stats fs;
	json_t *o = json_object(), *f = json_object(), *st = json_object();
	int k;

	if (!o || !f || !st) {
		json_decref(o);
		json_decref(f);
		json_decref(st);
		return NULL;
	}
	store_stats(&s->store, &ss);
	faults_snapshot(&s->faults, &fs);
	server_put(o, "requests", server_load(&s->requests));
	server_put(o, "sandbox_requests", server_load(&s->sandbox_requests));
	server_put(o, "unauthorized", server_load(&s->unauthorized));
	server_put(o, "create_requests", server_load(&s->create_requests));
	server_put(o, "send_requests", server_load(&s->send_requests));
	server_put(o, "verify_requests", server_load(&s->verify_requests));
	server_put(o, "get_requests", server_load(&s->get_requests));
	server_put(o, "list_requests", server_load(&s->list_requests));
	server_put(o, "echoed", server_load(&s->echoed));
	server_put(o, "too_large", server_load(&s->too_large));
	server_put(o, "creates", ss.creates);
	server_put(o, "existing_returned", ss.existing_returned);
	server_put(o, "users", ss.users);
	server_put(o, "sms", ss.sms);
	server_put(o, "users_with_sms", ss.users_with_sms);
	server_put(o, "max_sms_per_user", ss.max_sms_per_user);
	server_put(o, "users_with_multiple_sms", ss.users_with_multiple_sms);
	server_put(o, "verified_users", ss.verified_users);
	server_put(o, "verifies_ok", ss.verifies_ok);
	server_put(o, "verifies_failed", ss.verifies_failed);
	server_put(o, "rate_limited", fs.rate_limited);
	server_put(o, "requests_during_pause", fs.during_pause);
	server_put(o, "after_effects", fs.after_effects);
	for (k = FAULT_FIRST_RANDOM; k < FAULT_KIND_COUNT; k++)
		server_put(f, faults_kind_name((enum fault_kind)k),
			   fs.count[k]);
	json_object_set_new(o, "faults", f);
	for (k = 0; k < SERVER_STATUS_MAX; k++) {
		unsigned long n = server_load(&s->status[k]);
		char key[16];

		if (n) {
			snprintf(key, sizeof(key), "%d", k);
			server_put(st, key, n);
		}
	}
	json_object_set_new(o, "responses", st);
	return o;
}

static void server_add_listed(const struct store_view *v, void *cls)
{
	json_array_append_new(cls, userdoc_sandbox_user(v));
}

static void server_one_listed(const struct store_view *v, void *cls)
{
	*(json_t **)cls = userdoc_sandbox_user(v);
}

/* POST /_sandbox/verify-users: the test hook that skips the SMS code. */
static void server_verify_users(struct server_req *r)
{
	char msg[USERDOC_MSG_MAX];
	struct userdoc_verify v;
	unsigned long n;
	int rc;

	rc = userdoc_parse_verify(r->body, r->body_len, &v, msg);
	if (rc == USERDOC_BAD_JSON) {
		server_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
			     "invalid JSON body");
		return;
	}
	if (rc != USERDOC_OK) {
		server_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
			     "validation_error", msg);
		return;
	}
	n = store_mark_verified(&r->srv->store, v.all, v.phones, v.n);
	userdoc_verify_release(&v);
	server_json(r, MHD_HTTP_OK,
		    json_pack("{s:I}", "verified", (json_int_t)n));
}

static void server_sandbox(struct server_req *r, const char *path,
			   const char *method)
{
	struct server *s = r->srv;
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	server_count(&s->sandbox_requests);
	if (strcmp(path, "verify-users") == 0) {
		if (strcmp(method, "POST") != 0) {
			server_405(r, "POST");
			return;
		}
		server_verify_users(r);
	} else if (strcmp(path, "stats") == 0) {
		if (!get) {
			server_405(r, "GET");
			return;
		}
		server_json(r, MHD_HTTP_OK, server_stats_doc(s));
	} else if (strcmp(path, "users") == 0) {
		json_t *list = json_array();

		if (!get) {
			json_decref(list);
			server_405(r, "GET");
			return;
		}
		if (list)
			store_each(&s->store, server_add_listed, list);
		server_json(r, MHD_HTTP_OK, list);
	} else if (strncmp(path, "users/", 6) == 0 && path[6] &&
		   !strchr(path + 6, '/') &&
		   strlen(path + 6) <= SERVER_ID_MAX) {
		json_t *doc = NULL;

		if (!get) {
			server_405(r, "GET");
			return;
		}
		if (store_get(&s->store, path + 6, server_one_listed, &doc) <
		    0) {
			server_error(r, MHD_HTTP_NOT_FOUND, "not_found",
				     "user not found");
			return;
		}
		server_json(r, MHD_HTTP_OK, doc);
	} else {
		server_error(r, MHD_HTTP_NOT_FOUND, "not_found",
			     "no such endpoint");
	}
}

/* ---- /api/v2/users -------------------------------------------------- */

/*
 * Maps a path below /api to an endpoint. Returns 0 and fills ep and id,
 * 404 for an unknown path, or 405 (allow says which method fits).
 */
static int server_route(const char *path, const char *method,
			enum server_ep *ep, char id[SERVER_ID_MAX + 1],
			const char **allow)
{
	const char *rest, *slash;
	size_t idlen;
	int post = strcmp(method, "POST") == 0;
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	*ep = SERVER_EP_NONE;
	id[0] = '\0';
	if (strncmp(path, "/v2/users", 9) != 0)
		return 404;
	rest = path + 9;
	if (!*rest) {
		*allow = "GET, POST";
		*ep = get ? SERVER_EP_LIST : SERVER_EP_CREATE;
		return post || get ? 0 : 405;
	}
	if (*rest != '/' || !rest[1])
		return 404;
	rest++;
	slash = strchr(rest, '/');
	idlen = slash ? (size_t)(slash - rest) : strlen(rest);
	if (idlen == 0 || idlen > SERVER_ID_MAX)
		return 404;
	memcpy(id, rest, idlen);
	id[idlen] = '\0';
	if (!slash) {
		*allow = "GET";
		*ep = SERVER_EP_GET;
		return get ? 0 : 405;
	}
	*allow = "POST";
	if (strcmp(slash, "/send-verification-token") == 0)
		*ep = SERVER_EP_SEND;
	else if (strcmp(slash, "/verify") == 0)
		*ep = SERVER_EP_VERIFY;
	else
		return 404;
	return post ? 0 : 405;
}

static void server_user_doc(const struct store_view *v, void *cls)
{
	*(json_t **)cls = userdoc_user(v);
}

static void server_not_found(struct server_req *r)
{
	server_error(r, MHD_HTTP_NOT_FOUND, "not_found", "user not found");
}

static void server_create(struct server_req *r)
{
	struct server *s = r->srv;
	char msg[USERDOC_MSG_MAX], id[RNG_UUID_LEN + 1];
	struct userdoc_create c;
	json_t *doc = NULL;
	int rc;

	rc = userdoc_parse_create(r->body, r->body_len, &c, msg);
	if (rc == USERDOC_BAD_JSON) {
		server_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
			     "invalid JSON body");
		return;
	}
	if (rc != USERDOC_OK) {
		server_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
			     "validation_error", msg);
		return;
	}
	faults_uuid(&s->faults, id);
	rc = store_create(&s->store, &c.in, id, server_user_doc, &doc);
	userdoc_create_release(&c);
	if (rc < 0) {
		server_error(r, MHD_HTTP_INSUFFICIENT_STORAGE,
			     "insufficient_storage",
			     "the sandbox cannot store more users");
		return;
	}
	server_json(r, rc == 1 ? MHD_HTTP_CREATED : MHD_HTTP_OK, doc);
}

static void server_get(struct server_req *r, const char *id)
{
	json_t *doc = NULL;

	if (store_get(&r->srv->store, id, server_user_doc, &doc) < 0) {
		server_not_found(r);
		return;
	}
	server_json(r, MHD_HTTP_OK, doc);
}

/* The first ?limit of the query string; "" when it has no value. */
struct server_query {
	const char *limit;
};

static enum MHD_Result server_query_arg(void *cls, enum MHD_ValueKind kind,
					const char *key, const char *value)
{
	struct server_query *q = cls;

	(void)kind;
	if (!q->limit && key && strcmp(key, "limit") == 0)
		q->limit = value ? value : "";
	return MHD_YES;
}

static void server_add_user(const struct store_view *v, void *cls)
{
	json_array_append_new(cls, userdoc_user(v));
}

static void server_list(struct server_req *r)
{
	struct server_query q = {NULL};
	json_t *data;
	size_t total;
	long limit;

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND,
				  server_query_arg, &q);
	if (userdoc_parse_limit(q.limit, &limit) != USERDOC_OK) {
		server_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
			     "limit: must be a whole number in 1..100");
		return;
	}
	data = json_array();
	if (!data) {
		server_json(r, MHD_HTTP_OK, NULL);
		return;
	}
	total = store_list(&r->srv->store, (size_t)limit, server_add_user,
			   data);
	server_json(r, MHD_HTTP_OK,
		    userdoc_list(data, total > (size_t)limit));
}

static void server_send(struct server_req *r, const char *id)
{
	char code[RNG_CODE_LEN + 1];

	faults_code(&r->srv->faults, code);
	if (store_send_code(&r->srv->store, id, code) < 0) {
		server_not_found(r);
		return;
	}
	server_text(r, MHD_HTTP_OK, "ok");
}

static void server_verify(struct server_req *r, const char *id)
{
	struct store *st = &r->srv->store;
	char token[USERDOC_TOKEN_MAX + 1], msg[USERDOC_MSG_MAX];
	int rc = userdoc_parse_token(r->body, r->body_len, token, msg);

	if (rc != USERDOC_OK) {
		if (store_get(st, id, NULL, NULL) < 0) {
			server_not_found(r);
			return;
		}
		store_count_verify_failed(st);
		if (rc == USERDOC_BAD_JSON) {
			server_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
				     "invalid JSON body");
			return;
		}
		server_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
			     "validation_error", msg);
		return;
	}
	switch (store_verify(st, id, token)) {
	case STORE_VERIFY_OK:
		server_text(r, MHD_HTTP_OK, "verified");
		return;
	case STORE_VERIFY_UNKNOWN_USER:
		server_not_found(r);
		return;
	case STORE_VERIFY_NO_CODE:
		server_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
			     "validation_error",
			     "token: no verification token was sent");
		return;
	case STORE_VERIFY_WRONG:
	default:
		server_error(r, MHD_HTTP_UNPROCESSABLE_CONTENT,
			     "validation_error",
			     "token: invalid verification token");
		return;
	}
}

static void server_endpoint(struct server_req *r, enum server_ep ep,
			    const char *id)
{
	switch (ep) {
	case SERVER_EP_CREATE:
		server_create(r);
		return;
	case SERVER_EP_LIST:
		server_list(r);
		return;
	case SERVER_EP_GET:
		server_get(r, id);
		return;
	case SERVER_EP_SEND:
		server_send(r, id);
		return;
	case SERVER_EP_VERIFY:
		server_verify(r, id);
		return;
	case SERVER_EP_NONE:
	default:
		server_error(r, MHD_HTTP_NOT_FOUND, "not_found",
			     "no such endpoint");
		return;
	}
}

/*
 * The echo fault: a 422 whose message repeats the Authorization header and
 * the credentials in it (JSON, or text/plain with --echo-raw).
 */
static void server_echo(struct server_req *r)
{
	struct server *s = r->srv;
	char *text = echo_text(MHD_lookup_connection_value(
	    r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
	json_t *doc;

	server_count(&s->echoed);
	if (!text) {
		server_drop_resp(r);
		r->action = SERVER_RESET;
		return;
	}
	doc = s->cfg.echo_raw ? NULL : userdoc_echo(text);
	if (doc) {
		free(text);
		server_json(r, MHD_HTTP_UNPROCESSABLE_CONTENT, doc);
		return;
	}
	/* --echo-raw, or credentials that are not UTF-8: plain text. */
	server_respond(r, MHD_HTTP_UNPROCESSABLE_CONTENT, SERVER_CTYPE_TEXT,
		       text, strlen(text), 1);
}

/* Replaces the prepared answer with the injected fault. */
static void server_fault(struct server_req *r, enum fault_kind k,
			 enum server_ep ep)
{
	struct server *s = r->srv;
	unsigned ok = ep == SERVER_EP_CREATE ? MHD_HTTP_CREATED : MHD_HTTP_OK;

	switch (k) {
	case FAULT_429:
		server_429(r, s->cfg.retry_after_s, s->cfg.retry_after_date,
			   "too many requests (injected)");
		return;
	case FAULT_500:
		server_error(r, 500, "internal_server_error",
			     "internal server error (injected)");
		return;
	case FAULT_502:
		server_error(r, 502, "bad_gateway", "bad gateway (injected)");
		return;
	case FAULT_503:
		server_error(r, 503, "service_unavailable",
			     "service unavailable (injected)");
		return;
	case FAULT_504:
		server_error(r, 504, "gateway_timeout",
			     "gateway timeout (injected)");
		return;
	case FAULT_RESET:
		server_drop_resp(r);
		r->action = SERVER_RESET;
		return;
	case FAULT_HANG:
		server_drop_resp(r);
		r->action = SERVER_HANG;
		return;
	case FAULT_MALFORMED:
		server_respond(r, ok, SERVER_CTYPE_JSON,
			       (char *)server_malformed,
			       sizeof(server_malformed) - 1, 0);
		return;
	case FAULT_OVERSIZE:
		if (!s->oversize) {
			server_error(r, 500, "internal_server_error",
				     "oversize body unavailable");
			return;
		}
		server_respond(r, MHD_HTTP_OK, SERVER_CTYPE_JSON, s->oversize,
			       SERVER_OVERSIZE, 0);
		return;
	case FAULT_NOID:
		server_json(r, ok,
			    json_pack("{s:s, s:s}", "status", "unverified",
				      "message", "created without an id"));
		return;
	case FAULT_HTML:
		server_respond(r, MHD_HTTP_BAD_GATEWAY, SERVER_CTYPE_HTML,
			       (char *)server_html, sizeof(server_html) - 1, 0);
		return;
	case FAULT_ECHO:
		server_echo(r);
		return;
	case FAULT_REDIRECT:
	case FAULT_NONE:
	case FAULT_KIND_COUNT:
	default:
		return;
	}
}

static void server_api(struct server_req *r, const char *path,
		       const char *method)
{
	struct server *s = r->srv;
	struct faults_decision d;
	char id[SERVER_ID_MAX + 1];
	const char *allow = "GET";
	enum server_ep ep;
	int rc;

	if (s->cfg.redirect_url) {
		faults_count(&s->faults, FAULT_REDIRECT);
		server_error(r, MHD_HTTP_FOUND, "redirect", "moved");
		server_header(r, MHD_HTTP_HEADER_LOCATION, s->cfg.redirect_url);
		return;
	}
	if (auth_check(
		MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_AUTHORIZATION),
		s->cfg.client_id, s->cfg.api_key) < 0) {
		server_count(&s->unauthorized);
		server_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
			     "invalid client credentials");
		server_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			      "Basic realm=\"dots-sandbox\"");
		return;
	}
	rc = server_route(path, method, &ep, id, &allow);
	if (rc == 404) {
		server_error(r, MHD_HTTP_NOT_FOUND, "not_found",
			     "no such endpoint");
		return;
	}
	if (rc == 405) {
		server_405(r, allow);
		return;
	}
	if (ep == SERVER_EP_CREATE)
		server_count(&s->create_requests);
	else if (ep == SERVER_EP_LIST)
		server_count(&s->list_requests);
	else if (ep == SERVER_EP_SEND)
		server_count(&s->send_requests);
	else if (ep == SERVER_EP_VERIFY)
		server_count(&s->verify_requests);
	else
		server_count(&s->get_requests);
	faults_decide(&s->faults, r->arrival_ns,
		      ep != SERVER_EP_GET && ep != SERVER_EP_LIST, &d);
	if (d.rate_limited) {
		server_429(r, 1, 0, "rate limit exceeded");
		return;
	}
	if (d.kind == FAULT_NONE || d.effect_first)
		server_endpoint(r, ep, id);
	if (d.kind != FAULT_NONE)
		server_fault(r, d.kind, ep);
}

/* ---- the MHD callbacks ---------------------------------------------- */

/* Appends upload data; past SERVER_BODY_MAX only marks the overflow. */
static void server_take_body(struct server_req *r, const char *data, size_t len)
{
	size_t need;

	if (r->overflow)
		return;
	if (len > SERVER_BODY_MAX - r->body_len) {
		r->overflow = 1;
		return;
	}
	need = r->body_len + len + 1;
	if (need > r->body_cap) {
		size_t cap = r->body_cap * 2;
		char *nb;

		while (cap < need)
			cap *= 2;
		if (cap > SERVER_BODY_MAX + 1)
			cap = SERVER_BODY_MAX + 1;
		nb = r->body == r->inline_body ? malloc(cap)
					       : realloc(r->body, cap);
		if (!nb) {
			r->overflow = 1; /* treated like too large */
			return;
		}
		if (r->body == r->inline_body)
			memcpy(nb, r->inline_body, r->body_len);
		r->body = nb;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
}

/* Hands the prepared answer to MHD (or closes). */
static enum MHD_Result server_finish(struct server_req *r)
{
	struct server *s = r->srv;
	enum MHD_Result ret;

	r->done = 1;
	if (r->action != SERVER_RESPOND || !r->resp)
		return MHD_NO;
	if (r->retry_after_s >= 0)
		faults_note_429(&s->faults, delayq_now_ns(), r->retry_after_s);
	if (r->is_api && r->status < SERVER_STATUS_MAX)
		server_count(&s->status[r->status]);
	ret = MHD_queue_response(r->conn, r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	return ret;
}

/* Answers now, or after delay_ms without holding a worker thread. */
static enum MHD_Result server_park(struct server_req *r, long delay_ms)
{
	struct server *s = r->srv;
	uint64_t due;

	if (r->action == SERVER_HANG)
		due = s->cfg.hang_ms > 0
			  ? delayq_now_ns() +
				(uint64_t)s->cfg.hang_ms * 1000000ULL
			  : DELAYQ_NEVER;
	else if (delay_ms > 0) /* counted from the request's arrival */
		due = r->arrival_ns + (uint64_t)delay_ms * 1000000ULL;
	else
		return server_finish(r);
	r->parked = 1;
	if (s->threaded) {
		if (delayq_sleep_until(&s->delayq, due) < 0)
			return MHD_NO; /* shutting down */
		return server_finish(r);
	}
	MHD_suspend_connection(r->conn);
	if (delayq_add(&s->delayq, due, r) < 0)
		MHD_resume_connection(r->conn); /* full or stopping: now */
	return MHD_YES;
}

static void server_wake(void *item, void *cls)
{
	struct server_req *r = item;

	(void)cls;
	MHD_resume_connection(r->conn);
}

static struct server_req *
server_req_new(struct server *s, struct MHD_Connection *conn, const char *url)
{
	struct server_req *r = malloc(sizeof(*r));

	if (!r)
		return NULL;
	r->srv = s;
	r->conn = conn;
	r->arrival_ns = delayq_now_ns();
	r->is_api =
	    strncmp(url, "/api", 4) == 0 && (url[4] == '/' || url[4] == '\0');
	r->parked = 0;
	r->done = 0;
	r->overflow = 0;
	r->action = SERVER_RESPOND;
	r->resp = NULL;
	r->status = 0;
	r->retry_after_s = -1;
	r->body = r->inline_body;
	r->body_len = 0;
	r->upload_total = 0;
	r->body_cap = sizeof(r->inline_body);
	r->inline_body[0] = '\0';
	return r;
}

/* 413 at once, before reading a body we would refuse anyway. */
static enum MHD_Result server_too_large(struct server_req *r)
{
	server_count(&r->srv->too_large);
	server_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
		     "request body larger than 65536 bytes");
	return server_finish(r);
}

static int server_declares_too_large(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	long n;

	return cl && num_parse_long(cl, 0, SERVER_BODY_MAX, &n) < 0;
}

static enum MHD_Result server_handle(void *cls, struct MHD_Connection *conn,
				     const char *url, const char *method,
				     const char *version,
				     const char *upload_data,
				     size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct server_req *r = *con_cls;

	(void)version;
	if (!r) {
		r = server_req_new(s, conn, url);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		if (r->is_api) {
			server_count(&s->requests);
			faults_arrive(&s->faults, r->arrival_ns);
		}
		if (server_declares_too_large(conn))
			return server_too_large(r);
		return MHD_YES;
	}
	if (r->done) {
		*upload_data_size = 0; /* answered early: discard the rest */
		return MHD_YES;
	}
	if (*upload_data_size) {
		server_take_body(r, upload_data, *upload_data_size);
		r->upload_total += *upload_data_size;
		*upload_data_size = 0;
		/* A chunked body too large: drain it to answer 413, within
		 * reason; an endless one gets the connection closed. */
		return r->upload_total > SERVER_DRAIN_MAX ? MHD_NO : MHD_YES;
	}
	if (r->overflow)
		return server_too_large(r);
	if (r->parked) /* resumed: due, or the server is stopping */
		return r->action == SERVER_RESPOND ? server_finish(r) : MHD_NO;
	if (strnlen(url, SERVER_URL_MAX + 1) > SERVER_URL_MAX) {
		server_error(r, MHD_HTTP_NOT_FOUND, "not_found",
			     "no such endpoint");
		return server_finish(r);
	}
	if (!r->is_api) {
		if (strncmp(url, "/_sandbox/", 10) == 0)
			server_sandbox(r, url + 10, method);
		else
			server_error(r, MHD_HTTP_NOT_FOUND, "not_found",
				     "no such endpoint");
		return server_finish(r);
	}
	server_api(r, url + 4, method);
	return server_park(r, faults_delay_ms(&s->faults));
}

static void server_completed(void *cls, struct MHD_Connection *conn,
			     void **con_cls,
			     enum MHD_RequestTerminationCode toe)
{
	struct server_req *r = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!r)
		return;
	if (r->resp)
		MHD_destroy_response(r->resp);
	if (r->body != r->inline_body)
		free(r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- lifecycle ------------------------------------------------------ */

enum server_part {
	SERVER_PART_STORE = 1,
	SERVER_PART_FAULTS = 2,
	SERVER_PART_DELAYQ = 4,
};

static int server_make_oversize(struct server *s, struct err *err)
{
	static const char head[] = "{\"id\":\"oversize\",\"padding\":\"";
	char *b = malloc(SERVER_OVERSIZE);

	if (!b)
		return err_set(err, "out of memory");
	memset(b, 'x', SERVER_OVERSIZE);
	memcpy(b, head, sizeof(head) - 1);
	memcpy(b + SERVER_OVERSIZE - 2, "\"}", 2);
	s->oversize = b;
	return 0;
}

static struct MHD_Daemon *
server_listen(struct server *s, const struct sockaddr *sa, unsigned flags)
{
	/* The certificate and key when serving HTTPS, else nothing. */
	struct MHD_OptionItem tls[3] = {
	    {MHD_OPTION_END, 0, NULL},
	    {MHD_OPTION_END, 0, NULL},
	    {MHD_OPTION_END, 0, NULL},
	};

	if (s->cfg.tls_cert) {
		flags |= MHD_USE_TLS;
		tls[0].option = MHD_OPTION_HTTPS_MEM_KEY;
		tls[0].ptr_value = (void *)(uintptr_t)s->cfg.tls_key;
		tls[1].option = MHD_OPTION_HTTPS_MEM_CERT;
		tls[1].ptr_value = (void *)(uintptr_t)s->cfg.tls_cert;
	}
	if (s->threaded)
		return MHD_start_daemon(
		    flags | MHD_USE_THREAD_PER_CONNECTION |
			MHD_USE_INTERNAL_POLLING_THREAD,
		    0, NULL, NULL, server_handle, s, MHD_OPTION_SOCK_ADDR, sa,
		    MHD_OPTION_ARRAY, tls,
		    MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections,
		    MHD_OPTION_CONNECTION_TIMEOUT,
		    (unsigned)SERVER_CONN_TIMEOUT_S,
		    MHD_OPTION_NOTIFY_COMPLETED, server_completed, s,
		    MHD_OPTION_END);
	return MHD_start_daemon(
	    flags | MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0,
	    NULL, NULL, server_handle, s, MHD_OPTION_SOCK_ADDR, sa,
	    MHD_OPTION_ARRAY, tls, MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads,
	    MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVER_CONN_TIMEOUT_S,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
	    MHD_OPTION_NOTIFY_COMPLETED, server_completed, s, MHD_OPTION_END);
}

static int server_bind(struct server *s, struct err *err)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	const union MHD_DaemonInfo *info;
	const struct sockaddr *sa;
	unsigned flags = 0;

	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	if (inet_pton(AF_INET, s->cfg.bind_addr, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)s->cfg.port);
		sa = (const struct sockaddr *)&a4;
	} else if (inet_pton(AF_INET6, s->cfg.bind_addr, &a6.sin6_addr) == 1) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)s->cfg.port);
		sa = (const struct sockaddr *)&a6;
		flags |= MHD_USE_IPv6;
	} else {
		return err_set(err, "bind address '%s' is not an IP address",
			       s->cfg.bind_addr);
	}
	s->daemon = server_listen(s, sa, flags);
	if (!s->daemon && s->cfg.tls_cert)
		return err_set(err,
			       "cannot listen on %s port %u, or the TLS "
			       "certificate and key are not a valid PEM pair",
			       s->cfg.bind_addr, s->cfg.port);
	if (!s->daemon)
		return err_set(err, "cannot listen on %s port %u",
			       s->cfg.bind_addr, s->cfg.port);
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : (uint16_t)s->cfg.port;
	return 0;
}

struct server *server_start(const struct server_config *cfg, struct err *err)
{
	struct server *s = calloc(1, sizeof(*s));
	size_t i;

	if (!s) {
		err_set(err, "out of memory");
		return NULL;
	}
	if (!cfg->tls_cert != !cfg->tls_key) {
		free(s);
		err_set(err, "a TLS certificate needs its key and vice versa");
		return NULL;
	}
	if (cfg->tls_cert &&
	    MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		free(s);
		err_set(err, "this libmicrohttpd was built without TLS "
			     "support: --tls-cert cannot be served");
		return NULL;
	}
	userdoc_seed();
	s->cfg = *cfg;
	s->threaded = cfg->trickle;
	for (i = 0; i < SERVER_STATUS_MAX; i++)
		atomic_init(&s->status[i], 0);
	if (store_init(&s->store, err) < 0)
		goto fail;
	s->parts |= SERVER_PART_STORE;
	if (faults_init(&s->faults, &cfg->faults, err) < 0)
		goto fail;
	s->parts |= SERVER_PART_FAULTS;
	/* Every parked request holds a connection: the limit bounds both. */
	if (delayq_init(&s->delayq, (size_t)cfg->max_connections + 64,
			server_wake, s, err) < 0)
		goto fail;
	s->parts |= SERVER_PART_DELAYQ;
	if (cfg->faults.prob[FAULT_OVERSIZE] > 0 &&
	    server_make_oversize(s, err) < 0)
		goto fail;
	if (!s->threaded && delayq_start(&s->delayq, err) < 0)
		goto fail;
	if (server_bind(s, err) < 0)
		goto fail;
	return s;
fail:
	server_free(s);
	return NULL;
}

unsigned server_port(const struct server *s) { return s->port; }

void server_free(struct server *s)
{
	if (!s)
		return;
	/* Resume every parked request first: MHD must not stop with
	 * suspended connections, and none can be parked afterwards. */
	if (s->parts & SERVER_PART_DELAYQ)
		delayq_stop(&s->delayq);
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	if (s->parts & SERVER_PART_DELAYQ)
		delayq_release(&s->delayq);
	if (s->parts & SERVER_PART_FAULTS)
		faults_release(&s->faults);
	if (s->parts & SERVER_PART_STORE)
		store_release(&s->store);
	free(s->oversize);
	free(s);
}
