/*
 * test_adapt.c - adaptive pacing against a scripted API: a token bucket (or
 * a fixed window) on a simulated millisecond clock, clients with a
 * concurrency cap and a latency, each paced by its own adapt + pace. Checks
 * the share of the limit reached, the 429s spent, no burst after a pause,
 * recovery when the limit changes, and fair shares between clients.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "adapt.h"
#include "pace.h"

#define MAXC 4
#define MAXFLY 64

struct api {
	int kind;          /* 0 bucket, 1 fixed window */
	double rate;       /* bucket: per s; window: per window */
	double burst;
	double tokens;
	int64_t at_ms;
	int64_t window_ms;
	int64_t win_start;
	int used;
	bool retry_after;  /* 429s carry Retry-After */
	int64_t stray_ms;  /* else: one 429 this often, not a limit (0 = none) */
	int64_t next_stray;
};

/* 1 = accepted, else the 429's Retry-After in ms (or -1 when none): -2-ra */
static long api_take(struct api *a, int64_t now)
{
	if (a->stray_ms && now >= a->next_stray) {
		a->next_stray = now + a->stray_ms;
		return 1000;
	}
	if (a->kind == 0) {
		a->tokens += (double)(now - a->at_ms) * a->rate / 1000.0;
		if (a->tokens > a->burst)
			a->tokens = a->burst;
		a->at_ms = now;
		if (a->tokens >= 1.0) {
			a->tokens -= 1.0;
			return -1000000;
		}
		return a->retry_after ? 1000 : -1;
	}
	if (now - a->win_start >= a->window_ms) {
		a->win_start = now - (now - a->win_start) % a->window_ms;
		a->used = 0;
	}
	if (a->used < (int)a->rate) {
		a->used++;
		return -1000000;
	}
	return a->retry_after ? (long)(a->win_start + a->window_ms - now) : -1;
}

struct client {
	struct adapt ad;
	struct pace pc;
	int conc, latency_ms;
	int64_t fly[MAXFLY];  /* answer times */
	long fly_ra[MAXFLY];  /* -1000000 accepted, else retry-after (-1 none) */
	int nfly;
	long ok, limited;
	long ok_after;        /* accepted after `measure_from` */
	int64_t last_pause_end;
	int burst_after_pause; /* most starts in the 100 ms after a pause */
	int starts_window;
};

struct sim {
	struct api api;
	struct client c[MAXC];
	int n;
	int64_t now;
	int64_t measure_from;
	unsigned lcg;
};

static void sim_init(struct sim *s, int n, int conc, double learned)
{
	memset(s, 0, sizeof(*s));
	s->now = 1000;
	s->n = n;
	for (int i = 0; i < n; i++) {
		s->c[i].conc = conc;
		s->c[i].latency_ms = 20;
		adapt_init(&s->c[i].ad, true, 0, learned, (unsigned)n, s->now);
		pace_init(&s->c[i].pc, adapt_rate(&s->c[i].ad, s->now), s->now);
	}
	s->api.at_ms = s->now;
	s->api.win_start = s->now;
}

static void sim_run(struct sim *s, int64_t ms)
{
	int64_t end = s->now + ms;

	for (; s->now < end; s->now++) {
		/* clients take turns at being first each millisecond (their
		 * requests race for the API's tokens) */
		s->lcg = s->lcg * 1103515245u + 12345u;
		for (int j = 0; j < s->n; j++) {
			int i = (int)((j + (s->lcg >> 16)) % (unsigned)s->n);
			struct client *c = &s->c[i];

			/* answers due now */
			for (int k = 0; k < c->nfly;) {
				if (c->fly[k] <= s->now) {
					long ra = c->fly_ra[k];
					int64_t until;

					if (ra == -1000000) {
						c->ok++;
						if (s->now >= s->measure_from)
							c->ok_after++;
						until = adapt_answer(&c->ad, false, -1, s->now - c->latency_ms, s->now);
					} else {
						c->limited++;
						until = adapt_answer(&c->ad, true, ra, s->now - c->latency_ms, s->now);
					}
					if (until > s->now) {
						pace_pause(&c->pc, until);
						c->last_pause_end = until + 1;
					}
					c->fly[k] = c->fly[--c->nfly];
					c->fly_ra[k] = c->fly_ra[c->nfly];
				} else {
					k++;
				}
			}
			pace_set_rate(&c->pc, adapt_rate(&c->ad, s->now), s->now);
			while (c->nfly < c->conc && pace_take(&c->pc, s->now)) {
				c->fly_ra[c->nfly] = api_take(&s->api, s->now);
				c->fly[c->nfly++] = s->now + c->latency_ms;
				if (s->now >= c->last_pause_end && s->now < c->last_pause_end + 100) {
					c->starts_window++;
					if (c->starts_window > c->burst_after_pause)
						c->burst_after_pause = c->starts_window;
				} else {
					c->starts_window = 0;
				}
			}
		}
	}
}

