// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What vmhintctl attach adds to a libvirt domain XML, and detach removes:
 *
 *   <qemu:commandline>   -object vmhint (over the domain's RAM backends, by
 *                        the IDs libvirt gives them), -device
 *                        virtio-hint-pci at a reserved address, and a QMP
 *                        socket (-chardev socket + -mon) for vmhintd
 *   <metadata>           <vmhint:vmhint> with the domain's policy
 *
 * Only these; nothing else of the domain is touched, so detach gives back
 * the XML attach started from.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domxml.h"
#include "qemu-syntax.h"

static int fail(struct vhc_err *e, const char *f, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct vhc_err *e, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(e->msg, sizeof(e->msg), f, ap);
	va_end(ap);
	return -1;
}

static int is_elem(xmlNodePtr n, const char *name, const char *ns_uri)
{
	if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name))
		return 0;
	if (!ns_uri)
		return !n->ns;
	return n->ns && n->ns->href && !strcmp((const char *)n->ns->href, ns_uri);
}

/* First child element NAME in namespace NS_URI (NULL: none). */
static xmlNodePtr child(xmlNodePtr parent, const char *name, const char *ns_uri)
{
	xmlNodePtr n;

	for (n = parent ? parent->children : NULL; n; n = n->next)
		if (is_elem(n, name, ns_uri))
			return n;
	return NULL;
}

static int has_elem_children(xmlNodePtr n)
{
	for (n = n->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return 1;
	return 0;
}

/* An attribute's value in a static buffer ("" when missing). */
static const char *attr(xmlNodePtr n, const char *name, char *buf, size_t size)
{
	xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;

	snprintf(buf, size, "%s", v ? (const char *)v : "");
	xmlFree(v);
	return buf;
}

static void drop(xmlNodePtr n)
{
	xmlUnlinkNode(n);
	xmlFreeNode(n);
}

static xmlNodePtr domain_root(xmlDocPtr doc, struct vhc_err *e)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);

	if (!root || !is_elem(root, "domain", NULL)) {
		fail(e, "not a libvirt domain XML (no <domain> root element)");
		return NULL;
	}
	return root;
}

/* --- memory backends, named as libvirt names them --- */

struct memdevs {
	char names[VHC_MAX_MEMDEVS][80];
	unsigned int n;
};

static int add_name(struct memdevs *m, struct vhc_err *e, const char *f,
		    const char *a)
{
	if (m->n == VHC_MAX_MEMDEVS)
		return fail(e, "more than %d memory backends", VHC_MAX_MEMDEVS);
	if (snprintf(m->names[m->n], sizeof(m->names[0]), f, a) >=
	    (int)sizeof(m->names[0]))
		return fail(e, "memory backend name too long");
	m->n++;
	return 0;
}

static int mem_size_nonzero(xmlNodePtr n)
{
	xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
	int ok = v && strtoull((const char *)v, NULL, 10) > 0;

	xmlFree(v);
	return ok;
}

/*
 * Guest NUMA: one backend per cell with memory, ram-node<id>. Without
 * cells: pc.ram (libvirt passes -machine memory-backend=pc.ram, whatever
 * the backing: ram, memfd, file for hugepages).
 */
static int ram_backends(xmlNodePtr root, struct memdevs *m, struct vhc_err *e)
{
	xmlNodePtr numa = child(child(root, "cpu", NULL), "numa", NULL), c;
	char buf[64], idx[16];
	unsigned int i = 0;

	for (c = numa ? numa->children : NULL; c; c = c->next) {
		if (!is_elem(c, "cell", NULL))
			continue;
		attr(c, "id", idx, sizeof(idx));
		if (!idx[0])
			snprintf(idx, sizeof(idx), "%u", i);
		i++;
		if (strtoull(attr(c, "memory", buf, sizeof(buf)), NULL, 10) == 0)
			continue;
		if (add_name(m, e, "ram-node%s", idx))
			return -1;
	}
	if (i)
		return m->n ? 0 : fail(e, "no guest NUMA cell has memory");
	if (!mem_size_nonzero(child(root, "memory", NULL)))
		return fail(e, "domain XML has no <memory> (nothing to hint)");
	return add_name(m, e, "%s", "pc.ram");
}

/*
 * DIMMs: libvirt's alias is dimm<slot> (ua-NAME if the user gave one), the
 * backend mem<alias>. A DIMM without a slot yet gets the lowest free one,
 * in document order, as libvirt assigns them.
 */
