// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_hint - active mode: return freed memory to the host within a
 * fraction of a second instead of the tens of seconds free page reporting
 * needs on its own (it waits 2 s between passes and takes about 1/16 of
 * each free list per pass).
 *
 * A worker polls the free page count (one global counter) every
 * interval_ms and starts a pass when it rose by threshold_mb, i.e. when
 * the guest freed a sizeable amount of memory, or when hint_now is
 * written. A pass works one of two ways:
 *
 * "report" (default while free page reporting is ours): run the page
 * reporting core's own pass now instead of in 2 s, and again right after
 * each pass that reported something, until one reports nothing. The core
 * isolates free pages without allocating them, skips pages it reported
 * before, and keeps the watermarks, so this takes no guest memory and
 * sends each page once. It relies on prdev->work, which the core's header
 * exposes in struct page_reporting_dev_info, being the pass.
 *
 * "alloc" (active_alloc=1, or when another driver owns page reporting):
 * take free pages out of the buddy allocator by allocating them, hint them
 * UNUSED in batches, and give them all back when the pass ends. They must
 * be held until then: a page freed early would be the first one the
 * allocator hands out again. The costs:
 *  - while a pass runs the memory it holds is not available to the guest.
 *    Allocations never reclaim, compact or wake kswapd, and never dip into
 *    reserves (no __GFP_RECLAIM, __GFP_NORETRY, __GFP_NOMEMALLOC); the pass
 *    stops above the zones' high watermarks plus reserve_mb; a shrinker
 *    gives back every page already hinted at once under memory pressure
 *    and ends the pass. Only the batch the host is working on (at most
 *    max_ranges pages) cannot be given back early;
 *  - with init_on_alloc=1 (Debian's default) the allocator zeroes every
 *    page it hands out: the host must fault the memory in before it can
 *    drop it again, and the guest spends CPU on zeroing. Boot the guest
 *    with init_on_alloc=0 to use this method;
 *  - each pass hints all free memory again, reported before or not.
 */
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/slab.h>
#include <linux/vmstat.h>
#include <linux/virtio.h>
#include "virtio_hint.h"

#define VH_ACTIVE_GFP ((GFP_HIGHUSER_MOVABLE & ~__GFP_RECLAIM) | \
		       __GFP_NORETRY | __GFP_NOWARN | __GFP_NOMEMALLOC)

static unsigned long vh_free_pages(void)
{
	return global_zone_page_state(NR_FREE_PAGES);
}

/* Free pages a pass must leave alone: high watermarks plus a margin. */
static unsigned long vh_reserve_pages(struct vh_active *a)
{
	unsigned long pages = 0;
	int nid, z;

	for_each_online_node(nid) {
		pg_data_t *pgdat = NODE_DATA(nid);

		for (z = 0; z < MAX_NR_ZONES; z++) {
			struct zone *zone = &pgdat->node_zones[z];

			if (managed_zone(zone))
				pages += high_wmark_pages(zone);
		}
	}
	return pages + ((unsigned long)READ_ONCE(a->reserve_mb) << (20 - PAGE_SHIFT));
}

/* Gives back every page the pass holds; returns how many (PAGE_SIZE). */
static unsigned long vh_active_release(struct vh_active *a)
{
	struct page *page, *next;
	unsigned long nr;
	LIST_HEAD(list);

	spin_lock(&a->lock);
	list_splice_init(&a->held, &list);
	nr = a->nr_held;
	a->nr_held = 0;
	spin_unlock(&a->lock);

	list_for_each_entry_safe(page, next, &list, lru) {
		list_del(&page->lru);
		__free_pages(page, a->order);
	}
	return nr;
}

static unsigned long vh_shrink_count(struct shrinker *s,
				     struct shrink_control *sc)
{
	struct vh_active *a = container_of(s, struct vh_active, shrinker);

	return READ_ONCE(a->nr_held);
}

static unsigned long vh_shrink_scan(struct shrinker *s,
				    struct shrink_control *sc)
{
	struct vh_active *a = container_of(s, struct vh_active, shrinker);
	struct vh_dev *vh = container_of(a, struct vh_dev, active);
	unsigned long nr;

	WRITE_ONCE(a->abort, true);
	nr = vh_active_release(a);
	if (nr) {
		vh_count(vh, VH_CTR_ACTIVE_ABORTS, 1);
		vh_count(vh, VH_CTR_ACTIVE_SHRUNK, nr);
	}
	return nr ? nr : SHRINK_STOP;
}

/* Takes up to one batch of free pages; returns how many it got. */
static unsigned int vh_active_grab(struct vh_dev *vh, unsigned long reserve)
{
	struct vh_active *a = &vh->active;
	unsigned int n = 0, batch = min(a->batch_max, vh->max_ranges);
	struct page *page;

	while (n < batch) {
		if (READ_ONCE(a->abort) || READ_ONCE(vh->dying))
			break;
		if (vh_free_pages() < reserve + (1UL << a->order))
			break;
		page = alloc_pages(VH_ACTIVE_GFP, a->order);
		if (!page)
			break;
		a->batch[n++] = page;
	}
	return n;
}

