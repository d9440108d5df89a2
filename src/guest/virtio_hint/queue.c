// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_hint - building requests, putting them on the virtqueue and
 * checking what the host writes back.
 *
 * Only one request is in flight at a time. The host handles a request by
 * dropping frames, which costs far more than a ring round trip, so a deeper
 * queue would buy little; in exchange the buffers can be preallocated per
 * device and remove() has a single request to wait for.
 */
#include <linux/ktime.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <asm/unaligned.h>
#include "virtio_hint.h"

int vh_queue_init(struct vh_dev *vh)
{
	size_t len = sizeof(*vh->req) +
		     (size_t)vh->max_ranges * sizeof(*vh->ranges);

	mutex_init(&vh->req_lock);
	spin_lock_init(&vh->vq_lock);
	init_waitqueue_head(&vh->wq);

	/* kmalloc, not the stack or vmalloc: the device reads it by DMA. */
	vh->req = kzalloc(len, GFP_KERNEL);
	vh->resp = kzalloc(VH_RESP_BUF, GFP_KERNEL);
	if (!vh->req || !vh->resp) {
		vh_queue_free(vh);
		return -ENOMEM;
	}
	vh->ranges = (struct vmhint_wire_range *)(vh->req + 1);
	return 0;
}

void vh_queue_free(struct vh_dev *vh)
{
	kfree(vh->req);
	kfree(vh->resp);
	vh->req = NULL;
	vh->resp = NULL;
}

void vh_vq_done(struct virtqueue *vq)
{
	struct vh_dev *vh = vq->vdev->priv;
	unsigned long flags;
	unsigned int len;
	void *token;

	spin_lock_irqsave(&vh->vq_lock, flags);
	while ((token = virtqueue_get_buf(vq, &len))) {
		/*
		 * virtio_ring already rejects ids it never handed out, so a
		 * foreign token here would be our own bug; count it rather
		 * than trust it.
		 */
		if (token != vh->inflight) {
			vh_count(vh, VH_CTR_ERR_PROTO, 1);
			continue;
		}
		vh->used_len = len;
		vh->done = true;
		vh->inflight = NULL;
	}
	spin_unlock_irqrestore(&vh->vq_lock, flags);
	wake_up_all(&vh->wq);
}

static bool vh_xfer_over(struct vh_dev *vh)
{
	return READ_ONCE(vh->done) || READ_ONCE(vh->broken);
}

/**
 * vh_xfer() - put one request on the ring and wait until the host returns it.
 * @vh: the device
 * @out: driver-readable part (kmalloc memory: the device reads it by DMA)
 * @out_len: its length
 * @in_len: device-writable bytes of vh->resp to offer, 0..VH_RESP_BUF
 * @src: whose wait time to count
 *
 * The caller holds req_lock. Waits without a time limit: the free page
 * reporting contract forbids giving the pages back before the host is done
 * with them, and only a device reset (see vh_shutdown_queue()) ends that.
 *
 * Return: 0 when the host returned the buffer (vh->used_len and vh->resp
 * say what it wrote), or -ESHUTDOWN, -ENOSPC, -EIO.
 */
int vh_xfer(struct vh_dev *vh, void *out, size_t out_len, size_t in_len,
	    enum vh_src src)
{
	struct scatterlist sg_out, sg_in, *sgs[2];
	unsigned int nr_in = 0;
	bool notify, done;
	u64 t0;
	int err;

	lockdep_assert_held(&vh->req_lock);

	/* A pattern no valid response has, to spot unwritten bytes. */
	memset(vh->resp, 0xff, VH_RESP_BUF);
	sg_init_one(&sg_out, out, out_len);
	sgs[0] = &sg_out;
	if (in_len) {
		sg_init_one(&sg_in, vh->resp, min_t(size_t, in_len, VH_RESP_BUF));
		sgs[1] = &sg_in;
		nr_in = 1;
	}

