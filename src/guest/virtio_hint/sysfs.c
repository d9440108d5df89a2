// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_hint - sysfs: /sys/bus/virtio/devices/virtioN/hint/
 *
 * Switches:   active (0/1), hint_now (write anything), active_interval_ms,
 *             active_threshold_mb, active_reserve_mb
 * Read-only:  config_version, config_page_size, config_max_ranges, features,
 *             reporting, broken (device reset after a host error),
 *             report_order, active_method (report or alloc), active_order,
 *             active_held_bytes
 * Counters:   requests, ranges, bytes (all sources), and per source
 *             (report_, active_, raw_): requests, ranges, bytes, work_ns
 *             (driver time without waits), wait_ns (time the host took);
 *             status_<name> per wire status, err_proto (the host wrote an
 *             invalid response), err_submit, stable_requests, active_passes,
 *             active_rounds (early page reporting passes),
 *             active_aborts, active_shrunk_pages, active_last_ns,
 *             active_last_bytes, active_peak_held_bytes.
 */
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/sysfs.h>
#include <linux/virtio.h>
#include "virtio_hint.h"

/* The names, the counters and their files all come from wire.h's list. */
#define VH_STATUS_NAME(_sym, _val, _name)				\
	[VMHINT_WIRE_##_sym] = #_name,
static const char * const vh_status_names[] = {
	VMHINT_WIRE_STATUS_LIST(VH_STATUS_NAME)
};

static_assert(ARRAY_SIZE(vh_status_names) == VMHINT_WIRE_NR_STATUS);

const char *vh_status_name(unsigned int status)
{
	return status < ARRAY_SIZE(vh_status_names) ? vh_status_names[status] : "?";
}

static struct vh_dev *to_vh(struct device *dev)
{
	return dev_to_virtio(dev)->priv;
}

/* ---- counters ---- */

#define VH_TOTAL 0x10000u	/* idx flag: sum over the sources */

struct vh_ctr_attr {
	struct device_attribute attr;
	unsigned int idx;
};

static ssize_t vh_ctr_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct vh_ctr_attr *ca = container_of(attr, struct vh_ctr_attr, attr);
	struct vh_dev *vh = to_vh(dev);
	unsigned int idx = ca->idx & ~VH_TOTAL, s;
	u64 v = 0;

	if (ca->idx & VH_TOTAL) {
		for (s = 0; s < VH_NR_SRC; s++)
			v += atomic64_read(&vh->ctr[idx + s]);
	} else {
		v = atomic64_read(&vh->ctr[idx]);
	}
	return sysfs_emit(buf, "%llu\n", v);
}

#define VH_CTR(_name, _idx)						\
	static struct vh_ctr_attr vh_attr_##_name = {			\
		.attr = __ATTR(_name, 0444, vh_ctr_show, NULL),		\
		.idx = (_idx),						\
	}
