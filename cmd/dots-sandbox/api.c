/*
 * api.c - the sandbox API without HTTP plumbing: auth, routing, the
 * users-v2 endpoints, faults (decided and rendered) and stats; /_sandbox/
 * is handed to hooks.c.
 * Must not use libmicrohttpd, touch sockets, read a clock or sleep:
 * requests and times come in, struct reply goes out.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "echo.h"
#include "hooks.h"
#include "userdoc.h"

#include "banned.h"

#define API_NS_PER_MS 1000000ULL

static const char api_malformed[] = "{\"id\": \"abc\", broken";
static const char api_html[] =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx"
    "</center>\r\n</body>\r\n</html>\r\n";

enum api_ep {
	API_EP_NONE = 0,
	API_EP_CREATE, /* POST /api/v2/users */
	API_EP_LIST,   /* GET /api/v2/users?limit=N */
	API_EP_GET,    /* GET /api/v2/users/{id} */
	API_EP_SEND,   /* POST /api/v2/users/{id}/send-verification-token */
	API_EP_VERIFY, /* POST /api/v2/users/{id}/verify */
};

enum api_part {
	API_PART_STORE = 1,
	API_PART_FAULTS = 2,
	API_PART_LIMIT = 4,
};

/* ---- lifecycle ------------------------------------------------------ */

static int api_make_oversize(struct api *a, struct err *err)
{
	static const char head[] = "{\"id\":\"oversize\",\"padding\":\"";
	char *b = malloc(API_OVERSIZE);

	if (!b)
		return err_set(err, "out of memory");
	memset(b, 'x', API_OVERSIZE);
	memcpy(b, head, sizeof(head) - 1);
	memcpy(b + API_OVERSIZE - 2, "\"}", 2);
	a->oversize = b;
	return 0;
}

int api_init(struct api *a, const struct api_config *cfg, struct err *err)
{
	memset(a, 0, sizeof(*a));
	a->cfg = *cfg;
	stats_init(&a->stats);
	if (store_init(&a->store, err) < 0)
		goto fail;
	a->parts |= API_PART_STORE;
	if (faults_init(&a->faults, &cfg->faults, err) < 0)
		goto fail;
	a->parts |= API_PART_FAULTS;
	if (limit_init(&a->limit, &cfg->limit, cfg->start_ns, err) < 0)
		goto fail;
	a->parts |= API_PART_LIMIT;
	if (cfg->faults.prob[FAULT_OVERSIZE] > 0 &&
	    api_make_oversize(a, err) < 0)
		goto fail;
	return 0;
fail:
	api_release(a);
	return -1;
}

void api_release(struct api *a)
{
	if (!a)
		return;
	if (a->parts & API_PART_LIMIT)
		limit_release(&a->limit);
	if (a->parts & API_PART_FAULTS)
		faults_release(&a->faults);
	if (a->parts & API_PART_STORE)
		store_release(&a->store);
	free(a->oversize);
	a->oversize = NULL;
	a->parts = 0;
}

int api_is_api(const char *url)
{
	return strncmp(url, "/api", 4) == 0 &&
	       (url[4] == '/' || url[4] == '\0');
}

void api_arrive(struct api *a, const char *url, uint64_t arrival_ns)
{
	if (!api_is_api(url))
		return;
	stats_count(&a->stats, STATS_REQUESTS);
	faults_arrive(&a->faults, arrival_ns);
}

/* A fresh reply for url: API answers are counted and maybe trickled. */
static void api_reply_for(struct api *a, const char *url, struct reply *out)
{
	reply_init(out);
	out->is_api = api_is_api(url);
	out->trickle = a->cfg.trickle && out->is_api;
}

void api_too_large(struct api *a, const char *url, struct reply *out)
{
	api_reply_for(a, url, out);
	stats_count(&a->stats, STATS_TOO_LARGE);
	reply_error(out, 413, "payload_too_large",
		    "request body larger than 65536 bytes");
}

void api_sent(struct api *a, const struct reply *r, uint64_t now_ns)
{
	if (r->retry_after_s >= 0)
		faults_note_429(&a->faults, now_ns, r->retry_after_s);
	if (r->is_api)
		stats_count_status(&a->stats, r->status);
}

