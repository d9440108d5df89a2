/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * testutil.h - what every libvmhint test needs: guest-RAM-like mappings of
 * each backing kind, ways to see what the kernel really did (mincore,
 * smaps, st_blocks, the huge page pool), page patterns to prove contents
 * survived, and wire request builders.
 *
 * Helpers abort the test (ck_abort) when the *machine* misbehaves, so that
 * a test never goes on measuring garbage.
 */
#ifndef VMHINT_TESTUTIL_H
#define VMHINT_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <vmhint.h>

#define PAGE 4096UL
#define HUGE_2M (2UL << 20)
#define MiB (1UL << 20)

enum tmem_kind {
	TMEM_ANON,           /* MAP_PRIVATE | MAP_ANONYMOUS */
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

/* Register @m at guest-physical @gpa; returns vmhint_region_add()'s result. */
int tmem_register(struct vmhint_ctx *ctx, const struct tmem *m, uint64_t gpa,
		  struct vmhint_region **out);
/* A context with @mode/@flags/@max_ranges (0: default); ck_abort()s on failure. */
struct vmhint_ctx *ctx_make(enum vmhint_mode mode, uint32_t flags, uint32_t max_ranges);

/* Page patterns: each 4 KiB page gets bytes derived from (seed, page index). */
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

/* Run @s and return main()'s exit status (0 all passed, 1 some failed). */
int run_suite(Suite *s);

/* Small deterministic PRNG (xorshift64*), so failures reproduce. */
uint64_t rng_next(uint64_t *state);
void shuffle_u64(uint64_t *v, size_t n, uint64_t *state);

#endif /* VMHINT_TESTUTIL_H */