static int vh_active_hint(struct vh_dev *vh, unsigned int n)
{
	struct vh_active *a = &vh->active;
	u64 len = PAGE_SIZE << a->order;
	unsigned int i;
	int err = 0;

	mutex_lock(&vh->req_lock);
	vh_req_begin(vh, VMHINT_OP_UNUSED);
	for (i = 0; i < n && !err; i++) {
		u64 gpa = page_to_phys(a->batch[i]);

		if (!vh_req_add(vh, gpa, len)) {
			err = vh_req_send(vh, VH_SRC_ACTIVE);
			vh_req_add(vh, gpa, len);
		}
	}
	if (!err)
		err = vh_req_send(vh, VH_SRC_ACTIVE);
	vh->nr = 0;
	mutex_unlock(&vh->req_lock);
	return err;
}

static void vh_active_pass_alloc(struct vh_dev *vh)
{
	struct vh_active *a = &vh->active;
	unsigned long reserve = vh_reserve_pages(a), peak = 0;
	u64 t0 = ktime_get_ns(), wait0, bytes0, ns;
	unsigned int n, i;
	int err = 0;

	wait0 = atomic64_read(&vh->ctr[VH_CTR_WAIT_NS + VH_SRC_ACTIVE]);
	bytes0 = atomic64_read(&vh->ctr[VH_CTR_BYTES + VH_SRC_ACTIVE]);
	WRITE_ONCE(a->abort, false);

	while (!err && (n = vh_active_grab(vh, reserve)) > 0) {
		err = vh_active_hint(vh, n);
		/*
		 * The request is complete (or the device was reset), so the
		 * host no longer drops these pages: the shrinker may give
		 * them back from now on.
		 */
		spin_lock(&a->lock);
		for (i = 0; i < n; i++)
			list_add(&a->batch[i]->lru, &a->held);
		a->nr_held += (unsigned long)n << a->order;
		peak = max(peak, a->nr_held);
		spin_unlock(&a->lock);
		if (n < min(a->batch_max, vh->max_ranges))
			break;
		cond_resched();
	}
	vh_active_release(a);

	ns = ktime_get_ns() - t0;
	vh_count(vh, VH_CTR_ACTIVE_PASSES, 1);
	vh_count(vh, VH_CTR_WORK_NS + VH_SRC_ACTIVE,
		 ns - (atomic64_read(&vh->ctr[VH_CTR_WAIT_NS + VH_SRC_ACTIVE]) - wait0));
	atomic64_set(&vh->ctr[VH_CTR_ACTIVE_LAST_NS], ns);
	atomic64_set(&vh->ctr[VH_CTR_ACTIVE_LAST_BYTES],
		     atomic64_read(&vh->ctr[VH_CTR_BYTES + VH_SRC_ACTIVE]) - bytes0);
	if ((u64)peak << PAGE_SHIFT > atomic64_read(&vh->ctr[VH_CTR_ACTIVE_PEAK_HELD]))
		atomic64_set(&vh->ctr[VH_CTR_ACTIVE_PEAK_HELD], (u64)peak << PAGE_SHIFT);
}

/* Upper bound on back-to-back core passes, should memory keep coming. */
#define VH_REPORT_ROUNDS 64

static void vh_active_pass_report(struct vh_dev *vh)
{
	atomic64_t *bytes = &vh->ctr[VH_CTR_BYTES + VH_SRC_REPORT];
	atomic64_t *wait = &vh->ctr[VH_CTR_WAIT_NS + VH_SRC_REPORT];
	u64 t0 = ktime_get_ns(), bytes0 = atomic64_read(bytes);
	u64 wait0 = atomic64_read(wait), b, ns;
	unsigned int round;

	for (round = 0; round < VH_REPORT_ROUNDS; round++) {
		if (READ_ONCE(vh->dying))
			break;
		b = atomic64_read(bytes);
		/* Runs the core's pass now (and waits) instead of in 2 s. */
		mod_delayed_work(system_wq, &vh->prdev.work, 0);
		flush_delayed_work(&vh->prdev.work);
		vh_count(vh, VH_CTR_ACTIVE_ROUNDS, 1);
		if (atomic64_read(bytes) == b)
			break;
	}

	/* CPU of the core and of our callback; the host's time excluded. */
	ns = ktime_get_ns() - t0;
	vh_count(vh, VH_CTR_ACTIVE_PASSES, 1);
	vh_count(vh, VH_CTR_WORK_NS + VH_SRC_ACTIVE,
		 ns - (atomic64_read(wait) - wait0));
	atomic64_set(&vh->ctr[VH_CTR_ACTIVE_LAST_NS], ns);
	atomic64_set(&vh->ctr[VH_CTR_ACTIVE_LAST_BYTES],
		     atomic64_read(bytes) - bytes0);
}

