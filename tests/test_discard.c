// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_discard.c - UNUSED hints drop frames the right way for each small
 * page backing, and nothing else: RSS, mincore, st_blocks and holes show
 * the drop, page contents show that STABLE neighbours survived. Also lazy
 * mode, flushes, inhibit, populate-on-stable.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

#define RAM_GPA (256 * MiB)
#define SEED 0x5eed

/* Scattered pages of a 4 MiB region, some of them next to each other. */
static const uint64_t scattered[] = { 3, 10, 11, 12, 100, 511, 512, 1023 };
#define NR_SCATTERED (sizeof(scattered) / sizeof(scattered[0]))

static bool is_scattered(uint64_t pg)
{
	for (size_t i = 0; i < NR_SCATTERED; i++)
		if (scattered[i] == pg)
			return true;
	return false;
}

static void scattered_ranges(struct vmhint_range *r)
{
	for (size_t i = 0; i < NR_SCATTERED; i++)
		r[i] = (struct vmhint_range){ RAM_GPA + scattered[i] * PAGE, PAGE };
}

/* Every page not hinted still holds its pattern. */
static void assert_neighbours_intact(const struct tmem *m)
{
	for (uint64_t pg = 0; pg < m->len / PAGE; pg++)
		if (!is_scattered(pg))
			ck_assert_msg(pattern_bad_in(m->hva, pg * PAGE, PAGE, SEED) == -1,
				      "STABLE page %lu lost its content", (unsigned long)pg);
}

static void assert_scattered_dropped(const struct tmem *m)
{
	for (size_t i = 0; i < NR_SCATTERED; i++)
		ck_assert_msg(!page_resident(m->hva + scattered[i] * PAGE),
			      "hinted page %lu still resident", (unsigned long)scattered[i]);
	ck_assert_uint_eq(resident_pages(m->hva, m->len), m->len / PAGE - NR_SCATTERED);
}

static void assert_scattered_zero(const struct tmem *m)
{
	for (size_t i = 0; i < NR_SCATTERED; i++)
		ck_assert_msg(page_is_zero(m->hva + scattered[i] * PAGE),
			      "hinted page %lu does not read as zeroes", (unsigned long)scattered[i]);
}

static struct tmem ram_map(enum tmem_kind kind, struct vmhint_ctx *ctx)
{
	struct tmem m = tmem_map(kind, 4 * MiB);

	pattern_fill(m.hva, m.len, SEED);
	ck_assert_int_eq(tmem_register(ctx, &m, RAM_GPA, NULL), 0);
	return m;
}

START_TEST(anon_sync_drop)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = ram_map(TMEM_ANON, ctx);
	struct vmhint_range r[NR_SCATTERED];
	uint64_t rss = smaps_kb(m.hva, "Rss:");
	struct vmhint_stats st;

	ck_assert_uint_eq(rss, 4096);
	scattered_ranges(r);
	ck_assert_int_ge(vmhint_hint_ranges(ctx, VMHINT_OP_UNUSED, r, NR_SCATTERED), 0);
	assert_scattered_dropped(&m);
	ck_assert_uint_eq(smaps_kb(m.hva, "Rss:"), rss - NR_SCATTERED * 4);
	assert_scattered_zero(&m);
	assert_neighbours_intact(&m);
	/* sync, no STABLE promise: the guest may reuse at once, so STABLE */
	for (size_t i = 0; i < NR_SCATTERED; i++)
		ck_assert_int_eq(vmhint_page_state(ctx, r[i].gpa), VMHINT_PAGE_STABLE);
	st = stats_of(ctx);
	ck_assert_uint_eq(st.pages_unused, NR_SCATTERED);
	ck_assert_uint_eq(st.requests_unused, 1);
	ck_assert_uint_eq(st.bytes_dropped_total, NR_SCATTERED * PAGE);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/* The guest promised STABLE before reuse: the state stays UNUSED. */
