// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mark.c - per-VM KSM steering: which ranges of one region are
 * mergeable (MADV_MERGEABLE on the whole region, or only on the chunks
 * dense in zero, duplicate and cross-VM candidate pages), and how many
 * of the region's pages KSM merged.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dedupe/dedupe-internal.h"
#include "sys/sysdep.h"
#include "util/struct.h"

/* The region's span and the KSM kB of the VMAs inside it, line by line. */
struct ksm_sum {
	uintptr_t lo, hi;          /* the region */
	uintptr_t start, end;      /* the VMA whose fields come next */
	unsigned long long kb;
};

static int ksm_sum_line(const char *line, void *opaque)
{
	struct ksm_sum *k = opaque;
	unsigned long long kb;
	unsigned long s, e;

	if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {
		k->start = s;
		k->end = e;
	} else if (k->start < k->hi && k->end > k->lo && sscanf(line, "KSM: %llu kB", &kb) == 1) {
		k->kb += kb;
	}
	return 0;
}

/*
 * Sum the "KSM:" lines of the VMAs inside the region in /proc/self/smaps:
 * pages of this region mapped to a KSM page.
 */
int mark_merged_pages(const struct vmhint_dedupe *d, uint64_t *pages)
{
	struct ksm_sum k = { .lo = (uintptr_t)d->hva, .hi = (uintptr_t)d->hva + d->len };
	int ret = sys_smaps_each(ksm_sum_line, &k);

	if (ret)
		return ret;
	*pages = k.kb * 1024 / VMHINT_PAGE_SIZE;
	return 0;
}

/* ---- marking ---- */

struct mark_run {
	uint64_t first, n; /* chunks */
};

static uint64_t chunk_density(const struct vmhint_dedupe *d, uint64_t first, uint64_t n)
{
	uint64_t i, c = 0;

	for (i = first; i < first + n && i < d->nr_pages; i++)
		c += bit_test(d->mergeable, i);
	return c;
}

/* Join the two neighbouring runs with the smallest gap until @max remain. */
static int join_runs(struct mark_run *r, int n, int max)
{
	int i;

	while (n > max) {
		int best = 0;


		for (i = 1; i < n - 1; i++)
			if (r[i + 1].first - (r[i].first + r[i].n) <
			    r[best + 1].first - (r[best].first + r[best].n))
				best = i;
		r[best].n = r[best + 1].first + r[best + 1].n - r[best].first;
		memmove(&r[best + 1], &r[best + 2], (size_t)(n - best - 2) * sizeof(*r));
		n--;
	}
	return n;
}

static int dense_runs(const struct vmhint_dedupe *d, uint64_t chunk_pages, uint32_t pct,
		      struct mark_run *r)
{
	uint64_t c, nr_chunks = (d->nr_pages + chunk_pages - 1) / chunk_pages;
	int n = 0;

	for (c = 0; c < nr_chunks; c++) {
		if (chunk_density(d, c * chunk_pages, chunk_pages) * 100 < pct * chunk_pages)
			continue;
		if (n && r[n - 1].first + r[n - 1].n == c)
			r[n - 1].n++;
		else
			r[n++] = (struct mark_run){ c, 1 };
	}
	return n;
}

static int madvise_runs(struct vmhint_dedupe *d, const struct mark_run *r, int n,
			uint64_t chunk_pages)
{
	int i;

	for (i = 0; i < n; i++) {
		uint64_t off = r[i].first * chunk_pages * VMHINT_PAGE_SIZE;
		uint64_t len = r[i].n * chunk_pages * VMHINT_PAGE_SIZE;
		int ret;

		if (off + len > d->len)
			len = d->len - off;
		ret = sys_madvise(d->hva + off, len, MADV_MERGEABLE);

		if (ret)
			return ret;
	}
	return n;
}

static int mark_dense(struct vmhint_dedupe *d, const struct vmhint_dedupe_mark_opts *o)
{
	uint64_t chunk = o->chunk_bytes ? o->chunk_bytes : 2ULL << 20;
	uint64_t chunk_pages = chunk / VMHINT_PAGE_SIZE;
	uint32_t pct = o->min_percent ? o->min_percent : 25;
	int max = o->max_ranges ? (int)o->max_ranges : 16;
	struct mark_run *r;
	int n;

	if (!chunk_pages || chunk % d->page_size || pct > 100 || max < 1)
		return -EINVAL;
	if (!atomic_load(&d->c.passes))
		return -EAGAIN;
	r = malloc(((d->nr_pages + chunk_pages - 1) / chunk_pages + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	n = dense_runs(d, chunk_pages, pct, r);
	n = join_runs(r, n, max);
	n = madvise_runs(d, r, n, chunk_pages);
	free(r);
	return n;
}

static int mark_check(struct vmhint_dedupe *d, const struct vmhint_dedupe_mark_opts *o)
{
	if (o->mode > VMHINT_DEDUPE_MARK_DENSE)
		return -EINVAL;
	if (!(d->flags & VMHINT_DEDUPE_CROSS_VM))
		return -EPERM;
	if (d->backing != VMHINT_BACKING_ANON || sys_ksm_available())
		return -EOPNOTSUPP;
	return 0;
}

VMHINT_API int vmhint_dedupe_mark(struct vmhint_dedupe *d,
				  const struct vmhint_dedupe_mark_opts *caller_opts)
{
	struct vmhint_dedupe_mark_opts o = { .size = sizeof(o) }, *opts = &o;
	struct vmhint_region *r;
	int ret;

	if (!d)
		return -EINVAL;
	ret = vh_struct_in(&o, sizeof(o), caller_opts);
	if (!ret)
		ret = mark_check(d, opts);
	if (ret)
		return ret;
	pthread_mutex_lock(&d->lock);
	ret = dedupe_region_get(d, &r);
	if (!ret) {
		if (opts->mode == VMHINT_DEDUPE_MARK_DENSE)
			ret = mark_dense(d, opts);
		else
			ret = sys_madvise(d->hva, d->len, MADV_MERGEABLE) ? : 1; /* one range */
		dedupe_region_put(d);
	}
	pthread_mutex_unlock(&d->lock);
	if (ret > 0)
		log_debug(d->ctx, "dedupe: region %s: %d range(s) marked mergeable", d->name, ret);
	return ret;
}

VMHINT_API int vmhint_dedupe_unmark(struct vmhint_dedupe *d)
{
	struct vmhint_region *r;
	int ret;

	if (!d)
		return -EINVAL;
	if (d->backing != VMHINT_BACKING_ANON)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&d->lock);
	ret = dedupe_region_get(d, &r);
	if (!ret) {
		ret = sys_madvise(d->hva, d->len, MADV_UNMERGEABLE);
		dedupe_region_put(d);
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}
