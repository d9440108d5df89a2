/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The per-domain vmhint policy, as a libvirt domain keeps it in its
 * <metadata> under the namespace urn:vmhint:domain:1 (vmhint-libvirt(7)).
 * vmhintctl writes it (attach, set-mode, dedupe) and vmhintd reads and
 * applies it, so both use this one parser and one formatter. libxml2 only.
 *
 * Everything parsed here is hostile input (domain XML anyone with
 * libvirt's write access can change): every value is checked, a bad one
 * gives -1 and one sentence naming the element and the value, and the
 * caller's policy is left as it was.
 */
#ifndef VHP_POLICY_H
#define VHP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VHP_NS_URI	"urn:vmhint:domain:1"
#define VHP_NS_PREFIX	"vmhint"
#define VHP_ELEMENT	"vmhint"		/* <vmhint:vmhint> */

#define VHP_TABLE_MAX	80	/* "/vmhint-" + up to 64 + NUL, rounded up */
#define VHP_PATH_MAX	108	/* sizeof(sun_path) */
#define VHP_ERR_MAX	256

enum vhp_mode { VHP_MODE_SYNC = 0, VHP_MODE_LAZY = 1 };

enum vhp_numa {
	VHP_NUMA_DEFAULT = 0,
	VHP_NUMA_PREFERRED,
	VHP_NUMA_BIND,
	VHP_NUMA_INTERLEAVE,
};

struct vhp_policy {
	enum vhp_mode mode;		/* <vmhint:mode> */
	bool active_reporting;		/* <vmhint:active-reporting enabled=> */
	bool dedupe;			/* <vmhint:dedupe enabled=> */
	char dedupe_table[VHP_TABLE_MAX];	/* its table=, "/vmhint-NAME" or "" */
	enum vhp_numa numa_policy;	/* <vmhint:numa policy=> */
	uint64_t numa_nodes;		/* its nodes=, bit n = host node n */
	char qmp_socket[VHP_PATH_MAX];	/* <vmhint:qmp socket=>, "" if none */
};

/* The defaults: sync, no active reporting, no dedupe, NUMA default. */
void vhp_policy_init(struct vhp_policy *p);

/*
 * vhp_policy_parse() - read the <vmhint:vmhint> element from @xml: a
 * whole domain XML (the element inside its <metadata>), or the element
 * alone as virDomainGetMetadata() returns it (libvirt 9.0 returns it
 * without its namespace: a root <vmhint> in no namespace is taken as
 * ours, with children in no namespace either).
 * Return: 1 and *@p filled (missing children take the defaults); 0 if
 * @xml has no such element (*@p untouched); -1 for XML that does not
 * parse or a bad value (@err says which; *@p untouched).
 */
int vhp_policy_parse(const char *xml, size_t len, struct vhp_policy *p,
		     char *err, size_t errsz);

/* The rules between fields (preferred takes one node, bind and interleave
 * need nodes, default takes none, a dedupe table is a valid name):
 * 0, or -1 with @err. vhp_policy_parse() applies them too. */
int vhp_policy_check(const struct vhp_policy *p, char *err, size_t errsz);

/*
 * vhp_policy_format() - the element for @p, as text (with its xmlns and
 * the vmhint: prefix), to insert into a domain XML. malloc'ed; NULL if
 * out of memory.
 */
char *vhp_policy_format(const struct vhp_policy *p);

/*
 * vhp_policy_format_metadata() - the same element as
 * virDomainSetMetadata(VIR_DOMAIN_METADATA_ELEMENT, xml, VHP_NS_PREFIX,
 * VHP_NS_URI, ...) takes it: no namespace declaration and no prefixes
 * (libvirt 9.0 refuses a declaration and puts every element into the
 * namespace itself). malloc'ed; NULL if out of memory.
 */
char *vhp_policy_format_metadata(const struct vhp_policy *p);

/* Whether the domain XML @xml has <memoryBacking><nosharepages/>: 1, 0,
 * or -1 if it does not parse. Such a domain never gets dedupe. */
int vhp_domain_nosharepages(const char *xml, size_t len);

/* Host node lists as virsh numatune writes them ("0-1,3"), nodes < 64:
 * 0 or -1. */
int vhp_nodes_parse(const char *s, uint64_t *nodes);
void vhp_nodes_format(uint64_t nodes, char *buf, size_t size);

/* "NAME" or "/vmhint-NAME" (NAME: 1..64 of A-Z a-z 0-9 _ - .) into
 * "/vmhint-NAME" in @out: 0, or -1 for an invalid name. */
int vhp_table_name(const char *s, char *out, size_t size);

/* Names as the XML spells them; "unknown" for other values. */
const char *vhp_mode_name(enum vhp_mode m);
const char *vhp_numa_name(enum vhp_numa n);
/* Their inverses: 0, or -1 for an unknown name. */
int vhp_mode_from_name(const char *s, enum vhp_mode *m);
int vhp_numa_from_name(const char *s, enum vhp_numa *n);

#endif