START_TEST(anon_stable_hints_state)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, VMHINT_CTX_GUEST_STABLE_HINTS, 0);
	struct tmem m = ram_map(TMEM_ANON, ctx);
	struct vmhint_region_info info = { .size = sizeof(info) };
	struct vmhint_range r[NR_SCATTERED];

	scattered_ranges(r);
	ck_assert_int_eq(vmhint_hint_ranges(ctx, VMHINT_OP_UNUSED, r, NR_SCATTERED),
			 (int64_t)(NR_SCATTERED * PAGE));
	assert_scattered_dropped(&m);
	for (size_t i = 0; i < NR_SCATTERED; i++)
		ck_assert_int_eq(vmhint_page_state(ctx, r[i].gpa), VMHINT_PAGE_UNUSED);
	ck_assert_int_eq(vmhint_page_state(ctx, RAM_GPA + 4 * PAGE), VMHINT_PAGE_STABLE);
	ck_assert_int_eq(vmhint_region_info_get(ctx, 0, &info), 0);
	ck_assert_uint_eq(info.unused_bytes, NR_SCATTERED * PAGE);

	/*
	 * Hinting UNUSED again changes no state, so it returns 0 (vmhint/hint.h:
	 * "the number of bytes whose state changed") and drops nothing again.
	 * (Failed before 357a897, which returned the bytes hinted.)
	 */
	ck_assert_int_eq(vmhint_hint_ranges(ctx, VMHINT_OP_UNUSED, r, NR_SCATTERED), 0);
	ck_assert_uint_eq(stats_of(ctx).bytes_dropped_total, NR_SCATTERED * PAGE);
	ck_assert_int_eq(vmhint_hint_ranges(ctx, VMHINT_OP_STABLE, r, NR_SCATTERED),
			 (int64_t)(NR_SCATTERED * PAGE));
	for (size_t i = 0; i < NR_SCATTERED; i++) {
		ck_assert_int_eq(vmhint_page_state(ctx, r[i].gpa), VMHINT_PAGE_STABLE);
		pattern_fill_page(m.hva, scattered[i], SEED);
	}
	ck_assert_int_eq(vmhint_region_info_get(ctx, 0, &info), 0);
	ck_assert_uint_eq(info.unused_bytes, 0);
	ck_assert_int_eq(pattern_first_bad(m.hva, m.len, SEED), -1);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/* 64 scattered runs, one process_madvise(2) call; or 64 madvise calls. */
static void batch_case(uint32_t flags, int want_method, uint64_t want_syscalls)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, flags, 0);
	struct tmem m = ram_map(TMEM_ANON, ctx);
	struct vmhint_range r[64];
	struct vmhint_stats st;

	for (int i = 0; i < 64; i++)
		r[i] = (struct vmhint_range){ RAM_GPA + (uint64_t)(63 - i) * 4 * PAGE, PAGE };
	ck_assert_int_ge(vmhint_hint_ranges(ctx, VMHINT_OP_UNUSED, r, 64), 0);
	ck_assert_uint_eq(resident_pages(m.hva, m.len), m.len / PAGE - 64);
	for (uint64_t pg = 0; pg < m.len / PAGE; pg++) {
		if (pg % 4 == 0 && pg < 256)
			ck_assert(page_is_zero(m.hva + pg * PAGE));
		else
			ck_assert_int_eq(pattern_bad_in(m.hva, pg * PAGE, PAGE, SEED), -1);
	}
	st = stats_of(ctx);
	ck_assert_uint_eq(st.syscalls, want_syscalls);
	ck_assert_uint_eq(st.bytes_dropped[want_method], 64 * PAGE);
	ck_assert_uint_eq(st.bytes_dropped_total, 64 * PAGE);
	ck_assert_uint_eq(st.syscall_errors, 0);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}

START_TEST(anon_scattered_batched)
{
	batch_case(0, VMHINT_METHOD_PROCESS_MADVISE, 1);
}
END_TEST

START_TEST(anon_scattered_no_process_madvise)
{
	batch_case(VMHINT_CTX_NO_PROCESS_MADVISE, VMHINT_METHOD_MADV_DONTNEED, 64);
}
END_TEST

/* 1024 scattered runs fit one process_madvise(2) call (IOV_MAX). */
START_TEST(anon_1024_runs_one_call)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, VMHINT_WIRE_MAX_RANGES_LIMIT);
	struct tmem m = tmem_map(TMEM_ANON, 8 * MiB);
	struct vmhint_range *r = calloc(1024, sizeof(*r));
	struct vmhint_wire_resp resp;
	struct vmhint_stats st;

	pattern_fill(m.hva, m.len, SEED);
	ck_assert_int_eq(tmem_register(ctx, &m, RAM_GPA, NULL), 0);
	for (int i = 0; i < 1024; i++)
		r[i] = (struct vmhint_range){ RAM_GPA + (uint64_t)i * 2 * PAGE, PAGE };
	ck_assert_int_eq(wire_send(ctx, VMHINT_OP_UNUSED, r, 1024, &resp), VMHINT_WIRE_OK);
	ck_assert_uint_eq(le32toh(resp.nr_done), 1024);
	ck_assert_uint_eq(resident_pages(m.hva, m.len), 1024);
	for (uint64_t pg = 1; pg < 2048; pg += 2)
		ck_assert_int_eq(pattern_bad_in(m.hva, pg * PAGE, PAGE, SEED), -1);
	st = stats_of(ctx);
	ck_assert_uint_eq(st.syscalls, 1);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_PROCESS_MADVISE], 1024 * PAGE);
	free(r);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/* 16 adjacent pages sent as 16 ranges in random order: one run, one call. */
