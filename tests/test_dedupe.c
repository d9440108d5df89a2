// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_dedupe.c - dedupe on real memory: what the fingerprint scan sees
 * (and that it allocates nothing), the cross-VM estimate against what KSM
 * really merges in several processes, KSM knobs (root only, always put
 * back), and zero-page reclaim on memfd and hugetlbfs (st_blocks, page
 * contents, no lost guest write under concurrent writers).
 *
 * KSM knobs are host-wide. Each test runs in a forked child with a checked
 * fixture that saves and restores them; since Check's fork mode _exit()s a
 * failed test without its teardown, main() also saves them before the
 * suite and restores them after it (and on SIGINT/SIGTERM).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmhint/ksm.h>

#include "testutil.h"

static bool knobs_equal(const struct vmhint_ksm_knobs *a, const struct vmhint_ksm_knobs *b)
{
	int i;

	for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++) {
		/* The advisor owns pages_to_scan while it runs. */
		if (i == VMHINT_KSM_PAGES_TO_SCAN && a->val[VMHINT_KSM_ADVISOR_MODE])
			continue;
		if ((a->present >> i & 1) && a->val[i] != b->val[i])
			return false;
	}
	return true;
}

/* ---- synthetic guest images ---- */

enum page_kind { PK_SAME, PK_ZERO, PK_UNIQUE };

#define RUN_PAGES 16

/* The same layout in every VM: runs of 16 pages, 50% same, 20% zero, 30% unique. */
static enum page_kind page_kind(uint64_t page)
{
	uint64_t x = (page / RUN_PAGES + 1) * 0x9e3779b97f4a7c15ULL;

	x = (x ^ (x >> 31)) % 10;
	return x < 5 ? PK_SAME : x < 7 ? PK_ZERO : PK_UNIQUE;
}

static void fill_page(uint8_t *p, uint64_t seed, uint64_t page)
{
	uint64_t *w = (uint64_t *)p, i;

	for (i = 0; i < PAGE / 8; i++)
		w[i] = (seed << 32 ^ page << 12 ^ i) * 0xbf58476d1ce4e5b9ULL | 1;
}

/* Image of VM @vm; returns the pages of each kind. */
static void image_fill(uint8_t *p, size_t len, int vm, uint64_t count[3])
{
	uint64_t i;

	for (i = 0; i < len / PAGE; i++) {
		enum page_kind k = page_kind(i);

		count[k]++;
		if (k == PK_SAME)
			fill_page(p + i * PAGE, 7, i);
		else if (k == PK_UNIQUE)
			fill_page(p + i * PAGE, 100 + (uint64_t)vm, i);
		else
			memset(p + i * PAGE, 0, PAGE); /* allocate it, as a guest would */
	}
}

static struct vmhint_dedupe *dedupe_on(struct vmhint_ctx *ctx, struct vmhint_region *r,
				       uint32_t flags)
{
	struct vmhint_dedupe_opts o = { .size = sizeof(o), .flags = flags };
	struct vmhint_dedupe *d = NULL;

	ck_assert_int_eq(vmhint_dedupe_enable(ctx, r, &o, &d), 0);
	return d;
}

static struct vmhint_dedupe_stats dstats(struct vmhint_dedupe *d)
{
	struct vmhint_dedupe_stats st = { .size = sizeof(st) };

	ck_assert_int_eq(vmhint_dedupe_stats_get(d, &st), 0);
	return st;
}

/* ---- fingerprint scan ---- */

START_TEST(scan_classifies_and_skips)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, 8 * MiB);
	uint64_t n = 8 * MiB / PAGE, i, j, count[3] = { 0 };
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	struct vmhint_dedupe_stats st;
	size_t rss;

	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	/* First half: an image; second half: never touched (not resident). */
	image_fill(m.hva, 4 * MiB, 0, count);
	/* The guest says the first 64 pages are unused: dropped, skipped. */
	ck_assert_int_eq(vmhint_hint(ctx, VMHINT_OP_UNUSED, 0, 64 * PAGE), 64 * PAGE);
	for (i = 0; i < 64; i++)
		count[page_kind(i)]--;
	rss = resident_pages(m.hva, m.len);
	d = dedupe_on(ctx, r, 0);
	ck_assert_int_eq(vmhint_dedupe_scan_pass(d), (int64_t)n);
	st = dstats(d);
	ck_assert_uint_eq(st.passes, 1);
	ck_assert_uint_eq(st.pages_scanned, count[0] + count[1] + count[2]);
	ck_assert_uint_eq(st.pages_skipped, n - st.pages_scanned);
	ck_assert_uint_eq(st.zero_pages, count[PK_ZERO]);
	ck_assert_uint_eq(st.dup_pages, 0);
	ck_assert_msg(resident_pages(m.hva, m.len) == rss, "the scan faulted pages in");
	/* Copy one page over another: one duplicate. */
	for (i = 100; page_kind(i) == PK_ZERO; i++)
		;
	for (j = i + 300; page_kind(j) == PK_ZERO; j++)
		;
	memcpy(m.hva + i * PAGE, m.hva + j * PAGE, PAGE);
	ck_assert(!page_is_zero(m.hva + i * PAGE));
	ck_assert_int_eq(vmhint_dedupe_scan(d, 0), (int64_t)n);
	st = dstats(d);
	ck_assert_uint_eq(st.passes, 2);
	ck_assert_uint_ge(st.dup_pages, 1);
	ck_assert_uint_gt(st.scan_cpu_ns, 0);
	vmhint_dedupe_disable(d);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(scan_incremental_budget)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, 4 * MiB);
	struct vmhint_region *r;
	struct vmhint_dedupe *d;

	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	memset(m.hva, 1, m.len);
	d = dedupe_on(ctx, r, 0);
	ck_assert_int_eq(vmhint_dedupe_scan(d, 100), 100);
	ck_assert_uint_eq(dstats(d).passes, 0);
	ck_assert_int_eq(vmhint_dedupe_scan(d, 2000), 924); /* stops at the pass end */
	ck_assert_uint_eq(dstats(d).passes, 1);
	ck_assert_uint_eq(dstats(d).dup_pages, 1023);
	/* The region goes away: the handle notices. */
	ck_assert_int_eq(vmhint_region_remove(ctx, r), 0);
	ck_assert_int_eq(vmhint_dedupe_scan(d, 1), -ENOENT);
	vmhint_dedupe_disable(d);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(scan_rate_limit)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, 8 * MiB);
	struct vmhint_dedupe_opts o = { .size = sizeof(o), .scan_bytes_per_sec = 32 * MiB };
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	struct timespec t0, t1;
	double s;

	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	memset(m.hva, 3, m.len);
	ck_assert_int_eq(vmhint_dedupe_enable(ctx, r, &o, &d), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(vmhint_dedupe_scan_pass(d), 2048);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* 8 MiB at 32 MiB/s: a quarter second, give or take. */
	ck_assert_msg(s > 0.2 && s < 1.0, "8 MiB at 32 MiB/s took %.3f s", s);
	vmhint_dedupe_disable(d);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(cross_vm_needs_opt_in)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, 2 * MiB);
	struct vmhint_dedupe_table_opts to = { .size = sizeof(to), .nr_slots = 2,
					       .slot_capacity = 1024,
					       .flags = VMHINT_DEDUPE_TABLE_CREATE };
	struct vmhint_dedupe_table *t;
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	char name[64];

	snprintf(name, sizeof(name), "/vmhint-test-optin-%d", getpid());
	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	memset(m.hva, 5, m.len);
	d = dedupe_on(ctx, r, 0);
	ck_assert_int_eq(vmhint_dedupe_table_open(name, &to, &t), 0);
	ck_assert_int_eq(vmhint_dedupe_scan(d, 0), 512);
	ck_assert_int_eq(vmhint_dedupe_publish(d, t), -EPERM);
	ck_assert_int_eq(vmhint_dedupe_mark(d, NULL), -EPERM);
	ck_assert_msg(smaps_kb(m.hva, "KSM:") == 0, "region marked anyway");
	vmhint_dedupe_table_close(t);
	ck_assert_int_eq(vmhint_dedupe_table_unlink(name), 0);
	vmhint_dedupe_disable(d);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/* ---- shared table ---- */

