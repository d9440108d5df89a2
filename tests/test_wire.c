// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_wire.c - the wire parser against hostile requests. Each request of
 * the table must get its status, bump exactly its counter, report nr_done
 * 0, and leave every byte of guest RAM as it was: a request with one bad
 * range is rejected as a whole, before anything is applied.
 *
 * Guest RAM here:  A anon  [1M, 2M)   B memfd [2M, 3M)   (adjacent)
 *                  hole    [3M, 5M)   C anon  [5M, 6M)
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define MAX_RANGES 8
#define NO_LEN SIZE_MAX

static const uint64_t ram_gpa[3] = { 1 * MiB, 2 * MiB, 5 * MiB };
static const enum tmem_kind ram_kind[3] = { TMEM_ANON, TMEM_MEMFD, TMEM_ANON };

struct guest {
	struct vmhint_ctx *ctx;
	struct tmem m[3];
};

static void guest_boot(struct guest *g)
{
	g->ctx = ctx_make(VMHINT_MODE_SYNC, 0, MAX_RANGES);
	for (int i = 0; i < 3; i++) {
		g->m[i] = tmem_map(ram_kind[i], MiB);
		pattern_fill(g->m[i].hva, MiB, 10 + i);
		ck_assert_int_eq(tmem_register(g->ctx, &g->m[i], ram_gpa[i], NULL), 0);
	}
}

static void guest_halt(struct guest *g)
{
	vmhint_ctx_free(g->ctx);
	for (int i = 0; i < 3; i++)
		tmem_unmap(&g->m[i]);
}

/* Not one byte of guest RAM dropped or changed. */
static void assert_ram_untouched(const struct guest *g, const char *what)
{
	/* the file first: reading a punched shmem page would refill it */
	ck_assert_msg(fd_bytes_allocated(g->m[1].fd) == MiB, "%s: memfd punched", what);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(resident_pages(g->m[i].hva, MiB) == MiB / PAGE,
			      "%s: region %d lost pages", what, i);
		ck_assert_msg(pattern_first_bad(g->m[i].hva, MiB, 10 + i) == -1,
			      "%s: region %d content changed", what, i);
	}
}

#define R(g, l) { (g), (l) }
#define GOOD_A R(1 * MiB, PAGE)
#define GOOD_B R(2 * MiB + 8 * PAGE, PAGE)
#define GOOD_C R(5 * MiB, PAGE)

struct hostile {
	const char *name;
	uint16_t op, flags;
	uint32_t nr_claimed;
	uint32_t nr_given;
	struct vmhint_range r[MAX_RANGES + 1];
	size_t len;         /* NO_LEN: header + nr_given ranges */
	int len_delta;      /* bytes added to (or cut from) that length */
	int want;
	int also;           /* a second acceptable status where two faults meet, or 0 */
};

#define U VMHINT_OP_UNUSED
#define S VMHINT_OP_STABLE
#define ONE(rg) 1, 1, { rg }

