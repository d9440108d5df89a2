// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vm_numa_throttle - the rate cap and the batch time budget. With a cap of
 * C bytes/s, moving B bytes takes at least B/C; with a budget of T per
 * batch, batches stay near T (the first ones adapt the batch size), while a
 * thread touching the region meanwhile measures how long its accesses
 * stall.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "testutil.h"

#define LEN (8 * MiB)
#define NP (LEN / PAGE)
#define BUDGET_US 20000

static struct tmem m;
static atomic_bool stop;
static atomic_ulong worst_ns;
static uint64_t last_progress, max_gap;

static void *toucher(void *arg)
{
	while (!atomic_load(&stop)) {
		for (size_t off = 0; off < LEN && !atomic_load(&stop); off += PAGE) {
			uint64_t t = mono_ns(), d;

			((volatile uint8_t *)m.hva)[off + 8] ^= 1;
			d = mono_ns() - t;
			if (d > atomic_load(&worst_ns))
				atomic_store(&worst_ns, d);
		}
	}
	return arg;
}

static int progress(void *opaque, uint64_t done, uint64_t total)
{
	uint64_t now = mono_ns();

	if (last_progress && now - last_progress > max_gap)
		max_gap = now - last_progress;
	last_progress = now;
	return 0;
}

int main(void)
{
	struct vmhint_numa_move_opts o = { .size = sizeof(o), .target_node = 1,
					   .max_bytes_per_sec = 8 * MiB,
					   .batch_budget_us = BUDGET_US, .batch_pages = 4096,
					   .progress = progress };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	struct vmhint_ctx *ctx;
	pthread_t th;
	uint64_t t0, wall;

	need_two_nodes();
	m = tmem_map(TMEM_ANON_4K, LEN);
	ctx = ctx_make_nolimit(VMHINT_MODE_SYNC, 0);
	CHECK_EQ(tmem_register(ctx, &m, GPA0, NULL), 0);
	pattern_fill(m.hva, LEN, 31);

	/* 1. The rate cap: 8 MiB at 8 MiB/s takes a second or more. */
	t0 = mono_ns();
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP);
	wall = mono_ns() - t0;
	print_numa_result("capped", &r);
	printf("wall %llums, slept %llums, longest gap between batches %llums\n",
	       (unsigned long long)wall / 1000000, (unsigned long long)r.throttle_ns / 1000000,
	       (unsigned long long)max_gap / 1000000);
	CHECK(wall >= 950000000ull, "8 MiB at 8 MiB/s took only %llu ms",
	      (unsigned long long)wall / 1000000);
	CHECK(r.throttle_ns > 0, "never slept");
	expect_node(m.hva, LEN, 1, "capped move");

	/* 2. The budget, uncapped: batches adapt to stay under it. */
	o.max_bytes_per_sec = 0;
	o.target_node = 0;
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP);
	print_numa_result("budget", &r);
	printf("budget %dus: longest batch %lluus, %llu of %llu batches over budget\n",
	       BUDGET_US, (unsigned long long)r.max_batch_ns / 1000,
	       (unsigned long long)r.batches_over_budget, (unsigned long long)r.batches);
	CHECK(r.batches > 1, "one batch only: the budget did not split the move");
	/* Growing the batch overshoots now and then, never by much. */
	CHECK(r.batches_over_budget * 4 <= r.batches, "%llu of %llu batches over budget",
	      (unsigned long long)r.batches_over_budget, (unsigned long long)r.batches);
	CHECK(r.max_batch_ns < 5ull * BUDGET_US * 1000, "a batch took %llu us",
	      (unsigned long long)r.max_batch_ns / 1000);
	expect_node(m.hva, LEN, 0, "budget move");
	CHECK(pattern_first_bad(m.hva, LEN, 31) == -1, "contents changed");

	/*
	 * 3. The same with a thread touching every page meanwhile. Under TCG
	 * every page's TLB shootdown stops all vCPUs, so a contended batch
	 * can take far longer than on hardware: only report the times, and
	 * check that the toucher's writes and the contents survived.
	 */
	o.target_node = 1;
	CHECK_EQ(pthread_create(&th, NULL, toucher, NULL), 0);
	while (!atomic_load(&worst_ns))
		;
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP);
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	print_numa_result("budget, contended", &r);
	printf("contended: longest batch %lluus, %llu of %llu over budget, worst access %lluus\n",
	       (unsigned long long)r.max_batch_ns / 1000,
	       (unsigned long long)r.batches_over_budget, (unsigned long long)r.batches,
	       (unsigned long long)atomic_load(&worst_ns) / 1000);
	expect_node(m.hva, LEN, 1, "contended move");
	for (size_t off = 0; off < LEN; off += PAGE)
		m.hva[off + 8] = 0;
	CHECK(pattern_first_bad(m.hva, LEN, 31) == -1, "contents changed");
	vmhint_ctx_free(ctx);
	printf("PASS\n");
	return 0;
}
