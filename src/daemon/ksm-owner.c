// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmhintd's KSM owner: see ksm-owner.h. The only file of vmhintd that
 * includes <vmhint/ksm.h>: everything that changes host-wide KSM state
 * goes through here.
 *
 * Life of a burst:
 *  1. vhd_ksm_poll() (main loop) picks a table, reads every knob and
 *     writes them to the state file (synced) - before anything changes;
 *  2. a thread runs vmhint_ksm_burst(), which boosts ksmd, waits for the
 *     merging (or should_stop, or the timeout) and puts the knobs back;
 *  3. the thread makes sure they are back (vmhint_ksm_knobs_restore() of
 *     the copy saved in 1) and only then removes the state file;
 *  4. the next vhd_ksm_poll() joins the thread and logs the figures.
 * If the knobs cannot be put back in 3, the file stays and every poll
 * retries before anything else; a vmhintd killed between 1 and 3 finds
 * the file in vhd_ksm_new().
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vmhint.h>
#include <vmhint/ksm.h>

#include "ksm-owner.h"
#include "ksm-state.h"
#include "log.h"

#define TABLE_NAME_MAX	256
#define KSM_PAGE_SIZE	4096ULL
#define KSMTUNED_COMM	"ksmtuned"
#define MAX_KSMTUNED	16
#define MAX_BACKOFF	64	/* times ksm_burst_interval */

/*
 * What the state file may hold for each knob: what the kernel takes
 * (mm/ksm.c: unsigned int or unsigned long, flags 0 or 1, run 0..2,
 * max_page_sharing >= 2, advisor_target_scan_time >= 1). Every value the
 * kernel can report must pass, or a saved state would not come back.
 */
static const struct {
	uint64_t min, max;
} knob_range[VMHINT_KSM_NR_KNOBS] = {
	[VMHINT_KSM_RUN] = { 0, 2 },
	[VMHINT_KSM_PAGES_TO_SCAN] = { 0, UINT32_MAX },
	[VMHINT_KSM_SLEEP_MILLISECS] = { 0, UINT32_MAX },
	[VMHINT_KSM_MERGE_ACROSS_NODES] = { 0, 1 },
	[VMHINT_KSM_USE_ZERO_PAGES] = { 0, 1 },
	[VMHINT_KSM_MAX_PAGE_SHARING] = { 2, INT32_MAX },
	[VMHINT_KSM_STABLE_NODE_CHAINS_PRUNE_MILLISECS] = { 0, UINT32_MAX },
	[VMHINT_KSM_SMART_SCAN] = { 0, 1 },
	[VMHINT_KSM_ADVISOR_MODE] = { 0, 1 },
	[VMHINT_KSM_ADVISOR_MAX_CPU] = { 0, UINT64_MAX },
	[VMHINT_KSM_ADVISOR_MIN_PAGES_TO_SCAN] = { 0, UINT64_MAX },
	[VMHINT_KSM_ADVISOR_MAX_PAGES_TO_SCAN] = { 0, UINT64_MAX },
	[VMHINT_KSM_ADVISOR_TARGET_SCAN_TIME] = { 1, UINT64_MAX },
};

/* Index i of the state file's spec is enum vmhint_ksm_knob i. */
static struct vhd_ksm_state_spec state_spec[VMHINT_KSM_NR_KNOBS];
static pthread_once_t state_spec_once = PTHREAD_ONCE_INIT;

static void state_spec_init(void)
{
	int i;

	for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++) {
		state_spec[i].name = vmhint_ksm_knob_name(i);
		state_spec[i].min = knob_range[i].min;
		state_spec[i].max = knob_range[i].max;
	}
}

/* One dedupe table in use, kept open across polls. */
struct ksm_table {
	struct ksm_table *next;
	char name[TABLE_NAME_MAX];
	struct vmhint_dedupe_table *t;
	int open_err;			/* last open error, logged once */
	bool in_use;
	pid_t *pids;
	unsigned int nr_pids, pids_cap;
	/* The last estimate, for the listed pids. */
	int vms;
	uint64_t saved_bytes;		/* what merging everything would free */
	uint64_t predicted;		/* pages KSM would map shared (ksm_stat units) */
	uint64_t merged;		/* what ksm_stat says is merged now */
	uint64_t gain_bytes;
	uint64_t last_end_ns;		/* CLOCK_MONOTONIC; 0: never burst */
	/*
	 * ksm_burst_interval times this before the next burst: doubled
	 * after a burst that merged under a quarter of what the estimate
	 * promised (pages the QEMUs did not mark mergeable, say), so a
	 * promise KSM cannot keep does not cost a burst every interval.
	 */
	unsigned int backoff;
};

