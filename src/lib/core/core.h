/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * core/core.h - the context and region structs shared by the library's
 * source files. Never installed.
 *
 * Locking, outermost first:
 *   ctx->regions_lock (rwlock): readers apply hints, move pages, scan;
 *                               writers add or remove regions.
 *   region->lock (mutex):       page states of one region and the drops
 *                               that follow from them.
 * Counters are atomics and need no lock.
 */
#ifndef VMHINT_INTERNAL_H
#define VMHINT_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <vmhint.h>

#include "core/pagestate.h"

#define VMHINT_API VMHINT_EXPORT

struct vmhint_region {
	uint64_t gpa;
	uint64_t len;
	uint8_t *hva;
	enum vmhint_backing backing;
	uint64_t page_size;        /* backing page size */
	int fd;                    /* our dup, or -1 */
	uint64_t fd_offset;
	char name[64];

	pthread_mutex_t lock;      /* protects state */
	struct vmhint_pagestate state;
};

/* Counters; see struct vmhint_stats for their meaning. */
struct vmhint_counters {
	atomic_uint_fast64_t requests_unused, requests_stable;
	atomic_uint_fast64_t pages_unused, pages_stable;
	atomic_uint_fast64_t rejected[VMHINT_WIRE_NR_STATUS];
	atomic_uint_fast64_t bytes_dropped[VMHINT_NR_METHODS];
	atomic_uint_fast64_t syscalls, syscall_errors;
	atomic_uint_fast64_t huge_pages_completed;
	atomic_uint_fast64_t inhibited_pages, lazy_fallbacks, pending_cancelled;
	atomic_uint_fast64_t flushes, populated_bytes;
	atomic_uint_fast64_t latency_us_hist[VMHINT_LAT_BUCKETS];
	atomic_uint_fast64_t latency_us_total;
};

/* NUMA counters of one context; see struct vmhint_numa_stats. */
struct numa_counters {
	atomic_uint_fast64_t moves, moves_cancelled;
	atomic_uint_fast64_t pages[VMHINT_NUMA_NR_OUTCOMES];
	atomic_uint_fast64_t retries, bytes_moved, time_ns, throttle_ns;
	atomic_uint_fast64_t policies_set;
};

struct vmhint_ctx {
	pthread_rwlock_t regions_lock;
	struct vmhint_region **regions;   /* sorted by gpa, no overlaps */
	int nr_regions;
	int cap_regions;

	_Atomic int mode;                 /* enum vmhint_mode */
	_Atomic uint32_t flags;           /* VMHINT_CTX_* */
	uint32_t max_ranges;
	uint64_t lazy_max_pending;
	atomic_int inhibit_depth;
	atomic_uint_fast64_t pending_bytes;

	vmhint_log_fn log;
	void *log_opaque;
	int log_level;

	struct vmhint_counters c;
	struct numa_counters numa;
};

#define count_add(ctx, field, n) atomic_fetch_add_explicit(&(ctx)->c.field, (n), memory_order_relaxed)
#define count_inc(ctx, field) count_add(ctx, field, 1)

/* log.c */
void vmhint_log(struct vmhint_ctx *ctx, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define log_err(ctx, ...) vmhint_log(ctx, VMHINT_LOG_ERR, __VA_ARGS__)
#define log_warn(ctx, ...) vmhint_log(ctx, VMHINT_LOG_WARNING, __VA_ARGS__)
#define log_info(ctx, ...) vmhint_log(ctx, VMHINT_LOG_INFO, __VA_ARGS__)
#define log_debug(ctx, ...) vmhint_log(ctx, VMHINT_LOG_DEBUG, __VA_ARGS__)

/* region.c: callers hold ctx->regions_lock (read or write). */
struct vmhint_region *region_lookup(struct vmhint_ctx *ctx, uint64_t gpa);

static inline bool region_contains(const struct vmhint_region *r, uint64_t gpa, uint64_t len)
{
	return gpa >= r->gpa && len <= r->len && gpa - r->gpa <= r->len - len;
}

static inline bool region_is_huge(const struct vmhint_region *r)
{
	return r->page_size > VMHINT_PAGE_SIZE;
}

/*
 * backing.c: what the kernel says backs [hva, hva + len); with an @fd, that
 * it is the file mapped there at @fd_offset.
 */
int backing_detect(void *hva, uint64_t len, int fd, uint64_t fd_offset,
		   enum vmhint_backing *backing, uint64_t *page_size);

/* stats.c */
void stats_record_latency(struct vmhint_ctx *ctx, uint64_t ns);

static inline bool ctx_guest_sends_stable(struct vmhint_ctx *ctx)
{
	return atomic_load(&ctx->flags) & VMHINT_CTX_GUEST_STABLE_HINTS;
}

#endif /* VMHINT_INTERNAL_H */
