// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * zeroreclaim.c - drop all-zero pages of guest RAM: punch them out of
 * shared memfd/shmem and hugetlbfs backings (which KSM cannot merge), and
 * MADV_DONTNEED them in private anonymous memory (where KSM could, but
 * only after two full ksmd scans; this takes one pass and no ksmd time).
 *
 * Why it is safe (docs/architecture.md, Page states: check and act are
 * atomic against guest writes). For each run of candidate pages:
 *
 *   1. UFFDIO_WRITEPROTECT the run. When the ioctl returns, the PTEs are
 *      read-only and the TLBs flushed, and KVM has dropped its writable
 *      mappings (mmu notifier), so any later store through this mapping
 *      faults and waits in handle_userfault().
 *   2. Read each page: a store that happened before step 1 is visible.
 *   3. Drop only the pages read as zero, through the discard engine (so
 *      the context counts them like every other drop). Nothing can have
 *      changed them since step 2 (writers are blocked), so we drop
 *      zeroes, never data.
 *   4. Unprotect the run; that wakes the blocked writers, whose faults
 *      retry and land in the fresh zero-filled page. No write is lost.
 *
 * If we die in between, closing the userfaultfd clears the protection
 * and wakes the writers. Writes through another mapping of the file
 * (another process) are not covered: see the header.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>

#include "core/discard.h"
#include "dedupe/dedupe-internal.h"
#include "util/struct.h"
#include "sys/sysdep.h"

#define ZR_DEF_BATCH 64
#define ZR_CHUNK 512 /* 4 KiB pages per mincore() */

struct zr {
	struct vmhint_dedupe *d;
	struct vmhint_region *r;
	int uffd;
	int pagemap;            /* /proc/self/pagemap for anonymous memory, else -1 */
	uint64_t ps;            /* backing page size */
	uint64_t batch;         /* backing pages per protected run */
	uint64_t reclaimed;     /* 4 KiB pages */
};

static bool zr_backing_ok(enum vmhint_backing b)
{
	return b == VMHINT_BACKING_SHMEM || b == VMHINT_BACKING_HUGETLB_SHARED ||
	       b == VMHINT_BACKING_ANON;
}

/*
 * Drop now, with the backing's method (private anonymous: MADV_DONTNEED; a
 * zapped page refaults as a fresh zero page, and no uffd-wp marker
 * survives the zap, so a blocked writer simply allocates; shared: punch).
 * r->lock is not taken: see discard_runs().
 */
static int zr_drop(struct zr *z, uint64_t off, uint64_t len)
{
	struct discard_run run = { .first = off / VMHINT_PAGE_SIZE, .n = len / VMHINT_PAGE_SIZE };

	return discard_runs(z->d->ctx, z->r, &run, 1, DISCARD_NOW);
}

/*
 * Dropped pages are gone, not zero pages to merge: forget their
 * fingerprints so dense KSM marking does not count them.
 */
static void zr_forget(struct zr *z, uint64_t off, uint64_t len)
{
	uint64_t i, first = off / VMHINT_PAGE_SIZE, n = len / VMHINT_PAGE_SIZE;

	for (i = first; i < first + n; i++) {
		z->d->fp[i] = FP_NONE;
		bit_clear(z->d->mergeable, i);
	}
	z->reclaimed += n;
}

/*
 * Steps 2-3 for the protected run [off, off + n * ps): punch each maximal
 * sub-run of zero pages. A page that stopped being zero was written by
 * the guest after the unprotected pre-check: counted, left alone.
 */
static int zr_check_and_drop(struct zr *z, uint64_t off, uint64_t n)
{
	uint64_t i, start = 0, zeros = 0;
	int ret = 0;

	for (i = 0; i <= n && !ret; i++) {
		bool zero = i < n && fp_page_is_zero(z->d->hva + off + i * z->ps, z->ps);

		if (zero) {
			if (!zeros)
				start = i;
			zeros++;
			continue;
		}
		if (i < n)
			dd_add(z->d, zero_raced, 1);
		if (zeros) {
			ret = zr_drop(z, off + start * z->ps, zeros * z->ps);
			if (!ret)
				zr_forget(z, off + start * z->ps, zeros * z->ps);
			zeros = 0;
		}
	}
	return ret;
}

/* Steps 1-4 for one run; the run is always unprotected again. */
static int zr_run(struct zr *z, uint64_t off, uint64_t n)
{
	int ret, ret2;

	ret = sys_uffd_wp(z->uffd, z->d->hva + off, n * z->ps, true);
	if (ret)
		return ret;
	ret = zr_check_and_drop(z, off, n);
	ret2 = sys_uffd_wp(z->uffd, z->d->hva + off, n * z->ps, false);
	return ret ? ret : ret2;
}

/* Is backing page @bp resident, not hinted unused, and zero at a glance? */
static bool zr_candidate(struct zr *z, uint64_t bp, const unsigned char *vec,
			 uint64_t vec_first)
{
	uint64_t sub = z->ps / VMHINT_PAGE_SIZE, first = bp * sub, i;
	bool unused;

	for (i = 0; i < sub; i++)
		if (!vec[first + i - vec_first])
			return false;
	pthread_mutex_lock(&z->r->lock);
	unused = pagestate_any_unused(&z->r->state, first, sub);
	pthread_mutex_unlock(&z->r->lock);
	return !unused && fp_page_is_zero(z->d->hva + bp * z->ps, z->ps);
}

/*
 * vec[i] = 1 for 4 KiB pages [first, first + n) worth dropping. Shared
 * memory: resident in the file (mincore). Anonymous memory: present,
 * mapped by us alone, and not a file page (pagemap): that leaves out the
 * shared zero page a read fault may map and any page that is not an
 * anonymous page of ours (dropping those would free nothing), and pages
 * KSM merged already or a fork shares.
 */
