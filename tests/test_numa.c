// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_numa.c - NUMA placement on the host, which has one node: residency
 * as the kernel reports it page by page, moves to node 0 that must change
 * nothing (outcome "already"), policies the kernel really holds, and every
 * documented error. Moves between nodes are tested in a two-node guest
 * (tests/vm/numa/).
 */
#include "config.h"

#include <errno.h>
#include <linux/capability.h>
#include <numaif.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define GPA0 0x100000000ULL
#define RAM (8 * MiB)
#define NPAGES (RAM / PAGE)

/* A context with one region of @kind at GPA0, every page written. */
static struct vmhint_ctx *setup(enum tmem_kind kind, struct tmem *m, uint32_t flags)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, flags, 0);

	*m = tmem_map(kind, RAM);
	pattern_fill(m->hva, RAM, 7);
	ck_assert_int_eq(tmem_register(ctx, m, GPA0, NULL), 0);
	return ctx;
}

static void teardown(struct vmhint_ctx *ctx, struct tmem *m)
{
	vmhint_ctx_free(ctx);
	tmem_unmap(m);
}

/* The kernel's node of the page at @p, or -errno. */
static int node_of(void *p)
{
	int status = -1;

	ck_assert_int_eq(move_pages(0, 1, &p, NULL, &status, 0), 0);
	return status;
}

static struct vmhint_numa_move_opts to_node(int node)
{
	return (struct vmhint_numa_move_opts){ .size = sizeof(struct vmhint_numa_move_opts),
					       .target_node = node };
}

START_TEST(residency_populated_is_node0)
{
	struct vmhint_numa_residency res = { .size = sizeof(res) };
	struct tmem m;
	struct vmhint_ctx *ctx = setup(_i ? TMEM_MEMFD : TMEM_ANON, &m, 0);

	ck_assert_int_eq(vmhint_numa_residency(ctx, GPA0, RAM, &res), NPAGES);
	ck_assert_uint_eq(res.pages[0], NPAGES);
	ck_assert_uint_eq(res.not_present, 0);
	ck_assert_uint_eq(res.nr_nodes, 1);
	for (size_t i = 0; i < NPAGES; i += 97)
		ck_assert_int_eq(node_of(m.hva + i * PAGE), 0);
	teardown(ctx, &m);
}
END_TEST

START_TEST(residency_counts_holes)
{
	struct vmhint_numa_residency res = { .size = sizeof(res) };
	struct vmhint_region *r;
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, RAM);

	ck_assert_int_eq(tmem_register(ctx, &m, GPA0, &r), 0);
	/* Touch every fourth page only. */
	for (size_t i = 0; i < NPAGES; i += 4)
		m.hva[i * PAGE] = 1;
	ck_assert_int_eq(vmhint_numa_region_residency(ctx, r, &res), NPAGES);
	ck_assert_uint_eq(res.pages[0], NPAGES / 4);
	ck_assert_uint_eq(res.not_present, NPAGES - NPAGES / 4);
	ck_assert_uint_eq(resident_pages(m.hva, RAM), NPAGES / 4);
	/* A sub-range: pages 0..7 hold two present pages. */
	ck_assert_int_eq(vmhint_numa_residency(ctx, GPA0, 8 * PAGE, &res), 8);
	ck_assert_uint_eq(res.pages[0], 2);
	teardown(ctx, &m);
}
END_TEST

