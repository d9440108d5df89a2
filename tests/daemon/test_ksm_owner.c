// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_ksm_owner.c - vmhintd's KSM owner (src/daemon/ksm-owner.c) on the
 * real KSM of this host: a burst merges real pages of a real dedupe table
 * and puts every knob back; a vmhintd killed with SIGKILL mid-burst leaves
 * the knobs boosted and the next start restores them from the state file;
 * a hostile state file changes nothing; new ksm settings (SIGHUP) reach the
 * next burst and never a running one, ksm = off stops one; ksm = off and a
 * running ksmtuned (the real Debian script) keep vmhintd's hands off the
 * knobs.
 *
 * Root only (KSM knobs), skipped otherwise. KSM knobs are host-wide: each
 * test runs in a forked child with a checked fixture that saves and
 * restores them, and main() does the same around the suite (Check's fork
 * mode _exit()s a failed test without its teardown).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <vmhint/ksm.h>

#include "daemon/conf.h"
#include "daemon/ksm-owner.h"
#include "daemon/ksm-state.h"
#include "daemon/log.h"
#include "testutil.h"

#define KSMTUNED_DEBS "/var/cache/vmhint/debs"
static struct vmhint_ksm_knobs knobs_now(void)
{
	struct vmhint_ksm_knobs k = { .size = sizeof(k) };

	ck_assert_int_eq(vmhint_ksm_knobs_get(&k), 0);
	return k;
}

/* Every knob of @a equal in @b (the advisor owns pages_to_scan while on);
 * @diff names the first that is not. */
static bool knobs_equal(const struct vmhint_ksm_knobs *a, const struct vmhint_ksm_knobs *b,
			char *diff, size_t size)
{
	int i;

	for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++) {
		if (i == VMHINT_KSM_PAGES_TO_SCAN && a->val[VMHINT_KSM_ADVISOR_MODE])
			continue;
		if ((a->present >> i & 1) && a->val[i] != b->val[i]) {
			snprintf(diff, size, "%s %" PRIu64 " became %" PRIu64,
				 vmhint_ksm_knob_name(i), a->val[i], b->val[i]);
			return false;
		}
	}
	return true;
}

#define ASSERT_KNOBS_EQ(before, after) do { char _d[128]; \
	ck_assert_msg(knobs_equal(&(before), &(after), _d, sizeof(_d)), "KSM knob changed: %s", _d); \
	} while (0)

static void knobs_print(const char *what, const struct vmhint_ksm_knobs *k)
{
	fprintf(stderr, "%s: run %" PRIu64 " pages_to_scan %" PRIu64 " sleep_millisecs %" PRIu64
		" use_zero_pages %" PRIu64 " advisor_mode %" PRIu64 "\n", what,
		k->val[VMHINT_KSM_RUN], k->val[VMHINT_KSM_PAGES_TO_SCAN],
		k->val[VMHINT_KSM_SLEEP_MILLISECS], k->val[VMHINT_KSM_USE_ZERO_PAGES],
		k->val[VMHINT_KSM_ADVISOR_MODE]);
}

static bool need_ksm_root(const char *test)
{
	if (vmhint_ksm_available()) {
		fprintf(stderr, "SKIP %s: no KSM in this kernel (/sys/kernel/mm/ksm)\n", test);
		return false;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP %s: changing KSM knobs needs root\n", test);
		return false;
	}
	return true;
}

/* ---- a state directory and a vmhintd.conf built by hand ---- */

static char state_dir[64], state_path[128], bad_path[160];

static void dir_setup(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/vmhint-ksm-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state_dir));
	snprintf(state_path, sizeof(state_path), "%s/%s", state_dir, VHD_KSM_STATE_NAME);
	snprintf(bad_path, sizeof(bad_path), "%s.bad", state_path);
}

static void dir_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	if (state_dir[0] && system(cmd))
		fprintf(stderr, "cannot remove %s\n", state_dir);
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* The defaults of vmhintd.conf(5), with the KSM keys of a test. */
static struct vhd_conf conf_make(uint32_t pages_to_scan, uint32_t sleep_ms)
{
	struct vhd_conf c;

	memset(&c, 0, sizeof(c));
	snprintf(c.uri, sizeof(c.uri), "qemu:///system");
	snprintf(c.socket_path, sizeof(c.socket_path), "%s/vmhintd.sock", state_dir);
	snprintf(c.pidfile, sizeof(c.pidfile), "%s/vmhintd.pid", state_dir);
	snprintf(c.state_dir, sizeof(c.state_dir), "%s", state_dir);
	c.log = VHD_LOG_STDERR;
	c.log_level = LOG_INFO;
	c.poll_interval_ms = 5000;
	c.qmp_timeout_ms = 5000;
	c.keepalive_interval = 5;
	c.keepalive_count = 5;
	c.reconnect_max_ms = 30000;
	c.ksm = VHD_KSM_AUTO;
	c.ksm_burst_min_gain = 1 * MiB;
	c.ksm_burst_interval_ms = 60000;
	c.ksm_burst_timeout_ms = 60000;
	c.ksm_burst_pages_to_scan = pages_to_scan;
	c.ksm_burst_sleep_ms = sleep_ms;
	return c;
}

/* ---- two "VMs" in this process: equal content, one table ---- */

struct twin {
	struct vmhint_ctx *ctx;
	struct tmem m[2];
	struct vmhint_region *r[2];
	struct vmhint_dedupe *d[2];
	struct vmhint_dedupe_table *t;
	char name[64];
	size_t pages;		/* per region */
};

static void fill_page(uint8_t *p, uint64_t seed, uint64_t page)
{
	uint64_t *w = (uint64_t *)p, i;

	for (i = 0; i < PAGE / 8; i++)
		w[i] = (seed << 32 ^ page << 12 ^ i) * 0xbf58476d1ce4e5b9ULL | 1;
}

/* Two regions of @bytes with the same distinct pages, published to a new
 * table and (if @mark) marked for KSM; as two QEMUs on one dedupe table
 * would. */