static const struct hostile table[] = {
	{ "empty buffer", U, 0, 0, 0, { }, 0, 0, VMHINT_WIRE_ERR_SHORT, 0 },
	{ "7 bytes of header", U, 0, ONE(GOOD_A), 7, 0, VMHINT_WIRE_ERR_SHORT, 0 },
	{ "header only, nr_ranges 1", U, 0, 1, 0, { }, NO_LEN, 0, VMHINT_WIRE_ERR_LENGTH, 0 },
	{ "nr_ranges 2, one range", U, 0, 2, 1, { GOOD_A }, NO_LEN, 0, VMHINT_WIRE_ERR_LENGTH, 0 },
	{ "nr_ranges 1, two ranges", U, 0, 1, 2, { GOOD_A, GOOD_C }, NO_LEN, 0,
	  VMHINT_WIRE_ERR_LENGTH, 0 },
	{ "one trailing byte", U, 0, ONE(GOOD_A), NO_LEN, 1, VMHINT_WIRE_ERR_LENGTH, 0 },
	{ "range cut by one byte", U, 0, ONE(GOOD_A), NO_LEN, -1, VMHINT_WIRE_ERR_LENGTH, 0 },
	{ "nr_ranges 0", U, 0, 0, 0, { }, NO_LEN, 0, VMHINT_WIRE_ERR_NO_RANGES, 0 },
	{ "nr_ranges max+1", U, 0, MAX_RANGES + 1, MAX_RANGES + 1,
	  { GOOD_A, GOOD_A, GOOD_A, GOOD_A, GOOD_A, GOOD_A, GOOD_A, GOOD_A, GOOD_A },
	  NO_LEN, 0, VMHINT_WIRE_ERR_TOO_MANY, 0 },
	/* 16 * 0x10000000 wraps a 32-bit size computation to 0 */
	{ "nr_ranges 2^28, size wraps to header", U, 0, 0x10000000, 0, { }, NO_LEN, 0,
	  VMHINT_WIRE_ERR_TOO_MANY, VMHINT_WIRE_ERR_LENGTH },
	{ "nr_ranges 2^28+1, size wraps to one range", U, 0, 0x10000001, 1, { GOOD_A },
	  NO_LEN, 0, VMHINT_WIRE_ERR_TOO_MANY, VMHINT_WIRE_ERR_LENGTH },
	{ "nr_ranges 0xffffffff", U, 0, 0xffffffff, 1, { GOOD_A }, NO_LEN, 0,
	  VMHINT_WIRE_ERR_TOO_MANY, VMHINT_WIRE_ERR_LENGTH },
	{ "op 0", 0, 0, ONE(GOOD_A), NO_LEN, 0, VMHINT_WIRE_ERR_OP, 0 },
	{ "op 3", 3, 0, ONE(GOOD_A), NO_LEN, 0, VMHINT_WIRE_ERR_OP, 0 },
	{ "op 0xffff", 0xffff, 0, ONE(GOOD_A), NO_LEN, 0, VMHINT_WIRE_ERR_OP, 0 },
	{ "op UNUSED big-endian", 0x0100, 0, ONE(GOOD_A), NO_LEN, 0, VMHINT_WIRE_ERR_OP, 0 },
	{ "flags 1", U, 1, ONE(GOOD_A), NO_LEN, 0, VMHINT_WIRE_ERR_FLAGS, 0 },
	{ "flags 0x8000", U, 0x8000, ONE(GOOD_A), NO_LEN, 0, VMHINT_WIRE_ERR_FLAGS, 0 },
	{ "gpa + 1", U, 0, ONE(R(1 * MiB + 1, PAGE)), NO_LEN, 0, VMHINT_WIRE_ERR_ALIGN, 0 },
	{ "gpa + 2048", U, 0, ONE(R(1 * MiB + 2048, PAGE)), NO_LEN, 0, VMHINT_WIRE_ERR_ALIGN, 0 },
	{ "len 4097", U, 0, ONE(R(1 * MiB, PAGE + 1)), NO_LEN, 0, VMHINT_WIRE_ERR_ALIGN, 0 },
	{ "len 2048", U, 0, ONE(R(1 * MiB, 2048)), NO_LEN, 0, VMHINT_WIRE_ERR_ALIGN, 0 },
	{ "len 0", U, 0, ONE(R(1 * MiB, 0)), NO_LEN, 0, VMHINT_WIRE_ERR_ZERO_LEN, 0 },
	{ "gpa + len wraps", U, 0, ONE(R(0xfffffffffffff000ULL, 0x2000)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_OVERFLOW, 0 },
	{ "len near 2^64 from A", U, 0, ONE(R(1 * MiB, 0xfffffffffff10000ULL)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_OVERFLOW, 0 },
	{ "ends exactly at 2^64", U, 0, ONE(R(0xfffffffffffff000ULL, PAGE)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_OVERFLOW, VMHINT_WIRE_ERR_OUTSIDE },
	{ "below RAM", U, 0, ONE(R(0, PAGE)), NO_LEN, 0, VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "page before A", U, 0, ONE(R(1 * MiB - PAGE, PAGE)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "straddles the start of A", U, 0, ONE(R(1 * MiB - PAGE, 2 * PAGE)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "in the hole", U, 0, ONE(R(3 * MiB, PAGE)), NO_LEN, 0, VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "from the hole into C", U, 0, ONE(R(5 * MiB - PAGE, 2 * PAGE)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "from B into the hole", U, 0, ONE(R(3 * MiB - PAGE, 2 * PAGE)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "across adjacent A and B", U, 0, ONE(R(2 * MiB - PAGE, 2 * PAGE)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_CROSS, 0 },
	{ "all of A and B", U, 0, ONE(R(1 * MiB, 2 * MiB)), NO_LEN, 0, VMHINT_WIRE_ERR_CROSS, 0 },
	{ "A, B and into the hole", U, 0, ONE(R(2 * MiB - PAGE, MiB + 2 * PAGE)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_CROSS, VMHINT_WIRE_ERR_OUTSIDE },
	{ "last byte past the end of C", U, 0, ONE(R(5 * MiB, MiB + PAGE)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "starts at the end of C", U, 0, ONE(R(6 * MiB, PAGE)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "1 TiB up", U, 0, ONE(R(1ULL << 40, PAGE)), NO_LEN, 0, VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "the whole lower half of the space", U, 0, ONE(R(0, 1ULL << 63)), NO_LEN, 0,
	  VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "good, good, misaligned", U, 0, 3, 3, { GOOD_A, GOOD_C, R(1 * MiB + 8 * PAGE + 1, PAGE) },
	  NO_LEN, 0, VMHINT_WIRE_ERR_ALIGN, 0 },
	{ "seven good, then in the hole", U, 0, 8, 8,
	  { GOOD_A, GOOD_B, GOOD_C, R(1 * MiB + PAGE, PAGE), R(1 * MiB + 2 * PAGE, PAGE),
	    R(5 * MiB + PAGE, PAGE), R(2 * MiB, MiB), R(3 * MiB, PAGE) },
	  NO_LEN, 0, VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "good, good, across A and B", U, 0, 3, 3, { GOOD_A, GOOD_C, R(2 * MiB - PAGE, 2 * PAGE) },
	  NO_LEN, 0, VMHINT_WIRE_ERR_CROSS, 0 },
	{ "good, zero length", U, 0, 2, 2, { GOOD_B, R(2 * MiB, 0) }, NO_LEN, 0,
	  VMHINT_WIRE_ERR_ZERO_LEN, 0 },
	{ "good, wrapping", U, 0, 2, 2, { GOOD_C, R(0xffffffffffff0000ULL, 0x20000) }, NO_LEN, 0,
	  VMHINT_WIRE_ERR_OVERFLOW, 0 },
	{ "bad first, good after", U, 0, 2, 2, { R(3 * MiB, PAGE), GOOD_A }, NO_LEN, 0,
	  VMHINT_WIRE_ERR_OUTSIDE, 0 },
	{ "STABLE into the hole", S, 0, 2, 2, { GOOD_A, R(4 * MiB, PAGE) }, NO_LEN, 0,
	  VMHINT_WIRE_ERR_OUTSIDE, 0 },
};

static bool status_expected(const struct hostile *h, int status)
{
	return status == h->want || (h->also && status == h->also);
}

/* Everything but the rejection counters stays as it was. */
static void assert_nothing_applied(const struct vmhint_stats *a, const struct vmhint_stats *b,
				   const char *what)
{
	ck_assert_msg(a->requests_unused == b->requests_unused &&
		      a->requests_stable == b->requests_stable &&
		      a->pages_unused == b->pages_unused && a->pages_stable == b->pages_stable,
		      "%s: counted as applied", what);
	ck_assert_msg(a->bytes_dropped_total == b->bytes_dropped_total && a->syscalls == b->syscalls,
		      "%s: something was dropped", what);
}

static void assert_counted_once(const struct vmhint_stats *before,
				const struct vmhint_stats *after, int status, uint64_t times,
				const char *what)
{
	for (int s = 1; s < VMHINT_WIRE_NR_STATUS; s++) {
		uint64_t want = before->rejected[s] + (s == status ? times : 0);

		ck_assert_msg(after->rejected[s] == want,
			      "%s: rejected[%s] is %lu, want %lu", what, vmhint_wire_status_name(s),
			      (unsigned long)after->rejected[s], (unsigned long)want);
	}
	ck_assert_msg(after->rejected_total == before->rejected_total + times,
		      "%s: rejected_total +%lu, want +%lu", what,
		      (unsigned long)(after->rejected_total - before->rejected_total),
		      (unsigned long)times);
}

static int send_hostile(struct guest *g, const struct hostile *h, struct vmhint_wire_resp *resp)
{
	size_t built, len;
	uint8_t *buf = wire_build(h->op, h->flags, h->nr_claimed, h->r, h->nr_given, &built);
	uint8_t *sized;
	int status;

	len = (h->len == NO_LEN ? built : h->len) + h->len_delta;
	/* An exact-size heap copy, so ASan sees any read past its end. */
	sized = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(sized);
	memset(sized, 0xa5, len);
	memcpy(sized, buf, len < built ? len : built);
	status = vmhint_wire_handle(g->ctx, sized, len, resp);
	free(sized);
	free(buf);
	return status;
}

START_TEST(hostile_table)
{
	struct guest g;

	ck_assert_uint_ge(sizeof(table) / sizeof(table[0]), 25);
	guest_boot(&g);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct hostile *h = &table[i];
		struct vmhint_stats before = stats_of(g.ctx), after;
		struct vmhint_wire_resp resp = { 0xdeadbeef, 0xdeadbeef };
		int status = send_hostile(&g, h, &resp);

		ck_assert_msg(status_expected(h, status), "\"%s\": status %s (%d), want %s",
			      h->name, vmhint_wire_status_name(status), status,
			      vmhint_wire_status_name(h->want));
		ck_assert_msg(le32toh(resp.status) == (uint32_t)status, "\"%s\": resp.status", h->name);
		ck_assert_msg(le32toh(resp.nr_done) == 0, "\"%s\": nr_done %u", h->name,
			      le32toh(resp.nr_done));
		/* the same request without a response buffer */
		ck_assert_int_eq(send_hostile(&g, h, NULL), status);
		after = stats_of(g.ctx);
		assert_counted_once(&before, &after, status, 2, h->name);
		assert_nothing_applied(&before, &after, h->name);
		assert_ram_untouched(&g, h->name);
	}
	guest_halt(&g);
}
END_TEST

/* A huge nr_ranges with a buffer that really holds that many ranges. */
START_TEST(huge_request_rejected)
{
	const uint32_t nr = 1u << 20;
	struct vmhint_range *r = malloc(nr * sizeof(*r));
	struct vmhint_stats before, after;
	struct vmhint_wire_resp resp;
	struct guest g;
	size_t len;
	void *buf;

	guest_boot(&g);
	for (uint32_t i = 0; i < nr; i++)
		r[i] = (struct vmhint_range){ 1 * MiB + (i % 256) * PAGE, PAGE };
	buf = wire_build(U, 0, nr, r, nr, &len);
	before = stats_of(g.ctx);
	ck_assert_int_eq(vmhint_wire_handle(g.ctx, buf, len, &resp), VMHINT_WIRE_ERR_TOO_MANY);
	ck_assert_uint_eq(le32toh(resp.nr_done), 0);
	after = stats_of(g.ctx);
	assert_counted_once(&before, &after, VMHINT_WIRE_ERR_TOO_MANY, 1, "2^20 ranges");
	assert_nothing_applied(&before, &after, "2^20 ranges");
	assert_ram_untouched(&g, "2^20 ranges");
	free(buf);
	free(r);
	guest_halt(&g);
}
END_TEST

START_TEST(null_buffer)
{
	struct vmhint_wire_resp resp;
	struct vmhint_stats before, after;
	struct guest g;

	guest_boot(&g);
	before = stats_of(g.ctx);
	ck_assert_int_eq(vmhint_wire_handle(g.ctx, NULL, 0, &resp), VMHINT_WIRE_ERR_SHORT);
	ck_assert_int_eq(vmhint_wire_handle(g.ctx, NULL, 24, &resp), VMHINT_WIRE_ERR_SHORT);
	after = stats_of(g.ctx);
	assert_counted_once(&before, &after, VMHINT_WIRE_ERR_SHORT, 2, "NULL buffer");
	assert_ram_untouched(&g, "NULL buffer");
	guest_halt(&g);
}
END_TEST

/* The positive control: a full request over all three regions. */
START_TEST(good_request_applied)
{
	static const struct vmhint_range r[MAX_RANGES] = {
		R(5 * MiB, 4 * PAGE), R(1 * MiB, PAGE), R(1 * MiB + PAGE, PAGE),
		R(2 * MiB, PAGE), R(3 * MiB - PAGE, PAGE), R(1 * MiB + 16 * PAGE, 16 * PAGE),
		R(6 * MiB - PAGE, PAGE), R(2 * MiB - PAGE, PAGE),
	};
	struct vmhint_wire_resp resp;
	struct vmhint_stats st;
	struct guest g;

	guest_boot(&g);
	ck_assert_int_eq(wire_send(g.ctx, U, r, MAX_RANGES, &resp), VMHINT_WIRE_OK);
	ck_assert_uint_eq(le32toh(resp.status), VMHINT_WIRE_OK);
	ck_assert_uint_eq(le32toh(resp.nr_done), MAX_RANGES);
	ck_assert_uint_eq(fd_bytes_allocated(g.m[1].fd), MiB - 2 * PAGE);
	ck_assert_uint_eq(resident_pages(g.m[0].hva, MiB), 256 - 19);
	ck_assert_uint_eq(resident_pages(g.m[2].hva, MiB), 256 - 5);
	ck_assert(range_is_zero(g.m[0].hva, 2 * PAGE));
	ck_assert(range_is_zero(g.m[0].hva + 16 * PAGE, 16 * PAGE));
	ck_assert_int_eq(pattern_bad_in(g.m[0].hva, 2 * PAGE, 14 * PAGE, 10), -1);
	ck_assert_int_eq(pattern_bad_in(g.m[0].hva, 32 * PAGE, MiB - 33 * PAGE, 10), -1);
	ck_assert_int_eq(pattern_bad_in(g.m[2].hva, 4 * PAGE, MiB - 5 * PAGE, 12), -1);
	st = stats_of(g.ctx);
	ck_assert_uint_eq(st.requests_unused, 1);
	ck_assert_uint_eq(st.pages_unused, 4 + 2 + 1 + 1 + 16 + 1 + 1);
	ck_assert_uint_eq(st.bytes_dropped_total, 26 * PAGE);
	ck_assert_uint_eq(st.rejected_total, 0);
	guest_halt(&g);
}
END_TEST

/* The direct API rejects what the wire rejects, counts it the same way. */
START_TEST(direct_api_rejections)
{
	static const struct {
		struct vmhint_range r;
		int64_t err;
		int status;
	} bad[] = {
		{ R(1 * MiB + 1, PAGE), -EINVAL, VMHINT_WIRE_ERR_ALIGN },
		{ R(1 * MiB, 0), -EINVAL, VMHINT_WIRE_ERR_ZERO_LEN },
		{ R(0xfffffffffffff000ULL, 0x2000), -EINVAL, VMHINT_WIRE_ERR_OVERFLOW },
		{ R(3 * MiB, PAGE), -EFAULT, VMHINT_WIRE_ERR_OUTSIDE },
		{ R(2 * MiB - PAGE, 2 * PAGE), -EFAULT, VMHINT_WIRE_ERR_CROSS },
	};
	struct vmhint_range many[MAX_RANGES + 1];
	struct vmhint_stats before, after;
	struct guest g;

	guest_boot(&g);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vmhint_range rs[2] = { GOOD_A, bad[i].r };

		before = stats_of(g.ctx);
		ck_assert_int_eq(vmhint_hint_ranges(g.ctx, U, rs, 2), bad[i].err);
		after = stats_of(g.ctx);
		assert_counted_once(&before, &after, bad[i].status, 1, "direct API");
		assert_nothing_applied(&before, &after, "direct API");
	}
	for (int i = 0; i < MAX_RANGES + 1; i++)
		many[i] = (struct vmhint_range)GOOD_C;
	before = stats_of(g.ctx);
	ck_assert_int_eq(vmhint_hint_ranges(g.ctx, U, many, MAX_RANGES + 1), -E2BIG);
	ck_assert_int_eq(vmhint_hint_ranges(g.ctx, 7, many, 1), -EINVAL);
	after = stats_of(g.ctx);
	ck_assert_uint_eq(after.rejected[VMHINT_WIRE_ERR_TOO_MANY],
			  before.rejected[VMHINT_WIRE_ERR_TOO_MANY] + 1);
	ck_assert_uint_eq(after.rejected[VMHINT_WIRE_ERR_OP], before.rejected[VMHINT_WIRE_ERR_OP] + 1);
	assert_ram_untouched(&g, "direct API");
	guest_halt(&g);
}
END_TEST

START_TEST(status_names)
{
	static const char *const want[VMHINT_WIRE_NR_STATUS] = {
		"ok", "short", "length", "op", "flags", "no_ranges", "too_many", "align",
		"zero_len", "overflow", "outside", "cross", "io",
	};

	for (int s = 0; s < VMHINT_WIRE_NR_STATUS; s++)
		ck_assert_str_eq(vmhint_wire_status_name(s), want[s]);
	ck_assert_str_eq(vmhint_wire_status_name(VMHINT_WIRE_NR_STATUS), "unknown");
	ck_assert_str_eq(vmhint_wire_status_name(-1), "unknown");
	ck_assert_uint_eq(sizeof(struct vmhint_wire_req), 8);
	ck_assert_uint_eq(sizeof(struct vmhint_wire_range), 16);
	ck_assert_uint_eq(sizeof(struct vmhint_wire_resp), 8);
	ck_assert_uint_eq(sizeof(struct vmhint_wire_config), 16);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("hostile");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hostile_table);
	tcase_add_test(tc, huge_request_rejected);
	tcase_add_test(tc, null_buffer);
	tcase_add_test(tc, direct_api_rejections);
	suite_add_tcase(s, tc);

	tc = tcase_create("good");
	tcase_add_test(tc, good_request_applied);
	tcase_add_test(tc, status_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(wire_suite());
}
