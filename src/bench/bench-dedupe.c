// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmhint-bench-dedupe - how fast does guest RAM get deduplicated, and at
 * what CPU cost: KSM alone (default knobs), KSM with the scan-time
 * advisor, and vmhint (fingerprint scan, cross-VM estimate, dense KSM
 * marking, a scan burst). Plus zero-page reclaim on a memfd region (which
 * KSM cannot touch) and the raw fingerprint scan throughput. Prints JSON.
 *
 * Every mode starts fresh VM processes with the same synthetic images:
 * runs of --run-pages pages, each run 50% identical across VMs, 20% zero,
 * 30% unique. Progress is measured per VM process from ksm_stat
 * (ksm_merging_pages + ksm_zero_pages): host-wide counters would include
 * any other mergeable process (e.g. another QEMU) on the host.
 *
 * Needs root (KSM knobs). Every knob is restored at exit, also on
 * SIGINT/SIGTERM.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmhint.h>
#include <vmhint/ksm.h>

#define PAGE 4096ULL
#define MAX_VMS 16

enum kind { K_SAME, K_ZERO, K_UNIQUE };

struct cfg {
	bool quick;
	int vms;
	uint64_t mib;
	uint64_t run_pages;
	unsigned int cap_default_s, cap_other_s;
	uint32_t burst_pages, burst_sleep_ms;
	bool no_zero_reclaim;
	bool vmhint_only;     /* tuning: skip the baselines and the extras */
	bool no_unmerge;      /* keep merged pages between modes */
};

static struct cfg cfg = {
	.vms = 4, .mib = 128, .run_pages = 256, .cap_default_s = 180, .cap_other_s = 120,
	.burst_pages = 8192, .burst_sleep_ms = 5,
};

static volatile sig_atomic_t stop_flag;
static struct vmhint_ksm_knobs saved_knobs = { .size = sizeof(saved_knobs) };
static bool knobs_saved;

/* ---- small helpers ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double self_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void restore_knobs(void)
{
	if (knobs_saved)
		vmhint_ksm_knobs_restore(&saved_knobs);
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static pid_t find_ksmd(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char path[300], comm[32];
	pid_t found = 0;

	while (d && !found && (de = readdir(d))) {
		FILE *f;

		if (atoi(de->d_name) <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) && !strcmp(comm, "ksmd\n"))
			found = atoi(de->d_name);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

/* utime + stime of a task, seconds. */
static double task_cpu_s(pid_t pid)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- synthetic guest images ---- */

static enum kind kind_of(uint64_t page)
{
	uint64_t x = (page / cfg.run_pages + 1) * 0x9e3779b97f4a7c15ULL;

	x = (x ^ (x >> 31)) % 10;
	return x < 5 ? K_SAME : x < 7 ? K_ZERO : K_UNIQUE;
}

static void fill_page(uint8_t *p, uint64_t seed, uint64_t page)
{
	uint64_t *w = (uint64_t *)p, i;

	for (i = 0; i < PAGE / 8; i++)
		w[i] = (seed << 32 ^ page << 12 ^ i) * 0xbf58476d1ce4e5b9ULL | 1;
}

static void image_fill(uint8_t *p, uint64_t len, int vm)
{
	uint64_t i;

	for (i = 0; i < len / PAGE; i++) {
		enum kind k = kind_of(i);

		if (k == K_SAME)
			fill_page(p + i * PAGE, 7, i);
		else if (k == K_UNIQUE)
			fill_page(p + i * PAGE, 100 + (uint64_t)vm, i);
		else
			memset(p + i * PAGE, 0, PAGE);
	}
}

static void image_count(uint64_t pages, uint64_t count[3])
{
	uint64_t i;

	count[0] = count[1] = count[2] = 0;
	for (i = 0; i < pages; i++)
		count[kind_of(i)]++;
}

/* ---- VM processes ---- */

struct vm {
	pid_t pid;
	int cmd, reply; /* parent's ends */
};

struct reply {
	double cpu;       /* CPU seconds the command took, -1 on failure */
	uint64_t value;   /* 'K': zero pages reclaimed */
};

struct vm_state {
	uint8_t *mem;
	uint64_t len;
	struct vmhint_ctx *ctx;
	struct vmhint_dedupe *d;
	struct vmhint_dedupe_table *t;
};