static void api_not_found(struct reply *out, const char *what)
{
	reply_error(out, 404, "not_found", what);
}

/* ---- /api/v2/users -------------------------------------------------- */

/*
 * Maps a path below /api to an endpoint. Returns 0 and fills ep and id,
 * 404 for an unknown path, or 405 (allow says which method fits).
 */
static int api_route(const char *path, const char *method, enum api_ep *ep,
		     char id[API_ID_MAX + 1], const char **allow)
{
	const char *rest, *slash;
	size_t idlen;
	int post = strcmp(method, "POST") == 0;
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	*ep = API_EP_NONE;
	id[0] = '\0';
	if (strncmp(path, "/v2/users", 9) != 0)
		return 404;
	rest = path + 9;
	if (!*rest) {
		*allow = "GET, POST";
		*ep = get ? API_EP_LIST : API_EP_CREATE;
		return post || get ? 0 : 405;
	}
	if (*rest != '/' || !rest[1])
		return 404;
	rest++;
	slash = strchr(rest, '/');
	idlen = slash ? (size_t)(slash - rest) : strlen(rest);
	if (idlen == 0 || idlen > API_ID_MAX)
		return 404;
	memcpy(id, rest, idlen);
	id[idlen] = '\0';
	if (!slash) {
		*allow = "GET";
		*ep = API_EP_GET;
		return get ? 0 : 405;
	}
	*allow = "POST";
	if (strcmp(slash, "/send-verification-token") == 0)
		*ep = API_EP_SEND;
	else if (strcmp(slash, "/verify") == 0)
		*ep = API_EP_VERIFY;
	else
		return 404;
	return post ? 0 : 405;
}

static void api_user_doc(const struct store_view *v, void *cls)
{
	*(json_t **)cls = userdoc_user(v);
}

static void api_add_user(const struct store_view *v, void *cls)
{
	json_array_append_new(cls, userdoc_user(v));
}

void api_reply_refused(struct reply *out, int rc, const char *msg)
{
	if (rc == USERDOC_BAD_JSON)
		reply_error(out, 400, "bad_request", "invalid JSON body");
	else
		reply_error(out, 422, "validation_error", msg);
}

static void api_create(struct api *a, const struct api_request *rq,
		       struct reply *out)
{
	char msg[USERDOC_MSG_MAX], id[RNG_UUID_LEN + 1];
	struct userdoc_create c;
	json_t *doc = NULL;
	int rc;

	rc = userdoc_parse_create(rq->body, rq->body_len, &c, msg);
	if (rc != USERDOC_OK) {
		api_reply_refused(out, rc, msg);
		return;
	}
	faults_uuid(&a->faults, id);
	rc = store_create(&a->store, &c.in, id, api_user_doc, &doc);
	userdoc_create_release(&c);
	if (rc < 0) {
		reply_error(out, 507, "insufficient_storage",
			    "the sandbox cannot store more users");
		return;
	}
	reply_json(out, rc == 1 ? 201 : 200, doc);
}

static void api_get(struct api *a, const char *id, struct reply *out)
{
	json_t *doc = NULL;

	if (store_get(&a->store, id, api_user_doc, &doc) < 0)
		api_not_found(out, "user not found");
	else
		reply_json(out, 200, doc);
}

static void api_list(struct api *a, const struct api_request *rq,
		     struct reply *out)
{
	json_t *data;
	size_t total;
	long limit;

	if (userdoc_parse_limit(rq->limit, &limit) != USERDOC_OK) {
		reply_error(out, 400, "bad_request",
			    "limit: must be a whole number in 1..100");
		return;
	}
	data = json_array();
	if (!data) {
		reply_reset(out);
		return;
	}
	total = store_list(&a->store, (size_t)limit, api_add_user, data);
	reply_json(out, 200, userdoc_list(data, total > (size_t)limit));
}

static void api_send(struct api *a, const char *id, struct reply *out)
{
	char code[RNG_CODE_LEN + 1];

	faults_code(&a->faults, code);
	if (store_send_code(&a->store, id, code) < 0)
		api_not_found(out, "user not found");
	else
		reply_text(out, 200, "ok");
}

