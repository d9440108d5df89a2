/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * testutil.h - what every libvmhint test needs, on the host (the Check
 * suites, tests/test_*.c) and inside a TCG guest (the static programs of
 * tests/vm/numa): guest-RAM-like mappings of each backing kind, ways to see
 * what the kernel really did (mincore, smaps, st_blocks, the huge page
 * pool, the node of a page), page patterns to prove contents survived, and
 * wire request builders.
 *
 * Built two ways from the same source: with Check (the default), a failed
 * CHECK() is ck_abort_msg(); with -DTESTUTIL_STANDALONE (the guest has no
 * libraries but the static ones we link), it prints "FAIL file:line: why"
 * and exits 1. Either way a test exits 77 to say it was skipped, with one
 * line of why.
 *
 * Helpers fail the test when the *machine* misbehaves, so that a test never
 * goes on measuring garbage.
 */
#ifndef VMHINT_TESTUTIL_H
#define VMHINT_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <vmhint.h>

#ifdef TESTUTIL_STANDALONE
#define FAIL(...) do { printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); \
		       printf("\n"); exit(1); } while (0)
#else
#include <check.h>
#define FAIL(...) ck_abort_msg(__VA_ARGS__)
#endif
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)
#define CHECK_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
			    if (_a != _b) FAIL("%s == %lld, expected %s == %lld", #a, _a, #b, _b); \
			  } while (0)

#define PAGE 4096UL
#define HUGE_2M (2UL << 20)
#define MiB (1UL << 20)
/* Where the tests put guest RAM: above 4 GiB, like QEMU's high RAM. */
#define GPA0 0x100000000ULL

enum tmem_kind {
	TMEM_ANON,           /* MAP_PRIVATE | MAP_ANONYMOUS; THP as the kernel decides */
	TMEM_ANON_4K,        /* the same with MADV_NOHUGEPAGE: 4 KiB pages only */
	TMEM_MEMFD,          /* memfd, MAP_SHARED, registered with its fd */
	TMEM_SHARED_ANON,    /* MAP_SHARED | MAP_ANONYMOUS, no fd: MADV_REMOVE */
	TMEM_FILE_PRIVATE,   /* a real file mapped MAP_PRIVATE */
	TMEM_HUGE_MEMFD,     /* memfd MFD_HUGETLB, MAP_SHARED */
	TMEM_HUGE_PRIVATE,   /* MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB */
};

/* One piece of test memory: a mapping and, for file kinds, its file. */
struct tmem {
	enum tmem_kind kind;
	uint8_t *hva;
	size_t len;
	int fd;              /* the file, or -1 for anonymous memory */
	uint64_t fd_offset;  /* file offset mapped at hva */
};

/* Map @len bytes of @kind, aligned to 2 MiB; ck_abort()s on failure. */
struct tmem tmem_map(enum tmem_kind kind, size_t len);
/* Like tmem_map() but may fail (returns false): for huge pages. */
bool tmem_try_map(enum tmem_kind kind, size_t len, struct tmem *out);
void tmem_unmap(struct tmem *m);
/* "anon", "anon-4k", "memfd"... for messages. */
const char *tmem_kind_name(enum tmem_kind kind);

/* Register @m at guest-physical @gpa; returns vmhint_region_add()'s result. */
int tmem_register(struct vmhint_ctx *ctx, const struct tmem *m, uint64_t gpa,
		  struct vmhint_region **out);
/* A context with @mode/@flags/@max_ranges (0: default); ck_abort()s on failure. */
struct vmhint_ctx *ctx_make(enum vmhint_mode mode, uint32_t flags, uint32_t max_ranges);
/* The same, but lazy mode never flushes by itself (1 TiB may be pending). */
struct vmhint_ctx *ctx_make_nolimit(enum vmhint_mode mode, uint32_t flags);