START_TEST(adjacent_ranges_coalesced)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = ram_map(TMEM_ANON, ctx);
	struct vmhint_range r[16];
	uint64_t order[16], rng = 42;
	struct vmhint_stats st;

	for (int i = 0; i < 16; i++)
		order[i] = (uint64_t)i;
	shuffle_u64(order, 16, &rng);
	for (int i = 0; i < 16; i++)
		r[i] = (struct vmhint_range){ RAM_GPA + (32 + order[i]) * PAGE, PAGE };
	ck_assert_int_ge(vmhint_hint_ranges(ctx, VMHINT_OP_UNUSED, r, 16), 0);
	ck_assert_uint_eq(resident_pages(m.hva + 32 * PAGE, 16 * PAGE), 0);
	ck_assert_uint_eq(resident_pages(m.hva, m.len), m.len / PAGE - 16);
	ck_assert(range_is_zero(m.hva + 32 * PAGE, 16 * PAGE));
	ck_assert_int_eq(pattern_bad_in(m.hva, 0, 32 * PAGE, SEED), -1);
	ck_assert_int_eq(pattern_bad_in(m.hva, 48 * PAGE, m.len - 48 * PAGE, SEED), -1);
	st = stats_of(ctx);
	ck_assert_uint_eq(st.syscalls, 1);
	ck_assert_uint_eq(st.bytes_dropped_total, 16 * PAGE);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(memfd_punch)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = ram_map(TMEM_MEMFD, ctx);
	struct vmhint_range r[NR_SCATTERED];
	struct vmhint_stats st;

	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len);
	scattered_ranges(r);
	ck_assert_int_ge(vmhint_hint_ranges(ctx, VMHINT_OP_UNUSED, r, NR_SCATTERED), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len - NR_SCATTERED * PAGE);
	for (size_t i = 0; i < NR_SCATTERED; i++)
		ck_assert(file_is_hole(m.fd, scattered[i] * PAGE, PAGE));
	assert_scattered_dropped(&m);
	assert_scattered_zero(&m);
	assert_neighbours_intact(&m);
	st = stats_of(ctx);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_PUNCH_HOLE], NR_SCATTERED * PAGE);
	ck_assert_uint_eq(st.bytes_dropped_total, NR_SCATTERED * PAGE);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(shared_anon_remove)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = ram_map(TMEM_SHARED_ANON, ctx);
	struct vmhint_range r[NR_SCATTERED];
	uint64_t rss = smaps_kb(m.hva, "Rss:");

	scattered_ranges(r);
	ck_assert_int_ge(vmhint_hint_ranges(ctx, VMHINT_OP_UNUSED, r, NR_SCATTERED), 0);
	ck_assert_uint_eq(smaps_kb(m.hva, "Rss:"), rss - NR_SCATTERED * 4);
	assert_scattered_dropped(&m);
	assert_scattered_zero(&m);
	assert_neighbours_intact(&m);
	ck_assert_uint_eq(stats_of(ctx).bytes_dropped[VMHINT_METHOD_MADV_REMOVE],
			  NR_SCATTERED * PAGE);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/* A private file mapping: drop our private copies, never punch the file. */
