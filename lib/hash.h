/*
 * hash.h - FNV-1a 64, the one non-cryptographic hash of the tool: pure,
 * no state, no allocation. Used where a stable, well-spread 64-bit value
 * of some bytes is needed (the ledger's client fingerprint, --shard).
 * Not for secrets' protection against a determined attacker.
 */
#ifndef DOTS_HASH_H
#define DOTS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The FNV-1a 64 offset basis: the h to start a new hash with. */
#define HASH_FNV1A64_INIT 0xcbf29ce484222325ULL

/*
 * Folds the n bytes at p into h and returns the new hash; chain calls to
 * hash several pieces as if they were one (h = HASH_FNV1A64_INIT first).
 * n == 0 returns h (p may then be NULL). Never fails.
 */
uint64_t hash_fnv1a64(uint64_t h, const void *p, size_t n);

#endif
