/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dedupe/dedupe-internal.h - the per-region dedupe handle shared by the
 * files of dedupe/. Never installed.
 *
 * Locking: d->lock serialises every call on one handle. While a call works
 * on guest RAM it also holds ctx->regions_lock for reading (dedupe_region_get)
 * so the region cannot be removed under it; it takes region->lock only for
 * short copies of the page-state bitmap.
 */
#ifndef VMHINT_LIB_DEDUPE_H
#define VMHINT_LIB_DEDUPE_H

#include <vmhint/dedupe.h>

#include "core/core.h"

/*
 * Fingerprint values with a meaning of their own; a real XXH3 that falls
 * on one of them is moved up (losing nothing that matters for an estimate).
 */
#define FP_NONE 0ULL  /* not scanned: unused, not resident */
#define FP_ZERO 1ULL  /* all zeroes */
#define FP_FIRST_REAL 2ULL

struct dedupe_counters {
	atomic_uint_fast64_t pages_scanned, pages_skipped, passes;
	atomic_uint_fast64_t zero_reclaimed, zero_raced, scan_cpu_ns;
};

struct vmhint_dedupe {
	struct vmhint_ctx *ctx;
	/* The region as it was at enable time; checked on every call. */
	uint64_t gpa, len;
	uint8_t *hva;
	enum vmhint_backing backing;
	uint64_t page_size;
	char name[64];

	uint32_t flags;
	uint64_t rate;                 /* bytes/s, 0 unlimited */

	pthread_mutex_t lock;
	uint64_t nr_pages;             /* 4 KiB pages */
	uint64_t *fp;                  /* per page, FP_* or XXH3 */
	uint64_t *mergeable;           /* bitmap: zero, dup or cross candidate */
	uint64_t cursor;               /* next page to scan */

	/* Gauges of the last complete pass (under lock). */
	uint64_t zero_pages, dup_pages, candidate_pages;

	/* Shared table slot, if published. */
	struct vmhint_dedupe_table *table;
	int slot;

	struct dedupe_counters c;
};

#define dd_add(d, field, n) atomic_fetch_add_explicit(&(d)->c.field, (n), memory_order_relaxed)

static inline bool bit_test(const uint64_t *map, uint64_t i)
{
	return map[i / 64] >> (i % 64) & 1;
}

static inline void bit_set(uint64_t *map, uint64_t i)
{
	map[i / 64] |= 1ULL << (i % 64);
}

/* dedupe.c */
int dedupe_region_get(struct vmhint_dedupe *d, struct vmhint_region **r);
void dedupe_region_put(struct vmhint_dedupe *d);
uint64_t dedupe_cpu_ns(void);
uint64_t dedupe_now_ns(void);

/* fingerprint.c */
bool fp_page_is_zero(const void *page, size_t len);
int64_t fp_scan_locked(struct vmhint_dedupe *d, struct vmhint_region *r, uint64_t max_pages);
void fp_finish_pass(struct vmhint_dedupe *d);
int fp_sorted_copy(const struct vmhint_dedupe *d, uint64_t **out, uint64_t *nr);

/* sharetable.c */
void table_withdraw_locked(struct vmhint_dedupe *d);

/* One published (fingerprint, pages holding it) pair of a slot. */
struct tbl_entry {
	uint64_t fp;
	uint64_t count;
};

/* A private, validated copy of one slot; e is reused across reads. */
struct slot_copy {
	int64_t owner;
	uint64_t nr, pages, zero;
	char name[64];
	struct tbl_entry *e;
};

uint32_t table_nr_slots(const struct vmhint_dedupe_table *t);
int table_slot_read(struct vmhint_dedupe_table *t, int i, struct slot_copy *c);

/* mark.c */
int ksm_region_merged_pages(const struct vmhint_dedupe *d, uint64_t *pages);

#endif /* VMHINT_LIB_DEDUPE_H */
