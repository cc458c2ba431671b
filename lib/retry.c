/*
 * retry.c - retry decisions and backoff delays, by rule table.
 * Pure: everything it needs comes in as arguments.
 */
#include "retry.h"

#include "banned.h"

long retry_backoff_ms(const struct retry_policy *p, int attempt, double rnd)
{
	double ceiling = (double)p->base_delay_ms;

	for (int i = 1; i < attempt && ceiling < (double)p->max_delay_ms; i++)
		ceiling *= 2;
	if (ceiling > (double)p->max_delay_ms)
		ceiling = (double)p->max_delay_ms;
	if (rnd < 0)
		rnd = 0;
	if (rnd >= 1)
		rnd = 0.999999;
	return (long)(ceiling * rnd);
}

struct retry_decision retry_decide(const struct retry_policy *p,
				   enum request_kind kind, enum outcome o,
				   int attempt, long retry_after_ms, double rnd)
{
	struct retry_decision d = {RETRY_FAIL, 0, 0};
	int retryable;

	switch (o) {
	case OUTCOME_OK:
		d.verdict = RETRY_DONE;
		return d;
	case OUTCOME_AUTH:
		d.verdict = RETRY_ABORT;
		return d;
	case OUTCOME_CONFIG:
		d.verdict = RETRY_CONFIG;
		return d;
	case OUTCOME_REJECTED:
	case OUTCOME_BAD_RESPONSE:
		if (kind == REQUEST_SEND && outcome_in_doubt(o) &&
		    !p->resend_in_doubt)
			d.verdict = RETRY_IN_DOUBT;
		return d;
	default:
		break;
	}
	/* Left: rate limited, unavailable, server error, not sent, timeout,
	 * lost. All retryable for creates and verifies; for sends only when
	 * the API certainly did not act, or the operator allows it. */
	retryable = kind != REQUEST_SEND || outcome_not_acted(o) ||
		    p->resend_in_doubt;
	if (!retryable) {
		d.verdict = RETRY_IN_DOUBT;
		return d;
	}
	if (o == OUTCOME_RATE_LIMITED)
		d.pause_all = 1;
	d.verdict = RETRY_AGAIN;
	d.delay_ms = retry_backoff_ms(p, attempt, rnd);
	if (retry_after_ms >= 0) {
		if (retry_after_ms > p->max_retry_after_ms)
			retry_after_ms = p->max_retry_after_ms;
		if (retry_after_ms > d.delay_ms)
			d.delay_ms = retry_after_ms;
	}
	if (d.pause_all && d.delay_ms < p->base_delay_ms)
		d.delay_ms = p->base_delay_ms;
	/* a 429 is the API pacing us, not the row failing: such a row gets
	 * RETRY_RATE_LIMITED_FACTOR x the attempts (a used-up fixed window
	 * without Retry-After answers 429 for seconds); --max-attempts 1
	 * still means one */
	if (attempt >= (d.pause_all && p->max_attempts > 1
				    ? p->max_attempts * RETRY_RATE_LIMITED_FACTOR
				    : p->max_attempts)) {
		/* this row is done, but a 429 still holds everyone else back */
		d.verdict = RETRY_FAIL;
		if (!d.pause_all)
			d.delay_ms = 0;
	}
	return d;
}