START_TEST(move_to_node0_is_noop)
{
	struct vmhint_numa_result res = { .size = sizeof(res) };
	struct vmhint_numa_move_opts o = to_node(0);
	uint8_t *outcome = malloc(NPAGES);
	struct tmem m;
	struct vmhint_ctx *ctx = setup(_i ? TMEM_MEMFD : TMEM_ANON, &m, 0);

	memset(outcome, 0xff, NPAGES);
	o.outcomes = outcome;
	o.batch_pages = 100; /* not a divisor: the last batch is short */
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, &res), NPAGES);
	ck_assert_uint_eq(res.pages[VMHINT_NUMA_ALREADY], NPAGES);
	ck_assert_uint_eq(res.pages[VMHINT_NUMA_MOVED], 0);
	ck_assert_uint_eq(res.pages_total, NPAGES);
	ck_assert_uint_eq(res.bytes_moved, 0);
	ck_assert_uint_eq(res.batches, (NPAGES + 99) / 100);
	for (size_t i = 0; i < NPAGES; i++)
		ck_assert_int_eq(outcome[i], VMHINT_NUMA_ALREADY);
	ck_assert_int_eq(pattern_first_bad(m.hva, RAM, 7), -1);
	ck_assert_int_eq(node_of(m.hva), 0);
	free(outcome);
	teardown(ctx, &m);
}
END_TEST

START_TEST(move_outcomes_of_holes_and_map)
{
	struct vmhint_numa_result res = { .size = sizeof(res) };
	struct vmhint_numa_move_opts o = to_node(0);
	int from[] = { 1 }, to[] = { 0 };
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, RAM);

	ck_assert_int_eq(tmem_register(ctx, &m, GPA0, NULL), 0);
	memset(m.hva, 3, RAM / 2);
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, &res), NPAGES / 2);
	ck_assert_uint_eq(res.pages[VMHINT_NUMA_ALREADY], NPAGES / 2);
	ck_assert_uint_eq(res.pages[VMHINT_NUMA_NOT_PRESENT], NPAGES / 2);
	/* The holes stay holes: a move never populates. */
	ck_assert_uint_eq(resident_pages(m.hva, RAM), NPAGES / 2);

	/* A map naming only node 1: the pages on node 0 are not selected. */
	o.nr_map = 1;
	o.map_from = from;
	o.map_to = to;
	ck_assert_int_eq(vmhint_numa_move_all(ctx, &o, &res), 0);
	ck_assert_uint_eq(res.pages[VMHINT_NUMA_NOT_SELECTED], NPAGES / 2);
	teardown(ctx, &m);
}
END_TEST

START_TEST(move_errors)
{
	struct vmhint_numa_move_opts o = to_node(0);
	struct vmhint_numa_result res = { .size = sizeof(res) };
	struct vmhint_numa_stats st = { .size = sizeof(st) };
	int from[2] = { 0, 0 }, to[2] = { 0, 0 };
	struct tmem m, m2 = tmem_map(TMEM_ANON, RAM);
	struct vmhint_ctx *ctx = setup(TMEM_ANON, &m, 0);
	uint64_t nodes;

	ck_assert_int_eq(tmem_register(ctx, &m2, GPA0 + RAM, NULL), 0);
	ck_assert_int_eq(vmhint_numa_nodes(&nodes), 0);
	ck_assert_uint_eq(nodes, 1); /* this host: node 0 only */

	/* Bad nodes: out of the API's range, or with no memory here. */
	o.target_node = -1;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, NULL), -EINVAL);
	o.target_node = VMHINT_NUMA_MAX_NODES;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, NULL), -EINVAL);
	o.target_node = 1;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, NULL), -ENODEV);
	o.target_node = 63;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, NULL), -ENODEV);
	o.target_node = 0;

	/* Bad ranges. */
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0 + 1, PAGE, &o, NULL), -EINVAL);
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, PAGE + 1, &o, NULL), -EINVAL);
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, 0, &o, NULL), -EINVAL);
	ck_assert_int_eq(vmhint_numa_move(ctx, -PAGE, 2 * PAGE, &o, NULL), -EINVAL);
	ck_assert_int_eq(vmhint_numa_move(ctx, 0, PAGE, &o, NULL), -EFAULT);
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0 + 2 * RAM, PAGE, &o, NULL), -EFAULT);
	/* Across the two regions, although both are guest RAM. */
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0 + RAM - PAGE, 2 * PAGE, &o, NULL), -EFAULT);
	ck_assert_int_eq(vmhint_numa_residency(ctx, GPA0 + 1, PAGE, &(struct vmhint_numa_residency){ .size = sizeof(struct vmhint_numa_residency) }), -EINVAL);
	ck_assert_int_eq(vmhint_numa_residency(ctx, 0, PAGE, &(struct vmhint_numa_residency){ .size = sizeof(struct vmhint_numa_residency) }), -EFAULT);
	ck_assert_int_eq(vmhint_numa_move_region(ctx, (struct vmhint_region *)&m, &o, NULL), -ENOENT);

	/* Bad options and maps. */
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, NULL, NULL), -EINVAL);
	o.size = 4;   /* not a multiple of 8: ends inside a field */
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, NULL), -EINVAL);
	o.size = sizeof(o);
	o.flags = 1u << 30;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, NULL), -EINVAL);
	o.flags = 0;
	res.size = 4;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, &res), -EINVAL);
	o.nr_map = 2;
	o.map_from = from;
	o.map_to = to;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, NULL), -EINVAL); /* 0 twice */
	from[1] = 1;
	to[1] = 1;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, NULL), -ENODEV); /* to 1 */
	to[1] = 0;
	from[1] = -2;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, NULL), -EINVAL);
	o.map_to = NULL;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, NULL), -EINVAL);

	/* Nothing was moved or counted by the rejected calls. */
	ck_assert_int_eq(vmhint_numa_stats_get(ctx, &st), 0);
	ck_assert_uint_eq(st.moves, 0);
	ck_assert_int_eq(pattern_first_bad(m.hva, RAM, 7), -1);
	tmem_unmap(&m2);
	teardown(ctx, &m);
}
END_TEST

