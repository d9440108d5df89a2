/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhint/hint.h - apply page hints to guest RAM directly (without a wire
 * buffer), query page states, flush lazy drops.
 *
 * The wire parser (vmhint/wire.h) ends up here too: these functions are the
 * state machine and the discard engine, the wire format only their envelope.
 */
#ifndef VMHINT_HINT_H
#define VMHINT_HINT_H

#include <vmhint/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Per-page guest state (docs/architecture.md, "Page states"). */
enum vmhint_page_state {
	VMHINT_PAGE_STABLE = 0,  /* the guest needs the content            */
	VMHINT_PAGE_UNUSED = 1,  /* of no interest; frame dropped or may be */
	VMHINT_PAGE_PENDING = 2, /* lazy mode: unused, drop not yet done    */
};

struct vmhint_range {
	uint64_t gpa; /* 4 KiB aligned */
	uint64_t len; /* bytes, a non-zero multiple of 4 KiB */
};

/**
 * vmhint_hint_ranges() - apply one hint to several guest-physical ranges,
 * as one request: ranges are coalesced and dropped with as few system calls
 * as the backing allows.
 * @op: VMHINT_OP_UNUSED or VMHINT_OP_STABLE
 *
 * All ranges are checked before any is applied; a bad one rejects the
 * whole request and is counted like a bad wire request.
 *
 * Return: the bytes whose guest state the request changed (>= 0): for
 * UNUSED, pages that were neither UNUSED nor PENDING before (without
 * VMHINT_CTX_GUEST_STABLE_HINTS no state outlives a request, so that is every
 * page the request covers; while discards are inhibited, none); for STABLE,
 * pages that were UNUSED or PENDING. -EINVAL for a bad
 * op, misalignment, zero length or overflow; -EFAULT for a range outside
 * guest RAM or across two regions; -E2BIG for more than the context's
 * max_ranges; -EIO (after counting) if the kernel refused a drop.
 */
VMHINT_EXPORT int64_t vmhint_hint_ranges(struct vmhint_ctx *ctx, enum vmhint_op op,
					 const struct vmhint_range *ranges, uint32_t nr_ranges);

/**
 * vmhint_hint() - vmhint_hint_ranges() for one range.
 */
VMHINT_EXPORT int64_t vmhint_hint(struct vmhint_ctx *ctx, enum vmhint_op op,
				  uint64_t gpa, uint64_t len);

/**
 * vmhint_page_state() - the guest's latest state of the 4 KiB page at @gpa.
 *
 * Return: enum vmhint_page_state, or -EFAULT outside guest RAM.
 */
VMHINT_EXPORT int vmhint_page_state(struct vmhint_ctx *ctx, uint64_t gpa);

/**
 * vmhint_flush() - drop every PENDING page now (lazy mode). QEMU calls it
 * from a timer or when idle; the library also flushes by itself once
 * lazy_max_pending bytes are pending.
 *
 * Return: bytes dropped, or -errno.
 */
VMHINT_EXPORT int64_t vmhint_flush(struct vmhint_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif /* VMHINT_HINT_H */
