/*
 * notify.c - one webhook POST run by the engine (the same retry rules as
 * API calls). The transport is made without credentials: none may reach
 * the webhook.
 */
#include "notify.h"

#include <stdio.h>
#include <string.h>

#include "engine.h"

#include "banned.h"

int notify_post(const char *url, const char *json, long timeout_ms,
		const char *ca_cert, struct err *err)
{
	struct http_opts ho = {
		.ca_cert = ca_cert,
		.connect_timeout_ms = timeout_ms,
		.request_timeout_ms = timeout_ms,
		.max_in_flight = 1,
	};
	struct engine_opts eo = {
		.policy = {3, 500, 5000, 30000, 0},
	};
	struct http *h = NULL;
	struct engine e;
	struct engine_transport t;
	struct engine_job job = {0};
	struct engine_end end;
	char why[320] = "";
	int rc = -1;

	if (http_new(&h, &ho, err) < 0)
		return -1;
	engine_http_transport(h, &t);
	if (engine_init(&e, &eo, &t, err) < 0) {
		http_free(h);
		return -1;
	}
	job.url = url;
	job.body = json;
	job.body_len = strlen(json);
	job.kind = REQUEST_VERIFY; /* retried on every transient failure */
	if (engine_run_one(&e, &job, &end, why, sizeof(why), err) == 0) {
		if (!end.cut && end.verdict == RETRY_DONE)
			rc = 0;
		else
			err_set(err, "notification to '%s' failed: %s", url,
				why[0] && !end.cut ? why : "not sent");
	}
	engine_release(&e);
	http_free(h);
	return rc;
}
