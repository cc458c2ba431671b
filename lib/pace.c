/*
 * pace.c - token bucket, 429 pause and circuit breaker, as pure arithmetic
 * on times the caller passes in. Never sleeps.
 */
#include "pace.h"

#include "banned.h"

/* Burst of 0.5% of a second's rate, at least two requests: the loop may
 * wake a little late without losing credit, and a 100 ms window still sees
 * at most 1.1x the rate (rate/10 + 2 requests at 200/s). */
static double burst(const struct pace *p)
{
	return p->rate / 200.0 > 2.0 ? p->rate / 200.0 : 2.0;
}

static void refill(struct pace *p, int64_t now_ms)
{
	if (p->rate <= 0 || now_ms <= p->tokens_at_ms)
		return;
	p->tokens += (double)(now_ms - p->tokens_at_ms) * p->rate / 1000.0;
	if (p->tokens > burst(p))
		p->tokens = burst(p);
	p->tokens_at_ms = now_ms;
}

void pace_init(struct pace *p, double rate, int64_t now_ms)
{
	p->rate = rate;
	p->tokens = 1.0;
	p->tokens_at_ms = now_ms;
	p->pause_until_ms = 0;
	p->consecutive_failures = 0;
}

bool pace_ready(struct pace *p, int64_t now_ms)
{
	if (now_ms < p->pause_until_ms)
		return false;
	refill(p, now_ms);
	return p->rate <= 0 || p->tokens >= 1.0;
}

bool pace_take(struct pace *p, int64_t now_ms)
{
	if (!pace_ready(p, now_ms))
		return false;
	if (p->rate > 0)
		p->tokens -= 1.0;
	return true;
}

int64_t pace_wait_ms(const struct pace *p, int64_t now_ms)
{
	int64_t t = 0;

	if (now_ms < p->pause_until_ms)
		t = p->pause_until_ms - now_ms;
	if (p->rate > 0) {
		double have = p->tokens + (double)(now_ms - p->tokens_at_ms) * p->rate / 1000.0;
		if (have < 1.0) {
			int64_t d = (int64_t)((1.0 - have) * 1000.0 / p->rate) + 1;
			if (d > t)
				t = d;
		}
	}
	return t;
}

void pace_pause(struct pace *p, int64_t until_ms)
{
	/* Millisecond clocks truncate: the 429 may have arrived up to 1 ms
	 * after the `now` it was stamped with, so a Retry-After counted from
	 * that now would end up to 1 ms early. One more ms never does. */
	until_ms++;
	if (until_ms > p->pause_until_ms)
		p->pause_until_ms = until_ms;
}

bool pace_count(struct pace *p, enum outcome o)
{
	if (o == OUTCOME_RATE_LIMITED)
		return false; /* a pacing signal, not a failure: neither counts nor resets */
	if (o == OUTCOME_OK || o == OUTCOME_REJECTED || o == OUTCOME_AUTH) {
		p->consecutive_failures = 0;
		return false;
	}
	return ++p->consecutive_failures >= PACE_BREAKER_LIMIT;
}

void pace_set_rate(struct pace *p, double rate, int64_t now_ms)
{
	if (rate == p->rate)
		return;
	refill(p, now_ms); /* credit earned at the old rate */
	if (p->rate <= 0) {
		/* from unlimited to paced: no saved-up burst */
		p->tokens = 1.0;
		p->tokens_at_ms = now_ms;
	}
	p->rate = rate;
	if (rate > 0 && p->tokens > burst(p))
		p->tokens = burst(p);
}
