/*
 * stats.c - request counters and the /_sandbox/stats JSON document.
 * Pure: must not do I/O or know HTTP; keys and their order are the
 * stats API the e2e tests read, so never rename one (new ones go last).
 */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>

#include "banned.h"

static const char *const stats_names[STATS_COUNTER_COUNT] = {
    [STATS_REQUESTS] = "requests",
    [STATS_SANDBOX_REQUESTS] = "sandbox_requests",
    [STATS_UNAUTHORIZED] = "unauthorized",
    [STATS_CREATE_REQUESTS] = "create_requests",
    [STATS_SEND_REQUESTS] = "send_requests",
    [STATS_VERIFY_REQUESTS] = "verify_requests",
    [STATS_GET_REQUESTS] = "get_requests",
    [STATS_LIST_REQUESTS] = "list_requests",
    [STATS_ECHOED] = "echoed",
    [STATS_TOO_LARGE] = "too_large",
};

void stats_init(struct stats *s)
{
	int i;

	for (i = 0; i < STATS_COUNTER_COUNT; i++)
		atomic_init(&s->counter[i], 0);
	for (i = 0; i < STATS_STATUS_MAX; i++)
		atomic_init(&s->status[i], 0);
}

void stats_count(struct stats *s, enum stats_counter c)
{
	atomic_fetch_add_explicit(&s->counter[c], 1, memory_order_relaxed);
}

unsigned long stats_get(struct stats *s, enum stats_counter c)
{
	return atomic_load_explicit(&s->counter[c], memory_order_relaxed);
}

void stats_count_status(struct stats *s, unsigned status)
{
	if (status < STATS_STATUS_MAX)
		atomic_fetch_add_explicit(&s->status[status], 1,
					  memory_order_relaxed);
}

unsigned long stats_get_status(struct stats *s, unsigned status)
{
	if (status >= STATS_STATUS_MAX)
		return 0;
	return atomic_load_explicit(&s->status[status], memory_order_relaxed);
}

static void stats_put(json_t *o, const char *key, unsigned long v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

/* The limiter's keys, after every older one. */
static void stats_limit(json_t *o, struct limit *limit, uint64_t now_ns)
{
	uint32_t *hist = malloc(LIMIT_HISTORY * sizeof(*hist));
	struct limit_stats ls;
	json_t *list = json_array();
	size_t n = 0, i;

	limit_snapshot(limit, &ls);
	stats_put(o, "limited", ls.limited);
	stats_put(o, "limited_sms", ls.limited_sms);
	if (hist)
		n = limit_history(limit, now_ns, hist);
	for (i = 0; list && i < n; i++)
		json_array_append_new(list, json_integer((json_int_t)hist[i]));
	free(hist);
	json_object_set_new(o, "accepted_per_s", list);
}

json_t *stats_doc(struct stats *s, struct store *store, struct faults *faults,
		  struct limit *limit, uint64_t now_ns)
{
	struct store_stats ss;
	struct faults_stats fs;
	json_t *o = json_object(), *f = json_object(), *st = json_object();
	unsigned k;

	if (!o || !f || !st) {
		json_decref(o);
		json_decref(f);
		json_decref(st);
		return NULL;
	}
	store_stats(store, &ss);
	faults_snapshot(faults, &fs);
	for (k = 0; k < STATS_COUNTER_COUNT; k++)
		stats_put(o, stats_names[k],
			  stats_get(s, (enum stats_counter)k));
	stats_put(o, "creates", ss.creates);
	stats_put(o, "existing_returned", ss.existing_returned);
	stats_put(o, "users", ss.users);
	stats_put(o, "sms", ss.sms);
	stats_put(o, "users_with_sms", ss.users_with_sms);
	stats_put(o, "max_sms_per_user", ss.max_sms_per_user);
	stats_put(o, "users_with_multiple_sms", ss.users_with_multiple_sms);
	stats_put(o, "verified_users", ss.verified_users);
	stats_put(o, "verifies_ok", ss.verifies_ok);
	stats_put(o, "verifies_failed", ss.verifies_failed);
	stats_put(o, "rate_limited", fs.rate_limited);
	stats_put(o, "requests_during_pause", fs.during_pause);
	stats_put(o, "after_effects", fs.after_effects);
	for (k = FAULT_FIRST_RANDOM; k < FAULT_KIND_COUNT; k++)
		stats_put(f, faults_kind_name((enum fault_kind)k), fs.count[k]);
	json_object_set_new(o, "faults", f);
	for (k = 0; k < STATS_STATUS_MAX; k++) {
		unsigned long n = stats_get_status(s, k);
		char key[16];

		if (n) {
			snprintf(key, sizeof(key), "%u", k);
			stats_put(st, key, n);
		}
	}
	json_object_set_new(o, "responses", st);
	stats_limit(o, limit, now_ns);
	return o;
}
