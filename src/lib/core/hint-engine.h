/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * core/hint-engine.h - the one path every hint takes, from the wire parser or the
 * direct API: check every range, coalesce, change page states, drop.
 */
#ifndef VMHINT_HINT_INTERNAL_H
#define VMHINT_HINT_INTERNAL_H

#include "core/core.h"

/*
 * Apply @op to @nr ranges (host byte order). Checks all ranges before
 * applying any; counts the request (and a rejection) in the stats.
 * Returns enum vmhint_wire_status; *@changed receives the bytes whose state
 * changed (may be NULL).
 */
int hint_apply(struct vmhint_ctx *ctx, uint16_t op, const struct vmhint_range *ranges,
	       uint32_t nr, uint64_t *changed);

/* Count a request rejected before hint_apply() could see it. */
void hint_count_reject(struct vmhint_ctx *ctx, int status);

/* Drop every PENDING page of every region. Caller holds regions_lock. */
int64_t hint_flush_locked(struct vmhint_ctx *ctx);

/* Forget every UNUSED/PENDING state (the guest no longer sends STABLE). */
void hint_forget_states(struct vmhint_ctx *ctx);

#endif /* VMHINT_HINT_INTERNAL_H */
