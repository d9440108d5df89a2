// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * policy.c - memory policies of guest RAM (mbind(2)). A policy decides
 * where the kernel puts a page when it is faulted in: the first touch, and
 * every touch after a drop (UNUSED hint). A move only relocates what is
 * there now; a policy keeps refaults where they belong.
 */
#include "config.h"

#include <errno.h>
#include <numaif.h>
#include <string.h>

#include "numa/numa-engine.h"
#include "sys/sysdep.h"
#include "util/struct.h"

static int kernel_mode(enum vmhint_numa_policy_mode mode)
{
	switch (mode) {
	case VMHINT_NUMA_POLICY_DEFAULT:
		return MPOL_DEFAULT;
	case VMHINT_NUMA_POLICY_BIND:
		return MPOL_BIND;
	case VMHINT_NUMA_POLICY_PREFER:
		return MPOL_PREFERRED;
	case VMHINT_NUMA_POLICY_INTERLEAVE:
		return MPOL_INTERLEAVE;
	}
	return -EINVAL;
}

static int check_nodes(const struct vmhint_numa_policy *pol)
{
	uint64_t allowed;
	int err;

	if (pol->mode == VMHINT_NUMA_POLICY_DEFAULT)
		return pol->nodes || (pol->flags & VMHINT_NUMA_MOVE) ? -EINVAL : 0;
	if (!pol->nodes)
		return -EINVAL;
	if (pol->mode == VMHINT_NUMA_POLICY_PREFER && (pol->nodes & (pol->nodes - 1)))
		return -EINVAL;
	err = sys_mems_allowed(&allowed);
	if (err)
		return err;
	return (pol->nodes & ~allowed) ? -ENODEV : 0;
}

/* Copy the caller's policy by the size rule into @pol and check it. */
static int take_policy(struct vmhint_numa_policy *pol, const struct vmhint_numa_policy *caller,
		       struct vmhint_numa_move_opts *move)
{
	int err;

	memset(pol, 0, sizeof(*pol));
	pol->size = sizeof(*pol);
	if (!caller)
		return -EINVAL;
	err = vh_struct_in(pol, sizeof(*pol), caller);
	if (err)
		return err;
	if (pol->_pad0 || kernel_mode(pol->mode) < 0)
		return -EINVAL;
	if (pol->flags & ~VMHINT_NUMA_MOVE)
		return -EINVAL;
	err = check_nodes(pol);
	if (err || !(pol->flags & VMHINT_NUMA_MOVE))
		return err;
	err = numa_take_move_opts(move, pol->move);
	move->nr_map = 0;
	return err;
}

/*
 * Pages on a node of the set stay; the others go to the lowest node of the
 * set (BIND, PREFER) or are spread over the set by address (INTERLEAVE).
 */
static void policy_target(const struct vmhint_numa_policy *pol, struct numa_target *t)
{
	int lowest = __builtin_ctzll(pol->nodes), away, n;

	t->nr_spread = 0;
	for (n = 0; n < VMHINT_NUMA_MAX_NODES; n++)
		if (pol->nodes & (1ULL << n))
			t->spread[t->nr_spread++] = n;
	away = pol->mode == VMHINT_NUMA_POLICY_INTERLEAVE ? NUMA_SPREAD : lowest;
	for (n = 0; n < VMHINT_NUMA_MAX_NODES; n++)
		t->map[n] = (pol->nodes & (1ULL << n)) ? n : away;
	t->beyond = away;
}

/* mbind() the range; checks it first. */
static int bind_range(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len,
		      const struct vmhint_numa_policy *pol)
{
	struct vmhint_region *r;
	int err;

	pthread_rwlock_rdlock(&ctx->regions_lock);
	err = numa_check_range(ctx, gpa, len, &r);
	if (!err)
		err = sys_mbind(r->hva + (gpa - r->gpa), len, kernel_mode(pol->mode),
				pol->nodes, 0);
	pthread_rwlock_unlock(&ctx->regions_lock);
	if (err)
		log_warn(ctx, "numa: mbind of gpa 0x%llx+0x%llx failed: %d",
			 (unsigned long long)gpa, (unsigned long long)len, err);
	return err;
}

VMHINT_API int64_t vmhint_numa_policy_set(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len,
					  const struct vmhint_numa_policy *caller_policy,
					  struct vmhint_numa_result *result)
{
	struct numa_progress p = { .t0 = vh_now_ns(), .total = len / VMHINT_PAGE_SIZE };
	struct vmhint_numa_policy pol, *policy = &pol;
	struct vmhint_numa_move_opts move;
	struct vmhint_numa_result res;
	struct numa_target t;
	int err;

	if (!ctx || (result && vh_struct_out_ok(result)))
		return -EINVAL;
	err = take_policy(policy, caller_policy, &move);
	if (!err)
		err = bind_range(ctx, gpa, len, policy);
	if (err)
		return err;
	atomic_fetch_add(&numa_counters_of(ctx)->policies_set, 1);
	if (!(policy->flags & VMHINT_NUMA_MOVE))
		return 0;
	policy_target(policy, &t);
	numa_result_init(&res);
	err = numa_move_range(ctx, gpa, len, &move, &t, &res, &p);
	return numa_move_finish(ctx, err, &res, &p, result);
}

VMHINT_API int64_t vmhint_numa_region_policy_set(struct vmhint_ctx *ctx,
						 struct vmhint_region *region,
						 const struct vmhint_numa_policy *policy,
						 struct vmhint_numa_result *result)
{
	uint64_t gpa, len;
	int err = numa_region_span(ctx, region, &gpa, &len);

	return err ? err : vmhint_numa_policy_set(ctx, gpa, len, policy, result);
}

static int api_mode(int kmode)
{
	switch (kmode & 0xff) { /* the high bits are MPOL_F_* mode flags */
	case MPOL_DEFAULT:
		return VMHINT_NUMA_POLICY_DEFAULT;
	case MPOL_BIND:
		return VMHINT_NUMA_POLICY_BIND;
	case MPOL_PREFERRED:
		return VMHINT_NUMA_POLICY_PREFER;
	case MPOL_INTERLEAVE:
		return VMHINT_NUMA_POLICY_INTERLEAVE;
	}
	return -EOPNOTSUPP;
}

VMHINT_API int vmhint_numa_policy_get(struct vmhint_ctx *ctx, uint64_t gpa,
				      struct vmhint_numa_policy *policy)
{
	struct vmhint_region *r;
	uint64_t nodes = 0;
	int err, kmode = 0;

	if (!ctx || !policy || vh_struct_out_ok(policy))
		return -EINVAL;
	pthread_rwlock_rdlock(&ctx->regions_lock);
	err = numa_check_range(ctx, gpa & ~(VMHINT_PAGE_SIZE - 1), VMHINT_PAGE_SIZE, &r);
	if (err == -EINVAL) /* inside a huge page: fine for a query */
		err = (r = region_lookup(ctx, gpa)) ? 0 : -EFAULT;
	if (!err)
		err = sys_get_mempolicy_addr(r->hva + (gpa - r->gpa), &kmode, &nodes);
	pthread_rwlock_unlock(&ctx->regions_lock);
	if (err)
		return err;
	err = api_mode(kmode);
	if (err < 0)
		return err;
	return vh_struct_out(policy, &(struct vmhint_numa_policy){
		.size = sizeof(struct vmhint_numa_policy),
		.mode = (uint32_t)err,
		.nodes = nodes,
	}, sizeof(struct vmhint_numa_policy));
}
