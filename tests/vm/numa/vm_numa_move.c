// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vm_numa_move - move a populated region to node 1 and back, for each kind
 * of backing: afterwards every page is on the target node (asked page by
 * page) and holds what it held before.
 */
#include <string.h>
#include <sys/mman.h>

#include "vmtest.h"

#define LEN (16 * MiB)
#define NP (LEN / PAGE)

static void check_on(struct vmhint_ctx *ctx, const struct vm_mem *m, int node, const char *what)
{
	struct vmhint_numa_residency res = { .size = sizeof(res) };

	vm_expect_node(m->hva, LEN, node, what);
	CHECK(vm_first_bad(m->hva, LEN, 42) == -1, "%s: contents changed", what);
	CHECK_EQ(vmhint_numa_residency(ctx, GPA0, LEN, &res), NP);
	CHECK_EQ(res.pages[node], NP);
	CHECK_EQ(res.nr_nodes, node + 1);
}

static void one_kind(enum vm_kind kind)
{
	struct vmhint_numa_move_opts o = { .size = sizeof(o), .target_node = 1 };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	struct vm_mem m = vm_map(kind, LEN);
	struct vmhint_ctx *ctx = vm_ctx(VMHINT_MODE_SYNC, 0);
	struct vmhint_numa_stats st = { .size = sizeof(st) };
	uint8_t *outcome = malloc(NP);
	char what[64];

	struct vmhint_region *region = vm_register(ctx, &m, GPA0);
	vm_fill(m.hva, LEN, 42);
	vm_expect_node(m.hva, LEN, 0, "first touch");

	o.outcomes = outcome;
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP);
	snprintf(what, sizeof(what), "%s to 1", vm_kind_name(kind));
	vm_print_result(what, &r);
	CHECK_EQ(r.pages[VMHINT_NUMA_MOVED], NP);
	CHECK_EQ(r.bytes_moved, LEN);
	for (size_t i = 0; i < NP; i++)
		CHECK(outcome[i] == VMHINT_NUMA_MOVED, "page %zu outcome %s", i,
		      vmhint_numa_outcome_name(outcome[i]));
	check_on(ctx, &m, 1, what);

	/* Again: nothing to do, every page is already there. */
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP);
	CHECK_EQ(r.pages[VMHINT_NUMA_ALREADY], NP);

	/* Back with the region call, in odd batches. */
	o.target_node = 0;
	o.outcomes = NULL;
	o.batch_pages = 333;
	CHECK_EQ(vmhint_numa_move_region(ctx, region, &o, &r), NP);
	snprintf(what, sizeof(what), "%s back to 0", vm_kind_name(kind));
	vm_print_result(what, &r);
	check_on(ctx, &m, 0, what);

	/*
	 * A sub-range only: pages 100..199 go to node 1, the rest stay. A
	 * transparent huge page moves as a whole, so with THP the rest of
	 * the first 2 MiB comes along.
	 */
	o.target_node = 1;
	CHECK_EQ(vmhint_numa_move(ctx, GPA0 + 100 * PAGE, 100 * PAGE, &o, &r), 100);
	vm_expect_node(m.hva + 100 * PAGE, 100 * PAGE, 1, "the sub-range");
	if (kind != VM_ANON) {
		vm_expect_node(m.hva, 100 * PAGE, 0, "before the sub-range");
		vm_expect_node(m.hva + 200 * PAGE, LEN - 200 * PAGE, 0, "after the sub-range");
	} else {
		vm_expect_node(m.hva + 2 * MiB, LEN - 2 * MiB, 0, "after the huge page");
	}

	/* The whole context. */
	CHECK_EQ(vmhint_numa_move_all(ctx, &o, &r), NP);
	CHECK_EQ(r.pages[VMHINT_NUMA_ALREADY] + r.pages[VMHINT_NUMA_MOVED], NP);
	check_on(ctx, &m, 1, "move_all");

	/* The stats call: per-node totals now, and what the moves did. */
	CHECK_EQ(vmhint_numa_stats_get(ctx, &st), 0);
	CHECK_EQ(st.residency.pages[1], NP);
	CHECK_EQ(st.residency.pages[0], 0);
	CHECK_EQ(st.moves, 5);
	/* Five calls over 4 * NP + 100 pages; THP makes some "already". */
	CHECK_EQ(st.pages[VMHINT_NUMA_MOVED] + st.pages[VMHINT_NUMA_ALREADY], 4 * NP + 100);
	CHECK(st.pages[VMHINT_NUMA_MOVED] >= NP, "moved %llu",
	      (unsigned long long)st.pages[VMHINT_NUMA_MOVED]);
	CHECK_EQ(st.bytes_moved, st.pages[VMHINT_NUMA_MOVED] * PAGE);
	CHECK(st.time_ns > 0, "no time counted");
	free(outcome);
	vmhint_ctx_free(ctx);
	munmap(m.hva, LEN);
}

int main(void)
{
	vm_need_two_nodes();
	one_kind(VM_ANON_4K);
	one_kind(VM_ANON);
	one_kind(VM_MEMFD);
	printf("PASS\n");
	return 0;
}
