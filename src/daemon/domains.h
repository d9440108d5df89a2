/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The managed domain table: every domain libvirt knows (persistent or
 * running), its last valid vmhint policy, its QMP connection while it
 * runs, and what QEMU last said of its vmhint objects. Lifecycle and
 * metadata events keep it current; a new libvirt connection reconciles
 * it (domains that still run keep their QMP connection). The policy is
 * applied live where QEMU can change it: mode and dedupe.
 */
#ifndef VHD_DOMAINS_H
#define VHD_DOMAINS_H

#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <sys/types.h>

#include "conf.h"
#include "ksm-owner.h"
#include "policy/policy.h"

struct vhd_domain;

/*
 * The end of an asynchronous domain operation: @ret (borrowed) on
 * success, or @eclass and @edesc (a protocol error class: "QmpError",
 * "NotConnected"...). Runs exactly once, possibly before the call that
 * started the operation returned.
 */
typedef void (*vhd_domain_cb)(json_object *ret, const char *eclass,
			      const char *edesc, void *opaque);

/* Start: connect to libvirt (conn.c), poll every conf->poll_interval_ms,
 * hand the dedupe tables in use to @ksm. */
int vhd_domains_start(const struct vhd_conf *conf, struct vhd_ksm *ksm);
/* SIGHUP: new settings, and every domain's policy read again. */
void vhd_domains_reload(const struct vhd_conf *conf);
void vhd_domains_stop(void);

/* Whether vmhintd has a libvirt connection now. */
bool vhd_domains_connected(void);

/* A domain by name, UUID or numeric ID (as virsh takes them); NULL. */
struct vhd_domain *vhd_domain_find(const char *spec);
/* The list command's "domains" array; a new reference. */
json_object *vhd_domains_list(void);
/* One domain as list shows it; a new reference. */
json_object *vhd_domain_json(const struct vhd_domain *d);
/* The policy object of stats; a new reference. */
json_object *vhd_domain_policy_json(const struct vhd_domain *d);

const char *vhd_domain_name(const struct vhd_domain *d);
const char *vhd_domain_uuid(const struct vhd_domain *d);
/* virDomainState; VIR_DOMAIN_NOSTATE while libvirt is away. */
int vhd_domain_state(const struct vhd_domain *d);
const char *vhd_domain_state_name(int state);
bool vhd_domain_active(const struct vhd_domain *d);
bool vhd_domain_persistent(const struct vhd_domain *d);
/* The libvirt handle, NULL while libvirt is away. */
virDomainPtr vhd_domain_virdom(const struct vhd_domain *d);
/* The last valid policy, NULL if the domain has none (not attached, or
 * only invalid metadata). */
const struct vhp_policy *vhd_domain_policy(const struct vhd_domain *d);
bool vhd_domain_nosharepages(const struct vhd_domain *d);
/* QEMU's pid while QMP is connected, else 0. */
pid_t vhd_domain_pid(const struct vhd_domain *d);
bool vhd_domain_qmp_ready(const struct vhd_domain *d);

/*
 * vhd_domain_write_policy() - write @p into the domain's metadata
 * (virDomainSetMetadata, VIR_DOMAIN_AFFECT_* from @affect, VHD_AFFECT_*
 * as request.h has them; 0: live if running, plus config if persistent)
 * and make it the domain's policy.
 * Return: 0, or -1 with @err (libvirt's message).
 */
int vhd_domain_write_policy(struct vhd_domain *d, const struct vhp_policy *p,
			    unsigned int affect, char *err, size_t errsz);

/* Apply the domain's policy over QMP (what differs from what QEMU
 * reports); @cb gets an empty object once QEMU answered. */
void vhd_domain_apply(struct vhd_domain *d, vhd_domain_cb cb, void *opaque);

/*
 * vhd_domain_call_all() - @cmd for every vmhint object of the domain,
 * with @args (borrowed; "id" is added per object; NULL for none). @cb
 * gets an array of the returns, in object order, or the first error.
 */
void vhd_domain_call_all(struct vhd_domain *d, const char *cmd,
			 json_object *args, vhd_domain_cb cb, void *opaque);

/* A fresh query-vmhint: @cb gets QEMU's return array. */
void vhd_domain_query(struct vhd_domain *d, vhd_domain_cb cb, void *opaque);

#endif