/* vmhint, phase 1: fingerprint and publish. */
static int vm_scan_publish(struct vm_state *s, const char *table)
{
	struct vmhint_dedupe_table_opts to = { .size = sizeof(to) };
	struct vmhint_dedupe_opts o = { .size = sizeof(o), .flags = VMHINT_DEDUPE_CROSS_VM };
	struct vmhint_region_opts ro = { .size = sizeof(ro), .hva = s->mem, .len = s->len,
					 .fd = -1, .name = "bench-ram" };
	struct vmhint_region *r;

	if (vmhint_ctx_new(NULL, &s->ctx) || vmhint_region_add(s->ctx, &ro, &r) ||
	    vmhint_dedupe_enable(s->ctx, r, &o, &s->d) ||
	    vmhint_dedupe_table_open(table, &to, &s->t))
		return -1;
	if (vmhint_dedupe_scan_pass(s->d) < 0 || vmhint_dedupe_publish(s->d, s->t) < 0)
		return -1;
	return 0;
}

/*
 * vmhint, phase 2: drop the zero pages at once (uffd-wp protected), then
 * refresh cross-VM candidates (every VM has published by now) and mark
 * only the chunks dense in them for ksmd.
 */
static int vm_mark(struct vm_state *s, uint64_t *zero)
{
	struct vmhint_dedupe_mark_opts mo = { .size = sizeof(mo), .mode = VMHINT_DEDUPE_MARK_DENSE,
					   .chunk_bytes = 1 << 20, .min_percent = 25,
					   .max_ranges = 32 };
	int64_t n = cfg.no_zero_reclaim ? 0 : vmhint_dedupe_zero_reclaim(s->d, NULL);

	if (n < 0 || vmhint_dedupe_publish(s->d, s->t) < 0)
		return -1;
	*zero = (uint64_t)n;
	return vmhint_dedupe_mark(s->d, &mo) > 0 ? 0 : -1;
}

static void vm_main(int vmi, int cmd, int reply, const char *table)
{
	struct vm_state s = { .len = cfg.mib << 20 };
	char c;

	s.mem = mmap(NULL, s.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s.mem == MAP_FAILED)
		_exit(2);
	image_fill(s.mem, s.len, vmi);
	while (read(cmd, &c, 1) == 1) {
		struct reply rep = { 0 };
		double cpu0 = self_cpu_s();
		int ret = 0;

		if (c == 'M')
			ret = madvise(s.mem, s.len, MADV_MERGEABLE);
		else if (c == 'S')
			ret = vm_scan_publish(&s, table);
		else if (c == 'K')
			ret = vm_mark(&s, &rep.value);
		else if (c == 'Q')
			break;
		rep.cpu = ret ? -1 : self_cpu_s() - cpu0;
		if (write(reply, &rep, sizeof(rep)) != sizeof(rep))
			_exit(3);
	}
	_exit(0);
}

static int vms_start(struct vm *v, const char *table)
{
	int i, j, a[2], b[2];
	struct reply ready;

	for (i = 0; i < cfg.vms; i++) {
		if (pipe(a) || pipe(b))
			return -1;
		v[i].pid = fork();
		if (v[i].pid < 0)
			return -1;
		if (!v[i].pid) {
			for (j = 0; j < i; j++) {
				close(v[j].cmd);
				close(v[j].reply);
			}
			close(a[1]);
			close(b[0]);
			signal(SIGINT, SIG_IGN);
			vm_main(i, a[0], b[1], table);
		}
		close(a[0]);
		close(b[1]);
		v[i].cmd = a[1];
		v[i].reply = b[0];
	}
	/* Ready once each answers a no-op: the image is filled. */
	for (i = 0; i < cfg.vms; i++)
		if (write(v[i].cmd, "n", 1) != 1 || read(v[i].reply, &ready, sizeof(ready)) != sizeof(ready))
			return -1;
	return 0;
}

/* Send @c to every VM, wait for all; returns their CPU seconds, or -1. */
static double vms_cmd(struct vm *v, char c, uint64_t *value)
{
	struct reply rep;
	double sum = 0;
	int i;

	for (i = 0; i < cfg.vms; i++)
		if (write(v[i].cmd, &c, 1) != 1)
			return -1;
	for (i = 0; i < cfg.vms; i++) {
		if (read(v[i].reply, &rep, sizeof(rep)) != sizeof(rep) || rep.cpu < 0)
			return -1;
		sum += rep.cpu;
		if (value)
			*value += rep.value;
	}
	return sum;
}

