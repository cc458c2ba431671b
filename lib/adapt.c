/*
 * adapt.c - the adaptive rate controller (adapt.h): a cubic window over
 * the accepted rate measured at each throttle event, and the pause after a
 * 429. No clock of its own, no I/O.
 */
#include "adapt.h"

#include <math.h>
#include <string.h>

#include "banned.h"
#undef fprintf

void adapt_init(struct adapt *a, bool on, double ceiling, double learned, unsigned sharers,
		int64_t now_ms)
{
	memset(a, 0, sizeof(*a));
	a->on = on;
	a->sharers = sharers ? sharers : 1;
	a->ceiling = ceiling > 0 ? ceiling : 0;
	a->start_ms = now_ms;
	a->ring_slot = now_ms / 100;
	a->ring_paused[a->ring_slot % ADAPT_RING] = true; /* partial: not a measure */
	if (on && learned > 0) {
		/* start under last night's limit and grow back to it: no burst */
		a->w_max = ceiling > 0 && learned > ceiling ? ceiling : learned;
		a->cut_ms = now_ms;
		a->resume_ms = now_ms;
		a->sure = true; /* measured: probe beyond it slowly */
		a->slow = 1.0 + 1000.0 / ADAPT_SLOW_MS; /* as if its 429s cost a second (most APIs') */
	}
}

/* Moves the ring to now's slot, zeroing the slots passed over. */
static void ring_advance(struct adapt *a, int64_t now_ms)
{
	int64_t slot = now_ms / 100;

	int64_t from = slot - a->ring_slot >= ADAPT_RING ? slot - ADAPT_RING + 1 : a->ring_slot + 1;

	for (int64_t s = from; s <= slot; s++) {
		a->ring[s % ADAPT_RING] = 0;
		/* a slot that starts inside a pause, or just after one (the
		 * API's bucket refilled meanwhile), is not a measure */
		a->ring_paused[s % ADAPT_RING] = s * 100 < a->pause_until_ms + ADAPT_SETTLE_MS;
	}
	if (slot > a->ring_slot)
		a->ring_slot = slot;
}

/* Accepted answers per second over the latest `want` complete, unpaused
 * 100 ms slots of the last 2 s (the run's first slot, the current one and
 * any with a pause in them left out), or -1 when fewer than `least` exist. */
static double accepted_in(const struct adapt *a, int want, int least)
{
	uint32_t n = 0;
	int slots = 0;

	for (int i = 1; i < ADAPT_RING && slots < want; i++) {
		int64_t s = a->ring_slot - i;

		if (s * 100 < a->start_ms || s * 100 < a->resume_ms || a->ring_paused[s % ADAPT_RING])
			continue;
		n += a->ring[s % ADAPT_RING];
		slots++;
	}
	return slots >= least ? (double)n * 10.0 / (double)slots : -1;
}

/* The same over at least 3 slots: a measure. */
static double accepted_over(const struct adapt *a, int want)
{
	return accepted_in(a, want, 3);
}

/* The rate the API accepted: the lower of the recent slots (300 ms, or
 * enough for ADAPT_MEASURE_N answers: a low rate is not read from a
 * handful) and the last 2 s (a limit that just dropped shows at once; a
 * steady one, smoothed). */
static double accepted_rate(const struct adapt *a)
{
	double recent = -1, steady = accepted_over(a, ADAPT_RING);

	for (int want = 3; want <= ADAPT_RING; want++) {
		recent = accepted_over(a, want);
		if (recent < 0 || recent * (double)want / 10.0 >= ADAPT_MEASURE_N)
			break;
	}
	return recent >= 0 && recent < steady ? recent : steady;
}

/* CUBIC's constants for the window now: beta (the cut), C while growing
 * back to w_max and *probe beyond it. */
