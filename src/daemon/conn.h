/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhintd's one connection to libvirt (conf uri): keepalive, a close
 * callback, reconnection with a backoff (0.5 s doubling up to
 * reconnect_max), and the domain events registered anew on every
 * connection. It knows nothing of domains: what to do on a connection and
 * on an event is the caller's (ops).
 */
#ifndef VHD_CONN_H
#define VHD_CONN_H

#include <libvirt/libvirt.h>
#include <stdbool.h>

#include "conf.h"

struct vhd_conn_ops {
	/* A (new) connection with the events registered: list and reconcile. */
	void (*connected)(virConnectPtr conn, void *opaque);
	/* The connection is gone: drop every virDomainPtr of it now. */
	void (*disconnected)(void *opaque);
	void (*lifecycle)(virDomainPtr dom, int event, int detail, void *opaque);
	/* Metadata of @dom changed (VIR_DOMAIN_METADATA_ELEMENT, VHP_NS_URI). */
	void (*metadata)(virDomainPtr dom, void *opaque);
};

/* Connect (or start retrying): 0, or -1 if the event loop refuses. */
int vhd_conn_start(const struct vhd_conf *conf, const struct vhd_conn_ops *ops,
		   void *opaque);
/* New keepalive and backoff settings (SIGHUP); the URI needs a restart. */
void vhd_conn_reconf(const struct vhd_conf *conf);
void vhd_conn_stop(void);

/* The connection, NULL while there is none. */
virConnectPtr vhd_conn_get(void);
const char *vhd_conn_uri(void);
/* Connections made since start (the first one included). */
unsigned int vhd_conn_generation(void);

#endif
