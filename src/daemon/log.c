// SPDX-License-Identifier: LGPL-2.1-or-later
/* vmhintd's log: see log.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static bool log_syslog;
static int log_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void vhd_log_open(bool use_syslog, int level)
{
	log_syslog = use_syslog;
	log_level = level;
	if (use_syslog)
		openlog("vmhintd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void vhd_log_close(void)
{
	if (log_syslog)
		closelog();
	log_syslog = false;
}

int vhd_log_level_from_name(const char *s)
{
	int i;

	for (i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (!strcmp(s, level_names[i]))
			return i;
	return -1;
}

const char *vhd_log_level_name(int level)
{
	if (level < LOG_EMERG || level > LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

void vhd_log(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		/* The level in front, as a line a journal or a file can keep. */
		fprintf(stderr, "vmhintd: %s: ", level_names[prio & 7]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}