static void vms_stop(struct vm *v)
{
	int i;

	for (i = 0; i < cfg.vms; i++) {
		if (write(v[i].cmd, "Q", 1) != 1)
			kill(v[i].pid, SIGKILL);
		close(v[i].cmd);
		close(v[i].reply);
	}
	for (i = 0; i < cfg.vms; i++)
		waitpid(v[i].pid, NULL, 0);
}

/* Pages of our VMs merged by KSM or (vmhint) dropped as zero: @extra. */
static uint64_t vms_progress(const struct vm *v, uint64_t extra)
{
	uint64_t sum = extra;
	int i;

	for (i = 0; i < cfg.vms; i++) {
		struct vmhint_ksm_process p = { .size = sizeof(p) };

		if (!vmhint_ksm_process_get(v[i].pid, &p))
			sum += p.merging_pages + p.zero_pages;
	}
	return sum;
}

/* ---- KSM state between modes ---- */

static pid_t foreign_mergeable(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	while (d && !found && (de = readdir(d))) {
		struct vmhint_ksm_process p = { .size = sizeof(p) };
		pid_t pid = atoi(de->d_name);

		if (pid > 0 && pid != getpid() && !vmhint_ksm_process_get(pid, &p) &&
		    (p.flags & (VMHINT_KSM_PROCESS_MERGEABLE | VMHINT_KSM_PROCESS_MERGE_ANY)))
			found = pid;
	}
	if (d)
		closedir(d);
	return found;
}

/* Bytes of @pid's mappings marked mergeable (VmFlags "mg"): ksmd scans them all. */
static uint64_t mergeable_bytes(pid_t pid)
{
	unsigned long s = 0, e = 0, a, b;
	uint64_t sum = 0;
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
			s = a;
			e = b;
		} else if (!strncmp(line, "VmFlags:", 8) && strstr(line, " mg")) {
			sum += e - s;
		}
	}
	fclose(f);
	return sum;
}

static int set_knobs(uint32_t set, const uint64_t *val)
{
	struct vmhint_ksm_knobs k = saved_knobs;
	int i;

	k.set = set;
	for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++)
		if (set & (1u << i))
			k.val[i] = val[i];
	return vmhint_ksm_knobs_set(&k);
}

/*
 * After a mode: put the knobs back and unmerge everything (run=2), so the
 * next mode starts from an empty stable tree and stale nodes of exited
 * VMs help no one. run=2 unmerges other processes' pages too; on a host
 * where KSM is off by default, that is the state before the bench.
 */
static void ksm_reset(bool may_unmerge)
{
	uint64_t val[VMHINT_KSM_NR_KNOBS] = { 0 };
	struct vmhint_ksm_global g = { .size = sizeof(g) };
	int i;

	restore_knobs();
	if (!may_unmerge)
		return;
	val[VMHINT_KSM_RUN] = 2;
	if (set_knobs(1u << VMHINT_KSM_RUN, val))
		return;
	for (i = 0; i < 1000; i++) {
		vmhint_ksm_global_get(&g);
		if (!g.pages_shared && !g.pages_sharing && !g.ksm_zero_pages)
			break;
		usleep(10000);
	}
	restore_knobs();
}

/* ---- the three modes ---- */

struct result {
	const char *name;
	bool reached, capped;
	double t90, ksmd_cpu, lib_cpu, final_pct, wall;
	double cpu90;                 /* ksmd + library CPU when 90% was reached */
	pid_t ksmd;
	double ksmd_c0, lib_c0;       /* lib_c0: library CPU before the burst */
	uint64_t zero_reclaimed;      /* vmhint: zero pages dropped by the VMs */
	double t_scan, t_mark;        /* vmhint: when the phases ended (s from start) */
	uint64_t est_saved, est_merging;
	int err;
};

static uint64_t achievable_merging(void)
{
	uint64_t count[3];

	image_count((cfg.mib << 20) / PAGE, count);
	return (uint64_t)cfg.vms * (count[K_SAME] + count[K_ZERO]);
}

