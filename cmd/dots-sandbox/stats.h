/*
 * stats.h - the sandbox's request counters and the GET /_sandbox/stats
 * document built from them, the store's and the faults' counters.
 * Counters are relaxed atomics: thread-safe without a lock. Pure: no I/O.
 */
#ifndef SANDBOX_STATS_H
#define SANDBOX_STATS_H

#include <jansson.h>
#include <stdatomic.h>

#include "faults.h"
#include "limit.h"
#include "store.h"

#define STATS_STATUS_MAX 600 /* statuses counted: 0..599 */

/* In the order of the stats document's first keys. */
enum stats_counter {
	STATS_REQUESTS = 0,	/* every request under /api */
	STATS_SANDBOX_REQUESTS, /* every request under /_sandbox */
	STATS_UNAUTHORIZED,
	STATS_CREATE_REQUESTS, /* routed, authenticated creates */
	STATS_SEND_REQUESTS,
	STATS_VERIFY_REQUESTS,
	STATS_GET_REQUESTS,
	STATS_LIST_REQUESTS,
	STATS_ECHOED, /* --fault-echo answers */
	STATS_TOO_LARGE,
	STATS_COUNTER_COUNT
};

struct stats {
	atomic_ulong counter[STATS_COUNTER_COUNT];
	atomic_ulong status[STATS_STATUS_MAX]; /* API answers by status */
};

void stats_init(struct stats *s);
void stats_count(struct stats *s, enum stats_counter c);
unsigned long stats_get(struct stats *s, enum stats_counter c);

/* Counts an API answer sent with status (ignored when >= the max). */
void stats_count_status(struct stats *s, unsigned status);
unsigned long stats_get_status(struct stats *s, unsigned status);

/*
 * The /_sandbox/stats object at now_ns (the limiter's per-second history
 * runs up to now); NULL on out of memory.
 */
json_t *stats_doc(struct stats *s, struct store *store, struct faults *faults,
		  struct limit *limit, uint64_t now_ns);

#endif