START_TEST(file_private_never_punched)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_FILE_PRIVATE, 4 * MiB);
	uint64_t file_bytes = fd_bytes_allocated(m.fd);
	uint8_t *copy = malloc(m.len);
	struct vmhint_range r[NR_SCATTERED];
	struct vmhint_stats st;

	ck_assert_int_eq(tmem_register(ctx, &m, RAM_GPA, NULL), 0);
	pattern_fill(m.hva, m.len, SEED); /* every page now a private copy */
	ck_assert_uint_eq(smaps_kb(m.hva, "Anonymous:"), 4096);
	scattered_ranges(r);
	ck_assert_int_ge(vmhint_hint_ranges(ctx, VMHINT_OP_UNUSED, r, NR_SCATTERED), 0);
	ck_assert_uint_eq(smaps_kb(m.hva, "Anonymous:"), 4096 - NR_SCATTERED * 4);
	/* dropped copies read the file again, the file is whole */
	for (size_t i = 0; i < NR_SCATTERED; i++)
		ck_assert_int_eq(pattern_bad_in(m.hva, scattered[i] * PAGE, PAGE, 0xf11e), -1);
	assert_neighbours_intact(&m);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), file_bytes);
	ck_assert_int_eq(pread(m.fd, copy, m.len, 0), (ssize_t)m.len);
	ck_assert_int_eq(pattern_first_bad(copy, m.len, 0xf11e), -1);
	/* MADV_DONTNEED, one by one or batched in process_madvise(2) */
	st = stats_of(ctx);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_MADV_DONTNEED] +
			  st.bytes_dropped[VMHINT_METHOD_PROCESS_MADVISE], NR_SCATTERED * PAGE);
	ck_assert_uint_eq(st.bytes_dropped_total, NR_SCATTERED * PAGE);
	free(copy);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

#define LAZYFREE_SLACK_KB (32 * 4)

/* Lazy, private anonymous: MADV_FREE; a write after the hint is kept. */
START_TEST(anon_lazy_free)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_LAZY, 0, 0);
	struct tmem m = ram_map(TMEM_ANON, ctx);
	struct vmhint_stats st;

	ck_assert_uint_eq(smaps_kb(m.hva, "LazyFree:"), 0);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA + MiB, MiB), 0);
	/* The kernel marks folios lazy-free through a per-CPU batch that is
	 * drained later: up to LAZYFREE_SLACK_KB may not show yet. */
	ck_assert_uint_le(smaps_kb(m.hva, "LazyFree:"), 1024);
	ck_assert_uint_ge(smaps_kb(m.hva, "LazyFree:"), 1024 - LAZYFREE_SLACK_KB);
	/* the guest reuses half of it: the kernel must keep those writes */
	pattern_fill(m.hva + MiB, MiB / 2, 77);
	ck_assert_uint_le(smaps_kb(m.hva, "LazyFree:"), 512);
	ck_assert_int_eq(pattern_first_bad(m.hva + MiB, MiB / 2, 77), -1);
	ck_assert_int_eq(pattern_bad_in(m.hva, 0, MiB, SEED), -1);
	ck_assert_int_eq(pattern_bad_in(m.hva, 2 * MiB, 2 * MiB, SEED), -1);
	st = stats_of(ctx);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_MADV_FREE], MiB);
	ck_assert_uint_eq(st.pending_bytes, 0);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/* Lazy on shared memory without a STABLE promise: must drop at once. */
START_TEST(memfd_lazy_falls_back_to_sync)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_LAZY, 0, 0);
	struct tmem m = ram_map(TMEM_MEMFD, ctx);
	struct vmhint_stats st;

	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA, 16 * PAGE), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len - 16 * PAGE);
	ck_assert(file_is_hole(m.fd, 0, 16 * PAGE));
	ck_assert_int_eq(vmhint_page_state(ctx, RAM_GPA), VMHINT_PAGE_STABLE);
	st = stats_of(ctx);
	ck_assert_uint_gt(st.lazy_fallbacks, 0);
	ck_assert_uint_eq(st.pending_bytes, 0);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_PUNCH_HOLE], 16 * PAGE);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

static struct vmhint_ctx *lazy_stable_ctx(uint64_t max_pending)
{
	struct vmhint_ctx_opts o = {
		.size = sizeof(o),
		.mode = VMHINT_MODE_LAZY,
		.flags = VMHINT_CTX_GUEST_STABLE_HINTS,
		.lazy_max_pending = max_pending,
	};
	struct vmhint_ctx *ctx;

	ck_assert_int_eq(vmhint_ctx_new(&o, &ctx), 0);
	return ctx;
}

