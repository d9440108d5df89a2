// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_stress.c - the invariant under load: no frame whose latest guest
 * state is STABLE, or that the guest wrote after its UNUSED hint, is ever
 * dropped.
 *
 * Writer threads play guest code: each owns some pages, keeps checksummed
 * data in them, checks the data before every rewrite, and now and then
 * gives a page back (UNUSED) and later reuses it, the way the negotiated
 * contract says (right after completion, or after a STABLE hint). Hinter
 * threads send UNUSED/STABLE storms for the other pages at full speed,
 * while another thread flushes, reads stats and adds/removes an unrelated
 * region. Every mode runs for STRESS_MS (env VMHINT_STRESS_MS).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define NR_PAGES 8192             /* 32 MiB of guest RAM */
#define WRITER_PAGES 2048         /* [0, 2048): writers; the rest: hinters */
#define NR_WRITERS 2
#define NR_HINTERS 2
#define RAM_GPA (4096 * MiB)
#define SPARE_GPA (8192 * MiB)

struct stress {
	struct vmhint_ctx *ctx;
	struct tmem m, spare;
	bool stable_before_reuse;    /* the guest promised STABLE hints */
	bool flusher;                /* lazy with promise: flush from a thread */
	uint64_t deadline_ns;
	atomic_bool stop;

	uint32_t seq[WRITER_PAGES];  /* what each writer page should hold */
	bool held[WRITER_PAGES];     /* false: given back with UNUSED */

	atomic_ulong corrupted, verified, given_back, requests, bad_status;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t data_word(uint64_t page, uint32_t seq, uint64_t i)
{
	uint64_t x = (page << 32 | seq) ^ (i * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 27);
}

static void page_write(struct stress *s, uint64_t pg)
{
	uint64_t *w = (uint64_t *)(s->m.hva + pg * PAGE);

	for (uint64_t i = 0; i < PAGE / 8; i++)
		w[i] = data_word(pg, s->seq[pg], i);
}

static bool page_ok(struct stress *s, uint64_t pg)
{
	const uint64_t *w = (const uint64_t *)(s->m.hva + pg * PAGE);

	for (uint64_t i = 0; i < PAGE / 8; i++)
		if (w[i] != data_word(pg, s->seq[pg], i))
			return false;
	return true;
}

static void send_one(struct stress *s, enum vmhint_op op, uint64_t pg, uint64_t n)
{
	struct vmhint_range r = { RAM_GPA + pg * PAGE, n * PAGE };

	if (wire_send(s->ctx, op, &r, 1, NULL) != VMHINT_WIRE_OK)
		atomic_fetch_add(&s->bad_status, 1);
	atomic_fetch_add(&s->requests, 1);
}

static void writer_step(struct stress *s, uint64_t pg, uint64_t *rng)
{
	if (!s->held[pg]) {
		/* reuse: announce it first if that is the contract */
		if (s->stable_before_reuse)
			send_one(s, VMHINT_OP_STABLE, pg, 1);
		s->seq[pg]++;
		page_write(s, pg);
		s->held[pg] = true;
		return;
	}
	if (!page_ok(s, pg)) {
		atomic_fetch_add(&s->corrupted, 1);
		fprintf(stderr, "stress: page %lu lost its data (seq %u)\n",
			(unsigned long)pg, s->seq[pg]);
	}
	atomic_fetch_add(&s->verified, 1);
	if (rng_next(rng) % 4 == 0) {
		send_one(s, VMHINT_OP_UNUSED, pg, 1);
		s->held[pg] = false;
		atomic_fetch_add(&s->given_back, 1);
		return;
	}
	s->seq[pg]++;
	page_write(s, pg);
}

struct worker {
	struct stress *s;
	int id;
};

static void *writer_thread(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	uint64_t rng = 0x1234 + (uint64_t)w->id;

	while (!atomic_load(&s->stop)) {
		uint64_t pg = (rng_next(&rng) % (WRITER_PAGES / NR_WRITERS)) * NR_WRITERS + w->id;

		writer_step(s, pg, &rng);
	}
	return NULL;
}

/* A request of 1..64 ranges of 1..8 pages in the hinters' pages. */
static void hinter_request(struct stress *s, uint64_t *rng)
{
	struct vmhint_range r[64];
	uint32_t n = 1 + rng_next(rng) % 64;
	enum vmhint_op op = rng_next(rng) % 4 ? VMHINT_OP_UNUSED : VMHINT_OP_STABLE;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t pg = WRITER_PAGES + rng_next(rng) % (NR_PAGES - WRITER_PAGES);
		uint64_t len = 1 + rng_next(rng) % 8;

		if (pg + len > NR_PAGES)
			len = NR_PAGES - pg;
		r[i] = (struct vmhint_range){ RAM_GPA + pg * PAGE, len * PAGE };
	}
	if (wire_send(s->ctx, op, r, n, NULL) != VMHINT_WIRE_OK)
		atomic_fetch_add(&s->bad_status, 1);
	atomic_fetch_add(&s->requests, 1);
}