static double cubic_c(const struct adapt *a, double *beta, double *probe)
{
	/* a dear 429 (a long pause) is met by a shallower cut: the pause
	 * itself already gave way */
	double c = a->sure ? ADAPT_C : ADAPT_C_GUESS, least;

	*beta = a->sure && a->slow > 2 ? ADAPT_BETA_DEAR : ADAPT_BETA;
	*probe = c;
	/* probing across a limit whose 429s cost a pause: slower, and
	 * slower again (twice the time to cross it) each time it was found
	 * where it was */
	if (a->sure && a->slow > 1)
		*probe /= a->slow * a->slow * a->slow;
	/* N processes probing one limit cross it N times as often: each
	 * probes at 1/N of the speed, so that together they probe as one */
	*probe /= a->sharers;
	/* alone, a low limit is probed in proportion to it (as one of
	 * ADAPT_PROBE_REF): the same growth in requests/s for everyone is
	 * what makes shares fair, and there are none */
	if (a->sharers == 1 && a->w_max < ADAPT_PROBE_REF)
		*probe *= a->w_max / ADAPT_PROBE_REF;
	for (int i = 0; i < a->confirms; i++)
		*probe /= 8.0;
	/* but ADAPT_RISEN x w_max is reached within ADAPT_PROBE_MAX_S: a
	 * raised limit is found within half a minute whatever came before */
	least = a->w_max * (ADAPT_RISEN - 1.0) /
		(ADAPT_PROBE_MAX_S * ADAPT_PROBE_MAX_S * ADAPT_PROBE_MAX_S);
	if (*probe < least)
		*probe = least;
	return c;
}

/* The pause a 429 asks for: its Retry-After (a floor), else a backoff
 * that starts at 100 ms and doubles while 429s keep coming, up to 5 s. */
static long pause_for(struct adapt *a, long retry_after_ms, int64_t now_ms)
{
	if (a->last_429_ms && now_ms - a->last_429_ms < 2000)
		a->backoff_ms = a->backoff_ms ? (a->backoff_ms * 2 > 5000 ? 5000 : a->backoff_ms * 2)
					      : 100;
	else
		a->backoff_ms = 100;
	a->last_429_ms = now_ms;
	return retry_after_ms >= 0 ? retry_after_ms : a->backoff_ms;
}

/* The limit a 429 shows: what the API accepted, never more than was
 * offered; -1 when there is nothing to measure it by. */
static double limit_seen(const struct adapt *a, int64_t sent_ms, int64_t now_ms)
{
	double seen = a->cuts ? accepted_rate(a) : accepted_over(a, 3);
	double now_rate = adapt_rate(a, now_ms);

	/* the slow start's ramp reads low over 3 slots: the last one took
	 * the pace of a doubling before the one that met the 429 (or less,
	 * when the concurrency held it back) */
	if (!a->cuts) {
		double prev = adapt_rate(a, sent_ms) / 2, last = accepted_in(a, 1, 1);

		if (last >= 0 && prev > last)
			prev = last;
		if (prev > seen)
			seen = prev;
	}
	if (seen >= 0 && now_rate > 0 && now_rate < seen)
		seen = now_rate;
	return seen;
}

/* The limit of a bucket holding a tenth of a second of its rate, full when
 * the pace r started and drained after waited_ms: r / (1 + 0.1 s / T) -
 * the sooner, the further below the pace. */
static double limit_drained(double r, int64_t waited_ms)
{
	double t = (double)waited_ms / 1000.0;

	return r / (1.0 + 0.1 / (t < 0.02 ? 0.02 : t));
}

/*
 * What a 429 at the pace now_rate says of the limit (the rate to aim
 * under), or -1 for nothing; sets whether it was measured (sure) and
 * whether it found the limit where it was (confirms). held: met on the
 * plateau at a measured w_max.
 */