static void twin_setup_marked(struct twin *w, size_t bytes, const char *tag, bool mark)
{
	struct vmhint_dedupe_table_opts to = { .size = sizeof(to), .nr_slots = 4,
					       .slot_capacity = bytes / PAGE + 1024,
					       .flags = VMHINT_DEDUPE_TABLE_CREATE };
	struct vmhint_dedupe_opts o = { .size = sizeof(o), .flags = VMHINT_DEDUPE_CROSS_VM };
	size_t i, p;

	memset(w, 0, sizeof(*w));
	w->pages = bytes / PAGE;
	snprintf(w->name, sizeof(w->name), "/vmhint-ksm-test-%s-%d", tag, getpid());
	ck_assert_int_eq(vmhint_dedupe_table_open(w->name, &to, &w->t), 0);
	w->ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	for (i = 0; i < 2; i++) {
		w->m[i] = tmem_map(TMEM_ANON_4K, bytes);
		for (p = 0; p < w->pages; p++)
			fill_page(w->m[i].hva + p * PAGE, 42, p);
		ck_assert_int_eq(tmem_register(w->ctx, &w->m[i], GPA0 + i * 2 * bytes, &w->r[i]), 0);
		ck_assert_int_eq(vmhint_dedupe_enable(w->ctx, w->r[i], &o, &w->d[i]), 0);
		ck_assert_int_eq(vmhint_dedupe_scan_pass(w->d[i]), (int64_t)w->pages);
		ck_assert_int_gt(vmhint_dedupe_publish(w->d[i], w->t), 0);
		if (mark)
			ck_assert_int_eq(vmhint_dedupe_mark(w->d[i], NULL), 1);
	}
}

static void twin_setup(struct twin *w, size_t bytes, const char *tag)
{
	twin_setup_marked(w, bytes, tag, true);
}

static void twin_teardown(struct twin *w)
{
	int i;

	for (i = 0; i < 2; i++)
		vmhint_dedupe_disable(w->d[i]);
	vmhint_ctx_free(w->ctx);
	for (i = 0; i < 2; i++)
		tmem_unmap(&w->m[i]);
	vmhint_dedupe_table_close(w->t);
	vmhint_dedupe_table_unlink(w->name);
}

static uint64_t merged_self(void)
{
	struct vmhint_ksm_process p = { .size = sizeof(p) };

	ck_assert_int_eq(vmhint_ksm_process_get(0, &p), 0);
	return p.merging_pages + p.zero_pages;
}

/* ---- ksm-status, as JSON ---- */

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	ck_assert_msg(v, "ksm-status has no \"%s\": %s", key, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	ck_assert_msg(v && json_object_is_type(v, json_type_string), "ksm-status has no \"%s\": %s",
		      key, json_object_to_json_string(o));
	return json_object_get_string(v);
}

static json_object *status(struct vhd_ksm *k)
{
	json_object *s = vhd_ksm_status(k);

	ck_assert_ptr_nonnull(s);
	return s;
}

static int64_t bursts_of(struct vhd_ksm *k)
{
	json_object *s = status(k);
	int64_t n = get_int(s, "bursts");

	json_object_put(s);
	return n;
}

static void use_of(struct vhd_ksm_table_use *u, const struct twin *w, const pid_t *pid)
{
	u->table = w->name;
	u->pids = pid;
	u->nr_pids = 1;
}

/* ---- a burst merges and puts every knob back ---- */

static bool boosted(const struct vmhint_ksm_knobs *k)
{
	return k->val[VMHINT_KSM_PAGES_TO_SCAN] == 4096 && k->val[VMHINT_KSM_RUN] == 1;
}

START_TEST(burst_merges_and_restores)
{
	struct vmhint_ksm_knobs before, after, in_file = { .size = sizeof(in_file) }, cur;
	struct vhd_conf conf;
	struct vhd_ksm_table_use u;
	struct vhd_ksm *k;
	struct twin w;
	json_object *s, *last, *tab;
	uint64_t m0, m1, t0;
	bool seen_file = false, seen_boost = false;
	pid_t self = getpid();

	if (!need_ksm_root("burst_merges_and_restores"))
		return;
	dir_setup();
	twin_setup(&w, 16 * MiB, "burst");
	use_of(&u, &w, &self);
	conf = conf_make(4096, 10);
	before = knobs_now();
	knobs_print("burst_merges_and_restores: knobs before", &before);
	m0 = merged_self();
	ck_assert_int_eq(vhd_ksm_new(&conf, &k), 0);
	vhd_ksm_poll(k, &u, 1);

	/* Watch the burst from outside: the file first, the boost during. */
	t0 = mono_ns();
	while (bursts_of(k) == 0) {
		ck_assert_msg(mono_ns() - t0 < 90000000000ULL, "burst still running after 90 s");
		cur = knobs_now();
		if (boosted(&cur)) {
			bool file = exists(state_path);

			seen_boost = true;
			/*
			 * Boosted knobs without the saved ones on disk are the
			 * unsafe window. The file's life (written before the
			 * boost, removed after the restore) spans the boost,
			 * so boosted, no file, boosted again is a violation.
			 */
			cur = knobs_now();
			ck_assert_msg(file || !boosted(&cur), "knobs boosted but %s missing",
				      state_path);
		}
		if (!seen_file && exists(state_path)) {
			int fd = open(state_path, O_RDONLY);
			char buf[4096];
			ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

			if (fd >= 0)
				close(fd);
			if (n > 0) {
				char *line, *save;

				buf[n] = '\0';
				seen_file = true;
				ck_assert_msg(!strncmp(buf, "vmhint-ksm-knobs 1\n", 19), "%s", buf);
				for (line = strtok_r(buf, "\n", &save); line;
				     line = strtok_r(NULL, "\n", &save)) {
					char name[64];
					uint64_t v;
					int i;

					if (sscanf(line, "%63s %" SCNu64, name, &v) != 2)
						continue;
					for (i = 0; i < VMHINT_KSM_NR_KNOBS; i++)
						if (!strcmp(name, vmhint_ksm_knob_name(i))) {
							in_file.present |= 1u << i;
							in_file.val[i] = v;
						}
				}
			}
		}
		vhd_ksm_poll(k, &u, 1);
		usleep(5000);
	}
	after = knobs_now();
	m1 = merged_self();
	s = status(k);
	fprintf(stderr, "burst_merges_and_restores: %s\n", json_object_to_json_string(s));
	knobs_print("burst_merges_and_restores: knobs after", &after);

	ck_assert_msg(seen_boost, "never saw pages_to_scan 4096 with run 1 during the burst");
	ck_assert_msg(seen_file, "never saw %s during the burst", state_path);
	ck_assert_uint_eq(in_file.present, before.present);
	ASSERT_KNOBS_EQ(before, in_file);
	/* Both copies of every page map one KSM page. */
	ck_assert_msg(m1 - m0 >= 2 * w.pages * 9 / 10, "KSM merged %" PRIu64 " of our pages, "
		      "expected about %zu", m1 - m0, 2 * w.pages);
	ASSERT_KNOBS_EQ(before, after);
	ck_assert_msg(!exists(state_path), "%s left after the burst", state_path);

	ck_assert_str_eq(get_str(s, "owner"), "vmhintd");
	ck_assert_int_eq(get_int(s, "bursts"), 1);
	ck_assert(!json_object_get_boolean(get(s, "saved-state")));
	last = get(s, "last-burst");
	ck_assert_ptr_nonnull(last);
	ck_assert_str_eq(get_str(last, "table"), w.name);
	ck_assert_str_eq(get_str(last, "result"), "reached");
	ck_assert_int_ge(get_int(last, "pages-merged"), (int64_t)(2 * w.pages * 9 / 10));
	fprintf(stderr, "burst_merges_and_restores: %" PRIu64 " pages merged (ksm_stat), burst %"
		PRId64 " ms, its figure %" PRId64 " pages\n", m1 - m0, get_int(last, "elapsed-ms"),
		get_int(last, "pages-merged"));
	json_object_put(s);

	/* Merged: nothing left to gain, no second burst. */
	vhd_ksm_poll(k, &u, 1);
	s = status(k);
	tab = json_object_array_get_idx(get(s, "tables"), 0);
	ck_assert_ptr_nonnull(tab);
	ck_assert_int_eq(get_int(tab, "vms"), 2);
	ck_assert_int_lt(get_int(tab, "gain-bytes"), (int64_t)MiB);
	ck_assert_int_ge(get_int(tab, "merged-pages"), (int64_t)(2 * w.pages * 9 / 10));
	ck_assert(!json_object_get_boolean(get(s, "saved-state")));
	json_object_put(s);
	ck_assert_int_eq(bursts_of(k), 1);

	/* A table no longer in use is closed and leaves the status. */
	vhd_ksm_poll(k, NULL, 0);
	s = status(k);
	ck_assert_int_eq(json_object_array_length(get(s, "tables")), 0);
	json_object_put(s);

	vhd_ksm_free(k);
	twin_teardown(&w);
	dir_cleanup();
}
END_TEST

