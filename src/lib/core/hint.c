// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/hint.c - the guest page state machine (docs/architecture.md, Page
 * states) and the path every hint takes: check all ranges, sort and
 * coalesce them per region, change page states, and hand what may be
 * dropped to the discard engine.
 *
 * Whether UNUSED outlives a request depends on what the guest promised:
 *  - without VMHINT_CTX_GUEST_STABLE_HINTS (virtio free page reporting) the
 *    guest may reuse a page as soon as its request completes, so no UNUSED
 *    state is kept past the request: a 4 KiB hint into a huge page counts
 *    only together with the rest of its request;
 *  - with it, the guest sends STABLE before reuse, so UNUSED persists,
 *    partial huge pages add up across requests, and lazy mode may defer
 *    drops (PENDING) until vmhint_flush().
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/discard.h"
#include "core/hint-engine.h"
#include "sys/sysdep.h"
#include "util/time.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* A checked range: which region, which pages. */
struct target {
	struct vmhint_region *r;
	struct discard_run run;
};

/* A growable list of runs, merged as they are appended in order. */
struct run_list {
	struct discard_run *v;
	size_t n, cap;
};

static int run_list_append(struct run_list *l, uint64_t first, uint64_t n)
{
	if (l->n && l->v[l->n - 1].first + l->v[l->n - 1].n == first) {
		l->v[l->n - 1].n += n;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct discard_run *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct discard_run){ .first = first, .n = n };
	return 0;
}

void hint_count_reject(struct vmhint_ctx *ctx, int status)
{
	if (status > 0 && status < VMHINT_WIRE_NR_STATUS)
		count_inc(ctx, rejected[status]);
}

/* Where does range @rg go? Every check a hostile guest can fail is here. */
static int check_range(struct vmhint_ctx *ctx, const struct vmhint_range *rg, struct target *t)
{
	struct vmhint_region *r;

	if (rg->len == 0)
		return VMHINT_WIRE_ERR_ZERO_LEN;
	if (rg->gpa % VMHINT_PAGE_SIZE || rg->len % VMHINT_PAGE_SIZE)
		return VMHINT_WIRE_ERR_ALIGN;
	if (rg->gpa + rg->len < rg->gpa)
		return VMHINT_WIRE_ERR_OVERFLOW;
	r = region_lookup(ctx, rg->gpa);
	if (!r)
		return VMHINT_WIRE_ERR_OUTSIDE;
	if (!region_contains(r, rg->gpa, rg->len))
		return region_lookup(ctx, r->gpa + r->len) ? VMHINT_WIRE_ERR_CROSS
							   : VMHINT_WIRE_ERR_OUTSIDE;
	t->r = r;
	t->run.first = (rg->gpa - r->gpa) / VMHINT_PAGE_SIZE;
	t->run.n = rg->len / VMHINT_PAGE_SIZE;
	return VMHINT_WIRE_OK;
}

static int target_cmp(const void *a, const void *b)
{
	const struct target *x = a, *y = b;

	if (x->r != y->r)
		return x->r->gpa < y->r->gpa ? -1 : 1;
	if (x->run.first != y->run.first)
		return x->run.first < y->run.first ? -1 : 1;
	return 0;
}

static bool targets_sorted(const struct target *t, uint32_t nr)
{
	for (uint32_t i = 1; i < nr; i++)
		if (target_cmp(&t[i - 1], &t[i]) > 0)
			return false;
	return true;
}

/*
 * Sort by region and page, then merge overlapping and adjacent runs so one
 * system call covers each run. Guests mostly send sorted ranges (free lists
 * are not, but reports of one order often are): skip the sort then.
 * Returns the new number of targets.
 */
static uint32_t coalesce(struct target *t, uint32_t nr)
{
	uint32_t out = 0;

	if (!targets_sorted(t, nr))
		qsort(t, nr, sizeof(*t), target_cmp);
	for (uint32_t i = 0; i < nr; i++) {
		struct target *last = out ? &t[out - 1] : NULL;

		if (last && last->r == t[i].r &&
		    t[i].run.first <= last->run.first + last->run.n) {
			uint64_t end = t[i].run.first + t[i].run.n;

			if (end > last->run.first + last->run.n)
				last->run.n = end - last->run.first;
			continue;
		}
		t[out++] = t[i];
	}
	return out;
}

/*
 * The parts of @runs whose pages are not UNUSED yet. A page the guest hinted
 * before and has not hinted STABLE since is still dropped: leave it alone.
 */
static int fresh_runs(struct vmhint_region *r, const struct discard_run *runs, size_t nr,
		      struct run_list *fresh)
{
	uint64_t start, len;
	int err = 0;

