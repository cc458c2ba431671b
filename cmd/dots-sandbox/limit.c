/*
 * limit.c - the request limiter: token bucket or fixed window, the SMS
 * bucket, the rate schedule and the per-second history of accepted
 * requests. Pure logic under one mutex: no I/O, no clock reads (callers
 * pass the time), no HTTP, no JSON.
 */
#include "limit.h"

#include <math.h>
#include <string.h>

#include "banned.h"

#define LIMIT_NS_PER_S 1000000000ULL

void limit_settings_default(struct limit_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = LIMIT_NONE;
}

double limit_burst_of(double rate, double burst)
{
	if (burst > 0)
		return burst;
	return rate / 10 > 1 ? rate / 10 : 1;
}

static int limit_rate_ok(double r, double min)
{
	return r >= min && r <= LIMIT_RATE_MAX;
}

int limit_settings_check(const struct limit_settings *s, struct err *err)
{
	size_t i;

	switch (s->kind) {
	case LIMIT_NONE:
		break;
	case LIMIT_BUCKET:
		if (!(s->rate > 0 && limit_rate_ok(s->rate, 0)))
			return err_set(err, "rate: a bucket needs a rate "
					    "above 0 and at most 1e7");
		break;
	case LIMIT_WINDOW:
		if (!limit_rate_ok(s->rate, 1) || s->rate != floor(s->rate))
			return err_set(err, "rate: a window needs a whole "
					    "number of requests, 1..1e7");
		if (s->window_s < 1 || s->window_s > LIMIT_WINDOW_MAX)
			return err_set(err, "window_s: a window needs a whole "
					    "number of seconds, 1..86400");
		break;
	default:
		return err_set(err, "kind: unknown limiter kind");
	}
	if (s->burst != 0 && !limit_rate_ok(s->burst, 1))
		return err_set(err, "burst: not in 1..1e7");
	if (!limit_rate_ok(s->sms_rate, 0))
		return err_set(err, "sms_rate: not in 0..1e7");
	if (s->n_steps > LIMIT_STEPS_MAX)
		return err_set(err, "schedule: more than %d steps",
			       LIMIT_STEPS_MAX);
	for (i = 0; i < s->n_steps; i++) {
		if (!limit_rate_ok(s->steps[i].rate, 0))
			return err_set(err, "schedule: rate not in 0..1e7");
		if (i > 0 && s->steps[i].at_ns < s->steps[i - 1].at_ns)
			return err_set(err, "schedule: times must not "
					    "decrease");
	}
	return 0;
}

/* Moves the schedule's offsets onto the monotonic clock from origin. */
static void limit_shift_steps(struct limit_settings *s, uint64_t origin)
{
	size_t i;

	for (i = 0; i < s->n_steps; i++)
		s->steps[i].at_ns += origin;
}

static void limit_fresh_state(struct limit *l)
{
	memset(&l->main, 0, sizeof(l->main));
	memset(&l->sms, 0, sizeof(l->sms));
	l->win_index = 0;
	l->win_count = 0;
}

int limit_init(struct limit *l, const struct limit_settings *s,
	       uint64_t start_ns, struct err *err)
{
	memset(l, 0, sizeof(*l));
	if (limit_settings_check(s, err) < 0)
		return -1;
	l->set = *s;
	limit_shift_steps(&l->set, start_ns);
	l->start_ns = start_ns;
	if (pthread_mutex_init(&l->lock, NULL) != 0)
		return err_set(err, "cannot create the limiter lock");
	return 0;
}

void limit_release(struct limit *l)
{
	if (l)
		pthread_mutex_destroy(&l->lock);
}

/* Refills b at rate up to now_ns, at most to burst (full at first use). */
static void limit_refill(struct limit_bucket *b, double rate, double burst,
			 uint64_t now_ns)
{
	if (!b->primed) {
		b->primed = 1;
		b->tokens = burst;
		b->last_ns = now_ns;
		return;
	}
	if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) / LIMIT_NS_PER_S *
			     rate;
		b->last_ns = now_ns;
	}
	if (b->tokens > burst)
		b->tokens = burst;
}

/* Takes a token, or says in *wait_s how long until there is one. */
static int limit_bucket_take(struct limit_bucket *b, double rate,
			     double burst, uint64_t now_ns, double *wait_s)
{
	limit_refill(b, rate, burst, now_ns);
	if (b->tokens >= 1 - 1e-9) {
		b->tokens -= 1;
		return 1;
	}
	*wait_s = (1 - b->tokens) / rate;
	return 0;
}

/* Applies the schedule's steps that are due at now_ns, in order. */
static void limit_due(struct limit *l, uint64_t now_ns)
{
	struct limit_settings *s = &l->set;

	while (s->n_steps > 0 && s->steps[0].at_ns <= now_ns) {
		const struct limit_step st = s->steps[0];

		if (s->kind == LIMIT_BUCKET) /* tokens earned so far stay */
			limit_refill(&l->main, s->rate,
				     limit_burst_of(s->rate, s->burst),
				     st.at_ns);
		else
			memset(&l->main, 0, sizeof(l->main));
		s->kind = st.rate > 0 ? LIMIT_BUCKET : LIMIT_NONE;
		s->rate = st.rate;
		s->window_s = 0;
		if (l->main.primed)
			limit_refill(&l->main, s->rate,
				     limit_burst_of(s->rate, s->burst),
				     st.at_ns);
		s->n_steps--;
		memmove(s->steps, s->steps + 1,
			s->n_steps * sizeof(s->steps[0]));
	}
}

