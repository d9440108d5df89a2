// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmhint-bench-numa - how fast the NUMA engine moves guest RAM between two
 * nodes, against the kernel's own ways, in the same run:
 *
 *   move_pages   one move_pages(2) call naming every page of the region
 *   migratepages numactl's migratepages(8) on this process (node 0 -> 1):
 *                migrate_pages(2), the whole process, no per-page results
 *   engine       vmhint_numa_move(), throttling off
 *   engine_half  vmhint_numa_move() of the region with its second half
 *                hinted unused (lazy mode, STABLE hints: PENDING pages)
 *
 * Each run starts from the region populated on node 0 and moves it to
 * node 1; the median of the runs is reported as one line of JSON. Needs a
 * machine (or guest) with nodes 0 and 1; exits 77 without them.
 *
 * usage: vmhint-bench-numa [-s MiB] [-r runs] [-m path/to/migratepages]
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmhint.h>

#define PAGE 4096UL
#define MiB (1UL << 20)
#define GPA0 0x100000000ULL
#define MAX_RUNS 32

struct bench {
	size_t len, np;
	uint8_t *hva;
	void **addr;
	int *nodes, *status;
	const char *migratepages;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "vmhint-bench-numa: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Every page written and on @node, checked page by page. */
static void place(struct bench *b, int node)
{
	for (size_t i = 0; i < b->np; i++) {
		b->hva[i * PAGE] = (uint8_t)i;
		b->nodes[i] = node;
	}
	if (move_pages(0, b->np, b->addr, b->nodes, b->status, MPOL_MF_MOVE) < 0)
		die("move_pages (setup)");
	if (move_pages(0, b->np, b->addr, NULL, b->status, 0) < 0)
		die("move_pages (query)");
	for (size_t i = 0; i < b->np; i++)
		if (b->status[i] != node) {
			fprintf(stderr, "page %zu on node %d after setup\n", i, b->status[i]);
			exit(1);
		}
}

/* All pages present on @node? The benchmark lies if a method skipped some. */
static size_t count_on(struct bench *b, int node)
{
	size_t n = 0;

	if (move_pages(0, b->np, b->addr, NULL, b->status, 0) < 0)
		die("move_pages (query)");
	for (size_t i = 0; i < b->np; i++)
		n += b->status[i] == node;
	return n;
}

static uint64_t run_move_pages(struct bench *b)
{
	uint64_t t;

	for (size_t i = 0; i < b->np; i++)
		b->nodes[i] = 1;
	t = now_ns();
	if (move_pages(0, b->np, b->addr, b->nodes, b->status, MPOL_MF_MOVE) < 0)
		die("move_pages");
	return now_ns() - t;
}

static uint64_t run_migratepages(struct bench *b)
{
	char pid[32];
	uint64_t t = now_ns();
	pid_t child;
	int st;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		execl(b->migratepages, "migratepages", pid, "0", "1", (char *)NULL);
		_exit(127);
	}
	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "migratepages failed (status 0x%x)\n", st);
		exit(1);
	}
	return now_ns() - t;
}