/* status_<name>: an array, so that wire.h's list can fill it. */
#define VH_STATUS_CTR(_sym, _val, _name)				\
	{								\
		.attr = __ATTR(status_##_name, 0444, vh_ctr_show, NULL),\
		.idx = VH_CTR_STATUS + (_val),				\
	},

VH_CTR(requests, VH_CTR_REQUESTS | VH_TOTAL);
VH_CTR(report_requests, VH_CTR_REQUESTS + VH_SRC_REPORT);
VH_CTR(active_requests, VH_CTR_REQUESTS + VH_SRC_ACTIVE);
VH_CTR(raw_requests, VH_CTR_REQUESTS + VH_SRC_RAW);
VH_CTR(ranges, VH_CTR_RANGES | VH_TOTAL);
VH_CTR(report_ranges, VH_CTR_RANGES + VH_SRC_REPORT);
VH_CTR(active_ranges, VH_CTR_RANGES + VH_SRC_ACTIVE);
VH_CTR(raw_ranges, VH_CTR_RANGES + VH_SRC_RAW);
VH_CTR(bytes, VH_CTR_BYTES | VH_TOTAL);
VH_CTR(report_bytes, VH_CTR_BYTES + VH_SRC_REPORT);
VH_CTR(active_bytes, VH_CTR_BYTES + VH_SRC_ACTIVE);
VH_CTR(raw_bytes, VH_CTR_BYTES + VH_SRC_RAW);
VH_CTR(work_ns, VH_CTR_WORK_NS | VH_TOTAL);
VH_CTR(report_work_ns, VH_CTR_WORK_NS + VH_SRC_REPORT);
VH_CTR(active_work_ns, VH_CTR_WORK_NS + VH_SRC_ACTIVE);
VH_CTR(raw_work_ns, VH_CTR_WORK_NS + VH_SRC_RAW);
VH_CTR(wait_ns, VH_CTR_WAIT_NS | VH_TOTAL);
VH_CTR(report_wait_ns, VH_CTR_WAIT_NS + VH_SRC_REPORT);
VH_CTR(active_wait_ns, VH_CTR_WAIT_NS + VH_SRC_ACTIVE);
VH_CTR(raw_wait_ns, VH_CTR_WAIT_NS + VH_SRC_RAW);
static struct vh_ctr_attr vh_status_attrs[] = {
	VMHINT_WIRE_STATUS_LIST(VH_STATUS_CTR)
};

static_assert(ARRAY_SIZE(vh_status_attrs) == VMHINT_WIRE_NR_STATUS);
VH_CTR(err_proto, VH_CTR_ERR_PROTO);
VH_CTR(err_submit, VH_CTR_ERR_SUBMIT);
VH_CTR(stable_requests, VH_CTR_STABLE_REQUESTS);
VH_CTR(active_passes, VH_CTR_ACTIVE_PASSES);
VH_CTR(active_rounds, VH_CTR_ACTIVE_ROUNDS);
VH_CTR(active_aborts, VH_CTR_ACTIVE_ABORTS);
VH_CTR(active_shrunk_pages, VH_CTR_ACTIVE_SHRUNK);
VH_CTR(active_last_ns, VH_CTR_ACTIVE_LAST_NS);
VH_CTR(active_last_bytes, VH_CTR_ACTIVE_LAST_BYTES);
VH_CTR(active_peak_held_bytes, VH_CTR_ACTIVE_PEAK_HELD);

/* ---- switches and read-only state ---- */

static ssize_t active_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_vh(dev)->active.enabled));
}

static ssize_t active_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t len)
{
	bool on;
	int err = kstrtobool(buf, &on);

	if (err)
		return err;
	vh_active_set(to_vh(dev), on);
	return len;
}
static DEVICE_ATTR_RW(active);

static ssize_t hint_now_store(struct device *dev, struct device_attribute *attr,
			      const char *buf, size_t len)
{
	vh_active_kick(to_vh(dev));
	return len;
}
static DEVICE_ATTR_WO(hint_now);

/*
 * A tunable of the active worker: an unsigned int of struct vh_dev, in
 * [min, max]. The worker reads it without a lock, hence READ_ONCE and
 * WRITE_ONCE.
 */
struct vh_knob_attr {
	struct device_attribute attr;
	size_t off;			/* offsetof(struct vh_dev, field) */
	unsigned int min, max;
};

static unsigned int *vh_knob(struct device *dev, struct vh_knob_attr *ka)
{
	return (unsigned int *)((char *)to_vh(dev) + ka->off);
}

static ssize_t vh_knob_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct vh_knob_attr *ka = container_of(attr, struct vh_knob_attr, attr);

	return sysfs_emit(buf, "%u\n", READ_ONCE(*vh_knob(dev, ka)));
}

static ssize_t vh_knob_store(struct device *dev, struct device_attribute *attr,
			     const char *buf, size_t len)
{
	struct vh_knob_attr *ka = container_of(attr, struct vh_knob_attr, attr);
	unsigned int v;
	int err = kstrtouint(buf, 0, &v);

	if (err)
		return err;
	if (v < ka->min || v > ka->max)
		return -ERANGE;
	WRITE_ONCE(*vh_knob(dev, ka), v);
	return len;
}

