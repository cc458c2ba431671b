/*
 * batch.c - runs a fixed array of requests to completion with the same
 * retry, pause and breaker rules as an import. Never sleeps: waits are
 * curl_multi_poll timeouts until the next not-before time.
 */
#include "batch.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "outcome.h"

#include "banned.h"

static void finish(struct batch_job *j, enum retry_verdict v)
{
	j->done = true;
	j->verdict = v;
}

static int handle(struct batch *b, struct batch_job *j,
		  const struct http_result *res, int64_t now, struct err *err)
{
	enum outcome o = outcome_classify(res->transport, res->status);
	struct retry_decision d;
	struct outcome_info info;

	j->in_flight = false;
	j->attempts++;
	b->requests++;
	if (res->transport == TRANSPORT_OK)
		j->http_status = res->status;
	if (!outcome_not_acted(o))
		j->acted_maybe = true;
	if (o == OUTCOME_RATE_LIMITED)
		b->rate_limited++;
	if (pace_count(&b->pace, o) && !b->aborted) {
		b->aborted = true;
		snprintf(b->abort_reason, sizeof(b->abort_reason),
			 "circuit breaker: %d consecutive failed requests", PACE_BREAKER_LIMIT);
	}
	d = retry_decide(&b->policy, j->kind, o, j->attempts, res->retry_after_ms, clock_rand01(&b->rng));
	if (d.pause_all)
		pace_pause(&b->pace, now + d.delay_ms);
	if (d.verdict == RETRY_AGAIN) {
		if (b->aborted || (b->stop && *b->stop))
			return 0; /* left not done: stopped */
		b->retries++;
		j->ready_at_ms = now + d.delay_ms;
		return 0;
	}
	if (d.verdict == RETRY_ABORT && !b->aborted) {
		b->aborted = true;
		snprintf(b->abort_reason, sizeof(b->abort_reason),
			 "HTTP %ld: the API refused the credentials", res->status);
	}
	if (d.verdict != RETRY_DONE) {
		http_outcome_info(res, o, &info);
		info.attempts = j->attempts;
		info.exhausted = d.verdict == RETRY_FAIL && o != OUTCOME_REJECTED;
		outcome_describe(&info, "", j->error, sizeof(j->error));
	}
	if (d.verdict == RETRY_CONFIG && !b->aborted) {
		/* TLS or DNS: every request would fail the same way */
		b->aborted = true;
		snprintf(b->abort_reason, sizeof(b->abort_reason), "%s", j->error);
	}
	finish(j, d.verdict);
	return b->on_done ? b->on_done(b->ctx, j, err) : 0;
}

int batch_run(struct batch *b, struct batch_job *jobs, size_t n, struct err *err)
{
	int64_t deadline = 0;

	for (size_t i = 0; i < n; i++) {
		jobs[i].done = jobs[i].in_flight = jobs[i].acted_maybe = false;
		jobs[i].attempts = 0;
		jobs[i].http_status = 0;
		jobs[i].error[0] = '\0';
		jobs[i].ready_at_ms = 0;
	}
	for (;;) {
		int64_t now = clock_now_ms(), wait = 250;
		bool stopping = b->aborted || (b->stop && *b->stop);
		size_t pending = 0;
		struct http_result res;
		size_t started[256];
		int ns = 0;

		if (b->stop && *b->stop && !b->signal) {
			b->signal = (int)*b->stop;
			deadline = now + BATCH_STOP_GRACE_MS;
		}
		if ((deadline && now >= deadline) || (b->abandon && *b->abandon))
			return 0;
		for (size_t i = 0; i < n; i++) {
			struct batch_job *j = &jobs[i];

			if (j->done || j->in_flight)
				continue;
			if (stopping)
				continue;
			pending++;
			if (j->ready_at_ms > now) {
				if (j->ready_at_ms - now < wait)
					wait = j->ready_at_ms - now;
				continue;
			}
			if (ns >= http_free_slots(b->http) || ns >= 256)
				continue;
			if (!pace_take(&b->pace, now)) {
				int64_t w = pace_wait_ms(&b->pace, now);
				if (w < wait)
					wait = w;
				continue;
			}
			if (b->before_start && b->before_start(b->ctx, j, err) < 0)
				return -1;
			started[ns++] = i;
		}
		if (ns && b->commit && b->commit(b->ctx, err) < 0)
			return -1;
		for (int k = 0; k < ns; k++) {
			struct batch_job *j = &jobs[started[k]];
			struct http_request req = {
				.url = j->url,
				.body = j->body,
				.body_len = j->body_len,
				.once = j->kind == REQUEST_SEND,
				.cookie = j,
			};
			if (http_start(b->http, &req, err) < 0)
				return -1;
			j->in_flight = true;
		}
		if (http_in_flight(b->http) == 0 && (pending == 0 || stopping))
			return 0;
		if (ns)
			wait = 0;
		if (deadline && deadline - now < wait)
			wait = deadline - now;
		if (http_poll(b->http, wait < 0 ? 0 : (int)wait, err) < 0)
			return -1;
		now = clock_now_ms();
		while (http_next_result(b->http, &res))
			if (handle(b, res.cookie, &res, now, err) < 0)
				return -1;
	}
}
