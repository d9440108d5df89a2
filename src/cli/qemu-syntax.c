// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The QEMU command-line syntax of the vmhint object and its device, in one
 * place (see qemu-syntax.h).
 *
 * The object is given as JSON (-object '{"qom-type":"vmhint",...}'), as
 * libvirt gives its own objects: typed values need no escaping of commas,
 * and list-valued properties have one obvious form.
 *
 * VHC_MEMDEV_LIST selects how the memdev and host-nodes lists are spelled:
 *   0  memdev is a string of IDs separated by ':' and host-nodes a string
 *      "0:2-3" (qemu-patches/0002, 0006 as of vmhint 0.1)
 *   1  memdev is a QOM list of IDs (JSON array) and host-nodes a list of
 *      node numbers, as for memory-backend's host-nodes (HostMemPolicy)
 * numa-policy takes the same names either way (default, preferred, bind,
 * interleave: HostMemPolicy's).
 */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-syntax.h"

#ifndef VHC_MEMDEV_LIST
#define VHC_MEMDEV_LIST 0
#endif

static struct json_object *memdev_value(const struct vhc_object *o)
{
	struct json_object *v;
	unsigned int i;

	if (VHC_MEMDEV_LIST) {
		v = json_object_new_array();
		for (i = 0; v && i < o->n_memdev; i++)
			json_object_array_add(v, json_object_new_string(o->memdev[i]));
		return v;
	}
	{
		char buf[VHC_MAX_MEMDEVS * 64] = "";
		size_t len = 0;

		for (i = 0; i < o->n_memdev; i++)
			len += snprintf(buf + len, sizeof(buf) - len, "%s%s",
					i ? ":" : "", o->memdev[i]);
		if (len >= sizeof(buf))
			return NULL;
		return json_object_new_string(buf);
	}
}

/* Ranges of set bits, "a-b" or "a", joined by SEP. */
static void nodes_string(uint64_t nodes, char sep, char *buf, size_t size)
{
	size_t len = 0;
	int a, b;

	buf[0] = '\0';
	for (a = 0; a < 64; a++) {
		if (!(nodes >> a & 1))
			continue;
		for (b = a; b < 63 && (nodes >> (b + 1) & 1); b++)
			;
		if (len)
			len += snprintf(buf + len, size - len, "%c", sep);
		if (a == b)
			len += snprintf(buf + len, size - len, "%d", a);
		else
			len += snprintf(buf + len, size - len, "%d-%d", a, b);
		a = b;
	}
}

static struct json_object *nodes_value(uint64_t nodes)
{
	char buf[256];

	if (VHC_MEMDEV_LIST) {
		struct json_object *v = json_object_new_array();
		int n;

		for (n = 0; v && n < 64; n++)
			if (nodes >> n & 1)
				json_object_array_add(v, json_object_new_int(n));
		return v;
	}
	nodes_string(nodes, ':', buf, sizeof(buf));
	return json_object_new_string(buf);
}

char *vhc_object_arg(const struct vhc_object *o)
{
	struct json_object *j = json_object_new_object();
	char *ret = NULL;

	if (!j)
		return NULL;
	json_object_object_add(j, "qom-type", json_object_new_string("vmhint"));
	json_object_object_add(j, "id", json_object_new_string(VHC_OBJECT_ID));
	json_object_object_add(j, "memdev", memdev_value(o));
	json_object_object_add(j, "mode", json_object_new_string(o->mode));
	if (o->dedupe) {
		json_object_object_add(j, "dedupe", json_object_new_boolean(1));
		if (o->dedupe_table)
			json_object_object_add(j, "dedupe-table",
					       json_object_new_string(o->dedupe_table));
	}
	if (o->numa_policy && strcmp(o->numa_policy, "default")) {
		json_object_object_add(j, "numa-policy",
				       json_object_new_string(o->numa_policy));
		json_object_object_add(j, "host-nodes", nodes_value(o->numa_nodes));
	}
	ret = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return ret;
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

static int is_our_object(const char *value)
{
	struct json_object *j = json_tokener_parse(value), *t, *id;
	int ours;

	if (!j)
		return 0;
	ours = json_object_object_get_ex(j, "qom-type", &t) &&
	       json_object_object_get_ex(j, "id", &id) &&
	       !strcmp(json_object_get_string(t), "vmhint") &&
	       !strcmp(json_object_get_string(id), VHC_OBJECT_ID);
	json_object_put(j);
	return ours;
}

int vhc_is_our_arg(const char *flag, const char *value)
{
	if (!strcmp(flag, "-object"))
		return is_our_object(value);
	if (!strcmp(flag, "-device"))
		return !strncmp(value, "virtio-hint-pci,id=" VHC_DEVICE_ID ",",
				strlen("virtio-hint-pci,id=" VHC_DEVICE_ID ","));
	if (!strcmp(flag, "-chardev"))
		return !strncmp(value, "socket,id=" VHC_CHARDEV_ID ",",
				strlen("socket,id=" VHC_CHARDEV_ID ","));
	if (!strcmp(flag, "-mon"))
		return !strncmp(value, "chardev=" VHC_CHARDEV_ID ",",
				strlen("chardev=" VHC_CHARDEV_ID ","));
	return 0;
}
