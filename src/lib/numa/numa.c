// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * numa.c - NUMA placement, the parts every NUMA call shares: checking
 * ranges and nodes, where pages are (residency), the per-context counters
 * and their stats call. Moves are in move.c, policies in policy.c.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "numa/numa-engine.h"
#include "sys/sysdep.h"
#include "util/struct.h"

/* Addresses per residency query: one move_pages(2) call. */
#define RESIDENCY_BATCH 1024u

/*
 * A guest-physical range must lie in one region and, for huge-page
 * backings, cover whole huge pages: the kernel moves a huge page as one.
 * Caller holds ctx->regions_lock.
 */
int numa_check_range(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len,
		     struct vmhint_region **out)
{
	struct vmhint_region *r;

	if (!len || gpa % VMHINT_PAGE_SIZE || len % VMHINT_PAGE_SIZE || gpa + len < gpa)
		return -EINVAL;
	r = region_lookup(ctx, gpa);
	if (!r || !region_contains(r, gpa, len))
		return -EFAULT;
	if ((gpa - r->gpa) % r->page_size || len % r->page_size)
		return -EINVAL;
	*out = r;
	return 0;
}

/* The span of a region handle, if it is still registered. */
int numa_region_span(struct vmhint_ctx *ctx, struct vmhint_region *region,
		     uint64_t *gpa, uint64_t *len)
{
	int i, err = -ENOENT;

	if (!ctx || !region)
		return -EINVAL;
	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (i = 0; i < ctx->nr_regions; i++) {
		if (ctx->regions[i] == region) {
			*gpa = region->gpa;
			*len = region->len;
			err = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	return err;
}

int numa_check_target_node(int node, uint64_t allowed)
{
	if (node < 0 || node >= VMHINT_NUMA_MAX_NODES)
		return -EINVAL;
	return (allowed & (1ULL << node)) ? 0 : -ENODEV;
}

VMHINT_API int vmhint_numa_nodes(uint64_t *mask)
{
	if (!mask)
		return -EINVAL;
	return sys_mems_allowed(mask);
}

/* Count one query batch: @status holds a node or -errno per address. */
static void residency_add(struct vmhint_numa_residency *res, const int *status,
			  uint32_t n, uint64_t pages_per_unit)
{
	for (uint32_t i = 0; i < n; i++) {
		int s = status[i];

		res->pages_total += pages_per_unit;
		if (s >= 0 && s < VMHINT_NUMA_MAX_NODES) {
			res->pages[s] += pages_per_unit;
			if ((uint32_t)s + 1 > res->nr_nodes)
				res->nr_nodes = (uint32_t)s + 1;
		} else if (s == -ENOENT || s == -EFAULT) {
			/* -EFAULT: the shared zero page, no frame of ours */
			res->not_present += pages_per_unit;
		} else {
			res->errors += pages_per_unit;
		}
	}
}

/* Query [hva, hva + len) of @r into @res. Caller holds ctx->regions_lock. */
static int residency_query(const struct vmhint_region *r, uint8_t *hva, uint64_t len,
			   struct vmhint_numa_residency *res)
{
	void *addr[RESIDENCY_BATCH];
	int status[RESIDENCY_BATCH];
	uint64_t units = len / r->page_size, ppu = r->page_size / VMHINT_PAGE_SIZE;
	uint64_t u = 0;

	while (u < units) {
		uint32_t n = units - u < RESIDENCY_BATCH ? (uint32_t)(units - u) : RESIDENCY_BATCH;
		long ret;

		for (uint32_t i = 0; i < n; i++)
			addr[i] = hva + (u + i) * r->page_size;
		ret = sys_move_pages(n, addr, NULL, status, 0);
		if (ret < 0)
			return (int)ret;
		residency_add(res, status, n, ppu);
		u += n;
	}
	return 0;
}

VMHINT_API int64_t vmhint_numa_residency(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len,
					 struct vmhint_numa_residency *res)
{
	struct vmhint_numa_residency full = { .size = sizeof(full) };
	struct vmhint_region *r;
	int err;

	if (!ctx || !res || vh_struct_out_ok(res))
		return -EINVAL;
	pthread_rwlock_rdlock(&ctx->regions_lock);
	err = numa_check_range(ctx, gpa, len, &r);
	if (!err)
		err = residency_query(r, r->hva + (gpa - r->gpa), len, &full);
	pthread_rwlock_unlock(&ctx->regions_lock);
	if (!err)
		err = vh_struct_out(res, &full, sizeof(full));
	return err ? err : (int64_t)full.pages_total;
}

VMHINT_API int64_t vmhint_numa_region_residency(struct vmhint_ctx *ctx,
						struct vmhint_region *region,
						struct vmhint_numa_residency *res)
{
	uint64_t gpa, len;
	int err = numa_region_span(ctx, region, &gpa, &len);

	return err ? err : vmhint_numa_residency(ctx, gpa, len, res);
}

/* Residency of every region, for the stats call. */
static int residency_all(struct vmhint_ctx *ctx, struct vmhint_numa_residency *res)
{
	int i, err = 0;

	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (i = 0; i < ctx->nr_regions && !err; i++) {
		struct vmhint_region *r = ctx->regions[i];

		err = residency_query(r, r->hva, r->len, res);
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	return err;
}

VMHINT_API int vmhint_numa_stats_get(struct vmhint_ctx *ctx, struct vmhint_numa_stats *st)
{
	struct vmhint_numa_stats s = { .size = sizeof(s) };
	struct numa_counters *c;

	if (!ctx || !st || vh_struct_out_ok(st))
		return -EINVAL;
	c = numa_counters_of(ctx);
	s.moves = atomic_load(&c->moves);
	s.moves_cancelled = atomic_load(&c->moves_cancelled);
	for (int i = 0; i < VMHINT_NUMA_NR_OUTCOMES; i++)
		s.pages[i] = atomic_load(&c->pages[i]);
	s.retries = atomic_load(&c->retries);
	s.bytes_moved = atomic_load(&c->bytes_moved);
	s.time_ns = atomic_load(&c->time_ns);
	s.throttle_ns = atomic_load(&c->throttle_ns);
	s.policies_set = atomic_load(&c->policies_set);
	s.residency.size = sizeof(s.residency);
	/* The residency costs a query of every page: only for who asks. */
	if (st->size > offsetof(struct vmhint_numa_stats, residency)) {
		int err = residency_all(ctx, &s.residency);

		if (err)
			return err;
	}
	return vh_struct_out(st, &s, sizeof(s));
}

void numa_result_init(struct vmhint_numa_result *res)
{
	memset(res, 0, sizeof(*res));
	res->size = sizeof(*res);
}

/* Copy a result to the caller's struct, as much as its size says. */
void numa_result_copy(struct vmhint_numa_result *dst, const struct vmhint_numa_result *src)
{
	if (dst)
		vh_struct_out(dst, src, sizeof(*src));
}

void numa_result_account(struct vmhint_ctx *ctx, const struct vmhint_numa_result *res,
			 bool cancelled)
{
	struct numa_counters *c = numa_counters_of(ctx);

	atomic_fetch_add(&c->moves, 1);
	if (cancelled)
		atomic_fetch_add(&c->moves_cancelled, 1);
	for (int i = 0; i < VMHINT_NUMA_NR_OUTCOMES; i++)
		atomic_fetch_add(&c->pages[i], res->pages[i]);
	atomic_fetch_add(&c->retries, res->retries);
	atomic_fetch_add(&c->bytes_moved, res->bytes_moved);
	atomic_fetch_add(&c->time_ns, res->time_ns);
	atomic_fetch_add(&c->throttle_ns, res->throttle_ns);
}

static const char *const outcome_names[VMHINT_NUMA_NR_OUTCOMES] = {
	[VMHINT_NUMA_MOVED] = "moved",
	[VMHINT_NUMA_ALREADY] = "already",
	[VMHINT_NUMA_DROPPED] = "dropped",
	[VMHINT_NUMA_NOT_PRESENT] = "not_present",
	[VMHINT_NUMA_NOT_SELECTED] = "not_selected",
	[VMHINT_NUMA_SHARED] = "shared",
	[VMHINT_NUMA_BUSY] = "busy",
	[VMHINT_NUMA_NO_MEMORY] = "no_memory",
	[VMHINT_NUMA_IO] = "io",
	[VMHINT_NUMA_UNMOVABLE] = "unmovable",
	[VMHINT_NUMA_OTHER] = "other",
};

VMHINT_API const char *vmhint_numa_outcome_name(int outcome)
{
	if (outcome < 0 || outcome >= VMHINT_NUMA_NR_OUTCOMES)
		return "unknown";
	return outcome_names[outcome];
}