/*
 * The spare region comes and goes under the chaos thread: a hint for it
 * lands before the removal (OK) or after it (OUTSIDE), never in freed
 * memory (ASan watches).
 */
static void spare_request(struct stress *s, uint64_t *rng)
{
	struct vmhint_range r = { SPARE_GPA + (rng_next(rng) % 512) * PAGE, PAGE };
	int status = wire_send(s->ctx, VMHINT_OP_UNUSED, &r, 1, NULL);

	if (status != VMHINT_WIRE_OK && status != VMHINT_WIRE_ERR_OUTSIDE)
		atomic_fetch_add(&s->bad_status, 1);
}

static void *hinter_thread(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	uint64_t rng = 0xabcd + (uint64_t)w->id;

	while (!atomic_load(&s->stop)) {
		hinter_request(s, &rng);
		spare_request(s, &rng);
		/* dirty hinter pages too, so drops have something to free
		 * (atomic: both hinters may pick the same byte) */
		__atomic_store_n(&s->m.hva[(WRITER_PAGES + rng_next(&rng) %
					    (NR_PAGES - WRITER_PAGES)) * PAGE], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Flushes, stats reads and an unrelated region coming and going. */
static void *chaos_thread(void *arg)
{
	struct stress *s = arg;
	struct vmhint_region *spare = NULL;
	unsigned long i = 0;

	while (now_ns() < s->deadline_ns) {
		if (s->flusher && vmhint_flush(s->ctx) < 0)
			atomic_fetch_add(&s->bad_status, 1);
		/* With STABLE hints the guest never relies on the mode: leaving
		 * lazy mode flushes, entering it defers, both stay safe. */
		if (s->flusher && i % 16 == 5 &&
		    vmhint_ctx_mode_set(s->ctx, i % 32 == 5 ? VMHINT_MODE_SYNC : VMHINT_MODE_LAZY))
			atomic_fetch_add(&s->bad_status, 1);
		stats_of(s->ctx);
		if (i++ % 8 == 0) {
			if (spare) {
				vmhint_region_remove(s->ctx, spare);
				spare = NULL;
			} else if (tmem_register(s->ctx, &s->spare, SPARE_GPA, &spare) != 0) {
				atomic_fetch_add(&s->bad_status, 1);
			}
		}
	}
	atomic_store(&s->stop, true);
	return NULL;
}

static unsigned long stress_ms(void)
{
	const char *e = getenv("VMHINT_STRESS_MS");

	return e ? strtoul(e, NULL, 10) : 1500;
}

static void run_stress(enum tmem_kind kind, enum vmhint_mode mode, uint32_t flags)
{
	struct vmhint_ctx_opts o = {
		.size = sizeof(o), .mode = mode, .flags = flags,
		.lazy_max_pending = 1 * MiB, /* auto-flushes too */
	};
	struct stress *s = calloc(1, sizeof(*s));
	struct worker w[NR_WRITERS + NR_HINTERS];
	pthread_t t[NR_WRITERS + NR_HINTERS + 1];
	int nt = 0;

	ck_assert_int_eq(vmhint_ctx_new(&o, &s->ctx), 0);
	s->m = tmem_map(kind, NR_PAGES * PAGE);
	s->spare = tmem_map(TMEM_ANON, 2 * MiB);
	s->stable_before_reuse = flags & VMHINT_CTX_GUEST_STABLE_HINTS;
	s->flusher = mode == VMHINT_MODE_LAZY && s->stable_before_reuse;
	for (uint64_t pg = 0; pg < WRITER_PAGES; pg++) {
		page_write(s, pg);
		s->held[pg] = true;
	}
	ck_assert_int_eq(tmem_register(s->ctx, &s->m, RAM_GPA, NULL), 0);
	s->deadline_ns = now_ns() + stress_ms() * 1000000ull;

	for (int i = 0; i < NR_WRITERS + NR_HINTERS; i++) {
		w[i] = (struct worker){ s, i < NR_WRITERS ? i : i - NR_WRITERS };
		ck_assert_int_eq(pthread_create(&t[nt++], NULL,
						i < NR_WRITERS ? writer_thread : hinter_thread,
						&w[i]), 0);
	}
	ck_assert_int_eq(pthread_create(&t[nt++], NULL, chaos_thread, s), 0);
	for (int i = 0; i < nt; i++)
		pthread_join(t[i], NULL);

	/* flush what is left, then check every page a writer holds */
	ck_assert_int_ge(vmhint_flush(s->ctx), 0);
	for (uint64_t pg = 0; pg < WRITER_PAGES; pg++)
		if (s->held[pg] && !page_ok(s, pg))
			atomic_fetch_add(&s->corrupted, 1);

	printf("stress %s/%s%s: %lu requests, %lu pages verified, %lu given back, %lu corrupted\n",
	       kind == TMEM_ANON ? "anon" : kind == TMEM_MEMFD ? "memfd" : "hugetlbfs",
	       mode == VMHINT_MODE_LAZY ? "lazy" : "sync",
	       s->stable_before_reuse ? "+stable-hints" : "", atomic_load(&s->requests),
	       atomic_load(&s->verified), atomic_load(&s->given_back),
	       atomic_load(&s->corrupted));
	ck_assert_uint_eq(atomic_load(&s->corrupted), 0);
	ck_assert_uint_eq(atomic_load(&s->bad_status), 0);
	ck_assert_uint_gt(atomic_load(&s->verified), 1000);
	ck_assert_uint_gt(atomic_load(&s->given_back), 100);
	ck_assert_uint_gt(stats_of(s->ctx).bytes_dropped_total, 0);
	vmhint_ctx_free(s->ctx);
	tmem_unmap(&s->m);
	tmem_unmap(&s->spare);
	free(s);
}

#ifndef STRESS_HUGETLB
START_TEST(sync_anon)
{
	run_stress(TMEM_ANON, VMHINT_MODE_SYNC, 0);
}
END_TEST

START_TEST(sync_memfd)
{
	run_stress(TMEM_MEMFD, VMHINT_MODE_SYNC, 0);
}
END_TEST

START_TEST(sync_anon_stable_hints)
{
	run_stress(TMEM_ANON, VMHINT_MODE_SYNC, VMHINT_CTX_GUEST_STABLE_HINTS);
}
END_TEST

START_TEST(lazy_anon_madv_free)
{
	run_stress(TMEM_ANON, VMHINT_MODE_LAZY, 0);
}
END_TEST

START_TEST(lazy_anon_stable_hints)
{
	run_stress(TMEM_ANON, VMHINT_MODE_LAZY, VMHINT_CTX_GUEST_STABLE_HINTS);
}
END_TEST

START_TEST(lazy_memfd_stable_hints)
{
	run_stress(TMEM_MEMFD, VMHINT_MODE_LAZY, VMHINT_CTX_GUEST_STABLE_HINTS);
}
END_TEST

static Suite *stress_suite(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("invariant");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, sync_anon);
	tcase_add_test(tc, sync_memfd);
	tcase_add_test(tc, sync_anon_stable_hints);
	tcase_add_test(tc, lazy_anon_madv_free);
	tcase_add_test(tc, lazy_anon_stable_hints);
	tcase_add_test(tc, lazy_memfd_stable_hints);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(stress_suite());
}
#else
/*
 * Built a second time as test_stress_hugetlb: the same load on a shared
 * hugetlbfs backing (16 huge pages), where 4 KiB hints aggregate.
 */
START_TEST(sync_hugetlb)
{
	run_stress(TMEM_HUGE_MEMFD, VMHINT_MODE_SYNC, 0);
}
END_TEST

START_TEST(sync_hugetlb_stable_hints)
{
	run_stress(TMEM_HUGE_MEMFD, VMHINT_MODE_SYNC, VMHINT_CTX_GUEST_STABLE_HINTS);
}
END_TEST

START_TEST(lazy_hugetlb_stable_hints)
{
	run_stress(TMEM_HUGE_MEMFD, VMHINT_MODE_LAZY, VMHINT_CTX_GUEST_STABLE_HINTS);
}
END_TEST

static Suite *stress_suite(void)
{
	Suite *s = suite_create("stress-hugetlb");
	TCase *tc = tcase_create("invariant");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, sync_hugetlb);
	tcase_add_test(tc, sync_hugetlb_stable_hints);
	tcase_add_test(tc, lazy_hugetlb_stable_hints);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	char why[256];
	int ret;

	if (!huge_pool_reserve(NR_PAGES * PAGE / HUGE_2M + 4, why, sizeof(why))) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	ret = run_suite(stress_suite());
	huge_pool_restore();
	return ret;
}
#endif
