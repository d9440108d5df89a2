/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * discard.h - the discard engine: drop runs of a region's pages with the
 * method its backing needs, in as few system calls as possible.
 */
#ifndef VMHINT_DISCARD_H
#define VMHINT_DISCARD_H

#include "core/core.h"

/* A run of 4 KiB pages of one region: [first, first + n). */
struct discard_run {
	uint64_t first;
	uint64_t n;
};

enum discard_how {
	DISCARD_NOW,      /* free the frames before returning */
	DISCARD_LAZY,     /* private anonymous: MADV_FREE, the kernel frees later */
};

/*
 * Drop @nr runs of @r, sorted and not overlapping. Runs of a huge-page
 * backing must be whole huge pages. Caller holds r->lock.
 * Returns 0 or the first -errno the kernel gave (the other runs are still
 * tried).
 */
int discard_runs(struct vmhint_ctx *ctx, struct vmhint_region *r,
		 const struct discard_run *runs, size_t nr, enum discard_how how);

/*
 * Drop the PENDING pages of @r and clear their pending bit. Takes r->lock.
 * Returns bytes dropped or -errno.
 */
int64_t discard_flush_region(struct vmhint_ctx *ctx, struct vmhint_region *r);

#endif /* VMHINT_DISCARD_H */
