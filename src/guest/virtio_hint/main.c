// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_hint - guest driver for the virtio-hint device: tells the host
 * which guest pages are unused so it can drop their frames.
 *
 * Probe, remove and the checks on the config space live here; requests in
 * queue.c, free page reporting in report.c, active mode in active.c, the
 * sysfs interface in sysfs.c and the hostile-test helper in raw.c.
 */
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include "virtio_hint.h"

bool vh_param_active;
module_param_named(active, vh_param_active, bool, 0444);
MODULE_PARM_DESC(active, "Start devices in active mode (default 0)");

unsigned int vh_param_interval_ms = 100;
module_param_named(active_interval_ms, vh_param_interval_ms, uint, 0444);
MODULE_PARM_DESC(active_interval_ms,
		 "Active mode: how often to look at the free page count (default 100)");

unsigned int vh_param_threshold_mb = 16;
module_param_named(active_threshold_mb, vh_param_threshold_mb, uint, 0444);
MODULE_PARM_DESC(active_threshold_mb,
		 "Active mode: free memory growth that starts a pass (default 16)");

unsigned int vh_param_reserve_mb = 32;
module_param_named(active_reserve_mb, vh_param_reserve_mb, uint, 0444);
MODULE_PARM_DESC(active_reserve_mb,
		 "Active mode: free memory left above the high watermarks (default 32)");

unsigned int vh_param_batch = VMHINT_WIRE_MAX_RANGES_DEFAULT;
module_param_named(active_batch, vh_param_batch, uint, 0444);
MODULE_PARM_DESC(active_batch,
		 "Active mode: pages per request, capped by the host's max_ranges (default 256)");

bool vh_param_active_alloc;
module_param_named(active_alloc, vh_param_active_alloc, bool, 0444);
MODULE_PARM_DESC(active_alloc,
		 "Active mode: allocate free pages instead of running page reporting early (default 0)");

int vh_param_active_order = -1;
module_param_named(active_order, vh_param_active_order, int, 0444);
MODULE_PARM_DESC(active_order,
		 "Active mode: allocation order; -1 = max(host page, pageblock) (default)");

/*
 * VMHINT_F_STABLE_HINTS is a promise to send STABLE before reusing a
 * hinted page. Nothing tells this driver when the allocator reuses a
 * reported page, so it can keep the promise only by sending STABLE right
 * after each UNUSED (see vh_req_send()): safe, but it doubles the requests
 * and cancels what a lazy host had pending. Hence off unless asked for.
 */
static bool stable_hints;
module_param(stable_hints, bool, 0444);
MODULE_PARM_DESC(stable_hints,
		 "Accept VMHINT_F_STABLE_HINTS when offered; every UNUSED is then followed by STABLE (default 0)");

/*
 * wire.h's struct vmhint_wire_config with the kernel's little-endian types,
 * which virtio_cread_le() and sparse want: wire.h, shared with user space,
 * can only say uint32_t. Same layout, checked below.
 */
struct vh_config_le {
	__le32 version;
	__le32 page_size;
	__le32 max_ranges;
	__le32 reserved;
};

static_assert(sizeof(struct vh_config_le) == sizeof(struct vmhint_wire_config));
static_assert(offsetof(struct vh_config_le, version) ==
	      offsetof(struct vmhint_wire_config, version));
static_assert(offsetof(struct vh_config_le, page_size) ==
	      offsetof(struct vmhint_wire_config, page_size));
static_assert(offsetof(struct vh_config_le, max_ranges) ==
	      offsetof(struct vmhint_wire_config, max_ranges));

/*
 * The config space is written by the host and read once: every field is
 * checked, and values the driver cannot use either stop the probe or are
 * replaced by safe ones, loudly.
 */
static int vh_read_config(struct vh_dev *vh)
{
	struct virtio_device *vdev = vh->vdev;
	u32 version, page_size, max_ranges;

	virtio_cread_le(vdev, struct vh_config_le, version, &version);
	virtio_cread_le(vdev, struct vh_config_le, page_size, &page_size);
	virtio_cread_le(vdev, struct vh_config_le, max_ranges, &max_ranges);

	if (version != VMHINT_WIRE_VERSION) {
		dev_err(&vdev->dev, "wire version %u, driver speaks %u\n",
			version, VMHINT_WIRE_VERSION);
		return -ENODEV;
	}
	if (!max_ranges) {
		dev_err(&vdev->dev, "host accepts 0 ranges per request\n");
		return -ENODEV;
	}
	if (max_ranges > VMHINT_WIRE_MAX_RANGES_LIMIT) {
		dev_warn(&vdev->dev, "max_ranges %u clipped to %u\n",
			 max_ranges, VMHINT_WIRE_MAX_RANGES_LIMIT);
		max_ranges = VMHINT_WIRE_MAX_RANGES_LIMIT;
	}
	/* Only a hint: a nonsense value costs efficiency, not safety. */
	if (page_size < VMHINT_PAGE_SIZE || page_size > SZ_1G ||
	    !is_power_of_2(page_size)) {
		dev_warn(&vdev->dev, "page_size %u invalid, using %lu\n",
			 page_size, PAGE_SIZE);
		page_size = PAGE_SIZE;
	}
	vh->cfg_version = version;
	vh->cfg_page_size = page_size;
	vh->max_ranges = max_ranges;
	return 0;
}

