// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * move.c - the move engine: moves the backing pages of guest RAM to
 * other host nodes, one batch (one move_pages(2) call) at a time.
 *
 * Per batch:
 *   1. ask the kernel where each page is (move_pages without targets):
 *      pages already on their target and pages without a frame cost nothing;
 *   2. under the region's lock, drop instead of copy the pages the guest
 *      does not use (discard engine), so their frames never cross nodes;
 *   3. move the rest, each page to the target its current node maps to;
 *   4. retry pages the kernel found busy, a bounded number of times; every
 *      other failure is final and counted under its name.
 * Between batches: the rate cap (sleep), the batch time budget (resize),
 * progress and cancellation. The rate cap sleeps with no lock held; the
 * back-off between busy retries (under 2 ms in all) keeps the registry's
 * read lock, so a region cannot go away between a page's tries.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <numaif.h>
#include <stdlib.h>
#include <string.h>

#include "core/discard.h"
#include "numa/numa-engine.h"
#include "sys/sysdep.h"
#include "util/struct.h"

/* A status the kernel never writes: the page was not reached. */
#define STATUS_UNSET INT_MIN

/* Work arrays, sized for the largest batch of the call. */
struct move_buf {
	uint32_t cap;
	void **addr;            /* every page of the batch */
	int *cur;               /* its node before the move, or -errno */
	uint8_t *dropped;
	struct discard_run *runs;
	void **maddr;           /* the pages to move, compacted */
	int *mnode;             /* their targets */
	int *mstatus;           /* what move_pages said */
	int *mcur;              /* where a query found them afterwards */
	uint32_t *midx;         /* their index in the batch */
};

struct move_job {
	struct vmhint_ctx *ctx;
	const struct vmhint_numa_move_opts *o;
	const struct numa_target *t;
	struct vmhint_numa_result *res;
	struct move_buf b;
	int mpol_flags;
	uint32_t batch;         /* current batch, 4 KiB pages */
	uint32_t batch_max;
	uint32_t max_retries;
	uint64_t range_gpa;     /* start of the caller's range: outcomes[0] */
	uint64_t t0;            /* start of the call, for the rate cap */
};

static int buf_alloc(struct move_buf *b, uint32_t cap)
{
	b->cap = cap;
	b->addr = calloc(cap, sizeof(*b->addr));
	b->cur = calloc(cap, sizeof(*b->cur));
	b->dropped = calloc(cap, sizeof(*b->dropped));
	b->runs = calloc(cap, sizeof(*b->runs));
	b->maddr = calloc(cap, sizeof(*b->maddr));
	b->mnode = calloc(cap, sizeof(*b->mnode));
	b->mstatus = calloc(cap, sizeof(*b->mstatus));
	b->mcur = calloc(cap, sizeof(*b->mcur));
	b->midx = calloc(cap, sizeof(*b->midx));
	if (b->addr && b->cur && b->dropped && b->runs && b->maddr && b->mnode &&
	    b->mstatus && b->mcur && b->midx)
		return 0;
	return -ENOMEM;
}

static void buf_free(struct move_buf *b)
{
	free(b->addr);
	free(b->cur);
	free(b->dropped);
	free(b->runs);
	free(b->maddr);
	free(b->mnode);
	free(b->mstatus);
	free(b->mcur);
	free(b->midx);
}

/* The name of a per-page error of move_pages(2). */
static enum vmhint_numa_outcome outcome_of(int status)
{
	switch (status) {
	case -ENOENT:
	case -EFAULT:   /* the zero page, or nothing mapped */
		return VMHINT_NUMA_NOT_PRESENT;
	case -EACCES:   /* mapcount > 1 without MPOL_MF_MOVE_ALL */
		return VMHINT_NUMA_SHARED;
	case -EBUSY:
	case -EAGAIN:
		return VMHINT_NUMA_BUSY;
	case -ENOMEM:
		return VMHINT_NUMA_NO_MEMORY;
	case -EIO:
		return VMHINT_NUMA_IO;
	case -EINVAL:
		return VMHINT_NUMA_UNMOVABLE;
	default:
		return VMHINT_NUMA_OTHER;
	}
}