/* Drop CAP_SYS_NICE from our effective set (we run as root). */
static void drop_cap_sys_nice(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	ck_assert_int_eq(syscall(SYS_capget, &hdr, d), 0);
	d[CAP_SYS_NICE / 32].effective &= ~(1u << (CAP_SYS_NICE % 32));
	ck_assert_int_eq(syscall(SYS_capset, &hdr, d), 0);
}

START_TEST(move_all_needs_cap_sys_nice)
{
	struct vmhint_numa_move_opts o = to_node(0);
	struct vmhint_numa_result res = { .size = sizeof(res) };
	struct tmem m;
	struct vmhint_ctx *ctx = setup(TMEM_ANON, &m, 0);
	int st;
	pid_t pid;

	o.flags = VMHINT_NUMA_MOVE_ALL;
	if (geteuid() == 0) {
		ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, &res), NPAGES);
		ck_assert_uint_eq(res.pages[VMHINT_NUMA_ALREADY], NPAGES);
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		drop_cap_sys_nice();
		_exit(vmhint_numa_move(ctx, GPA0, RAM, &o, NULL) == -EPERM ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "MOVE_ALL without CAP_SYS_NICE not -EPERM");
	teardown(ctx, &m);
}
END_TEST

static uint64_t last_done, last_total, calls;

static int progress(void *opaque, uint64_t done, uint64_t total)
{
	calls++;
	ck_assert_uint_ge(done, last_done);
	last_done = done;
	last_total = total;
	return opaque && done >= *(uint64_t *)opaque;
}