static int dimm_backends(xmlNodePtr root, struct memdevs *m, struct vhc_err *e)
{
	xmlNodePtr devs = child(root, "devices", NULL), d, a;
	uint64_t used[4] = { 0 };
	char buf[128], slot[16];
	int pass, s;

	for (pass = 0; pass < 2; pass++) {
		for (d = devs ? devs->children : NULL; d; d = d->next) {
			if (!is_elem(d, "memory", NULL) ||
			    strcmp(attr(d, "model", buf, sizeof(buf)), "dimm"))
				continue;
			attr(child(d, "alias", NULL), "name", buf, sizeof(buf));
			a = child(d, "address", NULL);
			attr(a, "slot", slot, sizeof(slot));
			s = slot[0] ? (int)strtol(slot, NULL, 0) : -1;
			if (s >= 256)
				return fail(e, "DIMM slot %d out of range", s);
			if (pass == 0) {
				if (s >= 0)
					used[s / 64] |= 1ULL << (s % 64);
				continue;
			}
			if (!strncmp(buf, "ua-", 3)) {
				if (add_name(m, e, "mem%s", buf))
					return -1;
				continue;
			}
			if (s < 0) {
				for (s = 0; s < 256 && (used[s / 64] >> (s % 64) & 1); s++)
					;
				if (s == 256)
					return fail(e, "no free DIMM slot");
				used[s / 64] |= 1ULL << (s % 64);
			}
			snprintf(slot, sizeof(slot), "%d", s);
			if (add_name(m, e, "memdimm%s", slot))
				return -1;
		}
	}
	return 0;
}

/* --- the device address --- */

/*
 * The chipset's multifunction slot: libvirt reserves it whole for the
 * chipset (PIIX3 in slot 1 on pc, ICH9 in slot 0x1f on q35) and never
 * assigns a function of it to a device, at define or at hotplug. QEMU
 * takes another function there because function 0 is multifunction.
 */
static int device_address(xmlNodePtr root, const char **bus, const char **addr,
			  struct vhc_err *e)
{
	xmlNodePtr type = child(child(root, "os", NULL), "type", NULL);
	char machine[128], arch[32];

	attr(type, "machine", machine, sizeof(machine));
	attr(type, "arch", arch, sizeof(arch));
	if (arch[0] && strcmp(arch, "x86_64") && strcmp(arch, "i686"))
		return fail(e, "architecture '%s' is not supported (x86_64 only)", arch);
	if (strstr(machine, "q35")) {
		*bus = "pcie.0";
		*addr = "0x1f.0x7";
	} else if (!machine[0] || !strncmp(machine, "pc", 2)) {
		*bus = "pci.0";
		*addr = "0x1.0x7";
	} else {
		return fail(e, "machine type '%s' is not supported (pc or q35)", machine);
	}
	return 0;
}

/* --- what attach adds --- */

static xmlNsPtr qemu_ns(xmlDocPtr doc, xmlNodePtr root)
{
	xmlNsPtr ns = xmlSearchNsByHref(doc, root, (const xmlChar *)VHC_QEMU_NS_URI);
	const char *prefix = "qemu";

	if (ns)
		return ns;
	if (xmlSearchNs(doc, root, (const xmlChar *)prefix))
		prefix = "vmhintqemu";
	return xmlNewNs(root, (const xmlChar *)VHC_QEMU_NS_URI, (const xmlChar *)prefix);
}

static int add_args(xmlNodePtr cmd, xmlNsPtr ns, const char *flag, char *value)
{
	xmlNodePtr a;

	if (!value)
		return -1;
	a = xmlNewChild(cmd, ns, (const xmlChar *)"arg", NULL);
	xmlNewProp(a, (const xmlChar *)"value", (const xmlChar *)flag);
	a = xmlNewChild(cmd, ns, (const xmlChar *)"arg", NULL);
	xmlNewProp(a, (const xmlChar *)"value", (const xmlChar *)value);
	free(value);
	return 0;
}

static xmlNodePtr new_child(xmlNodePtr parent, xmlNsPtr ns, const char *name)
{
	return xmlNewChild(parent, ns, (const xmlChar *)name, NULL);
}

/*
 * <metadata><vmhint:vmhint>: the element policy.c formats (the one
 * vmhintd reads back), copied into the domain's document.
 */