/* Count @n 4 KiB pages starting at @gpa under @o. */
static void record(struct move_job *j, uint64_t gpa, uint64_t n, enum vmhint_numa_outcome o)
{
	j->res->pages[o] += n;
	if (o == VMHINT_NUMA_MOVED)
		j->res->bytes_moved += n * VMHINT_PAGE_SIZE;
	if (j->o->outcomes)
		memset(j->o->outcomes + (gpa - j->range_gpa) / VMHINT_PAGE_SIZE, o, n);
}

static int target_of(const struct numa_target *t, int cur, uint64_t unit_idx)
{
	int m = cur < VMHINT_NUMA_MAX_NODES ? t->map[cur] : t->beyond;

	if (m == NUMA_SPREAD)
		m = t->spread[unit_idx % (uint64_t)t->nr_spread];
	return m;
}

/*
 * May the frames of these 4 KiB pages go instead of being copied? PENDING
 * pages always (the guest sends STABLE before reusing them); UNUSED pages
 * only if the guest promised STABLE hints, since otherwise it may have
 * written them again since its hint.
 */
static bool unit_droppable(const struct pagestate *ps, uint64_t first, uint64_t n,
			   bool trust_unused, uint64_t *pending)
{
	uint64_t p = 0;

	for (uint64_t i = first; i < first + n; i++) {
		int st = pagestate_get(ps, i);

		if (st == VMHINT_PAGE_STABLE || (st == VMHINT_PAGE_UNUSED && !trust_unused))
			return false;
		p += st == VMHINT_PAGE_PENDING;
	}
	*pending += p;
	return true;
}

/* Append pages [first, first + n) to the runs, joining a neighbour. */
static void runs_add(struct discard_run *runs, size_t *nr, uint64_t first, uint64_t n)
{
	if (*nr && runs[*nr - 1].first + runs[*nr - 1].n == first) {
		runs[*nr - 1].n += n;
		return;
	}
	runs[*nr].first = first;
	runs[(*nr)++].n = n;
}

/* Is unit @i of the batch present and bound for another node? */
static bool would_move(const struct move_job *j, uint32_t i, uint64_t gpa, uint64_t unit)
{
	int cur = j->b.cur[i], tgt;

	if (cur < 0)
		return false;
	tgt = target_of(j->t, cur, gpa / unit);
	return tgt != NUMA_STAY && tgt != cur;
}

/*
 * Step 2: drop the present pages of the batch that the guest does not use.
 * @gpa: the batch's first page. If the kernel refuses a drop,
 * the pages are moved instead: copying is always safe.
 */
static void drop_unused(struct move_job *j, struct vmhint_region *r, uint64_t gpa,
			uint32_t units, uint64_t ppu)
{
	uint64_t first = (gpa - r->gpa) / VMHINT_PAGE_SIZE, unit = ppu * VMHINT_PAGE_SIZE;
	struct vmhint_ctx *ctx = j->ctx;
	bool trust = ctx_guest_sends_stable(ctx);
	uint64_t pending = 0;
	size_t nr = 0;
	uint32_t i;

	memset(j->b.dropped, 0, units);
	if ((j->o->flags & VMHINT_NUMA_NO_DROP) || atomic_load(&ctx->inhibit_depth) > 0)
		return;
	pthread_mutex_lock(&r->lock);
	if (!r->state.nr_unused)
		goto out;
	for (i = 0; i < units; i++) {
		if (!would_move(j, i, gpa + i * unit, unit) ||
		    !unit_droppable(&r->state, first + i * ppu, ppu, trust, &pending))
			continue;
		j->b.dropped[i] = 1;
		runs_add(j->b.runs, &nr, first + i * ppu, ppu);
	}
	if (!nr)
		goto out;
	if (discard_runs(ctx, r, j->b.runs, nr, DISCARD_NOW)) {
		memset(j->b.dropped, 0, units);
		goto out;
	}
	for (size_t k = 0; k < nr; k++)
		pagestate_clear_pending(&r->state, j->b.runs[k].first, j->b.runs[k].n);
	atomic_fetch_sub(&ctx->pending_bytes, pending * VMHINT_PAGE_SIZE);
out:
	pthread_mutex_unlock(&r->lock);
}

