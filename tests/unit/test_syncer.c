/*
 * test_syncer.c - the background fdatasync: a waited ticket is durable, the
 * wake function runs after each sync, tickets only grow, a failing sync is
 * reported (and stays reported), and freeing finishes what was asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "syncer.h"

#include "testutil.h"

#include "banned.h"

static int setup(void **state)
{
	return fixture_setup(state, "dots-syncer", "data");
}

static int teardown(void **state)
{
	return fixture_teardown(state);
}

struct wakes {
	pthread_mutex_t mu;
	int n;
};

static void count_wake(void *ctx)
{
	struct wakes *w = ctx;

	pthread_mutex_lock(&w->mu);
	w->n++;
	pthread_mutex_unlock(&w->mu);
}

static int open_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	return fd;
}

static void test_wait_makes_a_ticket_durable_and_wakes(void **state)
{
	struct fixture *f = *state;
	struct wakes w = {PTHREAD_MUTEX_INITIALIZER, 0};
	struct syncer *s = NULL;
	struct err e;
	uint64_t t = 99;
	int fd = open_file(f->path);

	err_init(&e);
	assert_int_equal(syncer_new(&s, fd, &e), 0);
	syncer_set_wake(s, count_wake, &w);
	assert_int_equal(syncer_done(s, &t, &e), 0);
	assert_int_equal(t, 0); /* nothing asked yet */
	assert_false(syncer_pending(s));

	assert_int_equal(write(fd, "abc", 3), 3);
	syncer_request(s, 1);
	assert_int_equal(syncer_wait(s, 1, &e), 0);
	assert_int_equal(syncer_done(s, &t, &e), 0);
	assert_true(t >= 1);
	assert_false(syncer_pending(s));
	pthread_mutex_lock(&w.mu);
	assert_true(w.n >= 1); /* the wake runs under the lock, before done is seen */
	pthread_mutex_unlock(&w.mu);

	/* waiting asks by itself; an older ticket is already durable */
	assert_int_equal(syncer_wait(s, 3, &e), 0);
	syncer_request(s, 2);
	assert_int_equal(syncer_done(s, &t, &e), 0);
	assert_int_equal(t, 3);
	assert_false(syncer_pending(s));
	syncer_free(s);
	close(fd);
}

static void test_many_requests_share_syncs(void **state)
{
	struct fixture *f = *state;
	struct wakes w = {PTHREAD_MUTEX_INITIALIZER, 0};
	struct syncer *s = NULL;
	struct err e;
	uint64_t t = 0;
	int fd = open_file(f->path);

	err_init(&e);
	assert_int_equal(syncer_new(&s, fd, &e), 0);
	syncer_set_wake(s, count_wake, &w);
	for (uint64_t i = 1; i <= 1000; i++) {
		assert_int_equal(write(fd, "x", 1), 1);
		syncer_request(s, i);
	}
	assert_int_equal(syncer_wait(s, 1000, &e), 0);
	assert_int_equal(syncer_done(s, &t, &e), 0);
	assert_int_equal(t, 1000);
	pthread_mutex_lock(&w.mu);
	assert_true(w.n >= 1 && w.n <= 1000);
	pthread_mutex_unlock(&w.mu);
	syncer_set_wake(s, NULL, NULL);
	syncer_free(s);
	close(fd);
}

static void test_a_failed_sync_is_reported_and_sticks(void **state)
{
	struct syncer *s = NULL;
	struct err e;
	uint64_t t = 7;
	int p[2];

	(void)state;
	err_init(&e);
	assert_int_equal(pipe(p), 0); /* fdatasync on a pipe: EINVAL */
	assert_int_equal(syncer_new(&s, p[1], &e), 0);
	assert_int_equal(syncer_wait(s, 1, &e), -1);
	assert_non_null(strstr(e.msg, "cannot sync to disk: "));
	err_init(&e);
	assert_int_equal(syncer_done(s, &t, &e), -1);
	assert_int_equal(t, 0);
	assert_non_null(strstr(e.msg, "cannot sync to disk"));
	assert_false(syncer_pending(s)); /* nothing more will be tried */
	err_init(&e);
	assert_int_equal(syncer_wait(s, 2, &e), -1);
	syncer_free(s);
	close(p[0]);
	close(p[1]);
}

static void test_free_finishes_what_was_asked(void **state)
{
	struct fixture *f = *state;
	struct syncer *s = NULL;
	struct err e;
	int fd = open_file(f->path);

	err_init(&e);
	assert_int_equal(syncer_new(&s, fd, &e), 0);
	syncer_request(s, 5);
	syncer_free(s); /* joins after the sync: no hang, no leak */
	syncer_free(NULL);
	close(fd);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_wait_makes_a_ticket_durable_and_wakes),
		T(test_many_requests_share_syncs),
		T(test_a_failed_sync_is_reported_and_sticks),
		T(test_free_finishes_what_was_asked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
