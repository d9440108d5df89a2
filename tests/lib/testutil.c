// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * testutil.c - test memory, kernel observations, patterns and wire
 * builders shared by the libvmhint Check suites and the guest programs.
 * See testutil.h.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <numaif.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#ifndef TESTUTIL_STANDALONE
#include <vmhint/ksm.h>
#endif

#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"
#define FREE_HUGEPAGES "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
#define HUGE_LOCK "/tmp/vmhint-tests-hugepages.lock"

/* Reserve address space and return a 2 MiB aligned address inside it, so
 * that tests see the same alignment QEMU gives guest RAM. */
static void *aligned_hole(size_t len)
{
	size_t span = len + HUGE_2M;
	uint8_t *p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	uint8_t *aligned;

	if (p == MAP_FAILED)
		return NULL;
	aligned = (uint8_t *)(((uintptr_t)p + HUGE_2M - 1) & ~(HUGE_2M - 1));
	if (aligned > p)
		munmap(p, aligned - p);
	if (aligned + len < p + span)
		munmap(aligned + len, p + span - (aligned + len));
	return aligned;
}

static int temp_file(size_t len)
{
	char path[] = "/tmp/vmhint-test-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	if (ftruncate(fd, (off_t)len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Make the file of a TMEM_FILE_PRIVATE mapping hold data, not holes: the
 * point of the test is that the library must not punch it. */
static bool file_write_pattern(int fd, size_t len)
{
	uint8_t *buf = malloc(len);
	bool ok;

	if (!buf)
		return false;
	pattern_fill(buf, len, 0xf11e);
	ok = pwrite(fd, buf, len, 0) == (ssize_t)len && fsync(fd) == 0;
	free(buf);
	return ok;
}

static bool map_fd_shared(struct tmem *m, size_t len, int fd, int extra_flags)
{
	void *at = aligned_hole(len);

	if (!at)
		return false;
	m->hva = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | extra_flags,
		      fd, 0);
	return m->hva != MAP_FAILED;
}

