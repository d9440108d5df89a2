// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_stats.c - the counters say what was done: requests and pages by op,
 * bytes by drop method, system calls, the latency histogram, the gauges;
 * exactly, also when several threads hint at once.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define ANON_GPA 0
#define MEMFD_GPA (64 * MiB)

struct setup {
	struct vmhint_ctx *ctx;
	struct tmem anon, memfd;
};

static void setup_up(struct setup *s)
{
	s->ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	s->anon = tmem_map(TMEM_ANON, 4 * MiB);
	s->memfd = tmem_map(TMEM_MEMFD, 2 * MiB);
	pattern_fill(s->anon.hva, s->anon.len, 1);
	pattern_fill(s->memfd.hva, s->memfd.len, 2);
	ck_assert_int_eq(tmem_register(s->ctx, &s->anon, ANON_GPA, NULL), 0);
	ck_assert_int_eq(tmem_register(s->ctx, &s->memfd, MEMFD_GPA, NULL), 0);
}

static void setup_down(struct setup *s)
{
	vmhint_ctx_free(s->ctx);
	tmem_unmap(&s->anon);
	tmem_unmap(&s->memfd);
}

static uint64_t hist_sum(const struct vmhint_stats *st)
{
	uint64_t sum = 0;

	for (int i = 0; i < VMHINT_LAT_BUCKETS; i++)
		sum += st->latency_us_hist[i];
	return sum;
}

START_TEST(fresh_context)
{
	struct setup s;
	struct vmhint_stats st;

	setup_up(&s);
	st = stats_of(s.ctx);
	ck_assert_uint_eq(st.size, sizeof(st));
	ck_assert_uint_eq(st.nr_regions, 2);
	ck_assert_uint_eq(st.guest_ram_bytes, 6 * MiB);
	ck_assert_uint_eq(st.requests_unused + st.requests_stable, 0);
	ck_assert_uint_eq(st.bytes_dropped_total + st.syscalls + st.rejected_total, 0);
	ck_assert_uint_eq(hist_sum(&st), 0);
	ck_assert_uint_eq(st.inhibit_depth + st.pending_bytes + st.huge_pages_partial, 0);
	setup_down(&s);
}
END_TEST

/* A scripted session whose every counter can be predicted. */
START_TEST(counters_match_work)
{
	const struct vmhint_range scattered[3] = {
		{ ANON_GPA + 1 * PAGE, PAGE }, { ANON_GPA + 9 * PAGE, PAGE },
		{ ANON_GPA + 20 * PAGE, PAGE },
	};
	const struct vmhint_range memfd_pair[2] = {
		{ MEMFD_GPA + 5 * PAGE, PAGE }, { MEMFD_GPA + 4 * PAGE, PAGE },
	};
	const struct vmhint_range both[2] = {
		{ MEMFD_GPA + MiB, PAGE }, { ANON_GPA + MiB, PAGE },
	};
	struct vmhint_wire_resp resp;
	struct vmhint_stats st;
	struct setup s;

	setup_up(&s);
	/* 3 scattered anon runs: one process_madvise(2) */
	ck_assert_int_ge(vmhint_hint_ranges(s.ctx, VMHINT_OP_UNUSED, scattered, 3), 0);
	/* 2 adjacent memfd pages: one punch */
	ck_assert_int_ge(vmhint_hint_ranges(s.ctx, VMHINT_OP_UNUSED, memfd_pair, 2), 0);
	/* one anon run of 2 pages: one madvise */
	ck_assert_int_ge(vmhint_hint(s.ctx, VMHINT_OP_UNUSED, ANON_GPA + 2 * MiB, 2 * PAGE), 0);
	ck_assert_int_ge(vmhint_hint(s.ctx, VMHINT_OP_STABLE, ANON_GPA + 3 * MiB, 5 * PAGE), 0);
	/* through the wire, one page in each region: a punch and a madvise */
	ck_assert_int_eq(wire_send(s.ctx, VMHINT_OP_UNUSED, both, 2, &resp), VMHINT_WIRE_OK);
	/* and two rejected requests, which count nowhere else */
	ck_assert_int_eq(vmhint_hint(s.ctx, VMHINT_OP_UNUSED, 32 * MiB, PAGE), -EFAULT);
	ck_assert_int_eq(vmhint_hint(s.ctx, VMHINT_OP_UNUSED, 1, PAGE), -EINVAL);

	ck_assert_uint_eq(fd_bytes_allocated(s.memfd.fd), 2 * MiB - 3 * PAGE);
	ck_assert_uint_eq(resident_pages(s.anon.hva, s.anon.len), 1024 - 6);

	st = stats_of(s.ctx);
	ck_assert_uint_eq(st.requests_unused, 4);
	ck_assert_uint_eq(st.requests_stable, 1);
	ck_assert_uint_eq(st.pages_unused, 3 + 2 + 2 + 2);
	ck_assert_uint_eq(st.pages_stable, 5);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_PROCESS_MADVISE], 3 * PAGE);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_PUNCH_HOLE], 3 * PAGE);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_MADV_DONTNEED], 3 * PAGE);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_MADV_FREE], 0);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_MADV_REMOVE], 0);
	ck_assert_uint_eq(st.bytes_dropped_total, 9 * PAGE);
	ck_assert_uint_eq(st.syscalls, 1 + 1 + 1 + 2);
	ck_assert_uint_eq(st.syscall_errors, 0);
	ck_assert_uint_eq(st.rejected[VMHINT_WIRE_ERR_OUTSIDE], 1);
	ck_assert_uint_eq(st.rejected[VMHINT_WIRE_ERR_ALIGN], 1);
	ck_assert_uint_eq(st.rejected_total, 2);
	ck_assert_uint_eq(hist_sum(&st), st.requests_unused + st.requests_stable);
	setup_down(&s);
}
END_TEST

