// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fingerprint.c - the incremental fingerprint scan of one region: an XXH3
 * per resident, not-unused 4 KiB page, and the classification of a
 * complete pass into zero pages and duplicates within the region.
 *
 * Why skip what we skip: a page the guest declared UNUSED has no content
 * worth merging (and is dropped anyway); a page that is not resident would
 * be allocated (shmem) or swapped in by reading it, i.e. the scan would
 * cost the memory dedupe is meant to save. mincore() answers residency for
 * anonymous, shmem and hugetlbfs memory alike.
 *
 * Reads of guest memory race with guest writes by design: a fingerprint
 * is an estimate. Nothing is merged or dropped on a fingerprint alone.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "dedupe/dedupe-internal.h"
#include "sys/sysdep.h"

/* Pages per mincore() call and per hold of the region lock. */
#define SCAN_CHUNK 512
/* Pages per step of an unlimited vmhint_dedupe_scan_pass() (32 MiB). */
#define PASS_STEP 8192

/*
 * OR eight words at a time: a non-zero page usually fails in the first
 * cache line, and a zero page is read at memory bandwidth.
 */
bool fp_page_is_zero(const void *page, size_t len)
{
	const uint64_t *p = page;
	size_t i;

	for (i = 0; i < len / 8; i += 8) {
		if (p[i] | p[i + 1] | p[i + 2] | p[i + 3] |
		    p[i + 4] | p[i + 5] | p[i + 6] | p[i + 7])
			return false;
	}
	return true;
}

static uint64_t fp_of_page(const void *page)
{
	uint64_t h;

	if (fp_page_is_zero(page, VMHINT_PAGE_SIZE))
		return FP_ZERO;
	h = XXH3_64bits(page, VMHINT_PAGE_SIZE);
	return h < FP_FIRST_REAL ? h + FP_FIRST_REAL : h;
}

/*
 * One chunk under the region lock: the discard engine drops pages under
 * that lock, so no page vanishes between mincore() and our read (reading
 * a freshly punched shmem page would allocate it again). The lock is held
 * for one chunk only, a fraction of a millisecond of hashing.
 */