START_TEST(table_mode_and_hostile_slots)
{
	struct vmhint_dedupe_table_opts to = { .size = sizeof(to), .nr_slots = 4,
					       .slot_capacity = 64,
					       .flags = VMHINT_DEDUPE_TABLE_CREATE };
	struct vmhint_dedupe_saving s = { .size = sizeof(s) };
	struct vmhint_dedupe_estimate *e;
	struct vmhint_dedupe_table *t;
	char name[64], path[128];
	uint64_t *raw;
	struct stat st;
	int fd, i;

	snprintf(name, sizeof(name), "/vmhint-test-tbl-%d", getpid());
	umask(0);
	ck_assert_int_eq(vmhint_dedupe_table_open(name, &to, &t), 0);
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	/* Scribble over everything after the header as a hostile VM could. */
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	raw = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(raw, MAP_FAILED);
	for (i = 8; i < st.st_size / 8; i++)
		raw[i] = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < 4; i++) /* owners: live (our pid) so slots are read */
		raw[8 + i * 16] = (uint64_t)getpid();
	for (i = 0; i < 4; i++) /* even sequence numbers */
		raw[8 + i * 16 + 1] = 2;
	ck_assert_int_ge(vmhint_dedupe_estimate_new(t, NULL, &e), 0);
	ck_assert_int_eq(vmhint_dedupe_estimate_get(e, -1, &s), 0);
	ck_assert_int_eq(vmhint_dedupe_estimate_get(e, 99, &s), -ENOENT);
	vmhint_dedupe_estimate_free(e);
	munmap(raw, (size_t)st.st_size);
	close(fd);
	vmhint_dedupe_table_close(t);
	ck_assert_int_eq(vmhint_dedupe_table_unlink(name), 0);
	/* A group table: 0660 and that group, whatever the umask (root may pick any group). */
	if (geteuid() == 0) {
		to.flags |= VMHINT_DEDUPE_TABLE_GROUP;
		to.gid = 65534;
		umask(077);
		ck_assert_int_eq(vmhint_dedupe_table_open(name, &to, &t), 0);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_uint_eq(st.st_mode & 0777, 0660);
		ck_assert_uint_eq(st.st_gid, 65534);
		vmhint_dedupe_table_close(t);
		ck_assert_int_eq(vmhint_dedupe_table_unlink(name), 0);
		umask(022);
	}
	/* A bad name, a missing table. */
	ck_assert_int_eq(vmhint_dedupe_table_open("no-slash", &to, &t), -EINVAL);
	to.flags = 0;
	ck_assert_int_eq(vmhint_dedupe_table_open(name, &to, &t), -ENOENT);
}
END_TEST

/*
 * Two VMs of the same content in one table; before them, a previous owner
 * left slot 0's sequence odd (killed mid-write), and slot 2 holds what no
 * honest writer leaves. VM A takes slot 0 and must still be seen by B;
 * slot 2 must be left out of the estimate and of B's candidates.
 */
START_TEST(table_odd_sequence_and_bad_slot)
{
	struct vmhint_dedupe_table_opts to = { .size = sizeof(to), .nr_slots = 3,
					       .slot_capacity = 1024,
					       .flags = VMHINT_DEDUPE_TABLE_CREATE };
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem ma = tmem_map(TMEM_ANON, 2 * MiB), mb = tmem_map(TMEM_ANON, 2 * MiB);
	struct vmhint_dedupe_estimate *e;
	struct vmhint_dedupe_table *t;
	struct vmhint_region *ra, *rb;
	struct vmhint_dedupe *a, *b;
	char name[64], path[128];
	uint64_t *raw, *bad;
	struct stat st;
	size_t i;
	int fd;

	snprintf(name, sizeof(name), "/vmhint-test-odd-%d", getpid());
	ck_assert_int_eq(vmhint_dedupe_table_open(name, &to, &t), 0);
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	raw = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(raw, MAP_FAILED);
	raw[8 + 1] = 7;				/* slot 0: free, sequence odd */
	raw[8 + 32] = (uint64_t)getpid();	/* slot 2: live owner, */
	raw[8 + 32 + 2] = 3;			/* 3 entries, 4 pages, */
	raw[8 + 32 + 3] = 4;
	bad = raw + 8 + 3 * 16 + 2 * 1024 * 2;	/* out of order, count 0 */
	bad[0] = 9, bad[1] = 1, bad[2] = 5, bad[3] = 1, bad[4] = 6, bad[5] = 0;
	ck_assert_int_eq(tmem_register(ctx, &ma, 0, &ra), 0);
	ck_assert_int_eq(tmem_register(ctx, &mb, 4 * MiB, &rb), 0);
	for (i = 0; i < ma.len / PAGE; i++) {
		fill_page(ma.hva + i * PAGE, 7, i);
		fill_page(mb.hva + i * PAGE, 7, i);
	}
	a = dedupe_on(ctx, ra, VMHINT_DEDUPE_CROSS_VM);
	b = dedupe_on(ctx, rb, VMHINT_DEDUPE_CROSS_VM);
	ck_assert_int_eq(vmhint_dedupe_scan(a, 0), 512);
	ck_assert_int_eq(vmhint_dedupe_scan(b, 0), 512);
	ck_assert_int_eq(vmhint_dedupe_publish(a, t), 512);
	ck_assert_int_eq(vmhint_dedupe_publish(b, t), 512);
	ck_assert_msg(raw[8 + 1] % 2 == 0, "slot 0's sequence still odd: %llu",
		      (unsigned long long)raw[8 + 1]);
	ck_assert_uint_eq(dstats(b).candidate_pages, 512);
	ck_assert_int_eq(vmhint_dedupe_estimate_new(t, NULL, &e), 2);
	vmhint_dedupe_estimate_free(e);
	munmap(raw, (size_t)st.st_size);
	close(fd);
	vmhint_dedupe_disable(a);
	vmhint_dedupe_disable(b);
	vmhint_dedupe_table_close(t);
	ck_assert_int_eq(vmhint_dedupe_table_unlink(name), 0);
	vmhint_ctx_free(ctx);
	tmem_unmap(&ma);
	tmem_unmap(&mb);
}
END_TEST