bool tmem_try_map(enum tmem_kind kind, size_t len, struct tmem *out)
{
	struct tmem m = { .kind = kind, .len = len, .fd = -1 };
	void *at;

	switch (kind) {
	case TMEM_ANON:
	case TMEM_ANON_4K:
	case TMEM_SHARED_ANON:
		at = aligned_hole(len);
		if (!at)
			return false;
		m.hva = mmap(at, len, PROT_READ | PROT_WRITE,
			     (kind == TMEM_SHARED_ANON ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS |
			     MAP_FIXED, -1, 0);
		if (kind == TMEM_ANON_4K && m.hva != MAP_FAILED &&
		    madvise(m.hva, len, MADV_NOHUGEPAGE) < 0)
			goto fail;
		break;
	case TMEM_MEMFD:
		m.fd = memfd_create("vmhint-test", MFD_CLOEXEC);
		if (m.fd < 0 || ftruncate(m.fd, (off_t)len) < 0 || !map_fd_shared(&m, len, m.fd, 0))
			goto fail;
		break;
	case TMEM_HUGE_MEMFD:
		m.fd = memfd_create("vmhint-test-huge", MFD_CLOEXEC | MFD_HUGETLB);
		if (m.fd < 0 || ftruncate(m.fd, (off_t)len) < 0 || !map_fd_shared(&m, len, m.fd, 0))
			goto fail;
		break;
	case TMEM_FILE_PRIVATE:
		m.fd = temp_file(len);
		if (m.fd < 0 || !file_write_pattern(m.fd, len))
			goto fail;
		at = aligned_hole(len);
		if (!at)
			goto fail;
		m.hva = mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, m.fd, 0);
		break;
	case TMEM_HUGE_PRIVATE:
		m.hva = mmap(NULL, len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		break;
	}
	if (m.hva == MAP_FAILED)
		goto fail;
	*out = m;
	return true;
fail:
	if (m.fd >= 0)
		close(m.fd);
	return false;
}

struct tmem tmem_map(enum tmem_kind kind, size_t len)
{
	struct tmem m;

	if (!tmem_try_map(kind, len, &m))
		FAIL("cannot map %zu bytes of test memory kind %s: %s", len,
		     tmem_kind_name(kind), strerror(errno));
	return m;
}

const char *tmem_kind_name(enum tmem_kind kind)
{
	static const char *const names[] = {
		[TMEM_ANON] = "anon", [TMEM_ANON_4K] = "anon-4k", [TMEM_MEMFD] = "memfd",
		[TMEM_SHARED_ANON] = "shared-anon", [TMEM_FILE_PRIVATE] = "file-private",
		[TMEM_HUGE_MEMFD] = "huge-memfd", [TMEM_HUGE_PRIVATE] = "huge-private",
	};

	return kind < sizeof(names) / sizeof(names[0]) && names[kind] ? names[kind] : "unknown";
}

void tmem_unmap(struct tmem *m)
{
	if (m->hva && m->hva != MAP_FAILED)
		munmap(m->hva, m->len);
	if (m->fd >= 0)
		close(m->fd);
	m->hva = NULL;
	m->fd = -1;
}

int tmem_register(struct vmhint_ctx *ctx, const struct tmem *m, uint64_t gpa,
		  struct vmhint_region **out)
{
	bool pass_fd = m->kind == TMEM_MEMFD || m->kind == TMEM_HUGE_MEMFD;
	struct vmhint_region_opts o = {
		.size = sizeof(o),
		.gpa = gpa,
		.hva = m->hva,
		.len = m->len,
		.fd = pass_fd ? m->fd : -1,
		.fd_offset = m->fd_offset,
		.name = "test-ram",
	};

	return vmhint_region_add(ctx, &o, out);
}

struct vmhint_ctx *ctx_make(enum vmhint_mode mode, uint32_t flags, uint32_t max_ranges)
{
	struct vmhint_ctx_opts o = {
		.size = sizeof(o),
		.mode = mode,
		.flags = flags,
		.max_ranges = max_ranges,
	};
	struct vmhint_ctx *ctx = NULL;
	int ret = vmhint_ctx_new(&o, &ctx);

	CHECK(ret == 0 && ctx, "vmhint_ctx_new failed: %d", ret);
	return ctx;
}

struct vmhint_ctx *ctx_make_nolimit(enum vmhint_mode mode, uint32_t flags)
{
	struct vmhint_ctx_opts o = {
		.size = sizeof(o),
		.mode = mode,
		.flags = flags,
		.lazy_max_pending = 1ULL << 40,
	};
	struct vmhint_ctx *ctx = NULL;
	int ret = vmhint_ctx_new(&o, &ctx);

	CHECK(ret == 0 && ctx, "vmhint_ctx_new failed: %d", ret);
	return ctx;
}

/* The pattern word: never zero, different for every (seed, page, word). */
static inline uint64_t pattern_word(uint32_t seed, uint64_t page, uint64_t word)
{
	uint64_t x = ((uint64_t)seed << 40) ^ (page << 9) ^ word;

	x *= 0x9e3779b97f4a7c15ULL;
	return (x ^ (x >> 29)) | 1;
}

void pattern_fill(void *p, size_t len, uint32_t seed)
{
	uint64_t *w = p;

	for (uint64_t pg = 0; pg < len / PAGE; pg++)
		for (uint64_t i = 0; i < PAGE / 8; i += PATTERN_STRIDE)
			w[pg * (PAGE / 8) + i] = pattern_word(seed, pg, i);
}

long pattern_bad_in(const void *base, size_t off, size_t len, uint32_t seed)
{
	const uint64_t *w = base;

	for (uint64_t pg = off / PAGE; pg < (off + len) / PAGE; pg++)
		for (uint64_t i = 0; i < PAGE / 8; i += PATTERN_STRIDE)
			if (w[pg * (PAGE / 8) + i] != pattern_word(seed, pg, i))
				return (long)pg;
	return -1;
}

long pattern_first_bad(const void *p, size_t len, uint32_t seed)
{
	return pattern_bad_in(p, 0, len, seed);
}

void pattern_fill_page(void *base, uint64_t page, uint32_t seed)
{
	uint64_t *w = (uint64_t *)((uint8_t *)base + page * PAGE);

	for (uint64_t i = 0; i < PAGE / 8; i += PATTERN_STRIDE)
		w[i] = pattern_word(seed, page, i);
}

bool range_is_zero(const void *p, size_t len)
{
	const uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	return true;
}

bool page_is_zero(const void *p)
{
	return range_is_zero(p, PAGE);
}

size_t resident_pages(const void *p, size_t len)
{
	size_t n = len / PAGE, count = 0;
	unsigned char *vec = malloc(n);

	CHECK(vec, "out of memory");
	CHECK(mincore((void *)p, len, vec) == 0, "mincore: %s", strerror(errno));
	for (size_t i = 0; i < n; i++)
		count += vec[i] & 1;
	free(vec);
	return count;
}

bool page_resident(const void *p)
{
	return resident_pages(p, PAGE) == 1;
}

/* Find the smaps block of the mapping starting at or containing @mapping. */
uint64_t smaps_kb(const void *mapping, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool inside = false;
	uint64_t val = UINT64_MAX;
	size_t flen = strlen(field);

	CHECK(f, "/proc/self/smaps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;

		/* Field lines ("Rss:", "AnonHugePages:") never parse as a range. */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2) {
			inside = (uintptr_t)mapping >= lo && (uintptr_t)mapping < hi;
			continue;
		}
		if (inside && !strncmp(line, field, flen)) {
			val = strtoull(line + flen, NULL, 10);
			break;
		}
	}
	fclose(f);
	CHECK(val != UINT64_MAX, "no %s for mapping %p in smaps", field, mapping);
	return val;
}

