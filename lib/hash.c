/*
 * hash.c - FNV-1a 64 (Fowler/Noll/Vo, variant 1a): xor each byte in, then
 * multiply by the 64-bit FNV prime.
 */
#include "hash.h"

#include "banned.h"

#define HASH_FNV1A64_PRIME 0x100000001b3ULL

uint64_t hash_fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * HASH_FNV1A64_PRIME;
	return h;
}