static double read_limit(struct adapt *a, int64_t sent_ms, int64_t now_ms, double now_rate,
			 bool held)
{
	double old = a->w_max, used, seen = limit_seen(a, sent_ms, now_ms);
	bool was_sure = a->sure;

	/* a limit seen in the slow start (a ramp) or not measured is a
	 * guess: probe beyond it quickly until a steady pace measures it */
	a->sure = a->cuts > 0 && seen >= 0;
	/* the API took well under the pace for the last 2 s: something else
	 * held the run back (the concurrency at a slow API), and what it
	 * accepted says little of its limit */
	used = accepted_over(a, ADAPT_RING);
	if (used >= 0 && now_rate > 0 && used < ADAPT_BOUND * now_rate)
		a->sure = false;
	/* found again where it was by probing beyond it: probe more slowly
	 * next time; met on the plateau (a stray there, or another
	 * process's probe), or moved: as usual */
	if (a->sure && was_sure && !held && a->sharers == 1 && old > 0 &&
	    fabs(seen * ADAPT_AIM - old) <= ADAPT_CONFIRM_TOL * old)
		a->confirms += a->confirms < ADAPT_CONFIRM_MAX;
	else
		a->confirms = 0;
	if (seen < 0 && a->cuts && now_rate > 0)
		seen = now_rate * ADAPT_BLIND_CUT; /* too soon to measure */
	/* met at or under w_max after a long pause, alone (the API's bucket
	 * refilled, and nobody else drained it): how long the refill lasted
	 * says how far under, as in cut_soon */
	if (a->cuts && a->sharers == 1 && now_rate > 0 && now_rate <= old &&
	    a->event_pause_ms >= ADAPT_LONG_PAUSE_MS) {
		double drained = limit_drained(now_rate, sent_ms - a->resume_ms);

		if (drained < seen) {
			seen = drained;
			a->sure = true; /* a measure */
		}
	}
	/* met by probing a little beyond a measured w_max: the limit lies
	 * between the two, and the pace that drained the API's burst
	 * overshot it - take the middle */
	if (old > 0 && now_rate > old && now_rate < ADAPT_NEAR * old && seen > (old + now_rate) / 2)
		seen = (old + now_rate) / 2;
	return seen;
}

/*
 * Lowers w_max after a 429 that tells about the current pace. `sent_ms`
 * is when the throttled request left: one sent before the last cut took
 * effect says nothing new (the same event).
 */
static void cut(struct adapt *a, int64_t sent_ms, int64_t until, int64_t now_ms)
{
	double now_rate = adapt_rate(a, now_ms), seen;
	bool soon, held;

	if (!a->on || (a->cuts && sent_ms < a->resume_ms))
		return; /* sent before the last pause: the same event */
	/* throttled soon after resuming from a long pause (the API's bucket
	 * refilled): the pace is well above the limit. Not with shards: the
	 * others went on using the bucket while this one paused */
	soon = a->cuts && a->sharers == 1 && now_rate > 0 &&
	       a->event_pause_ms >= ADAPT_LONG_PAUSE_MS && sent_ms - a->resume_ms < ADAPT_SOON_MS;
	/* below the limit as known (climbing back after a cut), any other
	 * 429 is a stray */
	if (a->cuts && a->sure && !soon && now_rate < 0.95 * a->w_max)
		return;
	if (soon) {
		/* nothing accepted since the pause tells the limit: what the
		 * refill bought does. A bigger bucket would have lasted longer
		 * than ADAPT_SOON_MS; a smaller one makes this a low guess,
		 * which the probing corrects: held as a measure */
		a->w_max = limit_drained(now_rate, sent_ms - a->resume_ms) * ADAPT_AIM;
		a->confirms = 0;
		a->sure = true;
	} else {
		held = a->sure && a->sharers == 1 && a->w_max > 0 && now_rate <= a->w_max * 1.01;
		seen = read_limit(a, sent_ms, now_ms, now_rate, held);
		if (seen < ADAPT_MIN_RATE)
			return; /* nothing accepted at all: a used-up window */
		/* throttled beyond the last maximum: the limit is under the
		 * pace that met it (only just, met on the plateau); well below
		 * it: lower than thought (or it fell, or another process
		 * shares it) - aim under it (CUBIC's fast convergence, which
		 * also lets shares converge) */
		if (a->w_max <= 0 || seen >= ADAPT_BETA * a->w_max)
			a->w_max = seen * (held ? ADAPT_AIM_HELD : ADAPT_AIM);
		else
			a->w_max = seen * (1.0 + ADAPT_BETA) / 2.0;
	}
	/* one event halves the pace at most (the slow start's ramp may
	 * overshoot further) */
	if (a->cuts && now_rate > 0 && a->w_max < now_rate / 2)
		a->w_max = now_rate / 2;
	if (a->ceiling > 0 && a->w_max > a->ceiling)
		a->w_max = a->ceiling;
	/* the reduced pace starts when the pause ends */
	a->cut_ms = until > now_ms ? until : now_ms;
	a->cuts++;
}