/* ---- KSM: estimate vs what KSM merges, in several processes ---- */

#define NR_VMS 4
#define VM_BYTES (16 * MiB)

struct vm_child {
	pid_t pid;
	int ready[2], go[2];
};

/* One "VM": an image, a dedupe handle, a published slot, a KSM mark. */
static void vm_child_main(struct vm_child *c, int vm, const char *table)
{
	struct vmhint_dedupe_table_opts to = { .size = sizeof(to) };
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, VM_BYTES);
	struct vmhint_dedupe_table *t;
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	uint64_t count[3] = { 0 };
	char b = 0;
	int ret = 1;

	image_fill(m.hva, m.len, vm, count);
	if (tmem_register(ctx, &m, 0, &r) || vmhint_dedupe_table_open(table, &to, &t))
		_exit(2);
	d = dedupe_on(ctx, r, VMHINT_DEDUPE_CROSS_VM);
	if (vmhint_dedupe_scan_pass(d) > 0 && vmhint_dedupe_publish(d, t) > 0 &&
	    vmhint_dedupe_mark(d, NULL) == 1)
		ret = 0;
	b = (char)ret;
	if (write(c->ready[1], &b, 1) != 1)
		_exit(3);
	/* Keep the memory until the parent closes the pipe. */
	while (read(c->go[0], &b, 1) > 0)
		;
	_exit(0);
}

static void vms_start(struct vm_child *c, int n, const char *table)
{
	char b;
	int i, j;

	for (i = 0; i < n; i++) {
		ck_assert_int_eq(pipe(c[i].ready), 0);
		ck_assert_int_eq(pipe(c[i].go), 0);
		c[i].pid = fork();
		ck_assert_int_ge(c[i].pid, 0);
		if (!c[i].pid) {
			/* Drop the parent's ends of earlier children's pipes, or they never see EOF. */
			for (j = 0; j < i; j++) {
				close(c[j].go[1]);
				close(c[j].ready[0]);
			}
			close(c[i].go[1]);
			close(c[i].ready[0]);
			vm_child_main(&c[i], i, table);
		}
		close(c[i].go[0]);
		close(c[i].ready[1]);
	}
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(read(c[i].ready[0], &b, 1), 1);
		ck_assert_msg(b == 0, "VM %d failed to scan/publish/mark", i);
	}
}

static void vms_stop(struct vm_child *c, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		close(c[i].go[1]);
		close(c[i].ready[0]);
		waitpid(c[i].pid, NULL, 0);
	}
}

static bool ksm_usable(char *why, size_t len)
{
	if (vmhint_ksm_available()) {
		snprintf(why, len, "no KSM in this kernel (/sys/kernel/mm/ksm)");
		return false;
	}
	if (geteuid() != 0) {
		snprintf(why, len, "changing KSM knobs needs root");
		return false;
	}
	return true;
}

static bool ksm_idle(void)
{
	struct vmhint_ksm_global g = { .size = sizeof(g) };

	vmhint_ksm_global_get(&g);
	return !g.pages_shared && !g.pages_sharing && !g.ksm_zero_pages;
}

/*
 * Another process with mergeable memory (another QEMU on a shared host):
 * the host-wide counters then include its merges. Returns its pid or 0.
 */
static pid_t foreign_mergeable(const struct vm_child *c, int n)
{
	struct vmhint_ksm_process p = { .size = sizeof(p) };
	DIR *dir = opendir("/proc");
	struct dirent *de;
	pid_t pid, found = 0;
	int i;

	while (dir && !found && (de = readdir(dir))) {
		pid = (pid_t)atoi(de->d_name);
		if (pid <= 0)
			continue;
		for (i = 0; i < n && c[i].pid != pid; i++)
			;
		if (i == n && !vmhint_ksm_process_get(pid, &p) && (p.flags & (VMHINT_KSM_PROCESS_MERGEABLE | VMHINT_KSM_PROCESS_MERGE_ANY)))
			found = pid;
	}
	if (dir)
		closedir(dir);
	return found;
}

/* Unmerge what our dead children left (their stable nodes), then stop. */
static void ksm_cleanup(void)
{
	struct vmhint_ksm_knobs k = { .size = sizeof(k) };
	struct vmhint_ksm_global g = { .size = sizeof(g) };
	int i;

	k.set = 1u << VMHINT_KSM_RUN;
	k.val[VMHINT_KSM_RUN] = 2;
	if (vmhint_ksm_knobs_set(&k))
		return;
	for (i = 0; i < 500; i++) {
		vmhint_ksm_global_get(&g);
		if (!g.pages_shared && !g.pages_sharing)
			break;
		usleep(10000);
	}
}

static bool within(uint64_t got, uint64_t want, double frac)
{
	double d = (double)got - (double)want;

	return (d < 0 ? -d : d) <= frac * (double)want + 1;
}

