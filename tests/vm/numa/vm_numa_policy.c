// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vm_numa_policy - after a policy bind to node 1, pages dropped by an
 * UNUSED hint and touched again come back on node 1, while the pages that
 * were never dropped stay where they were until a move. Then the policy's
 * own move brings everything to node 1; an interleave spreads new pages.
 */
#include <sys/mman.h>

#include "vmtest.h"

#define LEN (8 * MiB)
#define NP (LEN / PAGE)

int main(void)
{
	struct vmhint_numa_policy pol = { .size = sizeof(pol), .mode = VMHINT_NUMA_POLICY_BIND,
					  .nodes = 1u << 1 };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	struct vmhint_numa_residency res = { .size = sizeof(res) };
	struct vm_mem m;
	struct vmhint_ctx *ctx;

	vm_need_two_nodes();
	m = vm_map(VM_ANON_4K, LEN);
	ctx = vm_ctx(VMHINT_MODE_SYNC, 0);
	vm_register(ctx, &m, GPA0);
	vm_fill(m.hva, LEN, 11);
	vm_expect_node(m.hva, LEN, 0, "first touch");

	CHECK_EQ(vmhint_numa_policy_set(ctx, GPA0, LEN, &pol, NULL), 0);
	vm_expect_node(m.hva, LEN, 0, "a policy alone moves nothing");

	/* The second half: hinted unused (dropped), then touched again. */
	CHECK_EQ(vmhint_hint(ctx, VMHINT_OP_UNUSED, GPA0 + LEN / 2, LEN / 2), LEN / 2);
	for (size_t off = LEN / 2; off < LEN; off += PAGE)
		CHECK(!vm_resident(m.hva + off), "page %zu not dropped", off / PAGE);
	for (size_t off = LEN / 2; off < LEN; off += PAGE)
		m.hva[off] = 1;
	vm_expect_node(m.hva + LEN / 2, LEN / 2, 1, "refaulted after UNUSED");
	vm_expect_node(m.hva, LEN / 2, 0, "never dropped");
	CHECK_EQ(vmhint_numa_residency(ctx, GPA0, LEN, &res), NP);
	CHECK_EQ(res.pages[0], NP / 2);
	CHECK_EQ(res.pages[1], NP / 2);

	/* The policy with MOVE: the first half moves, the second is there. */
	pol.flags = VMHINT_NUMA_MOVE;
	CHECK_EQ(vmhint_numa_policy_set(ctx, GPA0, LEN, &pol, &r), NP);
	vm_print_result("bind+move", &r);
	CHECK_EQ(r.pages[VMHINT_NUMA_MOVED], NP / 2);
	CHECK_EQ(r.pages[VMHINT_NUMA_ALREADY], NP / 2);
	vm_expect_node(m.hva, LEN, 1, "after bind+move");
	CHECK(vm_first_bad(m.hva, LEN / 2, 11) == -1, "contents changed");

	/* Interleave over {0,1}: dropped pages come back on both nodes. */
	pol.mode = VMHINT_NUMA_POLICY_INTERLEAVE;
	pol.nodes = 3;
	pol.flags = 0;
	CHECK_EQ(vmhint_numa_policy_set(ctx, GPA0, LEN, &pol, NULL), 0);
	CHECK_EQ(vmhint_hint(ctx, VMHINT_OP_UNUSED, GPA0, LEN), LEN);
	for (size_t off = 0; off < LEN; off += PAGE)
		m.hva[off] = 2;
	CHECK_EQ(vmhint_numa_residency(ctx, GPA0, LEN, &res), NP);
	printf("interleave: node0=%llu node1=%llu\n", (unsigned long long)res.pages[0],
	       (unsigned long long)res.pages[1]);
	CHECK(res.pages[0] > NP / 4 && res.pages[1] > NP / 4, "interleave did not spread");
	vmhint_ctx_free(ctx);
	printf("PASS\n");
	return 0;
}