int64_t adapt_answer(struct adapt *a, bool throttled, long retry_after_ms, int64_t sent_ms,
		     int64_t now_ms)
{
	long pause_ms;
	int64_t until;

	ring_advance(a, now_ms);
	if (!throttled) {
		a->ring[a->ring_slot % ADAPT_RING]++;
		a->backoff_ms = 0;
		return now_ms;
	}
	a->throttles++;
	pause_ms = pause_for(a, retry_after_ms, now_ms);
	until = now_ms + pause_ms;
	cut(a, sent_ms, until, now_ms);
	if (!a->cuts || sent_ms >= a->resume_ms) { /* a new event: its pause ends here */
		a->resume_ms = until;
		a->event_pause_ms = pause_ms;
	}
	/* the dearer a 429 (its pause), the slower the probing around the
	 * limit */
	a->slow = 1.0 + (double)(pause_ms > 5000 ? 5000 : pause_ms) / ADAPT_SLOW_MS;
	if (until > a->pause_until_ms)
		a->pause_until_ms = until;
	a->ring_paused[a->ring_slot % ADAPT_RING] = true;
	return until;
}

double adapt_rate(const struct adapt *a, int64_t now_ms)
{
	double t, r, k, c, beta, probe;

	if (!a->on || a->ceiling > 0) {
		if (!a->on || a->w_max <= 0)
			return a->ceiling; /* the operator's rate, or none */
	} else if (a->w_max <= 0) {
		/* slow start: double every ADAPT_DOUBLE_MS until the first 429 */
		double d = (double)(now_ms - a->start_ms) / ADAPT_DOUBLE_MS;

		return d > 40 ? 0 : ADAPT_START_RATE * pow(2.0, d);
	}
	/* CUBIC: back to w_max on r = w_max + C (t - K)^3, K = cbrt(w_max
	 * (1 - beta) / C) (w_max was accepted), then beyond it on the same
	 * curve with a smaller C when 429s are dear (their pause): a steady
	 * limit is held for seconds, a raised one found. Both depend on w_max
	 * only through K, so processes sharing a limit grow alike (fairness). */
	c = cubic_c(a, &beta, &probe);
	k = cbrt(a->w_max * (1.0 - beta) / c);
	t = (double)(now_ms > a->cut_ms ? now_ms - a->cut_ms : 0) / 1000.0;
	r = a->w_max + (t <= k ? c : probe) * (t - k) * (t - k) * (t - k);
	if (t > k && r > ADAPT_RISEN * a->w_max) {
		/* this far beyond w_max without a 429: the limit rose; find
		 * the new one at the first probing's speed */
		double tx = k + cbrt(a->w_max * (ADAPT_RISEN - 1.0) / probe);

		r = ADAPT_RISEN * a->w_max + c * (t - tx) * (t - tx) * (t - tx);
	}
	/* beyond the limit, grow only while the pace is what holds the run
	 * back: when the concurrency or the input does (a slow API, the last
	 * rows), a pace far above what is used would be a burst later */
	if (r > a->w_max) {
		double used = accepted_over(a, ADAPT_RING);

		if (used >= 0 && r > ADAPT_HEADROOM * used)
			r = ADAPT_HEADROOM * used > a->w_max ? ADAPT_HEADROOM * used : a->w_max;
	}
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