#define VH_KNOB(_name, _field, _min, _max)				\
	static struct vh_knob_attr vh_attr_##_name = {			\
		.attr = __ATTR(_name, 0644, vh_knob_show, vh_knob_store), \
		.off = offsetof(struct vh_dev, _field),			\
		.min = (_min),						\
		.max = (_max),						\
	}

VH_KNOB(active_interval_ms, active.interval_ms, 10, 60000);
VH_KNOB(active_threshold_mb, active.threshold_mb, 0, 1U << 20);
VH_KNOB(active_reserve_mb, active.reserve_mb, 0, 1U << 20);

#define VH_RO(_name, _fmt, ...)					\
static ssize_t _name##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	struct vh_dev *vh = to_vh(dev);					\
									\
	return sysfs_emit(buf, _fmt "\n", __VA_ARGS__);			\
}									\
static DEVICE_ATTR_RO(_name)

VH_RO(config_version, "%u", vh->cfg_version);
VH_RO(config_page_size, "%u", vh->cfg_page_size);
VH_RO(config_max_ranges, "%u", vh->max_ranges);
static ssize_t features_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct vh_dev *vh = to_vh(dev);

	return sysfs_emit(buf, "%s%s%s\n", vh->lazy ? "lazy" : "",
			  vh->lazy && vh->stable_hints ? " " : "",
			  vh->stable_hints ? "stable_hints" : "");
}
static DEVICE_ATTR_RO(features);

VH_RO(reporting, "%d", vh->reporting);
VH_RO(broken, "%d", READ_ONCE(vh->broken));
VH_RO(report_order, "%u", vh->report_order);
VH_RO(active_order, "%u", vh->active.order);
VH_RO(active_method, "%s", vh->active.use_alloc ? "alloc" : "report");
VH_RO(active_held_bytes, "%lu", READ_ONCE(vh->active.nr_held) << PAGE_SHIFT);

#define A(_n) (&vh_attr_##_n.attr.attr)

static struct attribute *vh_attrs[] = {
	&dev_attr_active.attr,
	&dev_attr_hint_now.attr,
	A(active_interval_ms),
	A(active_threshold_mb),
	A(active_reserve_mb),
	&dev_attr_config_version.attr,
	&dev_attr_config_page_size.attr,
	&dev_attr_config_max_ranges.attr,
	&dev_attr_features.attr,
	&dev_attr_reporting.attr,
	&dev_attr_broken.attr,
	&dev_attr_report_order.attr,
	&dev_attr_active_order.attr,
	&dev_attr_active_method.attr,
	&dev_attr_active_held_bytes.attr,
	A(requests), A(report_requests), A(active_requests), A(raw_requests),
	A(ranges), A(report_ranges), A(active_ranges), A(raw_ranges),
	A(bytes), A(report_bytes), A(active_bytes), A(raw_bytes),
	A(work_ns), A(report_work_ns), A(active_work_ns), A(raw_work_ns),
	A(wait_ns), A(report_wait_ns), A(active_wait_ns), A(raw_wait_ns),
#define VH_STATUS_ATTR(_sym, _val, _name) (&vh_status_attrs[_val].attr.attr),
	VMHINT_WIRE_STATUS_LIST(VH_STATUS_ATTR)
	A(err_proto), A(err_submit), A(stable_requests), A(active_passes),
	A(active_rounds),
	A(active_aborts), A(active_shrunk_pages), A(active_last_ns),
	A(active_last_bytes), A(active_peak_held_bytes),
	NULL,
};

static const struct attribute_group vh_group = {
	.name = "hint",
	.attrs = vh_attrs,
};

const struct attribute_group *vh_groups[] = {
	&vh_group,
	NULL,
};