START_TEST(estimate_matches_ksm)
{
	struct vmhint_dedupe_table_opts to = { .size = sizeof(to), .nr_slots = 8,
					       .slot_capacity = 1 << 16,
					       .flags = VMHINT_DEDUPE_TABLE_CREATE };
	struct vmhint_dedupe_estimate_opts eo = { .size = sizeof(eo),
						  .zero_mode = VMHINT_DEDUPE_ZERO_KSM_PAGE };
	struct vmhint_ksm_burst_opts bo = { .size = sizeof(bo), .pages_to_scan = 4096,
					    .sleep_millisecs = 10, .timeout_ms = 60000 };
	struct vmhint_ksm_burst_result br = { .size = sizeof(br) };
	struct vmhint_ksm_knobs before = { .size = sizeof(before) }, after = before;
	struct vmhint_ksm_global g0 = { .size = sizeof(g0) }, g1 = g0;
	struct vmhint_dedupe_saving all = { .size = sizeof(all) }, one = all;
	uint64_t count[3] = { 0 }, expect, got, kept, merging = 0;
	struct vmhint_dedupe_estimate *e;
	struct vmhint_dedupe_table *t;
	struct vm_child c[NR_VMS];
	pid_t pids[NR_VMS], foreign;
	char name[64], why[128];
	bool idle;
	int i, j;

	if (!ksm_usable(why, sizeof(why))) {
		fprintf(stderr, "SKIP estimate_matches_ksm: %s\n", why);
		return;
	}
	idle = ksm_idle();
	for (i = 0; i < (int)(VM_BYTES / PAGE); i++)
		count[page_kind((uint64_t)i)]++;
	snprintf(name, sizeof(name), "/vmhint-test-est-%d", getpid());
	ck_assert_int_eq(vmhint_dedupe_table_open(name, &to, &t), 0);
	ck_assert_int_eq(vmhint_ksm_knobs_get(&before), 0);
	ck_assert_int_eq(vmhint_ksm_global_get(&g0), 0);
	vms_start(c, NR_VMS, name);
	for (i = 0; i < NR_VMS; i++)
		pids[i] = c[i].pid;
	foreign = foreign_mergeable(c, NR_VMS);

	ck_assert_int_eq(vmhint_dedupe_estimate_new(t, &eo, &e), NR_VMS);
	ck_assert_int_eq(vmhint_dedupe_estimate_get(e, -1, &all), 0);
	/* What the images hold: shared pages save 3 of 4; zero pages share KSM pages. */
	kept = (NR_VMS * count[PK_ZERO] + before.val[VMHINT_KSM_MAX_PAGE_SHARING] - 1) /
	       before.val[VMHINT_KSM_MAX_PAGE_SHARING];
	expect = (NR_VMS - 1) * count[PK_SAME] + NR_VMS * count[PK_ZERO] - kept;
	ck_assert_msg(within(all.saved_pages, expect, 0.001), "estimate %" PRIu64 " vs images %" PRIu64,
		      all.saved_pages, expect);
	ck_assert_uint_eq(all.merging_pages, NR_VMS * (count[PK_SAME] + count[PK_ZERO]));

	/* Merge, watching our VMs only: another QEMU may be mergeable too. */
	bo.pids = pids;
	bo.nr_pids = NR_VMS;
	bo.target_pages = all.merging_pages;
	ck_assert_int_eq(vmhint_ksm_burst(&bo, &br), 0);
	ck_assert_int_eq(vmhint_ksm_knobs_get(&after), 0);
	ck_assert_msg(knobs_equal(&before, &after), "burst left KSM knobs changed");
	for (i = 0; i < NR_VMS; i++) {
		struct vmhint_ksm_process p = { .size = sizeof(p) };

		ck_assert_int_eq(vmhint_ksm_process_get(c[i].pid, &p), 0);
		for (j = 0; j < NR_VMS; j++) {
			ck_assert_int_eq(vmhint_dedupe_estimate_get(e, j, &one), 0);
			if (one.pid == c[i].pid)
				break;
		}
		ck_assert_int_lt(j, NR_VMS);
		ck_assert_msg(within(p.merging_pages, one.merging_pages, 0.02),
			      "VM %d: ksm_merging_pages %" PRIu64 ", estimate %" PRIu64
			      " (burst: %" PRIu64 " ms, %" PRIu64 " merged, %" PRIu64 " scans)", i,
			      p.merging_pages, one.merging_pages, br.elapsed_ms, br.pages_merged,
			      br.full_scans);
		merging += p.merging_pages;
	}
	ck_assert_msg(within(merging, all.merging_pages, 0.02), "KSM merged %" PRIu64
		      " pages of our VMs, estimate %" PRIu64, merging, all.merging_pages);
	/* Host-wide saving: only meaningful if nobody else merges. */
	ck_assert_int_eq(vmhint_ksm_global_get(&g1), 0);
	got = g1.pages_sharing + g1.ksm_zero_pages - g0.pages_sharing - g0.ksm_zero_pages;
	if (!foreign && idle) {
		ck_assert_msg(within(got, all.saved_pages, 0.02),
			      "KSM saved %" PRIu64 " pages, estimate %" PRIu64 " (burst %" PRIu64
			      " ms, %" PRIu64 " scans)", got, all.saved_pages, br.elapsed_ms,
			      br.full_scans);
		ck_assert_msg(within(got, expect, 0.02), "KSM saved %" PRIu64
			      ", images allow %" PRIu64, got, expect);
	} else {
		fprintf(stderr, "estimate_matches_ksm: host-wide pages_sharing not compared: %s%d"
			" (per-process figures compared)\n",
			foreign ? "another process has mergeable memory, pid " :
				  "KSM had merged pages before the test", (int)foreign);
	}
	fprintf(stderr, "estimate_matches_ksm: estimate saves %" PRIu64 " pages, merging %" PRIu64
		"; KSM merged %" PRIu64 " of our pages in %" PRIu64 " ms\n", all.saved_pages,
		all.merging_pages, merging, br.elapsed_ms);
	vmhint_dedupe_estimate_free(e);
	vms_stop(c, NR_VMS);
	vmhint_dedupe_table_close(t);
	vmhint_dedupe_table_unlink(name);
	/* Unmerging a foreign QEMU's pages would cost it a copy of each: only when alone. */
	if (idle && !foreign)
		ksm_cleanup();
}
END_TEST