/* Step 3 input: the pages that must move, and the outcome of the others. */
static uint32_t build_moves(struct move_job *j, uint64_t gpa, uint32_t units,
			    uint64_t unit_size)
{
	uint64_t ppu = unit_size / VMHINT_PAGE_SIZE;
	uint32_t i, k = 0;

	for (i = 0; i < units; i++) {
		uint64_t g = gpa + i * unit_size;
		int cur = j->b.cur[i], tgt;

		if (j->b.dropped[i]) {
			record(j, g, ppu, VMHINT_NUMA_DROPPED);
			continue;
		}
		if (cur < 0) {
			record(j, g, ppu, outcome_of(cur));
			continue;
		}
		tgt = target_of(j->t, cur, g / unit_size);
		if (tgt == NUMA_STAY) {
			record(j, g, ppu, VMHINT_NUMA_NOT_SELECTED);
		} else if (tgt == cur) {
			record(j, g, ppu, VMHINT_NUMA_ALREADY);
		} else {
			j->b.maddr[k] = j->b.addr[i];
			j->b.mnode[k] = tgt;
			j->b.midx[k++] = i;
		}
	}
	return k;
}

/*
 * Where did the pages of one move_pages(2) call end up? When the kernel
 * gives up on some pages it returns their number and leaves the status of
 * the rest of that call unwritten, and a written target node is no proof
 * either: ask again. A busy page may also have moved after all: the 4 KiB
 * parts of a transparent huge page report -EBUSY once its head is taken,
 * and move with it. Fills mcur[]; returns 0 or -errno.
 */
static int verify_moves(struct move_job *j, uint32_t k, long ret)
{
	uint32_t i;
	bool need = ret > 0;

	for (i = 0; i < k && !need; i++)
		need = j->b.mstatus[i] == STATUS_UNSET ||
		       outcome_of(j->b.mstatus[i]) == VMHINT_NUMA_BUSY;
	if (!need) {
		memcpy(j->b.mcur, j->b.mstatus, k * sizeof(int));
		return 0;
	}
	ret = sys_move_pages(k, j->b.maddr, NULL, j->b.mcur, 0);
	return ret < 0 ? (int)ret : 0;
}

/* Keep entry @from as retry candidate number @to. */
static void keep_for_retry(struct move_buf *b, uint32_t from, uint32_t to)
{
	b->maddr[to] = b->maddr[from];
	b->mnode[to] = b->mnode[from];
	b->midx[to] = b->midx[from];
}

/*
 * Sort the outcome of one move_pages(2) call: final ones are recorded,
 * busy ones are compacted to the front. Returns how many are busy.
 */
static uint32_t settle_moves(struct move_job *j, uint32_t k, uint64_t gpa, uint64_t unit_size)
{
	uint64_t ppu = unit_size / VMHINT_PAGE_SIZE;
	uint32_t i, busy = 0;

	for (i = 0; i < k; i++) {
		int st = j->b.mstatus[i], now = j->b.mcur[i];
		uint64_t g = gpa + j->b.midx[i] * unit_size;

		if (st < 0 && st != STATUS_UNSET && outcome_of(st) != VMHINT_NUMA_BUSY)
			record(j, g, ppu, outcome_of(st));
		else if (now == j->b.mnode[i])
			record(j, g, ppu, VMHINT_NUMA_MOVED);
		else if (now < 0 && outcome_of(now) != VMHINT_NUMA_BUSY)
			record(j, g, ppu, outcome_of(now)); /* dropped meanwhile */
		else
			keep_for_retry(&j->b, i, busy++);
	}
	return busy;
}

/* Step 3 and 4: move, then retry what was busy a bounded number of times. */
static int move_with_retries(struct move_job *j, uint32_t k, uint64_t gpa, uint64_t unit_size)
{
	uint64_t ppu = unit_size / VMHINT_PAGE_SIZE;
	uint32_t attempt = 0, i;

	while (k) {
		long ret;
		int err;

		for (i = 0; i < k; i++)
			j->b.mstatus[i] = STATUS_UNSET;
		ret = sys_move_pages(k, j->b.maddr, j->b.mnode, j->b.mstatus, j->mpol_flags);
		if (ret < 0)
			return (int)ret;
		err = verify_moves(j, k, ret);
		if (err)
			return err;
		k = settle_moves(j, k, gpa, unit_size);
		if (!k)
			break;
		if (attempt++ == j->max_retries) {
			for (i = 0; i < k; i++)
				record(j, gpa + j->b.midx[i] * unit_size, ppu, VMHINT_NUMA_BUSY);
			break;
		}
		j->res->retries += k * ppu;
		/* Busy means locked or under writeback: give it a moment. */
		vh_sleep_ns(100000ull << attempt);
	}
	return 0;
}