/* PENDING until flushed; a STABLE hint takes a pending page back. */
START_TEST(memfd_pending_cancel_flush)
{
	struct vmhint_ctx *ctx = lazy_stable_ctx(0);
	struct tmem m = ram_map(TMEM_MEMFD, ctx);
	struct vmhint_region_info info = { .size = sizeof(info) };
	struct vmhint_stats st;

	ck_assert_int_eq(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA, 32 * PAGE), 32 * PAGE);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len);
	ck_assert_int_eq(vmhint_page_state(ctx, RAM_GPA), VMHINT_PAGE_PENDING);
	ck_assert_int_eq(vmhint_page_state(ctx, RAM_GPA + 31 * PAGE), VMHINT_PAGE_PENDING);
	ck_assert_int_eq(vmhint_page_state(ctx, RAM_GPA + 32 * PAGE), VMHINT_PAGE_STABLE);
	ck_assert_uint_eq(stats_of(ctx).pending_bytes, 32 * PAGE);
	ck_assert_int_eq(vmhint_region_info_get(ctx, 0, &info), 0);
	ck_assert_uint_eq(info.pending_bytes, 32 * PAGE);

	/* the guest takes pages 8..15 back before the flush */
	ck_assert_int_eq(vmhint_hint(ctx, VMHINT_OP_STABLE, RAM_GPA + 8 * PAGE, 8 * PAGE),
			 8 * PAGE);
	ck_assert_int_eq(vmhint_page_state(ctx, RAM_GPA + 8 * PAGE), VMHINT_PAGE_STABLE);
	pattern_fill(m.hva + 8 * PAGE, 8 * PAGE, 99);
	st = stats_of(ctx);
	ck_assert_uint_eq(st.pending_cancelled, 8);
	ck_assert_uint_eq(st.pending_bytes, 24 * PAGE);

	ck_assert_int_eq(vmhint_flush(ctx), 24 * PAGE);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len - 24 * PAGE);
	ck_assert(file_is_hole(m.fd, 0, 8 * PAGE));
	ck_assert(file_is_hole(m.fd, 16 * PAGE, 16 * PAGE));
	ck_assert_int_eq(pattern_first_bad(m.hva + 8 * PAGE, 8 * PAGE, 99), -1);
	ck_assert_int_eq(pattern_bad_in(m.hva, 32 * PAGE, m.len - 32 * PAGE, SEED), -1);
	ck_assert_int_eq(vmhint_page_state(ctx, RAM_GPA), VMHINT_PAGE_UNUSED);
	st = stats_of(ctx);
	ck_assert_uint_eq(st.pending_bytes, 0);
	ck_assert_uint_ge(st.flushes, 1);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_PUNCH_HOLE], 24 * PAGE);
	ck_assert_int_eq(vmhint_flush(ctx), 0);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(auto_flush_at_max_pending)
{
	struct vmhint_ctx *ctx = lazy_stable_ctx(16 * PAGE);
	struct tmem m = ram_map(TMEM_MEMFD, ctx);
	struct vmhint_stats st;

	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA, 8 * PAGE), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA + 64 * PAGE, 12 * PAGE), 0);
	st = stats_of(ctx);
	ck_assert_uint_ge(st.flushes, 1);
	ck_assert_uint_lt(st.pending_bytes, 16 * PAGE);
	ck_assert_uint_le(fd_bytes_allocated(m.fd), m.len - 16 * PAGE);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd) + st.pending_bytes, m.len - 20 * PAGE);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/*
 * context.h: "flush by itself once this many bytes are PENDING". Exactly
 * lazy_max_pending bytes pending is "this many".
 * (Before 5c1b187 the flush waited for more than that.)
 */
START_TEST(auto_flush_at_exactly_max_pending)
{
	struct vmhint_ctx *ctx = lazy_stable_ctx(16 * PAGE);
	struct tmem m = ram_map(TMEM_MEMFD, ctx);

	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA, 16 * PAGE), 0);
	ck_assert_uint_eq(stats_of(ctx).pending_bytes, 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len - 16 * PAGE);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/* Leaving lazy mode, freeing the context, removing the region: all flush. */
START_TEST(pending_dropped_on_mode_free_remove)
{
	struct vmhint_ctx *ctx = lazy_stable_ctx(0);
	struct tmem m = tmem_map(TMEM_MEMFD, 4 * MiB);
	struct vmhint_region *r;

	pattern_fill(m.hva, m.len, SEED);
	ck_assert_int_eq(tmem_register(ctx, &m, RAM_GPA, &r), 0);

	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA, 4 * PAGE), 0);
	ck_assert_int_eq(vmhint_ctx_mode_set(ctx, VMHINT_MODE_SYNC), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len - 4 * PAGE);
	ck_assert_int_eq(vmhint_ctx_mode_set(ctx, VMHINT_MODE_LAZY), 0);

	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA + MiB, 4 * PAGE), 0);
	ck_assert_int_eq(vmhint_region_find(ctx, RAM_GPA, NULL), 0);
	ck_assert_int_eq(vmhint_region_remove(ctx, r), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len - 8 * PAGE);

	ck_assert_int_eq(tmem_register(ctx, &m, RAM_GPA, NULL), 0);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA + 2 * MiB, 4 * PAGE), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len - 8 * PAGE);
	vmhint_ctx_free(ctx);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len - 12 * PAGE);
	ck_assert(file_is_hole(m.fd, 2 * MiB, 4 * PAGE));
	ck_assert_int_eq(pattern_bad_in(m.hva, 4 * PAGE, MiB - 4 * PAGE, SEED), -1);
	tmem_unmap(&m);
}
END_TEST