/* Poll progress until 90% or the cap; fills t90 and final_pct. */
static void wait_90(struct result *r, const struct vm *v, double t0, unsigned int cap)
{
	uint64_t goal = achievable_merging(), p = 0;

	while (!stop_flag) {
		p = vms_progress(v, 0);
		if (p * 10 >= goal * 9) {
			r->reached = true;
			r->t90 = now_s() - t0;
			r->cpu90 = task_cpu_s(r->ksmd) - r->ksmd_c0;
			break;
		}
		if (now_s() - t0 >= cap) {
			r->capped = true;
			break;
		}
		usleep(50000);
	}
	r->final_pct = 100.0 * (double)p / (double)goal;
}

static void run_ksm_mode(struct result *r, bool advisor, pid_t ksmd, unsigned int cap)
{
	uint64_t val[VMHINT_KSM_NR_KNOBS] = { 0 };
	uint32_t set = 1u << VMHINT_KSM_RUN;
	struct vm v[MAX_VMS];
	double t0, c0;

	if (vms_start(v, "")) {
		r->err = -EIO;
		return;
	}
	val[VMHINT_KSM_RUN] = 1;
	if (advisor) {
		set |= 1u << VMHINT_KSM_ADVISOR_MODE;
		val[VMHINT_KSM_ADVISOR_MODE] = 1;
	}
	t0 = now_s();
	c0 = task_cpu_s(ksmd);
	r->ksmd = ksmd;
	r->ksmd_c0 = c0;
	if (vms_cmd(v, 'M', NULL) < 0 || (r->err = set_knobs(set, val))) {
		r->err = r->err ? r->err : -EIO;
		vms_stop(v);
		return;
	}
	wait_90(r, v, t0, cap);
	r->ksmd_cpu = task_cpu_s(ksmd) - c0;
	r->wall = now_s() - t0;
	restore_knobs();
	vms_stop(v);
}

struct burst_watch {
	const struct vm *v;
	struct result *r;
	double t0, pc0;
	uint64_t goal;
};

/* Called by the burst every poll: note when 90% was crossed. */
static int burst_watch(void *opaque)
{
	struct burst_watch *w = opaque;

	if (!w->r->reached && vms_progress(w->v, w->r->zero_reclaimed) * 10 >= w->goal * 9) {
		w->r->reached = true;
		w->r->t90 = now_s() - w->t0;
		w->r->cpu90 = task_cpu_s(w->r->ksmd) - w->r->ksmd_c0 + w->r->lib_c0 +
			      self_cpu_s() - w->pc0;
	}
	return stop_flag;
}

static int vmhint_estimate(struct result *r, const char *table)
{
	struct vmhint_dedupe_estimate_opts eo = { .size = sizeof(eo),
						  .zero_mode = VMHINT_DEDUPE_ZERO_ZERO_PAGE };
	struct vmhint_dedupe_saving all = { .size = sizeof(all) };
	struct vmhint_dedupe_table_opts to = { .size = sizeof(to) };
	struct vmhint_dedupe_estimate *e;
	struct vmhint_dedupe_table *t;
	int ret;

	ret = vmhint_dedupe_table_open(table, &to, &t);
	if (ret)
		return ret;
	ret = vmhint_dedupe_estimate_new(t, &eo, &e);
	if (ret >= 0) {
		vmhint_dedupe_estimate_get(e, -1, &all);
		r->est_saved = all.saved_pages;
		r->est_merging = all.merging_pages + all.zero_pages;
		vmhint_dedupe_estimate_free(e);
		ret = 0;
	}
	vmhint_dedupe_table_close(t);
	return ret;
}