/*
 * One batch at @gpa, at most @left bytes. Returns the bytes handled, or
 * -errno. The region may have gone since the last batch: look it up again.
 */
static int64_t move_batch(struct move_job *j, uint64_t gpa, uint64_t left)
{
	struct vmhint_region *r;
	uint64_t unit, ppu;
	uint32_t units, i, k;
	uint8_t *hva;
	long ret;
	int err;

	pthread_rwlock_rdlock(&j->ctx->regions_lock);
	err = numa_check_range(j->ctx, gpa, left, &r);
	if (err) {
		err = -ENOENT;
		goto out;
	}
	unit = r->page_size;
	ppu = unit / VMHINT_PAGE_SIZE;
	units = (j->batch / ppu) ? (uint32_t)(j->batch / ppu) : 1;
	if (units > left / unit)
		units = (uint32_t)(left / unit);
	hva = r->hva + (gpa - r->gpa);
	for (i = 0; i < units; i++)
		j->b.addr[i] = hva + i * unit;

	ret = sys_move_pages(units, j->b.addr, NULL, j->b.cur, 0);
	if (ret < 0) {
		err = (int)ret;
		goto out;
	}
	drop_unused(j, r, gpa, units, ppu);
	k = build_moves(j, gpa, units, unit);
	err = move_with_retries(j, k, gpa, unit);
out:
	pthread_rwlock_unlock(&j->ctx->regions_lock);
	return err ? err : (int64_t)(units * unit);
}

/* Keep a batch under its time budget: halve when over, grow when well under. */
static void adapt_batch(struct move_job *j, uint64_t ns)
{
	uint64_t budget = (uint64_t)j->o->batch_budget_us * 1000;

	if (ns > j->res->max_batch_ns)
		j->res->max_batch_ns = ns;
	if (!budget)
		return;
	if (ns > budget) {
		j->res->batches_over_budget++;
		j->batch = j->batch / 2 > NUMA_BATCH_MIN ? j->batch / 2 : NUMA_BATCH_MIN;
	} else if (ns < budget / 4 && j->batch < j->batch_max) {
		j->batch = j->batch * 2 < j->batch_max ? j->batch * 2 : j->batch_max;
	}
}

/* Sleep as long as the bytes copied so far are ahead of the rate cap. */
static void throttle(struct move_job *j)
{
	uint64_t cap = j->o->max_bytes_per_sec, elapsed, want;

	if (!cap)
		return;
	want = (uint64_t)((double)j->res->bytes_moved * 1e9 / (double)cap);
	elapsed = vh_now_ns() - j->t0;
	if (want <= elapsed)
		return;
	vh_sleep_ns(want - elapsed);
	j->res->throttle_ns += want - elapsed;
}

static int job_init(struct move_job *j, struct vmhint_ctx *ctx,
		    const struct vmhint_numa_move_opts *o, const struct numa_target *t,
		    struct vmhint_numa_result *res)
{
	memset(j, 0, sizeof(*j));
	j->ctx = ctx;
	j->o = o;
	j->t = t;
	j->res = res;
	j->mpol_flags = (o->flags & VMHINT_NUMA_MOVE_ALL) ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE;
	j->batch_max = o->batch_pages ? o->batch_pages : NUMA_BATCH_DEFAULT;
	/* With a time budget, start small: the first batch is not measured yet. */
	j->batch = o->batch_budget_us && j->batch_max > 64 ? 64 : j->batch_max;
	j->max_retries = o->max_retries ? o->max_retries : NUMA_RETRIES_DEFAULT;
	return buf_alloc(&j->b, j->batch_max);
}

int numa_move_range(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len,
		    const struct vmhint_numa_move_opts *opts, const struct numa_target *t,
		    struct vmhint_numa_result *res, const struct numa_progress *p)
{
	struct move_job j;
	uint64_t pos = 0;
	int err = job_init(&j, ctx, opts, t, res);