/* ---- a burst that merges little: the next one waits longer ---- */

START_TEST(burst_backoff_when_nothing_merges)
{
	struct vmhint_ksm_knobs before, after;
	struct vhd_conf conf;
	struct vhd_ksm_table_use u;
	struct vhd_ksm *k;
	struct twin w;
	json_object *s, *last;
	uint64_t t0, reaped, second = 0;
	pid_t self = getpid();

	if (!need_ksm_root("burst_backoff_when_nothing_merges"))
		return;
	dir_setup();
	/* Published but not marked: the estimate promises what KSM cannot do. */
	twin_setup_marked(&w, 16 * MiB, "backoff", false);
	use_of(&u, &w, &self);
	conf = conf_make(4096, 10);
	conf.ksm_burst_interval_ms = 300;
	conf.ksm_burst_timeout_ms = 1500;
	before = knobs_now();
	ck_assert_int_eq(vhd_ksm_new(&conf, &k), 0);
	vhd_ksm_poll(k, &u, 1);
	t0 = mono_ns();
	while (bursts_of(k) == 0) {
		ck_assert_msg(mono_ns() - t0 < 10000000000ULL, "first burst still running");
		usleep(10000);
		vhd_ksm_poll(k, &u, 1);
	}
	reaped = mono_ns();
	s = status(k);
	last = get(s, "last-burst");
	ck_assert_int_lt(get_int(last, "pages-merged"), (int64_t)(w.pages / 2));
	fprintf(stderr, "burst_backoff_when_nothing_merges: first burst %s after %" PRId64
		" ms, %" PRId64 " pages merged\n", get_str(last, "result"),
		get_int(last, "elapsed-ms"), get_int(last, "pages-merged"));
	json_object_put(s);
	/* The interval is 300 ms, doubled by the backoff: nothing before 600. */
	while (!second && mono_ns() - reaped < 5000000000ULL) {
		vhd_ksm_poll(k, &u, 1);
		if (exists(state_path) || bursts_of(k) > 1)
			second = mono_ns();
		else
			usleep(10000);
	}
	ck_assert_msg(second, "no second burst within 5 s");
	fprintf(stderr, "burst_backoff_when_nothing_merges: second burst %" PRIu64
		" ms after the first ended (interval 300 ms)\n", (second - reaped) / 1000000);
	ck_assert_uint_ge(second - reaped, 550000000ULL);
	vhd_ksm_free(k);
	after = knobs_now();
	ASSERT_KNOBS_EQ(before, after);
	ck_assert(!exists(state_path));
	twin_teardown(&w);
	dir_cleanup();
}
END_TEST

/* ---- SIGKILL mid-burst: the next start restores the knobs ---- */

#define KILL_PAGES_TO_SCAN 1234
#define KILL_SLEEP_MS 200

/* The doomed vmhintd: a table, a slow burst, then wait for SIGKILL. */
static void doomed_main(void)
{
	struct vhd_conf conf = conf_make(KILL_PAGES_TO_SCAN, KILL_SLEEP_MS);
	struct vhd_ksm_table_use u;
	struct vhd_ksm *k;
	struct twin w;
	pid_t self = getpid();

	twin_setup(&w, 64 * MiB, "kill");
	use_of(&u, &w, &self);
	if (vhd_ksm_new(&conf, &k))
		_exit(2);
	vhd_ksm_poll(k, &u, 1);
	for (;;)
		pause();
}