START_TEST(progress_and_cancel)
{
	struct vmhint_numa_move_opts o = to_node(0);
	struct vmhint_numa_result res = { .size = sizeof(res) };
	uint64_t stop = 3 * 256;
	struct tmem m;
	struct vmhint_ctx *ctx = setup(TMEM_ANON, &m, 0);
	struct vmhint_numa_stats st = { .size = sizeof(st) };

	o.batch_pages = 256;
	o.progress = progress;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, &res), NPAGES);
	ck_assert_uint_eq(calls, NPAGES / 256);
	ck_assert_uint_eq(last_done, NPAGES);
	ck_assert_uint_eq(last_total, NPAGES);

	calls = last_done = 0;
	o.progress_opaque = &stop;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, &res), -ECANCELED);
	ck_assert_uint_eq(calls, 3);
	ck_assert_uint_eq(res.pages_total, stop); /* filled in up to the cancel */
	ck_assert_uint_eq(res.pages[VMHINT_NUMA_ALREADY], stop);

	ck_assert_int_eq(vmhint_numa_stats_get(ctx, &st), 0);
	ck_assert_uint_eq(st.moves, 2);
	ck_assert_uint_eq(st.moves_cancelled, 1);
	ck_assert_uint_eq(st.pages[VMHINT_NUMA_ALREADY], NPAGES + stop);
	ck_assert_uint_eq(st.residency.pages[0], NPAGES);
	ck_assert_uint_ge(st.time_ns, 1);
	teardown(ctx, &m);
}
END_TEST

START_TEST(throttle_caps_rate)
{
	/* Nothing is copied on one node, so the cap must never make us sleep. */
	struct vmhint_numa_move_opts o = to_node(0);
	struct vmhint_numa_result res = { .size = sizeof(res) };
	struct tmem m;
	struct vmhint_ctx *ctx = setup(TMEM_ANON, &m, 0);

	o.max_bytes_per_sec = 1;
	o.batch_budget_us = 100000;
	ck_assert_int_eq(vmhint_numa_move(ctx, GPA0, RAM, &o, &res), NPAGES);
	ck_assert_uint_eq(res.throttle_ns, 0);
	ck_assert_uint_lt(res.time_ns, 5000000000ull);
	ck_assert_uint_le(res.max_batch_ns, res.time_ns);
	teardown(ctx, &m);
}
END_TEST

START_TEST(policy_bind_is_kept)
{
	struct vmhint_numa_policy pol = { .size = sizeof(pol), .mode = VMHINT_NUMA_POLICY_BIND,
					  .nodes = 1 };
	struct vmhint_numa_policy got = { .size = sizeof(got) };
	struct vmhint_numa_result res = { .size = sizeof(res) };
	int mode = -1;
	unsigned long mask[16] = { 0 };
	struct tmem m;
	struct vmhint_ctx *ctx = setup(TMEM_ANON, &m, VMHINT_CTX_GUEST_STABLE_HINTS);

	ck_assert_int_eq(vmhint_numa_policy_set(ctx, GPA0, RAM / 2, &pol, NULL), 0);
	ck_assert_int_eq(get_mempolicy(&mode, mask, 1024, m.hva, MPOL_F_ADDR), 0);
	ck_assert_int_eq(mode, MPOL_BIND);
	ck_assert_uint_eq(mask[0], 1);
	ck_assert_int_eq(vmhint_numa_policy_get(ctx, GPA0 + RAM / 2 - PAGE, &got), 0);
	ck_assert_int_eq(got.mode, VMHINT_NUMA_POLICY_BIND);
	ck_assert_uint_eq(got.nodes, 1);
	ck_assert_int_eq(vmhint_numa_policy_get(ctx, GPA0 + RAM / 2, &got), 0);
	ck_assert_int_eq(got.mode, VMHINT_NUMA_POLICY_DEFAULT);

	/* A page dropped after an UNUSED hint comes back, on the bound node. */
	ck_assert_int_eq(vmhint_hint(ctx, VMHINT_OP_UNUSED, GPA0, PAGE), PAGE);
	ck_assert(!page_resident(m.hva));
	m.hva[0] = 1;
	ck_assert_int_eq(node_of(m.hva), 0);

	/* With MOVE: pages on the set's nodes count as already there. */
	pol.flags = VMHINT_NUMA_MOVE;
	ck_assert_int_eq(vmhint_numa_policy_set(ctx, GPA0, RAM, &pol, &res), NPAGES);
	ck_assert_uint_eq(res.pages[VMHINT_NUMA_ALREADY], NPAGES);

	pol.mode = VMHINT_NUMA_POLICY_DEFAULT;
	pol.nodes = 0;
	pol.flags = 0;
	ck_assert_int_eq(vmhint_numa_policy_set(ctx, GPA0, RAM, &pol, NULL), 0);
	ck_assert_int_eq(vmhint_numa_policy_get(ctx, GPA0, &got), 0);
	ck_assert_int_eq(got.mode, VMHINT_NUMA_POLICY_DEFAULT);
	teardown(ctx, &m);
}
END_TEST

