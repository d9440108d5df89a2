// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vm_numa_retry - transient outcomes are retried a bounded number of
 * times, permanent ones never. The kernel rarely says "busy" on demand, so
 * this program is linked with -Wl,--wrap=move_pages: the wrapper below
 * answers for chosen pages of the region and passes every other page to
 * the real system call.
 *
 *   page % 8 == 0   -EBUSY forever      -> outcome "busy" after 1 + retries tries
 *   page % 8 == 4   -EAGAIN twice       -> moved on the third try
 *   page % 16 == 1  -ENOMEM             -> "no_memory", tried exactly once
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "testutil.h"

#define LEN (2 * MiB)
#define NP (LEN / PAGE)
#define RETRIES 3

long __real_move_pages(int pid, unsigned long count, void **pages, const int *nodes,
		       int *status, int flags);
long __wrap_move_pages(int pid, unsigned long count, void **pages, const int *nodes,
		       int *status, int flags);

static uint8_t *base;
static unsigned int tries[NP];

/* The fake answer for page @pg, or 0 to let the kernel move it. */
static int injected(size_t pg)
{
	if (pg % 8 == 0)
		return -EBUSY;
	if (pg % 8 == 4 && tries[pg] <= 2)
		return -EAGAIN;
	if (pg % 16 == 1)
		return -ENOMEM;
	return 0;
}

long __wrap_move_pages(int pid, unsigned long count, void **pages, const int *nodes,
		       int *status, int flags)
{
	void *real[NP];
	int real_nodes[NP], real_status[NP];
	unsigned long i, n = 0, map[NP];
	long ret;

	if (!nodes || !base)    /* queries are never faked */
		return __real_move_pages(pid, count, pages, nodes, status, flags);
	for (i = 0; i < count; i++) {
		size_t pg = (size_t)((uint8_t *)pages[i] - base) / PAGE;
		int fake;

		CHECK(pg < NP, "a page outside the test region");
		tries[pg]++;
		fake = injected(pg);
		if (fake) {
			status[i] = fake;
			continue;
		}
		real[n] = pages[i];
		real_nodes[n] = nodes[i];
		map[n++] = i;
	}
	ret = n ? __real_move_pages(pid, n, real, real_nodes, real_status, flags) : 0;
	for (i = 0; i < n; i++)
		status[map[i]] = real_status[i];
	return ret;
}

int main(void)
{
	struct vmhint_numa_move_opts o = { .size = sizeof(o), .target_node = 1,
					   .max_retries = RETRIES };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	uint8_t outcome[NP];
	struct tmem m;
	struct vmhint_ctx *ctx;
	size_t busy = 0, nomem = 0;

	need_two_nodes();
	m = tmem_map(TMEM_ANON_4K, LEN);
	ctx = ctx_make_nolimit(VMHINT_MODE_SYNC, 0);
	CHECK_EQ(tmem_register(ctx, &m, GPA0, NULL), 0);
	pattern_fill(m.hva, LEN, 13);
	base = m.hva;
	o.outcomes = outcome;

	CHECK(vmhint_numa_move(ctx, GPA0, LEN, &o, &r) > 0, "move failed");
	print_numa_result("retry", &r);
	for (size_t pg = 0; pg < NP; pg++) {
		int node = page_node(m.hva + pg * PAGE);

		if (pg % 8 == 0) {
			busy++;
			CHECK_EQ(outcome[pg], VMHINT_NUMA_BUSY);
			CHECK_EQ(tries[pg], 1 + RETRIES);
			CHECK_EQ(node, 0);
		} else if (pg % 8 == 4) {
			CHECK_EQ(outcome[pg], VMHINT_NUMA_MOVED);
			CHECK_EQ(tries[pg], 3);
			CHECK_EQ(node, 1);
		} else if (pg % 16 == 1) {
			nomem++;
			CHECK_EQ(outcome[pg], VMHINT_NUMA_NO_MEMORY);
			CHECK_EQ(tries[pg], 1); /* permanent: never again */
			CHECK_EQ(node, 0);
		} else {
			CHECK_EQ(outcome[pg], VMHINT_NUMA_MOVED);
			CHECK_EQ(tries[pg], 1);
			CHECK_EQ(node, 1);
		}
	}
	CHECK_EQ(r.pages[VMHINT_NUMA_BUSY], busy);
	CHECK_EQ(r.pages[VMHINT_NUMA_NO_MEMORY], nomem);
	CHECK_EQ(r.pages[VMHINT_NUMA_MOVED], NP - busy - nomem);
	/* Rounds 1 and 2 retry both kinds, round 3 only the always-busy. */
	CHECK_EQ(r.retries, NP / 8 * 2 + NP / 8 * 2 + NP / 8);
	CHECK(pattern_first_bad(m.hva, LEN, 13) == -1, "contents changed");
	base = NULL;
	vmhint_ctx_free(ctx);
	printf("PASS\n");
	return 0;
}
