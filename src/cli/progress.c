// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * numa-move: start the move, then follow it with numa-status every 200 ms
 * until it ends: a progress bar on a terminal, a line a second otherwise
 * (a log or a pipe gets no carriage returns). Ctrl-C sends numa-cancel
 * once and keeps following until the move says it stopped; a second
 * Ctrl-C stops waiting. The summary is the move's result, per outcome.
 */
#include "config.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"

#ifndef POLL_MS
#define POLL_MS		200	/* the fuzzer builds with 0 */
#endif
#define LINE_MS		1000	/* between lines when not on a terminal */
#define BAR_WIDTH	30
#define PAGE_BYTES	4096ull	/* QEMU counts the move in 4 KiB pages */
/* numa-status "none" for this many polls: the move is not to be seen. */
#define NONE_POLLS	25

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted++;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);	/* cut short by Ctrl-C: fine, we look at once */
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void show(struct json_object *st, int tty, long long *last, int *bar)
{
	uint64_t done = vhc_get_u64(st, "pages-done", 0);
	uint64_t total = vhc_get_u64(st, "pages-total", 0);
	unsigned int pct = total ? (unsigned int)(done * 100 / total) : 0;
	char sb[32], hd[32], ht[32];
	const char *s = vhc_get_str(st, "status", "?", sb, sizeof(sb));
	int i, fill = (int)(pct * BAR_WIDTH / 100);

	vhc_human(done * PAGE_BYTES, hd, sizeof(hd));
	vhc_human(total * PAGE_BYTES, ht, sizeof(ht));
	if (tty) {
		printf("\r[");
		for (i = 0; i < BAR_WIDTH; i++)
			putchar(i < fill ? '#' : '-');
		printf("] %3u%%  %s / %s  %-10s", pct, hd, ht, s);
		*bar = 1;
	} else if (!*last || now_ms() - *last >= LINE_MS) {
		*last = now_ms();
		printf("numa-move: %s %u%% (%" PRIu64 " of %" PRIu64 " pages, %s of %s)\n",
		       s, pct, done, total, hd, ht);
	}
	fflush(stdout);
}

static void summary(const char *domain, struct json_object *st)
{
	struct json_object *res = NULL, *outs = NULL;
	char sb[32], h[32];
	size_t i, n;

	printf("NUMA move of domain '%s' to node %" PRIu64 ": %s\n", domain,
	       vhc_get_u64(st, "host-node", 0), vhc_get_str(st, "status", "?", sb, sizeof(sb)));
	if (!json_object_object_get_ex(st, "result", &res))
		return;
	printf("  %-14s %.3f s\n", "time:", (double)vhc_get_u64(res, "time-ns", 0) / 1e9);
	printf("  %-14s %" PRIu64 " (%s)\n", "pages-total:", vhc_get_u64(res, "pages-total", 0),
	       vhc_human(vhc_get_u64(res, "pages-total", 0) * PAGE_BYTES, h, sizeof(h)));
	printf("  %-14s %" PRIu64 " (%s)\n", "bytes-moved:", vhc_get_u64(res, "bytes-moved", 0),
	       vhc_human(vhc_get_u64(res, "bytes-moved", 0), h, sizeof(h)));
	if (!json_object_object_get_ex(res, "outcomes", &outs) ||
	    !json_object_is_type(outs, json_type_array))
		return;
	n = json_object_array_length(outs);
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(outs, i);
		uint64_t p = vhc_get_u64(o, "pages", 0);
		char ob[64], key[80];

		snprintf(key, sizeof(key), "%s:", vhc_get_str(o, "outcome", "?", ob, sizeof(ob)));
		printf("  %-14s %" PRIu64 " pages (%s)\n", key, p,
		       vhc_human(p * PAGE_BYTES, h, sizeof(h)));
	}
}

/* The move's end: 0 if it completed; the summary and why not otherwise. */
static int finish(const char *domain, struct json_object *st)
{
	char sb[32], eb[512];
	const char *s = vhc_get_str(st, "status", "?", sb, sizeof(sb));

	summary(domain, st);
	if (!strcmp(s, "completed"))
		return 0;
	if (!strcmp(s, "cancelled"))
		vhc_err("the NUMA move of domain '%s' was cancelled", domain);
	else
		vhc_err("the NUMA move of domain '%s' failed: %s", domain,
			vhc_get_str(st, "error", "no reason given", eb, sizeof(eb)));
	return 1;
}

static int ended(const char *s)
{
	return !strcmp(s, "completed") || !strcmp(s, "cancelled") || !strcmp(s, "failed");
}

static int follow(struct vhc_client *c, const char *domain)
{
	unsigned int nones = 0;
	long long last = 0;
	int tty = isatty(STDOUT_FILENO), bar = 0, cancel_sent = 0, rc = 1;
	sig_atomic_t cancel_at = 0;

	for (;;) {
		struct json_object *st;
		char sb[32];
		const char *s;

		if (interrupted && !cancel_sent) {
			struct json_object *r;

			if (bar)
				putchar('\n');
			bar = 0;
			fprintf(stderr, "cancelling the NUMA move (Ctrl-C again: stop waiting)\n");
			cancel_sent = 1;
			cancel_at = interrupted;
			/* It may have ended meanwhile: then the status says so. */
			r = vhc_call(c, vhc_request("numa-cancel", domain));
			json_object_put(r);
		} else if (cancel_sent && interrupted > cancel_at) {
			if (bar)
				putchar('\n');
			vhc_err("stopped waiting; the NUMA move of domain '%s' may still be cancelling",
				domain);
			vhc_hint("vmhintctl stats %s shows it", domain);
			return 1;
		}
		st = vhc_call(c, vhc_request("numa-status", domain));
		if (!st)
			break;
		s = vhc_get_str(st, "status", "?", sb, sizeof(sb));
		if (ended(s)) {
			if (bar) {	/* the bar's last state, then the summary */
				show(st, tty, &last, &bar);
				putchar('\n');
			}
			bar = 0;
			rc = finish(domain, st);
			json_object_put(st);
			return rc;
		}
		if (!strcmp(s, "none") && ++nones >= NONE_POLLS) {
			json_object_put(st);
			vhc_err("domain '%s' shows no NUMA move", domain);
			break;
		}
		if (strcmp(s, "none"))
			show(st, tty, &last, &bar);
		json_object_put(st);
		sleep_ms(POLL_MS);
	}
	if (bar)
		putchar('\n');
	return rc;
}

int vhc_numa_move(struct vhc_client *c, const char *domain, uint32_t node,
		  int all, uint64_t rate, int no_wait)
{
	struct json_object *req = vhc_request("numa-move", domain), *ret;
	struct sigaction sa, old;
	int rc;

	if (!req) {
		vhc_err("out of memory");
		return 1;
	}
	json_object_object_add(req, "node", json_object_new_int64(node));
	if (all)
		json_object_object_add(req, "move-all", json_object_new_boolean(1));
	if (rate)
		json_object_object_add(req, "max-bytes-per-sec", json_object_new_uint64(rate));
	/* Ctrl-C from here on cancels (no SA_RESTART: the sleep ends at once). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	ret = vhc_call(c, req);
	if (!ret) {
		rc = 1;
	} else if (no_wait) {
		printf("NUMA move of domain '%s' to node %u started\n", domain, node);
		rc = 0;
	} else {
		rc = follow(c, domain);
	}
	json_object_put(ret);
	sigaction(SIGINT, &old, NULL);
	return rc;
}
