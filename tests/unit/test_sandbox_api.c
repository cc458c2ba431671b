/*
 * test_sandbox_api.c - unit tests for dots-sandbox's API logic (api.c,
 * hooks.c, reply.c, stats.c) driven directly, without libmicrohttpd or a socket:
 * users-v2 happy paths, auth, routing, validation, every fault's rendering,
 * the rate limiter, latency deadlines, stats and /_sandbox/ routes.
 * Times are fixed values: nothing here sleeps or reads a clock.
 * The sandbox is not in libdots.a, so its sources are compiled in here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* System headers first: each included .c ends with banned.h. */
#include "../../cmd/dots-sandbox/api.c"
#include "../../cmd/dots-sandbox/auth.c"
#include "../../cmd/dots-sandbox/echo.c"
#include "../../cmd/dots-sandbox/faults.c"
#include "../../cmd/dots-sandbox/hooks.c"
#include "../../cmd/dots-sandbox/limit.c"
#include "../../cmd/dots-sandbox/limitdoc.c"
#include "../../cmd/dots-sandbox/reply.c"
#include "../../cmd/dots-sandbox/rng.c"
#include "../../cmd/dots-sandbox/stats.c"
#include "../../cmd/dots-sandbox/store.c"
#include "../../cmd/dots-sandbox/userdoc.c"

#include "banned.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define T0 (1000 * SEC)		      /* monotonic "now" of the tests */
#define WALL ((time_t)1700000000)     /* 2023-11-14 22:13:20 UTC */
#define AUTH_OK "Basic Y2lkOmtleQ=="  /* cid:key */
#define AUTH_BAD "Basic Y2lkOmJhZA==" /* cid:bad */
#define AUTH_OTHER "Basic eDp5"	      /* x:y */

static const char user1[] =
    "{\"email\":\"u1@example.com\",\"country_code\":\"1\","
    "\"phone_number\":\"4155550001\",\"first_name\":\"F1\","
    "\"last_name\":\"L\"}";
static const char user2[] =
    "{\"email\":\"u2@example.com\",\"country_code\":\"1\","
    "\"phone_number\":\"4155550002\",\"first_name\":\"F2\","
    "\"last_name\":\"L\"}";

/* ---- helpers -------------------------------------------------------- */

static void cfg_default(struct api_config *c)
{
	memset(c, 0, sizeof(*c));
	c->client_id = "cid";
	c->api_key = "key";
	c->retry_after_s = 1;
	c->faults.seed = 1;
	c->faults.pause_grace_ms = 200;
}

static struct api *api_new(const struct api_config *c)
{
	struct api *a = malloc(sizeof(*a));
	struct err e;

	assert_non_null(a);
	err_init(&e);
	assert_int_equal(api_init(a, c, &e), 0);
	return a;
}

static struct api *api_plain(void)
{
	struct api_config c;

	cfg_default(&c);
	return api_new(&c);
}

static void api_free(struct api *a)
{
	api_release(a);
	free(a);
}

/* One request at T0 with arrival T0, as the glue would describe it. */
static void call_at(struct api *a, const char *method, const char *url,
		    const char *auth, const char *body, const char *limit,
		    uint64_t at_ns, struct reply *out)
{
	struct api_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.limit = limit;
	rq.authorization = auth;
	rq.body = body ? body : "";
	rq.body_len = body ? strlen(body) : 0;
	rq.arrival_ns = at_ns;
	rq.now_ns = at_ns;
	rq.now_wall = WALL;
	api_arrive(a, url, at_ns);
	api_handle(a, &rq, out);
}

static void call(struct api *a, const char *method, const char *url,
		 const char *body, struct reply *out)
{
	call_at(a, method, url, AUTH_OK, body, NULL, T0, out);
}

/* The reply's body as JSON (asserting it is JSON). */
static json_t *body_json(const struct reply *r)
{
	json_error_t jerr;
	json_t *doc;

	assert_int_equal(r->action, REPLY_RESPOND);
	assert_string_equal(r->ctype, REPLY_CTYPE_JSON);
	doc = json_loadb(r->body, r->body_len, 0, &jerr);
	assert_non_null(doc);
	return doc;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	assert_non_null(s);
	return s;
}

/* Asserts status + {"error": error, "message" containing msg}. */
static void expect_error(struct reply *r, unsigned status, const char *error,
			 const char *msg)
{
	json_t *doc = body_json(r);

	assert_int_equal(r->status, status);
	assert_string_equal(jstr(doc, "error"), error);
	assert_non_null(strstr(jstr(doc, "message"), msg));
	json_decref(doc);
	reply_clear(r);
}

