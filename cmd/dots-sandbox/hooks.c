/*
 * hooks.c - the sandbox's /_sandbox/ routes: the test hook that marks
 * users verified, the stats document, the limiter's settings and the
 * stored users as tests see them. Like api.c it must not use
 * libmicrohttpd, touch sockets, read a clock or sleep.
 */
#include "hooks.h"

#include <string.h>

#include "limitdoc.h"
#include "userdoc.h"

#include "banned.h"

static void hooks_add_listed(const struct store_view *v, void *cls)
{
	json_array_append_new(cls, userdoc_sandbox_user(v));
}

static void hooks_one_listed(const struct store_view *v, void *cls)
{
	*(json_t **)cls = userdoc_sandbox_user(v);
}

/* POST /_sandbox/verify-users: the test hook that skips the SMS code. */
static void hooks_verify_users(struct api *a, const struct api_request *rq,
			       struct reply *out)
{
	char msg[USERDOC_MSG_MAX];
	struct userdoc_verify v;
	unsigned long n;
	int rc;

	rc = userdoc_parse_verify(rq->body, rq->body_len, &v, msg);
	if (rc != USERDOC_OK) {
		api_reply_refused(out, rc, msg);
		return;
	}
	n = store_mark_verified(&a->store, v.all, v.phones, v.n);
	userdoc_verify_release(&v);
	reply_json(out, 200, json_pack("{s:I}", "verified", (json_int_t)n));
}

void hooks_route(struct api *a, const struct api_request *rq, const char *path,
		 struct reply *out)
{
	const char *method = rq->method;
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	stats_count(&a->stats, STATS_SANDBOX_REQUESTS);
	if (strcmp(path, "verify-users") == 0) {
		if (strcmp(method, "POST") != 0)
			reply_405(out, "POST");
		else
			hooks_verify_users(a, rq, out);
	} else if (strcmp(path, "stats") == 0) {
		if (!get)
			reply_405(out, "GET");
		else
			reply_json(out, 200,
				   stats_doc(&a->stats, &a->store, &a->faults,
					     &a->limit, rq->now_ns));
	} else if (strcmp(path, "limit") == 0) {
		limitdoc_route(&a->limit, method, rq->body, rq->body_len,
			       rq->now_ns, out);
	} else if (strcmp(path, "users") == 0) {
		json_t *list;

		if (!get) {
			reply_405(out, "GET");
			return;
		}
		list = json_array();
		if (list)
			store_each(&a->store, hooks_add_listed, list);
		reply_json(out, 200, list);
	} else if (strncmp(path, "users/", 6) == 0 && path[6] &&
		   !strchr(path + 6, '/') && strlen(path + 6) <= API_ID_MAX) {
		json_t *doc = NULL;

		if (!get)
			reply_405(out, "GET");
		else if (store_get(&a->store, path + 6, hooks_one_listed, &doc) <
			 0)
			reply_error(out, 404, "not_found", "user not found");
		else
			reply_json(out, 200, doc);
	} else {
		reply_error(out, 404, "not_found", "no such endpoint");
	}
}