START_TEST(sigkill_mid_burst_restored_at_start)
{
	struct vmhint_ksm_knobs before, killed, after;
	struct vhd_conf conf;
	struct vhd_ksm *k;
	char name[64];
	uint64_t t0;
	pid_t child;
	int st;

	if (!need_ksm_root("sigkill_mid_burst_restored_at_start"))
		return;
	dir_setup();
	before = knobs_now();
	ck_assert_uint_ne(before.val[VMHINT_KSM_PAGES_TO_SCAN], KILL_PAGES_TO_SCAN);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (!child)
		doomed_main();
	snprintf(name, sizeof(name), "/vmhint-ksm-test-kill-%d", child);

	/* Mid-burst: the knobs boosted and the saved ones on disk. */
	t0 = mono_ns();
	for (;;) {
		struct vmhint_ksm_knobs cur = knobs_now();

		if (cur.val[VMHINT_KSM_PAGES_TO_SCAN] == KILL_PAGES_TO_SCAN &&
		    cur.val[VMHINT_KSM_RUN] == 1 && exists(state_path))
			break;
		ck_assert_msg(waitpid(child, &st, WNOHANG) == 0, "the child vmhintd ended early");
		ck_assert_msg(mono_ns() - t0 < 60000000000ULL, "no burst after 60 s");
		usleep(2000);
	}
	ck_assert_int_eq(kill(child, SIGKILL), 0);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	vmhint_dedupe_table_unlink(name);

	/* Nobody put them back: the kill really came mid-burst. */
	killed = knobs_now();
	knobs_print("sigkill_mid_burst: knobs before", &before);
	knobs_print("sigkill_mid_burst: knobs after SIGKILL", &killed);
	ck_assert_uint_eq(killed.val[VMHINT_KSM_PAGES_TO_SCAN], KILL_PAGES_TO_SCAN);
	ck_assert_uint_eq(killed.val[VMHINT_KSM_SLEEP_MILLISECS], KILL_SLEEP_MS);
	ck_assert_uint_eq(killed.val[VMHINT_KSM_RUN], 1);
	ck_assert(exists(state_path));

	/* The next vmhintd restores them before anything else, ksm = off even. */
	conf = conf_make(4096, 10);
	conf.ksm = VHD_KSM_OFF;
	ck_assert_int_eq(vhd_ksm_new(&conf, &k), 0);
	after = knobs_now();
	knobs_print("sigkill_mid_burst: knobs after restart", &after);
	ASSERT_KNOBS_EQ(before, after);
	ck_assert_msg(!exists(state_path), "%s left after the restore", state_path);
	ck_assert(!exists(bad_path));
	vhd_ksm_free(k);
	after = knobs_now();
	ASSERT_KNOBS_EQ(before, after);
	dir_cleanup();
}
END_TEST

/* ---- SIGHUP: new ksm settings, never under a running burst ---- */

#define RELOAD_PAGES_TO_SCAN 4321

/* Poll until the burst in progress ended (bursts_of() reached @n). */
static void wait_bursts(struct vhd_ksm *k, const struct vhd_ksm_table_use *u, int64_t n,
			uint64_t max_ns, const char *what)
{
	uint64_t t0 = mono_ns();

	while (bursts_of(k) < n) {
		ck_assert_msg(mono_ns() - t0 < max_ns, "%s: burst still running", what);
		vhd_ksm_poll(k, u, 1);
		usleep(10000);
	}
}

