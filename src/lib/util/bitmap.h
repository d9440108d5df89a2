/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util/bitmap.h - bitmaps of uint64_t words, bit i in word i / 64. The page
 * states, the dedupe handle and the cross-VM hit map all use these.
 */
#ifndef VH_UTIL_BITMAP_H
#define VH_UTIL_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

#define BITMAP_BITS 64u

/* Words for @nbits bits. */
static inline uint64_t bitmap_words(uint64_t nbits)
{
	return (nbits + BITMAP_BITS - 1) / BITMAP_BITS;
}

static inline bool bit_test(const uint64_t *map, uint64_t i)
{
	return map[i / BITMAP_BITS] >> (i % BITMAP_BITS) & 1;
}

static inline void bit_set(uint64_t *map, uint64_t i)
{
	map[i / BITMAP_BITS] |= 1ULL << (i % BITMAP_BITS);
}

static inline void bit_clear(uint64_t *map, uint64_t i)
{
	map[i / BITMAP_BITS] &= ~(1ULL << (i % BITMAP_BITS));
}

/*
 * Next run of set bits at or after @from, below @end. Returns false if
 * there is none; else *start and *len (bits).
 */
bool bitmap_next_set_run(const uint64_t *map, uint64_t from, uint64_t end,
			 uint64_t *start, uint64_t *len);

/* Likewise for a run of clear bits. */
bool bitmap_next_clear_run(const uint64_t *map, uint64_t from, uint64_t end,
			   uint64_t *start, uint64_t *len);

#endif /* VH_UTIL_BITMAP_H */