	for (size_t i = 0; i < nr && !err; i++) {
		uint64_t pos = runs[i].first, end = runs[i].first + runs[i].n;

		while (!err && pagestate_next_stable(&r->state, pos, end, &start, &len)) {
			err = run_list_append(fresh, start, len);
			pos = start + len;
		}
	}
	return err;
}

/*
 * Back to STABLE: pages whose drop failed (a later UNUSED hint tries
 * again, instead of taking them for dropped), or whose state must not
 * outlive the request.
 */
static void forget_runs(struct vmhint_region *r, const struct discard_run *runs, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		pagestate_set_stable(&r->state, runs[i].first, runs[i].n, NULL);
}

/* Sticky state (the guest sends STABLE before reuse): mark, then drop or defer. */
static int unused_small_sticky(struct vmhint_ctx *ctx, struct vmhint_region *r,
			       const struct discard_run *runs, size_t nr, uint64_t *changed)
{
	bool lazy = atomic_load(&ctx->mode) == VMHINT_MODE_LAZY;
	struct run_list fresh = { 0 };
	int err = fresh_runs(r, runs, nr, &fresh);

	for (size_t i = 0; !err && i < fresh.n; i++)
		*changed += pagestate_set_unused(&r->state, fresh.v[i].first, fresh.v[i].n, lazy);
	if (!err && lazy) {
		atomic_fetch_add(&ctx->pending_bytes, *changed * VMHINT_PAGE_SIZE);
	} else if (!err) {
		err = discard_runs(ctx, r, fresh.v, fresh.n, DISCARD_NOW);
		if (err)
			forget_runs(r, fresh.v, fresh.n);
	}
	free(fresh.v);
	return err;
}

/* Small-page backings: the hinted runs are the drop runs. */
static int unused_small(struct vmhint_ctx *ctx, struct vmhint_region *r,
			const struct discard_run *runs, size_t nr, uint64_t pages,
			uint64_t *changed)
{
	bool lazy = atomic_load(&ctx->mode) == VMHINT_MODE_LAZY;

	if (ctx_guest_sends_stable(ctx))
		return unused_small_sticky(ctx, r, runs, nr, changed);
	/* No state outlives the request: every page goes through UNUSED. */
	*changed = pages;
	if (lazy && discard_has_lazy(r))
		return discard_runs(ctx, r, runs, nr, DISCARD_LAZY);
	if (lazy)
		count_inc(ctx, lazy_fallbacks);
	return discard_runs(ctx, r, runs, nr, DISCARD_NOW);
}

/*
 * Huge pages complete in this request: whole huge pages all of whose 4 KiB
 * parts are now unused, and that were not all unused before.
 */
static int collect_completed(struct vmhint_region *r, const struct discard_run *runs, size_t nr,
			     const uint8_t *full_before, uint64_t base, struct run_list *done)
{
	uint64_t pph = r->state.pages_per_huge;
	int err = 0;

	for (size_t i = 0; i < nr && !err; i++) {
		uint64_t h = runs[i].first / pph, last = (runs[i].first + runs[i].n - 1) / pph;

		for (; h <= last && !err; h++)
			if (!full_before[h - base] && pagestate_huge_all_unused(&r->state, h) &&
			    !(done->n && done->v[done->n - 1].first + done->v[done->n - 1].n > h * pph))
				err = run_list_append(done, h * pph, pph);
	}
	return err;
}

/*
 * Huge-page backings: mark the 4 KiB parts, then drop (or mark PENDING) the
 * huge pages this request completed.
 */
static int unused_huge(struct vmhint_ctx *ctx, struct vmhint_region *r,
		       const struct discard_run *runs, size_t nr, uint64_t pages,
		       uint64_t *changed)
{
	uint64_t pph = r->state.pages_per_huge;
	uint64_t base = runs[0].first / pph;
	uint64_t span = (runs[nr - 1].first + runs[nr - 1].n - 1) / pph - base + 1;
	bool sticky = ctx_guest_sends_stable(ctx);
	bool lazy = atomic_load(&ctx->mode) == VMHINT_MODE_LAZY;
	struct run_list done = { 0 };
	uint8_t *full_before;
	int err;

	full_before = calloc(span, 1);
	if (!full_before)
		return -ENOMEM;
	for (uint64_t h = 0; h < span; h++)
		full_before[h] = pagestate_huge_all_unused(&r->state, base + h);
	for (size_t i = 0; i < nr; i++)
		*changed += pagestate_set_unused(&r->state, runs[i].first, runs[i].n, false);
	if (!sticky)
		*changed = pages;
	err = collect_completed(r, runs, nr, full_before, base, &done);
	free(full_before);

	if (!err && sticky && lazy) {
		for (size_t i = 0; i < done.n; i++)
			pagestate_set_unused(&r->state, done.v[i].first, done.v[i].n, true);
	} else if (!err && done.n) {
		if (lazy)
			count_inc(ctx, lazy_fallbacks);
		err = discard_runs(ctx, r, done.v, done.n, DISCARD_NOW);
		/* Not dropped: not complete either, so a later hint completes
		 * and drops them again. */
		if (err && sticky)
			forget_runs(r, done.v, done.n);
	}
	for (size_t i = 0; !err && i < done.n; i++) {
		count_add(ctx, huge_pages_completed, done.v[i].n / pph);
		if (sticky && lazy)
			atomic_fetch_add(&ctx->pending_bytes, done.v[i].n * VMHINT_PAGE_SIZE);
	}
	if (!sticky) {
		forget_runs(r, runs, nr);
		forget_runs(r, done.v, done.n);
	}
	free(done.v);
	return err;
}

