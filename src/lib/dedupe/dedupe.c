// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dedupe/dedupe.c - the per-region dedupe handle's entry points: opt-in,
 * lifetime, counters. The top of dedupe/: it calls handle.c, sharetable.c
 * (withdraw on disable) and mark.c (merged pages); nothing calls it. The
 * work itself is in fingerprint.c, sharetable.c, estimate.c, mark.c and
 * zeroreclaim.c.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dedupe/dedupe-internal.h"
#include "util/struct.h"

/* The caller's options (NULL: the defaults) into @o, by the size rule. */
static int dedupe_take_opts(struct vmhint_dedupe_opts *o, const struct vmhint_dedupe_opts *caller)
{
	int err;

	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	err = vh_struct_in(o, sizeof(*o), caller);
	if (!err && (o->flags & ~VMHINT_DEDUPE_CROSS_VM))
		err = -EINVAL;
	return err;
}

static void dedupe_free(struct vmhint_dedupe *d)
{
	if (!d)
		return;
	free(d->fp);
	free(d->mergeable);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static int dedupe_copy_region(struct vmhint_dedupe *d, struct vmhint_region *region)
{
	struct vmhint_region *r;
	int ret = 0;

	pthread_rwlock_rdlock(&d->ctx->regions_lock);
	r = region ? region_lookup(d->ctx, region->gpa) : NULL;
	if (r != region) {
		ret = -ENOENT;
	} else {
		d->gpa = r->gpa;
		d->len = r->len;
		d->hva = r->hva;
		d->backing = r->backing;
		d->page_size = r->page_size;
		memcpy(d->name, r->name, sizeof(d->name));
		d->name[sizeof(d->name) - 1] = '\0';
	}
	pthread_rwlock_unlock(&d->ctx->regions_lock);
	return ret;
}

VMHINT_API int vmhint_dedupe_enable(struct vmhint_ctx *ctx, struct vmhint_region *region,
				    const struct vmhint_dedupe_opts *caller_opts,
				    struct vmhint_dedupe **out)
{
	struct vmhint_dedupe_opts o, *opts = &o;
	struct vmhint_dedupe *d;
	int ret;

	if (!ctx || !out)
		return -EINVAL;
	ret = dedupe_take_opts(opts, caller_opts);
	if (ret)
		return ret;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	d->ctx = ctx;
	d->slot = -1;
	d->flags = opts->flags;
	d->rate = opts->scan_bytes_per_sec;
	ret = dedupe_copy_region(d, region);
	if (ret)
		goto fail;
	d->nr_pages = d->len / VMHINT_PAGE_SIZE;
	d->fp = calloc(d->nr_pages, sizeof(*d->fp));
	d->mergeable = calloc(bitmap_words(d->nr_pages), sizeof(uint64_t));
	if (!d->fp || !d->mergeable) {
		ret = -ENOMEM;
		goto fail;
	}
	log_debug(ctx, "dedupe: enabled on region %s (%" PRIu64 " pages, cross-VM %s)",
		  d->name, d->nr_pages, d->flags & VMHINT_DEDUPE_CROSS_VM ? "allowed" : "off");
	*out = d;
	return 0;
fail:
	dedupe_free(d);
	return ret;
}

VMHINT_API void vmhint_dedupe_disable(struct vmhint_dedupe *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	table_withdraw_locked(d);
	pthread_mutex_unlock(&d->lock);
	dedupe_free(d);
}

VMHINT_API int vmhint_dedupe_stats_get(struct vmhint_dedupe *d, struct vmhint_dedupe_stats *st)
{
	struct vmhint_dedupe_stats s = { .size = sizeof(s) };
	uint64_t merged = 0;

	if (!d || !st || vh_struct_out_ok(st))
		return -EINVAL;
	s.pages_scanned = atomic_load(&d->c.pages_scanned);
	s.pages_skipped = atomic_load(&d->c.pages_skipped);
	s.passes = atomic_load(&d->c.passes);
	s.zero_reclaimed = atomic_load(&d->c.zero_reclaimed);
	s.zero_raced = atomic_load(&d->c.zero_raced);
	s.scan_cpu_ns = atomic_load(&d->c.scan_cpu_ns);
	pthread_mutex_lock(&d->lock);
	s.zero_pages = d->zero_pages;
	s.dup_pages = d->dup_pages;
	s.candidate_pages = d->candidate_pages;
	pthread_mutex_unlock(&d->lock);
	if (d->backing == VMHINT_BACKING_ANON && mark_merged_pages(d, &merged) == 0)
		s.merged_pages = merged;
	s.bytes_saved = (s.merged_pages + s.zero_reclaimed) * VMHINT_PAGE_SIZE;
	return vh_struct_out(st, &s, sizeof(s));
}