START_TEST(reload_applies_ksm_settings)
{
	struct vmhint_ksm_knobs before, cur;
	struct vhd_conf conf;
	struct vhd_ksm_table_use u;
	struct vhd_ksm *k;
	struct twin w;
	json_object *s, *last;
	bool seen_new = false;
	pid_t self = getpid();
	uint64_t t0;
	int i;

	if (!need_ksm_root("reload_applies_ksm_settings"))
		return;
	dir_setup();
	twin_setup(&w, 64 * MiB, "reload");
	use_of(&u, &w, &self);
	/* A slow burst (about 5 s a full scan), so a reload lands in it. */
	conf = conf_make(KILL_PAGES_TO_SCAN, KILL_SLEEP_MS);
	conf.ksm_burst_interval_ms = 0;
	before = knobs_now();
	ck_assert_uint_ne(before.val[VMHINT_KSM_PAGES_TO_SCAN], RELOAD_PAGES_TO_SCAN);
	ck_assert_uint_ne(before.val[VMHINT_KSM_PAGES_TO_SCAN], KILL_PAGES_TO_SCAN);
	ck_assert_int_eq(vhd_ksm_new(&conf, &k), 0);
	vhd_ksm_poll(k, &u, 1);
	ck_assert(exists(state_path));
	/* The burst's thread boosts the knobs a moment later. */
	t0 = mono_ns();
	do {
		ck_assert_msg(mono_ns() - t0 < 5000000000ULL, "knobs not boosted within 5 s");
		usleep(2000);
		cur = knobs_now();
	} while (cur.val[VMHINT_KSM_PAGES_TO_SCAN] != KILL_PAGES_TO_SCAN);

	/* 1. New burst settings mid-burst: the running burst keeps its own. */
	conf.ksm_burst_pages_to_scan = RELOAD_PAGES_TO_SCAN;
	conf.ksm_burst_sleep_ms = 10;
	vhd_ksm_reconfigure(k, &conf);
	for (i = 0; i < 50; i++) {
		vhd_ksm_poll(k, &u, 1);
		cur = knobs_now();
		ck_assert_msg(bursts_of(k) == 0, "the burst ended within %d ms", i * 10);
		ck_assert_uint_eq(cur.val[VMHINT_KSM_PAGES_TO_SCAN], KILL_PAGES_TO_SCAN);
		ck_assert_uint_eq(cur.val[VMHINT_KSM_SLEEP_MILLISECS], KILL_SLEEP_MS);
		usleep(10000);
	}

	/* 2. ksm = off: the running burst stops, its knobs come back, none
	 * starts again however much there is to gain. */
	conf.ksm = VHD_KSM_OFF;
	vhd_ksm_reconfigure(k, &conf);
	t0 = mono_ns();
	wait_bursts(k, &u, 1, 5000000000ULL, "ksm = off");
	fprintf(stderr, "reload_applies_ksm_settings: ksm = off stopped the burst in %" PRIu64
		" ms\n", (mono_ns() - t0) / 1000000);
	s = status(k);
	ck_assert_str_eq(get_str(s, "owner"), "off");
	last = get(s, "last-burst");
	ck_assert_ptr_nonnull(last);
	ck_assert_str_eq(get_str(last, "result"), "cancelled");
	json_object_put(s);
	cur = knobs_now();
	ASSERT_KNOBS_EQ(before, cur);
	ck_assert(!exists(state_path));
	for (i = 0; i < 20; i++) {
		vhd_ksm_poll(k, &u, 1);
		cur = knobs_now();
		ASSERT_KNOBS_EQ(before, cur);
		ck_assert(!exists(state_path));
		usleep(10000);
	}

	/* 3. auto again, with a gain threshold above what the table offers. */
	conf.ksm = VHD_KSM_AUTO;
	conf.ksm_burst_min_gain = 1024 * MiB;
	vhd_ksm_reconfigure(k, &conf);
	for (i = 0; i < 20; i++) {
		vhd_ksm_poll(k, &u, 1);
		cur = knobs_now();
		ASSERT_KNOBS_EQ(before, cur);
		ck_assert(!exists(state_path));
		usleep(10000);
	}
	s = status(k);
	ck_assert_str_eq(get_str(s, "owner"), "vmhintd");
	ck_assert_int_eq(get_int(s, "bursts"), 1);
	json_object_put(s);

	/* 4. The threshold lowered: the next burst runs with the new knobs. */
	conf.ksm_burst_min_gain = 1 * MiB;
	vhd_ksm_reconfigure(k, &conf);
	vhd_ksm_poll(k, &u, 1);
	ck_assert(exists(state_path));
	t0 = mono_ns();
	while (bursts_of(k) < 2) {
		ck_assert_msg(mono_ns() - t0 < 90000000000ULL, "second burst still running");
		cur = knobs_now();
		if (cur.val[VMHINT_KSM_PAGES_TO_SCAN] == RELOAD_PAGES_TO_SCAN &&
		    cur.val[VMHINT_KSM_SLEEP_MILLISECS] == 10 && cur.val[VMHINT_KSM_RUN] == 1)
			seen_new = true;
		ck_assert_uint_ne(cur.val[VMHINT_KSM_PAGES_TO_SCAN], KILL_PAGES_TO_SCAN);
		vhd_ksm_poll(k, &u, 1);
		usleep(5000);
	}
	ck_assert_msg(seen_new, "never saw pages_to_scan %d, sleep_millisecs 10 in the burst "
		      "after the reload", RELOAD_PAGES_TO_SCAN);
	s = status(k);
	fprintf(stderr, "reload_applies_ksm_settings: %s\n", json_object_to_json_string(s));
	last = get(s, "last-burst");
	ck_assert_str_eq(get_str(last, "result"), "reached");
	json_object_put(s);
	cur = knobs_now();
	ASSERT_KNOBS_EQ(before, cur);
	ck_assert(!exists(state_path));

	/* 5. The same settings again: nothing to say, nothing done. */
	vhd_ksm_reconfigure(k, &conf);
	vhd_ksm_reconfigure(NULL, &conf);
	vhd_ksm_free(k);
	cur = knobs_now();
	ASSERT_KNOBS_EQ(before, cur);
	twin_teardown(&w);
	dir_cleanup();
}
END_TEST

/* ---- hostile state files change nothing ---- */

#define HDR "vmhint-ksm-knobs 1\n"
#define P2S "pages_to_scan 4321\n"
#define NUL_TEXT HDR "pages_to_scan 4321\0\nend 1\n"

enum hostile_how { H_TEXT, H_SYMLINK, H_MODE, H_OWNER, H_OVERSIZE, H_GARBAGE };

static const struct hostile {
	const char *what;
	enum hostile_how how;
	const char *text;
	size_t len;		/* 0: strlen(text) */
} hostile[] = {
	{ "unknown knob", H_TEXT, HDR P2S "evil_knob 1\nend 2\n", 0 },
	{ "huge value", H_TEXT, HDR P2S "sleep_millisecs 99999999999999999999999\nend 2\n", 0 },
	{ "value past 64 bits", H_TEXT, HDR P2S "sleep_millisecs 18446744073709551616\nend 2\n", 0 },
	{ "value out of range", H_TEXT, HDR P2S "sleep_millisecs 4294967296\nend 2\n", 0 },
	{ "run 3", H_TEXT, HDR P2S "run 3\nend 2\n", 0 },
	{ "max_page_sharing 1", H_TEXT, HDR P2S "max_page_sharing 1\nend 2\n", 0 },
	{ "negative", H_TEXT, HDR "pages_to_scan -1\nend 1\n", 0 },
	{ "plus sign", H_TEXT, HDR "pages_to_scan +4321\nend 1\n", 0 },
	{ "hex", H_TEXT, HDR "pages_to_scan 0x10e1\nend 1\n", 0 },
	{ "leading zero", H_TEXT, HDR "pages_to_scan 04321\nend 1\n", 0 },
	{ "two spaces", H_TEXT, HDR "pages_to_scan  4321\nend 1\n", 0 },
	{ "trailing space", H_TEXT, HDR "pages_to_scan 4321 \nend 1\n", 0 },
	{ "CRLF", H_TEXT, "vmhint-ksm-knobs 1\r\npages_to_scan 4321\r\nend 1\r\n", 0 },
	{ "truncated mid-line", H_TEXT, HDR P2S "sleep_milli", 0 },
	{ "truncated at a line", H_TEXT, HDR P2S, 0 },
	{ "end count wrong", H_TEXT, HDR P2S "end 2\n", 0 },
	{ "twice", H_TEXT, HDR P2S P2S "end 2\n", 0 },
	{ "text after end", H_TEXT, HDR "end 0\n" P2S, 0 },
	{ "no header", H_TEXT, P2S "end 1\n", 0 },
	{ "other version", H_TEXT, "vmhint-ksm-knobs 2\n" P2S "end 1\n", 0 },
	{ "NUL byte", H_TEXT, NUL_TEXT, sizeof(NUL_TEXT) - 1 },
	{ "empty", H_TEXT, "", 0 },
	{ "garbage", H_GARBAGE, NULL, 0 },
	{ "oversized", H_OVERSIZE, NULL, 0 },
	/* Good content where it does not belong: */
	{ "symlink", H_SYMLINK, HDR P2S "end 1\n", 0 },
	{ "world-writable", H_MODE, HDR P2S "end 1\n", 0 },
	{ "other owner", H_OWNER, HDR P2S "end 1\n", 0 },
};

