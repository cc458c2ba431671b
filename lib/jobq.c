/*
 * jobq.c - FIFO ring and binary min-heap of slot indexes. Bounded: the
 * capacity is fixed at init and asserted, never grown.
 */
#include "jobq.h"

#include <assert.h>
#include <stdlib.h>

#include "banned.h"

int fifo_init(struct fifo *q, size_t cap)
{
	q->v = calloc(cap ? cap : 1, sizeof(*q->v));
	q->cap = cap;
	q->head = q->n = 0;
	return q->v ? 0 : -1;
}

void fifo_push(struct fifo *q, size_t v)
{
	assert(q->n < q->cap);
	q->v[(q->head + q->n) % q->cap] = v;
	q->n++;
}

size_t fifo_pop(struct fifo *q)
{
	size_t v;

	assert(q->n > 0);
	v = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	return v;
}

size_t fifo_peek(const struct fifo *q)
{
	assert(q->n > 0);
	return q->v[q->head];
}

void fifo_release(struct fifo *q)
{
	free(q->v);
	q->v = NULL;
	q->cap = q->head = q->n = 0;
}

int timerq_init(struct timerq *t, size_t cap)
{
	t->v = calloc(cap ? cap : 1, sizeof(*t->v));
	t->cap = cap;
	t->n = 0;
	return t->v ? 0 : -1;
}

static void swap(struct timer_item *a, struct timer_item *b)
{
	struct timer_item x = *a;

	*a = *b;
	*b = x;
}

void timerq_push(struct timerq *t, int64_t due_ms, size_t idx)
{
	size_t i = t->n++;

	assert(i < t->cap);
	t->v[i].due_ms = due_ms;
	t->v[i].idx = idx;
	while (i > 0 && t->v[i].due_ms < t->v[(i - 1) / 2].due_ms) {
		swap(&t->v[i], &t->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

bool timerq_pop_due(struct timerq *t, int64_t now_ms, size_t *idx)
{
	size_t i = 0;

	if (!t->n || t->v[0].due_ms > now_ms)
		return false;
	*idx = t->v[0].idx;
	t->v[0] = t->v[--t->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < t->n && t->v[l].due_ms < t->v[m].due_ms)
			m = l;
		if (r < t->n && t->v[r].due_ms < t->v[m].due_ms)
			m = r;
		if (m == i)
			break;
		swap(&t->v[i], &t->v[m]);
		i = m;
	}
	return true;
}

int64_t timerq_next_ms(const struct timerq *t)
{
	return t->n ? t->v[0].due_ms : INT64_MAX;
}

void timerq_release(struct timerq *t)
{
	free(t->v);
	t->v = NULL;
	t->cap = t->n = 0;
}
