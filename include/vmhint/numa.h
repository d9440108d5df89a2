/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhint/numa.h - NUMA placement of guest RAM (docs/architecture.md, "NUMA"): where
 * the backing pages of guest RAM live on the host, moving them between host
 * nodes, and memory policies so that pages faulted in later land on the
 * right node.
 *
 * Units: ranges are guest-physical (like vmhint/hint.h); page counts are in
 * 4 KiB pages whatever the backing page size (a 2 MiB huge page counts 512).
 *
 * Pages the guest hinted UNUSED are dropped, never copied: PENDING pages
 * always, UNUSED pages only when the context has
 * VMHINT_CTX_GUEST_STABLE_HINTS (without it the guest may have reused an
 * UNUSED page without telling us). While discards are inhibited nothing is
 * dropped and such pages are moved like any other.
 *
 * Node numbers are host node numbers, 0 .. VMHINT_NUMA_MAX_NODES - 1.
 *
 * Huge pages move whole. hugetlb ranges must cover whole huge pages
 * (-EINVAL otherwise). A transparent huge page of anonymous memory moves
 * as a whole when any of its 4 KiB parts is asked to: a range that cuts
 * one drags its neighbours along, and parts that a later batch finds
 * already moved count as VMHINT_NUMA_ALREADY.
 */
#ifndef VMHINT_NUMA_H
#define VMHINT_NUMA_H

#include <vmhint/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Highest host node number + 1 that the API can name. */
#define VMHINT_NUMA_MAX_NODES 64

/* Outcome of one page of a move; each has a counter. */
enum vmhint_numa_outcome {
	VMHINT_NUMA_MOVED = 0,        /* copied to its target node */
	VMHINT_NUMA_ALREADY = 1,      /* already on its target node */
	VMHINT_NUMA_DROPPED = 2,      /* guest hinted it unused: dropped, not copied */
	VMHINT_NUMA_NOT_PRESENT = 3,  /* no frame yet (never touched, or dropped) */
	VMHINT_NUMA_NOT_SELECTED = 4, /* on a node the node map does not name */
	VMHINT_NUMA_SHARED = 5,       /* mapped by another process: needs MOVE_ALL */
	VMHINT_NUMA_BUSY = 6,         /* still busy (EBUSY/EAGAIN) after the retries */
	VMHINT_NUMA_NO_MEMORY = 7,    /* the target node had no free memory */
	VMHINT_NUMA_IO = 8,           /* dirty file page the kernel could not write back */
	VMHINT_NUMA_UNMOVABLE = 9,    /* the kernel cannot move this page (EINVAL) */
	VMHINT_NUMA_OTHER = 10,       /* any other error, see the log */
	VMHINT_NUMA_NR_OUTCOMES
};

/* Flags of struct vmhint_numa_move_opts and struct vmhint_numa_policy. */
#define VMHINT_NUMA_MOVE_ALL (1u << 0)  /* also pages shared with other processes:
					 * needs CAP_SYS_NICE (MPOL_MF_MOVE_ALL) */
#define VMHINT_NUMA_NO_DROP (1u << 1)   /* copy UNUSED/PENDING pages too */
#define VMHINT_NUMA_MOVE (1u << 2)      /* policy only: also move what is there */

/*
 * vmhint_numa_progress_fn - called after every batch of a move.
 * @done, @total: 4 KiB pages handled so far, and in the whole call
 *
 * Return: 0 to go on; anything else cancels the move, which then returns
 * -ECANCELED with the result filled in up to that point. To cancel from
 * another thread, set a flag that this callback returns.
 */
typedef int (*vmhint_numa_progress_fn)(void *opaque, uint64_t done, uint64_t total);

struct vmhint_numa_move_opts {
	uint32_t size;              /* sizeof(struct vmhint_numa_move_opts) */
	uint32_t flags;             /* VMHINT_NUMA_MOVE_ALL, VMHINT_NUMA_NO_DROP */
	/*
	 * Where pages go. With nr_map == 0, every page goes to target_node.
	 * Otherwise a page on node map_from[i] goes to map_to[i] (as
	 * migrate_pages(2) does; {0,1}->{1,0} swaps), and pages on other
	 * nodes stay (VMHINT_NUMA_NOT_SELECTED). map_from has no duplicates.
	 */
	int32_t target_node;
	uint32_t nr_map;
	const int32_t *map_from;
	const int32_t *map_to;
	/*
	 * 4 KiB pages per move_pages(2) call; 0: 4096 (16 MiB). Each call
	 * costs the kernel a drain of every CPU's LRU caches, so small
	 * batches cost throughput; the kernel itself unmaps and copies a few
	 * pages at a time, so a vCPU touching one of them waits for that
	 * page, not for the batch.
	 */
	uint32_t batch_pages;
	/*
	 * Time budget of one batch in microseconds, 0: none. A batch is one
	 * kernel call during which the pages it moves are unmapped, so a vCPU
	 * touching them waits: the engine halves the batch while batches
	 * take longer than this and doubles it (up to batch_pages) while
	 * they take less than a quarter.
	 */
	uint32_t batch_budget_us;
	uint64_t max_bytes_per_sec; /* copy rate cap, 0: none (dropped pages are free) */
	uint32_t max_retries;       /* of busy pages; 0: 3. Other errors never retry */
	uint32_t _pad0;             /* must be 0 */
	vmhint_numa_progress_fn progress; /* may be NULL */
	void *progress_opaque;
	/*
	 * Optional: one byte per 4 KiB page of the range (range moves only),
	 * receives enum vmhint_numa_outcome of each page.
	 */
	uint8_t *outcomes;
};