START_TEST(policy_errors)
{
	struct vmhint_numa_policy pol = { .size = sizeof(pol), .mode = VMHINT_NUMA_POLICY_PREFER,
					  .nodes = 3 };
	struct tmem m;
	struct vmhint_ctx *ctx = setup(TMEM_ANON, &m, 0);

	ck_assert_int_eq(vmhint_numa_policy_set(ctx, GPA0, RAM, &pol, NULL), -EINVAL);
	pol.nodes = 2;
	ck_assert_int_eq(vmhint_numa_policy_set(ctx, GPA0, RAM, &pol, NULL), -ENODEV);
	pol.mode = VMHINT_NUMA_POLICY_BIND;
	pol.nodes = 0;
	ck_assert_int_eq(vmhint_numa_policy_set(ctx, GPA0, RAM, &pol, NULL), -EINVAL);
	pol.mode = 99;
	pol.nodes = 1;
	ck_assert_int_eq(vmhint_numa_policy_set(ctx, GPA0, RAM, &pol, NULL), -EINVAL);
	pol.mode = VMHINT_NUMA_POLICY_DEFAULT;
	ck_assert_int_eq(vmhint_numa_policy_set(ctx, GPA0, RAM, &pol, NULL), -EINVAL);
	pol.mode = VMHINT_NUMA_POLICY_INTERLEAVE;
	ck_assert_int_eq(vmhint_numa_policy_set(ctx, GPA0 + 1, RAM, &pol, NULL), -EINVAL);
	ck_assert_int_eq(vmhint_numa_policy_set(ctx, GPA0, 2 * RAM, &pol, NULL), -EFAULT);
	ck_assert_int_eq(vmhint_numa_policy_get(ctx, 0, &pol), -EFAULT);
	teardown(ctx, &m);
}
END_TEST

START_TEST(outcome_names)
{
	ck_assert_str_eq(vmhint_numa_outcome_name(VMHINT_NUMA_MOVED), "moved");
	ck_assert_str_eq(vmhint_numa_outcome_name(VMHINT_NUMA_ALREADY), "already");
	ck_assert_str_eq(vmhint_numa_outcome_name(VMHINT_NUMA_SHARED), "shared");
	ck_assert_str_eq(vmhint_numa_outcome_name(VMHINT_NUMA_OTHER), "other");
	ck_assert_str_eq(vmhint_numa_outcome_name(VMHINT_NUMA_NR_OUTCOMES), "unknown");
	ck_assert_str_eq(vmhint_numa_outcome_name(-1), "unknown");
}
END_TEST

static Suite *numa_suite(void)
{
	Suite *s = suite_create("numa");
	TCase *tc = tcase_create("residency");

	tcase_add_loop_test(tc, residency_populated_is_node0, 0, 2); /* anon, memfd */
	tcase_add_test(tc, residency_counts_holes);
	suite_add_tcase(s, tc);

	tc = tcase_create("move");
	tcase_add_loop_test(tc, move_to_node0_is_noop, 0, 2);
	tcase_add_test(tc, move_outcomes_of_holes_and_map);
	tcase_add_test(tc, move_errors);
	tcase_add_test(tc, move_all_needs_cap_sys_nice);
	tcase_add_test(tc, progress_and_cancel);
	tcase_add_test(tc, throttle_caps_rate);
	tcase_add_test(tc, outcome_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("policy");
	tcase_add_test(tc, policy_bind_is_kept);
	tcase_add_test(tc, policy_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(numa_suite());
}
