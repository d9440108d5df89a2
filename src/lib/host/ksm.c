// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host/ksm.c - steering the kernel's host-wide KSM: short scan bursts
 * instead of a slow constant crawl, every knob saved and put back, and
 * the host-wide and per-process figures KSM reports.
 *
 * KSM is host-wide: its knobs in /sys/kernel/mm/ksm belong to root, and
 * a burst changes them for every process. So knob writes are all or
 * nothing (checked up front, rolled back on a refusal), and a burst
 * always restores what it found.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmhint/ksm.h>

#include "sys/sysdep.h"
#include "util/api.h"
#include "util/struct.h"
#include "util/time.h"

#define KSM_DIR SYS_KSM_DIR
#define BURST_POLL_MS 20

static const char *const knob_names[VMHINT_KSM_NR_KNOBS] = {
	[VMHINT_KSM_RUN] = "run",
	[VMHINT_KSM_PAGES_TO_SCAN] = "pages_to_scan",
	[VMHINT_KSM_SLEEP_MILLISECS] = "sleep_millisecs",
	[VMHINT_KSM_MERGE_ACROSS_NODES] = "merge_across_nodes",
	[VMHINT_KSM_USE_ZERO_PAGES] = "use_zero_pages",
	[VMHINT_KSM_MAX_PAGE_SHARING] = "max_page_sharing",
	[VMHINT_KSM_STABLE_NODE_CHAINS_PRUNE_MILLISECS] = "stable_node_chains_prune_millisecs",
	[VMHINT_KSM_SMART_SCAN] = "smart_scan",
	[VMHINT_KSM_ADVISOR_MODE] = "advisor_mode",
	[VMHINT_KSM_ADVISOR_MAX_CPU] = "advisor_max_cpu",
	[VMHINT_KSM_ADVISOR_MIN_PAGES_TO_SCAN] = "advisor_min_pages_to_scan",
	[VMHINT_KSM_ADVISOR_MAX_PAGES_TO_SCAN] = "advisor_max_pages_to_scan",
	[VMHINT_KSM_ADVISOR_TARGET_SCAN_TIME] = "advisor_target_scan_time",
};

VMHINT_API const char *vmhint_ksm_knob_name(enum vmhint_ksm_knob knob)
{
	if ((unsigned int)knob >= VMHINT_KSM_NR_KNOBS)
		return "unknown";
	return knob_names[knob];
}

VMHINT_API int vmhint_ksm_available(void)
{
	return sys_ksm_available();
}

static int read_file(const char *path, char *buf, size_t size)
{
	return sys_read_text(path, buf, size);
}

static int read_ksm_u64(const char *name, uint64_t *val)
{
	char path[128];

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	return sys_read_u64(path, val);
}

/* advisor_mode reads "[none] scan-time": the bracketed word is current. */
static int read_advisor(uint64_t *val)
{
	char buf[128];
	int ret = read_file(KSM_DIR "advisor_mode", buf, sizeof(buf));

	if (ret)
		return ret;
	if (strstr(buf, "[none]"))
		*val = 0;
	else if (strstr(buf, "[scan-time]"))
		*val = 1;
	else
		return -EIO;
	return 0;
}

static int read_knob(enum vmhint_ksm_knob k, uint64_t *val)
{
	if (k == VMHINT_KSM_ADVISOR_MODE)
		return read_advisor(val);
	return read_ksm_u64(knob_names[k], val);
}

static int knobs_read(struct vmhint_ksm_knobs *k)
{
	int i;

	memset(k, 0, sizeof(*k));
	k->size = sizeof(*k);
	if (vmhint_ksm_available())
		return -ENOENT;
	for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++) {
		int ret = read_knob(i, &k->val[i]);

		if (ret == -ENOENT)
			continue;
		if (ret)
			return ret;
		k->present |= 1u << i;
	}
	return 0;
}

VMHINT_API int vmhint_ksm_knobs_get(struct vmhint_ksm_knobs *k)
{
	struct vmhint_ksm_knobs full;
	int ret;

	if (!k || vh_struct_out_ok(k))
		return -EINVAL;
	ret = knobs_read(&full);
	return ret ? ret : vh_struct_out(k, &full, sizeof(full));
}