START_TEST(dense_marking_bounds_vmas)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, 64 * MiB);
	struct vmhint_dedupe_mark_opts mo = { .size = sizeof(mo), .mode = VMHINT_DEDUPE_MARK_DENSE,
					   .chunk_bytes = 2 * MiB, .min_percent = 50,
					   .max_ranges = 3 };
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	uint64_t i, marked = 0, vmas = 0;
	FILE *f;

	if (vmhint_ksm_available()) {
		fprintf(stderr, "SKIP dense_marking_bounds_vmas: no KSM\n");
		return;
	}
	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	/* Every other 2 MiB chunk zero (dense), the rest unique: 16 dense runs. */
	for (i = 0; i < 32; i++) {
		if (i % 2)
			pattern_fill(m.hva + i * 2 * MiB, 2 * MiB, (uint32_t)i);
		else
			memset(m.hva + i * 2 * MiB, 0, 2 * MiB);
	}
	d = dedupe_on(ctx, r, VMHINT_DEDUPE_CROSS_VM);
	ck_assert_int_eq(vmhint_dedupe_mark(d, &mo), -EAGAIN);
	vmhint_dedupe_scan(d, 0);
	ck_assert_int_eq(vmhint_dedupe_mark(d, &mo), 3);
	/* Count the mapping's VMAs and the mergeable ones. */
	f = fopen("/proc/self/smaps", "r");
	ck_assert_ptr_nonnull(f);
	{
		unsigned long s = 0, e = 0;
		char line[256];

		while (fgets(line, sizeof(line), f)) {
			unsigned long a, b;

			if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
				s = a;
				e = b;
				if (s >= (unsigned long)m.hva && e <= (unsigned long)(m.hva + m.len))
					vmas++;
			} else if (!strncmp(line, "VmFlags:", 8) && strstr(line, " mg") &&
				   s >= (unsigned long)m.hva &&
				   e <= (unsigned long)(m.hva + m.len)) {
				marked += e - s;
			}
		}
	}
	fclose(f);
	ck_assert_uint_le(vmas, 2 * 3 + 1);
	/* All 16 dense chunks are inside the marked ranges. */
	ck_assert_uint_ge(marked, 32 * MiB);
	ck_assert_uint_lt(marked, 64 * MiB);
	vmhint_dedupe_disable(d);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/* ---- KSM knobs: root only, all or nothing, restored ---- */

START_TEST(knobs_need_root)
{
	struct vmhint_ksm_knobs before = { .size = sizeof(before) }, after = before, k;
	struct vmhint_ksm_burst_opts bo = { .size = sizeof(bo), .timeout_ms = 100 };
	int status;
	pid_t pid;

	if (vmhint_ksm_available() || geteuid() != 0) {
		fprintf(stderr, "SKIP knobs_need_root: needs KSM and root to drop rights\n");
		return;
	}
	ck_assert_int_eq(vmhint_ksm_knobs_get(&before), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		/* nobody: no write access to /sys/kernel/mm/ksm. */
		if (setgid(65534) || setuid(65534))
			_exit(10);
		k = before;
		k.set = (1u << VMHINT_KSM_RUN) | (1u << VMHINT_KSM_PAGES_TO_SCAN);
		k.val[VMHINT_KSM_RUN] = 1;
		k.val[VMHINT_KSM_PAGES_TO_SCAN] = 5000;
		if (vmhint_ksm_knobs_set(&k) != -EPERM)
			_exit(11);
		if (vmhint_ksm_burst(&bo, NULL) != -EPERM)
			_exit(12);
		if (vmhint_ksm_knobs_restore(&before) != 0 &&
		    vmhint_ksm_knobs_restore(&before) != -EPERM)
			_exit(13);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "unprivileged child: exit %d", WEXITSTATUS(status));
	ck_assert_int_eq(vmhint_ksm_knobs_get(&after), 0);
	ck_assert_msg(knobs_equal(&before, &after), "knobs changed by an unprivileged caller");
}
END_TEST

START_TEST(knobs_set_and_restore)
{
	struct vmhint_ksm_knobs before = { .size = sizeof(before) }, now = before, k;

	if (vmhint_ksm_available() || geteuid() != 0) {
		fprintf(stderr, "SKIP knobs_set_and_restore: needs KSM and root\n");
		return;
	}
	ck_assert_int_eq(vmhint_ksm_knobs_get(&before), 0);
	k = before;
	k.set = (1u << VMHINT_KSM_PAGES_TO_SCAN) | (1u << VMHINT_KSM_SLEEP_MILLISECS) |
		(1u << VMHINT_KSM_USE_ZERO_PAGES);
	/* The kernel refuses pages_to_scan while the advisor runs: whatever
	 * state the host was left in, ask for the advisor off with it. */
	if (before.present & (1u << VMHINT_KSM_ADVISOR_MODE)) {
		k.set |= 1u << VMHINT_KSM_ADVISOR_MODE;
		k.val[VMHINT_KSM_ADVISOR_MODE] = 0;
	}
	k.val[VMHINT_KSM_PAGES_TO_SCAN] = before.val[VMHINT_KSM_PAGES_TO_SCAN] + 17;
	k.val[VMHINT_KSM_SLEEP_MILLISECS] = before.val[VMHINT_KSM_SLEEP_MILLISECS] + 3;
	k.val[VMHINT_KSM_USE_ZERO_PAGES] = !before.val[VMHINT_KSM_USE_ZERO_PAGES];
	ck_assert_int_eq(vmhint_ksm_knobs_set(&k), 0);
	ck_assert_int_eq(vmhint_ksm_knobs_get(&now), 0);
	ck_assert_uint_eq(now.val[VMHINT_KSM_PAGES_TO_SCAN], k.val[VMHINT_KSM_PAGES_TO_SCAN]);
	ck_assert_uint_eq(now.val[VMHINT_KSM_USE_ZERO_PAGES], k.val[VMHINT_KSM_USE_ZERO_PAGES]);
	/* The advisor on and off again: pages_to_scan must come back too. */
	if (before.present & (1u << VMHINT_KSM_ADVISOR_MODE)) {
		k.set = 1u << VMHINT_KSM_ADVISOR_MODE;
		k.val[VMHINT_KSM_ADVISOR_MODE] = 1;
		ck_assert_int_eq(vmhint_ksm_knobs_set(&k), 0);
		ck_assert_int_eq(vmhint_ksm_knobs_get(&now), 0);
		ck_assert_uint_eq(now.val[VMHINT_KSM_ADVISOR_MODE], 1);
	}
	/* A refused knob rolls back the whole set. */
	k = before;
	k.set = (1u << VMHINT_KSM_SLEEP_MILLISECS) | (1u << VMHINT_KSM_MAX_PAGE_SHARING);
	k.val[VMHINT_KSM_SLEEP_MILLISECS] = 77;
	k.val[VMHINT_KSM_MAX_PAGE_SHARING] = 1; /* the kernel wants >= 2 */
	ck_assert_int_lt(vmhint_ksm_knobs_set(&k), 0);
	ck_assert_int_eq(vmhint_ksm_knobs_restore(&before), 0);
	ck_assert_int_eq(vmhint_ksm_knobs_get(&now), 0);
	ck_assert_msg(knobs_equal(&before, &now), "restore left knobs changed");
}
END_TEST

