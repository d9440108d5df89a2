// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The QEMU command-line syntax of the vmhint object and its device, in one
 * place (see qemu-syntax.h).
 *
 * The object is given in -object's key=value syntax rather than JSON: it
 * stays readable in a domain XML (JSON would be all &quot;). No value
 * vmhintctl writes holds a comma: backend IDs come from libvirt, table names
 * and paths are checked for it.
 *
 * memdev and host-nodes are QOM lists: the key repeated
 * (memdev=pc.ram,memdev=ram-node1; host-nodes=0-1,host-nodes=3), as
 * -object's option parser takes memory-backend's host-nodes. numa-policy
 * takes HostMemPolicy's names (default, preferred, bind, interleave).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-syntax.h"

struct buf {
	char s[8192];
	size_t len;
};

static void put(struct buf *b, const char *f, const char *a)
{
	if (b->len < sizeof(b->s))
		b->len += snprintf(b->s + b->len, sizeof(b->s) - b->len, f, a);
}

static void put_int(struct buf *b, const char *f, int a)
{
	if (b->len < sizeof(b->s))
		b->len += snprintf(b->s + b->len, sizeof(b->s) - b->len, f, a);
}

static void put_memdev(struct buf *b, const struct vhc_object *o)
{
	unsigned int i;

	for (i = 0; i < o->n_memdev; i++)
		put(b, ",memdev=%s", o->memdev[i]);
}

/* Ranges of nodes: ",host-nodes=0-1,host-nodes=3". */
static void put_nodes(struct buf *b, uint64_t nodes)
{
	int a, e;

	for (a = 0; a < 64; a++) {
		if (!(nodes >> a & 1))
			continue;
		for (e = a; e < 63 && (nodes >> (e + 1) & 1); e++)
			;
		put(b, "%s", ",host-nodes=");
		put_int(b, "%d", a);
		if (e > a)
			put_int(b, "-%d", e);
		a = e;
	}
}

char *vhc_object_arg(const struct vhc_object *o)
{
	struct buf b = { .len = 0 };

	put(&b, "vmhint,id=%s", VHC_OBJECT_ID);
	put_memdev(&b, o);
	put(&b, ",mode=%s", o->mode);
	if (o->dedupe) {
		put(&b, "%s", ",dedupe=on");
		if (o->dedupe_table)
			put(&b, ",dedupe-table=%s", o->dedupe_table);
	}
	if (o->numa_policy && strcmp(o->numa_policy, "default")) {
		put(&b, ",numa-policy=%s", o->numa_policy);
		put_nodes(&b, o->numa_nodes);
	}
	if (b.len >= sizeof(b.s))
		return NULL;
	return strdup(b.s);
}

static char *fmt(const char *f, const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, f, a, b) < 0)
		return NULL;
	return s;
}

char *vhc_device_arg(const char *bus, const char *addr)
{
	return fmt("virtio-hint-pci,id=" VHC_DEVICE_ID ",vmhint=" VHC_OBJECT_ID
		   ",bus=%s,addr=%s", bus, addr);
}

char *vhc_chardev_arg(const char *path)
{
	/* QEMU's option parser takes ",," for a comma in a value. */
	if (strchr(path, ','))
		return NULL;
	return fmt("socket,id=" VHC_CHARDEV_ID ",path=%s%s", path,
		   ",server=on,wait=off");
}

char *vhc_mon_arg(void)
{
	return strdup("chardev=" VHC_CHARDEV_ID ",mode=control");
}

static int starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

int vhc_is_our_arg(const char *flag, const char *value)
{
	if (!strcmp(flag, "-object"))
		return starts(value, "vmhint,id=" VHC_OBJECT_ID ",");
	if (!strcmp(flag, "-device"))
		return starts(value, "virtio-hint-pci,id=" VHC_DEVICE_ID ",");
	if (!strcmp(flag, "-chardev"))
		return starts(value, "socket,id=" VHC_CHARDEV_ID ",");
	if (!strcmp(flag, "-mon"))
		return starts(value, "chardev=" VHC_CHARDEV_ID ",");
	return 0;
}
