// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dedupe/handle.c - the bottom of dedupe/: pinning the region a handle was
 * enabled on. Every other file of dedupe/ may call it; it calls only core/.
 */
#include "config.h"

#include <errno.h>

#include "dedupe/dedupe-internal.h"

/*
 * Find our region again and pin it: the caller may have removed it since
 * enable, and a new region may sit at the same gpa. Same gpa, hva and len
 * means the same guest memory, which is all we rely on.
 */
int dedupe_region_get(struct vmhint_dedupe *d, struct vmhint_region **out)
{
	struct vmhint_region *r;

	pthread_rwlock_rdlock(&d->ctx->regions_lock);
	r = region_lookup(d->ctx, d->gpa);
	if (!r || r->gpa != d->gpa || r->hva != d->hva || r->len != d->len) {
		pthread_rwlock_unlock(&d->ctx->regions_lock);
		return -ENOENT;
	}
	*out = r;
	return 0;
}

void dedupe_region_put(struct vmhint_dedupe *d)
{
	pthread_rwlock_unlock(&d->ctx->regions_lock);
}