static double useful_rate(const struct sim *s, int i, int64_t span_ms)
{
	return (double)s->c[i].ok_after * 1000.0 / (double)span_ms;
}

/* Client 0's accepted requests/s over the next span_ms, x 1/per. */
static double measure_next(struct sim *s, int64_t span_ms, double per)
{
	s->measure_from = s->now;
	s->c[0].ok_after = 0;
	sim_run(s, span_ms);
	return useful_rate(s, 0, span_ms) / per;
}

/* The API's limit becomes a bucket of `rate` with a tenth of a second of burst. */
static void set_bucket(struct sim *s, double rate)
{
	s->api.rate = rate;
	s->api.burst = rate / 10 > 1 ? rate / 10 : 1;
}

/* n clients (32 in flight each) against a full bucket of `rate` whose
 * 429s carry a Retry-After of 1 s, as most APIs' do. */
static void sim_bucket_ra(struct sim *s, int n, double rate)
{
	sim_init(s, n, 32, 0);
	s->api.retry_after = true;
	set_bucket(s, rate);
	s->api.tokens = s->api.burst;
}

/* Token bucket 300/s, concurrency 32, 20 ms: the default finds it. */
static void bucket_case(double rate, bool ra, double want, double max_429)
{
	struct sim s;
	double got;
	long total;

	sim_init(&s, 1, 32, 0);
	s.api.kind = 0;
	s.api.rate = rate;
	s.api.burst = rate / 10 > 1 ? rate / 10 : 1;
	s.api.tokens = s.api.burst;
	s.api.retry_after = ra;
	s.measure_from = s.now;
	sim_run(&s, 60000);
	got = useful_rate(&s, 0, 60000) / rate;
	total = s.c[0].ok + s.c[0].limited;
	print_message("bucket %.0f/s retry-after %d: %.3f of the limit, %ld 429s of %ld (%.2f%%), "
		      "learned %.1f\n", rate, ra, got, s.c[0].limited, total,
		      100.0 * (double)s.c[0].limited / (double)total, adapt_learned(&s.c[0].ad));
	print_message("most starts in 100 ms after a pause: %d\n", s.c[0].burst_after_pause);
	assert_true(got >= want);
	assert_true((double)s.c[0].limited <= max_429 * (double)total);
	/* after a pause, no burst of the whole concurrency */
	assert_true(s.c[0].burst_after_pause <= (int)(rate / 10 * 1.15) + 3);
}

static void test_bucket_300_no_retry_after(void **state)
{
	(void)state;
	bucket_case(300, false, 0.90, 0.03);
}

static void test_bucket_300_retry_after(void **state)
{
	(void)state;
	bucket_case(300, true, 0.90, 0.03);
}

static void test_bucket_50_and_1000(void **state)
{
	(void)state;
	bucket_case(50, false, 0.90, 0.03);
	bucket_case(1000, false, 0.90, 0.03);
}

/* A limit that does not move is probed ever more slowly: each 429 costs
 * a second's pause, so the second minute at a 300/s bucket (Retry-After
 * 1 s) sees few of them; and when the limit then doubles after minutes
 * at the same level, it is found within 30 s all the same. */
