/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhintctl's edits of a libvirt domain XML (libxml2 only, no libvirt):
 * what attach adds and detach removes. Errors are written to err as one
 * sentence for "error: ..." and the functions return -1; the document is
 * left unchanged then.
 */
#ifndef VHC_DOMXML_H
#define VHC_DOMXML_H

#include <libxml/tree.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

/* The metadata namespace of per-domain vmhint policy. */
#define VHC_NS_URI	"urn:vmhint:domain:1"
#define VHC_NS_PREFIX	"vmhint"
#define VHC_QEMU_NS_URI	"http://libvirt.org/schemas/domain/qemu/1.0"

/* Where attach puts the QMP socket by default: DIR/UUID.qmp. */
#define VHC_QMP_DIR	"/var/lib/libvirt/qemu/vmhint"

struct vhc_policy {
	const char *mode;		/* "sync" (default) or "lazy" */
	int active;			/* active reporting: 0 or 1 */
	const char *dedupe_table;	/* "/vmhint-NAME": dedupe on; NULL: off */
	const char *numa_policy;	/* default preferred bind interleave */
	uint64_t numa_nodes;		/* host nodes, bit n = node n */
	const char *qmp_path;		/* NULL: VHC_QMP_DIR/UUID.qmp */
};

struct vhc_err {
	char msg[512];
};

/* 1 if DOC has what attach adds, 0 if not. */
int vhc_xml_attached(xmlDocPtr doc);
/* Adds (or replaces) vmhint's parts; 0 or -1. */
int vhc_xml_attach(xmlDocPtr doc, const struct vhc_policy *p, struct vhc_err *e);
/* Removes them; 0, or -1 if there are none. */
int vhc_xml_detach(xmlDocPtr doc, struct vhc_err *e);
/* The QMP socket path attach chose (into buf), 0 or -1. */
int vhc_xml_qmp_path(xmlDocPtr doc, char *buf, size_t size);

#endif
