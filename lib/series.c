/*
 * series.c - the run report's bounded time series (series.h). No I/O, no
 * clock: tests drive it with any times they like.
 */
#include "series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

int series_init(struct series *s, struct err *err)
{
	memset(s, 0, sizeof(*s));
	s->pt = calloc(SERIES_CAP, sizeof(*s->pt));
	if (!s->pt)
		return err_set(err, "out of memory");
	s->step_ms = SERIES_STEP_MS;
	return 0;
}

void series_release(struct series *s)
{
	free(s->pt);
	s->pt = NULL;
	s->n = 0;
}

static void merge_into(struct series_point *to, const struct series_point *a,
		       const struct series_point *b)
{
	struct series_point m = *a;

	m.done += b->done;
	m.requests += b->requests;
	m.rate_limited += b->rate_limited;
	m.retries += b->retries;
	m.samples += b->samples;
	m.paused_samples += b->paused_samples;
	if (b->in_flight_max > m.in_flight_max)
		m.in_flight_max = b->in_flight_max;
	m.in_flight_sum += b->in_flight_sum;
	m.rate_sum += b->rate_sum;
	for (int i = 0; i < SERIES_LAT_BUCKETS; i++)
		m.lat[i] += b->lat[i];
	*to = m;
}

/* Halves the resolution: points 2i and 2i+1 become point i. */
static void halve(struct series *s)
{
	static const struct series_point zero;
	size_t n = (s->n + 1) / 2;

	for (size_t i = 0; i < n; i++)
		merge_into(&s->pt[i], &s->pt[2 * i], 2 * i + 1 < s->n ? &s->pt[2 * i + 1] : &zero);
	memset(&s->pt[n], 0, (SERIES_CAP - n) * sizeof(*s->pt));
	s->n = n;
	s->step_ms *= 2;
}

struct series_point *series_at(struct series *s, int64_t t_ms)
{
	size_t i;

	if (t_ms < 0)
		t_ms = 0;
	while (t_ms / s->step_ms >= SERIES_CAP)
		halve(s);
	i = (size_t)(t_ms / s->step_ms);
	if (i + 1 > s->n)
		s->n = i + 1; /* the points between are zeros: nothing happened */
	if (t_ms > s->end_ms)
		s->end_ms = t_ms;
	return &s->pt[i];
}

void series_count(struct series *s, int64_t t_ms, uint64_t done, uint64_t requests,
		  uint64_t rate_limited, uint64_t retries)
{
	struct series_point *p = series_at(s, t_ms);

	p->done += done;
	p->requests += requests;
	p->rate_limited += rate_limited;
	p->retries += retries;
}

void series_gauge(struct series *s, int64_t t_ms, size_t in_flight, double rate, bool paused)
{
	struct series_point *p = series_at(s, t_ms);

	p->samples++;
	p->paused_samples += paused;
	p->in_flight_sum += (double)in_flight;
	if (in_flight > p->in_flight_max)
		p->in_flight_max = in_flight > UINT32_MAX ? UINT32_MAX : (uint32_t)in_flight;
	p->rate_sum += rate > 0 ? rate : 0;
}

void series_latency(struct series *s, int64_t t_ms, double latency_ms, uint32_t count)
{
	struct series_point *p = series_at(s, t_ms);
	int b = series_lat_bucket(latency_ms);

	p->lat[b] = UINT32_MAX - p->lat[b] < count ? UINT32_MAX : p->lat[b] + count;
}

int series_lat_bucket(double ms)
{
	double b;

	if (!(ms >= 1)) /* also NaN */
		return 0;
	b = 1 + floor(3 * log2(ms) + 1e-9);
	return b >= SERIES_LAT_BUCKETS - 1 ? SERIES_LAT_BUCKETS - 1 : (int)b;
}

double series_lat_value(int bucket)
{
	if (bucket <= 0)
		return 0.5;
	return exp2(((double)bucket - 0.5) / 3);
}

double series_percentile(const struct series_point *p, double pct)
{
	uint64_t total = 0, seen = 0, want;

	for (int i = 0; i < SERIES_LAT_BUCKETS; i++)
		total += p->lat[i];
	if (!total)
		return -1;
	want = (uint64_t)ceil((double)total * pct / 100.0);
	if (want < 1)
		want = 1;
	for (int i = 0; i < SERIES_LAT_BUCKETS; i++) {
		seen += p->lat[i];
		if (seen >= want)
			return series_lat_value(i);
	}
	return series_lat_value(SERIES_LAT_BUCKETS - 1);
}
