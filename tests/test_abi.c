// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_abi - the rules that let the API grow without breaking callers:
 * the struct size rule of vmhint/common.h (older callers get defaults,
 * newer callers are refused only for options this library cannot honour,
 * results never written past the caller's size), the version macros, and
 * the _name() functions' answer for values they do not know.
 *
 * "An older caller" is a struct declared here as a truncated copy of the
 * public one, exactly what a program built against an older header holds.
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <vmhint.h>
#include <vmhint/ksm.h>

#include "testutil.h"

#define RAM_GPA (1ull << 32)

/* struct vmhint_ctx_opts as a caller that knows only size and mode has it. */
struct ctx_opts_v0 {
	uint32_t size;
	uint32_t mode;
};

/* A caller built against a future header with one more option. */
struct ctx_opts_next {
	struct vmhint_ctx_opts cur;
	uint64_t future_option;
};

static struct vmhint_wire_config config_of(struct vmhint_ctx *ctx)
{
	struct vmhint_wire_config cfg;

	ck_assert_int_eq(vmhint_wire_config_get(ctx, &cfg), 0);
	return cfg;
}

START_TEST(older_options_get_defaults)
{
	struct ctx_opts_v0 old = { .size = sizeof(old), .mode = VMHINT_MODE_LAZY };
	struct vmhint_ctx *ctx = NULL;
	struct tmem m = tmem_map(TMEM_ANON, 4 * MiB);
	struct vmhint_stats st = { .size = sizeof(st) };

	ck_assert_int_eq(vmhint_ctx_new((const struct vmhint_ctx_opts *)&old, &ctx), 0);
	/* max_ranges was not in the caller's struct: the default applies. */
	ck_assert_uint_eq(le32toh(config_of(ctx).max_ranges), VMHINT_WIRE_MAX_RANGES_DEFAULT);
	/* mode was: an anonymous drop is lazy, so it is a MADV_FREE. */
	memset(m.hva, 0x5a, m.len);
	ck_assert_int_eq(tmem_register(ctx, &m, RAM_GPA, NULL), 0);
	ck_assert_int_eq(vmhint_hint(ctx, VMHINT_OP_UNUSED, RAM_GPA, MiB), (int64_t)MiB);
	ck_assert_int_eq(vmhint_stats_get(ctx, &st), 0);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_MADV_FREE], MiB);
	ck_assert_uint_eq(st.bytes_dropped[VMHINT_METHOD_MADV_DONTNEED], 0);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(newer_options_need_a_zero_tail)
{
	struct ctx_opts_next next;
	struct vmhint_ctx *ctx = NULL;

	memset(&next, 0, sizeof(next));
	next.cur.size = sizeof(next);
	next.cur.max_ranges = 17;
	ck_assert_int_eq(vmhint_ctx_new(&next.cur, &ctx), 0);
	ck_assert_uint_eq(le32toh(config_of(ctx).max_ranges), 17);
	vmhint_ctx_free(ctx);

	/* An option this library does not know would be silently ignored. */
	next.future_option = 1;
	ctx = NULL;
	ck_assert_int_eq(vmhint_ctx_new(&next.cur, &ctx), -E2BIG);
	ck_assert_ptr_null(ctx);
}
END_TEST

START_TEST(bad_sizes_refused)
{
	struct vmhint_ctx_opts o = { .size = sizeof(o) };
	struct vmhint_ctx *ctx = NULL;
	const uint32_t bad[] = { 0, 4, 12, sizeof(o) - 4 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.size = bad[i];
		ck_assert_int_eq(vmhint_ctx_new(&o, &ctx), -EINVAL);
		ck_assert_ptr_null(ctx);
	}
	/* Reserved fields must be zero: a later version may give them a meaning. */
	o.size = sizeof(o);
	o._pad0 = 1;
	ck_assert_int_eq(vmhint_ctx_new(&o, &ctx), -EINVAL);
	ck_assert_ptr_null(ctx);
}
END_TEST

