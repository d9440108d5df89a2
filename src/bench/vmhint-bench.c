// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmhint-bench - how fast guest hints turn into dropped frames.
 *
 * Replays hint streams on a populated guest-RAM-like region and compares
 * three ways of dropping the same pages, measured in the same run, and the
 * engine's own cost:
 *
 *   baseline  one discard call per range, as QEMU's balloon handler does
 *             (madvise(MADV_DONTNEED) for anonymous memory, fallocate
 *             punch per range for memfd and hugetlbfs);
 *   engine    wire requests of max_ranges ranges through
 *             vmhint_wire_handle(), the parser included;
 *   floor     one call over the whole region: the least the kernel needs;
 *   engine_no_drop  the engine with discards inhibited: its own cost.
 *
 * Patterns:
 *   2m-reports    2 MiB blocks, 32 per request, as Linux free page
 *                 reporting sends them (address order: contiguous)
 *   4k-scattered  every other 4 KiB page, random order
 *   4k-runs16     16-page runs with 16-page gaps, runs in random order,
 *                 each page sent as its own 4 KiB range
 *   4k-seq        every 4 KiB page in address order (contiguous)
 *
 * Every timed run starts from a fully populated region (untimed) and is
 * checked afterwards (mincore or st_blocks): an engine that drops nothing
 * does not get a number. Prints JSON; performance goals are printed as
 * booleans, not enforced.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <vmhint.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE 4096ULL
#define HUGE (2ULL << 20)
#define REPORT_CAPACITY 32   /* Linux PAGE_REPORTING_CAPACITY */
#define MAX_RUNS 15
#define GUEST_BASE (4ULL << 30)
#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"

enum backing { B_ANON, B_MEMFD, B_HUGETLB, NR_BACKINGS };
enum pattern { P_2M, P_4K_SCATTERED, P_4K_RUNS16, P_4K_SEQ, NR_PATTERNS };
/* M_BOOKKEEPING: the engine with discards inhibited: the library's cost up
 * to the drop decision (parser, checks, sort, coalescing, locks), without
 * page states or system calls. What is left of "engine" is the kernel's. */
enum method { M_BASELINE, M_ENGINE, M_FLOOR, M_BOOKKEEPING, NR_METHODS };

static const char *const backing_name[] = { "anon", "memfd", "hugetlbfs" };
static const char *const pattern_name[] = { "2m-reports", "4k-scattered", "4k-runs16", "4k-seq" };
static const char *const method_name[] = { "baseline", "engine", "floor", "engine_no_drop" };

struct opts {
	uint64_t size;
	int runs;
	uint32_t max_ranges;
	bool want_backing[NR_BACKINGS];
};

/* Guest RAM of one backing. */
struct ram {
	enum backing kind;
	uint8_t *hva;
	uint64_t size;
	int fd;
};

/* A hint stream: ranges (offsets into the region) in the order sent. */
struct stream {
	enum pattern pattern;
	struct vmhint_range *r;
	uint64_t nr;
	uint64_t hinted_bytes;
	uint32_t per_request;
	bool contiguous;          /* the hinted pages form one range */
	uint32_t flags;           /* context flags the engine needs */
	void **req;               /* prebuilt wire requests */
	size_t *req_len;
	uint64_t nr_req;
};

struct measure {
	bool done;
	double median_s;      /* wall clock */
	double cpu_median_s;  /* CPU time of the thread: steadier on a busy host */
	uint64_t syscalls;
	bool verified;
};

struct result {
	enum backing backing;
	enum pattern pattern;
	struct stream *s;
	struct measure m[NR_METHODS];
	const char *baseline_note;
};

static long huge_saved = -1;

/* ---- small utilities ---------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dULL;
}

static void shuffle(uint64_t *v, uint64_t n, uint64_t seed)
{
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = rng_next(&seed) % i, t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "vmhint-bench: out of memory\n");
		exit(1);
	}
	return p;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
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

/* ---- the huge page pool: raise for the run, always restore ------------- */

static void huge_restore(void)
{
	if (huge_saved >= 0)
		write_long(NR_HUGEPAGES, huge_saved);
	huge_saved = -1;
}

