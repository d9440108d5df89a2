/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * numa/numa-engine.h - what numa.c (residency, counters, checks), move.c
 * (the move engine) and policy.c (mbind) share. Never installed.
 */
#ifndef VMHINT_NUMA_ENGINE_H
#define VMHINT_NUMA_ENGINE_H

#include <vmhint/numa.h>

#include "core/core.h"

/*
 * Pages per move_pages(2) call, by default and at most. Every call with
 * targets runs lru_cache_disable(): an expedited RCU grace period and an
 * LRU drain on every CPU. Big batches amortise it.
 */
#define NUMA_BATCH_DEFAULT 4096u
#define NUMA_BATCH_MAX 65536u
/* Smallest batch the time budget may shrink a batch to. */
#define NUMA_BATCH_MIN 8u
#define NUMA_RETRIES_DEFAULT 3u

/* Where each page goes: a target per source node. */
#define NUMA_STAY (-1)    /* not selected: leave the page where it is */
#define NUMA_SPREAD (-2)  /* interleave over spread[] by page index */

struct numa_target {
	int map[VMHINT_NUMA_MAX_NODES];
	int beyond;                      /* for nodes >= VMHINT_NUMA_MAX_NODES */
	int spread[VMHINT_NUMA_MAX_NODES];
	int nr_spread;
};

/* numa.c */
static inline struct numa_counters *numa_counters_of(struct vmhint_ctx *ctx)
{
	return &ctx->numa;
}

uint64_t numa_now_ns(void);
int numa_check_range(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len,
		     struct vmhint_region **out);
int numa_region_span(struct vmhint_ctx *ctx, struct vmhint_region *region,
		     uint64_t *gpa, uint64_t *len);
int numa_check_target_node(int node, uint64_t allowed);
void numa_result_init(struct vmhint_numa_result *res);
void numa_result_copy(struct vmhint_numa_result *dst, const struct vmhint_numa_result *src);
void numa_result_account(struct vmhint_ctx *ctx, const struct vmhint_numa_result *res,
			 bool cancelled);

/* One move call, over one or several ranges. */
struct numa_progress {
	uint64_t t0;     /* start of the call: the rate cap counts from here */
	uint64_t base;   /* 4 KiB pages handled by earlier ranges */
	uint64_t total;  /* 4 KiB pages of the whole call */
};

/*
 * move.c: move [gpa, gpa + len) of one region along @t, adding to
 * @res. Returns 0 or -errno.
 */
int numa_move_range(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len,
		    const struct vmhint_numa_move_opts *opts, const struct numa_target *t,
		    struct vmhint_numa_result *res, const struct numa_progress *p);
int numa_take_move_opts(struct vmhint_numa_move_opts *o,
			const struct vmhint_numa_move_opts *caller);
int64_t numa_move_finish(struct vmhint_ctx *ctx, int err, struct vmhint_numa_result *res,
			 const struct numa_progress *p, struct vmhint_numa_result *out);

#endif /* VMHINT_NUMA_ENGINE_H */
