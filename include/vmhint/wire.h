/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhint/wire.h - wire format v1 of the virtio-hint device: what the guest
 * driver puts in a request, what the host writes back, the config space and
 * the feature bits. See vmhint-wire(7).
 *
 * All fields are little-endian and the structs are packed. Everything the
 * guest writes is hostile input: vmhint_wire_handle() checks every field
 * before it touches guest RAM.
 *
 * A request is one virtqueue element: a driver-readable part holding
 * struct vmhint_wire_req followed by nr_ranges struct vmhint_wire_range, and
 * a device-writable part holding struct vmhint_wire_resp.
 */
#ifndef VMHINT_WIRE_H
#define VMHINT_WIRE_H

#include <vmhint/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Virtio device ID of virtio-hint. The virtio specification allocates IDs
 * from 1 into the 40s; other VMMs count their private IDs down from 63
 * (crosvm uses 61-63). 58 is in neither range, and the modern PCI transport
 * expresses it as device ID 0x1040 + 58 = 0x107a. Kept here only: the QEMU
 * patch and the guest driver both take it from this header.
 */
#define VMHINT_VIRTIO_ID 58

/* Device feature bits (virtio device-specific range 0..23). */
#define VMHINT_F_LAZY 0          /* host acknowledges before dropping      */
#define VMHINT_F_STABLE_HINTS 1  /* driver sends STABLE before reusing a page */

#define VMHINT_WIRE_VERSION 1
#define VMHINT_WIRE_MAX_RANGES_DEFAULT 256u
#define VMHINT_WIRE_MAX_RANGES_LIMIT 1024u /* IOV_MAX: one process_madvise call */

/* Config space (device-readable by the driver). */
struct vmhint_wire_config {
	uint32_t version;     /* VMHINT_WIRE_VERSION */
	uint32_t page_size;   /* preferred hint granularity: the largest backing page size */
	uint32_t max_ranges;  /* ranges per request the device accepts */
	uint32_t reserved;
} __attribute__((packed));

struct vmhint_wire_req {
	uint16_t op;          /* enum vmhint_op */
	uint16_t flags;       /* must be 0 in v1 */
	uint32_t nr_ranges;   /* 1 .. config.max_ranges */
} __attribute__((packed));

struct vmhint_wire_range {
	uint64_t gpa;         /* guest-physical, 4 KiB aligned */
	uint64_t len;         /* bytes, non-zero multiple of 4 KiB */
} __attribute__((packed));

struct vmhint_wire_resp {
	uint32_t status;      /* enum vmhint_wire_status */
	uint32_t nr_done;     /* ranges applied: nr_ranges on OK, else 0 */
} __attribute__((packed));

/*
 * Results of one request; every value but OK has a counter in vmhint_stats.
 * VMHINT_WIRE_STATUS_LIST(X) expands X(SYMBOL, value, name) once per status:
 * the enum below, the library's vmhint_wire_status_name() and the guest
 * driver's sysfs counters are all made from this one list.
 */
#define VMHINT_WIRE_STATUS_LIST(X)					\
	X(OK, 0, ok)                 /* applied */			\
	X(ERR_SHORT, 1, short)       /* buffer shorter than the header */ \
	X(ERR_LENGTH, 2, length)     /* length != header + nr_ranges ranges */ \
	X(ERR_OP, 3, op)             /* unknown op */			\
	X(ERR_FLAGS, 4, flags)       /* unknown flags */		\
	X(ERR_NO_RANGES, 5, no_ranges) /* nr_ranges == 0 */		\
	X(ERR_TOO_MANY, 6, too_many) /* nr_ranges > max_ranges */	\
	X(ERR_ALIGN, 7, align)       /* gpa or len not 4 KiB aligned */	\
	X(ERR_ZERO_LEN, 8, zero_len) /* a range of length 0 */		\
	X(ERR_OVERFLOW, 9, overflow) /* gpa + len wraps around */	\
	X(ERR_OUTSIDE, 10, outside)  /* not (wholly) in guest RAM */	\
	X(ERR_CROSS, 11, cross)      /* spans two regions */		\
	X(ERR_IO, 12, io)            /* the host kernel refused a drop */

#define VMHINT_WIRE_STATUS_ENUM_(sym, val, name) VMHINT_WIRE_##sym = (val),
enum vmhint_wire_status {
	VMHINT_WIRE_STATUS_LIST(VMHINT_WIRE_STATUS_ENUM_)
	VMHINT_WIRE_NR_STATUS
};
#undef VMHINT_WIRE_STATUS_ENUM_

/**
 * vmhint_wire_config_get() - fill the config space the device exposes,
 * from the context's regions and options (little-endian).
 *
 * Return: 0 or -EINVAL.
 */
VMHINT_EXPORT int vmhint_wire_config_get(struct vmhint_ctx *ctx, struct vmhint_wire_config *cfg);

/**
 * vmhint_wire_handle() - parse and apply one request exactly as the guest
 * wrote it.
 * @buf, @len: the driver-readable part of the element, copied out of guest
 *             memory by the device (the library never reads it twice). The
 *             header is read first; the ranges only once nr_ranges is within
 *             max_ranges and @len is exactly header + nr_ranges ranges, so a
 *             device may pass an element's true length with a buffer clipped
 *             to header + max_ranges ranges.
 * @resp:      receives the little-endian response for the guest; may be NULL
 *
 * Return: enum vmhint_wire_status (>= 0); the status is also in @resp.
 */
VMHINT_EXPORT int vmhint_wire_handle(struct vmhint_ctx *ctx, const void *buf, size_t len,
				     struct vmhint_wire_resp *resp);

/**
 * vmhint_wire_status_name() - "ok", "short", "length", ... for a status;
 * "unknown" for any other value.
 */
VMHINT_EXPORT const char *vmhint_wire_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif /* VMHINT_WIRE_H */
