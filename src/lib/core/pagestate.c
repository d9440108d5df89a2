// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pagestate.c - per-4 KiB guest page states as two bitmaps, and the count of
 * unused parts per huge page. See pagestate.h for the encoding.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include <vmhint/hint.h>

#include "core/pagestate.h"

#define BITS 64u

static inline bool bit_test(const uint64_t *map, uint64_t i)
{
	return map[i / BITS] >> (i % BITS) & 1;
}

/*
 * Walk [first, end) a bitmap word at a time: *mask gets the bits of the
 * current word that lie in the range. Huge pages are a multiple of 64 small
 * pages, so one word never straddles two huge pages.
 */
static inline uint64_t word_mask(uint64_t i, uint64_t end, uint64_t *mask)
{
	uint64_t bit = i % BITS, cnt = BITS - bit;

	if (cnt > end - i)
		cnt = end - i;
	*mask = (cnt == BITS ? ~0ULL : ((1ULL << cnt) - 1)) << bit;
	return cnt;
}

static inline uint64_t popcount(uint64_t w)
{
	return (uint64_t)__builtin_popcountll(w);
}

int pagestate_init(struct vmhint_pagestate *ps, uint64_t len, uint64_t page_size)
{
	uint64_t words;

	*ps = (struct vmhint_pagestate){ 0 };
	ps->nr_pages = len / VMHINT_PAGE_SIZE;
	ps->pages_per_huge = (uint32_t)(page_size / VMHINT_PAGE_SIZE);
	words = (ps->nr_pages + BITS - 1) / BITS;
	ps->unused = calloc(words, sizeof(uint64_t));
	ps->pending = calloc(words, sizeof(uint64_t));
	if (ps->pages_per_huge > 1)
		ps->huge_unused = calloc(ps->nr_pages / ps->pages_per_huge, sizeof(uint32_t));
	if (!ps->unused || !ps->pending || (ps->pages_per_huge > 1 && !ps->huge_unused)) {
		pagestate_fini(ps);
		return -ENOMEM;
	}
	return 0;
}

void pagestate_fini(struct vmhint_pagestate *ps)
{
	free(ps->unused);
	free(ps->pending);
	free(ps->huge_unused);
	*ps = (struct vmhint_pagestate){ 0 };
}

int pagestate_get(const struct vmhint_pagestate *ps, uint64_t idx)
{
	if (!bit_test(ps->unused, idx))
		return VMHINT_PAGE_STABLE;
	return bit_test(ps->pending, idx) ? VMHINT_PAGE_PENDING : VMHINT_PAGE_UNUSED;
}

/* Keep nr_partial right when a huge page's unused count goes from old to new. */
static void huge_count_changed(struct vmhint_pagestate *ps, uint32_t old, uint32_t new)
{
	bool was_partial = old > 0 && old < ps->pages_per_huge;
	bool is_partial = new > 0 && new < ps->pages_per_huge;

	if (was_partial && !is_partial)
		ps->nr_partial--;
	else if (!was_partial && is_partial)
		ps->nr_partial++;
}

static void huge_add(struct vmhint_pagestate *ps, uint64_t idx, int64_t delta)
{
	uint32_t *cnt, old;

	if (!ps->huge_unused || !delta)
		return;
	cnt = &ps->huge_unused[idx / ps->pages_per_huge];
	old = *cnt;
	*cnt = (uint32_t)((int64_t)old + delta);
	huge_count_changed(ps, old, *cnt);
}

uint64_t pagestate_set_unused(struct vmhint_pagestate *ps, uint64_t first, uint64_t n,
			      bool pending)
{
	uint64_t changed = 0, end = first + n, mask;

	for (uint64_t i = first, cnt; i < end; i += cnt) {
		uint64_t *u = &ps->unused[i / BITS], *p = &ps->pending[i / BITS];
		uint64_t fresh;

		cnt = word_mask(i, end, &mask);
		fresh = popcount(mask & ~*u);
		*u |= mask;
		huge_add(ps, i, (int64_t)fresh);
		changed += fresh;
		if (pending) {
			ps->nr_pending += popcount(mask & ~*p);
			*p |= mask;
		}
	}
	ps->nr_unused += changed;
	return changed;
}