START_TEST(inhibit_keeps_everything)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = ram_map(TMEM_MEMFD, ctx);
	struct vmhint_range r[NR_SCATTERED];
	struct vmhint_wire_resp resp;
	struct vmhint_stats st;

	ck_assert_int_eq(vmhint_discard_inhibit(ctx, true), 1);
	ck_assert_int_eq(vmhint_discard_inhibit(ctx, true), 2);
	ck_assert_uint_eq(stats_of(ctx).inhibit_depth, 2);
	scattered_ranges(r);
	ck_assert_int_eq(wire_send(ctx, VMHINT_OP_UNUSED, r, NR_SCATTERED, &resp), VMHINT_WIRE_OK);
	ck_assert_uint_eq(le32toh(resp.status), VMHINT_WIRE_OK);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len);
	ck_assert_uint_eq(resident_pages(m.hva, m.len), m.len / PAGE);
	ck_assert_int_eq(pattern_first_bad(m.hva, m.len, SEED), -1);
	ck_assert_int_eq(vmhint_page_state(ctx, r[0].gpa), VMHINT_PAGE_STABLE);
	st = stats_of(ctx);
	ck_assert_uint_eq(st.inhibited_pages, NR_SCATTERED);
	ck_assert_uint_eq(st.bytes_dropped_total, 0);
	ck_assert_uint_eq(st.syscalls, 0);

	ck_assert_int_eq(vmhint_discard_inhibit(ctx, false), 1);
	ck_assert_int_ge(vmhint_hint_ranges(ctx, VMHINT_OP_UNUSED, r, 1), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len);
	ck_assert_int_eq(vmhint_discard_inhibit(ctx, false), 0);
	ck_assert_int_eq(vmhint_discard_inhibit(ctx, false), -EINVAL);
	ck_assert_uint_eq(stats_of(ctx).inhibit_depth, 0);

	ck_assert_int_ge(vmhint_hint_ranges(ctx, VMHINT_OP_UNUSED, r, NR_SCATTERED), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len - NR_SCATTERED * PAGE);
	assert_neighbours_intact(&m);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/*
 * PENDING pages when the inhibit begins (VFIO is about to pin guest RAM):
 * whatever the library does with them, nothing may be dropped once
 * vmhint_discard_inhibit() has returned, flush or not.
 */
START_TEST(inhibit_with_pending_pages)
{
	struct vmhint_ctx *ctx = lazy_stable_ctx(0);
	struct tmem m = ram_map(TMEM_MEMFD, ctx);
	uint64_t pinned_bytes;

	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA, 8 * PAGE), 0);
	ck_assert_int_eq(vmhint_discard_inhibit(ctx, true), 1);
	pinned_bytes = fd_bytes_allocated(m.fd);
	ck_assert_int_ge(vmhint_flush(ctx), 0);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA + MiB, 8 * PAGE), 0);
	ck_assert_int_ge(vmhint_flush(ctx), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), pinned_bytes);
	ck_assert_int_eq(pattern_bad_in(m.hva, MiB, 8 * PAGE, SEED), -1);
	ck_assert_int_eq(vmhint_discard_inhibit(ctx, false), 0);
	/* released: the pages still PENDING (if any) may go now */
	ck_assert_int_ge(vmhint_flush(ctx), 0);
	ck_assert_uint_eq(stats_of(ctx).pending_bytes, 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len - 8 * PAGE);
	ck_assert_int_eq(pattern_bad_in(m.hva, 8 * PAGE, m.len - 8 * PAGE, SEED), -1);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/*
 * The guest driver goes away (reset, reboot into a driver without STABLE
 * hints): flags drop GUEST_STABLE_HINTS. Remembered UNUSED/PENDING states
 * must not outlive that: the new guest may write those pages without a
 * STABLE hint, and no later flush may drop them.
 */