static void run_vmhint_mode(struct result *r, pid_t ksmd, unsigned int cap)
{
	struct vmhint_dedupe_table_opts to = { .size = sizeof(to), .nr_slots = MAX_VMS,
					       .slot_capacity = 1 << 20,
					       .flags = VMHINT_DEDUPE_TABLE_CREATE };
	struct vmhint_ksm_burst_result br = { .size = sizeof(br) };
	struct vmhint_ksm_burst_opts bo = { .size = sizeof(bo) };
	struct vmhint_dedupe_table *t;
	struct burst_watch w;
	struct vm v[MAX_VMS];
	pid_t pids[MAX_VMS];
	double t0, c0, pc0, cpu;
	char table[64];
	int i;

	snprintf(table, sizeof(table), "/vmhint-bench-%d", getpid());
	vmhint_dedupe_table_unlink(table);
	if ((r->err = vmhint_dedupe_table_open(table, &to, &t)))
		return;
	if (vms_start(v, table)) {
		r->err = -EIO;
		goto out;
	}
	t0 = now_s();
	c0 = task_cpu_s(ksmd);
	pc0 = self_cpu_s();
	r->ksmd = ksmd;
	r->ksmd_c0 = c0;
	cpu = vms_cmd(v, 'S', NULL);
	if (cpu < 0 || (r->err = vmhint_estimate(r, table))) {
		r->err = r->err ? r->err : -EIO;
		goto stop;
	}
	r->lib_cpu = cpu;
	r->t_scan = now_s() - t0;
	cpu = vms_cmd(v, 'K', &r->zero_reclaimed);
	r->t_mark = now_s() - t0;
	if (cpu < 0) {
		r->err = -EIO;
		goto stop;
	}
	r->lib_cpu += cpu;
	for (i = 0; i < cfg.vms; i++)
		pids[i] = v[i].pid;
	r->lib_c0 = r->lib_cpu;
	w = (struct burst_watch){ .v = v, .r = r, .t0 = t0, .pc0 = pc0,
				  .goal = achievable_merging() };
	bo.pids = pids;
	bo.nr_pids = (uint32_t)cfg.vms;
	/* KSM's part: what is left after the zero pages were dropped. */
	bo.target_pages = r->est_merging - (r->est_merging > r->zero_reclaimed ?
					    r->zero_reclaimed : r->est_merging);
	bo.pages_to_scan = cfg.burst_pages;
	bo.sleep_millisecs = cfg.burst_sleep_ms;
	bo.flags |= VMHINT_KSM_BURST_USE_ZERO_PAGES;
	bo.timeout_ms = cap * 1000;
	bo.should_stop = burst_watch;
	bo.opaque = &w;
	r->err = vmhint_ksm_burst(&bo, &br);
	burst_watch(&w);
	r->ksmd_cpu = task_cpu_s(ksmd) - c0;
	r->lib_cpu += self_cpu_s() - pc0;
	r->wall = now_s() - t0;
	r->final_pct = 100.0 * (double)vms_progress(v, r->zero_reclaimed) /
		       (double)achievable_merging();
	r->capped = r->err == -ETIMEDOUT;
	if (r->err == -ETIMEDOUT)
		r->err = 0;
stop:
	vms_stop(v);
out:
	vmhint_dedupe_table_close(t);
	vmhint_dedupe_table_unlink(table);
}

/* ---- zero reclaim and scan throughput ---- */

struct zr_result {
	uint64_t zero_bytes, vmhint_bytes, ksm_bytes;
	double vmhint_s, vmhint_cpu;
	int ksm_madvise, err;
};

static uint64_t fd_bytes(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint64_t)st.st_blocks * 512;
}

/* A memfd "guest" with the image of VM 0; KSM gets a go at it first. */
static void run_zero_reclaim(struct zr_result *z, unsigned int ksm_s)
{
	uint64_t len = cfg.mib << 20, count[3], b0, val[VMHINT_KSM_NR_KNOBS] = { 0 };
	struct vmhint_region_opts ro = { .size = sizeof(ro), .len = len, .name = "bench-memfd" };
	struct vmhint_ctx *ctx = NULL;
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	double t0, c0;
	int64_t n;
	int fd;

	image_count(len / PAGE, count);
	z->zero_bytes = count[K_ZERO] * PAGE;
	fd = memfd_create("bench-memfd", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)len)) {
		z->err = -errno;
		return;
	}
	ro.hva = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ro.fd = fd;
	if (ro.hva == MAP_FAILED) {
		z->err = -errno;
		close(fd);
		return;
	}
	image_fill(ro.hva, len, 0);
	/* KSM: mark it and let ksmd run fast for a while. */
	b0 = fd_bytes(fd);
	z->ksm_madvise = madvise(ro.hva, len, MADV_MERGEABLE) ? -errno : 0;
	val[VMHINT_KSM_RUN] = 1;
	val[VMHINT_KSM_PAGES_TO_SCAN] = 4096;
	val[VMHINT_KSM_USE_ZERO_PAGES] = 1;
	if (!set_knobs((1u << VMHINT_KSM_RUN) | (1u << VMHINT_KSM_PAGES_TO_SCAN) |
		       (1u << VMHINT_KSM_USE_ZERO_PAGES), val))
		sleep(ksm_s);
	restore_knobs();
	z->ksm_bytes = b0 - fd_bytes(fd);
	/* vmhint */
	if ((z->err = vmhint_ctx_new(NULL, &ctx)) || (z->err = vmhint_region_add(ctx, &ro, &r)) ||
	    (z->err = vmhint_dedupe_enable(ctx, r, NULL, &d)))
		goto out;
	b0 = fd_bytes(fd);
	t0 = now_s();
	c0 = self_cpu_s();
	n = vmhint_dedupe_zero_reclaim(d, NULL);
	z->vmhint_cpu = self_cpu_s() - c0;
	z->vmhint_s = now_s() - t0;
	z->err = n < 0 ? (int)n : 0;
	z->vmhint_bytes = b0 - fd_bytes(fd);
	vmhint_dedupe_disable(d);
