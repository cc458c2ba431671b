/*
 * notify.c - one webhook POST through the batch runner (same retry rules
 * as API calls). The engine is made without credentials.
 */
#include "notify.h"

#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "clock.h"

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
	struct batch b;
	struct batch_job job;
	int rc = -1;

	memset(&b, 0, sizeof(b));
	memset(&job, 0, sizeof(job));
	if (strlen(url) >= sizeof(job.url))
		return err_set(err, "notify URL is too long");
	if (http_new(&b.http, &ho, err) < 0)
		return -1;
	b.policy = (struct retry_policy){3, 500, 5000, 30000, 0};
	b.rng = clock_seed();
	pace_init(&b.pace, 0, 0);
	snprintf(job.url, sizeof(job.url), "%s", url);
	job.body = json;
	job.body_len = strlen(json);
	job.kind = REQUEST_VERIFY; /* retried on every transient failure */
	if (batch_run(&b, &job, 1, err) == 0) {
		if (job.done && job.verdict == RETRY_DONE)
			rc = 0;
		else
			err_set(err, "notification to '%s' failed: %s", url,
				job.error[0] ? job.error : "not sent");
	}
	http_free(b.http);
	return rc;
}