/* The caller's knobs by the size rule: knobs past its size are not set. */
static int knobs_take(struct vmhint_ksm_knobs *k, const struct vmhint_ksm_knobs *caller)
{
	int ret;

	memset(k, 0, sizeof(*k));
	if (!caller)
		return -EINVAL;
	ret = vh_struct_in(k, sizeof(*k), caller);
	if (!ret && (k->_pad0 || k->set >> VMHINT_KSM_NR_KNOBS))
		ret = -EINVAL;
	return ret;
}

static int write_knob(enum vmhint_ksm_knob k, uint64_t val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), KSM_DIR "%s", knob_names[k]);
	if (k == VMHINT_KSM_ADVISOR_MODE)
		snprintf(buf, sizeof(buf), "%s", val ? "scan-time" : "none");
	else
		snprintf(buf, sizeof(buf), "%" PRIu64, val);
	return sys_write_text(path, buf);
}

/*
 * The kernel resets pages_to_scan when the advisor is switched and
 * refuses pages_to_scan while the advisor runs, so: advisor off first and
 * pages_to_scan after it; advisor on after pages_to_scan. run goes last
 * so ksmd starts with the new settings.
 */
static int knob_order(const struct vmhint_ksm_knobs *k, enum vmhint_ksm_knob *order)
{
	bool advisor_on = (k->set & (1u << VMHINT_KSM_ADVISOR_MODE)) &&
			  k->val[VMHINT_KSM_ADVISOR_MODE];
	int i, n = 0;

	if (!advisor_on)
		order[n++] = VMHINT_KSM_ADVISOR_MODE;
	for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++)
		if (i != VMHINT_KSM_ADVISOR_MODE && i != VMHINT_KSM_RUN)
			order[n++] = i;
	if (advisor_on)
		order[n++] = VMHINT_KSM_ADVISOR_MODE;
	order[n++] = VMHINT_KSM_RUN;
	return n;
}

static int check_writable(uint32_t set)
{
	char path[128];
	int i, ret;

	for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++) {
		if (!(set & (1u << i)))
			continue;
		snprintf(path, sizeof(path), KSM_DIR "%s", knob_names[i]);
		ret = sys_may_write(path);
		if (ret)
			return ret;
	}
	return 0;
}

/* Put back knobs order[0..n) from @old after a refused write. */
static void rollback(const struct vmhint_ksm_knobs *old, const enum vmhint_ksm_knob *order, int n)
{
	while (n-- > 0)
		write_knob(order[n], old->val[order[n]]);
}

VMHINT_API int vmhint_ksm_knobs_set(const struct vmhint_ksm_knobs *caller)
{
	struct vmhint_ksm_knobs old, want, *k = &want;
	enum vmhint_ksm_knob order[VMHINT_KSM_NR_KNOBS + 1];
	int i, n, ret;

	ret = knobs_take(&want, caller);
	if (ret)
		return ret;
	ret = knobs_read(&old);
	if (ret)
		return ret;
	if (k->set & ~old.present)
		return -EOPNOTSUPP;
	ret = check_writable(k->set);
	if (ret)
		return ret;
	n = knob_order(k, order);
	for (i = 0; i < n; i++) {
		if (!(k->set & (1u << order[i])))
			continue;
		ret = write_knob(order[i], k->val[order[i]]);
		if (ret) {
			rollback(&old, order, i);
			return ret;
		}
	}
	return 0;
}

/*
 * Best effort: every differing knob is tried even if one is refused
 * (merge_across_nodes and max_page_sharing are refused with -EBUSY while
 * pages are merged), and the first error is returned.
 */
VMHINT_API int vmhint_ksm_knobs_restore(const struct vmhint_ksm_knobs *saved)
{
	struct vmhint_ksm_knobs cur, want;
	enum vmhint_ksm_knob order[VMHINT_KSM_NR_KNOBS + 1];
	int i, n, ret, first = 0;

	ret = knobs_take(&want, saved);
	if (ret)
		return ret;
	ret = knobs_read(&cur);
	if (ret)
		return ret;
	want.set = want.present & cur.present;
	ret = check_writable(want.set);
	if (ret)
		return ret;
	n = knob_order(&want, order);
	for (i = 0; i < n; i++) {
		enum vmhint_ksm_knob kn = order[i];

		if (!(want.set & (1u << kn)) || read_knob(kn, &cur.val[kn]) ||
		    cur.val[kn] == want.val[kn])
			continue;
		/* The advisor owns pages_to_scan while it runs. */
		if (kn == VMHINT_KSM_PAGES_TO_SCAN && want.val[VMHINT_KSM_ADVISOR_MODE])
			continue;
		ret = write_knob(kn, want.val[kn]);
		if (ret && !first)
			first = ret;
	}
	return first;
}

