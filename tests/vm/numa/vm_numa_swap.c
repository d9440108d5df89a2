// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vm_numa_swap - a node map {0,1}->{1,0} swaps: pages on node 0 end on
 * node 1 and the other way round, each moved once, contents unchanged. A
 * map naming only node 1 leaves node 0's pages alone.
 */
#include <numaif.h>
#include <sys/mman.h>

#include "testutil.h"

#define LEN (8 * MiB)
#define NP (LEN / PAGE)

/* Page i goes to node (i / 3) % 2: runs of three, so batches see both. */
static int home(size_t pg)
{
	return (int)((pg / 3) % 2);
}

int main(void)
{
	int from[] = { 0, 1 }, to[] = { 1, 0 }, only1[] = { 1 }, to0[] = { 0 };
	struct vmhint_numa_move_opts o = { .size = sizeof(o), .nr_map = 2, .map_from = from,
					   .map_to = to, .batch_pages = 500 };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	struct tmem m;
	struct vmhint_ctx *ctx;
	size_t on1 = 0;
	void **addr = malloc(NP * sizeof(*addr));
	int *nodes = malloc(NP * sizeof(int)), *st = malloc(NP * sizeof(int));

	need_two_nodes();
	m = tmem_map(TMEM_ANON_4K, LEN);
	ctx = ctx_make_nolimit(VMHINT_MODE_SYNC, 0);
	CHECK_EQ(tmem_register(ctx, &m, GPA0, NULL), 0);
	pattern_fill(m.hva, LEN, 5);
	for (size_t pg = 0; pg < NP; pg++) {
		addr[pg] = m.hva + pg * PAGE;
		nodes[pg] = home(pg);
	}
	CHECK(move_pages(0, NP, addr, nodes, st, MPOL_MF_MOVE) == 0, "setup move_pages: %m");
	for (size_t pg = 0; pg < NP; pg++)
		CHECK_EQ(page_node(addr[pg]), home(pg));

	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP);
	print_numa_result("swap", &r);
	CHECK_EQ(r.pages[VMHINT_NUMA_MOVED], NP);
	for (size_t pg = 0; pg < NP; pg++)
		CHECK(page_node(addr[pg]) == !home(pg), "page %zu on node %d after the swap", pg,
		      page_node(addr[pg]));
	CHECK(pattern_first_bad(m.hva, LEN, 5) == -1, "contents changed");

	/* Only node 1 -> 0: node 0's pages are not selected and stay. */
	o.nr_map = 1;
	o.map_from = only1;
	o.map_to = to0;
	for (size_t pg = 0; pg < NP; pg++)
		on1 += home(pg) == 0;
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), on1);
	CHECK_EQ(r.pages[VMHINT_NUMA_MOVED], on1);
	CHECK_EQ(r.pages[VMHINT_NUMA_NOT_SELECTED], NP - on1);
	expect_node(m.hva, LEN, 0, "after 1->0");
	CHECK(pattern_first_bad(m.hva, LEN, 5) == -1, "contents changed");
	vmhint_ctx_free(ctx);
	printf("PASS\n");
	return 0;
}
