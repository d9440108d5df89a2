// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vm_numa_writers - two threads keep writing into the region while it
 * moves to node 1: no write may be lost. Each thread owns every other page
 * and writes an increasing counter into it, remembering the last value in
 * memory outside the region; after the move both must agree page by page.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "testutil.h"

#define LEN (8 * MiB)
#define NP (LEN / PAGE)
#define NTHREADS 2

static struct tmem m;
static uint64_t last[NP];          /* outside the region */
static atomic_bool stop;
static atomic_ulong writes;

static void *writer(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	uint64_t v = 1;

	while (!atomic_load(&stop)) {
		for (size_t pg = t; pg < NP; pg += NTHREADS) {
			/* Word 1 of each page: pattern_fill() uses words 0, 8, 16... */
			((volatile uint64_t *)(m.hva + pg * PAGE))[1] = v;
			last[pg] = v;
		}
		v++;
		atomic_fetch_add(&writes, NP / NTHREADS);
	}
	return NULL;
}

int main(void)
{
	struct vmhint_numa_move_opts o = { .size = sizeof(o), .target_node = 1,
					   .batch_pages = 256 };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	pthread_t th[NTHREADS];
	struct vmhint_ctx *ctx;
	unsigned long before;

	need_two_nodes();
	m = tmem_map(TMEM_ANON_4K, LEN);
	ctx = ctx_make_nolimit(VMHINT_MODE_SYNC, 0);
	CHECK_EQ(tmem_register(ctx, &m, GPA0, NULL), 0);
	pattern_fill(m.hva, LEN, 9);
	for (uintptr_t t = 0; t < NTHREADS; t++)
		CHECK_EQ(pthread_create(&th[t], NULL, writer, (void *)t), 0);
	while (atomic_load(&writes) < 4 * NP)
		;
	before = atomic_load(&writes);
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP);
	print_numa_result("writers", &r);
	CHECK(atomic_load(&writes) > before, "the writers made no progress during the move");
	atomic_store(&stop, true);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	printf("writes during the move: %lu\n", atomic_load(&writes) - before);

	for (size_t pg = 0; pg < NP; pg++)
		CHECK(((uint64_t *)(m.hva + pg * PAGE))[1] == last[pg],
		      "page %zu: %llu in the region, last written %llu", pg,
		      (unsigned long long)((uint64_t *)(m.hva + pg * PAGE))[1],
		      (unsigned long long)last[pg]);
	/* The pattern, minus the word the writers own. */
	for (size_t pg = 0; pg < NP; pg++)
		((uint64_t *)(m.hva + pg * PAGE))[1] = 0;
	CHECK(pattern_first_bad(m.hva, LEN, 9) == -1, "pattern changed");
	CHECK_EQ(r.pages[VMHINT_NUMA_MOVED], NP);
	expect_node(m.hva, LEN, 1, "after the move");
	vmhint_ctx_free(ctx);
	printf("PASS\n");
	return 0;
}
