/*
 * delayq.c - a min-heap of (due time, item) and the one thread that wakes
 * items when due. Never calls the wake callback with the lock held, so the
 * callback may take other locks (libmicrohttpd's) freely.
 */
#include "delayq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "banned.h"

#define DELAYQ_BATCH 64 /* items woken per lock round */

uint64_t delayq_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int delayq_before(const struct delayq_entry *a,
			 const struct delayq_entry *b)
{
	if (a->due_ns != b->due_ns)
		return a->due_ns < b->due_ns;
	return a->seq < b->seq;
}

static void delayq_swap(struct delayq_entry *a, struct delayq_entry *b)
{
	struct delayq_entry t = *a;

	*a = *b;
	*b = t;
}

static void delayq_push(struct delayq *q, struct delayq_entry e)
{
	size_t i = q->len++;

	q->heap[i] = e;
	while (i > 0 && delayq_before(&q->heap[i], &q->heap[(i - 1) / 2])) {
		delayq_swap(&q->heap[i], &q->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static struct delayq_entry delayq_pop(struct delayq *q)
{
	struct delayq_entry top = q->heap[0];
	size_t i = 0;

	q->heap[0] = q->heap[--q->len];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->len && delayq_before(&q->heap[l], &q->heap[m]))
			m = l;
		if (r < q->len && delayq_before(&q->heap[r], &q->heap[m]))
			m = r;
		if (m == i)
			break;
		delayq_swap(&q->heap[i], &q->heap[m]);
		i = m;
	}
	return top;
}

static struct timespec delayq_abs(uint64_t ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ns / 1000000000ULL);
	ts.tv_nsec = (long)(ns % 1000000000ULL);
	return ts;
}

int delayq_init(struct delayq *q, size_t cap, delayq_wake_fn wake, void *cls,
		struct err *err)
{
	pthread_condattr_t ca;

	memset(q, 0, sizeof(*q));
	q->cap = cap ? cap : 1;
	q->wake = wake;
	q->cls = cls;
	q->heap = calloc(q->cap, sizeof(*q->heap));
	if (!q->heap)
		return err_set(err, "out of memory");
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&q->cond, &ca) != 0) {
		free(q->heap);
		return err_set(err, "cannot create the timer condition");
	}
	if (pthread_cond_init(&q->stop_cond, &ca) != 0) {
		pthread_cond_destroy(&q->cond);
		free(q->heap);
		return err_set(err, "cannot create the timer condition");
	}
	pthread_condattr_destroy(&ca);
	if (pthread_mutex_init(&q->lock, NULL) != 0) {
		pthread_cond_destroy(&q->cond);
		pthread_cond_destroy(&q->stop_cond);
		free(q->heap);
		return err_set(err, "cannot create the timer lock");
	}
	return 0;
}

static void *delayq_main(void *arg)
{
	struct delayq *q = arg;
	void *due[DELAYQ_BATCH];
	size_t n, i;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		uint64_t now = delayq_now_ns();

		n = 0;
		while (q->len > 0 && n < DELAYQ_BATCH &&
		       (q->stopping || q->heap[0].due_ns <= now))
			due[n++] = delayq_pop(q).item;
		if (n > 0) {
			pthread_mutex_unlock(&q->lock);
			for (i = 0; i < n; i++)
				q->wake(due[i], q->cls);
			pthread_mutex_lock(&q->lock);
			continue;
		}
		if (q->stopping)
			break;
		if (q->len == 0 || q->heap[0].due_ns == DELAYQ_NEVER) {
			pthread_cond_wait(&q->cond, &q->lock);
		} else {
			struct timespec ts = delayq_abs(q->heap[0].due_ns);

			pthread_cond_timedwait(&q->cond, &q->lock, &ts);
		}
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int delayq_start(struct delayq *q, struct err *err)
{
	if (pthread_create(&q->thread, NULL, delayq_main, q) != 0)
		return err_set(err, "cannot start the timer thread");
	q->running = 1;
	return 0;
}

int delayq_add(struct delayq *q, uint64_t due_ns, void *item)
{
	struct delayq_entry e;
	int rc = -1;

	pthread_mutex_lock(&q->lock);
	if (!q->stopping && q->running && q->len < q->cap) {
		e.due_ns = due_ns;
		e.seq = q->seq++;
		e.item = item;
		delayq_push(q, e);
		if (q->heap[0].seq == e.seq)
			pthread_cond_signal(&q->cond); /* new earliest */
		rc = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int delayq_stopping(struct delayq *q)
{
	int s;

	pthread_mutex_lock(&q->lock);
	s = q->stopping;
	pthread_mutex_unlock(&q->lock);
	return s;
}

int delayq_sleep_until(struct delayq *q, uint64_t due_ns)
{
	struct timespec ts = delayq_abs(due_ns);
	int rc = 0;

	pthread_mutex_lock(&q->lock);
	while (!q->stopping && delayq_now_ns() < due_ns) {
		if (due_ns == DELAYQ_NEVER)
			pthread_cond_wait(&q->stop_cond, &q->lock);
		else if (pthread_cond_timedwait(&q->stop_cond, &q->lock, &ts) ==
			 ETIMEDOUT)
			break;
	}
	if (q->stopping)
		rc = -1;
	pthread_mutex_unlock(&q->lock);
	return rc;
}

void delayq_stop(struct delayq *q)
{
	pthread_mutex_lock(&q->lock);
	q->stopping = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_cond_broadcast(&q->stop_cond);
	pthread_mutex_unlock(&q->lock);
	if (q->running) {
		pthread_join(q->thread, NULL);
		q->running = 0;
	}
}

void delayq_release(struct delayq *q)
{
	if (!q)
		return;
	free(q->heap);
	pthread_cond_destroy(&q->cond);
	pthread_cond_destroy(&q->stop_cond);
	pthread_mutex_destroy(&q->lock);
	memset(q, 0, sizeof(*q));
}