static int apply_unused(struct vmhint_ctx *ctx, struct vmhint_region *r,
			const struct discard_run *runs, size_t nr, uint64_t pages,
			uint64_t *changed)
{
	if (atomic_load(&ctx->inhibit_depth) > 0) {
		/* Acknowledged, nothing dropped: the pages stay STABLE. */
		count_add(ctx, inhibited_pages, pages);
		return 0;
	}
	if (region_is_huge(r))
		return unused_huge(ctx, r, runs, nr, pages, changed);
	return unused_small(ctx, r, runs, nr, pages, changed);
}

static void populate(struct vmhint_ctx *ctx, struct vmhint_region *r,
		     const struct discard_run *runs, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		uint64_t len = runs[i].n * VMHINT_PAGE_SIZE;

		/* Best effort: a failure only means the guest faults later. */
		if (!sys_madvise(r->hva + runs[i].first * VMHINT_PAGE_SIZE, len,
				 MADV_POPULATE_WRITE))
			count_add(ctx, populated_bytes, len);
	}
}

static int apply_stable(struct vmhint_ctx *ctx, struct vmhint_region *r,
			const struct discard_run *runs, size_t nr, uint64_t *changed)
{
	uint64_t cancelled;

	for (size_t i = 0; i < nr; i++) {
		*changed += pagestate_set_stable(&r->state, runs[i].first, runs[i].n, &cancelled);
		if (cancelled) {
			count_add(ctx, pending_cancelled, cancelled);
			atomic_fetch_sub(&ctx->pending_bytes, cancelled * VMHINT_PAGE_SIZE);
		}
	}
	if (atomic_load(&ctx->flags) & VMHINT_CTX_POPULATE_ON_STABLE)
		populate(ctx, r, runs, nr);
	return 0;
}

/*
 * Apply @op to the coalesced targets, one region (and one lock) at a time.
 * *@changed receives the pages whose state changed.
 */
static int apply_targets(struct vmhint_ctx *ctx, uint16_t op, const struct target *t,
			 uint32_t nr, struct discard_run *runs, uint64_t *changed)
{
	int err = 0;

	for (uint32_t i = 0; i < nr;) {
		struct vmhint_region *r = t[i].r;
		uint64_t pages = 0, region_changed = 0;
		size_t n = 0;
		int e;

		for (; i < nr && t[i].r == r; i++) {
			runs[n++] = t[i].run;
			pages += t[i].run.n;
		}
		pthread_mutex_lock(&r->lock);
		if (op == VMHINT_OP_UNUSED)
			e = apply_unused(ctx, r, runs, n, pages, &region_changed);
		else
			e = apply_stable(ctx, r, runs, n, &region_changed);
		pthread_mutex_unlock(&r->lock);
		*changed += region_changed;
		if (e && !err)
			err = e;
	}
	return err;
}

static void count_applied(struct vmhint_ctx *ctx, uint16_t op, uint64_t pages, uint64_t t0)
{
	if (op == VMHINT_OP_UNUSED) {
		count_inc(ctx, requests_unused);
		count_add(ctx, pages_unused, pages);
	} else {
		count_inc(ctx, requests_stable);
		count_add(ctx, pages_stable, pages);
	}
	stats_record_latency(ctx, vh_now_ns() - t0);
}

/* Check every range; fill @t. Caller holds regions_lock. */
static int check_all(struct vmhint_ctx *ctx, const struct vmhint_range *ranges, uint32_t nr,
		     struct target *t)
{
	for (uint32_t i = 0; i < nr; i++) {
		int status = check_range(ctx, &ranges[i], &t[i]);

		if (status != VMHINT_WIRE_OK)
			return status;
	}
	return VMHINT_WIRE_OK;
}