	j.range_gpa = gpa;
	j.t0 = p->t0;
	while (!err && pos < len) {
		uint64_t start = vh_now_ns();
		int64_t n = move_batch(&j, gpa + pos, len - pos);

		if (n < 0) {
			err = (int)n;
			break;
		}
		pos += (uint64_t)n;
		res->batches++;
		adapt_batch(&j, vh_now_ns() - start);
		throttle(&j);
		if (opts->progress &&
		    opts->progress(opts->progress_opaque,
				   p->base + pos / VMHINT_PAGE_SIZE, p->total))
			err = -ECANCELED;
	}
	if (err && err != -ECANCELED)
		log_warn(ctx, "numa: move of gpa 0x%llx+0x%llx stopped at 0x%llx: %d",
			 (unsigned long long)gpa, (unsigned long long)len,
			 (unsigned long long)(gpa + pos), err);
	buf_free(&j.b);
	return err;
}

/*
 * Copy the caller's move options (NULL: the defaults) into @o by the size
 * rule, and check every option but the nodes.
 */
int numa_take_move_opts(struct vmhint_numa_move_opts *o,
			const struct vmhint_numa_move_opts *caller)
{
	int err;

	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	err = vh_struct_in(o, sizeof(*o), caller);
	if (err)
		return err;
	if (o->_pad0)
		return -EINVAL;
	if (o->flags & ~(VMHINT_NUMA_MOVE_ALL | VMHINT_NUMA_NO_DROP))
		return -EINVAL;
	if (o->batch_pages > NUMA_BATCH_MAX || o->nr_map > VMHINT_NUMA_MAX_NODES)
		return -EINVAL;
	if (o->nr_map && (!o->map_from || !o->map_to))
		return -EINVAL;
	/* The kernel would say -EPERM page by page; say it once, up front. */
	if ((o->flags & VMHINT_NUMA_MOVE_ALL) && !sys_has_cap_sys_nice())
		return -EPERM;
	return 0;
}

/* The target of every source node, from target_node or the node map. */
static int build_target(const struct vmhint_numa_move_opts *o, struct numa_target *t)
{
	uint64_t allowed, seen = 0;
	int err = sys_mems_allowed(&allowed);
	uint32_t i;

	if (err)
		return err;
	if (!o->nr_map) {
		err = numa_check_target_node(o->target_node, allowed);
		for (i = 0; i < VMHINT_NUMA_MAX_NODES; i++)
			t->map[i] = o->target_node;
		t->beyond = o->target_node;
		return err;
	}
	for (i = 0; i < VMHINT_NUMA_MAX_NODES; i++)
		t->map[i] = NUMA_STAY;
	t->beyond = NUMA_STAY;
	for (i = 0; i < o->nr_map; i++) {
		int from = o->map_from[i];

		if (from < 0 || from >= VMHINT_NUMA_MAX_NODES || (seen & (1ULL << from)))
			return -EINVAL;
		err = numa_check_target_node(o->map_to[i], allowed);
		if (err)
			return err;
		seen |= 1ULL << from;
		t->map[from] = o->map_to[i];
	}
	return 0;
}

/* End of every move call: time, counters, the caller's copy, the result. */
int64_t numa_move_finish(struct vmhint_ctx *ctx, int err, struct vmhint_numa_result *res,
			 const struct numa_progress *p, struct vmhint_numa_result *out)
{
	res->time_ns = vh_now_ns() - p->t0;
	res->pages_total = 0;
	for (int i = 0; i < VMHINT_NUMA_NR_OUTCOMES; i++)
		res->pages_total += res->pages[i];
	numa_result_account(ctx, res, err == -ECANCELED);
	numa_result_copy(out, res);
	if (err)
		return err;
	return (int64_t)(res->pages[VMHINT_NUMA_MOVED] + res->pages[VMHINT_NUMA_ALREADY]);
}

/* The refusals an operator may not guess from the error code alone. */
static int log_refusal(struct vmhint_ctx *ctx, int err)
{
	if (err == -EPERM)
		log_warn(ctx, "numa: moving pages shared with other processes (MOVE_ALL) "
			 "needs CAP_SYS_NICE");
	else if (err == -ENODEV)
		log_warn(ctx, "numa: target node without memory or outside our cpuset");
	return err;
}

