/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhint/context.h - one vmhint context per VM: its regions, its mode, its
 * counters. Everything else in the API hangs off a context.
 *
 * Thread safety: every function taking a context may be called from several
 * threads at once (QEMU calls from the device handler, QMP and migration).
 */
#ifndef VMHINT_CONTEXT_H
#define VMHINT_CONTEXT_H

#include <stdbool.h>
#include <vmhint/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* When a hinted-unused page is dropped (docs/architecture.md, "Page states"). */
enum vmhint_mode {
	/*
	 * Drop before the request completes. Safe for every backing: the
	 * guest does not reuse a reported page before completion.
	 */
	VMHINT_MODE_SYNC = 0,
	/*
	 * Acknowledge at once, drop later. Private anonymous memory gets
	 * MADV_FREE before the acknowledgement (the kernel keeps any later
	 * write). Where the guest promised STABLE hints before reuse
	 * (VMHINT_CTX_GUEST_STABLE_HINTS), pages become PENDING and are
	 * dropped by vmhint_flush(); otherwise other backings fall back to
	 * sync drops, counted in lazy_fallbacks.
	 */
	VMHINT_MODE_LAZY = 1,
};

/* Flags of struct vmhint_ctx_opts. */
#define VMHINT_CTX_GUEST_STABLE_HINTS (1u << 0) /* guest hints STABLE before reuse */
#define VMHINT_CTX_POPULATE_ON_STABLE (1u << 1) /* prefault pages hinted STABLE    */
#define VMHINT_CTX_NO_PROCESS_MADVISE (1u << 2) /* never batch with process_madvise */

struct vmhint_ctx_opts {
	uint32_t size;          /* sizeof(struct vmhint_ctx_opts) */
	uint32_t mode;          /* enum vmhint_mode */
	uint32_t flags;         /* VMHINT_CTX_* */
	uint32_t max_ranges;    /* ranges per wire request; 0: VMHINT_WIRE_MAX_RANGES_DEFAULT */
	/* Lazy mode: flush by itself once this many bytes are PENDING; 0: 64 MiB. */
	uint64_t lazy_max_pending;
	vmhint_log_fn log;      /* NULL: messages are dropped */
	void *log_opaque;
	int32_t log_level;      /* highest level passed to log; 0: VMHINT_LOG_INFO */
	uint32_t _pad0;         /* must be 0 */
};

/**
 * vmhint_ctx_new() - create a context.
 * @opts: options, or NULL for the defaults (sync mode, no log)
 * @out:  receives the new context
 *
 * Return: 0, -EINVAL for bad options, -E2BIG for a newer struct with
 * options this library does not know, -ENOMEM.
 */
VMHINT_EXPORT VMHINT_MUST_CHECK int
vmhint_ctx_new(const struct vmhint_ctx_opts *opts, struct vmhint_ctx **out);

/**
 * vmhint_ctx_free() - drop every PENDING page, unregister every region and
 * free the context. NULL is fine. Guest memory itself is never unmapped.
 */
VMHINT_EXPORT void vmhint_ctx_free(struct vmhint_ctx *ctx);

/**
 * vmhint_ctx_mode_set() - change the discard mode at run time. Leaving lazy
 * mode flushes what is PENDING first.
 *
 * Return: 0 or -EINVAL.
 */
VMHINT_EXPORT int vmhint_ctx_mode_set(struct vmhint_ctx *ctx, enum vmhint_mode mode);

/**
 * vmhint_ctx_flags_set() - replace the VMHINT_CTX_* flags, e.g. once the
 * guest driver has negotiated explicit STABLE hints. Clearing
 * VMHINT_CTX_GUEST_STABLE_HINTS (a device reset) first drops what is
 * PENDING, then forgets every UNUSED state and partial huge page.
 *
 * Return: 0 or -EINVAL for unknown flags.
 */
VMHINT_EXPORT int vmhint_ctx_flags_set(struct vmhint_ctx *ctx, uint32_t flags);

/**
 * vmhint_discard_inhibit() - forbid (@inhibit true) or allow again (false)
 * dropping frames, e.g. while VFIO pins guest memory or during incoming
 * postcopy. Calls nest. While inhibited, UNUSED hints are acknowledged, the
 * pages stay STABLE, nothing is dropped, and inhibited_pages counts them.
 *
 * Return: the new nesting depth, or -EINVAL on an unbalanced release.
 */
VMHINT_EXPORT int vmhint_discard_inhibit(struct vmhint_ctx *ctx, bool inhibit);

#ifdef __cplusplus
}
#endif
#endif /* VMHINT_CONTEXT_H */