static void test_steady_limit_fewer_429s_and_a_raise_found(void **state)
{
	struct sim s;
	long before;
	double got;

	(void)state;
	sim_bucket_ra(&s, 1, 300);
	sim_run(&s, 60000);
	before = s.c[0].limited;
	got = measure_next(&s, 60000, 300.0);
	print_message("second minute: %.3f of the limit, %ld 429s, %d confirmations\n", got,
		      s.c[0].limited - before, s.c[0].ad.confirms);
	assert_true(got >= 0.93);
	assert_true(s.c[0].limited - before <= 4);
	sim_run(&s, 180000);
	set_bucket(&s, 600);
	sim_run(&s, 30000);
	got = measure_next(&s, 5000, 600.0);
	print_message("doubled after 5 minutes: %.3f of the new limit 30 s later\n", got);
	assert_true(got >= 0.85);
}

/* A fixed window of 600 per minute without Retry-After. */
static void test_fixed_window_per_minute(void **state)
{
	struct sim s;
	double got;

	(void)state;
	sim_init(&s, 1, 32, 0);
	s.api.kind = 1;
	s.api.rate = 600;
	s.api.window_ms = 60000;
	s.measure_from = s.now;
	sim_run(&s, 180000);
	got = useful_rate(&s, 0, 180000) / 10.0;
	print_message("window 600/min: %.3f of the limit, %ld 429s\n", got, s.c[0].limited);
	assert_true(got >= 0.85);
}

/* The limit halves mid-run: back at 0.85 of it within 5 s (429s with a
 * Retry-After of 1 s, as most APIs send: each costs a second's pause). */
static void test_limit_halved_then_doubled(void **state)
{
	struct sim s;
	double got;

	(void)state;
	sim_bucket_ra(&s, 1, 300);
	sim_run(&s, 20000);
	set_bucket(&s, 150);
	sim_run(&s, 5000);
	got = measure_next(&s, 5000, 150.0);
	print_message("halved: %.3f of the new limit in the 5 s after 5 s\n", got);
	assert_true(got >= 0.85);
	set_bucket(&s, 300);
	sim_run(&s, 30000);
	got = measure_next(&s, 5000, 300.0);
	print_message("doubled: %.3f of the new limit after 30 s\n", got);
	assert_true(got >= 0.85);
}

/* Three clients (shards) on one limit: together near it, and none
 * starved. ra: the 429s carry a Retry-After of 1 s (most APIs, and the
 * sandbox). lo, hi: each client's bounds, x a fair share. */
static void shards_case(bool ra, double lo, double hi)
{
	struct sim s;
	double sum = 0;

	sim_bucket_ra(&s, 3, 300);
	s.api.retry_after = ra;
	for (int k = 0; k < 15; k++) {
		sim_run(&s, 10000);
		print_message("t=%ds rates %.0f %.0f %.0f w_max %.0f %.0f %.0f 429s %ld %ld %ld\n",
			      (k + 1) * 10, adapt_rate(&s.c[0].ad, s.now), adapt_rate(&s.c[1].ad, s.now),
			      adapt_rate(&s.c[2].ad, s.now), s.c[0].ad.w_max, s.c[1].ad.w_max,
			      s.c[2].ad.w_max, s.c[0].limited, s.c[1].limited, s.c[2].limited);
		if (k == 2) {
			s.measure_from = s.now;
			for (int i = 0; i < 3; i++)
				s.c[i].ok_after = 0;
		}
	}
	for (int i = 0; i < 3; i++) {
		double r = useful_rate(&s, i, 120000);

		print_message("retry-after %d: shard %d: %.1f/s\n", ra, i, r);
		sum += r;
		assert_true(r >= lo * 100 && r <= hi * 100);
	}
	assert_true(sum >= 0.85 * 300);
}

/* Each within 25% of a third, with and without Retry-After. */
static void test_three_shards_share_fairly(void **state)
{
	(void)state;
	shards_case(true, 0.75, 1.25);
	shards_case(false, 0.75, 1.25);
}

/* 429s that are not a limit (one every 10 s, Retry-After 1 s, answering
 * real requests) on an API far above the concurrency's reach: each pauses
 * and cuts a little, but the rate does not collapse. */
