/*
 * series.h - a run's figures over time in bounded memory, for the charts
 * of the run report: one point per second up to SERIES_CAP points, then
 * neighbours merge (each point covers twice the time), whatever the run's
 * length. Each point sums what happened in its span (rows, requests, 429s,
 * retries), samples the gauges (in-flight requests, pacing rate, paused)
 * and keeps request latencies in a small log-bucket histogram, so its
 * percentiles survive merging. Pure: time is whatever the caller says.
 */
#ifndef DOTS_SERIES_H
#define DOTS_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SERIES_CAP 2048         /* points at most (even) */
#define SERIES_STEP_MS 1000     /* the span of a point until the first merge */
#define SERIES_LAT_BUCKETS 48   /* 3 per doubling: < 1 ms, 1 ms .. ~52 s and more */

/* What happened in [i * step_ms, (i + 1) * step_ms) of the run. */
struct series_point {
	uint64_t done;           /* rows finished (results lines) */
	uint64_t requests;       /* HTTP attempts that ended */
	uint64_t rate_limited;   /* 429 answers */
	uint64_t retries;
	uint32_t samples;        /* gauge samples taken in the span */
	uint32_t paused_samples; /* of them, taken while every request waited (429) */
	uint32_t in_flight_max;
	double in_flight_sum;    /* sum over samples: the mean is sum / samples */
	double rate_sum;         /* pacing rate in requests/s (0 = unlimited), summed */
	uint32_t lat[SERIES_LAT_BUCKETS]; /* request latencies, see series_lat_bucket */
};

struct series {
	int64_t step_ms;            /* span of one point: SERIES_STEP_MS << merges */
	size_t n;                   /* points in use: they cover [0, n * step_ms) */
	int64_t end_ms;             /* the latest time seen */
	struct series_point *pt;    /* SERIES_CAP points */
};

/* Allocates the points (about 0.5 MB). Fails with err on OOM. */
int series_init(struct series *s, struct err *err);

/* Frees the points; safe on a zeroed struct. */
void series_release(struct series *s);

/*
 * The point that covers t_ms (ms since the run's start; negative counts as
 * 0), merging neighbours as often as needed to make room. Never NULL.
 */
struct series_point *series_at(struct series *s, int64_t t_ms);

/* Counts that grew by these amounts at t_ms. */
void series_count(struct series *s, int64_t t_ms, uint64_t done, uint64_t requests,
		  uint64_t rate_limited, uint64_t retries);

/* A sample of the gauges at t_ms. */
void series_gauge(struct series *s, int64_t t_ms, size_t in_flight, double rate, bool paused);

/* count requests that took latency_ms, ended at t_ms. */
void series_latency(struct series *s, int64_t t_ms, double latency_ms, uint32_t count);

/* The histogram bucket of a latency, and the value a bucket stands for
 * (its geometric middle: within 13 % of every latency in it). */
int series_lat_bucket(double ms);
double series_lat_value(int bucket);

/* The p-th percentile (0..100) of a point's latencies in ms, -1 if none. */
double series_percentile(const struct series_point *p, double pct);

#endif
