// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * stats.c - the counters of a context, copied out in one call.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "core/core.h"
#include "util/struct.h"

#define LOAD(field) atomic_load_explicit(&ctx->c.field, memory_order_relaxed)

void stats_record_latency(struct vmhint_ctx *ctx, uint64_t ns)
{
	uint64_t us = ns / 1000;
	int b = 0;

	while (b < VMHINT_LAT_BUCKETS - 1 && us >= (1ull << b))
		b++;
	count_inc(ctx, latency_us_hist[b]);
	count_add(ctx, latency_us_total, us);
}

static void fill_gauges(struct vmhint_ctx *ctx, struct vmhint_stats *st)
{
	pthread_rwlock_rdlock(&ctx->regions_lock);
	st->nr_regions = (uint32_t)ctx->nr_regions;
	for (int i = 0; i < ctx->nr_regions; i++) {
		struct vmhint_region *r = ctx->regions[i];

		st->guest_ram_bytes += r->len;
		pthread_mutex_lock(&r->lock);
		st->huge_pages_partial += r->state.nr_partial;
		pthread_mutex_unlock(&r->lock);
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	st->inhibit_depth = (uint64_t)atomic_load(&ctx->inhibit_depth);
	st->pending_bytes = atomic_load(&ctx->pending_bytes);
}

static void fill_counters(struct vmhint_ctx *ctx, struct vmhint_stats *st)
{
	st->requests_unused = LOAD(requests_unused);
	st->requests_stable = LOAD(requests_stable);
	st->pages_unused = LOAD(pages_unused);
	st->pages_stable = LOAD(pages_stable);
	for (int i = 1; i < VMHINT_WIRE_NR_STATUS; i++) {
		st->rejected[i] = LOAD(rejected[i]);
		st->rejected_total += st->rejected[i];
	}
	for (int m = 0; m < VMHINT_NR_METHODS; m++) {
		st->bytes_dropped[m] = LOAD(bytes_dropped[m]);
		st->bytes_dropped_total += st->bytes_dropped[m];
	}
	st->syscalls = LOAD(syscalls);
	st->syscall_errors = LOAD(syscall_errors);
	st->huge_pages_completed = LOAD(huge_pages_completed);
	st->inhibited_pages = LOAD(inhibited_pages);
	st->lazy_fallbacks = LOAD(lazy_fallbacks);
	st->pending_cancelled = LOAD(pending_cancelled);
	st->flushes = LOAD(flushes);
	st->populated_bytes = LOAD(populated_bytes);
	for (int b = 0; b < VMHINT_LAT_BUCKETS; b++)
		st->latency_us_hist[b] = LOAD(latency_us_hist[b]);
	st->latency_us_total = LOAD(latency_us_total);
}

VMHINT_API int vmhint_stats_get(struct vmhint_ctx *ctx, struct vmhint_stats *st)
{
	struct vmhint_stats full = { .size = sizeof(full) };

	if (!ctx || !st || vh_struct_out_ok(st))
		return -EINVAL;
	fill_counters(ctx, &full);
	fill_gauges(ctx, &full);
	return vh_struct_out(st, &full, sizeof(full));
}

VMHINT_API const char *vmhint_method_name(enum vmhint_method method)
{
	static const char *const names[VMHINT_NR_METHODS] = {
		[VMHINT_METHOD_MADV_DONTNEED] = "madv_dontneed",
		[VMHINT_METHOD_MADV_FREE] = "madv_free",
		[VMHINT_METHOD_PUNCH_HOLE] = "punch_hole",
		[VMHINT_METHOD_MADV_REMOVE] = "madv_remove",
		[VMHINT_METHOD_PROCESS_MADVISE] = "process_madvise",
	};

	return (unsigned)method < VMHINT_NR_METHODS ? names[method] : "unknown";
}