static void test_random_429s_do_not_collapse_the_rate(void **state)
{
	struct sim s;
	double got;

	(void)state;
	sim_init(&s, 1, 32, 0);
	s.api.rate = 1e9;
	s.api.burst = 1e9;
	s.api.tokens = 1e9;
	s.api.stray_ms = 10000;
	s.api.next_stray = s.now + 10000;
	sim_run(&s, 270000);
	s.measure_from = s.now;
	s.c[0].ok_after = 0;
	sim_run(&s, 30000);
	/* 32 in flight at 20 ms: 1600/s at most; a 1 s pause every 10 s
	 * leaves 9/10 of it. A stray 429 on the plateau cannot be told from
	 * a limit shared with another process (where giving way is what
	 * makes shares fair), so each costs a few percent that probing wins
	 * back only in part: the pace settles, it does not collapse. */
	got = useful_rate(&s, 0, 30000);
	print_message("stray 429s: %.0f/s over the last 30 s of 300, %ld 429s, pace %.0f/s\n",
		      got, s.c[0].limited, adapt_rate(&s.c[0].ad, s.now));
	assert_true(got >= 0.45 * 1600 * 0.9);
}

/* The API slows down mid-run (20 ms -> 150 ms: 32 in flight then carry
 * at most 213/s, under the 300/s limit) and speeds up again: the pace is
 * not mistaken for a lower limit, and the limit is found again after. */
static void test_latency_changes(void **state)
{
	struct sim s;
	double got;

	(void)state;
	sim_bucket_ra(&s, 1, 300);
	sim_run(&s, 20000);
	s.c[0].latency_ms = 150;
	sim_run(&s, 5000);
	got = measure_next(&s, 10000, 1.0);
	print_message("latency 150 ms: %.0f/s (concurrency allows 213)\n", got);
	assert_true(got >= 0.9 * 32 * 1000 / 150);
	s.c[0].latency_ms = 20;
	sim_run(&s, 5000);
	got = measure_next(&s, 10000, 300.0);
	print_message("latency back to 20 ms: %.3f of the limit\n", got);
	assert_true(got >= 0.85);
}

/* A learned rate: the next run starts under it, with no 429 at all. */
static void test_learned_rate_starts_without_429s(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 1, 32, 300);
	set_bucket(&s, 300);
	s.api.tokens = 30;
	s.measure_from = s.now;
	sim_run(&s, 2500);
	assert_int_equal(s.c[0].limited, 0);
	assert_true(useful_rate(&s, 0, 2500) >= 0.85 * 300);
}

/* Off (--rate unlimited): never paced; a ceiling without adaptation. */
static void test_off_and_ceiling(void **state)
{
	struct adapt a;

	(void)state;
	adapt_init(&a, false, 0, 0, 1, 0);
	assert_true(adapt_rate(&a, 0) == 0);
	assert_true(adapt_answer(&a, true, 2000, 0, 0) == 2000); /* Retry-After still honoured */
	assert_true(adapt_rate(&a, 10) == 0);
	adapt_init(&a, true, 100, 0, 1, 0);
	assert_true(adapt_rate(&a, 0) == 100);
	for (int i = 0; i < 50; i++)
		adapt_answer(&a, false, -1, i * 10, i * 10);
	adapt_answer(&a, true, -1, 590, 600);
	assert_true(adapt_rate(&a, 600) <= 100 * ADAPT_BETA + 0.01);
	assert_true(adapt_rate(&a, 60000) <= 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_300_no_retry_after),
		cmocka_unit_test(test_bucket_300_retry_after),
		cmocka_unit_test(test_bucket_50_and_1000),
		cmocka_unit_test(test_steady_limit_fewer_429s_and_a_raise_found),
		cmocka_unit_test(test_fixed_window_per_minute),
		cmocka_unit_test(test_limit_halved_then_doubled),
		cmocka_unit_test(test_three_shards_share_fairly),
		cmocka_unit_test(test_learned_rate_starts_without_429s),
		cmocka_unit_test(test_random_429s_do_not_collapse_the_rate),
		cmocka_unit_test(test_latency_changes),
		cmocka_unit_test(test_off_and_ceiling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
