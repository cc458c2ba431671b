/*
 * server.c - libmicrohttpd glue (HTTP, or HTTPS from PEM texts): starts and
 * stops the daemon, reads each upload within its bound, asks api.c for the
 * answer and queues it, parking delayed requests (suspend + delayq) so
 * latency never holds a worker thread. No API logic here: no routes, JSON
 * or faults. The only file with <microhttpd.h>; prints nothing.
 */
#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "delayq.h"
#include "num.h"
#include "userdoc.h"

#include "banned.h"

#define SERVER_DRAIN_MAX (16u << 20) /* bytes read past the body cap */
#define SERVER_INLINE_BODY 2048	     /* bodies up to this need no malloc */
#define SERVER_CONN_TIMEOUT_S 120    /* idle keep-alive connections */

_Static_assert(REPLY_NEVER == DELAYQ_NEVER, "a hang parks until stop");

struct server {
	struct server_config cfg;
	struct MHD_Daemon *daemon;
	struct api api;
	struct delayq delayq;
	int threaded; /* thread per connection (--trickle) */
	int parts;    /* init progress, for server_free */
	uint16_t port; /* bound port */
};

/* One HTTP request, from its headers to its completion callback. */
struct server_req {
	struct server *srv;
	struct MHD_Connection *conn;
	uint64_t arrival_ns; /* monotonic, at the first handler call */
	int parked;	     /* suspended (or slept), waiting for due */
	int done;	     /* final answer given */
	int overflow;	     /* body exceeded API_BODY_MAX */
	struct reply reply;  /* the answer, from api.c */
	char *body;	     /* inline or heap, body_len bytes + NUL */
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

/*
 * The MHD response for a REPLY_RESPOND reply, taking its body; NULL on out
 * of memory (the connection is then closed).
 */
static struct MHD_Response *server_response(struct server *s,
					    struct reply *rp)
{
	struct MHD_Response *resp;
	size_t len = rp->body_len, i;
	int owned;
	char *data = reply_take_body(rp, &owned);