static int add_metadata(xmlNodePtr root, const struct vhc_policy *p,
			int dedupe, const char *qmp)
{
	xmlNodePtr md = child(root, "metadata", NULL), v;
	struct vhp_policy pol;
	xmlDocPtr frag;
	char *text;

	vhp_policy_init(&pol);
	if (vhp_mode_from_name(p->mode, &pol.mode) ||
	    (p->numa_policy && vhp_numa_from_name(p->numa_policy, &pol.numa_policy)))
		return -1;	/* vmhintctl checked them */
	pol.active_reporting = p->active;
	pol.dedupe = dedupe;
	if (dedupe)
		snprintf(pol.dedupe_table, sizeof(pol.dedupe_table), "%s", p->dedupe_table);
	if (pol.numa_policy != VHP_NUMA_DEFAULT)
		pol.numa_nodes = p->numa_nodes;
	if (strlen(qmp) >= sizeof(pol.qmp_socket))
		return -1;	/* make_plan checked it */
	memcpy(pol.qmp_socket, qmp, strlen(qmp) + 1);
	text = vhp_policy_format(&pol);
	if (!text)
		return -1;
	frag = xmlReadMemory(text, (int)strlen(text), "vmhint.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	free(text);
	v = frag ? xmlDocCopyNode(xmlDocGetRootElement(frag), root->doc, 1) : NULL;
	xmlFreeDoc(frag);
	if (!v)
		return -1;
	if (!md)
		md = new_child(root, NULL, "metadata");
	xmlAddChild(md, v);
	return 0;
}

/* --- finding (and removing) what attach added --- */

/*
 * Counts (and with REMOVE, removes) the pairs of <qemu:arg> of ours: a flag
 * and its value. *foreign counts other arguments that name vmhint.
 */
static int cmdline_args(xmlNodePtr cmd, int remove, int *foreign)
{
	xmlNodePtr args[512], a;
	char prev[32] = "", value[4096];
	unsigned char ours[512] = { 0 };
	int n = 0, i, pairs = 0;

	for (a = cmd->children; a && n < 512; a = a->next)
		if (is_elem(a, "arg", VHC_QEMU_NS_URI))
			args[n++] = a;
	for (i = 0; i < n; i++) {
		attr(args[i], "value", value, sizeof(value));
		if (i && !ours[i - 1] && vhc_is_our_arg(prev, value)) {
			ours[i - 1] = ours[i] = 1;
			pairs++;
		}
		/* A flag is short; a long value is no flag. */
		if (snprintf(prev, sizeof(prev), "%s", value) >= (int)sizeof(prev))
			prev[0] = '\0';
	}
	for (i = 0; i < n; i++) {
		attr(args[i], "value", value, sizeof(value));
		if (!ours[i] && (strstr(value, "vmhint") || strstr(value, "virtio-hint")))
			(*foreign)++;
		if (ours[i] && remove)
			drop(args[i]);
	}
	return pairs;
}

static int our_args(xmlNodePtr root, int remove, int *foreign)
{
	xmlNodePtr cmd, next;
	int n = 0;

	*foreign = 0;
	for (cmd = root->children; cmd; cmd = next) {
		next = cmd->next;
		if (!is_elem(cmd, "commandline", VHC_QEMU_NS_URI))
			continue;
		n += cmdline_args(cmd, remove, foreign);
		if (remove && !has_elem_children(cmd))
			drop(cmd);
	}
	return n;
}

static int our_metadata(xmlNodePtr root, int remove)
{
	xmlNodePtr md = child(root, "metadata", NULL), v, next;
	int n = 0;

	for (v = md ? md->children : NULL; v; v = next) {
		next = v->next;
		if (!is_elem(v, "vmhint", VHC_NS_URI))
			continue;
		n++;
		if (remove)
			drop(v);
	}
	if (remove && md && !has_elem_children(md))
		drop(md);
	return n;
}

/* Does anything below N still use namespace NS? */
static int ns_used(xmlNodePtr n, xmlNsPtr ns)
{
	xmlAttrPtr a;

	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (n->ns == ns)
			return 1;
		for (a = n->properties; a; a = a->next)
			if (a->ns == ns)
				return 1;
		if (ns_used(n->children, ns))
			return 1;
	}
	return 0;
}

/* Drop the qemu namespace declaration once nothing uses it. */
static void drop_unused_qemu_ns(xmlNodePtr root)
{
	xmlNsPtr *pp = &root->nsDef, ns;

	while ((ns = *pp)) {
		if (ns->href && !strcmp((const char *)ns->href, VHC_QEMU_NS_URI) &&
		    !ns_used(root, ns)) {
			*pp = ns->next;
			ns->next = NULL;
			xmlFreeNs(ns);
			continue;
		}
		pp = &ns->next;
	}
}

int vhc_xml_attached(xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	int foreign;

	if (!root)
		return 0;
	return our_args(root, 0, &foreign) > 0 || our_metadata(root, 0) > 0;
}

int vhc_xml_detach(xmlDocPtr doc, struct vhc_err *e)
{
	xmlNodePtr root = domain_root(doc, e);
	int foreign, n;

	if (!root)
		return -1;
	n = our_args(root, 0, &foreign) + our_metadata(root, 0);
	if (!n)
		return fail(e, "domain has no vmhint configuration");
	our_args(root, 1, &foreign);
	our_metadata(root, 1);
	drop_unused_qemu_ns(root);
	return 0;
}

