/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio_hint - internal interfaces of the guest driver for the virtio-hint
 * device. The wire format comes from include/vmhint/wire.h, shared with the
 * host library, through the <stdint.h> shim in compat/.
 */
#ifndef VIRTIO_HINT_H
#define VIRTIO_HINT_H

#include <linux/atomic.h>
#include <linux/mutex.h>
#include <linux/page_reporting.h>
#include <linux/shrinker.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <vmhint/wire.h>

/* Largest buffer a raw (hostile-test) request may carry. */
#define VH_RAW_MAX		(64 * 1024)
/* Device-writable buffer; larger than the response so tests can vary it. */
#define VH_RESP_BUF		64
/* Warn when the host has not answered a request for this long. */
#define VH_STALL_WARN		(30 * HZ)
/* On unload, how long to wait for the host before resetting the device. */
#define VH_REMOVE_GRACE		(10 * HZ)

/* Who sent a request: each source has its own counters. */
enum vh_src {
	VH_SRC_REPORT,		/* free page reporting callback */
	VH_SRC_ACTIVE,		/* active-mode worker */
	VH_SRC_RAW,		/* debugfs raw file (hostile tests) */
	VH_NR_SRC
};

/*
 * Counters, one sysfs file each under <virtio device>/hint/. Per-source
 * counters are laid out as VH_CTR_<name> + source.
 */
enum vh_ctr {
	VH_CTR_REQUESTS,			/* requests completed */
	VH_CTR_RANGES = VH_CTR_REQUESTS + VH_NR_SRC,	/* ranges acknowledged */
	VH_CTR_BYTES = VH_CTR_RANGES + VH_NR_SRC,	/* bytes acknowledged */
	VH_CTR_WORK_NS = VH_CTR_BYTES + VH_NR_SRC,	/* driver time, no waits */
	VH_CTR_WAIT_NS = VH_CTR_WORK_NS + VH_NR_SRC,	/* waiting for the host */
	VH_CTR_STATUS = VH_CTR_WAIT_NS + VH_NR_SRC,	/* + enum vmhint_wire_status */
	VH_CTR_ERR_PROTO = VH_CTR_STATUS + VMHINT_WIRE_NR_STATUS,
	VH_CTR_ERR_SUBMIT,	/* virtqueue refused the buffer */
	VH_CTR_STABLE_REQUESTS,	/* STABLE follow-ups (F_STABLE_HINTS) */
	VH_CTR_ACTIVE_PASSES,
	VH_CTR_ACTIVE_ROUNDS,	/* core page reporting passes run early */
	VH_CTR_ACTIVE_ABORTS,	/* passes cut short by the shrinker */
	VH_CTR_ACTIVE_SHRUNK,	/* pages the shrinker gave back early */
	VH_CTR_ACTIVE_LAST_NS,	/* wall time of the last pass */
	VH_CTR_ACTIVE_LAST_BYTES, /* bytes hinted by the last pass */
	VH_CTR_ACTIVE_PEAK_HELD, /* most bytes held at once by a pass */
	VH_NR_CTR
};

struct vh_active {
	struct delayed_work work;
	bool enabled;			/* periodic polling on */
	bool use_alloc;			/* method "alloc", else "report" */
	atomic_t kick;			/* a pass was asked for (hint_now) */
	unsigned long last_free;	/* free pages after the last pass */
	unsigned int order;
	unsigned int interval_ms;	/* polling period when enabled */
	unsigned int threshold_mb;	/* free growth that starts a pass */
	unsigned int reserve_mb;	/* margin above the high watermarks */
	unsigned int batch_max;		/* pages per request */
	/* Pages hinted in the running pass, given back when it ends. */
	spinlock_t lock;
	struct list_head held;
	unsigned long nr_held;		/* in pages of PAGE_SIZE */
	bool abort;			/* shrinker wants memory back */
	struct shrinker shrinker;
	bool shrinker_on;
	struct page **batch;		/* pages of the request in flight */
};

struct vh_dev {
	struct virtio_device *vdev;
	struct virtqueue *vq;

	/* Config space, validated at probe; never re-read. */
	u32 cfg_version;
	u32 cfg_page_size;
	u32 max_ranges;			/* clipped config max_ranges */
	bool lazy;			/* VMHINT_F_LAZY negotiated */
	bool stable_hints;		/* VMHINT_F_STABLE_HINTS negotiated */

	/*
	 * One request in flight at a time: req_lock serialises the senders
	 * (page reporting, active worker, raw file); vq_lock orders them
	 * against the virtqueue callback and against remove.
	 */
	struct mutex req_lock;
	spinlock_t vq_lock;		/* vq, inflight, done, used_len, dying, broken */
	wait_queue_head_t wq;
	void *inflight;			/* token of the buffer in the ring */
	bool done;			/* the host returned it */
	unsigned int used_len;
	bool dying;			/* remove or reset: send nothing new */
	bool broken;			/* device reset: waiters fail */
	struct work_struct reset_work;	/* host asked for a reset */

	/* Request under construction (req_lock held). */
	struct vmhint_wire_req *req;	/* header + max_ranges ranges */
	struct vmhint_wire_range *ranges;
	unsigned int nr;
	u16 op;
	struct vmhint_wire_resp *resp;	/* VH_RESP_BUF bytes */

	/* Free page reporting. */
	struct page_reporting_dev_info prdev;
	bool reporting;
	unsigned int report_order;

	struct vh_active active;

	/* debugfs raw requests for hostile tests. */
	struct dentry *dbg;
	u32 raw_in_len;			/* device-writable bytes offered */
	bool raw_hold;			/* do not notify the host of raw requests */
	int raw_err;
	u32 raw_status, raw_done, raw_used;

	atomic64_t ctr[VH_NR_CTR];
};

static inline void vh_count(struct vh_dev *vh, unsigned int ctr, u64 v)
{
	atomic64_add(v, &vh->ctr[ctr]);
}

/* queue.c */
int vh_queue_init(struct vh_dev *vh);
void vh_queue_free(struct vh_dev *vh);
void vh_vq_done(struct virtqueue *vq);
int vh_xfer(struct vh_dev *vh, void *out, size_t out_len, size_t in_len,
	    enum vh_src src);
void vh_req_begin(struct vh_dev *vh, u16 op);
bool vh_req_add(struct vh_dev *vh, u64 gpa, u64 len);
int vh_req_send(struct vh_dev *vh, enum vh_src src);
void vh_shutdown_queue(struct vh_dev *vh);
void vh_reset_work(struct work_struct *work);

/* report.c */
void vh_report_start(struct vh_dev *vh);
void vh_report_stop(struct vh_dev *vh);

/* active.c */
int vh_active_init(struct vh_dev *vh);
void vh_active_choose(struct vh_dev *vh);
void vh_active_set(struct vh_dev *vh, bool on);
void vh_active_kick(struct vh_dev *vh);
void vh_active_stop(struct vh_dev *vh);

/* raw.c */
void vh_raw_init(struct vh_dev *vh);
void vh_raw_exit(struct vh_dev *vh);
int vh_debugfs_init(void);
void vh_debugfs_exit(void);

/* sysfs.c */
extern const struct attribute_group *vh_groups[];
const char *vh_status_name(unsigned int status);

/* main.c: module parameters used as per-device defaults */
extern bool vh_param_active;
extern unsigned int vh_param_interval_ms;
extern unsigned int vh_param_threshold_mb;
extern unsigned int vh_param_reserve_mb;
extern unsigned int vh_param_batch;
extern int vh_param_active_order;
extern bool vh_param_active_alloc;

#endif /* VIRTIO_HINT_H */