static void api_verify(struct api *a, const struct api_request *rq,
		       const char *id, struct reply *out)
{
	char token[USERDOC_TOKEN_MAX + 1], msg[USERDOC_MSG_MAX];
	int rc = userdoc_parse_token(rq->body, rq->body_len, token, msg);

	if (rc != USERDOC_OK) {
		if (store_get(&a->store, id, NULL, NULL) < 0) {
			api_not_found(out, "user not found");
			return;
		}
		store_count_verify_failed(&a->store);
		api_reply_refused(out, rc, msg);
		return;
	}
	switch (store_verify(&a->store, id, token)) {
	case STORE_VERIFY_OK:
		reply_text(out, 200, "verified");
		return;
	case STORE_VERIFY_UNKNOWN_USER:
		api_not_found(out, "user not found");
		return;
	case STORE_VERIFY_NO_CODE:
		reply_error(out, 422, "validation_error",
			    "token: no verification token was sent");
		return;
	case STORE_VERIFY_WRONG:
	default:
		reply_error(out, 422, "validation_error",
			    "token: invalid verification token");
		return;
	}
}

static void api_endpoint(struct api *a, const struct api_request *rq,
			 enum api_ep ep, const char *id, struct reply *out)
{
	switch (ep) {
	case API_EP_CREATE:
		api_create(a, rq, out);
		return;
	case API_EP_LIST:
		api_list(a, rq, out);
		return;
	case API_EP_GET:
		api_get(a, id, out);
		return;
	case API_EP_SEND:
		api_send(a, id, out);
		return;
	case API_EP_VERIFY:
		api_verify(a, rq, id, out);
		return;
	case API_EP_NONE:
	default:
		api_not_found(out, "no such endpoint");
		return;
	}
}

/* ---- faults --------------------------------------------------------- */

/*
 * The echo fault: a 422 whose message repeats the Authorization header and
 * the credentials in it (JSON, or text/plain with --echo-raw).
 */
static void api_echo(struct api *a, const struct api_request *rq,
		     struct reply *out)
{
	char *text = echo_text(rq->authorization);
	json_t *doc;

	stats_count(&a->stats, STATS_ECHOED);
	if (!text) {
		reply_reset(out);
		return;
	}
	doc = a->cfg.echo_raw ? NULL : userdoc_echo(text);
	if (doc) {
		free(text);
		reply_json(out, 422, doc);
		return;
	}
	/* --echo-raw, or credentials that are not UTF-8: plain text. */
	reply_raw(out, 422, REPLY_CTYPE_TEXT, text, strlen(text), 1);
}

/* Replaces the prepared answer with the injected fault. */
static void api_fault(struct api *a, const struct api_request *rq,
		      enum fault_kind k, enum api_ep ep, struct reply *out)
{
	unsigned ok = ep == API_EP_CREATE ? 201 : 200;

	switch (k) {
	case FAULT_429:
		reply_429(out, a->cfg.retry_after_s, a->cfg.retry_after_date,
			  rq->now_wall, "too many requests (injected)");
		return;
	case FAULT_500:
		reply_error(out, 500, "internal_server_error",
			    "internal server error (injected)");
		return;
	case FAULT_502:
		reply_error(out, 502, "bad_gateway", "bad gateway (injected)");
		return;
	case FAULT_503:
		reply_error(out, 503, "service_unavailable",
			    "service unavailable (injected)");
		return;
	case FAULT_504:
		reply_error(out, 504, "gateway_timeout",
			    "gateway timeout (injected)");
		return;
	case FAULT_RESET:
		reply_reset(out);
		return;
	case FAULT_HANG:
		reply_hang(out);
		return;
	case FAULT_MALFORMED:
		reply_raw(out, ok, REPLY_CTYPE_JSON, (char *)api_malformed,
			  sizeof(api_malformed) - 1, 0);
		return;
	case FAULT_OVERSIZE:
		if (!a->oversize)
			reply_error(out, 500, "internal_server_error",
				    "oversize body unavailable");
		else
			reply_raw(out, 200, REPLY_CTYPE_JSON, a->oversize,
				  API_OVERSIZE, 0);
		return;
	case FAULT_NOID:
		reply_json(out, ok,
			   json_pack("{s:s, s:s}", "status", "unverified",
				     "message", "created without an id"));
		return;
	case FAULT_HTML:
		reply_raw(out, 502, REPLY_CTYPE_HTML, (char *)api_html,
			  sizeof(api_html) - 1, 0);
		return;
	case FAULT_ECHO:
		api_echo(a, rq, out);
		return;
	case FAULT_REDIRECT:
	case FAULT_NONE:
	case FAULT_KIND_COUNT:
	default:
		return;
	}
}