static int vh_validate(struct virtio_device *vdev)
{
	if (!vdev->config->get) {
		dev_err(&vdev->dev, "transport cannot read config space\n");
		return -EINVAL;
	}
	if (!stable_hints)
		__virtio_clear_bit(vdev, VMHINT_F_STABLE_HINTS);
	return 0;
}

static int vh_probe(struct virtio_device *vdev)
{
	struct vh_dev *vh;
	int err;

	vh = kzalloc(sizeof(*vh), GFP_KERNEL);
	if (!vh)
		return -ENOMEM;
	vdev->priv = vh;
	vh->vdev = vdev;
	INIT_WORK(&vh->reset_work, vh_reset_work);

	err = vh_read_config(vh);
	if (err)
		goto err_free;
	vh->lazy = virtio_has_feature(vdev, VMHINT_F_LAZY);
	vh->stable_hints = virtio_has_feature(vdev, VMHINT_F_STABLE_HINTS);

	err = vh_queue_init(vh);
	if (err)
		goto err_free;
	vh->vq = virtio_find_single_vq(vdev, vh_vq_done, "requests");
	if (IS_ERR(vh->vq)) {
		err = PTR_ERR(vh->vq);
		goto err_queue;
	}
	err = vh_active_init(vh);
	if (err)
		goto err_vqs;

	virtio_device_ready(vdev);
	vh_report_start(vh);
	vh_active_choose(vh);
	vh_raw_init(vh);
	if (vh_param_active)
		vh_active_set(vh, true);

	dev_info(&vdev->dev,
		 "page_size %u max_ranges %u%s%s; reporting %s (order %u); active %s\n",
		 vh->cfg_page_size, vh->max_ranges, vh->lazy ? " lazy" : "",
		 vh->stable_hints ? " stable_hints" : "",
		 vh->reporting ? "on" : "off", vh->report_order,
		 vh->active.use_alloc ? "alloc" : "report");
	return 0;

err_vqs:
	vdev->config->del_vqs(vdev);
err_queue:
	vh_queue_free(vh);
err_free:
	kfree(vh);
	vdev->priv = NULL;
	return err;
}

/*
 * Order matters: first no new request and none left with the host (see
 * vh_shutdown_queue()), then the users of the queue go away, then the
 * device is reset so it cannot touch guest memory any more.
 */
static void vh_remove(struct virtio_device *vdev)
{
	struct vh_dev *vh = vdev->priv;

	/* The core stopped config interrupts: nothing schedules it again. */
	cancel_work_sync(&vh->reset_work);
	vh_shutdown_queue(vh);
	/* Before page reporting goes: the worker may run its pass. */
	vh_active_stop(vh);
	vh_report_stop(vh);
	vh_raw_exit(vh);
	if (!vh->broken)
		virtio_reset_device(vdev);
	/* Tokens are our preallocated or raw buffers: nothing to free. */
	while (virtqueue_detach_unused_buf(vh->vq))
		;
	vdev->config->del_vqs(vdev);
	vh_queue_free(vh);
	kfree(vh);
}

static void vh_config_changed(struct virtio_device *vdev)
{
	struct vh_dev *vh = vdev->priv;

	/* Interrupt context: the reset sleeps, so it runs from a work. */
	if (vdev->config->get_status(vdev) & VIRTIO_CONFIG_S_NEEDS_RESET) {
		schedule_work(&vh->reset_work);
		return;
	}
	/* Limits were fixed at probe; a host changing them is ignored. */
	dev_info_once(&vdev->dev, "config change ignored\n");
}

static const unsigned int vh_features[] = {
	VMHINT_F_LAZY,
	VMHINT_F_STABLE_HINTS,
};

static const struct virtio_device_id vh_id_table[] = {
	{ VMHINT_VIRTIO_ID, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, vh_id_table);

static struct virtio_driver vh_driver = {
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.driver.dev_groups = vh_groups,
	.id_table = vh_id_table,
	.feature_table = vh_features,
	.feature_table_size = ARRAY_SIZE(vh_features),
	.validate = vh_validate,
	.probe = vh_probe,
	.remove = vh_remove,
	.config_changed = vh_config_changed,
};

static int __init vh_init(void)
{
	int err;

	/* The wire structs are packed; catch a header edit that breaks it. */
	BUILD_BUG_ON(sizeof(struct vmhint_wire_req) != 8);
	BUILD_BUG_ON(sizeof(struct vmhint_wire_range) != 16);
	BUILD_BUG_ON(sizeof(struct vmhint_wire_resp) != 8);
	BUILD_BUG_ON(sizeof(struct vmhint_wire_config) != 16);
	BUILD_BUG_ON(VMHINT_PAGE_SIZE != PAGE_SIZE);

	vh_debugfs_init();
	err = register_virtio_driver(&vh_driver);
	if (err)
		vh_debugfs_exit();
	return err;
}

static void __exit vh_exit(void)
{
	unregister_virtio_driver(&vh_driver);
	vh_debugfs_exit();
}

module_init(vh_init);
module_exit(vh_exit);

MODULE_DESCRIPTION("virtio-hint guest driver: free page hints to the host");
MODULE_LICENSE("GPL");