START_TEST(clearing_stable_hints_forgets_states)
{
	struct vmhint_ctx *ctx = lazy_stable_ctx(0);
	struct tmem m = ram_map(TMEM_MEMFD, ctx);

	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA, 16 * PAGE), 0);
	ck_assert_int_eq(vmhint_page_state(ctx, RAM_GPA), VMHINT_PAGE_PENDING);
	ck_assert_int_eq(vmhint_ctx_flags_set(ctx, 0), 0);
	ck_assert_int_eq(vmhint_page_state(ctx, RAM_GPA), VMHINT_PAGE_STABLE);
	ck_assert_uint_eq(stats_of(ctx).pending_bytes, 0);
	/* the new guest reuses the pages at once */
	pattern_fill(m.hva, 16 * PAGE, 31);
	ck_assert_int_ge(vmhint_flush(ctx), 0);
	ck_assert_int_ge(vmhint_ctx_mode_set(ctx, VMHINT_MODE_SYNC), 0);
	ck_assert_int_eq(pattern_first_bad(m.hva, 16 * PAGE, 31), -1);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len);
	vmhint_ctx_free(ctx);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len);
	ck_assert_int_eq(pattern_first_bad(m.hva, 16 * PAGE, 31), -1);
	tmem_unmap(&m);
}
END_TEST

START_TEST(populate_on_stable)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC,
					  VMHINT_CTX_GUEST_STABLE_HINTS |
					  VMHINT_CTX_POPULATE_ON_STABLE, 0);
	struct tmem m = ram_map(TMEM_ANON, ctx);

	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA + MiB, 16 * PAGE), 0);
	ck_assert_uint_eq(resident_pages(m.hva + MiB, 16 * PAGE), 0);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_STABLE, RAM_GPA + MiB, 16 * PAGE), 0);
	ck_assert_uint_eq(resident_pages(m.hva + MiB, 16 * PAGE), 16);
	ck_assert_uint_eq(stats_of(ctx).populated_bytes, 16 * PAGE);
	ck_assert(range_is_zero(m.hva + MiB, 16 * PAGE));
	ck_assert_int_eq(pattern_bad_in(m.hva, MiB + 16 * PAGE, 16 * PAGE, SEED), -1);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/* Last page of one region, first of the next: the neighbours survive. */
START_TEST(region_edges_exact)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem a = tmem_map(TMEM_ANON, MiB), b = tmem_map(TMEM_MEMFD, MiB);

	pattern_fill(a.hva, a.len, 1);
	pattern_fill(b.hva, b.len, 2);
	ck_assert_int_eq(tmem_register(ctx, &a, 0, NULL), 0);
	ck_assert_int_eq(tmem_register(ctx, &b, MiB, NULL), 0);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, MiB - PAGE, PAGE), 0);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, MiB, PAGE), 0);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, 0, PAGE), 0);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, 2 * MiB - PAGE, PAGE), 0);
	/* first the file: reading a shmem hole through the mapping refills it */
	ck_assert_uint_eq(fd_bytes_allocated(b.fd), MiB - 2 * PAGE);
	ck_assert(page_is_zero(a.hva) && page_is_zero(a.hva + MiB - PAGE));
	ck_assert(page_is_zero(b.hva) && page_is_zero(b.hva + MiB - PAGE));
	ck_assert_int_eq(pattern_bad_in(a.hva, PAGE, MiB - 2 * PAGE, 1), -1);
	ck_assert_int_eq(pattern_bad_in(b.hva, PAGE, MiB - 2 * PAGE, 2), -1);
	vmhint_ctx_free(ctx);
	tmem_unmap(&a);
	tmem_unmap(&b);
}
END_TEST

START_TEST(whole_region_one_range)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, 8 * MiB);

	pattern_fill(m.hva, m.len, SEED);
	ck_assert_int_eq(tmem_register(ctx, &m, RAM_GPA, NULL), 0);
	ck_assert_uint_eq(smaps_kb(m.hva, "Rss:"), 8192);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA, m.len), 0);
	ck_assert_uint_eq(smaps_kb(m.hva, "Rss:"), 0);
	ck_assert_uint_eq(resident_pages(m.hva, m.len), 0);
	ck_assert_uint_eq(stats_of(ctx).syscalls, 1);
	ck_assert(range_is_zero(m.hva, m.len));
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/* STABLE hints never drop anything. */
START_TEST(stable_hint_drops_nothing)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = ram_map(TMEM_MEMFD, ctx);
	struct vmhint_stats st;

	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_STABLE, RAM_GPA, m.len), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len);
	ck_assert_int_eq(pattern_first_bad(m.hva, m.len, SEED), -1);
	st = stats_of(ctx);
	ck_assert_uint_eq(st.requests_stable, 1);
	ck_assert_uint_eq(st.pages_stable, m.len / PAGE);
	ck_assert_uint_eq(st.syscalls, 0);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