/* Check a range before anything moves; bad input fails the call at once. */
static int check_range_now(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len)
{
	struct vmhint_region *r;
	int err;

	pthread_rwlock_rdlock(&ctx->regions_lock);
	err = numa_check_range(ctx, gpa, len, &r);
	pthread_rwlock_unlock(&ctx->regions_lock);
	return err;
}

static int check_result(const struct vmhint_numa_result *out)
{
	return out && vh_struct_out_ok(out) ? -EINVAL : 0;
}

VMHINT_API int64_t vmhint_numa_move(struct vmhint_ctx *ctx, uint64_t gpa, uint64_t len,
				    const struct vmhint_numa_move_opts *caller_opts,
				    struct vmhint_numa_result *result)
{
	struct vmhint_numa_move_opts o, *opts = &o;
	struct numa_progress p = { .t0 = vh_now_ns(), .total = len / VMHINT_PAGE_SIZE };
	struct vmhint_numa_result res;
	struct numa_target t;
	int err;

	if (!ctx || !caller_opts)	/* a move needs a target */
		return -EINVAL;
	err = numa_take_move_opts(opts, caller_opts);
	if (!err)
		err = check_result(result);
	if (!err)
		err = build_target(opts, &t);
	if (!err)
		err = check_range_now(ctx, gpa, len);
	if (err)
		return log_refusal(ctx, err);
	numa_result_init(&res);
	err = numa_move_range(ctx, gpa, len, opts, &t, &res, &p);
	return numa_move_finish(ctx, err, &res, &p, result);
}

VMHINT_API int64_t vmhint_numa_move_region(struct vmhint_ctx *ctx, struct vmhint_region *region,
					   const struct vmhint_numa_move_opts *opts,
					   struct vmhint_numa_result *result)
{
	uint64_t gpa, len;
	int err = numa_region_span(ctx, region, &gpa, &len);

	return err ? err : vmhint_numa_move(ctx, gpa, len, opts, result);
}

/* The spans of all regions now; moves then go region by region. */
static int snapshot_spans(struct vmhint_ctx *ctx, struct vmhint_range **out, int *nr,
			  uint64_t *total)
{
	struct vmhint_range *v;
	int i;

	pthread_rwlock_rdlock(&ctx->regions_lock);
	*nr = ctx->nr_regions;
	v = calloc(*nr ? (size_t)*nr : 1, sizeof(*v));
	for (i = 0; v && i < *nr; i++) {
		v[i].gpa = ctx->regions[i]->gpa;
		v[i].len = ctx->regions[i]->len;
		*total += v[i].len / VMHINT_PAGE_SIZE;
	}
	pthread_rwlock_unlock(&ctx->regions_lock);
	*out = v;
	return v ? 0 : -ENOMEM;
}

VMHINT_API int64_t vmhint_numa_move_all(struct vmhint_ctx *ctx,
					const struct vmhint_numa_move_opts *caller_opts,
					struct vmhint_numa_result *result)
{
	struct vmhint_numa_move_opts o, *opts = &o;
	struct numa_progress p = { .t0 = vh_now_ns() };
	struct vmhint_numa_result res;
	struct vmhint_range *spans = NULL;
	struct numa_target t;
	int i, nr = 0, err;

	if (!ctx || !caller_opts)
		return -EINVAL;
	err = numa_take_move_opts(opts, caller_opts);
	if (!err && opts->outcomes)
		err = -EINVAL;
	if (!err)
		err = check_result(result);
	if (!err)
		err = build_target(opts, &t);
	if (!err)
		err = snapshot_spans(ctx, &spans, &nr, &p.total);
	if (err)
		return log_refusal(ctx, err);
	numa_result_init(&res);
	for (i = 0; i < nr && !err; i++) {
		err = numa_move_range(ctx, spans[i].gpa, spans[i].len, opts, &t, &res, &p);
		p.base += spans[i].len / VMHINT_PAGE_SIZE;
	}
	free(spans);
	return numa_move_finish(ctx, err, &res, &p, result);
}
