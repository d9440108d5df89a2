/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhintd's log: syslog (facility daemon) or stderr, one line a message,
 * priorities as syslog(3) has them. Messages above the configured level
 * are dropped before they are formatted.
 */
#ifndef VHD_LOG_H
#define VHD_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* Where and how much: LOG_ERR .. LOG_DEBUG. Before the first call,
 * messages go to stderr at LOG_INFO. */
void vhd_log_open(bool use_syslog, int level);
void vhd_log_close(void);
int vhd_log_level_from_name(const char *s);	/* -1 for an unknown name */
const char *vhd_log_level_name(int level);

void vhd_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vhd_err(...)	vhd_log(LOG_ERR, __VA_ARGS__)
#define vhd_warn(...)	vhd_log(LOG_WARNING, __VA_ARGS__)
#define vhd_notice(...)	vhd_log(LOG_NOTICE, __VA_ARGS__)
#define vhd_info(...)	vhd_log(LOG_INFO, __VA_ARGS__)
#define vhd_debug(...)	vhd_log(LOG_DEBUG, __VA_ARGS__)

#endif
