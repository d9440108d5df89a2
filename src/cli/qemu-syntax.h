/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How vmhintctl spells the vmhint object and the virtio-hint-pci device on
 * QEMU's command line. Everything that depends on the property syntax of
 * qemu-patches/ is in qemu-syntax.c, so a change there is a change here.
 */
#ifndef VHC_QEMU_SYNTAX_H
#define VHC_QEMU_SYNTAX_H

#include <stdint.h>

/* IDs of what attach adds to the QEMU command line; detach looks for them. */
#define VHC_OBJECT_ID	"vmhint0"
#define VHC_DEVICE_ID	"vmhint-dev0"
#define VHC_CHARDEV_ID	"vmhint-qmp"

#define VHC_MAX_MEMDEVS	64

struct vhc_object {
	const char *memdev[VHC_MAX_MEMDEVS];	/* backend IDs, libvirt's names */
	unsigned int n_memdev;
	const char *mode;		/* "sync" or "lazy" */
	int dedupe;			/* 0 or 1 */
	const char *dedupe_table;	/* "/vmhint-NAME" or NULL */
	const char *numa_policy;	/* NULL: the object's default */
	uint64_t numa_nodes;		/* bitmap of host nodes < 64 */
};

/* The -object argument; malloc'ed, NULL on allocation failure. */
char *vhc_object_arg(const struct vhc_object *o);
/* The -device argument for a device on BUS at ADDR ("0x1.0x7"). */
char *vhc_device_arg(const char *bus, const char *addr);
/* -chardev and -mon arguments of the QMP socket at PATH. */
char *vhc_chardev_arg(const char *path);
char *vhc_mon_arg(void);

/* Whether an argument after -object/-device/-chardev/-mon is one of ours. */
int vhc_is_our_arg(const char *flag, const char *value);

#endif
