// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * log.c - the library never prints: messages go to the caller's callback.
 */
#include "config.h"

#include <stdio.h>

#include "core/core.h"

void vmhint_log(struct vmhint_ctx *ctx, int level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!ctx || !ctx->log || level > ctx->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->log(ctx->log_opaque, level, msg);
}