	spin_lock_irq(&vh->vq_lock);
	if (vh->dying || vh->broken) {
		spin_unlock_irq(&vh->vq_lock);
		return -ESHUTDOWN;
	}
	err = virtqueue_add_sgs(vh->vq, sgs, 1, nr_in, out, GFP_ATOMIC);
	if (err) {
		spin_unlock_irq(&vh->vq_lock);
		vh_count(vh, VH_CTR_ERR_SUBMIT, 1);
		return err;
	}
	vh->inflight = out;
	vh->done = false;
	notify = virtqueue_kick_prepare(vh->vq);
	spin_unlock_irq(&vh->vq_lock);
	/*
	 * The notify traps to the host: keep it out of the spinlock. raw_hold
	 * lets a test leave a request with a host that never answers.
	 */
	if (notify && !(src == VH_SRC_RAW && READ_ONCE(vh->raw_hold)))
		virtqueue_notify(vh->vq);

	t0 = ktime_get_ns();
	while (!wait_event_timeout(vh->wq, vh_xfer_over(vh), VH_STALL_WARN))
		dev_warn_ratelimited(&vh->vdev->dev,
				     "host has not completed a request for %d s\n",
				     VH_STALL_WARN / HZ);
	vh_count(vh, VH_CTR_WAIT_NS + src, ktime_get_ns() - t0);

	spin_lock_irq(&vh->vq_lock);
	done = vh->done;
	vh->inflight = NULL;
	spin_unlock_irq(&vh->vq_lock);
	/* remove() may be waiting for the ring to go idle. */
	wake_up_all(&vh->wq);
	return done ? 0 : -EIO;
}

void vh_req_begin(struct vh_dev *vh, u16 op)
{
	lockdep_assert_held(&vh->req_lock);
	vh->op = op;
	vh->nr = 0;
}

/*
 * The host rejects a range that spans two of its regions (memory backends:
 * NUMA nodes, DIMMs), and the guest cannot see where those begin. They
 * begin on memory section boundaries in practice, so merge only within a
 * 128 MiB-aligned block: a batch stays mergeable, and a host boundary on
 * such an alignment is never crossed.
 */
#define VH_MERGE_BLOCK_SHIFT 27

/**
 * vh_req_add() - append a range, merging it with the previous one when
 * contiguous (fewer ranges means fewer host syscalls).
 * @vh: the device, req_lock held
 * @gpa: guest-physical address
 * @len: bytes
 *
 * Return: false when the request is full; send it and add again.
 */
bool vh_req_add(struct vh_dev *vh, u64 gpa, u64 len)
{
	struct vmhint_wire_range *r;

	if (vh->nr) {
		u64 start, end;

		r = &vh->ranges[vh->nr - 1];
		start = get_unaligned_le64(&r->gpa);
		end = start + get_unaligned_le64(&r->len);
		if (end == gpa && (start >> VH_MERGE_BLOCK_SHIFT) ==
		    ((gpa + len - 1) >> VH_MERGE_BLOCK_SHIFT)) {
			put_unaligned_le64(end + len - start, &r->len);
			return true;
		}
	}
	if (vh->nr >= vh->max_ranges)
		return false;
	r = &vh->ranges[vh->nr++];
	put_unaligned_le64(gpa, &r->gpa);
	put_unaligned_le64(len, &r->len);
	return true;
}

/* Checks the response the host wrote; returns 0, -EIO or -EPROTO. */
static int vh_req_check(struct vh_dev *vh, enum vh_src src)
{
	u32 status, nr_done, i;
	u64 bytes = 0;

	/* Exactly the bytes offered: more would mean a write past them. */
	if (vh->used_len != sizeof(*vh->resp)) {
		vh_count(vh, VH_CTR_ERR_PROTO, 1);
		return -EPROTO;
	}
	status = get_unaligned_le32(&vh->resp->status);
	nr_done = get_unaligned_le32(&vh->resp->nr_done);
	if (status >= VMHINT_WIRE_NR_STATUS || nr_done > vh->nr ||
	    (status == VMHINT_WIRE_OK && nr_done != vh->nr)) {
		vh_count(vh, VH_CTR_ERR_PROTO, 1);
		return -EPROTO;
	}
	vh_count(vh, VH_CTR_STATUS + status, 1);
	for (i = 0; i < nr_done; i++)
		bytes += get_unaligned_le64(&vh->ranges[i].len);
	vh_count(vh, VH_CTR_RANGES + src, nr_done);
	vh_count(vh, VH_CTR_BYTES + src, bytes);
	return status == VMHINT_WIRE_OK ? 0 : -EIO;
}

