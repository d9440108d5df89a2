// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_hugetlb.c - hugetlbfs backings. A 2 MiB page goes back to the pool
 * only once all its 512 4 KiB parts are unused:
 *  - with VMHINT_CTX_GUEST_STABLE_HINTS, parts add up across requests;
 *  - without it, only within one request: a part the guest wrote after its
 *    request completed must never be dropped by a later request.
 * The pool (free_hugepages) is the witness. main() raises nr_hugepages for
 * the run and restores it; no huge pages at all is the only skip (77).
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define POOL_PAGES 8
#define RAM_GPA (1024 * MiB)
#define PARTS (HUGE_2M / PAGE)
#define SEED 0x4ace

struct huge_guest {
	struct vmhint_ctx *ctx;
	struct tmem m;
};

/* Two huge pages of guest RAM, both faulted in with a pattern. */
static void huge_boot(struct huge_guest *g, enum tmem_kind kind, enum vmhint_mode mode,
		      uint32_t flags)
{
	g->ctx = ctx_make(mode, flags, VMHINT_WIRE_MAX_RANGES_LIMIT);
	g->m = tmem_map(kind, 2 * HUGE_2M);
	pattern_fill(g->m.hva, g->m.len, SEED);
	ck_assert_int_eq(tmem_register(g->ctx, &g->m, RAM_GPA, NULL), 0);
}

static void huge_halt(struct huge_guest *g)
{
	vmhint_ctx_free(g->ctx);
	tmem_unmap(&g->m);
}

/* Hint parts [first, first + n) of huge page 0, one 4 KiB range each, in a
 * shuffled order, as one wire request. */
static void hint_parts(struct huge_guest *g, const uint64_t *parts, size_t n)
{
	struct vmhint_range *r = calloc(n, sizeof(*r));
	struct vmhint_wire_resp resp;

	for (size_t i = 0; i < n; i++)
		r[i] = (struct vmhint_range){ RAM_GPA + parts[i] * PAGE, PAGE };
	ck_assert_int_eq(wire_send(g->ctx, VMHINT_OP_UNUSED, r, (uint32_t)n, &resp), VMHINT_WIRE_OK);
	ck_assert_uint_eq(le32toh(resp.nr_done), n);
	free(r);
}

/* KiB of huge pages this mapping holds: a witness no other process moves. */
static uint64_t mapped_huge_kb(const struct huge_guest *g)
{
	return smaps_kb(g->m.hva, "Shared_Hugetlb:") + smaps_kb(g->m.hva, "Private_Hugetlb:");
}

static uint64_t *shuffled_parts(uint64_t seed)
{
	uint64_t *v = malloc(PARTS * sizeof(*v));

	for (uint64_t i = 0; i < PARTS; i++)
		v[i] = i;
	shuffle_u64(v, PARTS, &seed);
	return v;
}

static void check_detect(enum tmem_kind kind, enum vmhint_backing want)
{
	struct vmhint_region_info info = { .size = sizeof(info) };
	struct vmhint_wire_config cfg;
	struct huge_guest g;

	huge_boot(&g, kind, VMHINT_MODE_SYNC, 0);
	ck_assert_int_eq(vmhint_region_info_get(g.ctx, 0, &info), 0);
	ck_assert_msg(info.backing == want, "detected %s", vmhint_backing_name(info.backing));
	ck_assert_uint_eq(info.page_size, HUGE_2M);
	ck_assert_int_eq(vmhint_wire_config_get(g.ctx, &cfg), 0);
	ck_assert_uint_eq(le32toh(cfg.page_size), HUGE_2M);
	huge_halt(&g);
}

START_TEST(detect_shared)
{
	check_detect(TMEM_HUGE_MEMFD, VMHINT_BACKING_HUGETLB_SHARED);
}
END_TEST

START_TEST(detect_private)
{
	check_detect(TMEM_HUGE_PRIVATE, VMHINT_BACKING_HUGETLB_PRIVATE);
}
END_TEST

