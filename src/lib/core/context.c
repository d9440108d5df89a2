// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * context.c - create and free a context, change its mode and flags, and the
 * discard inhibitor that QEMU uses while VFIO pins guest memory.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "core/hint-engine.h"
#include "core/core.h"
#include "util/struct.h"

#define LAZY_MAX_PENDING_DEFAULT (64ull << 20)
#define KNOWN_FLAGS (VMHINT_CTX_GUEST_STABLE_HINTS | VMHINT_CTX_POPULATE_ON_STABLE | \
		     VMHINT_CTX_NO_PROCESS_MADVISE)

VMHINT_API const char *vmhint_version(void)
{
	return VMHINT_VERSION;
}

static int check_opts(const struct vmhint_ctx_opts *o)
{
	if (o->_pad0)
		return -EINVAL;
	if (o->mode != VMHINT_MODE_SYNC && o->mode != VMHINT_MODE_LAZY)
		return -EINVAL;
	if (o->flags & ~KNOWN_FLAGS)
		return -EINVAL;
	if (o->max_ranges > VMHINT_WIRE_MAX_RANGES_LIMIT)
		return -EINVAL;
	return 0;
}

VMHINT_API int vmhint_ctx_new(const struct vmhint_ctx_opts *caller_opts, struct vmhint_ctx **out)
{
	struct vmhint_ctx_opts o = { .size = sizeof(o) }; /* zeroes: the defaults */
	const struct vmhint_ctx_opts *opts = &o;
	struct vmhint_ctx *ctx;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	err = vh_struct_in(&o, sizeof(o), caller_opts);
	if (!err)
		err = check_opts(opts);
	if (err)
		return err;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	pthread_rwlock_init(&ctx->regions_lock, NULL);
	atomic_init(&ctx->mode, opts->mode);
	atomic_init(&ctx->flags, opts->flags);
	ctx->max_ranges = opts->max_ranges ? opts->max_ranges : VMHINT_WIRE_MAX_RANGES_DEFAULT;
	ctx->lazy_max_pending = opts->lazy_max_pending ? opts->lazy_max_pending
						       : LAZY_MAX_PENDING_DEFAULT;
	ctx->log.fn = opts->log;
	ctx->log.opaque = opts->log_opaque;
	ctx->log.level = opts->log_level ? opts->log_level : VMHINT_LOG_INFO;
	*out = ctx;
	return 0;
}

VMHINT_API void vmhint_ctx_free(struct vmhint_ctx *ctx)
{
	if (!ctx)
		return;
	while (ctx->nr_regions)
		vmhint_region_remove(ctx, ctx->regions[ctx->nr_regions - 1]);
	free(ctx->regions);
	pthread_rwlock_destroy(&ctx->regions_lock);
	free(ctx);
}

VMHINT_API int vmhint_ctx_mode_set(struct vmhint_ctx *ctx, enum vmhint_mode mode)
{
	if (!ctx || (mode != VMHINT_MODE_SYNC && mode != VMHINT_MODE_LAZY))
		return -EINVAL;
	if (atomic_exchange(&ctx->mode, mode) == VMHINT_MODE_LAZY && mode == VMHINT_MODE_SYNC) {
		int64_t ret = vmhint_flush(ctx);

		if (ret < 0)
			return (int)ret;
	}
	return 0;
}

VMHINT_API int vmhint_ctx_flags_set(struct vmhint_ctx *ctx, uint32_t flags)
{
	uint32_t old;

	if (!ctx || (flags & ~KNOWN_FLAGS))
		return -EINVAL;
	old = atomic_exchange(&ctx->flags, flags);
	/* Without STABLE hints from the guest, remembered UNUSED states would
	 * outlive the guest's right to reuse those pages: forget them. */
	if ((old & VMHINT_CTX_GUEST_STABLE_HINTS) && !(flags & VMHINT_CTX_GUEST_STABLE_HINTS))
		hint_forget_states(ctx);
	return 0;
}

VMHINT_API int vmhint_discard_inhibit(struct vmhint_ctx *ctx, bool inhibit)
{
	int depth;

	if (!ctx)
		return -EINVAL;
	if (inhibit) {
		depth = atomic_fetch_add(&ctx->inhibit_depth, 1) + 1;
		/* Pages already PENDING must not be dropped while pinned either:
		 * drop them now, before the pin. */
		if (depth == 1)
			vmhint_flush(ctx);
		return depth;
	}
	depth = atomic_load(&ctx->inhibit_depth);
	do {
		if (depth == 0)
			return -EINVAL;
	} while (!atomic_compare_exchange_weak(&ctx->inhibit_depth, &depth, depth - 1));
	return depth - 1;
}