int vhc_xml_qmp_path(xmlDocPtr doc, char *buf, size_t size)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlNodePtr v = child(child(root, "metadata", NULL), "vmhint", VHC_NS_URI);

	attr(child(v, "qmp", VHC_NS_URI), "socket", buf, size);
	return buf[0] ? 0 : -1;
}

/* Everything attach needs from the domain, checked before any change. */
struct plan {
	struct memdevs m;
	struct vhc_object obj;
	const char *bus, *addr;
	char qmp[256];
};

static int make_plan(xmlNodePtr root, const struct vhc_policy *p,
		     struct plan *pl, struct vhc_err *e)
{
	xmlNodePtr backing = child(root, "memoryBacking", NULL);
	xmlChar *uuid;
	unsigned int i;
	int foreign;

	our_args(root, 0, &foreign);
	if (foreign)
		return fail(e, "<qemu:commandline> already has a vmhint object or device "
			    "that vmhintctl did not add; remove it first");
	if (ram_backends(root, &pl->m, e) || dimm_backends(root, &pl->m, e) ||
	    device_address(root, &pl->bus, &pl->addr, e))
		return -1;
	if (p->dedupe_table && child(backing, "nosharepages", NULL))
		return fail(e, "the domain has <memoryBacking><nosharepages/>: "
			    "no dedupe for it (remove nosharepages first)");
	if (p->qmp_path) {
		if (p->qmp_path[0] != '/' || strchr(p->qmp_path, ',') ||
		    strlen(p->qmp_path) >= 108)
			return fail(e, "bad QMP socket path '%s' (absolute, no comma, "
				    "under 108 bytes)", p->qmp_path);
		snprintf(pl->qmp, sizeof(pl->qmp), "%s", p->qmp_path);
	} else {
		uuid = xmlNodeGetContent(child(root, "uuid", NULL));
		if (!uuid || strlen((const char *)uuid) != 36 ||
		    strspn((const char *)uuid, "0123456789abcdefABCDEF-") != 36) {
			xmlFree(uuid);
			return fail(e, "domain XML has no valid <uuid> (needed for "
				    "the QMP socket's name)");
		}
		snprintf(pl->qmp, sizeof(pl->qmp), VHC_QMP_DIR "/%s.qmp", uuid);
		xmlFree(uuid);
	}
	memset(&pl->obj, 0, sizeof(pl->obj));
	for (i = 0; i < pl->m.n; i++)
		pl->obj.memdev[i] = pl->m.names[i];
	pl->obj.n_memdev = pl->m.n;
	pl->obj.mode = p->mode ? p->mode : "sync";
	pl->obj.dedupe = p->dedupe_table != NULL;
	pl->obj.dedupe_table = p->dedupe_table;
	pl->obj.numa_policy = p->numa_policy;
	pl->obj.numa_nodes = p->numa_nodes;
	return 0;
}

int vhc_xml_attach(xmlDocPtr doc, const struct vhc_policy *p, struct vhc_err *e)
{
	xmlNodePtr root = domain_root(doc, e), cmd;
	struct vhc_policy pol = *p;
	struct plan *pl;
	xmlNsPtr ns;
	int foreign, ret = -1;

	if (!root)
		return -1;
	pl = calloc(1, sizeof(*pl));
	if (!pl)
		return fail(e, "out of memory");
	if (!pol.mode)
		pol.mode = "sync";
	if (make_plan(root, &pol, pl, e))
		goto out;
	/* Attach again replaces what an earlier attach added. */
	our_args(root, 1, &foreign);
	our_metadata(root, 1);
	ns = qemu_ns(doc, root);
	cmd = NULL;
	for (cmd = root->children; cmd; cmd = cmd->next)
		if (is_elem(cmd, "commandline", VHC_QEMU_NS_URI))
			break;
	if (!cmd)
		cmd = new_child(root, ns, "commandline");
	else
		ns = cmd->ns;
	if (add_args(cmd, ns, "-object", vhc_object_arg(&pl->obj)) ||
	    add_args(cmd, ns, "-device", vhc_device_arg(pl->bus, pl->addr)) ||
	    add_args(cmd, ns, "-chardev", vhc_chardev_arg(pl->qmp)) ||
	    add_args(cmd, ns, "-mon", vhc_mon_arg())) {
		fail(e, "out of memory");
		goto out;
	}
	if (add_metadata(root, &pol, pl->obj.dedupe, pl->qmp)) {
		fail(e, "out of memory");
		goto out;
	}
	ret = 0;
out:
	free(pl);
	return ret;
}