/* Four requests of 128 shuffled parts each: the 4th completes the page. */
static void accumulate_case(enum tmem_kind kind, int method)
{
	struct vmhint_region_info info = { .size = sizeof(info) };
	struct huge_guest g;
	uint64_t *parts = shuffled_parts(7), free0;
	struct vmhint_stats st;

	huge_boot(&g, kind, VMHINT_MODE_SYNC, VMHINT_CTX_GUEST_STABLE_HINTS);
	free0 = huge_pool_free();
	for (int req = 0; req < 3; req++) {
		hint_parts(&g, parts + req * 128, 128);
		ck_assert_uint_eq(huge_pool_free(), free0);
		ck_assert_uint_eq(mapped_huge_kb(&g), 4096);
		st = stats_of(g.ctx);
		ck_assert_uint_eq(st.huge_pages_partial, 1);
		ck_assert_uint_eq(st.huge_pages_completed, 0);
		ck_assert_uint_eq(st.bytes_dropped_total, 0);
	}
	ck_assert_int_eq(vmhint_region_info_get(g.ctx, 0, &info), 0);
	ck_assert_uint_eq(info.partial_huge_pages, 1);
	/* not dropped yet: every part still holds its data */
	ck_assert_int_eq(pattern_first_bad(g.m.hva, g.m.len, SEED), -1);

	hint_parts(&g, parts + 3 * 128, 128);
	ck_assert_uint_eq(huge_pool_free(), free0 + 1);
	ck_assert_uint_eq(mapped_huge_kb(&g), 2048);
	if (g.m.fd >= 0)
		ck_assert_uint_eq(fd_bytes_allocated(g.m.fd), HUGE_2M);
	st = stats_of(g.ctx);
	ck_assert_uint_eq(st.huge_pages_completed, 1);
	ck_assert_uint_eq(st.huge_pages_partial, 0);
	ck_assert_uint_eq(st.bytes_dropped[method], HUGE_2M);
	ck_assert_uint_eq(st.bytes_dropped_total, HUGE_2M);
	ck_assert_int_eq(vmhint_page_state(g.ctx, RAM_GPA + 77 * PAGE), VMHINT_PAGE_UNUSED);
	ck_assert(range_is_zero(g.m.hva, HUGE_2M));
	ck_assert_int_eq(pattern_bad_in(g.m.hva, HUGE_2M, HUGE_2M, SEED), -1);
	free(parts);
	huge_halt(&g);
}

START_TEST(shared_parts_add_up_across_requests)
{
	accumulate_case(TMEM_HUGE_MEMFD, VMHINT_METHOD_PUNCH_HOLE);
}
END_TEST

START_TEST(private_parts_add_up_across_requests)
{
	accumulate_case(TMEM_HUGE_PRIVATE, VMHINT_METHOD_MADV_DONTNEED);
}
END_TEST

/*
 * Free page reporting without STABLE hints: the guest reuses the first
 * half after its request completed; the second half arrives later. The
 * huge page holds fresh guest data and must stay.
 */
static void no_promise_case(enum tmem_kind kind)
{
	struct huge_guest g;
	uint64_t *parts = malloc(PARTS * sizeof(*parts)), free0;
	struct vmhint_stats st;

	for (uint64_t i = 0; i < PARTS; i++)
		parts[i] = i;
	huge_boot(&g, kind, VMHINT_MODE_SYNC, 0);
	free0 = huge_pool_free();
	hint_parts(&g, parts, PARTS / 2);
	pattern_fill(g.m.hva, HUGE_2M / 2, 55); /* reuse after completion */
	hint_parts(&g, parts + PARTS / 2, PARTS / 2);
	ck_assert_uint_eq(huge_pool_free(), free0);
	ck_assert_uint_eq(mapped_huge_kb(&g), 4096);
	ck_assert_int_eq(pattern_first_bad(g.m.hva, HUGE_2M / 2, 55), -1);
	ck_assert_int_eq(pattern_bad_in(g.m.hva, HUGE_2M / 2, 3 * HUGE_2M / 2, SEED), -1);
	st = stats_of(g.ctx);
	ck_assert_uint_eq(st.huge_pages_completed, 0);
	ck_assert_uint_eq(st.huge_pages_partial, 0);
	ck_assert_uint_eq(st.bytes_dropped_total, 0);
	ck_assert_int_eq(vmhint_page_state(g.ctx, RAM_GPA), VMHINT_PAGE_STABLE);

	/* all 512 parts in one request: that one is dropped */
	shuffle_u64(parts, PARTS, &(uint64_t){ 3 });
	hint_parts(&g, parts, PARTS);
	ck_assert_uint_eq(huge_pool_free(), free0 + 1);
	ck_assert_uint_eq(mapped_huge_kb(&g), 2048);
	ck_assert_uint_eq(stats_of(g.ctx).huge_pages_completed, 1);
	ck_assert(range_is_zero(g.m.hva, HUGE_2M));
	ck_assert_int_eq(pattern_bad_in(g.m.hva, HUGE_2M, HUGE_2M, SEED), -1);
	free(parts);
	huge_halt(&g);
}

