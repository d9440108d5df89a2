/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhint/stats.h - the counters of a context, read in one call. All
 * counters only grow (except the gauges marked so), so they can be graphed
 * as rates.
 */
#ifndef VMHINT_STATS_H
#define VMHINT_STATS_H

#include <vmhint/common.h>
#include <vmhint/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a frame was dropped. */
enum vmhint_method {
	VMHINT_METHOD_MADV_DONTNEED = 0,
	VMHINT_METHOD_MADV_FREE = 1,
	VMHINT_METHOD_PUNCH_HOLE = 2,      /* fallocate(PUNCH_HOLE|KEEP_SIZE) */
	VMHINT_METHOD_MADV_REMOVE = 3,     /* shared mapping without an fd */
	VMHINT_METHOD_PROCESS_MADVISE = 4, /* batched MADV_DONTNEED */
	VMHINT_NR_METHODS
};

/* Request latency histogram: bucket i counts requests that took less than
 * 2^i microseconds (the last bucket: everything slower). */
#define VMHINT_LAT_BUCKETS 20

struct vmhint_stats {
	uint32_t size;                  /* set by the caller: sizeof(struct vmhint_stats) */
	uint32_t nr_regions;            /* gauge */

	uint64_t requests_unused;       /* requests applied, by op */
	uint64_t requests_stable;
	uint64_t pages_unused;          /* 4 KiB pages hinted, by op */
	uint64_t pages_stable;
	uint64_t rejected[VMHINT_WIRE_NR_STATUS]; /* requests by status; [0] unused */
	uint64_t rejected_total;

	uint64_t bytes_dropped[VMHINT_NR_METHODS];
	uint64_t bytes_dropped_total;
	uint64_t syscalls;              /* drop system calls issued */
	uint64_t syscall_errors;        /* drop system calls the kernel refused */

	uint64_t huge_pages_completed;  /* huge pages dropped once all 4 KiB parts were unused */
	uint64_t huge_pages_partial;    /* gauge: huge pages partly unused, held */

	uint64_t inhibited_pages;       /* 4 KiB pages hinted while discards were inhibited */
	uint64_t inhibit_depth;         /* gauge */
	uint64_t lazy_fallbacks;        /* lazy-mode hints dropped synchronously */
	uint64_t pending_cancelled;     /* PENDING pages a STABLE hint took back */
	uint64_t pending_bytes;         /* gauge */
	uint64_t flushes;
	uint64_t populated_bytes;       /* prefaulted after STABLE hints */

	uint64_t latency_us_hist[VMHINT_LAT_BUCKETS];
	uint64_t latency_us_total;

	uint64_t guest_ram_bytes;       /* gauge */
};

/**
 * vmhint_stats_get() - copy the counters, by the size rule of
 * vmhint/common.h: fields beyond @st->size are not written, so a caller
 * built against an older header keeps working.
 *
 * Return: 0 or -EINVAL for a bad @st->size.
 */
VMHINT_EXPORT int vmhint_stats_get(struct vmhint_ctx *ctx, struct vmhint_stats *st);

/**
 * vmhint_method_name() - "madv_dontneed", "madv_free", "punch_hole",
 * "madv_remove", "process_madvise"; "unknown" for any other value.
 */
VMHINT_EXPORT const char *vmhint_method_name(enum vmhint_method method);

#ifdef __cplusplus
}
#endif
#endif /* VMHINT_STATS_H */