/* ---- zero-page reclaim ---- */

START_TEST(zero_reclaim_memfd)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_MEMFD, 16 * MiB);
	uint64_t n = 16 * MiB / PAGE, i, zeros = 0;
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	uint64_t count[3] = { 0 };

	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	image_fill(m.hva, m.len, 1, count);
	zeros = count[PK_ZERO];
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), 16 * MiB);
	d = dedupe_on(ctx, r, 0);
	ck_assert_int_eq(vmhint_dedupe_zero_reclaim(d, NULL), (int64_t)zeros);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), (n - zeros) * PAGE);
	for (i = 0; i < n; i++) {
		uint8_t want[PAGE];

		if (page_kind(i) == PK_ZERO) {
			ck_assert_msg(file_is_hole(m.fd, i * PAGE, PAGE), "zero page %lu kept", i);
			continue;
		}
		fill_page(want, page_kind(i) == PK_SAME ? 7 : 101, i);
		ck_assert_msg(!memcmp(m.hva + i * PAGE, want, PAGE), "page %lu changed", i);
	}
	ck_assert_uint_eq(dstats(d).zero_reclaimed, zeros);
	ck_assert_uint_eq(dstats(d).bytes_saved, zeros * PAGE);
	/* A second run finds nothing: holes are not resident. */
	ck_assert_int_eq(vmhint_dedupe_zero_reclaim(d, NULL), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), (n - zeros) * PAGE);
	vmhint_dedupe_disable(d);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(zero_reclaim_respects_inhibit_and_backing)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_MEMFD, 2 * MiB), a = tmem_map(TMEM_FILE_PRIVATE, 2 * MiB);
	struct vmhint_region *r, *ra;
	struct vmhint_dedupe *d, *da;

	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	ck_assert_int_eq(tmem_register(ctx, &a, 4 * MiB, &ra), 0);
	memset(m.hva, 0, m.len);
	d = dedupe_on(ctx, r, 0);
	da = dedupe_on(ctx, ra, 0);
	ck_assert_int_eq(vmhint_dedupe_zero_reclaim(da, NULL), -EOPNOTSUPP);
	ck_assert_int_eq(vmhint_discard_inhibit(ctx, true), 1);
	ck_assert_int_eq(vmhint_dedupe_zero_reclaim(d, NULL), 0);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), 2 * MiB);
	ck_assert_int_eq(vmhint_discard_inhibit(ctx, false), 0);
	ck_assert_int_eq(vmhint_dedupe_zero_reclaim(d, NULL), 512);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), 0);
	vmhint_dedupe_disable(d);
	vmhint_dedupe_disable(da);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
	tmem_unmap(&a);
}
END_TEST

START_TEST(zero_reclaim_anon)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, 16 * MiB);
	uint64_t n = 12 * MiB / PAGE, i, count[3] = { 0 }, rss0, rss_written, zeros;
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	volatile uint8_t sink = 0;

	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	image_fill(m.hva, 12 * MiB, 1, count);
	rss_written = smaps_kb(m.hva, "Rss:");
	/*
	 * The last 4 MiB only read. Usually that maps the shared zero page:
	 * nothing to free, and reclaim must leave it alone. Some kernels give
	 * read faults zeroed frames of their own instead (seen with 6.18);
	 * those cost memory and are reclaimed too. Rss tells which it was.
	 */
	for (i = 12 * MiB; i < 16 * MiB; i += PAGE)
		sink += m.hva[i];
	(void)sink;
	rss0 = smaps_kb(m.hva, "Rss:");
	ck_assert_uint_ge(rss0, 12 * MiB / 1024);
	zeros = count[PK_ZERO] + (rss0 - rss_written) * 1024 / PAGE;
	d = dedupe_on(ctx, r, 0);
	ck_assert_int_eq(vmhint_dedupe_zero_reclaim(d, NULL), (int64_t)zeros);
	ck_assert_uint_eq(rss0 - smaps_kb(m.hva, "Rss:"), zeros * PAGE / 1024);
	for (i = 0; i < n; i++) {
		uint8_t want[PAGE];

		if (page_kind(i) == PK_ZERO) {
			ck_assert_msg(!page_resident(m.hva + i * PAGE), "zero page %lu kept", i);
			continue;
		}
		fill_page(want, page_kind(i) == PK_SAME ? 7 : 101, i);
		ck_assert_msg(!memcmp(m.hva + i * PAGE, want, PAGE), "page %lu changed", i);
	}
	ck_assert(range_is_zero(m.hva + 12 * MiB, 4 * MiB));
	vmhint_dedupe_disable(d);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(zero_reclaim_anon_keeps_thp)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, 8 * MiB);
	struct vmhint_dedupe_zero_opts zo = { .size = sizeof(zo), .granule_bytes = HUGE_2M };
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	uint64_t thp0;

	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	if (madvise(m.hva, m.len, MADV_HUGEPAGE)) {
		fprintf(stderr, "SKIP zero_reclaim_anon_keeps_thp: no MADV_HUGEPAGE\n");
		goto out;
	}
	memset(m.hva, 0, m.len);
	thp0 = smaps_kb(m.hva, "AnonHugePages:");
	if (thp0 < 8 * 1024) {
		fprintf(stderr, "SKIP zero_reclaim_anon_keeps_thp: got %" PRIu64 " kB of THP\n",
			thp0);
		goto out;
	}
	/* Block 1: one 4 KiB page not zero. Only blocks 0, 2, 3 go, whole. */
	m.hva[HUGE_2M + 5 * PAGE] = 9;
	d = dedupe_on(ctx, r, 0);
	ck_assert_int_eq(vmhint_dedupe_zero_reclaim(d, &zo), 3 * HUGE_2M / PAGE);
	ck_assert_uint_eq(smaps_kb(m.hva, "AnonHugePages:"), 2 * 1024);
	ck_assert_uint_eq(resident_pages(m.hva, m.len), HUGE_2M / PAGE);
	ck_assert_int_eq(m.hva[HUGE_2M + 5 * PAGE], 9);
	zo.granule_bytes = 3 * PAGE;
	ck_assert_int_eq(vmhint_dedupe_zero_reclaim(d, &zo), -EINVAL);
	vmhint_dedupe_disable(d);
out:
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/*
 * Zero reclaim drops through the discard engine like every other drop:
 * the context's bytes_dropped[] (by the backing's method) and syscalls
 * count it, and the frames really go (st_blocks for memfd, RSS for
 * anonymous memory). Zero runs of 8 pages between data pages: one system
 * call per run.
 */
