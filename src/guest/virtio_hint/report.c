// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_hint - free page reporting: the kernel hands us batches of free
 * pages it has isolated from the buddy lists; we hint them UNUSED and
 * return only after the host is done, so no page is reused while the host
 * may still drop it.
 */
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/virtio.h>
#include "virtio_hint.h"

static bool report = true;
module_param(report, bool, 0444);
MODULE_PARM_DESC(report, "Register with free page reporting (default 1)");

static int report_order = -1;
module_param(report_order, int, 0444);
MODULE_PARM_DESC(report_order,
		 "Page reporting order; <= 0: max(host page_size, pageblock) (default -1)");

static int vh_report(struct page_reporting_dev_info *prdev,
		     struct scatterlist *sgl, unsigned int nents)
{
	struct vh_dev *vh = container_of(prdev, struct vh_dev, prdev);
	u64 t0 = ktime_get_ns(), wait0;
	struct scatterlist *sg;
	unsigned int i;
	int err = 0;

	mutex_lock(&vh->req_lock);
	wait0 = atomic64_read(&vh->ctr[VH_CTR_WAIT_NS + VH_SRC_REPORT]);
	vh_req_begin(vh, VMHINT_OP_UNUSED);
	for_each_sg(sgl, sg, nents, i) {
		u64 gpa = page_to_phys(sg_page(sg)) + sg->offset;

		/* A host may accept fewer ranges than one batch holds. */
		if (!vh_req_add(vh, gpa, sg->length)) {
			err = vh_req_send(vh, VH_SRC_REPORT);
			if (err)
				break;
			vh_req_add(vh, gpa, sg->length);
		}
	}
	if (!err)
		err = vh_req_send(vh, VH_SRC_REPORT);
	vh->nr = 0;
	/* Driver time only: the host's share is in report_wait_ns. */
	vh_count(vh, VH_CTR_WORK_NS + VH_SRC_REPORT,
		 ktime_get_ns() - t0 -
		 (atomic64_read(&vh->ctr[VH_CTR_WAIT_NS + VH_SRC_REPORT]) - wait0));
	mutex_unlock(&vh->req_lock);

	/*
	 * An error makes the core put the pages back unmarked and end this
	 * pass; they are offered again on the next one.
	 */
	return err;
}

/*
 * The host prefers hints at its backing page size (e.g. 2 MiB THP or
 * hugetlbfs pages): smaller hints cannot free anything there. The buddy
 * allocator cannot report above MAX_ORDER - 1 (4 MiB on x86), so a 1 GiB
 * backing gets 4 MiB reports that the host library aggregates.
 *
 * Below pageblock_order (2 MiB) we do not go, whatever the backing:
 * reporting single pages would cost a request per 128 KiB, and order 0
 * means "the default" to the core anyway. Debian's 6.1 takes the order from each
 * registration (later kernels keep page_reporting.page_reporting_order if
 * the admin set it).
 */
static unsigned int vh_pick_order(struct vh_dev *vh)
{
	unsigned int order;

	if (report_order > 0)
		return min_t(unsigned int, report_order, MAX_ORDER - 1);
	order = ilog2(vh->cfg_page_size);
	order = order > PAGE_SHIFT ? order - PAGE_SHIFT : 0;
	order = max_t(unsigned int, order, pageblock_order);
	return min_t(unsigned int, order, MAX_ORDER - 1);
}

void vh_report_start(struct vh_dev *vh)
{
	int err;

	if (!report)
		return;
	vh->report_order = vh_pick_order(vh);
	vh->prdev.report = vh_report;
	vh->prdev.order = vh->report_order;
	err = page_reporting_register(&vh->prdev);
	if (err) {
		/* -EBUSY: another driver (virtio_balloon) reports already. */
		dev_info(&vh->vdev->dev,
			 "free page reporting unavailable (%d); active mode still works\n",
			 err);
		return;
	}
	vh->reporting = true;
}

void vh_report_stop(struct vh_dev *vh)
{
	/* Waits for a report callback in progress to return. */
	if (vh->reporting)
		page_reporting_unregister(&vh->prdev);
	vh->reporting = false;
}
