// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vm_numa_hugetlb - hugetlb guest RAM moves 2 MiB page by 2 MiB page:
 * every huge page ends on the target node with its contents, the counts
 * are in 4 KiB pages, and a range that cuts a huge page is refused. The
 * huge page pools of both nodes are filled here and restored at the end.
 */
#include <errno.h>
#include <sys/mman.h>

#include "vmtest.h"

#define HPAGE (2 * MiB)
#define NHUGE 4
#define LEN (NHUGE * HPAGE)

static const char *pool(int node)
{
	static char path[2][128];

	snprintf(path[node], sizeof(path[node]),
		 "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/nr_hugepages", node);
	return path[node];
}

static long pool_get(int node)
{
	FILE *f = fopen(pool(node), "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static bool pool_set(int node, long n)
{
	FILE *f = fopen(pool(node), "w");

	if (!f)
		return false;
	fprintf(f, "%ld\n", n);
	fclose(f);
	return pool_get(node) == n;
}

int main(void)
{
	struct vmhint_numa_move_opts o = { .size = sizeof(o), .target_node = 1 };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	struct vmhint_region_opts ro = { .size = sizeof(ro), .gpa = GPA0, .len = LEN, .fd = -1 };
	struct vmhint_region_info info = { .size = sizeof(info) };
	struct vmhint_ctx *ctx;
	long before[2];
	uint8_t *p;

	vm_need_two_nodes();
	before[0] = pool_get(0);
	before[1] = pool_get(1);
	if (before[0] < 0 || !pool_set(0, NHUGE) || !pool_set(1, NHUGE)) {
		printf("SKIP: cannot reserve %d huge pages on nodes 0 and 1\n", NHUGE);
		return 77;
	}
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	CHECK(p != MAP_FAILED, "MAP_HUGETLB: %m");
	vm_fill(p, LEN, 77);
	vm_expect_node(p, LEN, 0, "first touch");

	ctx = vm_ctx(VMHINT_MODE_SYNC, 0);
	ro.hva = p;
	CHECK_EQ(vmhint_region_add(ctx, &ro, NULL), 0);
	CHECK_EQ(vmhint_region_info_get(ctx, 0, &info), 0);
	CHECK_EQ(info.page_size, HPAGE);

	/* Half a huge page cannot move alone. */
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, HPAGE / 2, &o, &r), -EINVAL);
	CHECK_EQ(vmhint_numa_move(ctx, GPA0 + PAGE, HPAGE, &o, &r), -EINVAL);

	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), LEN / PAGE);
	vm_print_result("hugetlb", &r);
	CHECK_EQ(r.pages[VMHINT_NUMA_MOVED], LEN / PAGE);
	CHECK_EQ(r.bytes_moved, LEN);
	vm_expect_node(p, LEN, 1, "after the move");
	CHECK(vm_first_bad(p, LEN, 77) == -1, "contents changed");

	vmhint_ctx_free(ctx);
	munmap(p, LEN);
	pool_set(0, before[0]);
	pool_set(1, before[1]);
	printf("PASS\n");
	return 0;
}