/* struct vmhint_numa_stats as a caller that wants the counters only. */
START_TEST(numa_stats_without_residency)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, 4 * MiB);
	struct {
		struct vmhint_numa_stats st;
	} buf;
	const size_t cut = offsetof(struct vmhint_numa_stats, residency);

	memset(m.hva, 1, m.len);
	ck_assert_int_eq(tmem_register(ctx, &m, RAM_GPA, NULL), 0);
	memset(&buf, 0xee, sizeof(buf));
	buf.st.size = cut;
	ck_assert_int_eq(vmhint_numa_stats_get(ctx, &buf.st), 0);
	ck_assert_uint_eq(buf.st.moves, 0);
	for (const uint8_t *p = (const uint8_t *)&buf.st + cut; p < (const uint8_t *)(&buf + 1); p++)
		ck_assert_uint_eq(*p, 0xee);
	/* With the whole struct, the residency is there: 4 MiB, resident. */
	buf.st.size = sizeof(buf.st);
	ck_assert_int_eq(vmhint_numa_stats_get(ctx, &buf.st), 0);
	ck_assert_uint_eq(buf.st.residency.pages_total, m.len / PAGE);
	ck_assert_uint_eq(buf.st.residency.not_present, 0);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(version_macros_match_the_library)
{
	char built[32];

	snprintf(built, sizeof(built), "%d.%d.%d", VMHINT_VERSION_MAJOR, VMHINT_VERSION_MINOR,
		 VMHINT_VERSION_MICRO);
	ck_assert_str_eq(built, VMHINT_VERSION);
	ck_assert_str_eq(vmhint_version(), VMHINT_VERSION);
	ck_assert(VMHINT_CHECK_VERSION(VMHINT_VERSION_MAJOR, VMHINT_VERSION_MINOR,
				       VMHINT_VERSION_MICRO));
	ck_assert(VMHINT_CHECK_VERSION(0, 0, 1));
	ck_assert(!VMHINT_CHECK_VERSION(VMHINT_VERSION_MAJOR, VMHINT_VERSION_MINOR + 1, 0));
	ck_assert(!VMHINT_CHECK_VERSION(VMHINT_VERSION_MAJOR + 1, 0, 0));
}
END_TEST

START_TEST(names_of_unknown_values)
{
	ck_assert_str_eq(vmhint_backing_name(0), "unknown");
	ck_assert_str_eq(vmhint_backing_name(99), "unknown");
	ck_assert_str_eq(vmhint_method_name(VMHINT_NR_METHODS), "unknown");
	ck_assert_str_eq(vmhint_wire_status_name(VMHINT_WIRE_NR_STATUS), "unknown");
	ck_assert_str_eq(vmhint_wire_status_name(-1), "unknown");
	ck_assert_str_eq(vmhint_numa_outcome_name(VMHINT_NUMA_NR_OUTCOMES), "unknown");
	ck_assert_str_eq(vmhint_numa_outcome_name(-1), "unknown");
	ck_assert_str_eq(vmhint_ksm_knob_name(VMHINT_KSM_NR_KNOBS), "unknown");
	/* and the known ones are still named */
	ck_assert_str_eq(vmhint_backing_name(VMHINT_BACKING_SHMEM), "shmem");
	ck_assert_str_eq(vmhint_ksm_knob_name(VMHINT_KSM_RUN), "run");
}
END_TEST

static Suite *abi_suite(void)
{
	Suite *s = suite_create("abi");
	TCase *tc = tcase_create("abi");

	tcase_add_test(tc, older_options_get_defaults);
	tcase_add_test(tc, newer_options_need_a_zero_tail);
	tcase_add_test(tc, bad_sizes_refused);
	tcase_add_test(tc, numa_stats_without_residency);
	tcase_add_test(tc, version_macros_match_the_library);
	tcase_add_test(tc, names_of_unknown_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(abi_suite());
}