/* A burst: built by the main loop, run by its thread, read after join. */
struct ksm_burst {
	pthread_t thread;
	char table[TABLE_NAME_MAX];
	char state_path[PATH_MAX];
	int32_t *pids;
	struct vmhint_ksm_burst_opts opts;
	struct vmhint_ksm_burst_result res;
	struct vmhint_ksm_knobs saved;
	uint64_t merged_before;
	time_t started;
	int ret;
	bool knobs_back;		/* and the state file removed */
	atomic_bool stop, done;
};

struct last_burst {
	char table[TABLE_NAME_MAX];
	time_t started;
	uint64_t elapsed_ms, pages_merged;
	int ret;
};

struct vhd_ksm {
	enum vhd_ksm_mode mode;
	uint64_t min_gain;
	uint32_t interval_ms, timeout_ms, pages_to_scan, sleep_ms;
	char state_path[PATH_MAX];
	bool available;			/* the kernel has KSM */
	pid_t ksmtuned;			/* 0: not running */
	struct ksm_table *tables;
	struct ksm_burst *burst;	/* running or not yet reaped */
	/* Knobs a finished burst could not put back: retried every poll. */
	bool restore_pending;
	struct vmhint_ksm_knobs pending;
	unsigned long bursts;
	bool have_last;
	struct last_burst last;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool knob_present(const struct vmhint_ksm_knobs *k, int i)
{
	return k->present & (1u << i);
}

/* As vmhint_ksm_knobs_restore() sees it: the advisor owns pages_to_scan. */
static bool knobs_equal(const struct vmhint_ksm_knobs *want, const struct vmhint_ksm_knobs *cur)
{
	int i;

	for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++) {
		if (!knob_present(want, i) || !knob_present(cur, i))
			continue;
		if (i == VMHINT_KSM_PAGES_TO_SCAN && want->val[VMHINT_KSM_ADVISOR_MODE])
			continue;
		if (want->val[i] != cur->val[i])
			return false;
	}
	return true;
}

