/*
 * probe.c - GET /v2/users?limit=1 before the first row, with the retry
 * rules of any idempotent request. It only reads; it must never be the
 * reason a run sends something.
 */
#include "probe.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "outcome.h"

#include "banned.h"

#define PROBE_URL_MAX 600

static int64_t probe_now(const struct probe *p)
{
	return p->now_ms ? p->now_ms(p->ctx) : clock_now_ms();
}

static bool stopped(const struct probe *p)
{
	return p->stop && *p->stop;
}

/* One attempt. Returns 0 with *res filled (valid until the next call into
 * the engine), 1 when a signal came first, -1 on an engine failure. */
static int attempt(struct probe *p, const char *url, struct http_result *res,
		   struct err *err)
{
	struct http_request req = {0};

	req.url = url;
	req.get = 1;
	if (http_start(p->http, &req, err) < 0)
		return -1;
	for (;;) {
		if (http_next_result(p->http, res))
			return 0;
		if (stopped(p))
			return 1; /* the engine aborts the transfer when freed */
		if (http_poll(p->http, 100, err) < 0)
			return -1;
	}
}

/* Waits until `until` (a poll with nothing in flight), or a signal. */
static bool wait_until(struct probe *p, int64_t until, struct err *err)
{
	for (int64_t now = probe_now(p); now < until; now = probe_now(p)) {
		if (stopped(p))
			return false;
		if (http_poll(p->http, until - now < 100 ? (int)(until - now) : 100, err) < 0)
			return false;
	}
	return !stopped(p);
}

enum probe_result probe_run(struct probe *p, struct err *err)
{
	char url[PROBE_URL_MAX];
	struct http_result res;
	int n = snprintf(url, sizeof(url), "%s/v2/users?limit=1", p->base_url);

	if (n < 0 || (size_t)n >= sizeof(url)) {
		err_set(err, "base URL is too long");
		return PROBE_CONFIG;
	}
	for (int k = 1;; k++) {
		enum outcome o;
		struct retry_decision d;
		struct outcome_info in;
		char why[320];
		int rc = attempt(p, url, &res, err);

		if (rc < 0)
			return PROBE_UNREACHABLE;
		if (rc > 0)
			return PROBE_STOPPED;
		p->requests++;
		o = outcome_classify(res.transport, res.status);
		if (o == OUTCOME_RATE_LIMITED)
			p->rate_limited++;
		if (o == OUTCOME_OK)
			return PROBE_OK;
		http_outcome_info(&res, o, &in);
		in.attempts = k;
		if (o == OUTCOME_AUTH) {
			outcome_describe(&in, "", why, sizeof(why));
			err_set(err, "%s: the API refused the credentials "
				"(check DOTS_CLIENT_ID and DOTS_API_KEY)", why);
			return PROBE_AUTH;
		}
		if (o == OUTCOME_REJECTED && res.status == 404) {
			err_set(err, "HTTP 404 for GET %s/v2/users: %s", p->base_url,
				outcome_hint_404());
			return PROBE_CONFIG;
		}
		if (o == OUTCOME_BAD_RESPONSE) {
			/* a redirect, an oversized or broken body: not conclusive
			 * about the configuration; the rows' requests will say */
			outcome_describe(&in, "", why, sizeof(why));
			err_set(err, "the first request (GET %s/v2/users) got no usable answer: %s",
				p->base_url, why);
			return PROBE_UNREACHABLE;
		}
		if (o == OUTCOME_CONFIG || o == OUTCOME_REJECTED) {
			outcome_describe(&in, "", why, sizeof(why));
			err_set(err, "the first request (GET %s/v2/users) failed: %s",
				p->base_url, why);
			return PROBE_CONFIG;
		}
		d = retry_decide(p->policy, REQUEST_CREATE, o, k, res.retry_after_ms,
				 clock_rand01(p->rng));
		if (d.verdict != RETRY_AGAIN) {
			in.exhausted = true;
			outcome_describe(&in, "", why, sizeof(why));
			err_set(err, "the API did not answer the first request (GET %s/v2/users): %s",
				p->base_url, why);
			return PROBE_UNREACHABLE;
		}
		if (!wait_until(p, probe_now(p) + d.delay_ms, err))
			return stopped(p) ? PROBE_STOPPED : PROBE_UNREACHABLE;
	}
}
