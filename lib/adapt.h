/*
 * adapt.h - adaptive pacing: finds and holds the highest request rate the
 * API accepts, without being told it. Pure arithmetic on times the caller
 * passes in (tests drive it with a fake clock and a scripted API).
 *
 * The signal is the 429. When one arrives, the rate the API accepted over
 * the last second (100 ms slots without a pause in them, at least 300 ms
 * of them; else the 429 only pauses) is taken as its limit (w_max), the
 * pace drops to
 * ADAPT_BETA x w_max, and grows back on CUBIC's cubic curve:
 * quickly back to w_max, slowly across it, faster again beyond, so a raised
 * limit is found in seconds and a steady one held just under. 429s that
 * follow within ADAPT_HOLD_MS are the same event. Every 429 pauses all new
 * requests: for its Retry-After when it has one (a floor), else for a
 * backoff that starts at 100 ms and doubles while 429s keep coming (a fixed
 * window that is used up), up to 5 s. After a pause the rate resumes at
 * the reduced pace - never with a burst of the whole concurrency. A run
 * that knows nothing yet starts slowly and doubles its rate every 250 ms
 * until the first 429 (a slow start: no opening burst either); one that
 * was given a ceiling starts at it, one with a learned rate just under it.
 */
#ifndef DOTS_ADAPT_H
#define DOTS_ADAPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADAPT_BETA 0.9          /* the rate after a 429, x the accepted rate */
#define ADAPT_C 2.0             /* CUBIC's C, requests/s per s^3 */
#define ADAPT_HOLD_MS 500       /* 429s this close are one event */
#define ADAPT_MIN_RATE 0.5      /* requests/s, the floor */
#define ADAPT_RING 20           /* accepted answers per 100 ms, 2 s kept */
#define ADAPT_START_RATE 20.0   /* slow start: from this rate ... */
#define ADAPT_DOUBLE_MS 250     /* ... doubling this often until the first 429 */

struct adapt {
	bool on;                 /* auto pacing (else: the ceiling, or none) */
	double ceiling;          /* --rate N: never above, 0 = none */
	double w_max;            /* the limit learned at the last 429, 0 = none yet */
	int64_t cut_ms;          /* when the rate was last cut */
	int64_t start_ms;
	int64_t last_429_ms;     /* the latest 429 */
	long backoff_ms;         /* the pause for a 429 without Retry-After */
	uint32_t ring[ADAPT_RING]; /* accepted answers per 100 ms slot */
	bool ring_paused[ADAPT_RING]; /* the slot saw a pause: not a measure */
	int64_t ring_slot;       /* the absolute 100 ms slot of the newest entry */
	int64_t pause_until_ms;  /* the latest pause */
	size_t throttles;        /* 429s seen */
	size_t cuts;             /* rate cuts (throttle events) */
	double slow;             /* probing slows by this when 429s cost a pause */
};

/* on: --rate auto (or a ceiling); ceiling: 0 = none; learned: a rate an
 * earlier run learned (0 = none: start unpaced until the first 429). */
void adapt_init(struct adapt *a, bool on, double ceiling, double learned, int64_t now_ms);

/*
 * An answer arrived: throttled = a 429, retry_after_ms its Retry-After
 * (-1 = none). Returns the time until which no new request may start
 * (now_ms when there is no pause).
 */
int64_t adapt_answer(struct adapt *a, bool throttled, long retry_after_ms, int64_t now_ms);

/* The rate to pace at now, requests/s; 0 = unlimited. */
double adapt_rate(const struct adapt *a, int64_t now_ms);

/* What this run learned (to keep for the next one), 0 = nothing. */
double adapt_learned(const struct adapt *a);

#endif