struct log_seen {
	int count, worst;
	char last[256];
};

static void log_collect(void *opaque, int level, const char *msg)
{
	struct log_seen *seen = opaque;

	seen->count++;
	if (!seen->worst || level < seen->worst)
		seen->worst = level;
	snprintf(seen->last, sizeof(seen->last), "%s", msg);
}

/*
 * The kernel refuses MADV_DONTNEED on mlock()ed memory: the request ends
 * in ERR_IO, the refusal is counted and logged through the callback (the
 * library itself never prints), and the memory is intact.
 */
START_TEST(kernel_refusal_reported)
{
	struct log_seen seen = { 0 };
	struct vmhint_ctx_opts o = {
		.size = sizeof(o), .log = log_collect, .log_opaque = &seen,
		.log_level = VMHINT_LOG_WARNING,
	};
	struct vmhint_range r[NR_SCATTERED];
	struct vmhint_wire_resp resp;
	struct vmhint_ctx *ctx;
	struct vmhint_stats st;
	struct tmem m;

	ck_assert_int_eq(vmhint_ctx_new(&o, &ctx), 0);
	m = ram_map(TMEM_ANON, ctx);
	/* the raw system call: ASan intercepts mlock() and ignores it */
	ck_assert_msg(syscall(SYS_mlock, m.hva, m.len) == 0, "mlock: %s", strerror(errno));
	scattered_ranges(r);
	ck_assert_int_eq(wire_send(ctx, VMHINT_OP_UNUSED, r, NR_SCATTERED, &resp),
			 VMHINT_WIRE_ERR_IO);
	ck_assert_uint_eq(le32toh(resp.status), VMHINT_WIRE_ERR_IO);
	ck_assert_int_eq(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA, PAGE), -EIO);
	st = stats_of(ctx);
	ck_assert_uint_ge(st.syscall_errors, 2);
	ck_assert_uint_eq(st.rejected[VMHINT_WIRE_ERR_IO], 2);
	ck_assert_uint_eq(st.bytes_dropped_total, 0);
	ck_assert_int_gt(seen.count, 0);
	ck_assert_int_eq(seen.worst, VMHINT_LOG_WARNING);
	ck_assert_uint_eq(resident_pages(m.hva, m.len), m.len / PAGE);
	ck_assert_int_eq(pattern_first_bad(m.hva, m.len, SEED), -1);
	syscall(SYS_munlock, m.hva, m.len);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

static Suite *discard_suite(void)
{
	Suite *s = suite_create("discard");
	TCase *tc = tcase_create("sync");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, anon_sync_drop);
	tcase_add_test(tc, anon_stable_hints_state);
	tcase_add_test(tc, anon_scattered_batched);
	tcase_add_test(tc, anon_scattered_no_process_madvise);
	tcase_add_test(tc, anon_1024_runs_one_call);
	tcase_add_test(tc, adjacent_ranges_coalesced);
	tcase_add_test(tc, memfd_punch);
	tcase_add_test(tc, shared_anon_remove);
	tcase_add_test(tc, file_private_never_punched);
	tcase_add_test(tc, region_edges_exact);
	tcase_add_test(tc, whole_region_one_range);
	tcase_add_test(tc, stable_hint_drops_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("lazy");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, anon_lazy_free);
	tcase_add_test(tc, memfd_lazy_falls_back_to_sync);
	tcase_add_test(tc, memfd_pending_cancel_flush);
	tcase_add_test(tc, auto_flush_at_max_pending);
	tcase_add_test(tc, auto_flush_at_exactly_max_pending);
	tcase_add_test(tc, pending_dropped_on_mode_free_remove);
	suite_add_tcase(s, tc);

	tc = tcase_create("policy");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, inhibit_keeps_everything);
	tcase_add_test(tc, inhibit_with_pending_pages);
	tcase_add_test(tc, clearing_stable_hints_forgets_states);
	tcase_add_test(tc, populate_on_stable);
	tcase_add_test(tc, kernel_refusal_reported);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(discard_suite());
}