/* path is what follows "/api". */
static void api_users(struct api *a, const struct api_request *rq,
		      const char *path, struct reply *out)
{
	struct faults_decision d;
	char id[API_ID_MAX + 1];
	const char *allow = "GET";
	enum api_ep ep;
	long retry;
	int rc;

	if (a->cfg.redirect_url) {
		faults_count(&a->faults, FAULT_REDIRECT);
		reply_error(out, 302, "redirect", "moved");
		reply_header_borrow(out, "Location", a->cfg.redirect_url);
		return;
	}
	if (auth_check(rq->authorization, a->cfg.client_id, a->cfg.api_key) <
	    0) {
		stats_count(&a->stats, STATS_UNAUTHORIZED);
		reply_error(out, 401, "unauthorized",
			    "invalid client credentials");
		reply_header_borrow(out, "WWW-Authenticate",
				    "Basic realm=\"dots-sandbox\"");
		return;
	}
	rc = api_route(path, rq->method, &ep, id, &allow);
	if (rc == 404) {
		api_not_found(out, "no such endpoint");
		return;
	}
	if (rc == 405) {
		reply_405(out, allow);
		return;
	}
	if (ep == API_EP_CREATE)
		stats_count(&a->stats, STATS_CREATE_REQUESTS);
	else if (ep == API_EP_LIST)
		stats_count(&a->stats, STATS_LIST_REQUESTS);
	else if (ep == API_EP_SEND)
		stats_count(&a->stats, STATS_SEND_REQUESTS);
	else if (ep == API_EP_VERIFY)
		stats_count(&a->stats, STATS_VERIFY_REQUESTS);
	else
		stats_count(&a->stats, STATS_GET_REQUESTS);
	/* The limiter refuses before anything acts (no user, no SMS). */
	if (limit_take(&a->limit, rq->now_ns, ep == API_EP_SEND, &retry) !=
	    LIMIT_OK) {
		if (retry < 0)
			reply_error(out, 429, "rate_limited",
				    "rate limit exceeded");
		else
			reply_429(out, retry, 0, rq->now_wall,
				  "rate limit exceeded");
		return;
	}
	faults_decide(&a->faults, rq->arrival_ns,
		      ep != API_EP_GET && ep != API_EP_LIST, &d);
	if (d.rate_limited) {
		reply_429(out, 1, 0, rq->now_wall, "rate limit exceeded");
		return;
	}
	if (d.kind == FAULT_NONE || d.effect_first)
		api_endpoint(a, rq, ep, id, out);
	if (d.kind != FAULT_NONE)
		api_fault(a, rq, d.kind, ep, out);
}

void api_handle(struct api *a, const struct api_request *rq, struct reply *out)
{
	long delay_ms;

	api_reply_for(a, rq->url, out);
	if (strnlen(rq->url, API_URL_MAX + 1) > API_URL_MAX) {
		api_not_found(out, "no such endpoint");
		return;
	}
	if (!out->is_api) {
		if (strncmp(rq->url, "/_sandbox/", 10) == 0)
			hooks_route(a, rq, rq->url + 10, out);
		else
			api_not_found(out, "no such endpoint");
		return;
	}
	api_users(a, rq, rq->url + 4, out);
	/* Drawn for every API request (hangs and resets too), so a seeded
	 * run draws the same sequence whatever the outcome. */
	delay_ms = faults_delay_ms(&a->faults);
	if (out->action == REPLY_HANG) {
		out->park = 1;
		out->due_ns =
		    a->cfg.hang_ms > 0
			? rq->now_ns + (uint64_t)a->cfg.hang_ms * API_NS_PER_MS
			: REPLY_NEVER;
	} else if (delay_ms > 0) { /* counted from the request's arrival */
		out->park = 1;
		out->due_ns =
		    rq->arrival_ns + (uint64_t)delay_ms * API_NS_PER_MS;
	}
}