#define COUNTED_BYTES (4 * MiB)
#define COUNTED_RUN 8

static const enum tmem_kind counted_kinds[] = { TMEM_MEMFD, TMEM_ANON };

static uint64_t counted_footprint(const struct tmem *m)
{
	if (m->kind == TMEM_MEMFD)
		return fd_bytes_allocated(m->fd);
	return smaps_kb(m->hva, "Rss:") * 1024;
}

START_TEST(zero_reclaim_counted_as_drops)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(counted_kinds[_i], COUNTED_BYTES);
	enum vmhint_method method = m.kind == TMEM_MEMFD ? VMHINT_METHOD_PUNCH_HOLE
							 : VMHINT_METHOD_MADV_DONTNEED;
	struct vmhint_stats st0 = { .size = sizeof(st0) }, st1 = { .size = sizeof(st1) };
	uint64_t n = COUNTED_BYTES / PAGE, i, zeros = 0, foot0;
	struct vmhint_region *r;
	struct vmhint_dedupe *d;

	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	/* Every page written, the zero ones with zeroes: all hold a frame. */
	for (i = 0; i < n; i++) {
		bool zero = i / COUNTED_RUN % 2 == 0;

		memset(m.hva + i * PAGE, zero ? 0 : 0x5a, PAGE);
		zeros += zero;
	}
	foot0 = counted_footprint(&m);
	ck_assert_uint_ge(foot0, COUNTED_BYTES);
	d = dedupe_on(ctx, r, 0);
	ck_assert_int_eq(vmhint_stats_get(ctx, &st0), 0);
	ck_assert_int_eq(vmhint_dedupe_zero_reclaim(d, NULL), (int64_t)zeros);
	ck_assert_int_eq(vmhint_stats_get(ctx, &st1), 0);

	ck_assert_uint_eq(st1.bytes_dropped[method] - st0.bytes_dropped[method], zeros * PAGE);
	ck_assert_uint_eq(st1.bytes_dropped_total - st0.bytes_dropped_total, zeros * PAGE);
	ck_assert_uint_eq(st1.syscalls - st0.syscalls, zeros / COUNTED_RUN);
	ck_assert_uint_eq(st1.syscall_errors, st0.syscall_errors);
	ck_assert_uint_eq(foot0 - counted_footprint(&m), zeros * PAGE);
	for (i = 0; i < n; i += COUNTED_RUN) {
		if (i / COUNTED_RUN % 2 == 0)
			ck_assert_msg(!page_resident(m.hva + i * PAGE), "zero page %lu kept", i);
		else
			ck_assert_int_eq(m.hva[i * PAGE], 0x5a);
	}
	vmhint_dedupe_disable(d);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/*
 * Writers race with reclaim. Each writer owns every NR_WRITERS-th page,
 * writes a fresh non-zero value (or, half of the time, zero: so pages keep
 * turning zero and get reclaimed under the writers' feet) into a random
 * word, and keeps a shadow of what it wrote. Whatever reclaim does, every
 * word must read back as its shadow.
 *
 * Kernel writers store through pread() from a memfd instead, so the store
 * into guest memory is the kernel's copy_to_user(), as KVM's are when it
 * emulates an instruction or writes a steal-time or virtio-ring field. A
 * userfaultfd opened with UFFD_USER_MODE_ONLY would not hold such a store
 * back: the pread() would fail with EFAULT (checked: it does with that
 * flag added in sys/sysdep.c), and under KVM the guest write would be
 * lost.
 */
#define NR_WRITERS 2
#define RACE_BYTES (4 * MiB)
#define RACE_WORDS (RACE_BYTES / 8)

struct writer {
	pthread_t th;
	int id;
	uint64_t *mem, *shadow;
	atomic_bool *stop;
	atomic_uint_fast64_t writes;
	int src;			/* kernel writer: its memfd, else -1 */
	atomic_uint_fast64_t faults;	/* kernel writer: stores that failed */
};

/*
 * The kernel stores @len bytes of @val (a repeated word) at @dst: pwrite
 * puts them in the writer's memfd, pread copies them into guest memory.
 */
static void kernel_store(struct writer *w, uint64_t *dst, uint64_t val, size_t len)
{
	uint64_t buf[PAGE / 8];
	size_t i;

	for (i = 0; i < len / 8; i++)
		buf[i] = val;
	if (pwrite(w->src, buf, len, 0) != (ssize_t)len ||
	    pread(w->src, dst, len, 0) != (ssize_t)len)
		atomic_fetch_add(&w->faults, 1);
}

static void store(struct writer *w, uint64_t *dst, uint64_t val, size_t len)
{
	if (w->src >= 0)
		kernel_store(w, dst, val, len);
	else if (len == 8)
		*dst = val;
	else
		memset(dst, 0, len);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t rng = 0x1234567ULL + (uint64_t)w->id, seq = 0;
	uint64_t npages = RACE_BYTES / PAGE;

	while (!atomic_load(w->stop)) {
		uint64_t page = rng_next(&rng) % (npages / NR_WRITERS) * NR_WRITERS + (uint64_t)w->id;
		uint64_t word = page * (PAGE / 8) + rng_next(&rng) % (PAGE / 8);
		uint64_t v = rng_next(&rng) & 1 ? ++seq << 8 | (uint64_t)w->id | 0x80 : 0;

		/* A zeroing writer clears the whole page, so it can turn zero again. */
		if (!v) {
			store(w, &w->mem[page * (PAGE / 8)], 0, PAGE);
			memset(&w->shadow[page * (PAGE / 8)], 0, PAGE);
		} else {
			store(w, &w->mem[word], v, 8);
			w->shadow[word] = v;
		}
		atomic_fetch_add(&w->writes, 1);
	}
	return NULL;
}

/*
 * Widen the race window: the library's drops (fallocate punch, madvise
 * DONTNEED) resolve to these definitions in the test program, which wait
 * before the real system call. Without write-protection, a write landing
 * in that wait is lost, and the check below catches it (it does, with the
 * protection disabled); with it, writers wait instead.
 */
static atomic_int drop_delay_us;

int fallocate(int fd, int mode, off_t offset, off_t len)
{
	int us = atomic_load(&drop_delay_us);

	if (us)
		usleep((useconds_t)us);
	return (int)syscall(SYS_fallocate, fd, mode, offset, len);
}

int madvise(void *addr, size_t len, int advice)
{
	int us = atomic_load(&drop_delay_us);

	if (us && advice == MADV_DONTNEED)
		usleep((useconds_t)us);
	return (int)syscall(SYS_madvise, addr, len, advice);
}