static int global_read(struct vmhint_ksm_global *g)
{
	uint64_t profit = 0;

	memset(g, 0, sizeof(*g));
	g->size = sizeof(*g);
	if (vmhint_ksm_available())
		return -ENOENT;
	read_ksm_u64("pages_shared", &g->pages_shared);
	read_ksm_u64("pages_sharing", &g->pages_sharing);
	read_ksm_u64("pages_unshared", &g->pages_unshared);
	read_ksm_u64("pages_volatile", &g->pages_volatile);
	read_ksm_u64("pages_scanned", &g->pages_scanned);
	read_ksm_u64("pages_skipped", &g->pages_skipped);
	read_ksm_u64("full_scans", &g->full_scans);
	read_ksm_u64("ksm_zero_pages", &g->ksm_zero_pages);
	/* general_profit may be negative: parse it signed. */
	{
		char buf[64];

		if (!read_file(KSM_DIR "general_profit", buf, sizeof(buf)))
			profit = (uint64_t)strtoll(buf, NULL, 10);
	}
	g->general_profit = (int64_t)profit;
	return 0;
}

VMHINT_API int vmhint_ksm_global_get(struct vmhint_ksm_global *g)
{
	struct vmhint_ksm_global full;
	int ret;

	if (!g || vh_struct_out_ok(g))
		return -EINVAL;
	ret = global_read(&full);
	return ret ? ret : vh_struct_out(g, &full, sizeof(full));
}

/* /proc/PID/ksm_stat is a handful of short lines (about 200 bytes today). */
#define KSM_STAT_MAX 4096

static void parse_ksm_stat_line(const char *line, struct vmhint_ksm_process *p)
{
	char key[64], val[32];

	if (sscanf(line, "%63[a-z_]%*[: ]%31s", key, val) != 2)
		return;
	if (!strcmp(key, "ksm_rmap_items"))
		p->rmap_items = strtoull(val, NULL, 10);
	else if (!strcmp(key, "ksm_zero_pages"))
		p->zero_pages = strtoull(val, NULL, 10);
	else if (!strcmp(key, "ksm_merging_pages"))
		p->merging_pages = strtoull(val, NULL, 10);
	else if (!strcmp(key, "ksm_process_profit"))
		p->process_profit = strtoll(val, NULL, 10);
	else if (!strcmp(key, "ksm_merge_any") && !strcmp(val, "yes"))
		p->flags |= VMHINT_KSM_PROCESS_MERGE_ANY;
	else if (!strcmp(key, "ksm_mergeable") && !strcmp(val, "yes"))
		p->flags |= VMHINT_KSM_PROCESS_MERGEABLE;
}

VMHINT_API int vmhint_ksm_process_get(pid_t pid, struct vmhint_ksm_process *p)
{
	struct vmhint_ksm_process full = { .size = sizeof(full) };
	char path[64], buf[KSM_STAT_MAX], *line, *save;
	int ret;

	if (!p || vh_struct_out_ok(p) || pid < 0)
		return -EINVAL;
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ksm_stat");
	ret = sys_read_text(path, buf, sizeof(buf));
	if (ret)
		return ret;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		parse_ksm_stat_line(line, &full);
	return vh_struct_out(p, &full, sizeof(full));
}

/* ---- bursts ---- */

/* Progress of a burst, in the units of target_pages. */
static uint64_t burst_progress(const struct vmhint_ksm_burst_opts *o)
{
	struct vmhint_ksm_global g = { .size = sizeof(g) };
	uint64_t sum = 0;
	uint32_t i;

	if (!o->nr_pids) {
		if (global_read(&g))
			return 0;
		return g.pages_sharing + g.ksm_zero_pages;
	}
	for (i = 0; i < o->nr_pids; i++) {
		struct vmhint_ksm_process p = { .size = sizeof(p) };

		if (!vmhint_ksm_process_get(o->pids[i], &p))
			sum += p.merging_pages + p.zero_pages;
	}
	return sum;
}

static uint64_t ksm_full_scans(void)
{
	uint64_t v = 0;

	read_ksm_u64("full_scans", &v);
	return v;
}