static void write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static size_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, size);
	close(fd);
	ck_assert_int_ge(n, 0);
	return (size_t)n;
}

START_TEST(hostile_state_file_not_applied)
{
	const struct hostile *h = &hostile[_i];
	static char buf[8192], back[8192];
	struct vmhint_ksm_knobs before, after;
	char target[200];
	struct vhd_conf conf;
	struct vhd_ksm *k;
	size_t len = 0, i;
	struct stat sb;

	if (!need_ksm_root("hostile_state_file_not_applied"))
		return;
	dir_setup();
	before = knobs_now();
	ck_assert_uint_ne(before.val[VMHINT_KSM_PAGES_TO_SCAN], 4321);
	if (h->text) {
		len = h->len ? h->len : strlen(h->text);
		memcpy(buf, h->text, len);
	} else if (h->how == H_GARBAGE) {
		uint64_t seed = 0x5eed;

		len = 600;
		for (i = 0; i < len; i++)
			buf[i] = (char)rng_next(&seed);
	} else {
		/* Good lines, too many of them. */
		len = (size_t)snprintf(buf, sizeof(buf), HDR P2S);
		while (len < VHD_KSM_STATE_MAX_BYTES + 100)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "sleep_millisecs 20\n");
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "end 1\n");
	}
	switch (h->how) {
	case H_SYMLINK:
		snprintf(target, sizeof(target), "%s/elsewhere", state_dir);
		write_file(target, buf, len, 0600);
		ck_assert_int_eq(symlink(target, state_path), 0);
		break;
	case H_MODE:
		write_file(state_path, buf, len, 0666);
		break;
	case H_OWNER:
		write_file(state_path, buf, len, 0600);
		ck_assert_int_eq(chown(state_path, 65534, 65534), 0);
		break;
	default:
		write_file(state_path, buf, len, 0600);
	}

	conf = conf_make(4096, 10);
	ck_assert_int_eq(vhd_ksm_new(&conf, &k), 0);
	after = knobs_now();
	ASSERT_KNOBS_EQ(before, after);
	ck_assert_msg(!exists(state_path), "%s: the bad file is still there", h->what);
	ck_assert_msg(exists(bad_path), "%s: not kept as %s", h->what, bad_path);
	ck_assert_int_eq(lstat(bad_path, &sb), 0);
	if (h->how == H_SYMLINK) {
		ck_assert(S_ISLNK(sb.st_mode));
	} else {
		ck_assert_uint_eq(read_file(bad_path, back, sizeof(back)), len);
		ck_assert(!memcmp(buf, back, len));
	}
	vhd_ksm_free(k);
	after = knobs_now();
	ASSERT_KNOBS_EQ(before, after);
	fprintf(stderr, "hostile_state_file_not_applied: %s: refused, kept as .bad\n", h->what);
	dir_cleanup();
}
END_TEST

/* The same path with a good file: it is applied (the parser is not just
 * refusing everything). */
START_TEST(good_state_file_applied)
{
	struct vmhint_ksm_knobs before, after;
	struct vhd_conf conf;
	struct vhd_ksm *k;
	char text[128];
	uint64_t want;

	if (!need_ksm_root("good_state_file_applied"))
		return;
	dir_setup();
	before = knobs_now();
	ck_assert_msg(!before.val[VMHINT_KSM_ADVISOR_MODE], "the advisor owns pages_to_scan");
	want = before.val[VMHINT_KSM_PAGES_TO_SCAN] + 17;
	snprintf(text, sizeof(text), HDR "pages_to_scan %" PRIu64 "\nend 1\n", want);
	write_file(state_path, text, strlen(text), 0600);
	conf = conf_make(4096, 10);
	ck_assert_int_eq(vhd_ksm_new(&conf, &k), 0);
	after = knobs_now();
	ck_assert_uint_eq(after.val[VMHINT_KSM_PAGES_TO_SCAN], want);
	after.val[VMHINT_KSM_PAGES_TO_SCAN] = before.val[VMHINT_KSM_PAGES_TO_SCAN];
	ASSERT_KNOBS_EQ(before, after);
	ck_assert(!exists(state_path));
	ck_assert(!exists(bad_path));
	vhd_ksm_free(k);
	dir_cleanup();
}
END_TEST

/* A directory where the state file goes is no state file: set aside,
 * nothing applied. And with no owner at all (vhd_ksm_new() failed),
 * ksm-status still answers, poll and free do nothing. */
START_TEST(directory_state_file_and_no_owner)
{
	struct vmhint_ksm_knobs before, after;
	struct vhd_conf conf;
	struct vhd_ksm *k;
	struct stat sb;
	json_object *s;

	if (!need_ksm_root("directory_state_file_and_no_owner"))
		return;
	dir_setup();
	before = knobs_now();
	ck_assert_int_eq(mkdir(state_path, 0700), 0);
	conf = conf_make(4096, 10);
	ck_assert_int_eq(vhd_ksm_new(&conf, &k), 0);
	after = knobs_now();
	ASSERT_KNOBS_EQ(before, after);
	ck_assert(!exists(state_path));
	ck_assert(stat(bad_path, &sb) == 0 && S_ISDIR(sb.st_mode));
	vhd_ksm_free(k);

	s = status(NULL);
	ck_assert_str_eq(get_str(s, "owner"), "off");
	ck_assert_ptr_nonnull(get(s, "error"));
	ck_assert_ptr_nonnull(get(s, "knobs"));
	json_object_put(s);
	vhd_ksm_poll(NULL, NULL, 0);
	vhd_ksm_free(NULL);
	after = knobs_now();
	ASSERT_KNOBS_EQ(before, after);
	dir_cleanup();
}
END_TEST

/* ---- ksm = off: hands off, whatever the gain ---- */

