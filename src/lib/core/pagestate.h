/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pagestate.h - the guest's STABLE / UNUSED / PENDING state of every 4 KiB
 * page of a region, as two bitmaps, plus a count of unused 4 KiB parts per
 * huge page so partial hints add up across requests (QEMU's balloon keeps
 * one partial huge page and forgets it; we keep them all).
 *
 *   unused bit  pending bit   state
 *       0           0         STABLE
 *       1           0         UNUSED  (dropped, or drop inhibited)
 *       1           1         PENDING (lazy: to be dropped)
 *
 * Callers hold the region's lock.
 */
#ifndef VMHINT_PAGESTATE_H
#define VMHINT_PAGESTATE_H

#include <stdbool.h>
#include <stdint.h>

struct vmhint_pagestate {
	uint64_t nr_pages;        /* 4 KiB pages */
	uint64_t *unused;         /* bitmap, nr_pages bits */
	uint64_t *pending;        /* bitmap, nr_pages bits */
	uint32_t pages_per_huge;  /* 1 for small-page backings */
	uint32_t *huge_unused;    /* per huge page: unused 4 KiB parts; NULL if small */
	uint64_t nr_unused;       /* pages with the unused bit */
	uint64_t nr_pending;      /* pages with the pending bit */
	uint64_t nr_partial;      /* huge pages with 0 < huge_unused < pages_per_huge */
};

int pagestate_init(struct vmhint_pagestate *ps, uint64_t len, uint64_t page_size);
void pagestate_fini(struct vmhint_pagestate *ps);

/* State of page @idx: enum vmhint_page_state. */
int pagestate_get(const struct vmhint_pagestate *ps, uint64_t idx);

/*
 * Mark pages [first, first + n) unused (and pending if @pending).
 * Returns how many pages changed state.
 */
uint64_t pagestate_set_unused(struct vmhint_pagestate *ps, uint64_t first, uint64_t n,
			      bool pending);

/*
 * Mark pages [first, first + n) stable. Returns how many changed state;
 * *@cancelled receives how many of them were PENDING.
 */
uint64_t pagestate_set_stable(struct vmhint_pagestate *ps, uint64_t first, uint64_t n,
			      uint64_t *cancelled);

/* Clear the pending bit of pages [first, first + n): their drop is done. */
void pagestate_clear_pending(struct vmhint_pagestate *ps, uint64_t first, uint64_t n);

/* Huge backings: is every 4 KiB part of huge page @huge_idx unused? */
bool pagestate_huge_all_unused(const struct vmhint_pagestate *ps, uint64_t huge_idx);

/*
 * Next run of set bits in @bitmap at or after page @from, below @end.
 * Returns false if there is none; else *start and *len (pages).
 */
bool pagestate_next_run(const uint64_t *bitmap, uint64_t from, uint64_t end,
			uint64_t *start, uint64_t *len);

/* Likewise for a run of clear bits. */
bool pagestate_next_clear_run(const uint64_t *bitmap, uint64_t from, uint64_t end,
			      uint64_t *start, uint64_t *len);

#endif /* VMHINT_PAGESTATE_H */