START_TEST(shared_no_promise_partial_never_dropped)
{
	no_promise_case(TMEM_HUGE_MEMFD);
}
END_TEST

START_TEST(private_no_promise_partial_never_dropped)
{
	no_promise_case(TMEM_HUGE_PRIVATE);
}
END_TEST

/* A 2 MiB range straddling two huge pages completes neither. */
START_TEST(straddling_range_drops_nothing)
{
	struct huge_guest g;
	uint64_t free0;

	huge_boot(&g, TMEM_HUGE_MEMFD, VMHINT_MODE_SYNC, VMHINT_CTX_GUEST_STABLE_HINTS);
	free0 = huge_pool_free();
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA + MiB, HUGE_2M), 0);
	ck_assert_uint_eq(huge_pool_free(), free0);
	ck_assert_uint_eq(stats_of(g.ctx).huge_pages_partial, 2);
	ck_assert_int_eq(pattern_first_bad(g.m.hva, g.m.len, SEED), -1);
	/* the rest of the second page completes it, and only it */
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA + 3 * MiB, MiB), 0);
	ck_assert_uint_eq(huge_pool_free(), free0 + 1);
	ck_assert_uint_eq(fd_bytes_allocated(g.m.fd), HUGE_2M);
	ck_assert_int_eq(pattern_first_bad(g.m.hva, HUGE_2M, SEED), -1);
	ck_assert(range_is_zero(g.m.hva + HUGE_2M, HUGE_2M));
	huge_halt(&g);
}
END_TEST

/* A STABLE hint in between takes a part back: no completion until re-hinted. */
START_TEST(stable_part_blocks_completion)
{
	struct huge_guest g;
	uint64_t free0;

	huge_boot(&g, TMEM_HUGE_MEMFD, VMHINT_MODE_SYNC, VMHINT_CTX_GUEST_STABLE_HINTS);
	free0 = huge_pool_free();
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA, HUGE_2M - PAGE), 0);
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_STABLE, RAM_GPA + 100 * PAGE, PAGE), 0);
	pattern_fill(g.m.hva + 100 * PAGE, PAGE, 66);
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA + HUGE_2M - PAGE, PAGE), 0);
	ck_assert_uint_eq(huge_pool_free(), free0);
	ck_assert_int_eq(pattern_first_bad(g.m.hva + 100 * PAGE, PAGE, 66), -1);
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA + 100 * PAGE, PAGE), 0);
	ck_assert_uint_eq(huge_pool_free(), free0 + 1);
	huge_halt(&g);
}
END_TEST

/* Whole, aligned huge pages need no accumulation, in either mode. */
START_TEST(whole_pages_drop_at_once)
{
	struct huge_guest g;
	uint64_t free0;

	huge_boot(&g, TMEM_HUGE_MEMFD, VMHINT_MODE_SYNC, 0);
	free0 = huge_pool_free();
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA, 2 * HUGE_2M), 0);
	ck_assert_uint_eq(huge_pool_free(), free0 + 2);
	ck_assert_uint_eq(fd_bytes_allocated(g.m.fd), 0);
	ck_assert_uint_eq(stats_of(g.ctx).huge_pages_completed, 2);
	ck_assert(range_is_zero(g.m.hva, g.m.len));
	huge_halt(&g);
}
END_TEST

