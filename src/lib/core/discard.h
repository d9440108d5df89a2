/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * core/discard.h - the discard engine: drop runs of a region's pages with
 * the method its backing needs, in as few system calls as possible. The
 * only code that drops frames: every drop is counted in the context's
 * bytes_dropped[] and syscalls.
 */
#ifndef VH_CORE_DISCARD_H
#define VH_CORE_DISCARD_H

#include "core/core.h"

/* A run of 4 KiB pages of one region: [first, first + n). */
struct discard_run {
	uint64_t first;
	uint64_t n;
};

enum discard_how {
	DISCARD_NOW,      /* free the frames before returning */
	DISCARD_LAZY,     /* private anonymous: MADV_FREE, the kernel frees later */
	DISCARD_NR_HOW
};

/* Does @r's backing have a lazy drop (else DISCARD_LAZY drops now)? */
bool discard_has_lazy(const struct vmhint_region *r);

/*
 * Drop @nr runs of @r, sorted and not overlapping. Runs of a huge-page
 * backing must be whole huge pages. The caller keeps @r registered
 * (ctx->regions_lock held) and holds r->lock when the drop follows from
 * page states; zero reclaim instead holds the runs write-protected, and
 * must not take r->lock meanwhile (a populate under r->lock may be
 * waiting on that protection). Discard itself reads only what never
 * changes in @r.
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

#endif /* VH_CORE_DISCARD_H */
