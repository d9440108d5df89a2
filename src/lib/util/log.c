// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * util/log.c - format a message for the caller's log callback.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "util/log.h"

void vh_log(const struct vh_logger *lg, int level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!lg || !lg->fn || level > lg->level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lg->fn(lg->opaque, level, msg);
}