/* "run 1->0, pages_to_scan 1234->100" for the log. */
static void knobs_diff(const struct vmhint_ksm_knobs *from, const struct vmhint_ksm_knobs *to,
		       char *buf, size_t size)
{
	size_t off = 0;
	int i, n;

	buf[0] = '\0';
	for (i = 0; i < VMHINT_KSM_NR_KNOBS && off < size; i++) {
		if (!knob_present(from, i) || !knob_present(to, i) || from->val[i] == to->val[i])
			continue;
		n = snprintf(buf + off, size - off, "%s%s %" PRIu64 "->%" PRIu64,
			     off ? ", " : "", vmhint_ksm_knob_name(i), from->val[i], to->val[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static void state_from_knobs(const struct vmhint_ksm_knobs *k, struct vhd_ksm_state *st)
{
	int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++) {
		if (knob_present(k, i)) {
			st->present |= 1u << i;
			st->val[i] = k->val[i];
		}
	}
}

static void knobs_from_state(const struct vhd_ksm_state *st, struct vmhint_ksm_knobs *k)
{
	int i;

	memset(k, 0, sizeof(*k));
	k->size = sizeof(*k);
	for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++) {
		if (st->present & (1u << i)) {
			k->present |= 1u << i;
			k->val[i] = st->val[i];
		}
	}
}

/*
 * Put @saved back. Done when the restore succeeded or when the knobs are
 * as saved anyway (a burst refused with -EPERM changed nothing); then the
 * state file goes.
 */
static int restore_and_forget(const char *state_path, const struct vmhint_ksm_knobs *saved,
			      struct vmhint_ksm_knobs *before)
{
	struct vmhint_ksm_knobs cur = { .size = sizeof(cur) };
	int ret;

	if (before) {
		before->size = sizeof(*before);
		if (vmhint_ksm_knobs_get(before))
			before->present = 0;
	}
	ret = vmhint_ksm_knobs_restore(saved);
	if (ret && !(vmhint_ksm_knobs_get(&cur) == 0 && knobs_equal(saved, &cur)))
		return ret;
	return vhd_ksm_state_remove(state_path);
}

/* ---- the state file a killed vmhintd left ---- */

static int restore_leftover(struct vhd_ksm *k)
{
	struct vmhint_ksm_knobs saved, before, after = { .size = sizeof(after) };
	struct vhd_ksm_state st;
	char err[256], diff[512];
	int ret;

	ret = vhd_ksm_state_read(k->state_path, state_spec, VMHINT_KSM_NR_KNOBS, &st,
				 err, sizeof(err));
	if (ret == -ENOENT)
		return 0;
	if (ret == -EBADMSG) {
		vhd_err("%s: %s: not applied, KSM knobs left as they are", k->state_path, err);
		ret = vhd_ksm_state_set_aside(k->state_path);
		if (ret)
			vhd_err("%s: cannot rename it to .bad: %s", k->state_path, strerror(-ret));
		else
			vhd_notice("%s kept as %s.bad", k->state_path, k->state_path);
		return 0;
	}
	if (ret) {
		vhd_err("%s: cannot read the KSM knobs a burst saved: %s; kept for the next try",
			k->state_path, strerror(-ret));
		return ret;
	}
	if (!k->available) {
		vhd_warn("%s: KSM knobs saved, but this kernel has no KSM now: file kept",
			 k->state_path);
		return 0;
	}
	knobs_from_state(&st, &saved);
	ret = restore_and_forget(k->state_path, &saved, &before);
	vmhint_ksm_knobs_get(&after);
	knobs_diff(&before, &after, diff, sizeof(diff));
	if (ret) {
		vhd_err("%s: cannot restore the KSM knobs a killed vmhintd left: %s%s%s; kept for "
			"the next try", k->state_path, strerror(-ret), diff[0] ? "; restored " : "",
			diff);
		return ret;
	}
	if (diff[0])
		vhd_notice("restored the KSM knobs a killed vmhintd left mid-burst (%s): %s",
			   k->state_path, diff);
	else
		vhd_notice("%s: a killed vmhintd left KSM knobs saved; they were already back",
			   k->state_path);
	return 0;
}

/*
 * The settings a burst is built from. A running burst copied what it
 * needs into its own opts when it started (burst_start()), and its thread
 * reads nothing of @k, so the main loop may change these at any time.
 */
static void settings_from_conf(struct vhd_ksm *k, const struct vhd_conf *conf)
{
	k->mode = conf->ksm;
	k->min_gain = conf->ksm_burst_min_gain;
	k->interval_ms = conf->ksm_burst_interval_ms;
	k->timeout_ms = conf->ksm_burst_timeout_ms;
	k->pages_to_scan = conf->ksm_burst_pages_to_scan;
	k->sleep_ms = conf->ksm_burst_sleep_ms;
}

int vhd_ksm_new(const struct vhd_conf *conf, struct vhd_ksm **out)
{
	struct vhd_ksm *k;
	int ret;

	*out = NULL;
	pthread_once(&state_spec_once, state_spec_init);
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	settings_from_conf(k, conf);
	if (snprintf(k->state_path, sizeof(k->state_path), "%s/%s", conf->state_dir,
		     VHD_KSM_STATE_NAME) >= (int)sizeof(k->state_path)) {
		free(k);
		return -ENAMETOOLONG;
	}
	k->available = vmhint_ksm_available() == 0;
	/* Whatever conf says: the knobs a killed vmhintd boosted come back. */
	ret = restore_leftover(k);
	if (ret) {
		free(k);
		return ret;
	}
	if (!k->available)
		vhd_info("no KSM in this kernel: no KSM bursts");
	else if (k->mode == VHD_KSM_OFF)
		vhd_info("ksm = off: vmhintd leaves the KSM knobs alone");
	*out = k;
	return 0;
}

/* ---- ksmtuned ---- */

static bool read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

static bool is_ksmtuned(pid_t pid)
{
	char path[64], comm[32];

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	return read_small(path, comm, sizeof(comm)) && !strcmp(comm, KSMTUNED_COMM "\n");
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!read_small(path, buf, sizeof(buf)))
		return 0;
	/* "pid (comm) state ppid ...": comm may hold anything, even ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

/*
 * The ksmtuned daemon: a process named ksmtuned (the Debian package's
 * script) whose parent is not one too (its command substitutions fork
 * short-lived subshells of the same name). @hint: the one found last time.
 */
static pid_t find_ksmtuned(pid_t hint)
{
	pid_t found[MAX_KSMTUNED], pid;
	struct dirent *de;
	unsigned int n = 0, i, j;
	DIR *dir;

	if (hint > 0 && is_ksmtuned(hint) && !is_ksmtuned(parent_of(hint)))
		return hint;
	dir = opendir("/proc");
	if (!dir)
		return 0;
	while (n < MAX_KSMTUNED && (de = readdir(dir))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = (pid_t)atoi(de->d_name);
		if (pid > 0 && is_ksmtuned(pid))
			found[n++] = pid;
	}
	closedir(dir);
	for (i = 0; i < n; i++) {
		pid = parent_of(found[i]);
		for (j = 0; j < n && found[j] != pid; j++)
			;
		if (j == n)
			return found[i];
	}
	return n ? found[0] : 0;
}

static void ksmtuned_check(struct vhd_ksm *k)
{
	pid_t pid = find_ksmtuned(k->ksmtuned);

	if (pid && !k->ksmtuned)
		vhd_notice("ksmtuned runs (pid %d): vmhintd runs no KSM bursts while it does",
			   (int)pid);
	else if (!pid && k->ksmtuned)
		vhd_notice("ksmtuned (pid %d) is gone: vmhintd owns KSM again", (int)k->ksmtuned);
	k->ksmtuned = pid;
	if (pid && k->burst && !atomic_load(&k->burst->done) && !atomic_load(&k->burst->stop)) {
		vhd_notice("stopping the KSM burst on %s: ksmtuned started", k->burst->table);
		atomic_store(&k->burst->stop, true);
	}
}

/* ---- tables and their estimates ---- */

static void table_free(struct ksm_table *t)
{
	vmhint_dedupe_table_close(t->t);
	free(t->pids);
	free(t);
}

static struct ksm_table *table_find(struct vhd_ksm *k, const char *name)
{
	struct ksm_table *t;

	for (t = k->tables; t; t = t->next)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

static int table_add_pids(struct ksm_table *t, const pid_t *pids, unsigned int nr)
{
	unsigned int i, j;

	for (i = 0; i < nr; i++) {
		for (j = 0; j < t->nr_pids && t->pids[j] != pids[i]; j++)
			;
		if (j < t->nr_pids || pids[i] <= 0)
			continue;
		if (t->nr_pids == t->pids_cap) {
			unsigned int cap = t->pids_cap ? t->pids_cap * 2 : 8;
			pid_t *p = realloc(t->pids, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			t->pids = p;
			t->pids_cap = cap;
		}
		t->pids[t->nr_pids++] = pids[i];
	}
	return 0;
}

static struct ksm_table *table_use(struct vhd_ksm *k, const struct vhd_ksm_table_use *u)
{
	struct ksm_table *t = table_find(k, u->table);

	if (!t) {
		if (strlen(u->table) >= TABLE_NAME_MAX) {
			vhd_warn("dedupe table name too long: %.64s...", u->table);
			return NULL;
		}
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		snprintf(t->name, sizeof(t->name), "%s", u->table);
		t->backoff = 1;
		t->next = k->tables;
		k->tables = t;
	}
	if (!t->in_use)
		t->nr_pids = 0;
	t->in_use = true;
	if (table_add_pids(t, u->pids, u->nr_pids))
		vhd_warn("%s: out of memory for its pids", t->name);
	return t;
}

static void tables_drop_unused(struct vhd_ksm *k)
{
	struct ksm_table **pp = &k->tables, *t;

	while ((t = *pp)) {
		if (t->in_use) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		vhd_debug("dedupe table %s no longer in use: closed", t->name);
		table_free(t);
	}
}

static bool pid_listed(const struct ksm_table *t, pid_t pid)
{
	unsigned int i;

	for (i = 0; i < t->nr_pids; i++)
		if (t->pids[i] == pid)
			return true;
	return false;
}

/* What KSM merged for the table's pids, in the units of ksm_stat. */
static uint64_t merged_pages(const struct ksm_table *t)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < t->nr_pids; i++) {
		struct vmhint_ksm_process p = { .size = sizeof(p) };

		if (!vmhint_ksm_process_get(t->pids[i], &p))
			sum += p.merging_pages + p.zero_pages;
	}
	return sum;
}

static int table_open(struct ksm_table *t)
{
	struct vmhint_dedupe_table_opts o = { .size = sizeof(o) };	/* no CREATE */
	int ret;

	if (t->t)
		return 0;
	ret = vmhint_dedupe_table_open(t->name, &o, &t->t);
	if (ret) {
		t->t = NULL;
		if (ret != t->open_err)
			vhd_warn("dedupe table %s: cannot open it: %s", t->name, strerror(-ret));
		t->open_err = ret;
		return ret;
	}
	if (t->open_err)
		vhd_info("dedupe table %s: open now", t->name);
	t->open_err = 0;
	return 0;
}

/*
 * The estimate's figures for the table's pids, and the gain of a burst.
 *
 * The estimate predicts two things per VM: merging_pages, the pages KSM
 * would map shared (the units of ksm_merging_pages + ksm_zero_pages in
 * /proc/PID/ksm_stat, and of a burst's progress with pids), and
 * saved_pages, the pages that would be freed. They differ (two VMs with N
 * equal pages: 2N merging, N saved), so the gain is not the predicted
 * saving minus the merged count, but the part of the predicted saving
 * that is not merged yet: saved * (predicted - merged) / predicted.
 */
static void table_estimate(struct ksm_table *t, bool zero_page_mode)
{
	struct vmhint_dedupe_estimate_opts eo = {
		.size = sizeof(eo),
		.zero_mode = zero_page_mode ? VMHINT_DEDUPE_ZERO_ZERO_PAGE :
					      VMHINT_DEDUPE_ZERO_KSM_PAGE,
	};
	struct vmhint_dedupe_estimate *e = NULL;
	int i, n;

	t->vms = 0;
	t->saved_bytes = t->predicted = t->gain_bytes = 0;
	t->merged = merged_pages(t);
	if (table_open(t))
		return;
	n = vmhint_dedupe_estimate_new(t->t, &eo, &e);
	if (n < 0) {
		vhd_warn("dedupe table %s: no estimate: %s", t->name, strerror(-n));
		return;
	}
	for (i = 0; i < n; i++) {
		struct vmhint_dedupe_saving s = { .size = sizeof(s) };

		if (vmhint_dedupe_estimate_get(e, i, &s) || !pid_listed(t, s.pid))
			continue;
		t->vms++;
		t->saved_bytes += s.saved_bytes;
		t->predicted += s.merging_pages + (zero_page_mode ? s.zero_pages : 0);
	}
	vmhint_dedupe_estimate_free(e);
	if (t->predicted > t->merged)
		t->gain_bytes = (uint64_t)((unsigned __int128)t->saved_bytes *
					   (t->predicted - t->merged) / t->predicted);
}

/* ---- bursts ---- */

static int burst_should_stop(void *opaque)
{
	struct ksm_burst *b = opaque;

	return atomic_load(&b->stop);
}

static void *burst_main(void *opaque)
{
	struct ksm_burst *b = opaque;

	b->ret = vmhint_ksm_burst(&b->opts, &b->res);
	/* The library restores the knobs; the file goes only once they are back. */
	b->knobs_back = restore_and_forget(b->state_path, &b->saved, NULL) == 0;
	atomic_store(&b->done, true);
	return NULL;
}

static const char *burst_result_name(int ret)
{
	switch (ret) {
	case 0:
		return "reached";
	case -ETIMEDOUT:
		return "timeout";
	case -ECANCELED:
		return "cancelled";
	default:
		return "error";
	}
}

static void burst_free(struct ksm_burst *b)
{
	free(b->pids);
	free(b);
}

static void table_backoff(struct ksm_table *t, const struct ksm_burst *b, uint64_t merged)
{
	uint64_t expected = b->opts.target_pages > b->merged_before ?
			    b->opts.target_pages - b->merged_before : 0;

	if (b->ret == -ECANCELED)
		return;
	if (merged * 4 >= expected) {
		t->backoff = 1;
		return;
	}
	if (t->backoff < MAX_BACKOFF)
		t->backoff *= 2;
	vhd_notice("KSM burst on %s merged %" PRIu64 " of %" PRIu64 " pages expected: next "
		   "burst on it after %u times ksm_burst_interval", t->name, merged, expected,
		   t->backoff);
}

static void burst_reap(struct vhd_ksm *k)
{
	struct ksm_burst *b = k->burst;
	struct ksm_table *t;
	uint64_t merged;

	pthread_join(b->thread, NULL);
	k->burst = NULL;
	merged = b->res.pages_merged > b->merged_before ?
		 b->res.pages_merged - b->merged_before : 0;
	if (b->ret == 0 || b->ret == -ETIMEDOUT || b->ret == -ECANCELED)
		vhd_info("KSM burst on %s: %s after %" PRIu64 " ms, %" PRIu64 " pages merged "
			 "(%" PRIu64 " full scans)", b->table, burst_result_name(b->ret),
			 b->res.elapsed_ms, merged, b->res.full_scans);
	else
		vhd_err("KSM burst on %s failed after %" PRIu64 " ms: %s", b->table,
			b->res.elapsed_ms, strerror(-b->ret));
	if (!b->knobs_back) {
		vhd_err("KSM knobs not back after the burst on %s: retrying every poll (saved "
			"in %s)", b->table, k->state_path);
		k->restore_pending = true;
		k->pending = b->saved;
	}
	k->bursts++;
	k->have_last = true;
	snprintf(k->last.table, sizeof(k->last.table), "%s", b->table);
	k->last.started = b->started;
	k->last.elapsed_ms = b->res.elapsed_ms;
	k->last.pages_merged = merged;
	k->last.ret = b->ret;
	t = table_find(k, b->table);
	if (t) {
		t->last_end_ns = now_ns();
		table_backoff(t, b, merged);
	}
	burst_free(b);
}

static void burst_start(struct vhd_ksm *k, struct ksm_table *t, const struct vmhint_ksm_knobs *now)
{
	struct vhd_ksm_state st;
	struct ksm_burst *b;
	unsigned int i;
	int ret;

	b = calloc(1, sizeof(*b));
	if (b)
		b->pids = calloc(t->nr_pids, sizeof(*b->pids));
	if (!b || !b->pids) {
		vhd_err("no KSM burst on %s: out of memory", t->name);
		free(b);
		return;
	}
	snprintf(b->table, sizeof(b->table), "%s", t->name);
	snprintf(b->state_path, sizeof(b->state_path), "%s", k->state_path);
	for (i = 0; i < t->nr_pids; i++)
		b->pids[i] = (int32_t)t->pids[i];
	b->saved = *now;
	b->merged_before = t->merged;
	b->opts = (struct vmhint_ksm_burst_opts){
		.size = sizeof(b->opts),
		/* Zero pages as the host has them, as the estimate counted them. */
		.flags = now->val[VMHINT_KSM_USE_ZERO_PAGES] ? VMHINT_KSM_BURST_USE_ZERO_PAGES : 0,
		.pids = b->pids,
		.nr_pids = t->nr_pids,
		.target_pages = t->predicted,
		.pages_to_scan = k->pages_to_scan,
		.sleep_millisecs = k->sleep_ms,
		.timeout_ms = k->timeout_ms,
		.should_stop = burst_should_stop,
		.opaque = b,
	};
	b->res.size = sizeof(b->res);
	atomic_init(&b->stop, false);
	atomic_init(&b->done, false);

	/* The knobs as they are go to disk before the burst changes one. */
	state_from_knobs(now, &st);
	ret = vhd_ksm_state_write(k->state_path, state_spec, VMHINT_KSM_NR_KNOBS, &st);
	if (ret) {
		vhd_err("no KSM burst on %s: cannot save the KSM knobs to %s: %s", t->name,
			k->state_path, strerror(-ret));
		burst_free(b);
		t->last_end_ns = now_ns();	/* retry after the interval */
		return;
	}
	b->started = time(NULL);
	ret = pthread_create(&b->thread, NULL, burst_main, b);
	if (ret) {
		vhd_err("no KSM burst on %s: cannot start its thread: %s", t->name, strerror(ret));
		vhd_ksm_state_remove(k->state_path);
		burst_free(b);
		t->last_end_ns = now_ns();
		return;
	}
	vhd_info("KSM burst on %s: %u processes, %" PRIu64 " MiB to gain, target %" PRIu64
		 " pages (%" PRIu64 " merged now)", t->name, t->nr_pids, t->gain_bytes >> 20,
		 t->predicted, t->merged);
	k->burst = b;
}

/* The table with the most to gain, if a burst may run now. */
static struct ksm_table *burst_pick(struct vhd_ksm *k)
{
	uint64_t now = now_ns(), interval = (uint64_t)k->interval_ms * 1000000ULL;
	struct ksm_table *t, *best = NULL;

	for (t = k->tables; t; t = t->next) {
		if (!t->in_use || !t->nr_pids || t->gain_bytes < k->min_gain || !t->gain_bytes)
			continue;
		if (t->last_end_ns && now - t->last_end_ns < interval * t->backoff)
			continue;
		if (!best || t->gain_bytes > best->gain_bytes)
			best = t;
	}
	return best;
}

void vhd_ksm_poll(struct vhd_ksm *k, const struct vhd_ksm_table_use *uses,
		  unsigned int nr_uses)
{
	struct vmhint_ksm_knobs now = { .size = sizeof(now) };
	struct ksm_table *t;
	bool have_knobs;
	unsigned int i;

	if (!k)
		return;
	if (k->burst && atomic_load(&k->burst->done))
		burst_reap(k);
	if (k->restore_pending && !restore_and_forget(k->state_path, &k->pending, NULL)) {
		vhd_notice("KSM knobs back as they were before the last burst");
		k->restore_pending = false;
	}
	ksmtuned_check(k);

	for (t = k->tables; t; t = t->next)
		t->in_use = false;
	for (i = 0; i < nr_uses; i++)
		if (uses[i].table)
			table_use(k, &uses[i]);
	tables_drop_unused(k);

	have_knobs = k->available && vmhint_ksm_knobs_get(&now) == 0;
	for (t = k->tables; t; t = t->next)
		table_estimate(t, have_knobs && now.val[VMHINT_KSM_USE_ZERO_PAGES]);

	if (k->mode == VHD_KSM_OFF || !have_knobs || k->ksmtuned || k->burst ||
	    k->restore_pending)
		return;
	t = burst_pick(k);
	if (t)
		burst_start(k, t, &now);
}

/* What @conf changes of @k's settings, "ksm auto->off, ksm_burst_sleep
 * 10ms->20ms", for the log; "" if nothing. */
static void settings_diff(const struct vhd_ksm *k, const struct vhd_conf *c, char *buf,
			  size_t size)
{
	static const char *const mode_name[] = { [VHD_KSM_AUTO] = "auto", [VHD_KSM_OFF] = "off" };
	size_t off = 0;
	int n;

	buf[0] = '\0';
#define SETTING_DIFF(cond, fmt, ...) do {						\
		if ((cond) && off < size) {						\
			n = snprintf(buf + off, size - off, "%s" fmt, off ? ", " : "",	\
				     __VA_ARGS__);					\
			off += n > 0 ? (size_t)n : 0;					\
		}									\
	} while (0)
	SETTING_DIFF(k->mode != c->ksm, "ksm %s->%s", mode_name[k->mode], mode_name[c->ksm]);
	SETTING_DIFF(k->min_gain != c->ksm_burst_min_gain, "ksm_burst_min_gain %" PRIu64 "->%"
		     PRIu64, k->min_gain, c->ksm_burst_min_gain);
	SETTING_DIFF(k->interval_ms != c->ksm_burst_interval_ms, "ksm_burst_interval %" PRIu32
		     "ms->%" PRIu32 "ms", k->interval_ms, c->ksm_burst_interval_ms);
	SETTING_DIFF(k->timeout_ms != c->ksm_burst_timeout_ms, "ksm_burst_timeout %" PRIu32
		     "ms->%" PRIu32 "ms", k->timeout_ms, c->ksm_burst_timeout_ms);
	SETTING_DIFF(k->pages_to_scan != c->ksm_burst_pages_to_scan, "ksm_burst_pages_to_scan %"
		     PRIu32 "->%" PRIu32, k->pages_to_scan, c->ksm_burst_pages_to_scan);
	SETTING_DIFF(k->sleep_ms != c->ksm_burst_sleep_ms, "ksm_burst_sleep %" PRIu32 "ms->%"
		     PRIu32 "ms", k->sleep_ms, c->ksm_burst_sleep_ms);
#undef SETTING_DIFF
	if (off >= size && size > 4)
		strcpy(buf + size - 4, "...");
}

void vhd_ksm_reconfigure(struct vhd_ksm *k, const struct vhd_conf *conf)
{
	char diff[512];

	if (!k)
		return;
	settings_diff(k, conf, diff, sizeof(diff));
	if (!diff[0])
		return;
	settings_from_conf(k, conf);
	vhd_notice("KSM settings reloaded: %s", diff);
	if (!k->burst || atomic_load(&k->burst->done))
		return;
	if (k->mode == VHD_KSM_OFF) {
		if (!atomic_load(&k->burst->stop))
			vhd_notice("stopping the KSM burst on %s: ksm = off", k->burst->table);
		atomic_store(&k->burst->stop, true);
	} else {
		vhd_info("the running KSM burst on %s keeps the settings it started with; the "
			 "next one takes the new ones", k->burst->table);
	}
}

void vhd_ksm_free(struct vhd_ksm *k)
{
	struct ksm_table *t;

	if (!k)
		return;
	if (k->burst) {
		atomic_store(&k->burst->stop, true);
		burst_reap(k);
	}
	if (k->restore_pending && restore_and_forget(k->state_path, &k->pending, NULL))
		vhd_err("KSM knobs not restored; %s keeps them for the next start",
			k->state_path);
	while ((t = k->tables)) {
		k->tables = t->next;
		table_free(t);
	}
	free(k);
}

/* ---- ksm-status ---- */

static int add(json_object *o, const char *key, json_object *v)
{
	if (!v)
		return -1;
	if (json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

static int add_u64(json_object *o, const char *key, uint64_t v)
{
	return add(o, key, json_object_new_uint64(v));
}

static json_object *status_knobs(void)
{
	struct vmhint_ksm_knobs kn = { .size = sizeof(kn) };
	json_object *o = json_object_new_object();
	int i, err = 0;

	if (!o || vmhint_ksm_knobs_get(&kn))
		return o;
	for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++)
		if (knob_present(&kn, i))
			err |= add_u64(o, vmhint_ksm_knob_name(i), kn.val[i]);
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *status_last(const struct last_burst *l)
{
	json_object *o = json_object_new_object();
	char when[32];
	struct tm tm;
	int err = 0;

	if (!o)
		return NULL;
	gmtime_r(&l->started, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	err |= add(o, "table", json_object_new_string(l->table));
	err |= add(o, "started", json_object_new_string(when));
	err |= add_u64(o, "elapsed-ms", l->elapsed_ms);
	err |= add_u64(o, "pages-merged", l->pages_merged);
	err |= add(o, "result", json_object_new_string(burst_result_name(l->ret)));
	if (l->ret && l->ret != -ETIMEDOUT && l->ret != -ECANCELED)
		err |= add(o, "error", json_object_new_string(strerror(-l->ret)));
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *status_table(const struct ksm_table *t)
{
	json_object *o = json_object_new_object();
	int err = 0;

	if (!o)
		return NULL;
	err |= add(o, "table", json_object_new_string(t->name));
	err |= add(o, "vms", json_object_new_int(t->vms));
	err |= add_u64(o, "saved-bytes", t->saved_bytes);
	err |= add_u64(o, "merged-pages", t->merged);
	err |= add_u64(o, "gain-bytes", t->gain_bytes);
	if (t->open_err)
		err |= add(o, "error", json_object_new_string(strerror(-t->open_err)));
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *status_global(void)
{
	struct vmhint_ksm_global g = { .size = sizeof(g) };
	json_object *o = json_object_new_object();
	int err = 0;

	if (!o || vmhint_ksm_global_get(&g))
		return o;
	err |= add_u64(o, "pages_shared", g.pages_shared);
	err |= add_u64(o, "pages_sharing", g.pages_sharing);
	err |= add_u64(o, "ksm_zero_pages", g.ksm_zero_pages);
	err |= add(o, "general_profit", json_object_new_int64(g.general_profit));
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *vhd_ksm_status(struct vhd_ksm *k)
{
	json_object *o = json_object_new_object(), *tables;
	const char *owner;
	struct ksm_table *t;
	int err = 0;

	if (!o)
		return NULL;
	if (!k) {
		/* vhd_ksm_new() failed: KSM is left as it is; say so. */
		err |= add(o, "owner", json_object_new_string("off"));
		err |= add(o, "error", json_object_new_string("the KSM owner did not start "
							      "(see the log)"));
		err |= add(o, "knobs", status_knobs());
		err |= add(o, "global", status_global());
		if (err) {
			json_object_put(o);
			return NULL;
		}
		return o;
	}
	owner = k->mode == VHD_KSM_OFF ? "off" : k->ksmtuned ? "ksmtuned" : "vmhintd";
	err |= add(o, "owner", json_object_new_string(owner));
	if (k->ksmtuned)
		err |= add(o, "ksmtuned-pid", json_object_new_int(k->ksmtuned));
	err |= add(o, "knobs", status_knobs());
	err |= add(o, "saved-state", json_object_new_boolean(access(k->state_path, F_OK) == 0));
	err |= add_u64(o, "bursts", k->bursts);
	if (k->have_last)
		err |= add(o, "last-burst", status_last(&k->last));
	tables = json_object_new_array();
	err |= add(o, "tables", tables);
	for (t = k->tables; t && tables; t = t->next) {
		json_object *v = status_table(t);

		if (!v || json_object_array_add(tables, v)) {
			json_object_put(v);
			err = 1;
		}
	}
	err |= add(o, "global", status_global());
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
