/*
 * rng.h - the sandbox's one deterministic random source (xoshiro256**).
 *
 * A run seeded with the same value draws the same sequence, so fault
 * decisions, user ids and verification codes repeat for a given request
 * order. Not thread-safe and not for cryptography: faults.c owns the one
 * instance and guards it with its mutex.
 */
#ifndef SANDBOX_RNG_H
#define SANDBOX_RNG_H

#include <stdint.h>

#define RNG_UUID_LEN 36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */
#define RNG_CODE_LEN 6	/* verification codes are six decimal digits */

struct rng {
	uint64_t s[4]; /* xoshiro256** state, never all zero */
};

/* Seeds the generator; any seed (0 included) gives a valid state. */
void rng_init(struct rng *r, uint64_t seed);

/* Next 64 random bits. */
uint64_t rng_next(struct rng *r);

/* Uniform double in [0, 1). */
double rng_uniform(struct rng *r);

/* Uniform integer in [0, n); n == 0 gives 0. */
uint64_t rng_below(struct rng *r, uint64_t n);

/* Writes a lower-case UUID v4 text and its NUL into out[RNG_UUID_LEN + 1]. */
void rng_uuid(struct rng *r, char out[RNG_UUID_LEN + 1]);

/* Writes six decimal digits ("000000".."999999") and NUL into out. */
void rng_code(struct rng *r, char out[RNG_CODE_LEN + 1]);

#endif