/* Loop index: bit 0 the backing, bit 1 kernel writers. */
static const enum tmem_kind race_kinds[] = { TMEM_MEMFD, TMEM_ANON };

START_TEST(zero_reclaim_loses_no_write)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(race_kinds[_i & 1], RACE_BYTES);
	bool kernel = _i & 2;
	struct vmhint_dedupe_zero_opts zo = { .size = sizeof(zo), .batch_pages = 8 };
	struct writer w[NR_WRITERS];
	uint64_t *shadow = calloc(RACE_WORDS, 8), i, total = 0, writes = 0;
	atomic_bool stop = false;
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	struct timespec t0, t1;
	int round;

	ck_assert_ptr_nonnull(shadow);
	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	memset(m.hva, 0, m.len);
	d = dedupe_on(ctx, r, 0);
	for (i = 0; i < NR_WRITERS; i++) {
		w[i] = (struct writer){ .id = (int)i, .mem = (uint64_t *)m.hva, .shadow = shadow,
				       .stop = &stop, .src = -1 };
		if (kernel) {
			w[i].src = memfd_create("vmhint-test-kernel-writer", MFD_CLOEXEC);
			ck_assert_int_ge(w[i].src, 0);
		}
		atomic_init(&w[i].writes, 0);
		atomic_init(&w[i].faults, 0);
		ck_assert_int_eq(pthread_create(&w[i].th, NULL, writer_main, &w[i]), 0);
	}
	atomic_store(&drop_delay_us, 50);
	/* Start once every writer runs; go on for 300 rounds and 1.5 s, or 4 s. */
	for (i = 0; i < NR_WRITERS; i++)
		while (atomic_load(&w[i].writes) < 1000)
			usleep(1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (round = 0;; round++) {
		int64_t n = vmhint_dedupe_zero_reclaim(d, &zo);
		long ms;

		ck_assert_int_ge(n, 0);
		total += (uint64_t)n;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if ((round >= 300 && ms >= 1500) || (round >= 20 && ms >= 4000))
			break;
	}
	atomic_store(&drop_delay_us, 0);
	atomic_store(&stop, true);
	for (i = 0; i < NR_WRITERS; i++) {
		pthread_join(w[i].th, NULL);
		writes += atomic_load(&w[i].writes);
		ck_assert_msg(atomic_load(&w[i].faults) == 0, "%" PRIu64 " kernel stores failed: "
			      "write-protection did not hold kernel-mode faults",
			      (uint64_t)atomic_load(&w[i].faults));
		if (w[i].src >= 0)
			close(w[i].src);
	}
	for (i = 0; i < RACE_WORDS; i++)
		ck_assert_msg(((uint64_t *)m.hva)[i] == shadow[i],
			      "word %lu (page %lu): %#lx, writer wrote %#lx", i, i / (PAGE / 8),
			      ((uint64_t *)m.hva)[i], shadow[i]);
	/* Kernel stores cost two system calls each: fewer of them. */
	ck_assert_msg(total > 4000 && writes > (kernel ? 20000u : 100000u), "only %" PRIu64
		      " pages reclaimed, %" PRIu64 " writes: the race was not exercised",
		      total, writes);
	fprintf(stderr, "zero_reclaim_loses_no_write(%s%s): %" PRIu64 " writes, %" PRIu64
		" pages reclaimed, %" PRIu64 " raced\n", _i & 1 ? "anon" : "memfd",
		kernel ? ", kernel writers" : "", writes, total, dstats(d).zero_raced);
	free(shadow);
	vmhint_dedupe_disable(d);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(zero_reclaim_hugetlb)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	struct tmem m;
	unsigned long free0;
	char why[160];

	if (!huge_pool_reserve(4, why, sizeof(why))) {
		fprintf(stderr, "SKIP zero_reclaim_hugetlb: %s\n", why);
		vmhint_ctx_free(ctx);
		return;
	}
	ck_assert(tmem_try_map(TMEM_HUGE_MEMFD, 4 * HUGE_2M, &m));
	ck_assert_int_eq(tmem_register(ctx, &m, 0, &r), 0);
	/* Huge pages 0 and 2 zero, 1 and 3 with one non-zero byte at the end. */
	memset(m.hva, 0, m.len);
	m.hva[2 * HUGE_2M - 1] = 1;
	m.hva[4 * HUGE_2M - 1] = 1;
	free0 = huge_pool_free();
	d = dedupe_on(ctx, r, 0);
	ck_assert_int_eq(vmhint_dedupe_zero_reclaim(d, NULL), 2 * HUGE_2M / PAGE);
	ck_assert_uint_eq(huge_pool_free(), free0 + 2);
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), 2 * HUGE_2M);
	ck_assert_int_eq(m.hva[2 * HUGE_2M - 1], 1);
	ck_assert_int_eq(m.hva[4 * HUGE_2M - 1], 1);
	ck_assert(range_is_zero(m.hva, HUGE_2M));
	vmhint_dedupe_disable(d);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
	huge_pool_restore();
}
END_TEST

static Suite *dedupe_suite(void)
{
	Suite *s = suite_create("dedupe");
	TCase *tc;

	tc = tcase_create("scan");
	tcase_add_test(tc, scan_classifies_and_skips);
	tcase_add_test(tc, scan_incremental_budget);
	tcase_add_test(tc, scan_rate_limit);
	tcase_add_test(tc, cross_vm_needs_opt_in);
	tcase_add_test(tc, table_mode_and_hostile_slots);
	tcase_add_test(tc, table_odd_sequence_and_bad_slot);
	suite_add_tcase(s, tc);

	tc = tcase_create("ksm");
	tcase_add_checked_fixture(tc, ksm_test_setup, ksm_test_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, knobs_need_root);
	tcase_add_test(tc, knobs_set_and_restore);
	tcase_add_test(tc, dense_marking_bounds_vmas);
	tcase_add_test(tc, estimate_matches_ksm);
	suite_add_tcase(s, tc);

	tc = tcase_create("zero");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, zero_reclaim_memfd);
	tcase_add_test(tc, zero_reclaim_respects_inhibit_and_backing);
	tcase_add_test(tc, zero_reclaim_anon);
	tcase_add_test(tc, zero_reclaim_anon_keeps_thp);
	tcase_add_loop_test(tc, zero_reclaim_counted_as_drops, 0, 2);
	tcase_add_loop_test(tc, zero_reclaim_loses_no_write, 0, 4);
	tcase_add_test(tc, zero_reclaim_hugetlb);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int ret;

	ksm_suite_hold();
	ret = run_suite(dedupe_suite());
	ksm_suite_release();
	return ret;
}