int hint_apply(struct vmhint_ctx *ctx, uint16_t op, const struct vmhint_range *ranges,
	       uint32_t nr, uint64_t *changed)
{
	uint64_t t0 = vh_now_ns(), pages = 0, changed_pages = 0;
	struct discard_run *runs;
	struct target *t;
	int status;

	if (op != VMHINT_OP_UNUSED && op != VMHINT_OP_STABLE)
		status = VMHINT_WIRE_ERR_OP;
	else if (nr == 0)
		status = VMHINT_WIRE_ERR_NO_RANGES;
	else if (nr > ctx->max_ranges)
		status = VMHINT_WIRE_ERR_TOO_MANY;
	else
		status = VMHINT_WIRE_OK;
	if (status != VMHINT_WIRE_OK) {
		hint_count_reject(ctx, status);
		return status;
	}
	t = malloc(nr * (sizeof(*t) + sizeof(*runs)));
	if (!t) {
		hint_count_reject(ctx, VMHINT_WIRE_ERR_IO);
		return VMHINT_WIRE_ERR_IO;
	}
	runs = (struct discard_run *)(t + nr);

	pthread_rwlock_rdlock(&ctx->regions_lock);
	status = check_all(ctx, ranges, nr, t);
	if (status == VMHINT_WIRE_OK) {
		nr = coalesce(t, nr);
		for (uint32_t i = 0; i < nr; i++)
			pages += t[i].run.n;
		if (apply_targets(ctx, op, t, nr, runs, &changed_pages))
			status = VMHINT_WIRE_ERR_IO;
		if (atomic_load(&ctx->pending_bytes) >= ctx->lazy_max_pending)
			hint_flush_locked(ctx);
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	free(t);

	hint_count_reject(ctx, status);
	if (status == VMHINT_WIRE_OK || status == VMHINT_WIRE_ERR_IO)
		count_applied(ctx, op, pages, t0);
	if (changed)
		*changed = changed_pages * VMHINT_PAGE_SIZE;
	return status;
}

int64_t hint_flush_locked(struct vmhint_ctx *ctx)
{
	int64_t total = 0;
	int err = 0;

	count_inc(ctx, flushes);
	for (int i = 0; i < ctx->nr_regions; i++) {
		int64_t n = discard_flush_region(ctx, ctx->regions[i]);

		if (n < 0 && !err)
			err = (int)n;
		else if (n > 0)
			total += n;
	}
	return err ? err : total;
}

void hint_forget_states(struct vmhint_ctx *ctx)
{
	pthread_rwlock_rdlock(&ctx->regions_lock);
	hint_flush_locked(ctx);
	for (int i = 0; i < ctx->nr_regions; i++) {
		struct vmhint_region *r = ctx->regions[i];

		pthread_mutex_lock(&r->lock);
		pagestate_set_stable(&r->state, 0, r->state.nr_pages, NULL);
		pthread_mutex_unlock(&r->lock);
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
}

/* ---- public API ---- */

static int64_t status_to_errno(int status)
{
	switch (status) {
	case VMHINT_WIRE_OK:
		return 0;
	case VMHINT_WIRE_ERR_OUTSIDE:
	case VMHINT_WIRE_ERR_CROSS:
		return -EFAULT;
	case VMHINT_WIRE_ERR_TOO_MANY:
		return -E2BIG;
	case VMHINT_WIRE_ERR_IO:
		return -EIO;
	default:
		return -EINVAL;
	}
}

VMHINT_API int64_t vmhint_hint_ranges(struct vmhint_ctx *ctx, enum vmhint_op op,
				      const struct vmhint_range *ranges, uint32_t nr_ranges)
{
	uint64_t bytes = 0;
	int status;

	if (!ctx || (nr_ranges && !ranges))
		return -EINVAL;
	status = hint_apply(ctx, (uint16_t)op, ranges, nr_ranges, &bytes);
	return status == VMHINT_WIRE_OK ? (int64_t)bytes : status_to_errno(status);
}

VMHINT_API int64_t vmhint_hint(struct vmhint_ctx *ctx, enum vmhint_op op, uint64_t gpa,
			       uint64_t len)
{
	struct vmhint_range r = { .gpa = gpa, .len = len };

	return vmhint_hint_ranges(ctx, op, &r, 1);
}

VMHINT_API int vmhint_page_state(struct vmhint_ctx *ctx, uint64_t gpa)
{
	struct vmhint_region *r;
	int state = -EFAULT;

	if (!ctx)
		return -EINVAL;
	pthread_rwlock_rdlock(&ctx->regions_lock);
	r = region_lookup(ctx, gpa);
	if (r) {
		pthread_mutex_lock(&r->lock);
		state = pagestate_get(&r->state, (gpa - r->gpa) / VMHINT_PAGE_SIZE);
		pthread_mutex_unlock(&r->lock);
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	return state;
}

VMHINT_API int64_t vmhint_flush(struct vmhint_ctx *ctx)
{
	int64_t ret;

	if (!ctx)
		return -EINVAL;
	pthread_rwlock_rdlock(&ctx->regions_lock);
	ret = hint_flush_locked(ctx);
	pthread_rwlock_unlock(&ctx->regions_lock);
	return ret;
}
