// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vm_numa_drop - a move drops, never copies, the pages the guest does not
 * use, and copies every page whose content may still matter:
 *  - lazy mode with STABLE hints: PENDING pages are dropped by the move;
 *  - UNUSED pages are trusted only with VMHINT_CTX_GUEST_STABLE_HINTS;
 *    without it a page the guest wrote after its UNUSED hint is moved with
 *    its content;
 *  - while discards are inhibited nothing is dropped.
 */
#include <string.h>
#include <sys/mman.h>

#include "testutil.h"

#define LEN (8 * MiB)
#define NP (LEN / PAGE)

static void pending_pages_are_dropped(void)
{
	struct vmhint_numa_move_opts o = { .size = sizeof(o), .target_node = 1 };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	struct tmem m = tmem_map(TMEM_ANON_4K, LEN);
	struct vmhint_ctx *ctx = ctx_make_nolimit(VMHINT_MODE_LAZY, VMHINT_CTX_GUEST_STABLE_HINTS);
	struct vmhint_stats st = { .size = sizeof(st) };

	CHECK_EQ(tmem_register(ctx, &m, GPA0, NULL), 0);
	pattern_fill(m.hva, LEN, 21);
	/* Every other 64 KiB unused: PENDING, frames still there. */
	for (size_t off = 0; off < LEN; off += 128 * 1024)
		CHECK(vmhint_hint(ctx, VMHINT_OP_UNUSED, GPA0 + off, 64 * 1024) >= 0, "hint");
	for (size_t off = 0; off < LEN; off += 128 * 1024)
		CHECK(vmhint_page_state(ctx, GPA0 + off) == VMHINT_PAGE_PENDING ||
		      vmhint_page_state(ctx, GPA0 + off) == VMHINT_PAGE_UNUSED, "state");

	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP / 2);
	print_numa_result("pending", &r);
	CHECK_EQ(r.pages[VMHINT_NUMA_DROPPED], NP / 2);
	CHECK_EQ(r.pages[VMHINT_NUMA_MOVED], NP / 2);
	CHECK_EQ(r.bytes_moved, LEN / 2);
	for (size_t off = 0; off < LEN; off += 128 * 1024) {
		for (size_t p = 0; p < 16; p++)
			CHECK(!page_resident(m.hva + off + p * PAGE), "dropped page %zu resident",
			      (off / PAGE) + p);
		expect_node(m.hva + off + 64 * 1024, 64 * 1024, 1, "stable half");
		CHECK(pattern_bad_in(m.hva, off + 64 * 1024, 64 * 1024, 21) == -1,
		      "stable page changed");
	}
	CHECK_EQ(vmhint_stats_get(ctx, &st), 0);
	CHECK_EQ(st.pending_bytes, 0);
	vmhint_ctx_free(ctx);
	munmap(m.hva, LEN);
}

/* Without STABLE hints an UNUSED page may hold new data: it must move. */
static void untrusted_unused_pages_are_copied(void)
{
	struct vmhint_numa_move_opts o = { .size = sizeof(o), .target_node = 1 };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	struct tmem m = tmem_map(TMEM_ANON_4K, LEN);
	struct vmhint_ctx *ctx = ctx_make_nolimit(VMHINT_MODE_SYNC, 0);

	CHECK_EQ(tmem_register(ctx, &m, GPA0, NULL), 0);
	CHECK_EQ(vmhint_hint(ctx, VMHINT_OP_UNUSED, GPA0, LEN), LEN);
	/* The guest reuses its memory without telling us. */
	pattern_fill(m.hva, LEN, 22);
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP);
	print_numa_result("untrusted", &r);
	CHECK_EQ(r.pages[VMHINT_NUMA_MOVED], NP);
	CHECK_EQ(r.pages[VMHINT_NUMA_DROPPED], 0);
	expect_node(m.hva, LEN, 1, "untrusted unused");
	CHECK(pattern_first_bad(m.hva, LEN, 22) == -1, "data written after UNUSED was lost");
	vmhint_ctx_free(ctx);
	munmap(m.hva, LEN);
}

/* With STABLE hints promised, UNUSED pages that still have frames go. */
static void trusted_unused_and_inhibit(void)
{
	struct vmhint_numa_move_opts o = { .size = sizeof(o), .target_node = 1 };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	struct tmem m = tmem_map(TMEM_ANON_4K, LEN);
	struct vmhint_ctx *ctx = ctx_make_nolimit(VMHINT_MODE_LAZY, VMHINT_CTX_GUEST_STABLE_HINTS);

	CHECK_EQ(tmem_register(ctx, &m, GPA0, NULL), 0);
	pattern_fill(m.hva, LEN, 23);
	CHECK(vmhint_hint(ctx, VMHINT_OP_UNUSED, GPA0, LEN / 2) >= 0, "hint");
	/* Inhibited: everything is copied, contents kept. */
	CHECK_EQ(vmhint_discard_inhibit(ctx, true), 1);
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP);
	CHECK_EQ(r.pages[VMHINT_NUMA_DROPPED], 0);
	expect_node(m.hva, LEN, 1, "inhibited");
	CHECK(pattern_first_bad(m.hva, LEN, 23) == -1, "contents changed while inhibited");
	CHECK_EQ(vmhint_discard_inhibit(ctx, false), 0);

	/* Allowed again, moving back drops the unused half. */
	o.target_node = 0;
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP / 2);
	print_numa_result("trusted", &r);
	CHECK_EQ(r.pages[VMHINT_NUMA_DROPPED] + r.pages[VMHINT_NUMA_NOT_PRESENT], NP / 2);
	expect_node(m.hva + LEN / 2, LEN / 2, 0, "stable half");
	CHECK(pattern_bad_in(m.hva, LEN / 2, LEN / 2, 23) == -1, "stable half changed");
	vmhint_ctx_free(ctx);
	munmap(m.hva, LEN);
}

int main(void)
{
	need_two_nodes();
	pending_pages_are_dropped();
	untrusted_unused_pages_are_copied();
	trusted_unused_and_inhibit();
	printf("PASS\n");
	return 0;
}