static void huge_restore_and_die(int sig)
{
	huge_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static bool huge_reserve(uint64_t pages, char *why, size_t why_len)
{
	long have;

	huge_saved = read_long(NR_HUGEPAGES);
	if (huge_saved < 0) {
		snprintf(why, why_len, "no hugetlb support (%s)", NR_HUGEPAGES);
		return false;
	}
	atexit(huge_restore);
	signal(SIGINT, huge_restore_and_die);
	signal(SIGTERM, huge_restore_and_die);
	if (!write_long(NR_HUGEPAGES, huge_saved + (long)pages)) {
		snprintf(why, why_len, "cannot raise %s: %s", NR_HUGEPAGES, strerror(errno));
		huge_restore();
		return false;
	}
	have = read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
	if (have < (long)pages) {
		snprintf(why, why_len, "only %ld free 2 MiB huge pages, %llu needed", have,
			 (unsigned long long)pages);
		huge_restore();
		return false;
	}
	return true;
}

/* ---- guest RAM ----------------------------------------------------------- */

static bool ram_map(struct ram *ram, enum backing kind, uint64_t size, char *why, size_t wl)
{
	unsigned int mfd_flags = MFD_CLOEXEC | (kind == B_HUGETLB ? MFD_HUGETLB : 0);

	*ram = (struct ram){ .kind = kind, .size = size, .fd = -1 };
	if (kind == B_ANON) {
		ram->hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	} else {
		ram->fd = memfd_create("vmhint-bench", mfd_flags);
		if (ram->fd < 0 || ftruncate(ram->fd, (off_t)size) < 0) {
			snprintf(why, wl, "memfd: %s", strerror(errno));
			return false;
		}
		ram->hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ram->fd, 0);
	}
	if (ram->hva == MAP_FAILED) {
		snprintf(why, wl, "mmap: %s", strerror(errno));
		return false;
	}
	return true;
}

static void ram_unmap(struct ram *ram)
{
	munmap(ram->hva, ram->size);
	if (ram->fd >= 0)
		close(ram->fd);
}

/* Fault every page in, writable, as a running guest would have them. */
static void ram_populate(struct ram *ram)
{
	uint64_t step = ram->kind == B_HUGETLB ? HUGE : PAGE;

	if (madvise(ram->hva, ram->size, MADV_POPULATE_WRITE) == 0)
		return;
	for (uint64_t off = 0; off < ram->size; off += step)
		ram->hva[off] = 1;
}

static uint64_t ram_resident_pages(struct ram *ram)
{
	uint64_t n = ram->size / PAGE, count = 0;
	unsigned char *vec = xcalloc(n, 1);

	if (mincore(ram->hva, ram->size, vec) == 0)
		for (uint64_t i = 0; i < n; i++)
			count += vec[i] & 1;
	free(vec);
	return count;
}