/* Creates user body, returns its id in id (37 bytes). */
static void create_user(struct api *a, const char *body, unsigned want,
			char *id)
{
	struct reply r;
	json_t *doc;

	call(a, "POST", "/api/v2/users", body, &r);
	assert_int_equal(r.status, want);
	doc = body_json(&r);
	assert_int_equal(strlen(jstr(doc, "id")), RNG_UUID_LEN);
	memcpy(id, jstr(doc, "id"), RNG_UUID_LEN + 1);
	json_decref(doc);
	reply_clear(&r);
}

/* The last code sent to user id, from /_sandbox/users/{id}. */
static void last_code(struct api *a, const char *id, char *code)
{
	char url[128];
	struct reply r;
	json_t *doc;

	snprintf(url, sizeof(url), "/_sandbox/users/%s", id);
	call(a, "GET", url, NULL, &r);
	assert_int_equal(r.status, 200);
	doc = body_json(&r);
	assert_int_equal(strlen(jstr(doc, "last_code")), RNG_CODE_LEN);
	memcpy(code, jstr(doc, "last_code"), RNG_CODE_LEN + 1);
	json_decref(doc);
	reply_clear(&r);
}

static json_t *stats_now(struct api *a)
{
	struct reply r;
	json_t *doc;

	call(a, "GET", "/_sandbox/stats", NULL, &r);
	assert_int_equal(r.status, 200);
	doc = body_json(&r);
	reply_clear(&r);
	return doc;
}