/* Lazy with STABLE hints: a completed huge page waits for the flush. */
START_TEST(lazy_completed_page_waits_for_flush)
{
	struct huge_guest g;
	uint64_t free0;

	huge_boot(&g, TMEM_HUGE_MEMFD, VMHINT_MODE_LAZY, VMHINT_CTX_GUEST_STABLE_HINTS);
	free0 = huge_pool_free();
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA, HUGE_2M / 2), 0);
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA + HUGE_2M / 2,
				     HUGE_2M / 2), 0);
	ck_assert_uint_eq(huge_pool_free(), free0);
	ck_assert_uint_eq(stats_of(g.ctx).pending_bytes, HUGE_2M);
	ck_assert_int_eq(vmhint_page_state(g.ctx, RAM_GPA), VMHINT_PAGE_PENDING);
	ck_assert_int_eq(vmhint_flush(g.ctx), (int64_t)HUGE_2M);
	ck_assert_uint_eq(huge_pool_free(), free0 + 1);
	ck_assert_uint_eq(stats_of(g.ctx).pending_bytes, 0);
	ck_assert_int_eq(pattern_bad_in(g.m.hva, HUGE_2M, HUGE_2M, SEED), -1);
	huge_halt(&g);
}
END_TEST

/*
 * Partial huge pages remembered under STABLE hints must be forgotten when
 * the guest driver loses that feature: the next guest reuses the parts
 * without a word, and the one part it hints later must not complete the
 * page.
 */
START_TEST(clearing_stable_hints_forgets_partials)
{
	struct huge_guest g;
	uint64_t free0;

	huge_boot(&g, TMEM_HUGE_MEMFD, VMHINT_MODE_SYNC, VMHINT_CTX_GUEST_STABLE_HINTS);
	free0 = huge_pool_free();
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA, HUGE_2M - PAGE), 0);
	ck_assert_uint_eq(stats_of(g.ctx).huge_pages_partial, 1);
	ck_assert_int_eq(vmhint_ctx_flags_set(g.ctx, 0), 0);
	ck_assert_uint_eq(stats_of(g.ctx).huge_pages_partial, 0);
	pattern_fill(g.m.hva, HUGE_2M - PAGE, 44);
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA + HUGE_2M - PAGE, PAGE), 0);
	ck_assert_uint_eq(huge_pool_free(), free0);
	ck_assert_uint_eq(mapped_huge_kb(&g), 4096);
	ck_assert_int_eq(pattern_first_bad(g.m.hva, HUGE_2M - PAGE, 44), -1);
	huge_halt(&g);
}
END_TEST

/* Lazy without STABLE hints cannot defer a shared huge page: sync drop. */
START_TEST(lazy_without_promise_drops_now)
{
	struct huge_guest g;
	uint64_t free0;

	huge_boot(&g, TMEM_HUGE_MEMFD, VMHINT_MODE_LAZY, 0);
	free0 = huge_pool_free();
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA + HUGE_2M, HUGE_2M), 0);
	ck_assert_uint_eq(huge_pool_free(), free0 + 1);
	ck_assert_uint_gt(stats_of(g.ctx).lazy_fallbacks, 0);
	ck_assert_uint_eq(stats_of(g.ctx).pending_bytes, 0);
	ck_assert_int_eq(pattern_first_bad(g.m.hva, HUGE_2M, SEED), -1);
	huge_halt(&g);
}
END_TEST

/*
 * A completed huge page waits PENDING; the guest takes one part back. The
 * page is no longer all unused: the flush must leave it alone, the part
 * keeps what the guest wrote, and the kernel is asked nothing odd.
 *
 * Regression: before 5c1b187 the STABLE hint cleared the pending bit of
 * the one part only and the flush handed 511 parts to the discard engine
 * as sub-huge-page runs (shared: a 2 MiB - 4 KiB punch that freed nothing
 * but counted as dropped; private: MADV_DONTNEED failed with -EINVAL).
 */