static uint64_t ram_file_bytes(struct ram *ram)
{
	struct stat st;

	return fstat(ram->fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

/* ---- hint streams -------------------------------------------------------- */

static void stream_add(struct stream *s, uint64_t off, uint64_t len)
{
	s->r[s->nr++] = (struct vmhint_range){ GUEST_BASE + off, len };
	s->hinted_bytes += len;
}

static void build_pattern(struct stream *s, uint64_t size)
{
	uint64_t pages = size / PAGE, *order;

	switch (s->pattern) {
	case P_2M:
		s->r = xcalloc(size / HUGE, sizeof(*s->r));
		for (uint64_t off = 0; off < size; off += HUGE)
			stream_add(s, off, HUGE);
		break;
	case P_4K_SCATTERED:
		s->r = xcalloc(pages / 2, sizeof(*s->r));
		order = xcalloc(pages / 2, sizeof(*order));
		for (uint64_t i = 0; i < pages / 2; i++)
			order[i] = 2 * i;
		shuffle(order, pages / 2, 0x5ca7);
		for (uint64_t i = 0; i < pages / 2; i++)
			stream_add(s, order[i] * PAGE, PAGE);
		free(order);
		break;
	case P_4K_RUNS16:
		s->r = xcalloc(pages / 2, sizeof(*s->r));
		order = xcalloc(pages / 32, sizeof(*order));
		for (uint64_t i = 0; i < pages / 32; i++)
			order[i] = 32 * i;
		shuffle(order, pages / 32, 0x1616);
		for (uint64_t i = 0; i < pages / 32; i++)
			for (uint64_t p = 0; p < 16; p++)
				stream_add(s, (order[i] + p) * PAGE, PAGE);
		free(order);
		break;
	case P_4K_SEQ:
		s->r = xcalloc(pages, sizeof(*s->r));
		for (uint64_t i = 0; i < pages; i++)
			stream_add(s, i * PAGE, PAGE);
		break;
	default:
		break;
	}
}

/* Wire requests, little-endian, as a guest driver would queue them. */
static void build_requests(struct stream *s)
{
	s->nr_req = (s->nr + s->per_request - 1) / s->per_request;
	s->req = xcalloc(s->nr_req, sizeof(*s->req));
	s->req_len = xcalloc(s->nr_req, sizeof(*s->req_len));
	for (uint64_t q = 0; q < s->nr_req; q++) {
		uint64_t first = q * s->per_request;
		uint32_t n = (uint32_t)(s->nr - first < s->per_request ? s->nr - first : s->per_request);
		struct vmhint_wire_req hdr = {
			.op = htole16(VMHINT_OP_UNUSED),
			.nr_ranges = htole32(n),
		};
		uint8_t *buf;

		s->req_len[q] = sizeof(hdr) + n * sizeof(struct vmhint_wire_range);
		buf = s->req[q] = xcalloc(1, s->req_len[q]);
		memcpy(buf, &hdr, sizeof(hdr));
		for (uint32_t i = 0; i < n; i++) {
			struct vmhint_wire_range w = {
				.gpa = htole64(s->r[first + i].gpa),
				.len = htole64(s->r[first + i].len),
			};

			memcpy(buf + sizeof(hdr) + i * sizeof(w), &w, sizeof(w));
		}
	}
}

static struct stream *stream_new(enum pattern p, uint64_t size, uint32_t max_ranges,
				 enum backing b)
{
	struct stream *s = xcalloc(1, sizeof(*s));

	s->pattern = p;
	s->per_request = p == P_2M ? REPORT_CAPACITY : max_ranges;
	s->contiguous = p == P_2M || p == P_4K_SEQ;
	/* 4 KiB hints add up to huge pages only when the guest promises
	 * STABLE before reuse (vmhint/context.h). */
	if (b == B_HUGETLB && p != P_2M)
		s->flags = VMHINT_CTX_GUEST_STABLE_HINTS;
	build_pattern(s, size);
	build_requests(s);
	return s;
}

static void stream_free(struct stream *s)
{
	for (uint64_t q = 0; q < s->nr_req; q++)
		free(s->req[q]);
	free(s->req);
	free(s->req_len);
	free(s->r);
	free(s);
}

/* ---- the three ways to drop --------------------------------------------- */

static int drop_call(struct ram *ram, uint64_t off, uint64_t len)
{
	if (ram->kind == B_ANON)
		return madvise(ram->hva + off, len, MADV_DONTNEED);
	return fallocate(ram->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			 (off_t)len);
}

static uint64_t run_baseline(struct ram *ram, struct stream *s)
{
	for (uint64_t i = 0; i < s->nr; i++)
		if (drop_call(ram, s->r[i].gpa - GUEST_BASE, s->r[i].len)) {
			fprintf(stderr, "vmhint-bench: baseline drop failed: %s\n", strerror(errno));
			exit(1);
		}
	return s->nr;
}

static uint64_t run_floor(struct ram *ram, struct stream *s)
{
	if (drop_call(ram, 0, ram->size)) {
		fprintf(stderr, "vmhint-bench: floor drop failed: %s\n", strerror(errno));
		exit(1);
	}
	return 1;
}

static struct vmhint_ctx *engine_ctx(struct ram *ram, struct stream *s)
{
	struct vmhint_ctx_opts o = {
		.size = sizeof(o),
		.mode = VMHINT_MODE_SYNC,
		.flags = s->flags,
		.max_ranges = s->per_request,
	};
	struct vmhint_region_opts ro = {
		.size = sizeof(ro), .gpa = GUEST_BASE, .hva = ram->hva, .len = ram->size,
		.fd = ram->fd, .name = backing_name[ram->kind],
	};
	struct vmhint_ctx *ctx;
	int err = vmhint_ctx_new(&o, &ctx);

	if (!err)
		err = vmhint_region_add(ctx, &ro, NULL);
	if (err) {
		fprintf(stderr, "vmhint-bench: cannot set up the engine: %s\n", strerror(-err));
		exit(1);
	}
	return ctx;
}

static void run_engine_requests(struct vmhint_ctx *ctx, struct stream *s)
{
	for (uint64_t q = 0; q < s->nr_req; q++) {
		int status = vmhint_wire_handle(ctx, s->req[q], s->req_len[q], NULL);

		if (status != VMHINT_WIRE_OK) {
			fprintf(stderr, "vmhint-bench: request %llu: %s\n", (unsigned long long)q,
				vmhint_wire_status_name(status));
			exit(1);
		}
	}
}

/* ---- checking that the pages were really dropped ------------------------- */

/* Bytes a method must have dropped: every hinted byte for small pages;
 * for huge pages, the huge pages all of whose parts were hinted. */
static uint64_t expected_dropped(struct ram *ram, struct stream *s, enum method m)
{
	uint64_t nr_huge = ram->size / HUGE, full = 0;
	uint32_t *parts;

	if (m == M_FLOOR)
		return ram->size;
	if (m == M_BOOKKEEPING)
		return 0;
	if (ram->kind != B_HUGETLB)
		return s->hinted_bytes;
	parts = xcalloc(nr_huge, sizeof(*parts));
	for (uint64_t i = 0; i < s->nr; i++)
		for (uint64_t off = s->r[i].gpa - GUEST_BASE; off < s->r[i].gpa - GUEST_BASE + s->r[i].len;
		     off += PAGE)
			parts[off / HUGE]++;
	for (uint64_t h = 0; h < nr_huge; h++)
		full += parts[h] == HUGE / PAGE;
	free(parts);
	return full * HUGE;
}

static bool verify(struct ram *ram, struct stream *s, enum method m)
{
	uint64_t want = ram->size - expected_dropped(ram, s, m);

	if (ram->kind == B_ANON)
		return ram_resident_pages(ram) * PAGE == want;
	return ram_file_bytes(ram) == want;
}

/* ---- measuring ---------------------------------------------------------- */

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One timed drop from a fully populated region; false if it dropped the
 * wrong amount. */
static bool run_once(struct ram *ram, struct stream *s, enum method m, double *secs,
		     double *cpu, uint64_t *syscalls)
{
	struct vmhint_ctx *ctx = NULL;
	double t0, c0;

	ram_populate(ram);
	if (m == M_ENGINE || m == M_BOOKKEEPING)
		ctx = engine_ctx(ram, s);
	if (m == M_BOOKKEEPING && vmhint_discard_inhibit(ctx, true) != 1)
		exit(1);
	c0 = thread_cpu_s();
	t0 = now_s();
	if (m == M_BASELINE)
		*syscalls = run_baseline(ram, s);
	else if (m == M_FLOOR)
		*syscalls = run_floor(ram, s);
	else
		run_engine_requests(ctx, s);
	*secs = now_s() - t0;
	*cpu = thread_cpu_s() - c0;
	if (ctx) {
		struct vmhint_stats st = { .size = sizeof(st) };

		vmhint_stats_get(ctx, &st);
		*syscalls = st.syscalls;
		vmhint_ctx_free(ctx);
	}
	return verify(ram, s, m);
}

/*
 * The methods take turns within each round, and the first turn rotates,
 * so that drift of the machine (other load, the hypervisor taking back
 * freed memory) and the state one method leaves for the next hit all of
 * them alike.
 */
static void measure_all(struct ram *ram, struct stream *s, int runs, struct result *r)
{
	double secs[NR_METHODS][MAX_RUNS], cpu[NR_METHODS][MAX_RUNS];

	for (int m = 0; m < NR_METHODS; m++)
		r->m[m].verified = true;
	for (int i = 0; i < runs; i++)
		for (int k = 0; k < NR_METHODS; k++) {
			/* rotate who goes first: what ran just before matters */
			int m = (k + i) % NR_METHODS;

			if (m == M_BASELINE && r->baseline_note)
				continue;
			r->m[m].verified &= run_once(ram, s, m, &secs[m][i], &cpu[m][i],
						     &r->m[m].syscalls);
		}
	for (int m = 0; m < NR_METHODS; m++) {
		if (m == M_BASELINE && r->baseline_note)
			continue;
		r->m[m].median_s = median(secs[m], runs);
		r->m[m].cpu_median_s = median(cpu[m], runs);
		r->m[m].done = true;
	}
}

/* ---- JSON ---------------------------------------------------------------- */

static double gib_s(const struct stream *s, const struct measure *m)
{
	return m->median_s > 0 ? (double)s->hinted_bytes / m->median_s / (1 << 30) : 0;
}

/* Speed of the engine relative to another method (> 1: the engine is
 * faster), by wall clock or by CPU time. */
static double speedup_by(const struct result *r, enum method other, bool cpu)
{
	const struct measure *e = &r->m[M_ENGINE], *o = &r->m[other];
	double te = cpu ? e->cpu_median_s : e->median_s, to = cpu ? o->cpu_median_s : o->median_s;

	return e->done && o->done && te > 0 ? to / te : 0;
}

static double speedup(const struct result *r, enum method other)
{
	return speedup_by(r, other, false);
}

static void print_measure(const struct result *r, enum method m, bool last)
{
	const struct measure *x = &r->m[m];

	if (!x->done) {
		printf("      \"%s\": null,\n", method_name[m]);
		return;
	}
	printf("      \"%s\": {\"median_s\": %.6f, \"gib_s\": %.3f, \"cpu_median_s\": %.6f, "
	       "\"syscalls\": %llu, \"verified\": %s}%s\n", method_name[m], x->median_s,
	       gib_s(r->s, x), x->cpu_median_s, (unsigned long long)x->syscalls,
	       x->verified ? "true" : "false", last ? "" : ",");
}

static void print_result_goals(const struct result *r);

static void print_result(const struct result *r, bool last)
{
	printf("    {\n      \"backing\": \"%s\", \"pattern\": \"%s\",\n",
	       backing_name[r->backing], pattern_name[r->pattern]);
	printf("      \"ranges\": %llu, \"requests\": %llu, \"hinted_bytes\": %llu, "
	       "\"contiguous\": %s, \"guest_stable_hints\": %s,\n",
	       (unsigned long long)r->s->nr, (unsigned long long)r->s->nr_req,
	       (unsigned long long)r->s->hinted_bytes, r->s->contiguous ? "true" : "false",
	       r->s->flags ? "true" : "false");
	if (r->baseline_note)
		printf("      \"baseline_note\": \"%s\",\n", r->baseline_note);
	printf("      \"engine_vs_baseline\": %.3f, \"engine_vs_floor\": %.3f, "
	       "\"engine_vs_baseline_cpu\": %.3f, \"engine_vs_floor_cpu\": %.3f,\n",
	       speedup(r, M_BASELINE), speedup(r, M_FLOOR), speedup_by(r, M_BASELINE, true),
	       speedup_by(r, M_FLOOR, true));
	print_result_goals(r);
	print_measure(r, M_BASELINE, false);
	print_measure(r, M_ENGINE, false);
	print_measure(r, M_FLOOR, false);
	print_measure(r, M_BOOKKEEPING, true);
	printf("    }%s\n", last ? "" : ",");
}

/* ---- goals ---------------------------------------------------------------- */

enum goal { G_ANON_4K_3X, G_2M_095X, G_FLOOR_125, NR_GOALS };

static const struct {
	const char *name;   /* key in the JSON */
	enum method vs;
	double min_speedup; /* engine speed / other method's speed */
} goal_def[NR_GOALS] = {
	[G_ANON_4K_3X] = { "anon_4k_patterns_engine_ge_3x_baseline", M_BASELINE, 3.0 },
	[G_2M_095X] = { "reports_2m_engine_ge_0.95x_baseline_every_backing", M_BASELINE, 0.95 },
	/* "within 1.25x of the floor": engine time <= 1.25 x floor time */
	[G_FLOOR_125] = { "contiguous_engine_within_1.25x_floor", M_FLOOR, 1 / 1.25 },
};

static bool goal_applies(const struct result *r, enum goal g)
{
	switch (g) {
	case G_ANON_4K_3X:
		return r->backing == B_ANON &&
		       (r->pattern == P_4K_SCATTERED || r->pattern == P_4K_RUNS16);
	case G_2M_095X:
		return r->pattern == P_2M && r->m[M_BASELINE].done;
	case G_FLOOR_125:
		return r->s->contiguous;
	default:
		return false;
	}
}

/* Met only by an engine that really dropped what it should; judged by
 * wall clock (the goal as stated) or by CPU time (steadier on a busy host). */
static bool goal_met(const struct result *r, enum goal g, bool cpu)
{
	return r->m[M_ENGINE].verified &&
	       speedup_by(r, goal_def[g].vs, cpu) >= goal_def[g].min_speedup;
}

static void print_result_goals(const struct result *r)
{
	for (int cpu = 0; cpu < 2; cpu++) {
		const char *sep = "";

		printf("      \"%s\": {", cpu ? "goals_cpu_time" : "goals");
		for (int g = 0; g < NR_GOALS; g++)
			if (goal_applies(r, g)) {
				printf("%s\"%s\": %s", sep, goal_def[g].name,
				       goal_met(r, g, cpu) ? "true" : "false");
				sep = ", ";
			}
		printf("},\n");
	}
}

struct goals {
	bool met[2][NR_GOALS], all_verified;
	int checked[NR_GOALS];
};

static void judge(const struct result *r, struct goals *g)
{
	g->all_verified &= r->m[M_ENGINE].verified &&
			   (!r->m[M_BASELINE].done || r->m[M_BASELINE].verified) &&
			   r->m[M_FLOOR].verified;
	for (int i = 0; i < NR_GOALS; i++)
		if (goal_applies(r, i)) {
			g->met[0][i] &= goal_met(r, i, false);
			g->met[1][i] &= goal_met(r, i, true);
			g->checked[i]++;
		}
}

static void print_goals(const struct goals *g)
{
	for (int cpu = 0; cpu < 2; cpu++) {
		printf("  \"%s\": {\n", cpu ? "goals_cpu_time" : "goals");
		for (int i = 0; i < NR_GOALS; i++)
			printf("    \"%s\": %s%s\n", goal_def[i].name,
			       !g->checked[i] ? "null" : g->met[cpu][i] ? "true" : "false",
			       cpu && i == NR_GOALS - 1 ? "" : ",");
		if (!cpu)
			printf("    \"every_run_dropped_what_it_should\": %s\n",
			       g->all_verified ? "true" : "false");
		printf("  }%s\n", cpu ? "" : ",");
	}
}

/* ---- main ------------------------------------------------------------------ */

static bool pattern_applies(enum backing b, enum pattern p)
{
	/* On hugetlbfs only whole 2 MiB pages can go; the 4 KiB streams that
	 * never complete one (scattered, runs with gaps) measure nothing. */
	return b != B_HUGETLB || p == P_2M || p == P_4K_SEQ;
}

static int bench_backing(const struct opts *o, enum backing b, struct result *res, int nres,
			 char *why, size_t wl)
{
	struct ram ram;

	if (b == B_HUGETLB && !huge_reserve(o->size / HUGE, why, wl))
		return -1;
	if (!ram_map(&ram, b, o->size, why, wl))
		return -1;
	for (int p = 0; p < NR_PATTERNS; p++) {
		struct result *r = &res[nres];

		if (!pattern_applies(b, p))
			continue;
		*r = (struct result){ .backing = b, .pattern = p };
		r->s = stream_new(p, o->size, o->max_ranges, b);
		if (b == B_HUGETLB && p != P_2M)
			r->baseline_note = "a 4 KiB punch cannot free part of a huge page";
		measure_all(&ram, r->s, o->runs, r);
		nres++;
	}
	ram_unmap(&ram);
	if (b == B_HUGETLB)
		huge_restore();
	return nres;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	switch (*end) {
	case 'G': case 'g': return v << 30;
	case 'M': case 'm': return v << 20;
	case 'K': case 'k': return v << 10;
	default: return v;
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vmhint-bench [--size BYTES[K|M|G]] [--runs N] [--max-ranges N]\n"
		"                    [--backing anon,memfd,hugetlbfs] [--quick]\n"
		"  --quick: 256M, 3 runs. Default: 1G, 5 runs, max_ranges 256.\n");
	exit(2);
}

static void parse_backings(struct opts *o, const char *list)
{
	memset(o->want_backing, 0, sizeof(o->want_backing));
	for (int b = 0; b < NR_BACKINGS; b++)
		o->want_backing[b] = strstr(list, backing_name[b]) != NULL;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "max-ranges", required_argument, NULL, 'm' },
		{ "backing", required_argument, NULL, 'b' },
		{ "quick", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct opts){ .size = 1ULL << 30, .runs = 5,
			    .max_ranges = VMHINT_WIRE_MAX_RANGES_DEFAULT,
			    .want_backing = { true, true, true } };
	while ((c = getopt_long(argc, argv, "s:r:m:b:qh", lo, NULL)) != -1) {
		switch (c) {
		case 's': o->size = parse_size(optarg); break;
		case 'r': o->runs = atoi(optarg); break;
		case 'm': o->max_ranges = (uint32_t)atoi(optarg); break;
		case 'b': parse_backings(o, optarg); break;
		case 'q': o->size = 256ULL << 20; o->runs = 3; break;
		default: usage();
		}
	}
	if (o->size < 64 * HUGE || o->size % (64 * HUGE) || o->runs < 1 || o->runs > MAX_RUNS ||
	    o->max_ranges < 1 || o->max_ranges > VMHINT_WIRE_MAX_RANGES_LIMIT)
		usage();
}

int main(int argc, char **argv)
{
	struct result res[NR_BACKINGS * NR_PATTERNS];
	struct goals g = { { { true, true, true }, { true, true, true } }, true, { 0 } };
	char skipped[NR_BACKINGS][256] = { { 0 } };
	struct utsname u;
	struct opts o;
	int nres = 0;

	parse_opts(argc, argv, &o);
	uname(&u);
	for (int b = 0; b < NR_BACKINGS; b++) {
		int n;

		if (!o.want_backing[b])
			continue;
		n = bench_backing(&o, b, res, nres, skipped[b], sizeof(skipped[b]));
		if (n >= 0)
			nres = n;
		else
			fprintf(stderr, "vmhint-bench: skipping %s: %s\n", backing_name[b], skipped[b]);
	}

	printf("{\n  \"tool\": \"vmhint-bench\", \"libvmhint\": \"%s\", \"kernel\": \"%s\",\n",
	       vmhint_version(), u.release);
	printf("  \"size_bytes\": %llu, \"runs\": %d, \"max_ranges\": %u, \"statistic\": \"median\",\n",
	       (unsigned long long)o.size, o.runs, o.max_ranges);
	printf("  \"skipped\": {");
	for (int b = 0, first = 1; b < NR_BACKINGS; b++)
		if (skipped[b][0]) {
			printf("%s\"%s\": \"%s\"", first ? "" : ", ", backing_name[b], skipped[b]);
			first = 0;
		}
	printf("},\n  \"results\": [\n");
	for (int i = 0; i < nres; i++) {
		print_result(&res[i], i == nres - 1);
		judge(&res[i], &g);
		stream_free(res[i].s);
	}
	printf("  ],\n");
	print_goals(&g);
	printf("}\n");
	return 0;
}