START_TEST(ksm_off_touches_nothing)
{
	struct vmhint_ksm_knobs before, cur;
	struct vhd_conf conf;
	struct vhd_ksm_table_use u;
	struct vhd_ksm *k;
	struct twin w;
	json_object *s, *tab;
	pid_t self = getpid();
	int i;

	if (!need_ksm_root("ksm_off_touches_nothing"))
		return;
	dir_setup();
	twin_setup(&w, 16 * MiB, "off");
	use_of(&u, &w, &self);
	conf = conf_make(4096, 10);
	conf.ksm = VHD_KSM_OFF;
	conf.ksm_burst_interval_ms = 0;
	before = knobs_now();
	ck_assert_int_eq(vhd_ksm_new(&conf, &k), 0);
	for (i = 0; i < 40; i++) {
		vhd_ksm_poll(k, &u, 1);
		cur = knobs_now();
		ASSERT_KNOBS_EQ(before, cur);
		ck_assert(!exists(state_path));
		usleep(25000);
	}
	s = status(k);
	fprintf(stderr, "ksm_off_touches_nothing: %s\n", json_object_to_json_string(s));
	ck_assert_str_eq(get_str(s, "owner"), "off");
	ck_assert_int_eq(get_int(s, "bursts"), 0);
	tab = json_object_array_get_idx(get(s, "tables"), 0);
	ck_assert_ptr_nonnull(tab);
	/* Worth a burst had KSM been ours: about one region's worth. */
	ck_assert_int_ge(get_int(tab, "gain-bytes"), (int64_t)(8 * MiB));
	ck_assert_int_ge(get_int(tab, "saved-bytes"), (int64_t)(8 * MiB));
	json_object_put(s);
	vhd_ksm_free(k);
	cur = knobs_now();
	ASSERT_KNOBS_EQ(before, cur);
	twin_teardown(&w);
	dir_cleanup();
}
END_TEST

/* ---- ksmtuned: the real Debian script ---- */

struct ksmtuned {
	char dir[64], script[128], pidfile[128];
	pid_t pgid, pid;
};

/* Unpack the cached ksmtuned package and run its script in a process
 * group of its own. false (and @why) if it cannot run here. */
