// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The libvirt connection (conn.h). libvirtd may restart at any time: its
 * close callback (or a keepalive timeout, which libvirt reports the same
 * way) only schedules the reconnection, which runs from a timer, outside
 * libvirt's own callback, and backs off while libvirtd is away.
 */
#include "config.h"

#include <stdlib.h>
#include <libvirt/virterror.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "policy/policy.h"
#include "util.h"

#define BACKOFF_FIRST_MS	500

static struct {
	char uri[256];
	uint32_t ka_interval, ka_count, backoff_max;
	const struct vhd_conn_ops *ops;
	void *opaque;

	virConnectPtr conn;
	int ev_lifecycle, ev_metadata;
	int timer;		/* reconnect */
	uint32_t backoff;	/* next delay */
	unsigned int generation;
	bool logged_down;	/* "cannot connect" logged once per outage */
} c = { .timer = -1, .ev_lifecycle = -1, .ev_metadata = -1 };

/*
 * libvirt's errors: its default handler prints every one to stderr, also
 * those we expect (a domain that vanished between two calls). Callers log
 * what matters themselves, with virGetLastErrorMessage().
 */
static void conn_error(void *opaque, virErrorPtr err)
{
	vhd_debug("libvirt: %s", err && err->message ? err->message : "?");
}

static void conn_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			   int detail, void *opaque)
{
	c.ops->lifecycle(dom, event, detail, c.opaque);
}

static void conn_metadata(virConnectPtr conn, virDomainPtr dom, int type,
			  const char *nsuri, void *opaque)
{
	if (type != VIR_DOMAIN_METADATA_ELEMENT || !nsuri ||
	    strcmp(nsuri, VHP_NS_URI))
		return;
	c.ops->metadata(dom, c.opaque);
}

static void conn_schedule(int ms)
{
	virEventUpdateTimeout(c.timer, (int)ms);
}

/* libvirt's close callback: only note it; the timer reconnects. */
static void conn_closed(virConnectPtr conn, int reason, void *opaque)
{
	static const char *const why[] = {
		[VIR_CONNECT_CLOSE_REASON_ERROR] = "an error",
		[VIR_CONNECT_CLOSE_REASON_EOF] = "libvirtd went away",
		[VIR_CONNECT_CLOSE_REASON_KEEPALIVE] = "keepalive timeout",
		[VIR_CONNECT_CLOSE_REASON_CLIENT] = "closed by us",
	};

	if (conn != c.conn)
		return;
	vhd_warn("libvirt connection to %s closed: %s; reconnecting", c.uri,
		 reason >= 0 && reason <= VIR_CONNECT_CLOSE_REASON_CLIENT ?
		 why[reason] : "unknown reason");
	conn_schedule(0);
}

/* Forget the connection: events, close callback, the domains' pointers. */
static void conn_drop(void)
{
	if (!c.conn)
		return;
	c.ops->disconnected(c.opaque);
	if (c.ev_lifecycle >= 0)
		virConnectDomainEventDeregisterAny(c.conn, c.ev_lifecycle);
	if (c.ev_metadata >= 0)
		virConnectDomainEventDeregisterAny(c.conn, c.ev_metadata);
	c.ev_lifecycle = c.ev_metadata = -1;
	virConnectUnregisterCloseCallback(c.conn, conn_closed);
	virConnectClose(c.conn);
	c.conn = NULL;
}

static int conn_register(void)
{
	c.ev_lifecycle = virConnectDomainEventRegisterAny(c.conn, NULL,
			VIR_DOMAIN_EVENT_ID_LIFECYCLE,
			VIR_DOMAIN_EVENT_CALLBACK(conn_lifecycle), NULL, NULL);
	c.ev_metadata = virConnectDomainEventRegisterAny(c.conn, NULL,
			VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
			VIR_DOMAIN_EVENT_CALLBACK(conn_metadata), NULL, NULL);
	if (c.ev_lifecycle < 0 || c.ev_metadata < 0)
		return -1;
	if (virConnectRegisterCloseCallback(c.conn, conn_closed, NULL, NULL))
		return -1;
	if (c.ka_interval &&
	    virConnectSetKeepAlive(c.conn, (int)c.ka_interval, c.ka_count) < 0)
		vhd_warn("libvirt keepalive not set: %s",
			 virGetLastErrorMessage());
	return 0;
}

static bool conn_open(void)
{
	c.conn = virConnectOpen(c.uri);
	if (!c.conn) {
		if (!c.logged_down)
			vhd_warn("cannot connect to libvirt at %s: %s; retrying "
				 "(up to every %u ms)", c.uri,
				 virGetLastErrorMessage(), c.backoff_max);
		c.logged_down = true;
		return false;
	}
	if (conn_register()) {
		vhd_warn("libvirt %s: cannot register events: %s", c.uri,
			 virGetLastErrorMessage());
		conn_drop();
		return false;
	}
	c.generation++;
	c.logged_down = false;
	c.backoff = BACKOFF_FIRST_MS;
	vhd_notice("connected to libvirt at %s", c.uri);
	c.ops->connected(c.conn, c.opaque);
	return true;
}

static void conn_timer(int timer, void *opaque)
{
	conn_schedule(-1);
	conn_drop();
	if (conn_open())
		return;
	conn_schedule((int)c.backoff);
	c.backoff = c.backoff * 2 > c.backoff_max ? c.backoff_max : c.backoff * 2;
}

static void conn_setconf(const struct vhd_conf *conf)
{
	c.ka_interval = conf->keepalive_interval;
	c.ka_count = conf->keepalive_count;
	c.backoff_max = conf->reconnect_max_ms < BACKOFF_FIRST_MS ?
			BACKOFF_FIRST_MS : conf->reconnect_max_ms;
}

int vhd_conn_start(const struct vhd_conf *conf, const struct vhd_conn_ops *ops,
		   void *opaque)
{
	snprintf(c.uri, sizeof(c.uri), "%s", conf->uri);
	conn_setconf(conf);
	c.ops = ops;
	c.opaque = opaque;
	c.backoff = BACKOFF_FIRST_MS;
	virSetErrorFunc(NULL, conn_error);
	c.timer = virEventAddTimeout(-1, conn_timer, NULL, NULL);
	if (c.timer < 0)
		return -1;
	/* Not connecting yet is no startup error: libvirtd may come later. */
	if (!conn_open())
		conn_schedule((int)c.backoff);
	return 0;
}

void vhd_conn_reconf(const struct vhd_conf *conf)
{
	conn_setconf(conf);
	if (strcmp(conf->uri, c.uri))
		vhd_warn("uri changed to %s: vmhintd keeps %s until restarted",
			 conf->uri, c.uri);
	if (c.conn && c.ka_interval)
		virConnectSetKeepAlive(c.conn, (int)c.ka_interval, c.ka_count);
}

void vhd_conn_stop(void)
{
	conn_drop();
	if (c.timer >= 0)
		virEventRemoveTimeout(c.timer);
	c.timer = -1;
}

virConnectPtr vhd_conn_get(void)
{
	return c.conn;
}

const char *vhd_conn_uri(void)
{
	return c.uri;
}

unsigned int vhd_conn_generation(void)
{
	return c.generation;
}