out:
	vmhint_ctx_free(ctx);
	munmap(ro.hva, len);
	close(fd);
}

static double run_scan_throughput(double *cpu_s, uint64_t *bytes)
{
	uint64_t len = (uint64_t)cfg.vms * (cfg.mib << 20);
	struct vmhint_region_opts ro = { .size = sizeof(ro), .len = len, .fd = -1 };
	struct vmhint_ctx *ctx = NULL;
	struct vmhint_region *r;
	struct vmhint_dedupe *d;
	double s = 0;

	ro.hva = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro.hva == MAP_FAILED)
		return 0;
	image_fill(ro.hva, len, 0);
	if (!vmhint_ctx_new(NULL, &ctx) && !vmhint_region_add(ctx, &ro, &r) &&
	    !vmhint_dedupe_enable(ctx, r, NULL, &d)) {
		double t0 = now_s(), c0 = self_cpu_s();

		vmhint_dedupe_scan_pass(d);
		*cpu_s = self_cpu_s() - c0;
		s = now_s() - t0;
		vmhint_dedupe_disable(d);
	}
	vmhint_ctx_free(ctx);
	munmap(ro.hva, len);
	*bytes = len;
	return s;
}

/* ---- output ---- */

static void print_mode(const struct result *r, bool last)
{
	printf("    {\"name\": \"%s\", \"error\": %d, \"reached_90pct\": %s, "
	       "\"time_to_90pct_s\": %s%.2f, \"capped\": %s, \"wall_s\": %.2f, "
	       "\"final_progress_pct\": %.1f, \"cpu_to_90pct_s\": %s%.2f, "
	       "\"ksmd_cpu_total_s\": %.2f, \"lib_cpu_total_s\": %.3f, \"cpu_total_s\": %.2f",
	       r->name, r->err, r->reached ? "true" : "false", r->reached ? "" : "-",
	       r->reached ? r->t90 : 1.0, r->capped ? "true" : "false", r->wall, r->final_pct,
	       r->reached ? "" : "-", r->reached ? r->cpu90 : 1.0,
	       r->ksmd_cpu, r->lib_cpu, r->ksmd_cpu + r->lib_cpu);
	if (r->est_merging)
		printf(", \"estimate_saved_pages\": %" PRIu64 ", \"estimate_merging_pages\": %" PRIu64
		       ", \"zero_pages_dropped\": %" PRIu64 ", \"scan_publish_estimate_done_s\": %.2f"
		       ", \"zero_drop_and_mark_done_s\": %.2f", r->est_saved, r->est_merging,
		       r->zero_reclaimed, r->t_scan, r->t_mark);
	printf("}%s\n", last ? "" : ",");
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--quick] [--vms N] [--mib N] [--run-pages N] [--burst-pages N]\n"
		"          [--burst-sleep-ms N] [--cap-default S] [--cap S] [--no-zero-reclaim]\n"
		"          [--vmhint-only] [--no-unmerge]\n"
		"  --quick: CI mode, smaller caps; KSM-default baseline capped at 20 s\n", argv0);
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "vms", required_argument, NULL, 'v' },
		{ "mib", required_argument, NULL, 'm' },
		{ "run-pages", required_argument, NULL, 'r' },
		{ "burst-pages", required_argument, NULL, 'b' },
		{ "burst-sleep-ms", required_argument, NULL, 's' },
		{ "cap-default", required_argument, NULL, 'D' },
		{ "cap", required_argument, NULL, 'C' },
		{ "no-zero-reclaim", no_argument, NULL, 'Z' },
		{ "vmhint-only", no_argument, NULL, 'O' },
		{ "no-unmerge", no_argument, NULL, 'U' },
		{ 0 } };
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q': cfg.quick = true; cfg.cap_default_s = 20; cfg.cap_other_s = 60; break;
		case 'v': cfg.vms = atoi(optarg); break;
		case 'm': cfg.mib = strtoull(optarg, NULL, 0); break;
		case 'r': cfg.run_pages = strtoull(optarg, NULL, 0); break;
		case 'b': cfg.burst_pages = (uint32_t)atoi(optarg); break;
		case 's': cfg.burst_sleep_ms = (uint32_t)atoi(optarg); break;
		case 'D': cfg.cap_default_s = (unsigned int)atoi(optarg); break;
		case 'C': cfg.cap_other_s = (unsigned int)atoi(optarg); break;
		case 'Z': cfg.no_zero_reclaim = true; break;
		case 'O': cfg.vmhint_only = true; break;
		case 'U': cfg.no_unmerge = true; break;
		default: usage(argv[0]);
		}
	}
	if (cfg.vms < 2 || cfg.vms > MAX_VMS || !cfg.mib || !cfg.run_pages)
		usage(argv[0]);
}

