/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util/log.h - the library never prints: a message goes to the caller's
 * callback, or nowhere. Each context holds one logger.
 */
#ifndef VH_UTIL_LOG_H
#define VH_UTIL_LOG_H

#include <vmhint/common.h>

struct vh_logger {
	vmhint_log_fn fn;          /* NULL: drop every message */
	void *opaque;
	int level;                 /* VMHINT_LOG_*: the most verbose level passed on */
};

void vh_log(const struct vh_logger *lg, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* VH_UTIL_LOG_H */
