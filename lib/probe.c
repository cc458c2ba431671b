/*
 * probe.c - GET /v2/users?limit=1 before the first row, run by the engine
 * like any idempotent request. It only reads; it must never be the reason
 * a run sends something.
 */
#include "probe.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

#define PROBE_URL_MAX 600

enum probe_result probe_run(struct engine *e, const char *base_url, struct err *err)
{
	char url[PROBE_URL_MAX], why[320] = "";
	struct engine_job j = {0};
	struct engine_end end;
	int n = snprintf(url, sizeof(url), "%s/v2/users?limit=1", base_url);

	if (n < 0 || (size_t)n >= sizeof(url)) {
		err_set(err, "base URL is too long");
		return PROBE_CONFIG;
	}
	j.url = url;
	j.get = true;
	j.kind = REQUEST_CREATE; /* retried like any idempotent request */
	if (engine_run_one(e, &j, &end, why, sizeof(why), err) < 0)
		return PROBE_UNREACHABLE;
	if (end.cut)
		return PROBE_STOPPED;
	if (end.verdict == RETRY_DONE)
		return PROBE_OK;
	if (end.outcome == OUTCOME_AUTH) {
		err_set(err, "%s: the API refused the credentials "
			"(check DOTS_CLIENT_ID and DOTS_API_KEY)", why);
		return PROBE_AUTH;
	}
	if (end.outcome == OUTCOME_REJECTED && j.http_status == 404) {
		err_set(err, "HTTP 404 for GET %s/v2/users: %s", base_url, outcome_hint_404());
		return PROBE_CONFIG;
	}
	if (end.outcome == OUTCOME_CONFIG || end.outcome == OUTCOME_REJECTED) {
		err_set(err, "the first request (GET %s/v2/users) failed: %s", base_url, why);
		return PROBE_CONFIG;
	}
	err_set(err, "the first request (GET %s/v2/users) got no usable answer: %s", base_url,
		why);
	return PROBE_UNREACHABLE;
}
