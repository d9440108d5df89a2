// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * region.c - the registry of guest RAM regions of a context: a sorted array,
 * so a guest-physical lookup is a binary search (a VM has a handful of
 * regions and looks them up per hinted range).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/discard.h"
#include "core/core.h"
#include "util/struct.h"

/* The index of the region holding @gpa, or -1. Caller holds the lock. */
static int region_index(struct vmhint_ctx *ctx, uint64_t gpa)
{
	int lo = 0, hi = ctx->nr_regions - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		struct vmhint_region *r = ctx->regions[mid];

		if (gpa < r->gpa)
			hi = mid - 1;
		else if (gpa - r->gpa >= r->len)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

struct vmhint_region *region_lookup(struct vmhint_ctx *ctx, uint64_t gpa)
{
	int i = region_index(ctx, gpa);

	return i < 0 ? NULL : ctx->regions[i];
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool overlaps_registered(struct vmhint_ctx *ctx, const struct vmhint_region_opts *o)
{
	for (int i = 0; i < ctx->nr_regions; i++) {
		struct vmhint_region *r = ctx->regions[i];

		if (ranges_overlap(o->gpa, o->len, r->gpa, r->len) ||
		    ranges_overlap((uintptr_t)o->hva, o->len, (uintptr_t)r->hva, r->len))
			return true;
	}
	return false;
}

static int check_opts(const struct vmhint_region_opts *o)
{
	if (!o->len || o->gpa % VMHINT_PAGE_SIZE || o->len % VMHINT_PAGE_SIZE ||
	    (uintptr_t)o->hva % VMHINT_PAGE_SIZE)
		return -EINVAL;
	if (o->gpa + o->len < o->gpa || (uintptr_t)o->hva + o->len < (uintptr_t)o->hva)
		return -EINVAL;
	return 0;
}

static void region_destroy(struct vmhint_region *r)
{
	if (!r)
		return;
	pagestate_fini(&r->state);
	if (r->fd >= 0)
		close(r->fd);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static int region_create(const struct vmhint_region_opts *o, struct vmhint_region **out)
{
	struct vmhint_region *r;
	int err;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	r->gpa = o->gpa;
	r->len = o->len;
	r->hva = o->hva;
	r->fd_offset = o->fd_offset;
	if (o->name)
		snprintf(r->name, sizeof(r->name), "%s", o->name);

	err = backing_detect(o->hva, o->len, o->fd, o->fd_offset, &r->backing, &r->page_size);
	if (!err && ((uintptr_t)o->hva % r->page_size || o->len % r->page_size ||
		     o->gpa % r->page_size))
		err = -EINVAL; /* huge pages are dropped whole: they must line up */
	if (!err && o->fd >= 0) {
		r->fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
		if (r->fd < 0)
			err = -errno;
	}
	if (!err)
		err = pagestate_init(&r->state, o->len, r->page_size);
	if (err) {
		region_destroy(r);
		return err;
	}
	*out = r;
	return 0;
}

/* Insert keeping the array sorted by gpa. Caller holds the write lock. */
static int registry_insert(struct vmhint_ctx *ctx, struct vmhint_region *r)
{
	int i;

	if (ctx->nr_regions == ctx->cap_regions) {
		int cap = ctx->cap_regions ? ctx->cap_regions * 2 : 8;
		struct vmhint_region **n = realloc(ctx->regions, (size_t)cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		ctx->regions = n;
		ctx->cap_regions = cap;
	}
	for (i = ctx->nr_regions; i > 0 && ctx->regions[i - 1]->gpa > r->gpa; i--)
		ctx->regions[i] = ctx->regions[i - 1];
	ctx->regions[i] = r;
	ctx->nr_regions++;
	return 0;
}

VMHINT_API int vmhint_region_add(struct vmhint_ctx *ctx,
				 const struct vmhint_region_opts *caller_opts,
				 struct vmhint_region **out)
{
	/* A struct too short to hold fd has no fd: -1, not 0 (stdin). */
	struct vmhint_region_opts o = { .size = sizeof(o), .fd = -1 };
	const struct vmhint_region_opts *opts = &o;
	struct vmhint_region *r;
	int err;

	if (!ctx || !caller_opts)
		return -EINVAL;
	err = vh_struct_in(&o, sizeof(o), caller_opts);
	if (!err)
		err = check_opts(opts);
	if (err)
		return err;
	err = region_create(opts, &r);
	if (err) {
		log_warn(ctx, "region %s at gpa 0x%" PRIx64 ": cannot register: %s",
			 opts->name ? opts->name : "?", opts->gpa, strerror(-err));
		return err;
	}
	pthread_rwlock_wrlock(&ctx->regions_lock);
	err = overlaps_registered(ctx, opts) ? -EEXIST : registry_insert(ctx, r);
	pthread_rwlock_unlock(&ctx->regions_lock);
	if (err) {
		region_destroy(r);
		return err;
	}
	log_info(ctx, "region %s: gpa 0x%" PRIx64 "+0x%" PRIx64 ", %s, page size %" PRIu64,
		 r->name, r->gpa, r->len, vmhint_backing_name(r->backing), r->page_size);
	if (out)
		*out = r;
	return 0;
}

VMHINT_API int vmhint_region_remove(struct vmhint_ctx *ctx, struct vmhint_region *region)
{
	int i, found = -1;

	if (!ctx || !region)
		return -ENOENT;
	pthread_rwlock_wrlock(&ctx->regions_lock);
	for (i = 0; i < ctx->nr_regions; i++)
		if (ctx->regions[i] == region)
			found = i;
	if (found >= 0) {
		discard_flush_region(ctx, region);
		memmove(&ctx->regions[found], &ctx->regions[found + 1],
			(size_t)(ctx->nr_regions - found - 1) * sizeof(region));
		ctx->nr_regions--;
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	if (found < 0)
		return -ENOENT;
	region_destroy(region);
	return 0;
}

static int fill_info(struct vmhint_region *r, struct vmhint_region_info *info);

VMHINT_API int vmhint_region_find(struct vmhint_ctx *ctx, uint64_t gpa,
				  struct vmhint_region_info *info)
{
	int i;

	if (!ctx || (info && vh_struct_out_ok(info)))
		return -EINVAL;
	pthread_rwlock_rdlock(&ctx->regions_lock);
	i = region_index(ctx, gpa);
	if (i >= 0 && info)
		fill_info(ctx->regions[i], info);
	pthread_rwlock_unlock(&ctx->regions_lock);
	return i < 0 ? -ENOENT : i;
}

VMHINT_API int vmhint_region_count(struct vmhint_ctx *ctx)
{
	int n;

	if (!ctx)
		return -EINVAL;
	pthread_rwlock_rdlock(&ctx->regions_lock);
	n = ctx->nr_regions;
	pthread_rwlock_unlock(&ctx->regions_lock);
	return n;
}

static int fill_info(struct vmhint_region *r, struct vmhint_region_info *info)
{
	struct vmhint_region_info full = {
		.size = sizeof(full),
		.gpa = r->gpa,
		.hva = r->hva,
		.len = r->len,
		.backing = r->backing,
		.page_size = r->page_size,
	};

	pthread_mutex_lock(&r->lock);
	full.unused_bytes = r->state.nr_unused * VMHINT_PAGE_SIZE;
	full.pending_bytes = r->state.nr_pending * VMHINT_PAGE_SIZE;
	full.partial_huge_pages = r->state.nr_partial;
	pthread_mutex_unlock(&r->lock);
	snprintf(full.name, sizeof(full.name), "%s", r->name);
	return vh_struct_out(info, &full, sizeof(full));
}

VMHINT_API int vmhint_region_info_get(struct vmhint_ctx *ctx, int index,
				      struct vmhint_region_info *info)
{
	int err = 0;

	if (!ctx || !info || vh_struct_out_ok(info))
		return -EINVAL;
	pthread_rwlock_rdlock(&ctx->regions_lock);
	if (index < 0 || index >= ctx->nr_regions)
		err = -ENOENT;
	else
		err = fill_info(ctx->regions[index], info);
	pthread_rwlock_unlock(&ctx->regions_lock);
	return err;
}

VMHINT_API const char *vmhint_backing_name(enum vmhint_backing backing)
{
	switch (backing) {
	case VMHINT_BACKING_ANON:
		return "anon";
	case VMHINT_BACKING_SHMEM:
		return "shmem";
	case VMHINT_BACKING_HUGETLB_SHARED:
		return "hugetlb-shared";
	case VMHINT_BACKING_HUGETLB_PRIVATE:
		return "hugetlb-private";
	case VMHINT_BACKING_FILE_PRIVATE:
		return "file-private";
	}
	return "unknown";
}
