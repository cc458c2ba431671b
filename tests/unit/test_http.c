/*
 * test_http.c - lib/http.c against real sockets on 127.0.0.1 only: a tiny
 * blocking HTTP/1.1 responder in a thread (canned answers, one request per
 * connection) and a second listener standing in for a proxy. Checks GET and
 * POST on one reused handle, masking of echoed credentials, that plain http
 * never goes to a proxy and https only as a CONNECT tunnel without the
 * Authorization header, and the DNS / TLS / closed-port classifications.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "outcome.h"
#include "scrub.h"

#include "banned.h"

#define CLIENT_ID "client-1"
#define API_KEY "k3y/Secret+x"
#define TOKEN "Y2xpZW50LTE6azN5L1NlY3JldCt4" /* base64(CLIENT_ID ":" API_KEY) */

/* s starts with the string literal lit */
#define STARTS(s, lit) (strncmp((s), (lit), sizeof(lit) - 1) == 0)

/* ---- the responder ---------------------------------------------------- */

struct server {
	int fd;
	int port;
	pthread_t th;
	atomic_int stop;
	atomic_int accepted;     /* connections accepted */
	pthread_mutex_t mu;
	int nreq;                /* complete request heads read */
	char req[8192];          /* the last request: head and body */
	int status;              /* answer: status ... */
	const char *body;        /* ... and body; "%AUTH%" becomes the request's
				  * Authorization value */
};

static int listen_local(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* The value of header `name` (case-insensitive) in head, copied to out. */
static void header_value(const char *head, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
		const char *p = l + 2, *end;
		size_t i;

		for (i = 0; i < n && p[i] && tolower((unsigned char)p[i]) == name[i]; i++)
			;
		if (i < n || p[n] != ':')
			continue;
		p += n + 1;
		while (*p == ' ')
			p++;
		end = strstr(p, "\r\n");
		if (!end)
			return;
		snprintf(out, cap, "%.*s", (int)(end - p), p);
		return;
	}
}

static ssize_t read_some(int c, char *buf, size_t cap)
{
	struct pollfd p = {.fd = c, .events = POLLIN};

	if (poll(&p, 1, 3000) <= 0)
		return -1;
	return read(c, buf, cap);
}

static void serve_one(struct server *s, int c)
{
	char buf[8192], auth[512], clen[32], body[4096], resp[8192];
	size_t len = 0, want;
	char *end = NULL;
	const char *tpl;
	int n, bn = 0;

	while (len + 1 < sizeof(buf)) {
		ssize_t r = read_some(c, buf + len, sizeof(buf) - 1 - len);

		if (r <= 0)
			return; /* closed without a request (a TLS client) */
		len += (size_t)r;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	if (!end)
		return;
	header_value(buf, "content-length", clen, sizeof(clen));
	want = (size_t)(end + 4 - buf) + (size_t)strtoul(clen, NULL, 10);
	while (len < want && len + 1 < sizeof(buf)) {
		ssize_t r = read_some(c, buf + len, sizeof(buf) - 1 - len);

		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
	}
	header_value(buf, "authorization", auth, sizeof(auth));
	pthread_mutex_lock(&s->mu);
	s->nreq++;
	snprintf(s->req, sizeof(s->req), "%s", buf);
	tpl = s->body ? s->body : "";
	for (const char *p = tpl; *p && bn + 1 < (int)sizeof(body);) {
		if (STARTS(p, "%AUTH%")) {
			bn += snprintf(body + bn, sizeof(body) - (size_t)bn, "%s", auth);
			p += 6;
		} else {
			body[bn++] = *p++;
		}
		body[bn] = '\0';
	}
	body[bn] = '\0';
	n = snprintf(resp, sizeof(resp),
		     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
		     "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
		     s->status, bn, body);
	pthread_mutex_unlock(&s->mu);
	if (n > 0 && write(c, resp, (size_t)n) < 0)
		return;
}

static void *server_main(void *arg)
{
	struct server *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		int c;

		if (poll(&p, 1, 20) <= 0)
			continue;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		atomic_fetch_add(&s->accepted, 1);
		serve_one(s, c);
		shutdown(c, SHUT_WR);
		close(c);
	}
	return NULL;
}

