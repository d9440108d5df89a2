// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_faults.c - the kernel refuses a drop (fallocate, madvise,
 * process_madvise fail, injected in sysdep by the test build of the
 * library, tests/libvmhint-faults.la): the request gets VMHINT_WIRE_ERR_IO
 * (-EIO), the counters say so, no byte counts as dropped, the guest's
 * data stays, and no page is taken for dropped: the same hint with the
 * fault gone drops it.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include "sys/sysdep.h"
#include "testutil.h"

#define LEN (2 * MiB)

struct fault_case {
	enum tmem_kind kind;
	enum sys_fault fault;
	uint32_t flags;		/* context flags */
	enum vmhint_mode mode;
	const char *what;
};

static const struct fault_case cases[] = {
	{ TMEM_MEMFD, SYS_FAULT_PUNCH_HOLE, VMHINT_CTX_GUEST_STABLE_HINTS, VMHINT_MODE_SYNC,
	  "memfd, fallocate(PUNCH_HOLE) fails, sticky state" },
	{ TMEM_MEMFD, SYS_FAULT_PUNCH_HOLE, 0, VMHINT_MODE_SYNC,
	  "memfd, fallocate(PUNCH_HOLE) fails" },
	{ TMEM_ANON_4K, SYS_FAULT_MADVISE_DROP,
	  VMHINT_CTX_GUEST_STABLE_HINTS | VMHINT_CTX_NO_PROCESS_MADVISE, VMHINT_MODE_SYNC,
	  "anon, madvise(DONTNEED) fails, sticky state" },
	{ TMEM_ANON_4K, SYS_FAULT_PROCESS_MADVISE, VMHINT_CTX_GUEST_STABLE_HINTS,
	  VMHINT_MODE_SYNC, "anon, process_madvise() fails (then madvise too)" },
	{ TMEM_MEMFD, SYS_FAULT_PUNCH_HOLE, VMHINT_CTX_GUEST_STABLE_HINTS, VMHINT_MODE_LAZY,
	  "memfd, lazy: the flush's fallocate fails" },
};

static uint64_t footprint(const struct tmem *m)
{
	return m->fd >= 0 ? fd_bytes_allocated(m->fd) : resident_pages(m->hva, m->len) * PAGE;
}

/* Sixteen scattered 64 KiB ranges of the region's first MiB. */
static void hint_all(struct vmhint_ctx *ctx, enum vmhint_op op, int64_t want)
{
	struct vmhint_range r[16];
	int i;

	for (i = 0; i < 16; i++)
		r[i] = (struct vmhint_range){ .gpa = GPA0 + (uint64_t)i * 128 * 1024,
					      .len = 64 * 1024 };
	ck_assert_int_eq(vmhint_hint_ranges(ctx, op, r, 16), want);
}

START_TEST(drop_refused)
{
	const struct fault_case *c = &cases[_i];
	struct vmhint_ctx *ctx = ctx_make(c->mode, c->flags, 64);
	struct tmem m = tmem_map(c->kind, LEN);
	uint64_t before, after;
	struct vmhint_stats st;
	bool lazy = c->mode == VMHINT_MODE_LAZY;
	int fault_err = c->fault == SYS_FAULT_MADVISE_DROP ? -ENOMEM : -EIO;

	ck_assert_int_eq(tmem_register(ctx, &m, GPA0, NULL), 0);
	pattern_fill(m.hva, m.len, 7);
	before = footprint(&m);
	ck_assert_uint_ge(before, LEN);
	/* Every drop refused (process_madvise: and the one-by-one redo). */
	sys_fault_inject(c->fault, fault_err, 0, 1000);
	if (c->fault == SYS_FAULT_PROCESS_MADVISE)
		sys_fault_inject(SYS_FAULT_MADVISE_DROP, -ENOMEM, 0, 1000);
	if (lazy) {
		hint_all(ctx, VMHINT_OP_UNUSED, 16 * 64 * 1024);	/* pending */
		ck_assert_int_eq(vmhint_flush(ctx), -EIO);
	} else {
		hint_all(ctx, VMHINT_OP_UNUSED, -EIO);
	}
	st = stats_of(ctx);
	ck_assert_msg(st.syscall_errors >= 1, "%s: no syscall error counted", c->what);
	ck_assert_uint_eq(st.bytes_dropped_total, 0);
	if (!lazy)
		ck_assert_uint_eq(st.rejected[VMHINT_WIRE_ERR_IO], 1);
	after = footprint(&m);
	ck_assert_msg(after == before, "%s: %llu of %llu bytes left after refused drops",
		      c->what, (unsigned long long)after, (unsigned long long)before);
	ck_assert_msg(pattern_first_bad(m.hva, m.len, 7) < 0, "%s: data lost", c->what);
	ck_assert_int_eq(vmhint_page_state(ctx, GPA0), VMHINT_PAGE_STABLE);

	/* The fault gone, the same hint drops the pages. */
	sys_fault_inject(c->fault, 0, 0, 0);
	sys_fault_inject(SYS_FAULT_MADVISE_DROP, 0, 0, 0);
	hint_all(ctx, VMHINT_OP_UNUSED, 16 * 64 * 1024);
	if (lazy)
		ck_assert_int_eq(vmhint_flush(ctx), 16 * 64 * 1024);
	st = stats_of(ctx);
	ck_assert_uint_eq(st.bytes_dropped_total, 16 * 64 * 1024);
	after = footprint(&m);
	ck_assert_msg(after <= before - 16 * 64 * 1024,
		      "%s: a hint after the refused drop dropped nothing (%llu -> %llu bytes): the "
		      "pages were taken for dropped", c->what, (unsigned long long)before,
		      (unsigned long long)after);
	ck_assert_msg(pattern_bad_in(m.hva, 64 * 1024, 64 * 1024, 7) < 0,
		      "%s: data between the ranges lost", c->what);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("drop");

	tcase_add_loop_test(tc, drop_refused, 0, sizeof(cases) / sizeof(cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(faults_suite());
}