static int burst_start(const struct vmhint_ksm_burst_opts *o, const struct vmhint_ksm_knobs *saved)
{
	struct vmhint_ksm_knobs k = *saved;

	k.set = (1u << VMHINT_KSM_RUN) | (1u << VMHINT_KSM_PAGES_TO_SCAN) |
		(1u << VMHINT_KSM_SLEEP_MILLISECS) | (1u << VMHINT_KSM_USE_ZERO_PAGES);
	/* The advisor would overwrite pages_to_scan: off for the burst. */
	if (saved->present & (1u << VMHINT_KSM_ADVISOR_MODE))
		k.set |= 1u << VMHINT_KSM_ADVISOR_MODE;
	k.val[VMHINT_KSM_ADVISOR_MODE] = 0;
	k.val[VMHINT_KSM_RUN] = 1;
	k.val[VMHINT_KSM_PAGES_TO_SCAN] = o->pages_to_scan ? o->pages_to_scan : 8192;
	k.val[VMHINT_KSM_SLEEP_MILLISECS] = o->sleep_millisecs ? o->sleep_millisecs : 10;
	k.val[VMHINT_KSM_USE_ZERO_PAGES] = !!(o->flags & VMHINT_KSM_BURST_USE_ZERO_PAGES);
	return vmhint_ksm_knobs_set(&k);
}

/*
 * Poll until the target is reached, or - without a target, or when the
 * target was too optimistic - until two full scans after the second one
 * merged nothing new (KSM needs two scans to see a page unchanged).
 */
static int burst_wait(const struct vmhint_ksm_burst_opts *o, struct vmhint_ksm_burst_result *r)
{
	uint64_t t0 = vh_now_ns(), base = o->nr_pids ? 0 : burst_progress(o);
	uint64_t scans0 = ksm_full_scans();
	uint64_t timeout = o->timeout_ms ? o->timeout_ms : 60000, last_scan = scans0, last_val = 0;
	int steady = 0;

	for (;;) {
		uint64_t merged = burst_progress(o), scans;

		merged = merged > base ? merged - base : 0;
		scans = ksm_full_scans();
		r->pages_merged = merged;
		r->full_scans = scans - scans0;
		r->elapsed_ms = (vh_now_ns() - t0) / 1000000;
		if (o->target_pages && merged >= o->target_pages)
			return 0;
		if (scans != last_scan) {
			/* Two full scans in a row merged nothing (after the first two). */
			steady = scans - scans0 >= 3 && merged == last_val ? steady + 1 : 0;
			if (steady >= 2)
				return 0;
			last_scan = scans;
			last_val = merged;
		}
		if (r->elapsed_ms >= timeout)
			return -ETIMEDOUT;
		if (o->should_stop && o->should_stop(o->opaque))
			return -ECANCELED;
		vh_sleep_ns(BURST_POLL_MS * 1000000ULL);
	}
}

/*
 * Two bursts of one process at once would each save the other's boosted
 * knobs and "restore" them: one burst per process at a time.
 */
static pthread_mutex_t burst_lock = PTHREAD_MUTEX_INITIALIZER;

static int burst_locked(const struct vmhint_ksm_burst_opts *opts, struct vmhint_ksm_burst_result *r)
{
	struct vmhint_ksm_knobs saved;
	int ret, ret2;

	ret = knobs_read(&saved);
	if (ret)
		return ret;
	ret = burst_start(opts, &saved);
	if (ret)
		return ret;
	ret = burst_wait(opts, r);
	if (!ret)
		r->flags |= VMHINT_KSM_BURST_REACHED;
	ret2 = vmhint_ksm_knobs_restore(&saved);
	return ret ? ret : ret2;
}

VMHINT_API int vmhint_ksm_burst(const struct vmhint_ksm_burst_opts *caller_opts,
				struct vmhint_ksm_burst_result *result)
{
	struct vmhint_ksm_burst_result r = { .size = sizeof(r) };
	struct vmhint_ksm_burst_opts o = { .size = sizeof(o) }, *opts = &o;
	int ret;

	if (!caller_opts || (result && vh_struct_out_ok(result)))
		return -EINVAL;
	ret = vh_struct_in(&o, sizeof(o), caller_opts);
	if (ret)
		return ret;
	if ((o.nr_pids && !o.pids) || o._pad0 || o._pad1 ||
	    (o.flags & ~VMHINT_KSM_BURST_USE_ZERO_PAGES))
		return -EINVAL;
	if (pthread_mutex_trylock(&burst_lock))
		return -EBUSY;
	ret = burst_locked(opts, &r);
	pthread_mutex_unlock(&burst_lock);
	if (result)
		vh_struct_out(result, &r, sizeof(r));
	return ret;
}