static void pending_cancel_case(enum tmem_kind kind)
{
	struct huge_guest g;
	struct vmhint_stats st;
	uint64_t free0;

	huge_boot(&g, kind, VMHINT_MODE_LAZY, VMHINT_CTX_GUEST_STABLE_HINTS);
	free0 = huge_pool_free();
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA, HUGE_2M / 2), 0);
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA + HUGE_2M / 2,
				     HUGE_2M / 2), 0);
	ck_assert_int_eq(vmhint_page_state(g.ctx, RAM_GPA + 100 * PAGE), VMHINT_PAGE_PENDING);
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_STABLE, RAM_GPA + 100 * PAGE, PAGE), 0);
	pattern_fill(g.m.hva + 100 * PAGE, PAGE, 88);
	ck_assert_int_ge(vmhint_flush(g.ctx), 0);
	ck_assert_uint_eq(huge_pool_free(), free0);
	ck_assert_uint_eq(mapped_huge_kb(&g), 4096);
	ck_assert_int_eq(pattern_first_bad(g.m.hva + 100 * PAGE, PAGE, 88), -1);
	st = stats_of(g.ctx);
	ck_assert_uint_eq(st.syscall_errors, 0);
	ck_assert_uint_eq(st.bytes_dropped_total, 0);
	ck_assert_uint_eq(st.pending_bytes, 0);
	ck_assert_uint_eq(st.huge_pages_partial, 1);
	/* re-hinting the part completes the page again */
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA + 100 * PAGE, PAGE), 0);
	ck_assert_int_ge(vmhint_flush(g.ctx), 0);
	ck_assert_uint_eq(huge_pool_free(), free0 + 1);
	huge_halt(&g);
}

START_TEST(shared_pending_huge_page_cancelled)
{
	pending_cancel_case(TMEM_HUGE_MEMFD);
}
END_TEST

START_TEST(private_pending_huge_page_cancelled)
{
	pending_cancel_case(TMEM_HUGE_PRIVATE);
}
END_TEST

/* Huge page regions must be whole, aligned huge pages. */
START_TEST(misaligned_huge_region_rejected)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_HUGE_MEMFD, 2 * HUGE_2M);
	struct vmhint_region_opts o = {
		.size = sizeof(o), .gpa = 0, .hva = m.hva, .len = HUGE_2M + PAGE, .fd = m.fd,
	};

	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	o.hva = m.hva + PAGE;
	o.len = HUGE_2M;
	o.fd_offset = PAGE;
	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	o.hva = m.hva;
	o.fd_offset = 0;
	o.gpa = PAGE; /* a huge page would straddle two guest huge frames */
	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	ck_assert_int_eq(vmhint_region_count(ctx), 0);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/*
 * 512 ranges are not 512 parts: a request naming one part twice (and one
 * overlapping pair) covers 511 distinct parts and must not complete the
 * huge page, with or without STABLE hints.
 */
static void duplicates_case(uint32_t flags)
{
	struct huge_guest g;
	uint64_t *parts = shuffled_parts(11), free0;

	huge_boot(&g, TMEM_HUGE_MEMFD, VMHINT_MODE_SYNC, flags);
	free0 = huge_pool_free();
	parts[0] = parts[1]; /* part parts[0] is missing, parts[1] named twice */
	hint_parts(&g, parts, PARTS);
	ck_assert_uint_eq(huge_pool_free(), free0);
	ck_assert_uint_eq(mapped_huge_kb(&g), 4096);
	ck_assert_uint_eq(stats_of(g.ctx).huge_pages_completed, 0);

	/* overlapping ranges covering parts 0..510 only */
	ck_assert_int_ge(vmhint_hint_ranges(g.ctx, VMHINT_OP_UNUSED, (struct vmhint_range[]){
		{ RAM_GPA + HUGE_2M, HUGE_2M / 2 },
		{ RAM_GPA + HUGE_2M + PAGE, HUGE_2M / 2 },
		{ RAM_GPA + HUGE_2M + HUGE_2M / 2 - PAGE, HUGE_2M / 2 - PAGE },
	}, 3), 0);
	ck_assert_uint_eq(huge_pool_free(), free0);
	ck_assert_uint_eq(mapped_huge_kb(&g), 4096);
	free(parts);
	huge_halt(&g);
}