/* What one move did. Counters by 4 KiB pages unless said otherwise. */
struct vmhint_numa_result {
	uint32_t size;              /* set by the caller: sizeof(struct vmhint_numa_result) */
	uint32_t _pad0;
	uint64_t pages[VMHINT_NUMA_NR_OUTCOMES];
	uint64_t pages_total;
	uint64_t retries;           /* pages tried again after a busy outcome */
	uint64_t bytes_moved;
	uint64_t batches;
	uint64_t batches_over_budget; /* batches slower than batch_budget_us */
	uint64_t max_batch_ns;      /* slowest batch */
	uint64_t throttle_ns;       /* time slept to keep max_bytes_per_sec */
	uint64_t time_ns;           /* whole call */
};

/* Where pages are, by host node. */
struct vmhint_numa_residency {
	uint32_t size;              /* set by the caller: sizeof(struct vmhint_numa_residency) */
	uint32_t nr_nodes;          /* highest node with pages + 1 */
	uint64_t pages[VMHINT_NUMA_MAX_NODES]; /* 4 KiB pages present on each node */
	uint64_t not_present;       /* no frame */
	uint64_t errors;            /* pages the kernel could not say anything of */
	uint64_t pages_total;
};

/* Memory policy modes of vmhint_numa_policy_set(), as mbind(2)'s. */
enum vmhint_numa_policy_mode {
	VMHINT_NUMA_POLICY_DEFAULT = 0,    /* the thread's policy: forget ours */
	VMHINT_NUMA_POLICY_BIND = 1,       /* only these nodes */
	VMHINT_NUMA_POLICY_PREFER = 2,     /* this one node first, others if full */
	VMHINT_NUMA_POLICY_INTERLEAVE = 3, /* spread page by page over the nodes */
};

struct vmhint_numa_policy {
	uint32_t size;              /* sizeof(struct vmhint_numa_policy) */
	uint32_t mode;              /* enum vmhint_numa_policy_mode */
	uint64_t nodes;             /* bit n: host node n; PREFER takes one node */
	uint32_t flags;             /* VMHINT_NUMA_MOVE: move pages there too */
	uint32_t _pad0;             /* must be 0 */
	/* Options of that move (NULL: defaults); its node fields are ignored. */
	const struct vmhint_numa_move_opts *move;
};

/* Cumulative NUMA counters of a context, and where its guest RAM is now. */
struct vmhint_numa_stats {
	uint32_t size;              /* set by the caller: sizeof(struct vmhint_numa_stats) */
	uint32_t _pad0;
	uint64_t moves;             /* move calls */
	uint64_t moves_cancelled;
	uint64_t pages[VMHINT_NUMA_NR_OUTCOMES];
	uint64_t retries;
	uint64_t bytes_moved;
	uint64_t time_ns;           /* spent in moves, sleeping included */
	uint64_t throttle_ns;
	uint64_t policies_set;
	struct vmhint_numa_residency residency; /* all guest RAM, queried now */
};

/**
 * vmhint_numa_residency() - count the pages of a guest-physical range per
 * host node (move_pages(2) without targets, in batches).
 * @res: the caller sets @res->size; the rest is written
 *
 * Return: pages counted (>= 0); -EINVAL for a bad @res, misalignment, zero
 * length or overflow; -EFAULT for a range outside guest RAM or across two
 * regions; -ENOSYS if the kernel lacks NUMA.
 */
VMHINT_EXPORT int64_t vmhint_numa_residency(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len,
					    struct vmhint_numa_residency *res);

/**
 * vmhint_numa_region_residency() - vmhint_numa_residency() of a region.
 *
 * Return: as vmhint_numa_residency(); -ENOENT for an unknown region.
 */
VMHINT_EXPORT int64_t vmhint_numa_region_residency(struct vmhint_ctx *ctx,
						   struct vmhint_region *region,
						   struct vmhint_numa_residency *res);

