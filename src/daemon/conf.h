/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhintd.conf, as vmhintd.conf(5) documents it: "key = value"
 * lines, '#' comments, blank lines. Values are checked; an unknown key or
 * a bad value is an error naming its line, so a typo never passes
 * silently. Times take ms or s ("500ms", "5s"; a bare number is seconds),
 * sizes take K, M, G ("64M"; a bare number is bytes).
 */
#ifndef VHD_CONF_H
#define VHD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum vhd_ksm_mode {
	VHD_KSM_AUTO = 0,	/* bursts when the estimate says they gain enough */
	VHD_KSM_OFF,		/* never touch KSM */
};

enum vhd_log_target {
	VHD_LOG_AUTO = 0,	/* stderr in the foreground, syslog as a daemon */
	VHD_LOG_STDERR,
	VHD_LOG_SYSLOG,
};

struct vhd_conf {
	char uri[256];			/* uri = qemu:///system */
	char socket_path[108];		/* socket = /run/vmhint/vmhintd.sock */
	char socket_group[64];		/* socket_group = (empty: root only, 0600) */
	char pidfile[256];		/* pidfile = /run/vmhint/vmhintd.pid */
	char state_dir[256];		/* state_dir = /var/lib/vmhint */
	enum vhd_log_target log;	/* log = auto|stderr|syslog */
	int log_level;			/* log_level = info (err..debug) */
	uint32_t poll_interval_ms;	/* poll_interval = 5s (100ms..1h) */
	uint32_t qmp_timeout_ms;	/* qmp_timeout = 5s (100ms..10min) */
	uint32_t keepalive_interval;	/* keepalive_interval = 5 (s, 0: off) */
	uint32_t keepalive_count;	/* keepalive_count = 5 */
	uint32_t reconnect_max_ms;	/* reconnect_max = 30s: backoff cap */
	enum vhd_ksm_mode ksm;		/* ksm = auto|off */
	uint64_t ksm_burst_min_gain;	/* ksm_burst_min_gain = 64M (bytes) */
	uint32_t ksm_burst_interval_ms;	/* ksm_burst_interval = 60s: per table */
	uint32_t ksm_burst_timeout_ms;	/* ksm_burst_timeout = 60s */
	uint32_t ksm_burst_pages_to_scan; /* ksm_burst_pages_to_scan = 8192 */
	uint32_t ksm_burst_sleep_ms;	/* ksm_burst_sleep = 10ms */
};

void vhd_conf_defaults(struct vhd_conf *c);

/*
 * vhd_conf_parse() - apply the settings in @text (@len bytes, need not
 * be NUL-terminated) on top of *@c. @name names the file in errors.
 * Return: 0, or -1 with @err = "NAME:LINE: what is wrong" (then *@c may
 * be partly changed: parse into a copy).
 */
int vhd_conf_parse(struct vhd_conf *c, const char *name, const char *text,
		   size_t len, char *err, size_t errsz);

/* Read and parse @path on top of *@c. A missing file leaves the defaults
 * (0) unless @must_exist. Return: 0 or -1 with @err. */
int vhd_conf_load(struct vhd_conf *c, const char *path, bool must_exist,
		  char *err, size_t errsz);

/* Print every setting as "key = value" lines (vmhintd --print-config). */
void vhd_conf_print(const struct vhd_conf *c, FILE *f);

#endif