START_TEST(duplicate_parts_do_not_complete)
{
	duplicates_case(0);
}
END_TEST

START_TEST(duplicate_parts_do_not_complete_stable_hints)
{
	duplicates_case(VMHINT_CTX_GUEST_STABLE_HINTS);
}
END_TEST

/*
 * POPULATE_ON_STABLE on hugetlbfs: the guest takes back one 4 KiB part of
 * a dropped huge page; prefaulting must bring in the (whole) huge page,
 * so the vCPU does not take the fault.
 */
START_TEST(populate_on_stable_huge)
{
	struct huge_guest g;

	huge_boot(&g, TMEM_HUGE_MEMFD, VMHINT_MODE_SYNC,
		  VMHINT_CTX_GUEST_STABLE_HINTS | VMHINT_CTX_POPULATE_ON_STABLE);
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA, HUGE_2M), 0);
	ck_assert_uint_eq(mapped_huge_kb(&g), 2048);
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_STABLE, RAM_GPA + 5 * PAGE, PAGE), 0);
	ck_assert_uint_eq(mapped_huge_kb(&g), 4096);
	ck_assert_uint_gt(stats_of(g.ctx).populated_bytes, 0);
	ck_assert(range_is_zero(g.m.hva, HUGE_2M));
	huge_halt(&g);
}
END_TEST

START_TEST(inhibit_keeps_huge_pages)
{
	struct huge_guest g;
	uint64_t free0;

	huge_boot(&g, TMEM_HUGE_MEMFD, VMHINT_MODE_SYNC, VMHINT_CTX_GUEST_STABLE_HINTS);
	free0 = huge_pool_free();
	ck_assert_int_eq(vmhint_discard_inhibit(g.ctx, true), 1);
	ck_assert_int_ge(vmhint_hint(g.ctx, VMHINT_OP_UNUSED, RAM_GPA, 2 * HUGE_2M), 0);
	ck_assert_uint_eq(huge_pool_free(), free0);
	ck_assert_uint_eq(stats_of(g.ctx).inhibited_pages, 2 * PARTS);
	ck_assert_int_eq(pattern_first_bad(g.m.hva, g.m.len, SEED), -1);
	huge_halt(&g);
}
END_TEST

static Suite *hugetlb_suite(void)
{
	Suite *s = suite_create("hugetlb");
	TCase *tc = tcase_create("detect");

	tcase_add_test(tc, detect_shared);
	tcase_add_test(tc, detect_private);
	tcase_add_test(tc, misaligned_huge_region_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("aggregate");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, shared_parts_add_up_across_requests);
	tcase_add_test(tc, private_parts_add_up_across_requests);
	tcase_add_test(tc, shared_no_promise_partial_never_dropped);
	tcase_add_test(tc, private_no_promise_partial_never_dropped);
	tcase_add_test(tc, straddling_range_drops_nothing);
	tcase_add_test(tc, stable_part_blocks_completion);
	tcase_add_test(tc, whole_pages_drop_at_once);
	tcase_add_test(tc, lazy_completed_page_waits_for_flush);
	tcase_add_test(tc, inhibit_keeps_huge_pages);
	tcase_add_test(tc, clearing_stable_hints_forgets_partials);
	tcase_add_test(tc, lazy_without_promise_drops_now);
	tcase_add_test(tc, duplicate_parts_do_not_complete);
	tcase_add_test(tc, populate_on_stable_huge);
	tcase_add_test(tc, duplicate_parts_do_not_complete_stable_hints);
	tcase_add_test(tc, shared_pending_huge_page_cancelled);
	tcase_add_test(tc, private_pending_huge_page_cancelled);
	suite_add_tcase(s, tc);
	return s;
}

/* The harness may kill us on a timeout: give the pool back first. */
static void restore_and_die(int sig)
{
	huge_pool_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(void)
{
	char why[256];
	int ret;

	if (!huge_pool_reserve(POOL_PAGES, why, sizeof(why))) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	signal(SIGTERM, restore_and_die);
	signal(SIGINT, restore_and_die);
	ret = run_suite(hugetlb_suite());
	huge_pool_restore();
	return ret;
}
