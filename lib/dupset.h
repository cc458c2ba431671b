/*
 * dupset.h - which rows repeat an earlier row's phone, found in two passes
 * over a file in little memory: 4 bytes per row during the first pass
 * (a 32-bit hash of each key, sorted in place), then only the few keys
 * whose hash occurs twice are tracked in full during the second pass.
 *
 * Pure logic, no I/O. Exact: hash collisions only cost a lookup.
 */
#ifndef DOTS_DUPSET_H
#define DOTS_DUPSET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct dup_seen {
	uint64_t key;      /* 0 = empty slot (user_phone_key is never 0) */
	size_t first_row;
};

struct dupset {
	uint32_t *hashes;  /* pass 1: one per key; freed by dupset_seal */
	size_t n, cap;
	uint32_t *cand;    /* sorted hashes that occur more than once */
	size_t ncand;
	struct dup_seen *seen; /* pass 2: open addressing, keys of candidates */
	size_t nseen, seen_cap;
};

void dupset_init(struct dupset *d);

/* Pass 1: notes a key (non-zero). */
int dupset_add(struct dupset *d, uint64_t key, struct err *err);

/* End of pass 1: keeps only the hashes seen more than once. */
int dupset_seal(struct dupset *d, struct err *err);

/*
 * Pass 2, rows in file order: returns 0 when this is the first row with
 * key (it is remembered), 1 when an earlier row had it (*first_row set to
 * that row), -1 on out of memory.
 */
int dupset_check(struct dupset *d, uint64_t key, size_t row, size_t *first_row,
		 struct err *err);

void dupset_release(struct dupset *d);

#endif