/* Seconds since the start, for the history. */
static uint64_t limit_second(const struct limit *l, uint64_t now_ns)
{
	return now_ns > l->start_ns ? (now_ns - l->start_ns) / LIMIT_NS_PER_S
				    : 0;
}

/* Makes sec the newest second of the history (zeros in between). */
static void limit_advance(struct limit *l, uint64_t sec)
{
	uint64_t s;

	if (sec + 1 <= l->hist_head)
		return;
	if (sec + 1 - l->hist_head >= LIMIT_HISTORY)
		memset(l->hist, 0, sizeof(l->hist));
	else
		for (s = l->hist_head; s <= sec; s++)
			l->hist[s % LIMIT_HISTORY] = 0;
	l->hist_head = sec + 1;
}

static void limit_accepted(struct limit *l, uint64_t now_ns)
{
	uint64_t sec = limit_second(l, now_ns);

	limit_advance(l, sec);
	if (l->hist_head - sec > LIMIT_HISTORY) /* older than kept */
		return;
	if (l->hist[sec % LIMIT_HISTORY] < UINT32_MAX)
		l->hist[sec % LIMIT_HISTORY]++;
}

/* The general limit: 1 to pass, else 0 and *wait_s. */
static int limit_general(struct limit *l, uint64_t now_ns, double *wait_s)
{
	const struct limit_settings *s = &l->set;
	uint64_t win_ns, idx;

	switch (s->kind) {
	case LIMIT_BUCKET:
		return limit_bucket_take(&l->main, s->rate,
					 limit_burst_of(s->rate, s->burst),
					 now_ns, wait_s);
	case LIMIT_WINDOW:
		win_ns = (uint64_t)s->window_s * LIMIT_NS_PER_S;
		idx = now_ns / win_ns + 1;
		if (idx > l->win_index) { /* a late arrival counts as now */
			l->win_index = idx;
			l->win_count = 0;
		}
		if ((double)l->win_count < s->rate) {
			l->win_count++;
			return 1;
		}
		*wait_s = (double)(l->win_index * win_ns - now_ns) /
			  LIMIT_NS_PER_S;
		return 0;
	case LIMIT_NONE:
	default:
		return 1;
	}
}

/* Gives back what limit_general took for a request refused after all. */
static void limit_refund(struct limit *l)
{
	if (l->set.kind == LIMIT_BUCKET)
		l->main.tokens += 1;
	else if (l->set.kind == LIMIT_WINDOW && l->win_count > 0)
		l->win_count--;
}

enum limit_verdict limit_take(struct limit *l, uint64_t now_ns, int sms,
			      long *retry_s)
{
	enum limit_verdict v = LIMIT_OK;
	double wait_s = 0;

	*retry_s = -1;
	pthread_mutex_lock(&l->lock);
	limit_due(l, now_ns);
	if (!limit_general(l, now_ns, &wait_s))
		v = LIMIT_REFUSED;
	else if (sms && l->set.sms_rate > 0 &&
		 !limit_bucket_take(&l->sms, l->set.sms_rate,
				    limit_burst_of(l->set.sms_rate, 0), now_ns,
				    &wait_s)) {
		v = LIMIT_REFUSED_SMS;
		limit_refund(l); /* only accepted requests use the quota */
	}
	if (v == LIMIT_OK) {
		limit_accepted(l, now_ns);
	} else {
		l->st.limited++;
		if (v == LIMIT_REFUSED_SMS)
			l->st.limited_sms++;
		if (!l->set.no_retry_after) {
			double up = ceil(wait_s - 1e-9);

			*retry_s = up < 1 ? 1 : up > 1e9 ? 1000000000L
							 : (long)up;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

int limit_replace(struct limit *l, const struct limit_settings *s,
		  uint64_t now_ns, struct err *err)
{
	if (limit_settings_check(s, err) < 0)
		return -1;
	pthread_mutex_lock(&l->lock);
	l->set = *s;
	limit_shift_steps(&l->set, now_ns);
	limit_fresh_state(l);
	limit_due(l, now_ns); /* steps at offset 0 apply at once */
	pthread_mutex_unlock(&l->lock);
	return 0;
}

void limit_get(struct limit *l, uint64_t now_ns, struct limit_settings *out)
{
	size_t i;

	pthread_mutex_lock(&l->lock);
	limit_due(l, now_ns);
	*out = l->set;
	pthread_mutex_unlock(&l->lock);
	for (i = 0; i < out->n_steps; i++)
		out->steps[i].at_ns = out->steps[i].at_ns > l->start_ns
					  ? out->steps[i].at_ns - l->start_ns
					  : 0;
}

void limit_snapshot(struct limit *l, struct limit_stats *out)
{
	pthread_mutex_lock(&l->lock);
	*out = l->st;
	pthread_mutex_unlock(&l->lock);
}

size_t limit_history(struct limit *l, uint64_t now_ns,
		     uint32_t out[LIMIT_HISTORY])
{
	uint64_t first;
	size_t n, i;

	pthread_mutex_lock(&l->lock);
	limit_advance(l, limit_second(l, now_ns));
	n = l->hist_head < LIMIT_HISTORY ? (size_t)l->hist_head
					 : LIMIT_HISTORY;
	first = l->hist_head - n;
	for (i = 0; i < n; i++)
		out[i] = l->hist[(first + i) % LIMIT_HISTORY];
	pthread_mutex_unlock(&l->lock);
	return n;
}