/*
 * Page patterns: each 4 KiB page gets words derived from (seed, page index).
 * PATTERN_STRIDE: the words of a page a pattern covers. Every word on the
 * host; every 8th in the guest, where filling under TCG is slow and
 * vm_numa_writers writes into the words in between.
 */
#ifdef TESTUTIL_STANDALONE
#define PATTERN_STRIDE 8
#else
#define PATTERN_STRIDE 1
#endif

void pattern_fill(void *p, size_t len, uint32_t seed);
/* Index of the first page of [p, p+len) that does not hold its pattern, or -1. */
long pattern_first_bad(const void *p, size_t len, uint32_t seed);
/* The same for [base+off, base+off+len) of a buffer filled from @base;
 * returns a page index counted from @base. */
long pattern_bad_in(const void *base, size_t off, size_t len, uint32_t seed);
/* Refill one page of a buffer filled from @base (restores a dropped page). */
void pattern_fill_page(void *base, uint64_t page, uint32_t seed);
bool page_is_zero(const void *p);
bool range_is_zero(const void *p, size_t len);

/* What the kernel says. */
size_t resident_pages(const void *p, size_t len);   /* mincore */
bool page_resident(const void *p);
uint64_t smaps_kb(const void *mapping, const char *field); /* e.g. "Rss:", "LazyFree:" */
uint64_t fd_bytes_allocated(int fd);                 /* st_blocks * 512 */
bool file_is_hole(int fd, uint64_t off, uint64_t len); /* SEEK_DATA says no data */

/* Counters. */
struct vmhint_stats stats_of(struct vmhint_ctx *ctx);

/* Huge page pool (2 MiB). Reservations are serialised between test
 * processes with a lock file and undone by huge_pool_restore(), which is
 * also registered with atexit(). */
bool huge_pool_reserve(unsigned long pages, char *why, size_t why_len);
void huge_pool_restore(void);
unsigned long huge_pool_free(void);

/* Wire requests. The returned buffer is malloc()ed; *len receives its size. */
void *wire_build(uint16_t op, uint16_t flags, uint32_t nr_claimed,
		 const struct vmhint_range *ranges, uint32_t nr_given, size_t *len);
/* Build and send a well-formed request; returns the status, fills @resp. */
int wire_send(struct vmhint_ctx *ctx, enum vmhint_op op, const struct vmhint_range *ranges,
	      uint32_t nr, struct vmhint_wire_resp *resp);

#ifndef TESTUTIL_STANDALONE
/* Run @s and return main()'s exit status (0 all passed, 1 some failed). */
int run_suite(Suite *s);

/*
 * KSM knobs are host-wide. ksm_suite_hold(): take the lock every KSM suite
 * holds while it runs (two programs saving and restoring the knobs at once
 * restore each other's boosted values), save the knobs, and put them back
 * at exit or on SIGINT/SIGTERM; ksm_suite_release() puts them back now.
 * ksm_test_setup/teardown: the same around one test (a checked fixture).
 */
void ksm_suite_hold(void);
void ksm_suite_release(void);
void ksm_test_setup(void);
void ksm_test_teardown(void);
#endif

/* NUMA, as the kernel sees it (move_pages(2) asked page by page). */
/* Exit 77 unless nodes 0 and 1 have memory (a two-node guest: tests/vm);
 * then first touch goes to node 0 whichever vCPU runs us. */
void need_two_nodes(void);
/* The node of the page at @p, or -errno if it has none. */
int page_node(const void *p);
/* Fail unless every page of [p, p + len) is on @node. */
void expect_node(const void *p, size_t len, int node, const char *what);
/* One line: the outcomes, retries, batches and time of a move. */
void print_numa_result(const char *what, const struct vmhint_numa_result *r);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t mono_ns(void);

/* Small deterministic PRNG (xorshift64*), so failures reproduce. */
uint64_t rng_next(uint64_t *state);
void shuffle_u64(uint64_t *v, size_t n, uint64_t *state);

#endif /* VMHINT_TESTUTIL_H */