	if (rp->trickle) {
		struct server_trickle *t = malloc(sizeof(*t));

		if (!t) {
			if (owned)
				free(data);
			return NULL;
		}
		t->srv = s;
		t->data = data;
		t->len = len;
		t->owned = owned;
		resp = MHD_create_response_from_callback(
		    len, 1, server_trickle_read, t, server_trickle_free);
		if (!resp)
			server_trickle_free(t);
	} else {
		resp = MHD_create_response_from_buffer(
		    len, data,
		    owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
		if (!resp && owned)
			free(data);
	}
	if (!resp)
		return NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				rp->ctype);
	for (i = 0; i < rp->n_headers; i++)
		MHD_add_response_header(resp, rp->headers[i].name,
					reply_header_value(&rp->headers[i]));
	return resp;
}

/* Hands the prepared answer to MHD (or closes). */
static enum MHD_Result server_finish(struct server_req *r)
{
	struct server *s = r->srv;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	r->done = 1;
	if (r->reply.action != REPLY_RESPOND || !r->reply.body)
		return MHD_NO;
	resp = server_response(s, &r->reply);
	if (!resp)
		return MHD_NO;
	api_sent(&s->api, &r->reply, delayq_now_ns());
	ret = MHD_queue_response(r->conn, r->reply.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Answers now, or at the reply's due time without holding a worker. */
static enum MHD_Result server_park(struct server_req *r)
{
	struct server *s = r->srv;

	if (!r->reply.park)
		return server_finish(r);
	r->parked = 1;
	if (s->threaded) {
		if (delayq_sleep_until(&s->delayq, r->reply.due_ns) < 0)
			return MHD_NO; /* shutting down */
		return server_finish(r);
	}
	MHD_suspend_connection(r->conn);
	if (delayq_add(&s->delayq, r->reply.due_ns, r) < 0)
		MHD_resume_connection(r->conn); /* full or stopping: now */
	return MHD_YES;
}

static void server_wake(void *item, void *cls)
{
	struct server_req *r = item;

	(void)cls;
	MHD_resume_connection(r->conn);
}

/* ---- the MHD callbacks ---------------------------------------------- */

/* Appends upload data; past API_BODY_MAX only marks the overflow. */
static void server_take_body(struct server_req *r, const char *data, size_t len)
{
	size_t need;

	if (r->overflow)
		return;
	if (len > API_BODY_MAX - r->body_len) {
		r->overflow = 1;
		return;
	}
	need = r->body_len + len + 1;
	if (need > r->body_cap) {
		size_t cap = r->body_cap * 2;
		char *nb;

		while (cap < need)
			cap *= 2;
		if (cap > API_BODY_MAX + 1)
			cap = API_BODY_MAX + 1;
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

static struct server_req *server_req_new(struct server *s,
					 struct MHD_Connection *conn)
{
	struct server_req *r = malloc(sizeof(*r));

	if (!r)
		return NULL;
	r->srv = s;
	r->conn = conn;
	r->arrival_ns = delayq_now_ns();
	r->parked = 0;
	r->done = 0;
	r->overflow = 0;
	reply_init(&r->reply);
	r->body = r->inline_body;
	r->body_len = 0;
	r->upload_total = 0;
	r->body_cap = sizeof(r->inline_body);
	r->inline_body[0] = '\0';
	return r;
}

/* 413 at once, before reading a body we would refuse anyway. */
static enum MHD_Result server_too_large(struct server_req *r, const char *url)
{
	api_too_large(&r->srv->api, url, &r->reply);
	return server_finish(r);
}

static int server_declares_too_large(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	long n;

	return cl && num_parse_long(cl, 0, API_BODY_MAX, &n) < 0;
}

/* Keeps the first ?limit of the query string; "" when it has no value. */
static enum MHD_Result server_query_arg(void *cls, enum MHD_ValueKind kind,
					const char *key, const char *value)
{
	const char **limit = cls;

	(void)kind;
	if (!*limit && key && strcmp(key, "limit") == 0)
		*limit = value ? value : "";
	return MHD_YES;
}

/* The complete request, described for api_handle. */
static void server_answer(struct server_req *r, const char *url,
			  const char *method)
{
	struct api_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.limit = NULL;
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND,
				  server_query_arg, &rq.limit);
	rq.authorization = MHD_lookup_connection_value(
	    r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	rq.body = r->body;
	rq.body_len = r->body_len;
	rq.arrival_ns = r->arrival_ns;
	rq.now_ns = delayq_now_ns();
	rq.now_wall = time(NULL);
	api_handle(&r->srv->api, &rq, &r->reply);
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
		r = server_req_new(s, conn);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		api_arrive(&s->api, url, r->arrival_ns);
		if (server_declares_too_large(conn))
			return server_too_large(r, url);
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
		return server_too_large(r, url);
	if (r->parked) /* resumed: due, or the server is stopping */
		return r->reply.action == REPLY_RESPOND ? server_finish(r)
							: MHD_NO;
	server_answer(r, url, method);
	return server_park(r);
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
	reply_clear(&r->reply);
	if (r->body != r->inline_body)
		free(r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- lifecycle ------------------------------------------------------ */

enum server_part {
	SERVER_PART_API = 1,
	SERVER_PART_DELAYQ = 2,
};

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
	struct api_config ac;

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
	memset(&ac, 0, sizeof(ac));
	ac.client_id = cfg->client_id;
	ac.api_key = cfg->api_key;
	ac.retry_after_s = cfg->retry_after_s;
	ac.retry_after_date = cfg->retry_after_date;
	ac.trickle = cfg->trickle;
	ac.redirect_url = cfg->redirect_url;
	ac.hang_ms = cfg->hang_ms;
	ac.echo_raw = cfg->echo_raw;
	ac.faults = cfg->faults;
	ac.limit = cfg->limit;
	ac.start_ns = delayq_now_ns();
	if (api_init(&s->api, &ac, err) < 0)
		goto fail;
	s->parts |= SERVER_PART_API;
	/* Every parked request holds a connection: the limit bounds both. */
	if (delayq_init(&s->delayq, (size_t)cfg->max_connections + 64,
			server_wake, s, err) < 0)
		goto fail;
	s->parts |= SERVER_PART_DELAYQ;
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
	if (s->parts & SERVER_PART_API)
		api_release(&s->api);
	free(s);
}