/**
 * vmhint_numa_move() - move the pages of a guest-physical range to a node
 * or along a node map, in batches, dropping pages the guest does not use.
 * @opts:   where to and how (NULL is not allowed: a move needs a target)
 * @result: what happened, page by page summed; may be NULL
 *
 * Busy pages are retried up to max_retries times; every other failure is
 * final and counted by outcome. Failures of single pages do not fail the
 * call.
 *
 * Return: the number of 4 KiB pages now on their target node (moved or
 * already there); -EINVAL for bad options, misalignment, zero length or
 * overflow; -ENODEV for a node that has no memory or that this process may
 * not use (cpuset); -EFAULT for a range outside guest RAM or across two
 * regions; -EPERM for VMHINT_NUMA_MOVE_ALL without CAP_SYS_NICE;
 * -ECANCELED when the progress callback cancelled; -ENOENT if the region
 * went away during the move; -ENOSYS if the kernel lacks NUMA.
 */
VMHINT_EXPORT int64_t vmhint_numa_move(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len,
				       const struct vmhint_numa_move_opts *opts,
				       struct vmhint_numa_result *result);

/**
 * vmhint_numa_move_region() - vmhint_numa_move() of a whole region.
 *
 * Return: as vmhint_numa_move(); -ENOENT for an unknown region.
 */
VMHINT_EXPORT int64_t vmhint_numa_move_region(struct vmhint_ctx *ctx, struct vmhint_region *region,
					      const struct vmhint_numa_move_opts *opts,
					      struct vmhint_numa_result *result);

/**
 * vmhint_numa_move_all() - vmhint_numa_move() of all guest RAM of @ctx,
 * region after region. @opts->outcomes must be NULL. The progress
 * callback sees the total over all regions.
 *
 * Return: as vmhint_numa_move().
 */
VMHINT_EXPORT int64_t vmhint_numa_move_all(struct vmhint_ctx *ctx,
					   const struct vmhint_numa_move_opts *opts,
					   struct vmhint_numa_result *result);

/**
 * vmhint_numa_policy_set() - set the memory policy of a guest-physical range
 * (mbind(2)), so that pages faulted in later, such as pages dropped after
 * an UNUSED hint and touched again, come from those nodes. With
 * VMHINT_NUMA_MOVE, also move the pages already there with the engine of
 * vmhint_numa_move() (BIND and PREFER: to the lowest node of the set;
 * INTERLEAVE: pages outside the set spread over it).
 * @result: the move's result; may be NULL
 *
 * The policy is the kernel's, kept with the mapping: it survives until the
 * mapping is unmapped or the policy is set again.
 *
 * Return: 0, or pages on target as vmhint_numa_move() with VMHINT_NUMA_MOVE;
 * -EINVAL for a bad mode, flags or an empty node set (PREFER: not exactly
 * one node); -ENODEV as vmhint_numa_move(); -EFAULT as vmhint_numa_move().
 */
VMHINT_EXPORT int64_t vmhint_numa_policy_set(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len,
					     const struct vmhint_numa_policy *policy,
					     struct vmhint_numa_result *result);

/**
 * vmhint_numa_region_policy_set() - vmhint_numa_policy_set() of a region.
 *
 * Return: as vmhint_numa_policy_set(); -ENOENT for an unknown region.
 */
VMHINT_EXPORT int64_t vmhint_numa_region_policy_set(struct vmhint_ctx *ctx,
						    struct vmhint_region *region,
						    const struct vmhint_numa_policy *policy,
						    struct vmhint_numa_result *result);

/**
 * vmhint_numa_policy_get() - the kernel's memory policy at @gpa
 * (get_mempolicy(2) with MPOL_F_ADDR). @policy->move is set to NULL.
 *
 * Return: 0; -EFAULT outside guest RAM; -EINVAL for a bad size; -EOPNOTSUPP
 * for a kernel mode this API does not name (e.g. MPOL_LOCAL).
 */
VMHINT_EXPORT int vmhint_numa_policy_get(struct vmhint_ctx *ctx, uint64_t gpa,
					 struct vmhint_numa_policy *policy);

/**
 * vmhint_numa_nodes() - the host nodes this process may put memory on
 * (online, with memory, in its cpuset), as a bit mask.
 *
 * Return: 0 or -ENOSYS if the kernel lacks NUMA.
 */
VMHINT_EXPORT int vmhint_numa_nodes(uint64_t *mask);

/**
 * vmhint_numa_stats_get() - the context's cumulative NUMA counters plus the
 * residency of all its guest RAM now, by the size rule of vmhint/common.h.
 * The residency costs a move_pages(2) query of every page of guest RAM: it
 * is made only if @st->size covers the residency field, so a caller that
 * wants the counters alone, cheaply, passes
 * offsetof(struct vmhint_numa_stats, residency) as the size.
 *
 * Return: 0 or -EINVAL for a bad @st->size.
 */
VMHINT_EXPORT int vmhint_numa_stats_get(struct vmhint_ctx *ctx, struct vmhint_numa_stats *st);

/**
 * vmhint_numa_outcome_name() - "moved", "already", "dropped",
 * "not_present", "not_selected", "shared", "busy", "no_memory", "io",
 * "unmovable", "other"; "unknown" for anything else.
 */
VMHINT_EXPORT const char *vmhint_numa_outcome_name(int outcome);

#ifdef __cplusplus
}
#endif
#endif /* VMHINT_NUMA_H */