uint64_t fd_bytes_allocated(int fd)
{
	struct stat st;

	CHECK(fstat(fd, &st) == 0, "fstat: %s", strerror(errno));
	return (uint64_t)st.st_blocks * 512;
}

bool file_is_hole(int fd, uint64_t off, uint64_t len)
{
	off_t data = lseek(fd, (off_t)off, SEEK_DATA);

	/* ENXIO: no data at or after off at all. */
	if (data < 0)
		return errno == ENXIO;
	return (uint64_t)data >= off + len;
}

struct vmhint_stats stats_of(struct vmhint_ctx *ctx)
{
	struct vmhint_stats st = { .size = sizeof(st) };

	CHECK_EQ(vmhint_stats_get(ctx, &st), 0);
	return st;
}

/* --- huge page pool ---------------------------------------------------- */

static long huge_saved = -1;
static int huge_lock_fd = -1;
static pid_t huge_owner;   /* Check forks: only the reserving process restores */

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static bool write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", v) > 0;
	return fclose(f) == 0 && ok;
}

unsigned long huge_pool_free(void)
{
	long v = read_long(FREE_HUGEPAGES);

	CHECK(v >= 0, "cannot read " FREE_HUGEPAGES);
	return (unsigned long)v;
}

void huge_pool_restore(void)
{
	if (getpid() != huge_owner)
		return;
	if (huge_saved >= 0)
		write_long(NR_HUGEPAGES, huge_saved);
	huge_saved = -1;
	if (huge_lock_fd >= 0)
		close(huge_lock_fd);
	huge_lock_fd = -1;
}