static bool ksmtuned_start(struct ksmtuned *t, int interval_s, char *why, size_t size)
{
	char cmd[512], buf[32];
	glob_t g;
	uint64_t t0;
	pid_t child;
	int fd;
	ssize_t n;

	memset(t, 0, sizeof(*t));
	if (glob(KSMTUNED_DEBS "/ksmtuned_*.deb", 0, NULL, &g) || !g.gl_pathc) {
		snprintf(why, size, "no ksmtuned package in " KSMTUNED_DEBS " (get it with: mkdir -p "
			 KSMTUNED_DEBS " && cd " KSMTUNED_DEBS " && apt-get download ksmtuned)");
		return false;
	}
	if (access("/bin/bash", X_OK)) {
		snprintf(why, size, "ksmtuned needs /bin/bash");
		globfree(&g);
		return false;
	}
	snprintf(t->dir, sizeof(t->dir), "/tmp/vmhint-ksmtuned-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(cmd, sizeof(cmd), "dpkg-deb -x '%s' '%s'", g.gl_pathv[0], t->dir);
	globfree(&g);
	snprintf(t->script, sizeof(t->script), "%s/usr/sbin/ksmtuned", t->dir);
	snprintf(t->pidfile, sizeof(t->pidfile), "%s/ksmtune.pid", t->dir);
	if (system(cmd) || access(t->script, X_OK)) {
		snprintf(why, size, "dpkg-deb -x of the ksmtuned package failed");
		return false;
	}
	child = fork();
	ck_assert_int_ge(child, 0);
	if (!child) {
		char iv[16];

		setpgid(0, 0);
		snprintf(iv, sizeof(iv), "%d", interval_s);
		setenv("PIDFILE", t->pidfile, 1);
		setenv("KSM_MONITOR_INTERVAL", iv, 1);
		execl(t->script, t->script, (char *)NULL);
		_exit(127);
	}
	t->pgid = child;
	/* The script forks its loop, writes its pid and exits. */
	waitpid(child, NULL, 0);
	t0 = mono_ns();
	while (!t->pid && mono_ns() - t0 < 10000000000ULL) {
		fd = open(t->pidfile, O_RDONLY);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;
		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			t->pid = atoi(buf);
		}
		if (!t->pid)
			usleep(10000);
	}
	if (!t->pid) {
		snprintf(why, size, "ksmtuned wrote no pid into %s", t->pidfile);
		return false;
	}
	snprintf(cmd, sizeof(cmd), "/proc/%d/comm", t->pid);
	fd = open(cmd, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (strcmp(buf, "ksmtuned\n")) {
		snprintf(why, size, "ksmtuned runs as \"%.16s\", not ksmtuned", buf);
		return false;
	}
	return true;
}

static void ksmtuned_stop(struct ksmtuned *t)
{
	char cmd[128];
	int i;

	if (t->pgid > 0)
		kill(-t->pgid, SIGTERM);
	for (i = 0; t->pid > 0 && i < 300 && kill(t->pid, 0) == 0; i++)
		usleep(10000);
	if (t->pid > 0 && kill(t->pid, 0) == 0)
		kill(-t->pgid, SIGKILL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (t->dir[0] && system(cmd))
		fprintf(stderr, "cannot remove %s\n", t->dir);
}

START_TEST(ksmtuned_owns_ksm)
{
	struct vmhint_ksm_knobs cur;
	struct vhd_conf conf;
	struct vhd_ksm_table_use u;
	struct vhd_ksm *k;
	struct ksmtuned kt;
	struct twin w;
	json_object *s, *tab;
	pid_t self = getpid();
	char why[256];
	int i;

	if (!need_ksm_root("ksmtuned_owns_ksm"))
		return;
	if (!ksmtuned_start(&kt, 1, why, sizeof(why))) {
		fprintf(stderr, "SKIP ksmtuned_owns_ksm: %s\n", why);
		ksmtuned_stop(&kt);
		return;
	}
	dir_setup();
	twin_setup(&w, 16 * MiB, "tuned");
	use_of(&u, &w, &self);
	conf = conf_make(4321, 10);
	conf.ksm_burst_interval_ms = 0;
	ck_assert_int_eq(vhd_ksm_new(&conf, &k), 0);
	/* Two seconds: ksmtuned adjusts (writes run) every second meanwhile. */
	for (i = 0; i < 40; i++) {
		vhd_ksm_poll(k, &u, 1);
		s = status(k);
		ck_assert_str_eq(get_str(s, "owner"), "ksmtuned");
		ck_assert_int_eq(get_int(s, "ksmtuned-pid"), kt.pid);
		ck_assert_int_eq(get_int(s, "bursts"), 0);
		tab = json_object_array_get_idx(get(s, "tables"), 0);
		ck_assert_int_ge(get_int(tab, "gain-bytes"), (int64_t)(8 * MiB));
		if (!i)
			fprintf(stderr, "ksmtuned_owns_ksm: %s\n", json_object_to_json_string(s));
		json_object_put(s);
		cur = knobs_now();
		ck_assert_uint_ne(cur.val[VMHINT_KSM_PAGES_TO_SCAN], 4321);
		ck_assert(!exists(state_path));
		usleep(50000);
	}
	ksmtuned_stop(&kt);
	/* Gone: KSM is vmhintd's again (and the gain makes it burst). */
	vhd_ksm_poll(k, &u, 1);
	s = status(k);
	ck_assert_str_eq(get_str(s, "owner"), "vmhintd");
	ck_assert_ptr_null(get(s, "ksmtuned-pid"));
	json_object_put(s);
	vhd_ksm_free(k);
	ck_assert(!exists(state_path));
	twin_teardown(&w);
	dir_cleanup();
	/* The fixture puts back what ksmtuned wrote. */
}
END_TEST

START_TEST(ksmtuned_stops_a_running_burst)
{
	struct vmhint_ksm_knobs before, after;
	struct vhd_conf conf;
	struct vhd_ksm_table_use u;
	struct vhd_ksm *k;
	struct ksmtuned kt;
	struct twin w;
	json_object *s, *last;
	pid_t self = getpid();
	char why[256];
	uint64_t t0;

	if (!need_ksm_root("ksmtuned_stops_a_running_burst"))
		return;
	dir_setup();
	twin_setup(&w, 64 * MiB, "stop");
	use_of(&u, &w, &self);
	/* Slow: about 5 s for a full scan of both regions. */
	conf = conf_make(KILL_PAGES_TO_SCAN, KILL_SLEEP_MS);
	conf.ksm_burst_interval_ms = 0;
	before = knobs_now();
	ck_assert_int_eq(vhd_ksm_new(&conf, &k), 0);
	vhd_ksm_poll(k, &u, 1);
	s = status(k);
	ck_assert(json_object_get_boolean(get(s, "saved-state")));
	json_object_put(s);
	/* ksmtuned's first adjustment is a minute away: it writes nothing here. */
	if (!ksmtuned_start(&kt, 60, why, sizeof(why))) {
		fprintf(stderr, "SKIP ksmtuned_stops_a_running_burst: %s\n", why);
		ksmtuned_stop(&kt);
		vhd_ksm_free(k);
		twin_teardown(&w);
		dir_cleanup();
		return;
	}
	t0 = mono_ns();
	while (bursts_of(k) == 0) {
		vhd_ksm_poll(k, &u, 1);
		ck_assert_msg(mono_ns() - t0 < 5000000000ULL, "burst not stopped within 5 s");
		usleep(20000);
	}
	s = status(k);
	fprintf(stderr, "ksmtuned_stops_a_running_burst: stopped in %" PRIu64 " ms: %s\n",
		(mono_ns() - t0) / 1000000, json_object_to_json_string(s));
	ck_assert_str_eq(get_str(s, "owner"), "ksmtuned");
	last = get(s, "last-burst");
	ck_assert_ptr_nonnull(last);
	ck_assert_str_eq(get_str(last, "result"), "cancelled");
	json_object_put(s);
	after = knobs_now();
	ASSERT_KNOBS_EQ(before, after);
	ck_assert(!exists(state_path));
	/* And no new one while ksmtuned runs (interval 0, gain still large). */
	vhd_ksm_poll(k, &u, 1);
	ck_assert_int_eq(bursts_of(k), 1);
	ck_assert(!exists(state_path));
	ksmtuned_stop(&kt);
	vhd_ksm_free(k);
	twin_teardown(&w);
	dir_cleanup();
}
END_TEST

static Suite *ksm_owner_suite(void)
{
	Suite *s = suite_create("ksm_owner");
	TCase *tc;

	tc = tcase_create("state");
	tcase_add_checked_fixture(tc, ksm_test_setup, ksm_test_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, hostile_state_file_not_applied, 0,
			    (int)(sizeof(hostile) / sizeof(hostile[0])));
	tcase_add_test(tc, good_state_file_applied);
	tcase_add_test(tc, directory_state_file_and_no_owner);
	suite_add_tcase(s, tc);

	tc = tcase_create("burst");
	tcase_add_checked_fixture(tc, ksm_test_setup, ksm_test_teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, burst_merges_and_restores);
	tcase_add_test(tc, burst_backoff_when_nothing_merges);
	tcase_add_test(tc, sigkill_mid_burst_restored_at_start);
	tcase_add_test(tc, reload_applies_ksm_settings);
	tcase_add_test(tc, ksm_off_touches_nothing);
	tcase_add_test(tc, ksmtuned_owns_ksm);
	tcase_add_test(tc, ksmtuned_stops_a_running_burst);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * A failed test _exit()s without its cleanup: remove what any test of this
 * suite left (no other run of it is going on: we hold the lock).
 */
static void remove_leftovers(void)
{
	const char *const pat[] = { "/tmp/vmhint-ksm-test-*", "/tmp/vmhint-ksmtuned-*",
				    "/dev/shm/vmhint-ksm-test-*" };
	char cmd[256];
	unsigned int i;
	size_t j;
	glob_t g;

	for (i = 0; i < sizeof(pat) / sizeof(pat[0]); i++) {
		if (glob(pat[i], 0, NULL, &g))
			continue;
		for (j = 0; j < g.gl_pathc; j++) {
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.gl_pathv[j]);
			if (system(cmd))
				fprintf(stderr, "cannot remove %s\n", g.gl_pathv[j]);
		}
		globfree(&g);
	}
}

int main(void)
{
	int ret;

	vhd_log_open(false, LOG_DEBUG);
	ksm_suite_hold();
	ret = run_suite(ksm_owner_suite());
	ksm_suite_release();
	remove_leftovers();
	return ret;
}
