/*
 * dupset.c - two-pass duplicate detection: in-place heapsort of 32-bit
 * hashes, then a small open-addressing table of the colliding keys.
 * Never allocates more than 4 bytes per row plus the candidates.
 */
#include "dupset.h"

#include <stdlib.h>
#include <string.h>

#include "banned.h"

static uint32_t hash32(uint64_t k)
{
	/* murmur3's 64-bit finaliser, upper half */
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return (uint32_t)(k >> 32);
}

static size_t slot_of(uint64_t key, size_t cap)
{
	uint64_t k = key * 0x9E3779B97F4A7C15ULL;

	return (size_t)(k >> 17) & (cap - 1);
}

void dupset_init(struct dupset *d)
{
	memset(d, 0, sizeof(*d));
}

int dupset_add(struct dupset *d, uint64_t key, struct err *err)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap + d->cap / 2 : 4096;
		uint32_t *p = realloc(d->hashes, cap * sizeof(*p));

		if (!p)
			return err_set(err, "out of memory");
		d->hashes = p;
		d->cap = cap;
	}
	d->hashes[d->n++] = hash32(key);
	return 0;
}

/* In-place heapsort: no temporary copy of the array (glibc's qsort makes one). */
static void sift(uint32_t *a, size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;
		uint32_t t;

		if (child >= n)
			return;
		if (child + 1 < n && a[child + 1] > a[child])
			child++;
		if (a[root] >= a[child])
			return;
		t = a[root];
		a[root] = a[child];
		a[child] = t;
		root = child;
	}
}

static void heapsort_u32(uint32_t *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(a, i, n);
	for (size_t end = n; end-- > 1;) {
		uint32_t t = a[0];

		a[0] = a[end];
		a[end] = t;
		sift(a, 0, end);
	}
}

int dupset_seal(struct dupset *d, struct err *err)
{
	size_t out = 0;

	heapsort_u32(d->hashes, d->n);
	/* compact the repeated hashes, once each, to the front */
	for (size_t i = 1; i < d->n; i++)
		if (d->hashes[i] == d->hashes[i - 1] &&
		    (out == 0 || d->hashes[out - 1] != d->hashes[i]))
			d->hashes[out++] = d->hashes[i];
	d->ncand = out;
	d->cand = out ? malloc(out * sizeof(*d->cand)) : NULL;
	if (out && !d->cand)
		return err_set(err, "out of memory");
	if (out)
		memcpy(d->cand, d->hashes, out * sizeof(*d->cand));
	free(d->hashes);
	d->hashes = NULL;
	d->n = d->cap = 0;
	return 0;
}

static int grow(struct dupset *d, struct err *err)
{
	size_t cap = d->seen_cap ? d->seen_cap * 2 : 64;
	struct dup_seen *t = calloc(cap, sizeof(*t));

	if (!t)
		return err_set(err, "out of memory");
	for (size_t i = 0; i < d->seen_cap; i++) {
		size_t j;

		if (!d->seen[i].key)
			continue;
		for (j = slot_of(d->seen[i].key, cap); t[j].key; j = (j + 1) & (cap - 1))
			;
		t[j] = d->seen[i];
	}
	free(d->seen);
	d->seen = t;
	d->seen_cap = cap;
	return 0;
}

int dupset_check(struct dupset *d, uint64_t key, size_t row, size_t *first_row,
		 struct err *err)
{
	uint32_t h = hash32(key);
	size_t lo = 0, hi = d->ncand, j;

	while (lo < hi) { /* is h a candidate? */
		size_t mid = lo + (hi - lo) / 2;

		if (d->cand[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == d->ncand || d->cand[lo] != h)
		return 0;
	if ((d->nseen + 1) * 2 > d->seen_cap && grow(d, err) < 0)
		return -1;
	for (j = slot_of(key, d->seen_cap); d->seen[j].key; j = (j + 1) & (d->seen_cap - 1))
		if (d->seen[j].key == key) {
			*first_row = d->seen[j].first_row;
			return 1;
		}
	d->seen[j].key = key;
	d->seen[j].first_row = row;
	d->nseen++;
	return 0;
}

void dupset_release(struct dupset *d)
{
	free(d->hashes);
	free(d->cand);
	free(d->seen);
	memset(d, 0, sizeof(*d));
}