static json_int_t stat(json_t *st, const char *key)
{
	json_t *v = json_object_get(st, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* ---- users-v2 ------------------------------------------------------- */

static void test_api_create_get_list(void **state)
{
	struct api *a = api_plain();
	char id1[RNG_UUID_LEN + 1], id2[RNG_UUID_LEN + 1], again[64], url[128];
	struct reply r;
	json_t *doc;

	(void)state;
	create_user(a, user1, 201, id1);
	create_user(a, user1, 200, again); /* same phone: existing user */
	assert_string_equal(id1, again);
	create_user(a, user2, 201, id2);
	assert_string_not_equal(id1, id2);

	snprintf(url, sizeof(url), "/api/v2/users/%s", id1);
	call(a, "GET", url, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(r.is_api);
	assert_false(r.park);
	doc = body_json(&r);
	assert_string_equal(jstr(doc, "id"), id1);
	assert_string_equal(jstr(doc, "email"), "u1@example.com");
	assert_string_equal(jstr(doc, "status"), "unverified");
	json_decref(doc);
	reply_clear(&r);

	call(a, "HEAD", url, NULL, &r); /* HEAD is a GET */
	assert_int_equal(r.status, 200);
	reply_clear(&r);

	call_at(a, "GET", "/api/v2/users", AUTH_OK, NULL, "1", T0, &r);
	assert_int_equal(r.status, 200);
	doc = body_json(&r);
	assert_int_equal(json_array_size(json_object_get(doc, "data")), 1);
	assert_true(json_is_true(json_object_get(doc, "has_more")));
	assert_string_equal(
	    jstr(json_array_get(json_object_get(doc, "data"), 0), "id"), id1);
	json_decref(doc);
	reply_clear(&r);

	call(a, "GET", "/api/v2/users", NULL, &r); /* default limit 10 */
	doc = body_json(&r);
	assert_int_equal(json_array_size(json_object_get(doc, "data")), 2);
	assert_true(json_is_false(json_object_get(doc, "has_more")));
	json_decref(doc);
	reply_clear(&r);

	call(a, "GET", "/api/v2/users/no-such-user", NULL, &r);
	expect_error(&r, 404, "not_found", "user not found");
	api_free(a);
}

static void test_api_send_verify(void **state)
{
	struct api *a = api_plain();
	char id1[RNG_UUID_LEN + 1], id2[RNG_UUID_LEN + 1];
	char code[RNG_CODE_LEN + 1], url[160], body[64];
	struct reply r;
	json_t *st;

	(void)state;
	create_user(a, user1, 201, id1);
	create_user(a, user2, 201, id2);
	snprintf(url, sizeof(url), "/api/v2/users/%s/send-verification-token",
		 id1);
	call(a, "POST", url, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, REPLY_CTYPE_TEXT);
	assert_int_equal(r.body_len, 2);
	assert_memory_equal(r.body, "ok", 2);
	reply_clear(&r);
	last_code(a, id1, code);

	snprintf(url, sizeof(url), "/api/v2/users/%s/verify", id1);
	call(a, "POST", url, "{\"token\":\"wrong!\"}", &r);
	expect_error(&r, 422, "validation_error",
		     "token: invalid verification token");
	call(a, "POST", url, "{\"token\": 5", &r);
	expect_error(&r, 400, "bad_request", "invalid JSON body");
	call(a, "POST", url, "{}", &r);
	expect_error(&r, 422, "validation_error", "token");
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", code);
	call(a, "POST", url, body, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, REPLY_CTYPE_TEXT);
	assert_memory_equal(r.body, "verified", 8);
	reply_clear(&r);

	snprintf(url, sizeof(url), "/api/v2/users/%s/verify", id2);
	call(a, "POST", url, body, &r);
	expect_error(&r, 422, "validation_error",
		     "token: no verification token was sent");
	call(a, "POST", "/api/v2/users/nobody/verify", body, &r);
	expect_error(&r, 404, "not_found", "user not found");
	call(a, "POST", "/api/v2/users/nobody/verify", "nope", &r);
	expect_error(&r, 404, "not_found", "user not found");
	call(a, "POST", "/api/v2/users/nobody/send-verification-token", NULL,
	     &r);
	expect_error(&r, 404, "not_found", "user not found");

	st = stats_now(a);
	assert_int_equal(stat(st, "sms"), 1);
	assert_int_equal(stat(st, "verified_users"), 1);
	assert_int_equal(stat(st, "verifies_ok"), 1);
	assert_int_equal(stat(st, "verifies_failed"), 4); /* 422 400 422 422 */
	assert_int_equal(stat(st, "verify_requests"), 7);
	assert_int_equal(stat(st, "send_requests"), 2);
	json_decref(st);
	api_free(a);
}

static void test_api_auth(void **state)
{
	static const struct {
		const char *client_id, *api_key; /* configured */
		const char *header;
		int ok;
	} t[] = {
	    {"cid", "key", AUTH_OK, 1},
	    {"cid", "key", NULL, 0},
	    {"cid", "key", AUTH_BAD, 0},
	    {"cid", "key", AUTH_OTHER, 0},
	    {"cid", "key", "Bearer Y2lkOmtleQ==", 0},
	    {"cid", "key", "Basic !!!", 0},
	    {NULL, NULL, AUTH_OTHER, 1}, /* any credentials pass */
	    {NULL, NULL, NULL, 0},
	    {NULL, NULL, "Basic Og==", 0}, /* ":" is empty */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct api_config c;
		struct api *a;
		struct reply r;
		json_t *st;

		cfg_default(&c);
		c.client_id = t[i].client_id;
		c.api_key = t[i].api_key;
		a = api_new(&c);
		call_at(a, "GET", "/api/v2/users", t[i].header, NULL, NULL, T0,
			&r);
		if (t[i].ok) {
			assert_int_equal(r.status, 200);
			reply_clear(&r);
		} else {
			assert_string_equal(
			    reply_header_get(&r, "WWW-Authenticate"),
			    "Basic realm=\"dots-sandbox\"");
			expect_error(&r, 401, "unauthorized",
				     "invalid client credentials");
		}
		st = stats_now(a);
		assert_int_equal(stat(st, "unauthorized"), !t[i].ok);
		assert_int_equal(stat(st, "list_requests"), t[i].ok);
		json_decref(st);
		api_free(a);
	}
}

static void test_api_routes(void **state)
{
	static char long_id[API_ID_MAX + 32], long_url[API_URL_MAX + 64];
	static const struct {
		const char *method, *url;
		unsigned status;
		const char *allow; /* NULL: no Allow header */
		const char *message;
	} t[] = {
	    {"DELETE", "/api/v2/users", 405, "GET, POST", "use GET, POST"},
	    {"PUT", "/api/v2/users/abc", 405, "GET", "use GET"},
	    {"GET", "/api/v2/users/abc/verify", 405, "POST", "use POST"},
	    {"GET", "/api/v2/users/abc/send-verification-token", 405, "POST",
	     "use POST"},
	    {"POST", "/api/v2/users/abc/other", 404, NULL, "no such endpoint"},
	    {"GET", "/api/v2/users/", 404, NULL, "no such endpoint"},
	    {"GET", "/api/v2/users//verify", 404, NULL, "no such endpoint"},
	    {"GET", "/api/v2/usersx", 404, NULL, "no such endpoint"},
	    {"GET", "/api/v1/users", 404, NULL, "no such endpoint"},
	    {"GET", "/api", 404, NULL, "no such endpoint"},
	    {"GET", "/", 404, NULL, "no such endpoint"},
	    {"GET", "/apix/v2/users", 404, NULL, "no such endpoint"},
	    {"GET", "/_sandbox/", 404, NULL, "no such endpoint"},
	    {"GET", "/_sandbox/nope", 404, NULL, "no such endpoint"},
	    {"GET", "/_sandbox/users/a/b", 404, NULL, "no such endpoint"},
	    {"GET", "/_sandbox/users/nobody", 404, NULL, "user not found"},
	    {"POST", "/_sandbox/users/nobody", 405, "GET", "use GET"},
	    {"POST", "/_sandbox/users", 405, "GET", "use GET"},
	    {"POST", "/_sandbox/stats", 405, "GET", "use GET"},
	    {"GET", "/_sandbox/verify-users", 405, "POST", "use POST"},
	    {"GET", long_id, 404, NULL, "no such endpoint"},
	    {"GET", long_url, 404, NULL, "no such endpoint"},
	};
	struct api *a = api_plain();
	size_t i;

	(void)state;
	snprintf(long_id, sizeof(long_id), "/api/v2/users/%0*d", API_ID_MAX + 1,
		 7);
	memset(long_url, 'a', sizeof(long_url) - 1);
	memcpy(long_url, "/api/", 5);
	long_url[API_URL_MAX + 1] = '\0';
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct reply r;
		const char *allow;

		call(a, t[i].method, t[i].url, NULL, &r);
		allow = reply_header_get(&r, "Allow");
		if (t[i].allow)
			assert_string_equal(allow, t[i].allow);
		else
			assert_null(allow);
		assert_int_equal(r.is_api, api_is_api(t[i].url));
		assert_false(r.trickle);
		expect_error(&r, t[i].status,
			     t[i].status == 405 ? "method_not_allowed"
						: "not_found",
			     t[i].message);
	}
	api_free(a);
}

static void test_api_validation(void **state)
{
	static const struct {
		const char *body;
		unsigned status;
		const char *message;
	} create[] = {
	    {"", 400, "invalid JSON body"},
	    {"{\"email\":", 400, "invalid JSON body"},
	    {"[1, 2]", 400, "invalid JSON body"},
	    {"{}", 422, "missing"},
	    {"{\"email\":\"nope\",\"country_code\":\"1\",\"phone_number\":"
	     "\"4155550001\",\"first_name\":\"F\",\"last_name\":\"L\"}",
	     422, "email: missing \"@\""},
	    {"{\"email\":\"a@b.c\",\"country_code\":\"1234\",\"phone_number\":"
	     "\"4155550001\",\"first_name\":\"F\",\"last_name\":\"L\"}",
	     422, "country_code: must be 1-3 digits"},
	};
	static const struct {
		const char *limit;
		unsigned status;
	} list[] = {
	    {"1", 200}, {"100", 200}, {"0", 400},  {"101", 400},
	    {"", 400},	{"abc", 400}, {"-1", 400}, {"1000", 400},
	};
	struct api *a = api_plain();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(create) / sizeof(create[0]); i++) {
		struct reply r;

		call(a, "POST", "/api/v2/users", create[i].body, &r);
		expect_error(&r, create[i].status,
			     create[i].status == 400 ? "bad_request"
						     : "validation_error",
			     create[i].message);
	}
	for (i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
		struct reply r;

		call_at(a, "GET", "/api/v2/users", AUTH_OK, NULL, list[i].limit,
			T0, &r);
		if (list[i].status == 200) {
			assert_int_equal(r.status, 200);
			reply_clear(&r);
		} else {
			expect_error(&r, 400, "bad_request",
				     "limit: must be a whole number in 1..100");
		}
	}
	api_free(a);
}

/* ---- faults --------------------------------------------------------- */

/* A fault's expected rendering on POST /api/v2/users (or GET list). */
struct fault_case {
	enum fault_kind kind;
	int on_get;	/* 1: GET /api/v2/users instead of a create */
	int retry_date; /* --retry-after-date */
	int echo_raw;	/* --echo-raw */
	long hang_ms;	/* --hang-ms */
	enum reply_action action;
	unsigned status;
	const char *ctype;
	const char *body_has;	 /* substring of the body, NULL: none */
	const char *retry_after; /* expected Retry-After, NULL: none */
};

static void check_fault(const struct fault_case *fc)
{
	struct api_config c;
	struct api *a;
	struct reply r;
	json_t *st;
	char *text;

	cfg_default(&c);
	c.faults.prob[fc->kind] = 1;
	c.retry_after_s = 7;
	c.retry_after_date = fc->retry_date;
	c.echo_raw = fc->echo_raw;
	c.hang_ms = fc->hang_ms;
	a = api_new(&c);
	if (fc->on_get)
		call(a, "GET", "/api/v2/users", NULL, &r);
	else
		call(a, "POST", "/api/v2/users", user1, &r);
	assert_int_equal(r.action, fc->action);
	if (fc->action == REPLY_RESPOND) {
		assert_int_equal(r.status, fc->status);
		assert_string_equal(r.ctype, fc->ctype);
		assert_false(r.park);
		text = malloc(r.body_len + 1);
		assert_non_null(text);
		memcpy(text, r.body, r.body_len);
		text[r.body_len] = '\0';
		if (fc->body_has)
			assert_non_null(strstr(text, fc->body_has));
		if (strcmp(fc->ctype, REPLY_CTYPE_JSON) == 0 &&
		    fc->kind != FAULT_MALFORMED)
			json_decref(body_json(&r));
		free(text);
	} else {
		assert_null(r.body);
		assert_int_equal(r.n_headers, 0);
	}
	if (fc->retry_after) {
		assert_string_equal(reply_header_get(&r, "Retry-After"),
				    fc->retry_after);
		assert_int_equal(r.retry_after_s, 7);
	} else {
		assert_null(reply_header_get(&r, "Retry-After"));
		assert_int_equal(r.retry_after_s, -1);
	}
	if (fc->kind == FAULT_HANG) {
		assert_true(r.park);
		assert_true(r.due_ns == (fc->hang_ms
					     ? T0 + (uint64_t)fc->hang_ms * MS
					     : REPLY_NEVER));
	}
	reply_clear(&r);
	st = stats_now(a);
	assert_int_equal(
	    stat(json_object_get(st, "faults"), faults_kind_name(fc->kind)), 1);
	assert_int_equal(stat(st, "users"), 0); /* the effect never happened */
	assert_int_equal(stat(st, "echoed"), fc->kind == FAULT_ECHO);
	json_decref(st);
	api_free(a);
}

static void test_api_fault_rendering(void **state)
{
	static const struct fault_case t[] = {
	    {FAULT_429, 0, 0, 0, 0, REPLY_RESPOND, 429, REPLY_CTYPE_JSON,
	     "too many requests (injected)", "7"},
	    {FAULT_429, 0, 1, 0, 0, REPLY_RESPOND, 429, REPLY_CTYPE_JSON,
	     "rate_limited", "Tue, 14 Nov 2023 22:13:27 GMT"},
	    {FAULT_500, 0, 0, 0, 0, REPLY_RESPOND, 500, REPLY_CTYPE_JSON,
	     "internal server error (injected)", NULL},
	    {FAULT_502, 0, 0, 0, 0, REPLY_RESPOND, 502, REPLY_CTYPE_JSON,
	     "\"error\":\"bad_gateway\"", NULL},
	    {FAULT_503, 0, 0, 0, 0, REPLY_RESPOND, 503, REPLY_CTYPE_JSON,
	     "\"error\":\"service_unavailable\"", NULL},
	    {FAULT_504, 1, 0, 0, 0, REPLY_RESPOND, 504, REPLY_CTYPE_JSON,
	     "\"error\":\"gateway_timeout\"", NULL},
	    {FAULT_MALFORMED, 0, 0, 0, 0, REPLY_RESPOND, 201, REPLY_CTYPE_JSON,
	     "{\"id\": \"abc\", broken", NULL},
	    {FAULT_MALFORMED, 1, 0, 0, 0, REPLY_RESPOND, 200, REPLY_CTYPE_JSON,
	     "broken", NULL},
	    {FAULT_OVERSIZE, 0, 0, 0, 0, REPLY_RESPOND, 200, REPLY_CTYPE_JSON,
	     "{\"id\":\"oversize\",\"padding\":\"xxx", NULL},
	    {FAULT_NOID, 0, 0, 0, 0, REPLY_RESPOND, 201, REPLY_CTYPE_JSON,
	     "{\"status\":\"unverified\",\"message\":\"created without an "
	     "id\"}",
	     NULL},
	    {FAULT_NOID, 1, 0, 0, 0, REPLY_RESPOND, 200, REPLY_CTYPE_JSON,
	     "created without an id", NULL},
	    {FAULT_HTML, 0, 0, 0, 0, REPLY_RESPOND, 502, REPLY_CTYPE_HTML,
	     "<center><h1>502 Bad Gateway</h1></center>", NULL},
	    {FAULT_ECHO, 0, 0, 0, 0, REPLY_RESPOND, 422, REPLY_CTYPE_JSON,
	     "client cid (cid) key key (key) auth " AUTH_OK, NULL},
	    {FAULT_ECHO, 0, 0, 1, 0, REPLY_RESPOND, 422, REPLY_CTYPE_TEXT,
	     "bad request from client cid (cid) key key (key) auth " AUTH_OK,
	     NULL},
	    {FAULT_RESET, 0, 0, 0, 0, REPLY_RESET, 0, NULL, NULL, NULL},
	    {FAULT_HANG, 0, 0, 0, 0, REPLY_HANG, 0, NULL, NULL, NULL},
	    {FAULT_HANG, 0, 0, 0, 1500, REPLY_HANG, 0, NULL, NULL, NULL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check_fault(&t[i]);
}

static void test_api_oversize_body(void **state)
{
	struct api_config c;
	struct api *a;
	struct reply r;

	(void)state;
	cfg_default(&c);
	c.faults.prob[FAULT_OVERSIZE] = 1;
	a = api_new(&c);
	call(a, "GET", "/api/v2/users", NULL, &r);
	assert_int_equal(r.body_len, 5u << 20);
	assert_false(r.body_owned); /* shared, built once */
	assert_memory_equal(r.body + r.body_len - 2, "\"}", 2);
	json_decref(body_json(&r));
	reply_clear(&r);
	api_free(a);
}

static void test_api_after_effect(void **state)
{
	static const struct {
		enum fault_kind kind;
		int users; /* created before the fault? */
	} t[] = {
	    {FAULT_500, 1}, {FAULT_RESET, 1}, {FAULT_NOID, 1},
	    {FAULT_429, 0}, {FAULT_503, 0}, /* never after the effect */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct api_config c;
		struct api *a;
		struct reply r;
		json_t *st;

		cfg_default(&c);
		c.faults.prob[t[i].kind] = 1;
		c.faults.after_effect = 1;
		a = api_new(&c);
		call(a, "POST", "/api/v2/users", user1, &r);
		reply_clear(&r);
		st = stats_now(a);
		assert_int_equal(stat(st, "users"), t[i].users);
		assert_int_equal(stat(st, "after_effects"), t[i].users);
		json_decref(st);
		api_free(a);
	}
}

static void test_api_rate_limit(void **state)
{
	static const struct {
		uint64_t at_ns;
		unsigned status;
	} t[] = {
	    {T0, 200},		   /* the bucket starts full: burst 1 */
	    {T0, 429},		   /* empty */
	    {T0 + 500 * MS, 429},  /* half a token */
	    {T0 + 1000 * MS, 200}, /* refilled */
	    {T0 + 1000 * MS, 429},
	    {T0 + 5000 * MS, 200}, /* never more than the burst */
	    {T0 + 5000 * MS, 429},
	};
	struct api_config c;
	struct api *a;
	json_t *st;
	size_t i;

	(void)state;
	cfg_default(&c);
	c.faults.rate_limit = 1;
	a = api_new(&c);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct reply r;

		call_at(a, "GET", "/api/v2/users", AUTH_OK, NULL, NULL,
			t[i].at_ns, &r);
		assert_int_equal(r.status, t[i].status);
		if (t[i].status == 429) {
			assert_string_equal(reply_header_get(&r, "Retry-After"),
					    "1");
			assert_int_equal(r.retry_after_s, 1);
			expect_error(&r, 429, "rate_limited",
				     "rate limit exceeded");
		} else {
			assert_int_equal(r.retry_after_s, -1);
			reply_clear(&r);
		}
	}
	st = stats_now(a);
	assert_int_equal(stat(st, "rate_limited"), 4);
	assert_int_equal(stat(st, "list_requests"), 7);
	json_decref(st);
	api_free(a);
}

static void test_api_redirect(void **state)
{
	static char huge[2049]; /* main.c's longest --redirect */
	struct api_config c;
	struct api *a;
	struct reply r;
	json_t *st;

	(void)state;
	cfg_default(&c);
	c.redirect_url = "https://example.com/api";
	a = api_new(&c);
	call_at(a, "GET", "/api/v2/users", NULL, NULL, NULL, T0, &r);
	assert_string_equal(reply_header_get(&r, "Location"),
			    "https://example.com/api");
	expect_error(&r, 302, "redirect", "moved");  /* before auth */
	call(a, "GET", "/_sandbox/stats", NULL, &r); /* not redirected */
	assert_int_equal(r.status, 200);
	reply_clear(&r);
	st = stats_now(a);
	assert_int_equal(stat(json_object_get(st, "faults"), "redirect"), 1);
	json_decref(st);
	api_free(a);

	memset(huge, 'u', sizeof(huge) - 1);
	c.redirect_url = huge;
	a = api_new(&c);
	call(a, "POST", "/api/v2/users/x/verify", NULL, &r);
	assert_ptr_equal(reply_header_get(&r, "Location"), huge); /* borrowed */
	expect_error(&r, 302, "redirect", "moved");
	api_free(a);
}

static void test_api_latency_and_trickle(void **state)
{
	struct api_config c;
	struct api *a;
	struct reply r;

	(void)state;
	cfg_default(&c);
	c.faults.latency_ms = 250;
	c.trickle = 1;
	a = api_new(&c);
	call_at(a, "GET", "/api/v2/users", AUTH_OK, NULL, NULL, 5 * SEC, &r);
	assert_int_equal(r.status, 200);
	assert_true(r.park);
	assert_true(r.due_ns == 5 * SEC + 250 * MS); /* from the arrival */
	assert_true(r.trickle);
	reply_clear(&r);
	call(a, "GET", "/api/v2/nope", NULL, &r); /* errors wait too */
	assert_int_equal(r.status, 404);
	assert_true(r.park);
	reply_clear(&r);
	call(a, "GET", "/_sandbox/stats", NULL, &r); /* never delayed */
	assert_false(r.park);
	assert_false(r.trickle);
	assert_false(r.is_api);
	reply_clear(&r);
	api_too_large(a, "/api/v2/users", &r);
	assert_true(r.trickle);
	assert_false(r.park);
	expect_error(&r, 413, "payload_too_large",
		     "request body larger than 65536 bytes");
	api_free(a);
}

/* ---- stats and /_sandbox/ ------------------------------------------- */

static void test_api_stats(void **state)
{
	static const char *const keys[] = {
	    "requests",
	    "sandbox_requests",
	    "unauthorized",
	    "create_requests",
	    "send_requests",
	    "verify_requests",
	    "get_requests",
	    "list_requests",
	    "echoed",
	    "too_large",
	    "creates",
	    "existing_returned",
	    "users",
	    "sms",
	    "users_with_sms",
	    "max_sms_per_user",
	    "users_with_multiple_sms",
	    "verified_users",
	    "verifies_ok",
	    "verifies_failed",
	    "rate_limited",
	    "requests_during_pause",
	    "after_effects",
	    "faults",
	    "responses",
	    "limited",
	    "limited_sms",
	    "accepted_per_s",
	};
	static const char *const fkeys[] = {
	    "429",	 "500",	     "502",  "503",  "504",  "reset",	 "hang",
	    "malformed", "oversize", "noid", "html", "echo", "redirect",
	};
	struct api *a = api_plain();
	char id[RNG_UUID_LEN + 1];
	struct reply r;
	const char *key;
	json_t *st, *v;
	size_t i;

	(void)state;
	create_user(a, user1, 201, id);
	create_user(a, user1, 200, id);
	call_at(a, "GET", "/api/v2/users", NULL, NULL, NULL, T0, &r);
	api_sent(a, &r, T0); /* 401 */
	reply_clear(&r);
	call(a, "GET", "/api/v2/users", NULL, &r);
	api_sent(a, &r, T0); /* 200 */
	api_sent(a, &r, T0); /* 200 */
	reply_clear(&r);
	api_too_large(a, "/_sandbox/verify-users", &r);
	api_sent(a, &r, T0); /* not an API answer: not by status */
	reply_clear(&r);
	api_arrive(a, "/_sandbox/stats", T0); /* not counted as API */

	st = stats_now(a);
	i = 0;
	json_object_foreach(st, key, v)
	{
		assert_true(i < sizeof(keys) / sizeof(keys[0]));
		assert_string_equal(key, keys[i]);
		i++;
	}
	assert_int_equal(i, sizeof(keys) / sizeof(keys[0]));
	i = 0;
	json_object_foreach(json_object_get(st, "faults"), key, v)
	{
		assert_string_equal(key, fkeys[i]);
		assert_int_equal(json_integer_value(v), 0);
		i++;
	}
	assert_int_equal(i, sizeof(fkeys) / sizeof(fkeys[0]));
	assert_int_equal(stat(st, "requests"), 4);
	assert_int_equal(stat(st, "sandbox_requests"), 1);
	assert_int_equal(stat(st, "unauthorized"), 1);
	assert_int_equal(stat(st, "create_requests"), 2);
	assert_int_equal(stat(st, "list_requests"), 1);
	assert_int_equal(stat(st, "get_requests"), 0);
	assert_int_equal(stat(st, "too_large"), 1);
	assert_int_equal(stat(st, "creates"), 1);
	assert_int_equal(stat(st, "existing_returned"), 1);
	assert_int_equal(stat(st, "users"), 1);
	v = json_object_get(st, "responses");
	assert_int_equal(json_object_size(v), 2);
	assert_int_equal(stat(v, "200"), 2);
	assert_int_equal(stat(v, "401"), 1);
	json_decref(st);
	api_free(a);
}

static void test_api_pause_bookkeeping(void **state)
{
	struct api *a = api_plain();
	struct reply r;
	json_t *st;

	(void)state;
	reply_init(&r);
	r.is_api = 1;
	reply_429(&r, 2, 0, WALL, "slow down");
	assert_int_equal(r.retry_after_s, 2);
	api_sent(a, &r, T0); /* pause from T0+200ms to T0+2s */
	reply_clear(&r);
	api_arrive(a, "/api/v2/users", T0 + 100 * MS);	 /* in the grace */
	api_arrive(a, "/api/v2/users", T0 + 500 * MS);	 /* violation */
	api_arrive(a, "/_sandbox/stats", T0 + 600 * MS); /* not the API */
	api_arrive(a, "/api/v2/users", T0 + 2500 * MS);	 /* after */
	st = stats_now(a);
	assert_int_equal(stat(st, "requests_during_pause"), 1);
	assert_int_equal(stat(st, "requests"), 3);
	assert_int_equal(stat(json_object_get(st, "responses"), "429"), 1);
	json_decref(st);
	api_free(a);
}

static void test_api_sandbox_routes(void **state)
{
	static const struct {
		const char *body;
		unsigned status;
		const char *has; /* substring of the body */
	} hook[] = {
	    {"{\"phones\":[{\"country_code\":\"1\",\"phone_number\":"
	     "\"4155550002\"},{\"country_code\":\"1\",\"phone_number\":"
	     "\"4155559999\"}]}",
	     200, "{\"verified\":1}"},
	    {"{\"all\":true}", 200, "{\"verified\":2}"},
	    {"{\"all\":", 400, "invalid JSON body"},
	    {"{}", 422, "validation_error"},
	};
	struct api *a = api_plain();
	char id1[RNG_UUID_LEN + 1], id2[RNG_UUID_LEN + 1], url[128];
	struct reply r;
	json_t *doc;
	size_t i;

	(void)state;
	create_user(a, user1, 201, id1);
	create_user(a, user2, 201, id2);
	call(a, "GET", "/_sandbox/users", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_false(r.is_api);
	doc = body_json(&r);
	assert_int_equal(json_array_size(doc), 2);
	assert_string_equal(jstr(json_array_get(doc, 1), "id"), id2);
	assert_true(
	    json_is_null(json_object_get(json_array_get(doc, 1), "last_code")));
	json_decref(doc);
	reply_clear(&r);

	for (i = 0; i < sizeof(hook) / sizeof(hook[0]); i++) {
		call_at(a, "POST", "/_sandbox/verify-users", NULL, hook[i].body,
			NULL, T0, &r);
		assert_int_equal(r.status, hook[i].status);
		assert_non_null(strstr(r.body, hook[i].has));
		reply_clear(&r);
	}
	snprintf(url, sizeof(url), "/_sandbox/users/%s", id1);
	call(a, "HEAD", url, NULL, &r);
	doc = body_json(&r);
	assert_string_equal(jstr(doc, "status"), "verified");
	assert_string_equal(jstr(doc, "phone_number"), "4155550001");
	json_decref(doc);
	reply_clear(&r);
	doc = stats_now(a);
	assert_int_equal(stat(doc, "verified_users"), 2);
	assert_int_equal(stat(doc, "sandbox_requests"), 7);
	assert_int_equal(stat(doc, "requests"), 2); /* the creates only */
	json_decref(doc);
	api_free(a);
}

/* ---- reply ---------------------------------------------------------- */

static void test_reply_building(void **state)
{
	char big[REPLY_HEADER_TEXT_MAX + 1];
	struct reply r;
	int owned;
	char *b;

	(void)state;
	reply_init(&r);
	assert_int_equal(r.action, REPLY_RESPOND);
	assert_int_equal(r.retry_after_s, -1);
	reply_header(&r, "Allow", "GET"); /* nothing prepared: ignored */
	assert_int_equal(r.n_headers, 0);

	reply_json(&r, 200, NULL); /* out of memory: reset */
	assert_int_equal(r.action, REPLY_RESET);
	reply_header(&r, "Allow", "GET");
	assert_int_equal(r.n_headers, 0);

	reply_405(&r, "GET, POST");
	assert_int_equal(r.action, REPLY_RESPOND);
	assert_string_equal(reply_header_get(&r, "Allow"), "GET, POST");
	reply_header(&r, "X-One", "1");
	reply_header(&r, "X-Two", "2"); /* table full: reset */
	assert_int_equal(r.action, REPLY_RESET);
	assert_null(r.body);

	reply_text(&r, 200, "ok");
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	reply_header(&r, "Retry-After", big); /* too long to copy: reset */
	assert_int_equal(r.action, REPLY_RESET);
	reply_text(&r, 200, "ok");
	reply_header_borrow(&r, "Location", big); /* kept, not copied */
	assert_ptr_equal(reply_header_get(&r, "Location"), big);
	big[0] = 'w';
	assert_int_equal(reply_header_get(&r, "Location")[0], 'w');
	big[REPLY_HEADER_TEXT_MAX - 1] = '\0';
	reply_header(&r, "X-Copy", big); /* the longest copied value */
	assert_string_equal(reply_header_get(&r, "X-Copy"), big);
	assert_ptr_not_equal(reply_header_get(&r, "X-Copy"), big);

	reply_429(&r, 0, 1, WALL, "m");
	assert_string_equal(reply_header_get(&r, "Retry-After"),
			    "Tue, 14 Nov 2023 22:13:20 GMT");
	assert_int_equal(r.retry_after_s, 0);
	b = reply_take_body(&r, &owned);
	assert_true(owned);
	assert_null(r.body);
	free(b);
	reply_clear(&r);

	reply_hang(&r);
	assert_int_equal(r.action, REPLY_HANG);
	reply_clear(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_api_create_get_list),
	    cmocka_unit_test(test_api_send_verify),
	    cmocka_unit_test(test_api_auth),
	    cmocka_unit_test(test_api_routes),
	    cmocka_unit_test(test_api_validation),
	    cmocka_unit_test(test_api_fault_rendering),
	    cmocka_unit_test(test_api_oversize_body),
	    cmocka_unit_test(test_api_after_effect),
	    cmocka_unit_test(test_api_rate_limit),
	    cmocka_unit_test(test_api_redirect),
	    cmocka_unit_test(test_api_latency_and_trickle),
	    cmocka_unit_test(test_api_stats),
	    cmocka_unit_test(test_api_pause_bookkeeping),
	    cmocka_unit_test(test_api_sandbox_routes),
	    cmocka_unit_test(test_reply_building),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
