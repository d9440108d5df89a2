// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_hint - raw requests for hostile-input tests of the host.
 *
 * With raw=1, /sys/kernel/debug/virtio_hint/<virtioN>/raw sends whatever
 * bytes are written to it as the driver-readable part of one request,
 * unchecked: bad counts, unaligned or overflowing ranges, addresses
 * outside guest RAM, unknown ops and flags. raw_in_len sets how many
 * device-writable bytes go with it (0 = none, to test a host facing a
 * missing response buffer). Reading raw tells what came back:
 *   err=<errno> used_len=<bytes the host wrote> status=<u32> nr_done=<u32>
 * status is 4294967295 when the host did not write it. With raw_hold=Y the
 * host is not notified of raw requests, which then look unanswered: a test
 * of the stall warning and of unbinding with a request in flight.
 *
 * Off by default: a request naming guest RAM in use tells the host to drop
 * it, which only root in the guest should be able to do to the guest.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio.h>
#include <asm/unaligned.h>
#include "virtio_hint.h"

static bool raw;
module_param(raw, bool, 0444);
MODULE_PARM_DESC(raw, "Create debugfs raw request files for tests (default 0)");

static struct dentry *vh_dbg_root;

static ssize_t vh_raw_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	struct vh_dev *vh = file->private_data;
	void *buf;
	int err;

	if (!len || len > VH_RAW_MAX)
		return -EINVAL;
	/* Heap memory: the device reads it by DMA. */
	buf = memdup_user(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);

	mutex_lock(&vh->req_lock);
	err = vh_xfer(vh, buf, len, READ_ONCE(vh->raw_in_len), VH_SRC_RAW);
	vh->raw_err = err;
	vh->raw_used = err ? 0 : vh->used_len;
	vh->raw_status = get_unaligned_le32(&vh->resp->status);
	vh->raw_done = get_unaligned_le32(&vh->resp->nr_done);
	if (!err) {
		vh_count(vh, VH_CTR_REQUESTS + VH_SRC_RAW, 1);
		if (vh->raw_used >= sizeof(*vh->resp) &&
		    vh->raw_status < VMHINT_WIRE_NR_STATUS)
			vh_count(vh, VH_CTR_STATUS + vh->raw_status, 1);
		else
			vh_count(vh, VH_CTR_ERR_PROTO, 1);
	}
	mutex_unlock(&vh->req_lock);
	/*
	 * After -EIO from a reset the ring still names buf as a token, but
	 * nothing dereferences tokens, and the reset device must not read it.
	 */
	kfree(buf);
	return err ? err : len;
}

static ssize_t vh_raw_read(struct file *file, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	struct vh_dev *vh = file->private_data;
	char text[96];
	int n;

	mutex_lock(&vh->req_lock);
	n = scnprintf(text, sizeof(text),
		      "err=%d used_len=%u status=%u nr_done=%u\n", vh->raw_err,
		      vh->raw_used, vh->raw_status, vh->raw_done);
	mutex_unlock(&vh->req_lock);
	return simple_read_from_buffer(ubuf, len, ppos, text, n);
}

static const struct file_operations vh_raw_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = vh_raw_read,
	.write = vh_raw_write,
	.llseek = default_llseek,
};

void vh_raw_init(struct vh_dev *vh)
{
	vh->raw_in_len = sizeof(struct vmhint_wire_resp);
	if (!raw || !vh_dbg_root)
		return;
	vh->dbg = debugfs_create_dir(dev_name(&vh->vdev->dev), vh_dbg_root);
	debugfs_create_file("raw", 0600, vh->dbg, vh, &vh_raw_fops);
	debugfs_create_u32("raw_in_len", 0600, vh->dbg, &vh->raw_in_len);
	debugfs_create_bool("raw_hold", 0600, vh->dbg, &vh->raw_hold);
}

void vh_raw_exit(struct vh_dev *vh)
{
	/* Waits for a raw write in progress; it fails fast once dying. */
	debugfs_remove(vh->dbg);
	vh->dbg = NULL;
}

int vh_debugfs_init(void)
{
	if (raw)
		vh_dbg_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	return 0;
}

void vh_debugfs_exit(void)
{
	debugfs_remove(vh_dbg_root);
}
