/*
 * adapt.c - the adaptive rate controller (adapt.h): a cubic window over
 * the accepted rate measured at each throttle event, and the pause after a
 * 429. No clock of its own, no I/O.
 */
#include "adapt.h"

#include <math.h>
#include <string.h>

#include "banned.h"

void adapt_init(struct adapt *a, bool on, double ceiling, double learned, int64_t now_ms)
{
	memset(a, 0, sizeof(*a));
	a->on = on;
	a->ceiling = ceiling > 0 ? ceiling : 0;
	a->start_ms = now_ms;
	a->ring_slot = now_ms / 100;
	a->ring_paused[a->ring_slot % ADAPT_RING] = true; /* partial: not a measure */
	if (on && learned > 0) {
		/* start under last night's limit and grow back to it: no burst */
		a->w_max = ceiling > 0 && learned > ceiling ? ceiling : learned;
		a->cut_ms = now_ms;
	}
}

/* Moves the ring to now's slot, zeroing the slots passed over. */
static void ring_advance(struct adapt *a, int64_t now_ms)
{
	int64_t slot = now_ms / 100;

	int64_t from = slot - a->ring_slot >= ADAPT_RING ? slot - ADAPT_RING + 1 : a->ring_slot + 1;

	for (int64_t s = from; s <= slot; s++) {
		a->ring[s % ADAPT_RING] = 0;
		/* a slot that starts inside a pause is not a measure */
		a->ring_paused[s % ADAPT_RING] = s * 100 < a->pause_until_ms;
	}
	if (slot > a->ring_slot)
		a->ring_slot = slot;
}

/* Accepted answers per second over the latest `want` complete, unpaused
 * 100 ms slots of the last 2 s (the run's first slot, the current one and
 * any with a pause in them left out), or -1 when fewer than 3 exist. */
static double accepted_over(const struct adapt *a, int want)
{
	uint32_t n = 0;
	int slots = 0;

	for (int i = 1; i < ADAPT_RING && slots < want; i++) {
		int64_t s = a->ring_slot - i;

		if (s * 100 < a->start_ms || a->ring_paused[s % ADAPT_RING])
			continue;
		n += a->ring[s % ADAPT_RING];
		slots++;
	}
	return slots >= 3 ? (double)n * 10.0 / (double)slots : -1;
}

/* The rate the API accepted: the lower of the last 300 ms and the last
 * 2 s (a limit that just dropped shows at once; a steady one, smoothed). */
static double accepted_rate(const struct adapt *a)
{
	double recent = accepted_over(a, 3), steady = accepted_over(a, ADAPT_RING);

	return recent >= 0 && recent < steady ? recent : steady;
}

int64_t adapt_answer(struct adapt *a, bool throttled, long retry_after_ms, int64_t now_ms)
{
	ring_advance(a, now_ms);
	if (!throttled) {
		a->ring[a->ring_slot % ADAPT_RING]++;
		a->backoff_ms = 0;
		return now_ms;
	}
	a->throttles++;
	/* a 429 soon after the last: a used-up window, or the same event */
	if (a->last_429_ms && now_ms - a->last_429_ms < 2000)
		a->backoff_ms = a->backoff_ms ? (a->backoff_ms * 2 > 5000 ? 5000 : a->backoff_ms * 2)
					      : 100;
	else
		a->backoff_ms = 100;
	a->last_429_ms = now_ms;
	/* a cut needs a 429 that came while the pace was at the limit as
	 * known (a 429 during the climb back is noise: it pauses only) */
	if (a->on && (!a->cuts || (now_ms - a->cut_ms >= ADAPT_HOLD_MS &&
				   adapt_rate(a, now_ms) >= 0.95 * a->w_max))) {
		/* in the slow start only the latest slots saw the limit */
		double seen = a->cuts ? accepted_rate(a) : accepted_over(a, 3);
		double now_rate = adapt_rate(a, now_ms);

		if (seen < 0 && !a->cuts && now_rate > 0)
			seen = now_rate / 2; /* slow start overshoots by at most 2x */
		if (seen >= ADAPT_MIN_RATE) { /* nothing accepted: a window, keep w_max */
			/* the API took `seen`; we may have offered less */
			if (now_rate > 0 && now_rate < seen)
				seen = now_rate;
			/* throttled below the last maximum: the limit is lower than
			 * thought (or fell) - aim under it (CUBIC's fast convergence) */
			a->w_max = a->w_max > 0 && seen < a->w_max ? seen * (1.0 + ADAPT_BETA) / 2.0
								   : seen;
			/* one event halves the pace at most: the slots right after
			 * a long pause can show almost nothing accepted */
			if (now_rate > 0 && a->w_max < now_rate / 2)
				a->w_max = now_rate / 2;
			if (a->ceiling > 0 && a->w_max > a->ceiling)
				a->w_max = a->ceiling;
			a->cut_ms = now_ms;
			a->cuts++;
		}
	}
	{
		long pause_ms = retry_after_ms >= 0 ? retry_after_ms : a->backoff_ms;
		int64_t until = now_ms + pause_ms;

		/* the dearer a 429 (its pause), the slower the probing around
		 * the limit */
		a->slow = 1.0 + (double)(pause_ms > 5000 ? 5000 : pause_ms) / 333.0;
		if (until > a->pause_until_ms)
			a->pause_until_ms = until;
		a->ring_paused[a->ring_slot % ADAPT_RING] = true;
		return until;
	}
}

double adapt_rate(const struct adapt *a, int64_t now_ms)
{
	double t, r, k, c;

	if (!a->on || a->ceiling > 0) {
		if (!a->on || a->w_max <= 0)
			return a->ceiling; /* the operator's rate, or none */
	} else if (a->w_max <= 0) {
		/* slow start: double every ADAPT_DOUBLE_MS until the first 429 */
		double d = (double)(now_ms - a->start_ms) / ADAPT_DOUBLE_MS;

		return d > 40 ? 0 : ADAPT_START_RATE * pow(2.0, d);
	}
	/* CUBIC: beta x w_max at the cut, w_max after K s, then faster */
	/* CUBIC: r(t) = C (t - K)^3 + w_max, K = cbrt(w_max (1 - beta) / C):
	 * beta x w_max at the cut, w_max after K, then faster. C is the same
	 * for every process sharing a limit (fairness), smaller when 429s
	 * are dear. */
	c = ADAPT_C / (a->slow > 1 ? a->slow * a->slow * a->slow : 1.0);
	k = cbrt(a->w_max * (1.0 - ADAPT_BETA) / c);
	t = (double)(now_ms - a->cut_ms) / 1000.0 - k;
	r = a->w_max + c * t * t * t;
	if (r < ADAPT_MIN_RATE)
		r = ADAPT_MIN_RATE;
	if (a->ceiling > 0 && r > a->ceiling)
		r = a->ceiling;
	return r;
}

double adapt_learned(const struct adapt *a)
{
	return a->on ? a->w_max : 0;
}