struct hammer {
	struct vmhint_ctx *ctx;
	uint64_t gpa;
	int n;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;

	for (int i = 0; i < h->n; i++) {
		uint64_t gpa = h->gpa + (uint64_t)(i % 128) * PAGE;
		enum vmhint_op op = i % 4 == 3 ? VMHINT_OP_STABLE : VMHINT_OP_UNUSED;

		if (vmhint_hint(h->ctx, op, gpa, PAGE) < 0)
			return (void *)1;
	}
	return NULL;
}

/* Counters are exact while two threads hint two regions at full speed. */
START_TEST(counters_exact_under_threads)
{
	enum { N = 4000 };
	struct setup s;
	struct hammer h[2];
	pthread_t t[2];
	struct vmhint_stats st;

	setup_up(&s);
	h[0] = (struct hammer){ s.ctx, ANON_GPA, N };
	h[1] = (struct hammer){ s.ctx, MEMFD_GPA, N };
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
	for (int i = 0; i < 2; i++) {
		void *ret;

		ck_assert_int_eq(pthread_join(t[i], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	st = stats_of(s.ctx);
	ck_assert_uint_eq(st.requests_unused, 2 * N * 3 / 4);
	ck_assert_uint_eq(st.requests_stable, 2 * N / 4);
	ck_assert_uint_eq(st.pages_unused, 2 * N * 3 / 4);
	ck_assert_uint_eq(hist_sum(&st), 2 * N);
	/* every UNUSED hint was one drop of one page */
	ck_assert_uint_eq(st.syscalls, 2 * N * 3 / 4);
	ck_assert_uint_eq(st.bytes_dropped_total, 2 * N * 3 / 4 * PAGE);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_PUNCH_HOLE], N * 3 / 4 * PAGE);
	setup_down(&s);
}
END_TEST

START_TEST(stats_size_contract)
{
	struct {
		struct vmhint_stats st;
		uint8_t canary[64];
	} big;
	struct vmhint_stats small;
	struct setup s;
	int ret;

	setup_up(&s);
	ck_assert_int_eq(vmhint_hint(s.ctx, VMHINT_OP_UNUSED, ANON_GPA, PAGE), (int64_t)PAGE);
	/*
	 * A caller built against a newer, larger struct: we fill ours and
	 * zero the fields we do not know; nothing past its size is touched.
	 */
	memset(&big, 0xee, sizeof(big));
	big.st.size = sizeof(big) - 8;
	ck_assert_int_eq(vmhint_stats_get(s.ctx, &big.st), 0);
	ck_assert_uint_eq(big.st.requests_unused, 1);
	for (size_t i = 0; i < sizeof(big.canary) - 8; i++)
		ck_assert_uint_eq(big.canary[i], 0);
	for (size_t i = sizeof(big.canary) - 8; i < sizeof(big.canary); i++)
		ck_assert_uint_eq(big.canary[i], 0xee);
	/* Smaller than ours (an older caller): filled up to its size only. */
	memset(&big, 0xee, sizeof(big));
	big.st.size = offsetof(struct vmhint_stats, latency_us_total);
	ret = vmhint_stats_get(s.ctx, &big.st);
	ck_assert_int_eq(ret, 0);
	ck_assert_uint_eq(big.st.requests_unused, 1);
	for (uint8_t *p = (uint8_t *)&big.st.latency_us_total; p < (uint8_t *)(&big + 1); p++)
		ck_assert_uint_eq(*p, 0xee);
	/* Sizes that end inside a field, or hold not even the size. */
	small.size = 12;
	ck_assert_int_eq(vmhint_stats_get(s.ctx, &small), -EINVAL);
	small.size = 4;
	ck_assert_int_eq(vmhint_stats_get(s.ctx, &small), -EINVAL);
	setup_down(&s);
}
END_TEST

START_TEST(method_names)
{
	ck_assert_str_eq(vmhint_method_name(VMHINT_METHOD_MADV_DONTNEED), "madv_dontneed");
	ck_assert_str_eq(vmhint_method_name(VMHINT_METHOD_MADV_FREE), "madv_free");
	ck_assert_str_eq(vmhint_method_name(VMHINT_METHOD_PUNCH_HOLE), "punch_hole");
	ck_assert_str_eq(vmhint_method_name(VMHINT_METHOD_MADV_REMOVE), "madv_remove");
	ck_assert_str_eq(vmhint_method_name(VMHINT_METHOD_PROCESS_MADVISE), "process_madvise");
	ck_assert_ptr_nonnull(vmhint_method_name(VMHINT_NR_METHODS));
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("counters");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fresh_context);
	tcase_add_test(tc, counters_match_work);
	tcase_add_test(tc, counters_exact_under_threads);
	tcase_add_test(tc, stats_size_contract);
	tcase_add_test(tc, method_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(stats_suite());
}