static uint64_t run_engine(struct bench *b, bool half_unused)
{
	struct vmhint_ctx_opts co = { .size = sizeof(co), .mode = VMHINT_MODE_LAZY,
				      .flags = VMHINT_CTX_GUEST_STABLE_HINTS,
				      .lazy_max_pending = 1ULL << 40 };
	struct vmhint_region_opts ro = { .size = sizeof(ro), .gpa = GPA0, .hva = b->hva,
					 .len = b->len, .fd = -1, .name = "bench" };
	struct vmhint_numa_move_opts mo = { .size = sizeof(mo), .target_node = 1 };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	struct vmhint_ctx *ctx;
	int64_t ret;
	uint64_t t;

	if (vmhint_ctx_new(&co, &ctx) || vmhint_region_add(ctx, &ro, NULL)) {
		fprintf(stderr, "vmhint context setup failed\n");
		exit(1);
	}
	if (half_unused &&
	    vmhint_hint(ctx, VMHINT_OP_UNUSED, GPA0 + b->len / 2, b->len / 2) < 0) {
		fprintf(stderr, "hint failed\n");
		exit(1);
	}
	t = now_ns();
	ret = vmhint_numa_move(ctx, GPA0, b->len, &mo, &r);
	t = now_ns() - t;
	if (ret != (int64_t)(half_unused ? b->np / 2 : b->np)) {
		fprintf(stderr, "vmhint_numa_move: %lld\n", (long long)ret);
		exit(1);
	}
	vmhint_ctx_free(ctx);
	return t;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median_ms(uint64_t *v, int n)
{
	uint64_t s[MAX_RUNS];

	assert(n >= 1 && n <= MAX_RUNS);	/* main() checks --runs */
	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_u64);
	return (n % 2 ? (double)s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Median over runs of t[a]/t[b] within each run. The methods of one run
 * follow each other within seconds, so a slow phase of the machine (a
 * TCG guest shares its host) hits both sides of each ratio alike.
 */
static double median_ratio(uint64_t *a, uint64_t *b, int n)
{
	double r[MAX_RUNS];

	assert(n >= 1 && n <= MAX_RUNS);	/* main() checks --runs */
	for (int i = 0; i < n; i++)
		r[i] = (double)a[i] / (double)b[i];
	qsort(r, (size_t)n, sizeof(*r), cmp_double);
	return n % 2 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
}

enum { M_MOVE_PAGES, M_MIGRATEPAGES, M_ENGINE, M_ENGINE_HALF, NR_METHODS };

static const char *const method_name[NR_METHODS] = {
	"move_pages", "migratepages", "engine", "engine_half_unused",
};

static uint64_t run_one(struct bench *b, int m)
{
	switch (m) {
	case M_MOVE_PAGES:
		return run_move_pages(b);
	case M_MIGRATEPAGES:
		return run_migratepages(b);
	case M_ENGINE:
		return run_engine(b, false);
	default:
		return run_engine(b, true);
	}
}

int main(int argc, char **argv)
{
	struct bench b = { .migratepages = "/bin/migratepages" };
	uint64_t t[NR_METHODS][MAX_RUNS], nodes;
	double ms[NR_METHODS];
	char mp[32] = "null", ratio[32] = "null";
	double speed, half;
	unsigned long node0 = 1;
	bool have_mp;
	int runs = 5, opt;
	size_t mib = 64;

	while ((opt = getopt(argc, argv, "s:r:m:")) != -1) {
		if (opt == 's')
			mib = strtoul(optarg, NULL, 0);
		else if (opt == 'r')
			runs = atoi(optarg);
		else if (opt == 'm')
			b.migratepages = optarg;
		else
			return 2;
	}
	if (runs < 1 || runs > MAX_RUNS || !mib)
		return 2;
	if (vmhint_numa_nodes(&nodes) || (nodes & 3) != 3) {
		printf("SKIP: needs nodes 0 and 1 with memory\n");
		return 77;
	}
	have_mp = access(b.migratepages, X_OK) == 0;
	if (!have_mp)
		fprintf(stderr, "migratepages skipped: %s not found\n", b.migratepages);
	/* Pages touched again after a drop come back on node 0. */
	if (set_mempolicy(MPOL_PREFERRED, &node0, 2))
		die("set_mempolicy");
	b.len = mib * MiB;
	b.np = b.len / PAGE;
	b.hva = mmap(NULL, b.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b.addr = calloc(b.np, sizeof(*b.addr));
	b.nodes = calloc(b.np, sizeof(int));
	b.status = calloc(b.np, sizeof(int));
	if (b.hva == MAP_FAILED || !b.addr || !b.nodes || !b.status)
		die("memory");
	/* 4 KiB pages: THP would let every method move 2 MiB at a time. */
	madvise(b.hva, b.len, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < b.np; i++)
		b.addr[i] = b.hva + i * PAGE;

	/* Interleave the methods run by run so drift hits them all alike. */
	for (int r = 0; r < runs; r++) {
		for (int m = 0; m < NR_METHODS; m++) {
			size_t expect = m == M_ENGINE_HALF ? b.np / 2 : b.np;

			if (m == M_MIGRATEPAGES && !have_mp)
				continue;
			place(&b, 0);
			t[m][r] = run_one(&b, m);
			if (count_on(&b, 1) != expect) {
				fprintf(stderr, "%s left %zu of %zu pages on node 1\n",
					method_name[m], count_on(&b, 1), expect);
				return 1;
			}
			fprintf(stderr, "run %d %s %.1f ms\n", r, method_name[m], t[m][r] / 1e6);
		}
	}
	for (int m = 0; m < NR_METHODS; m++)
		ms[m] = m == M_MIGRATEPAGES && !have_mp ? 0 : median_ms(t[m], runs);

	speed = median_ratio(t[M_MOVE_PAGES], t[M_ENGINE], runs);
	half = median_ratio(t[M_ENGINE_HALF], t[M_ENGINE], runs);
	if (have_mp) {
		snprintf(mp, sizeof(mp), "%.1f", ms[M_MIGRATEPAGES]);
		snprintf(ratio, sizeof(ratio), "%.3f",
			 median_ratio(t[M_MIGRATEPAGES], t[M_ENGINE], runs));
	}
	printf("{\"bench\":\"numa-move\",\"region_mib\":%zu,\"page_kib\":4,\"runs\":%d,"
	       "\"median_ms\":{\"move_pages\":%.1f,\"migratepages\":%s,\"engine\":%.1f,"
	       "\"engine_half_unused\":%.1f},"
	       "\"ratios_are\":\"median over runs of the ratio within each run\","
	       "\"speed_engine_vs_move_pages\":%.3f,\"speed_engine_vs_migratepages\":%s,"
	       "\"time_half_unused_vs_full\":%.3f,"
	       "\"goal_engine_ge_0.9x\":%s,\"goal_half_unused_le_0.6x\":%s}\n",
	       mib, runs, ms[M_MOVE_PAGES], mp, ms[M_ENGINE], ms[M_ENGINE_HALF],
	       speed, have_mp ? ratio : "null", half,
	       speed >= 0.9 ? "true" : "false", half <= 0.6 ? "true" : "false");
	return 0;
}