static int vh_req_send_op(struct vh_dev *vh, u16 op, enum vh_src src)
{
	size_t len = sizeof(*vh->req) + vh->nr * sizeof(*vh->ranges);
	int err;

	put_unaligned_le16(op, &vh->req->op);
	put_unaligned_le16(0, &vh->req->flags);
	put_unaligned_le32(vh->nr, &vh->req->nr_ranges);
	err = vh_xfer(vh, vh->req, len, sizeof(*vh->resp), src);
	if (err)
		return err;
	vh_count(vh, VH_CTR_REQUESTS + src, 1);
	return vh_req_check(vh, src);
}

/**
 * vh_req_send() - send the request built with vh_req_add() and empty it.
 * @vh: the device, req_lock held
 * @src: whose counters the request goes to
 *
 * With VMHINT_F_STABLE_HINTS negotiated the driver promised the host a
 * STABLE hint before it reuses a page. Neither free page reporting nor
 * the buddy allocator tells a driver when a reported page is reused, so
 * the only way to keep that promise is to mark the pages STABLE again
 * before they go back to the allocator. With a synchronous host the frames
 * are already gone by then; with a lazy one this cancels pending drops.
 * That is why stable_hints=0 exists.
 *
 * Return: 0 when the host applied every range, else -errno.
 */
int vh_req_send(struct vh_dev *vh, enum vh_src src)
{
	int err;

	if (!vh->nr)
		return 0;
	err = vh_req_send_op(vh, vh->op, src);
	if (vh->stable_hints && vh->op == VMHINT_OP_UNUSED && err != -ESHUTDOWN) {
		int err2 = vh_req_send_op(vh, VMHINT_OP_STABLE, src);

		vh_count(vh, VH_CTR_STABLE_REQUESTS, 1);
		if (!err)
			err = err2;
	}
	vh->nr = 0;
	return err;
}

/*
 * Stop taking requests and make sure none is left with the host. Called
 * first thing in remove(): a healthy host returns the request in flight
 * within the grace period; a host that does not gets the device reset,
 * after which the virtio spec forbids it to touch the buffers, so the
 * waiter can give its pages back safely.
 */
/* Stops new requests, resets the device, then fails the waiters. */
static void vh_reset_device(struct vh_dev *vh)
{
	spin_lock_irq(&vh->vq_lock);
	vh->dying = true;
	spin_unlock_irq(&vh->vq_lock);
	virtio_reset_device(vh->vdev);
	spin_lock_irq(&vh->vq_lock);
	vh->broken = true;
	spin_unlock_irq(&vh->vq_lock);
	wake_up_all(&vh->wq);
}

void vh_shutdown_queue(struct vh_dev *vh)
{
	bool idle;

	spin_lock_irq(&vh->vq_lock);
	vh->dying = true;
	spin_unlock_irq(&vh->vq_lock);

	idle = wait_event_timeout(vh->wq, !READ_ONCE(vh->inflight) ||
				  READ_ONCE(vh->broken), VH_REMOVE_GRACE);
	if (idle)
		return;
	dev_warn(&vh->vdev->dev, "host did not complete a request; resetting\n");
	vh_reset_device(vh);
}

/*
 * The host set NEEDS_RESET (QEMU does on a protocol violation, e.g. a raw
 * request without room for the response) and will not return what is in
 * the ring. Reset it so the spec guarantees it no longer touches those
 * buffers, then fail the waiters: their pages are safe to reuse. The
 * device stays unusable until the driver is rebound (rmmod/insmod or
 * unbind/bind), which sets the queue up afresh.
 */
void vh_reset_work(struct work_struct *work)
{
	struct vh_dev *vh = container_of(work, struct vh_dev, reset_work);

	dev_err(&vh->vdev->dev,
		"device needs reset; hints stop until the driver is rebound\n");
	vh_reset_device(vh);
}