static int zr_resident(struct zr *z, uint64_t first, uint64_t n, unsigned char *vec)
{
	const uint64_t want = SYS_PM_PRESENT | SYS_PM_EXCLUSIVE;
	uint64_t pm[ZR_CHUNK], i, k;
	int ret;

	if (z->pagemap < 0) {
		ret = sys_mincore(z->d->hva + first * VMHINT_PAGE_SIZE, n * VMHINT_PAGE_SIZE, vec);
		if (ret)
			return ret;
		for (i = 0; i < n; i++)
			vec[i] &= 1;
		return 0;
	}
	for (i = 0; i < n; i += k) {
		k = n - i;
		if (k > ZR_CHUNK)
			k = ZR_CHUNK;
		ret = sys_pagemap_read(z->pagemap, z->d->hva + (first + i) * VMHINT_PAGE_SIZE, k, pm);
		if (ret)
			return ret;
		for (uint64_t j = 0; j < k; j++)
			vec[i + j] = (pm[j] & (want | SYS_PM_FILE)) == want;
	}
	return 0;
}

/*
 * One window of backing pages [bp0, bp1): gather runs of
 * candidates (at most batch long) and reclaim each.
 */
static int zr_window(struct zr *z, uint64_t bp0, uint64_t bp1)
{
	uint64_t sub = z->ps / VMHINT_PAGE_SIZE, bp, start = 0, n = 0;
	unsigned char *vec;
	int ret = 0;

	vec = malloc((bp1 - bp0) * sub);
	if (!vec)
		return -ENOMEM;
	ret = zr_resident(z, bp0 * sub, (bp1 - bp0) * sub, vec);
	if (ret) {
		free(vec);
		return ret;
	}
	for (bp = bp0; bp < bp1 && !ret; bp++) {
		if (zr_candidate(z, bp, vec, bp0 * sub)) {
			if (!n++)
				start = bp;
			if (n < z->batch)
				continue;
		}
		if (n)
			ret = zr_run(z, start * z->ps, n);
		n = 0;
	}
	if (n && !ret)
		ret = zr_run(z, start * z->ps, n);
	free(vec);
	return ret;
}

static int zr_all(struct zr *z)
{
	uint64_t nr = z->d->len / z->ps, step = ZR_CHUNK * VMHINT_PAGE_SIZE / z->ps, bp;
	int ret = 0;

	if (!step)
		step = 1;
	for (bp = 0; bp < nr && !ret; bp += step)
		ret = zr_window(z, bp, bp + step < nr ? bp + step : nr);
	return ret;
}

/* @granule: 0, or the unit of anonymous drops (then it stands in for the page size). */
static int zr_locked(struct vmhint_dedupe *d, struct vmhint_region *r, uint32_t batch,
		     uint64_t granule, uint64_t *reclaimed)
{
	struct zr z = { .d = d, .r = r, .ps = granule ? granule : r->page_size, .batch = batch,
			.pagemap = -1 };
	bool anon = d->backing == VMHINT_BACKING_ANON;
	int ret;

	/* Pinned memory (VFIO) must keep its frames: no punching at all. */
	if (atomic_load(&d->ctx->inhibit_depth) > 0)
		return 0;
	if (anon) {
		z.pagemap = sys_pagemap_open();
		if (z.pagemap < 0)
			return z.pagemap;
	}
	z.uffd = sys_uffd_open(anon ? 0 : UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
	if (z.uffd < 0) {
		sys_close(z.pagemap);
		return z.uffd == -EINVAL ? -EOPNOTSUPP : z.uffd;
	}
	ret = sys_uffd_register_wp(z.uffd, d->hva, d->len);
	if (!ret) {
		ret = zr_all(&z);
		sys_uffd_unregister(z.uffd, d->hva, d->len);
	}
	sys_close(z.uffd);
	sys_close(z.pagemap);
	*reclaimed = z.reclaimed;
	return ret;
}

VMHINT_API int64_t vmhint_dedupe_zero_reclaim(struct vmhint_dedupe *d,
					      const struct vmhint_dedupe_zero_opts *opts)
{
	uint32_t batch = ZR_DEF_BATCH;
	uint64_t cpu0, reclaimed = 0, granule = 0;
	struct vmhint_region *r;
	int ret;

	struct vmhint_dedupe_zero_opts o = { .size = sizeof(o) };

	if (!d)
		return -EINVAL;
	ret = vh_struct_in(&o, sizeof(o), opts);
	if (ret)
		return ret;
	if (o.batch_pages)
		batch = o.batch_pages;
	granule = o.granule_bytes;
	if (!zr_backing_ok(d->backing))
		return -EOPNOTSUPP;
	if (granule && (granule & (granule - 1) || granule < VMHINT_PAGE_SIZE ||
			d->backing != VMHINT_BACKING_ANON || d->len % granule))
		return -EINVAL;
	cpu0 = vh_cpu_ns();
	pthread_mutex_lock(&d->lock);
	ret = dedupe_region_get(d, &r);
	if (!ret) {
		ret = zr_locked(d, r, batch, granule, &reclaimed);
		dedupe_region_put(d);
	}
	pthread_mutex_unlock(&d->lock);
	dd_add(d, zero_reclaimed, reclaimed);
	dd_add(d, scan_cpu_ns, vh_cpu_ns() - cpu0);
	if (ret)
		log_warn(d->ctx, "dedupe: zero reclaim on %s stopped: %s", d->name, strerror(-ret));
	return ret ? ret : (int64_t)reclaimed;
}