static int server_start(struct server *s, int status, const char *body)
{
	memset(s, 0, sizeof(*s));
	s->status = status;
	s->body = body;
	pthread_mutex_init(&s->mu, NULL);
	s->fd = listen_local(&s->port);
	if (s->fd < 0)
		return -1;
	return pthread_create(&s->th, NULL, server_main, s) == 0 ? 0 : -1;
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->mu);
}

static void server_last(struct server *s, char *out, size_t cap, int *nreq)
{
	pthread_mutex_lock(&s->mu);
	snprintf(out, cap, "%s", s->req);
	*nreq = s->nreq;
	pthread_mutex_unlock(&s->mu);
}

/* ---- fixture ---------------------------------------------------------- */

struct fx {
	struct server api, proxy;
	struct http *h;
};

static const char *const proxy_vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy",
					 "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
					 "no_proxy", "NO_PROXY"};

static void clear_proxy_env(void)
{
	for (size_t i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++)
		unsetenv(proxy_vars[i]);
}

static const struct http_opts opts = {
	.username = CLIENT_ID,
	.password = API_KEY,
	.connect_timeout_ms = 2000,
	.request_timeout_ms = 5000,
	.max_in_flight = 1, /* one easy handle: every request reuses it */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	clear_proxy_env();
	if (!f || server_start(&f->api, 200, "{\"id\":\"u1\"}") < 0 ||
	    server_start(&f->proxy, 403, "") < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	http_free(f->h);
	server_stop(&f->api);
	server_stop(&f->proxy);
	clear_proxy_env();
	free(f);
	return 0;
}

static void new_engine(struct fx *f)
{
	struct err e;

	err_init(&e);
	if (http_new(&f->h, &opts, &e) < 0)
		fail_msg("http_new: %s", e.msg);
}

/* Runs one request to the end; body copied to body (may be NULL). */
static void run(struct fx *f, const struct http_request *req, struct http_result *res,
		char *body, size_t cap)
{
	struct err e;

	err_init(&e);
	if (http_start(f->h, req, &e) < 0)
		fail_msg("http_start: %s", e.msg);
	for (int i = 0; i < 200; i++) {
		if (http_poll(f->h, 50, &e) < 0)
			fail_msg("http_poll: %s", e.msg);
		if (http_next_result(f->h, res)) {
			if (body)
				snprintf(body, cap, "%s", res->body);
			return;
		}
	}
	fail_msg("no result after 10 s");
}

static void url(char *out, size_t cap, const char *scheme, int port, const char *path)
{
	snprintf(out, cap, "%s://127.0.0.1:%d%s", scheme, port, path);
}

/* ---- tests ------------------------------------------------------------ */

static void test_get_and_post_share_a_handle(void **state)
{
	struct fx *f = *state;
	char create[128], get[128], send[160], seen[8192];
	struct http_result res;
	struct http_request post = {.body = "{\"a\":1}", .body_len = 7, .url_repeats = 1};
	struct http_request greq = {.get = 1, .url_repeats = 1};
	struct http_request sreq = {.body = "{}", .body_len = 2, .once = 1};
	int n;

	new_engine(f);
	url(create, sizeof(create), "http", f->api.port, "/api/v2/users");
	url(get, sizeof(get), "http", f->api.port, "/api/v2/users?limit=1");
	snprintf(send, sizeof(send), "%s/u1/send-verification-token", create);
	post.url = create;
	greq.url = get;
	sreq.url = send;

	run(f, &post, &res, NULL, 0);
	assert_int_equal(res.transport, TRANSPORT_OK);
	server_last(&f->api, seen, sizeof(seen), &n);
	assert_true(STARTS(seen, "POST /api/v2/users HTTP/1.1\r\n"));
	assert_non_null(strstr(seen, "\r\n\r\n{\"a\":1}"));

	run(f, &greq, &res, NULL, 0);
	assert_int_equal(res.transport, TRANSPORT_OK);
	assert_int_equal(res.status, 200);
	server_last(&f->api, seen, sizeof(seen), &n);
	assert_int_equal(n, 2);
	if (!STARTS(seen, "GET /api/v2/users?limit=1 HTTP/1.1\r\n"))
		fail_msg("GET arrived as: %.60s", seen);
	assert_null(strstr(seen, "Content-Length"));
	assert_non_null(strstr(seen, "Authorization: Basic " TOKEN "\r\n"));
	assert_true(strlen(strstr(seen, "\r\n\r\n")) == 4); /* no body */

	/* back to POST on the same handle, the create URL's parse still used */
	run(f, &post, &res, NULL, 0);
	server_last(&f->api, seen, sizeof(seen), &n);
	assert_true(STARTS(seen, "POST /api/v2/users HTTP/1.1\r\n"));
	assert_non_null(strstr(seen, "Content-Length: 7\r\n"));
	run(f, &sreq, &res, NULL, 0);
	server_last(&f->api, seen, sizeof(seen), &n);
	assert_int_equal(n, 4);
	assert_true(STARTS(seen, "POST /api/v2/users/u1/send-verification-token HTTP/1.1\r\n"));
	assert_non_null(strstr(seen, "\r\n\r\n{}"));
	run(f, &greq, &res, NULL, 0);
	server_last(&f->api, seen, sizeof(seen), &n);
	assert_true(STARTS(seen, "GET /api/v2/users?limit=1 HTTP/1.1\r\n"));
}

static void test_echoed_credentials_are_masked(void **state)
{
	struct fx *f = *state;
	char u[128], body[4096], line[512];
	struct http_result res;
	struct http_request req = {.get = 1};
	struct outcome_info in;

	f->api.status = 400;
	f->api.body = "{\"message\":\"you sent '%AUTH%', key " API_KEY
		      " or k3y%2fSecret%2bx, id " CLIENT_ID "\"}";
	new_engine(f);
	url(u, sizeof(u), "http", f->api.port, "/api/v2/users?limit=1");
	req.url = u;
	run(f, &req, &res, body, sizeof(body));
	assert_int_equal(res.status, 400);
	assert_int_equal(res.body_len, strlen(body));
	assert_null(strstr(body, API_KEY));
	assert_null(strstr(body, TOKEN));
	assert_null(strstr(body, "k3y%2f"));
	assert_null(strstr(body, CLIENT_ID));
	assert_non_null(strstr(body, "'Basic ****************************'"));
	assert_ptr_equal(res.scrub, http_scrub(f->h));
	http_outcome_info(&res, outcome_classify(res.transport, res.status), &in);
	assert_ptr_equal(in.scrub, http_scrub(f->h));
	in.attempts = 1;
	outcome_describe(&in, "", line, sizeof(line));
	assert_true(STARTS(line, "HTTP 400: you sent 'Basic ****"));
	assert_null(strstr(line, "k3y"));
}

static void test_plain_http_ignores_proxy_env(void **state)
{
	struct fx *f = *state;
	char u[128], p[64], seen[8192];
	struct http_result res;
	struct http_request req = {.get = 1};
	int n;

	snprintf(p, sizeof(p), "http://127.0.0.1:%d", f->proxy.port);
	setenv("http_proxy", p, 1);
	setenv("HTTP_PROXY", p, 1);
	setenv("all_proxy", p, 1);
	new_engine(f);
	url(u, sizeof(u), "http", f->api.port, "/api/v2/users?limit=1");
	req.url = u;
	run(f, &req, &res, NULL, 0);
	assert_int_equal(res.transport, TRANSPORT_OK);
	assert_int_equal(res.status, 200);
	server_last(&f->api, seen, sizeof(seen), &n);
	assert_int_equal(n, 1);
	assert_int_equal(atomic_load(&f->proxy.accepted), 0);
	/* a POST too, and a scheme in capitals */
	url(u, sizeof(u), "HTTP", f->api.port, "/api/v2/users");
	req.get = 0;
	run(f, &req, &res, NULL, 0);
	assert_int_equal(res.status, 200);
	assert_int_equal(atomic_load(&f->proxy.accepted), 0);
}

/* https goes to the proxy only as CONNECT, and the credentials stay out of
 * it. The proxy refuses the tunnel, so no TLS server is needed. */
static void test_https_proxy_is_a_tunnel(void **state)
{
	struct fx *f = *state;
	char u[128], p[64], seen[8192], want[64];
	struct http_result res;
	struct http_request req = {.body = "{}", .body_len = 2};
	int n;

	snprintf(p, sizeof(p), "http://127.0.0.1:%d", f->proxy.port);
	setenv("https_proxy", p, 1);
	setenv("http_proxy", p, 1);
	new_engine(f);
	url(u, sizeof(u), "https", f->api.port, "/api/v2/users");
	req.url = u;
	run(f, &req, &res, NULL, 0);
	assert_int_not_equal(res.transport, TRANSPORT_OK);
	server_last(&f->proxy, seen, sizeof(seen), &n);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n", f->api.port);
	if (strncmp(seen, want, strlen(want)) != 0)
		fail_msg("the proxy saw: %.80s", seen);
	assert_null(strstr(seen, "Authorization"));
	assert_null(strstr(seen, TOKEN));
	assert_int_equal(atomic_load(&f->api.accepted), 0);
	/* the same engine, plain http: straight to the server */
	url(u, sizeof(u), "http", f->api.port, "/api/v2/users");
	run(f, &req, &res, NULL, 0);
	assert_int_equal(res.status, 200);
	server_last(&f->proxy, seen, sizeof(seen), &n);
	assert_int_equal(n, 1);
	assert_int_equal(atomic_load(&f->proxy.accepted), 1);
}

/*
 * A name that cannot resolve without asking anyone: its first label is
 * longer than DNS allows (63 bytes, RFC 1035), so the resolver refuses to
 * build a query and no packet leaves the machine (a plain .invalid name
 * would still be sent to the configured name server); .invalid (RFC 6761)
 * is the second guard. It also holds the client id, to see the detail and
 * the host masked.
 */
#define LONG_LABEL "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define NO_HOST CLIENT_ID "." LONG_LABEL ".invalid"

static void test_dns_failure_is_config(void **state)
{
	struct fx *f = *state;
	struct http_result res;
	struct http_request req = {.get = 1, .url = "http://" NO_HOST "/api/v2/users?limit=1"};
	struct outcome_info in;
	char line[512];

	new_engine(f);
	run(f, &req, &res, NULL, 0);
	if (res.transport != TRANSPORT_DNS)
		fail_msg("transport %d: %s", (int)res.transport, res.detail);
	assert_int_equal(outcome_classify(res.transport, res.status), OUTCOME_CONFIG);
	assert_non_null(res.host);
	assert_string_equal(res.host, "********." LONG_LABEL ".invalid");
	assert_null(strstr(res.detail, CLIENT_ID));
	http_outcome_info(&res, OUTCOME_CONFIG, &in);
	in.attempts = 1;
	outcome_describe(&in, "", line, sizeof(line));
	assert_string_equal(line, "cannot resolve host '********." LONG_LABEL
				  ".invalid': check --base-url");
}

static void test_closed_port_is_not_sent(void **state)
{
	struct fx *f = *state;
	struct http_result res;
	struct http_request req = {.body = "{}", .body_len = 2};
	char u[128];
	int port, fd = listen_local(&port);

	assert_true(fd >= 0);
	close(fd); /* nothing listens there now */
	new_engine(f);
	url(u, sizeof(u), "http", port, "/api/v2/users");
	req.url = u;
	run(f, &req, &res, NULL, 0);
	assert_int_equal(res.transport, TRANSPORT_NOT_SENT);
	assert_int_equal(outcome_classify(res.transport, res.status), OUTCOME_NOT_SENT);
	assert_null(res.host);
}

/* An unreadable CA file fails before the TLS handshake starts. */
static void test_bad_ca_file_is_tls(void **state)
{
	struct fx *f = *state;
	struct http_opts o = opts;
	struct http_result res;
	struct http_request req = {.get = 1};
	struct outcome_info in;
	struct err e;
	char u[128], line[512];

	o.ca_cert = "/nonexistent/dots-test-ca.pem";
	err_init(&e);
	if (http_new(&f->h, &o, &e) < 0)
		fail_msg("http_new: %s", e.msg);
	url(u, sizeof(u), "https", f->api.port, "/api/v2/users?limit=1");
	req.url = u;
	run(f, &req, &res, NULL, 0);
	if (res.transport != TRANSPORT_TLS)
		fail_msg("transport %d: %s", (int)res.transport, res.detail);
	http_outcome_info(&res, outcome_classify(res.transport, res.status), &in);
	assert_int_equal(in.outcome, OUTCOME_CONFIG);
	in.attempts = 1;
	outcome_describe(&in, "", line, sizeof(line));
	assert_true(STARTS(line, "TLS: certificate not trusted ("));
	assert_non_null(strstr(line, "): use --ca-cert FILE, or check the base URL's host"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_and_post_share_a_handle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_echoed_credentials_are_masked, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plain_http_ignores_proxy_env, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_https_proxy_is_a_tunnel, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dns_failure_is_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_port_is_not_sent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_ca_file_is_tls, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
