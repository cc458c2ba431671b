/*
 * adapt.h - adaptive pacing: finds and holds the highest request rate the
 * API accepts, without being told it. Pure arithmetic on times the caller
 * passes in (tests drive it with a fake clock and a scripted API).
 *
 * The signal is the 429. Every 429 pauses all new requests: for its
 * Retry-After when it has one (a floor), else for a backoff that starts at
 * 100 ms and doubles while 429s keep coming (a fixed window that is used
 * up), up to 5 s. After a pause the rate resumes at a reduced pace - never
 * with a burst of the whole concurrency.
 *
 * The limit (w_max) a 429 shows is the rate the API accepted lately (the
 * lower of the last 2 s and the last 300 ms or 30 answers, in 100 ms slots
 * since the previous pause ended, leaving out slots in a pause or just after
 * one, when the API's refill shows rather than its rate), never above the
 * pace, times ADAPT_AIM (the pace that met the 429 was above the limit).
 * The pace drops to ADAPT_BETA x w_max when the pause ends and grows back on
 * CUBIC's curve: quickly back to w_max, slowly across it (a plateau), faster
 * again beyond, and at ADAPT_C's pace once ADAPT_RISEN x w_max passed without
 * a 429 (the limit rose), so a raised limit is found in seconds and a steady
 * one held just under. The dearer a 429 (its pause), the shallower the cut
 * and the slower the probing beyond w_max; each time a probe finds the
 * limit where it was (ADAPT_CONFIRM_TOL), probing takes twice as long again
 * (up to ADAPT_CONFIRM_MAX times): a limit that does not move costs ever
 * fewer 429s.
 *
 * How a 429 reads: one for a request sent before the last pause ended is
 * the same event (it pauses, it does not cut again). One while climbing
 * back below a measured w_max is a stray - unless it came within
 * ADAPT_SOON_MS of resuming from a long pause: then the pace is well above
 * the limit (it fell). After a long pause the API's bucket is full, so the
 * time it lasted at the pace r says how far above: r / (1 + 0.1 s / T) for
 * T s (a bucket of a tenth of a second of its rate) - alone: shards went on
 * using it while one paused. One on the plateau is
 * met only just above the limit (cut to ADAPT_AIM_HELD); one just beyond it
 * (within ADAPT_NEAR) puts the limit between w_max and the pace, whose last
 * part only drained the API's burst: the middle is taken. A guess (the slow
 * start's, or a limit read while something else - the concurrency at a slow
 * API - held the run back) is probed beyond quickly until a 429 at a steady
 * pace measures it.
 *
 * A run that knows nothing yet starts slowly and doubles its rate every
 * ADAPT_DOUBLE_MS until the first 429 (a slow start: no opening burst
 * either); one that was given a ceiling starts at it, one with a learned
 * rate just under it.
 */
#ifndef DOTS_ADAPT_H
#define DOTS_ADAPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADAPT_BETA 0.9          /* the rate after a 429, x the accepted rate */
#define ADAPT_BETA_DEAR 0.95    /* ... when the 429 cost a pause over ADAPT_SLOW_MS */
#define ADAPT_C 2.0             /* CUBIC's C, requests/s per s^3 */
#define ADAPT_C_GUESS 8.0       /* ... around a guessed limit (slow start, blind cut) */
#define ADAPT_SLOW_MS 150.0     /* probing beyond w_max slows (1 + pause / this)^3 times, */
#define ADAPT_CONFIRM_TOL 0.05  /* ... and 8 times more when a probe found it this close */
#define ADAPT_CONFIRM_MAX 2     /* ... to where it was, up to this many times in a row, */
#define ADAPT_PROBE_REF 300.0   /* ... and, alone, a lower limit in proportion to it, */
#define ADAPT_PROBE_MAX_S 30.0  /* ... but ADAPT_RISEN x w_max is reached within this: */
#define ADAPT_RISEN 1.1         /* this far beyond w_max, the limit rose: C again */
#define ADAPT_MIN_RATE 0.5      /* requests/s, the floor */
#define ADAPT_RING 20           /* accepted answers per 100 ms, 2 s kept */
#define ADAPT_MEASURE_N 30      /* a limit is measured over at least this many answers */
#define ADAPT_START_RATE 20.0   /* slow start: from this rate ... */
#define ADAPT_DOUBLE_MS 100     /* ... doubling this often until the first 429 */
#define ADAPT_AIM 0.97          /* the pace that met a 429 was above the limit */
#define ADAPT_AIM_HELD 0.99     /* ... met on the plateau: only just above it */
#define ADAPT_NEAR 1.1          /* a 429 this near w_max, beyond it, ends its probe */
#define ADAPT_HEADROOM 2.0      /* beyond w_max: at most this x the rate used */
#define ADAPT_BOUND 0.6         /* accepted under this x the pace: not pace-bound */
#define ADAPT_SETTLE_MS 200     /* after a pause: the API's refill shows, not its rate */
#define ADAPT_SOON_MS 300       /* a 429 this soon after resuming cuts again, */
#define ADAPT_LONG_PAUSE_MS 500 /* ... after a pause this long (the API refilled) */
#define ADAPT_BLIND_CUT 0.85    /* else a 429 before anything was measured: x the pace */

struct adapt {
	bool on;                 /* auto pacing (else: the ceiling, or none) */
	double ceiling;          /* --rate N: never above, 0 = none */
	double w_max;            /* the limit learned at the last 429, 0 = none yet */
	int64_t cut_ms;          /* when the cut pace took effect (its pause's end) */
	int64_t resume_ms;       /* the end of the latest event's pause: requests
				  * sent before it belong to that event */
	int64_t start_ms;
	int64_t last_429_ms;     /* the latest 429 */
	long backoff_ms;         /* the pause for a 429 without Retry-After */
	uint32_t ring[ADAPT_RING]; /* accepted answers per 100 ms slot */
	bool ring_paused[ADAPT_RING]; /* the slot saw a pause: not a measure */
	int64_t ring_slot;       /* the absolute 100 ms slot of the newest entry */
	int64_t pause_until_ms;  /* the latest pause */
	long event_pause_ms;     /* the pause the latest event asked for */
	size_t throttles;        /* 429s seen */
	size_t cuts;             /* rate cuts (throttle events) */
	double slow;             /* probing slows by this when 429s cost a pause */
	bool sure;               /* w_max was measured at a steady pace */
	int confirms;            /* measures in a row that found w_max again */
	unsigned sharers;        /* processes sharing the limit (--shard K/N: N), 1 = alone */
};

/* on: --rate auto (or a ceiling); ceiling: 0 = none; learned: a rate an
 * earlier run learned (0 = none: a slow start until the first 429);
 * sharers: how many processes share the limit (shards; 0 or 1 = alone):
 * each probes at 1/sharers of the speed, and every 429 gives way as one
 * from a probe does (a 429 on the plateau may be another's probe). */
void adapt_init(struct adapt *a, bool on, double ceiling, double learned, unsigned sharers,
		int64_t now_ms);

/*
 * An answer arrived: throttled = a 429, retry_after_ms its Retry-After
 * (-1 = none), sent_ms when its request left. Returns the time until which no new request may start
 * (now_ms when there is no pause).
 */
int64_t adapt_answer(struct adapt *a, bool throttled, long retry_after_ms, int64_t sent_ms,
		     int64_t now_ms);

/* The rate to pace at now, requests/s; 0 = unlimited. */
double adapt_rate(const struct adapt *a, int64_t now_ms);

/* What this run learned (to keep for the next one), 0 = nothing. */
double adapt_learned(const struct adapt *a);

#endif