/*
 * Only whole huge pages are ever PENDING. Once a STABLE hint makes one
 * incomplete, none of its parts may be dropped: cancel them all.
 * Returns how many pending bits were cleared.
 */
static uint64_t cancel_incomplete_huge(struct vmhint_pagestate *ps, uint64_t first, uint64_t n)
{
	uint64_t pph = ps->pages_per_huge, cancelled = 0;

	for (uint64_t h = first / pph; h <= (first + n - 1) / pph; h++) {
		if (ps->huge_unused[h] == pph)
			continue;
		for (uint64_t w = h * pph / BITS; w < (h + 1) * pph / BITS; w++) {
			cancelled += popcount(ps->pending[w]);
			ps->pending[w] = 0;
		}
	}
	return cancelled;
}

uint64_t pagestate_set_stable(struct vmhint_pagestate *ps, uint64_t first, uint64_t n,
			      uint64_t *cancelled)
{
	uint64_t changed = 0, was_pending = 0, end = first + n, mask;

	for (uint64_t i = first, cnt; i < end; i += cnt) {
		uint64_t *u = &ps->unused[i / BITS], *p = &ps->pending[i / BITS];
		uint64_t gone;

		cnt = word_mask(i, end, &mask);
		gone = popcount(mask & *u);
		was_pending += popcount(mask & *p);
		*u &= ~mask;
		*p &= ~mask;
		huge_add(ps, i, -(int64_t)gone);
		changed += gone;
	}
	if (ps->huge_unused && n)
		was_pending += cancel_incomplete_huge(ps, first, n);
	ps->nr_unused -= changed;
	ps->nr_pending -= was_pending;
	if (cancelled)
		*cancelled = was_pending;
	return changed;
}

void pagestate_clear_pending(struct vmhint_pagestate *ps, uint64_t first, uint64_t n)
{
	uint64_t end = first + n, mask;

	for (uint64_t i = first, cnt; i < end; i += cnt) {
		uint64_t *p = &ps->pending[i / BITS];

		cnt = word_mask(i, end, &mask);
		ps->nr_pending -= popcount(mask & *p);
		*p &= ~mask;
	}
}

bool pagestate_huge_all_unused(const struct vmhint_pagestate *ps, uint64_t huge_idx)
{
	if (!ps->huge_unused)
		return bit_test(ps->unused, huge_idx);
	return ps->huge_unused[huge_idx] == ps->pages_per_huge;
}

/* First set bit at or after @from, below @end; @end if none. */
static uint64_t find_set(const uint64_t *map, uint64_t from, uint64_t end)
{
	uint64_t i = from;

	while (i < end) {
		uint64_t w = map[i / BITS] >> (i % BITS);

		if (w)
			return i + (uint64_t)__builtin_ctzll(w) < end ? i + (uint64_t)__builtin_ctzll(w) : end;
		i = (i / BITS + 1) * BITS;
	}
	return end;
}

static uint64_t find_clear(const uint64_t *map, uint64_t from, uint64_t end)
{
	uint64_t i = from;

	while (i < end) {
		uint64_t w = ~map[i / BITS] >> (i % BITS);

		if (w)
			return i + (uint64_t)__builtin_ctzll(w) < end ? i + (uint64_t)__builtin_ctzll(w) : end;
		i = (i / BITS + 1) * BITS;
	}
	return end;
}

bool pagestate_next_run(const uint64_t *bitmap, uint64_t from, uint64_t end,
			uint64_t *start, uint64_t *len)
{
	uint64_t s = find_set(bitmap, from, end);

	if (s >= end)
		return false;
	*start = s;
	*len = find_clear(bitmap, s, end) - s;
	return true;
}

bool pagestate_next_clear_run(const uint64_t *bitmap, uint64_t from, uint64_t end,
			      uint64_t *start, uint64_t *len)
{
	uint64_t s = find_clear(bitmap, from, end);

	if (s >= end)
		return false;
	*start = s;
	*len = find_set(bitmap, s, end) - s;
	return true;
}