bool huge_pool_reserve(unsigned long pages, char *why, size_t why_len)
{
	long have;

	huge_owner = getpid();
	huge_lock_fd = open(HUGE_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (huge_lock_fd < 0 || flock(huge_lock_fd, LOCK_EX) < 0) {
		snprintf(why, why_len, "cannot lock %s: %s", HUGE_LOCK, strerror(errno));
		return false;
	}
	huge_saved = read_long(NR_HUGEPAGES);
	if (huge_saved < 0 || read_long(FREE_HUGEPAGES) < 0) {
		snprintf(why, why_len, "no 2 MiB huge page support (%s, %s)", NR_HUGEPAGES,
			 FREE_HUGEPAGES);
		huge_saved = -1;
		return false;
	}
	atexit(huge_pool_restore);
	if (!write_long(NR_HUGEPAGES, huge_saved + (long)pages)) {
		snprintf(why, why_len, "cannot write %s (not root?): %s", NR_HUGEPAGES,
			 strerror(errno));
		return false;
	}
	have = read_long(FREE_HUGEPAGES);
	if (have < (long)pages) {
		snprintf(why, why_len, "the kernel gave only %ld free 2 MiB huge pages of %lu",
			 have, pages);
		huge_pool_restore();
		return false;
	}
	return true;
}

/* --- wire --------------------------------------------------------------- */

void *wire_build(uint16_t op, uint16_t flags, uint32_t nr_claimed,
		 const struct vmhint_range *ranges, uint32_t nr_given, size_t *len)
{
	struct vmhint_wire_req req = {
		.op = htole16(op),
		.flags = htole16(flags),
		.nr_ranges = htole32(nr_claimed),
	};
	size_t size = sizeof(req) + (size_t)nr_given * sizeof(struct vmhint_wire_range);
	uint8_t *buf = malloc(size ? size : 1);

	CHECK(buf, "out of memory");
	memcpy(buf, &req, sizeof(req));
	for (uint32_t i = 0; i < nr_given; i++) {
		struct vmhint_wire_range w = {
			.gpa = htole64(ranges[i].gpa),
			.len = htole64(ranges[i].len),
		};

		memcpy(buf + sizeof(req) + i * sizeof(w), &w, sizeof(w));
	}
	*len = size;
	return buf;
}

int wire_send(struct vmhint_ctx *ctx, enum vmhint_op op, const struct vmhint_range *ranges,
	      uint32_t nr, struct vmhint_wire_resp *resp)
{
	size_t len;
	void *buf = wire_build((uint16_t)op, 0, nr, ranges, nr, &len);
	int status = vmhint_wire_handle(ctx, buf, len, resp);

	free(buf);
	return status;
}

uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

void shuffle_u64(uint64_t *v, size_t n, uint64_t *state)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rng_next(state) % i;
		uint64_t t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- NUMA ---------------------------------------------------------------- */

void need_two_nodes(void)
{
	unsigned long node0 = 1;
	uint64_t nodes = 0;
	int err = vmhint_numa_nodes(&nodes);

	if (err || (nodes & 3) != 3) {
		printf("SKIP: needs host nodes 0 and 1 with memory (mask 0x%llx, err %d): "
		       "run in tests/vm/run-vm --nodes 2\n", (unsigned long long)nodes, err);
		exit(77);
	}
	/* First touch on node 0 whichever vCPU we run on; mbind()s still win. */
	CHECK(set_mempolicy(MPOL_PREFERRED, &node0, 2) == 0, "set_mempolicy: %s",
	      strerror(errno));
}

int page_node(const void *p)
{
	void *addr = (void *)p;
	int status = -1;

	CHECK(move_pages(0, 1, &addr, NULL, &status, 0) == 0, "move_pages query: %s",
	      strerror(errno));
	return status;
}

void expect_node(const void *p, size_t len, int node, const char *what)
{
	for (size_t off = 0; off < len; off += PAGE) {
		int n = page_node((const uint8_t *)p + off);

		CHECK(n == node, "%s: page %zu is on node %d, expected %d", what, off / PAGE, n,
		      node);
	}
}

void print_numa_result(const char *what, const struct vmhint_numa_result *r)
{
	printf("%s:", what);
	for (int i = 0; i < VMHINT_NUMA_NR_OUTCOMES; i++)
		if (r->pages[i])
			printf(" %s=%llu", vmhint_numa_outcome_name(i),
			       (unsigned long long)r->pages[i]);
	printf(" retries=%llu batches=%llu max_batch=%lluus time=%llums\n",
	       (unsigned long long)r->retries, (unsigned long long)r->batches,
	       (unsigned long long)r->max_batch_ns / 1000, (unsigned long long)r->time_ns / 1000000);
}

#ifndef TESTUTIL_STANDALONE
int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define KSM_TEST_LOCK "/tmp/vmhint-tests-ksm.lock"

static struct vmhint_ksm_knobs suite_knobs = { .size = sizeof(suite_knobs) };
static bool suite_knobs_saved;
static struct vmhint_ksm_knobs test_knobs = { .size = sizeof(test_knobs) };
static bool test_knobs_saved;

void ksm_suite_release(void)
{
	if (suite_knobs_saved)
		vmhint_ksm_knobs_restore(&suite_knobs);
}

static void ksm_on_signal(int sig)
{
	ksm_suite_release();
	signal(sig, SIG_DFL);
	raise(sig);
}

void ksm_suite_hold(void)
{
	int lock = open(KSM_TEST_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	/* Held until exit: the fd is never closed. */
	if (lock < 0 || flock(lock, LOCK_EX)) {
		perror(KSM_TEST_LOCK);
		exit(99);
	}
	suite_knobs_saved = vmhint_ksm_knobs_get(&suite_knobs) == 0;
	atexit(ksm_suite_release);
	signal(SIGINT, ksm_on_signal);
	signal(SIGTERM, ksm_on_signal);
}

void ksm_test_setup(void)
{
	test_knobs_saved = vmhint_ksm_knobs_get(&test_knobs) == 0;
}

void ksm_test_teardown(void)
{
	if (test_knobs_saved)
		vmhint_ksm_knobs_restore(&test_knobs);
}
#endif