int main(int argc, char **argv)
{
	struct result res[3] = { { .name = "ksm-default" }, { .name = "ksm-advisor-scan-time" },
				 { .name = "vmhint" } };
	struct zr_result z = { 0 };
	uint64_t count[3], scan_bytes = 0;
	double scan_s, scan_cpu = 0, adv_cpu;
	pid_t ksmd, foreign;
	uint64_t foreign_bytes;
	bool idle, may_unmerge;
	struct vmhint_ksm_global g = { .size = sizeof(g) };
	int i;

	parse(argc, argv);
	if (vmhint_ksm_available() || geteuid()) {
		printf("{\"bench\": \"dedupe\", \"skipped\": \"%s\"}\n",
		       vmhint_ksm_available() ? "no KSM in this kernel" : "needs root for KSM knobs");
		return 77;
	}
	knobs_saved = vmhint_ksm_knobs_get(&saved_knobs) == 0;
	atexit(restore_knobs);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ksmd = find_ksmd();
	vmhint_ksm_global_get(&g);
	idle = !g.pages_shared && !g.pages_sharing && !g.ksm_zero_pages;
	foreign = foreign_mergeable();
	foreign_bytes = foreign ? mergeable_bytes(foreign) : 0;
	may_unmerge = !cfg.no_unmerge;
	ksm_reset(may_unmerge);

	run_vmhint_mode(&res[2], ksmd, cfg.cap_other_s);
	ksm_reset(may_unmerge);
	if (cfg.vmhint_only)
		stop_flag = 1;
	if (!stop_flag)
		run_ksm_mode(&res[1], true, ksmd, cfg.cap_other_s);
	ksm_reset(may_unmerge);
	if (!stop_flag)
		run_ksm_mode(&res[0], false, ksmd, cfg.cap_default_s);
	ksm_reset(may_unmerge);
	if (!stop_flag)
		run_zero_reclaim(&z, cfg.quick ? 2 : 5);
	ksm_reset(may_unmerge);
	scan_s = stop_flag ? 0 : run_scan_throughput(&scan_cpu, &scan_bytes);
	restore_knobs();

	image_count((cfg.mib << 20) / PAGE, count);
	printf("{\n  \"bench\": \"dedupe\",\n  \"quick\": %s,\n  \"vmhint_only\": %s,\n"
	       "  \"interrupted\": %s,\n", cfg.quick ? "true" : "false",
	       cfg.vmhint_only ? "true" : "false", stop_flag && !cfg.vmhint_only ? "true" : "false");
	printf("  \"note\": \"%s\",\n", cfg.quick ?
	       "quick mode: ksm-default capped at 20 s, other modes at 60 s" :
	       "full mode: ksm-default capped at --cap-default seconds");
	printf("  \"setup\": {\"vms\": %d, \"mib_per_vm\": %" PRIu64 ", \"run_pages\": %" PRIu64
	       ", \"pages_per_vm\": {\"identical\": %" PRIu64 ", \"zero\": %" PRIu64
	       ", \"unique\": %" PRIu64 "}, \"achievable_merging_pages\": %" PRIu64
	       ", \"progress_metric\": \"sum over VM processes of ksm_merging_pages + ksm_zero_pages\"},\n",
	       cfg.vms, cfg.mib, cfg.run_pages, count[0], count[1], count[2], achievable_merging());
	{
		char load[64] = "";
		FILE *f = fopen("/proc/loadavg", "r");

		if (f && !fgets(load, sizeof(load), f))
			load[0] = '\0';
		if (f)
			fclose(f);
		load[strcspn(load, "\n")] = '\0';
		printf("  \"host_load\": {\"loadavg_at_end\": \"%s\", "
		       "\"foreign_mergeable_mib_at_start\": %" PRIu64 ", "
		       "\"note\": \"ksmd also scans every other mergeable process (e.g. another "
		       "QEMU): it slows every mode and adds to ksmd CPU\"},\n", load,
		       foreign_bytes >> 20);
	}
	printf("  \"host\": {\"ksmd_pid\": %d, \"ksm_idle_at_start\": %s, "
	       "\"foreign_mergeable_pid\": %d, \"unmerge_between_modes\": %s, "
	       "\"mode_order\": \"vmhint, ksm-advisor, ksm-default\"},\n", (int)ksmd,
	       idle ? "true" : "false", (int)foreign, may_unmerge ? "true" : "false");
	printf("  \"vmhint_burst\": {\"pages_to_scan\": %u, \"sleep_millisecs\": %u, "
	       "\"use_zero_pages\": true, \"mark\": \"dense 1 MiB chunks >= 25%%, <= 32 ranges\", "
	       "\"zero_pages\": \"%s\"},\n", cfg.burst_pages, cfg.burst_sleep_ms,
	       cfg.no_zero_reclaim ? "left to KSM use_zero_pages" :
	       "dropped by vmhint_dedupe_zero_reclaim (uffd-wp + MADV_DONTNEED)");
	printf("  \"modes\": [\n");
	for (i = 0; i < 3; i++)
		print_mode(&res[i], i == 2);
	printf("  ],\n");
	printf("  \"zero_reclaim_memfd\": {\"error\": %d, \"zero_bytes_in_image\": %" PRIu64
	       ", \"vmhint_reclaimed_bytes\": %" PRIu64 ", \"vmhint_s\": %.3f, \"vmhint_cpu_s\": %.3f"
	       ", \"ksm_madvise_ret\": %d, \"ksm_reclaimed_bytes\": %" PRId64 "},\n",
	       z.err, z.zero_bytes, z.vmhint_bytes, z.vmhint_s, z.vmhint_cpu, z.ksm_madvise,
	       (int64_t)z.ksm_bytes);
	printf("  \"scan\": {\"bytes\": %" PRIu64 ", \"wall_s\": %.3f, \"cpu_s\": %.3f, "
	       "\"gib_per_s\": %.2f},\n", scan_bytes, scan_s, scan_cpu,
	       scan_s > 0 ? (double)scan_bytes / (1ULL << 30) / scan_s : 0.0);
	/*
	 * An advisor that did not reach 90% before its cap had spent at least
	 * its CPU so far: a lower bound to compare with.
	 */
	adv_cpu = res[1].reached ? res[1].cpu90 : res[1].ksmd_cpu;
	printf("  \"goal\": {\"vmhint_time_to_90pct_le_5s\": %s, \"vmhint_cpu_le_advisor\": %s, "
	       "\"advisor_cpu_basis\": \"%s\"}\n}\n",
	       res[2].reached && res[2].t90 <= 5.0 ? "true" : "false",
	       res[2].reached && res[2].cpu90 <= adv_cpu && (res[1].reached || res[1].capped) ?
	       "true" : "false",
	       res[1].reached ? "advisor cpu_to_90pct_s" :
	       "advisor did not reach 90% before its cap: its CPU until the cap (a lower bound)");
	return stop_flag && !cfg.vmhint_only ? 130 : 0;
}