static int64_t scan_chunk(struct vmhint_dedupe *d, struct vmhint_region *r, uint64_t first,
			  uint64_t n)
{
	unsigned char vec[SCAN_CHUNK];
	uint64_t i, scanned = 0;
	int64_t ret;

	pthread_mutex_lock(&r->lock);
	ret = sys_mincore(d->hva + first * VMHINT_PAGE_SIZE, n * VMHINT_PAGE_SIZE, vec);
	if (ret)
		goto out;
	ret = (int64_t)n;
	for (i = 0; i < n; i++) {
		if (!(vec[i] & 1) || pagestate_is_unused(&r->state, first + i)) {
			d->fp[first + i] = FP_NONE;
			continue;
		}
		d->fp[first + i] = fp_of_page(d->hva + (first + i) * VMHINT_PAGE_SIZE);
		scanned++;
	}
	dd_add(d, pages_scanned, scanned);
	dd_add(d, pages_skipped, n - scanned);
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/*
 * Scan up to @max_pages (0: to the end of the pass) from the cursor. A
 * call ends at the end of a pass so callers see passes complete one by one.
 * Caller holds d->lock and the region (dedupe_region_get).
 */
int64_t fp_scan_locked(struct vmhint_dedupe *d, struct vmhint_region *r, uint64_t max_pages)
{
	uint64_t cpu0 = vh_cpu_ns(), done = 0, left;
	int64_t ret = 0;

	left = d->nr_pages - d->cursor;
	if (max_pages && max_pages < left)
		left = max_pages;
	while (done < left) {
		uint64_t n = left - done < SCAN_CHUNK ? left - done : SCAN_CHUNK;

		ret = scan_chunk(d, r, d->cursor, n);
		if (ret < 0)
			break;
		d->cursor += n;
		done += n;
	}
	if (d->cursor == d->nr_pages) {
		d->cursor = 0;
		fp_finish_pass(d);
		dd_add(d, passes, 1);
	}
	dd_add(d, scan_cpu_ns, vh_cpu_ns() - cpu0);
	return ret < 0 ? ret : (int64_t)done;
}

struct fp_idx {
	uint64_t fp;
	uint64_t idx;
};

static int cmp_fp_idx(const void *a, const void *b)
{
	const struct fp_idx *x = a, *y = b;

	if (x->fp != y->fp)
		return x->fp < y->fp ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Mark runs of equal fingerprints as duplicates; returns the extra copies. */
static uint64_t mark_dups(struct vmhint_dedupe *d, const struct fp_idx *v, uint64_t n)
{
	uint64_t i = 0, j, dups = 0;

	while (i < n) {
		for (j = i + 1; j < n && v[j].fp == v[i].fp; j++)
			;
		if (j - i > 1) {
			dups += j - i - 1;
			for (; i < j; i++)
				bit_set(d->mergeable, v[i].idx);
		}
		i = j;
	}
	return dups;
}

/*
 * A pass is complete: count zero pages and in-region duplicates and mark
 * both mergeable. Cross-VM candidates are added by the next publish.
 */
void fp_finish_pass(struct vmhint_dedupe *d)
{
	struct fp_idx *v;
	uint64_t i, n = 0, zero = 0;

	memset(d->mergeable, 0, bitmap_words(d->nr_pages) * sizeof(uint64_t));
	for (i = 0; i < d->nr_pages; i++) {
		if (d->fp[i] == FP_ZERO) {
			zero++;
			bit_set(d->mergeable, i);
		}
	}
	d->zero_pages = zero;
	d->candidate_pages = 0;
	v = malloc(d->nr_pages * sizeof(*v) + 1);
	if (!v) {
		d->dup_pages = 0; /* the next pass tries again */
		return;
	}
	for (i = 0; i < d->nr_pages; i++)
		if (d->fp[i] >= FP_FIRST_REAL)
			v[n++] = (struct fp_idx){ d->fp[i], i };
	qsort(v, n, sizeof(*v), cmp_fp_idx);
	d->dup_pages = mark_dups(d, v, n);
	free(v);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorted copy of the real fingerprints (zero and absent pages left out). */
int fp_sorted_copy(const struct vmhint_dedupe *d, uint64_t **out, uint64_t *nr)
{
	uint64_t i, n = 0, *v;

	v = malloc(d->nr_pages * sizeof(*v) + 1);
	if (!v)
		return -ENOMEM;
	for (i = 0; i < d->nr_pages; i++)
		if (d->fp[i] >= FP_FIRST_REAL)
			v[n++] = d->fp[i];
	qsort(v, n, sizeof(*v), cmp_u64);
	*out = v;
	*nr = n;
	return 0;
}

VMHINT_API int64_t vmhint_dedupe_scan(struct vmhint_dedupe *d, uint64_t max_pages)
{
	struct vmhint_region *r;
	int64_t ret;

	if (!d)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	ret = dedupe_region_get(d, &r);
	if (!ret) {
		ret = fp_scan_locked(d, r, max_pages);
		dedupe_region_put(d);
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/*
 * Scan in chunks and sleep between them, without holding any lock while
 * asleep, so hints and region changes are never held up by the rate limit.
 */
VMHINT_API int64_t vmhint_dedupe_scan_pass(struct vmhint_dedupe *d)
{
	uint64_t start, passes, total = 0, due, now;

	if (!d)
		return -EINVAL;
	start = vh_now_ns();
	passes = atomic_load(&d->c.passes);
	while (atomic_load(&d->c.passes) == passes) {
		/* Bounded steps: region add/remove wait for regions_lock meanwhile. */
		int64_t n = vmhint_dedupe_scan(d, d->rate ? SCAN_CHUNK : PASS_STEP);

		if (n < 0)
			return n;
		total += (uint64_t)n;
		if (!d->rate)
			continue;
		due = (uint64_t)((double)total * VMHINT_PAGE_SIZE * 1e9 / (double)d->rate);
		now = vh_now_ns() - start;
		if (due > now)
			vh_sleep_ns(due - now);
	}
	return (int64_t)total;
}