static void vh_active_pass(struct vh_dev *vh)
{
	if (vh->active.use_alloc)
		vh_active_pass_alloc(vh);
	else
		vh_active_pass_report(vh);
}

/*
 * Starts a pass when the free page count rose by threshold_mb since its
 * lowest point after the last pass, or when asked to.
 */
static void vh_active_work(struct work_struct *work)
{
	struct vh_active *a = container_of(to_delayed_work(work),
					   struct vh_active, work);
	struct vh_dev *vh = container_of(a, struct vh_dev, active);
	unsigned long free = vh_free_pages();
	unsigned long threshold;
	bool enabled = READ_ONCE(a->enabled);

	threshold = (unsigned long)READ_ONCE(a->threshold_mb) << (20 - PAGE_SHIFT);
	if (atomic_xchg(&a->kick, 0) ||
	    (enabled && free > a->last_free + threshold)) {
		vh_active_pass(vh);
		a->last_free = vh_free_pages();
	} else if (free < a->last_free) {
		a->last_free = free;
	}

	if (READ_ONCE(a->enabled) && !READ_ONCE(vh->dying))
		queue_delayed_work(system_unbound_wq, &a->work,
				   msecs_to_jiffies(READ_ONCE(a->interval_ms)));
}

void vh_active_set(struct vh_dev *vh, bool on)
{
	WRITE_ONCE(vh->active.enabled, on);
	if (on)
		mod_delayed_work(system_unbound_wq, &vh->active.work, 0);
}

void vh_active_kick(struct vh_dev *vh)
{
	atomic_set(&vh->active.kick, 1);
	mod_delayed_work(system_unbound_wq, &vh->active.work, 0);
}

/*
 * Low orders cost a request per few pages and split the free lists, so
 * take at least pageblock_order (2 MiB) and the host's page size when it
 * is larger, up to what the buddy allocator has.
 */
static unsigned int vh_active_order(struct vh_dev *vh)
{
	unsigned int order = ilog2(vh->cfg_page_size);

	if (vh_param_active_order >= 0)
		return min_t(unsigned int, vh_param_active_order, MAX_ORDER - 1);
	order = order > PAGE_SHIFT ? order - PAGE_SHIFT : 0;
	order = max_t(unsigned int, order, pageblock_order);
	return min_t(unsigned int, order, MAX_ORDER - 1);
}

int vh_active_init(struct vh_dev *vh)
{
	struct vh_active *a = &vh->active;
	int err;

	INIT_DELAYED_WORK(&a->work, vh_active_work);
	spin_lock_init(&a->lock);
	INIT_LIST_HEAD(&a->held);
	a->order = vh_active_order(vh);
	a->interval_ms = max(vh_param_interval_ms, 10U);
	a->threshold_mb = vh_param_threshold_mb;
	a->reserve_mb = vh_param_reserve_mb;
	a->batch_max = clamp(vh_param_batch, 1U, VMHINT_WIRE_MAX_RANGES_LIMIT);
	a->batch = kcalloc(a->batch_max, sizeof(*a->batch), GFP_KERNEL);
	if (!a->batch)
		return -ENOMEM;

	a->shrinker.count_objects = vh_shrink_count;
	a->shrinker.scan_objects = vh_shrink_scan;
	a->shrinker.seeks = DEFAULT_SEEKS;
	err = register_shrinker(&a->shrinker, "virtio_hint-%s",
				dev_name(&vh->vdev->dev));
	if (err) {
		kfree(a->batch);
		a->batch = NULL;
		return err;
	}
	a->shrinker_on = true;
	return 0;
}

/* Called once free page reporting is registered, or known not to be. */
void vh_active_choose(struct vh_dev *vh)
{
	struct vh_active *a = &vh->active;

	a->use_alloc = vh_param_active_alloc || !vh->reporting;
	if (a->use_alloc && want_init_on_alloc(VH_ACTIVE_GFP))
		dev_warn(&vh->vdev->dev,
			 "active mode allocates pages and init_on_alloc zeroes them: boot with init_on_alloc=0\n");
}

void vh_active_stop(struct vh_dev *vh)
{
	struct vh_active *a = &vh->active;

	WRITE_ONCE(a->enabled, false);
	/* Also stops a work that re-queues itself; a pass ends early. */
	cancel_delayed_work_sync(&a->work);
	vh_active_release(a);
	if (a->shrinker_on)
		unregister_shrinker(&a->shrinker);
	a->shrinker_on = false;
	kfree(a->batch);
	a->batch = NULL;
}
