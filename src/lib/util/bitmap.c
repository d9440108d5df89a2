// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * util/bitmap.c - finding runs in a bitmap a word at a time.
 */
#include "config.h"

#include "util/bitmap.h"

/* First set bit at or after @from, below @end; @end if none. @flip finds clear bits. */
static uint64_t find_bit(const uint64_t *map, uint64_t from, uint64_t end, uint64_t flip)
{
	uint64_t i = from;

	while (i < end) {
		uint64_t w = (map[i / BITMAP_BITS] ^ flip) >> (i % BITMAP_BITS);

		if (w) {
			i += (uint64_t)__builtin_ctzll(w);
			return i < end ? i : end;
		}
		i = (i / BITMAP_BITS + 1) * BITMAP_BITS;
	}
	return end;
}

bool bitmap_next_set_run(const uint64_t *map, uint64_t from, uint64_t end,
			 uint64_t *start, uint64_t *len)
{
	uint64_t s = find_bit(map, from, end, 0);

	if (s >= end)
		return false;
	*start = s;
	*len = find_bit(map, s, end, ~0ULL) - s;
	return true;
}

bool bitmap_next_clear_run(const uint64_t *map, uint64_t from, uint64_t end,
			   uint64_t *start, uint64_t *len)
{
	uint64_t s = find_bit(map, from, end, ~0ULL);

	if (s >= end)
		return false;
	*start = s;
	*len = find_bit(map, s, end, 0) - s;
	return true;
}
