/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An asynchronous QMP client on libvirt's event loop: one per domain, on
 * the QMP socket its vmhint policy names (not libvirt's own monitor).
 *
 * QEMU is not trusted: every line it sends is bounded, a line that does
 * not parse, a reply that matches no call, a hang-up or a call that gets
 * no answer in time all close the connection. Calls still pending then
 * get their callback once, with an error, so whoever waits for them can
 * answer its own client; no callback ever runs twice or after
 * vhd_qmp_free().
 */
#ifndef VHD_QMP_H
#define VHD_QMP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct vhd_qmp;

/* Error classes a callback may see besides QMP's own ("GenericError"...). */
#define VHD_QMP_ENOTCONN	"NotConnected"	/* closed before the answer */

/*
 * The answer to one call: @ret is QMP's "return" (borrowed: take a
 * reference to keep it) and @eclass NULL, or @ret NULL and @eclass/@edesc
 * the error (QMP's class and desc, or VHD_QMP_ENOTCONN).
 */
typedef void (*vhd_qmp_cb)(struct vhd_qmp *q, json_object *ret,
			   const char *eclass, const char *edesc, void *opaque);

struct vhd_qmp_ops {
	/* Greeting and qmp_capabilities done: calls may go out. */
	void (*ready)(struct vhd_qmp *q, void *opaque);
	/* An asynchronous event; @data may be NULL. */
	void (*event)(struct vhd_qmp *q, const char *name, json_object *data,
		      void *opaque);
	/* The connection is gone (@why says why); pending calls have had
	 * their callbacks. vhd_qmp_connect() may be called again. */
	void (*closed)(struct vhd_qmp *q, const char *why, void *opaque);
};

struct vhd_qmp *vhd_qmp_new(const char *path, uint32_t timeout_ms,
			    const struct vhd_qmp_ops *ops, void *opaque);
/* Closes (pending calls get VHD_QMP_ENOTCONN, closed() is not called)
 * and frees. Safe from inside one of its own callbacks. NULL is fine. */
void vhd_qmp_free(struct vhd_qmp *q);

/* Start connecting: 0, or -errno now (nothing listens, no socket...).
 * ready() or closed() follow from the event loop. */
int vhd_qmp_connect(struct vhd_qmp *q);
/* Close now, as a hang-up would (closed() is called with @why). */
void vhd_qmp_close(struct vhd_qmp *q, const char *why);

bool vhd_qmp_is_ready(const struct vhd_qmp *q);
/* QEMU's pid from SO_PEERCRED of the socket; 0 if not connected. */
pid_t vhd_qmp_pid(const struct vhd_qmp *q);
const char *vhd_qmp_path(const struct vhd_qmp *q);
/* Connections closed on QEMU's fault (bad line, timeout, hang-up). */
unsigned int vhd_qmp_errors(const struct vhd_qmp *q);

/*
 * vhd_qmp_call() - send "execute": @cmd with @args (a JSON object, whose
 * reference the call takes; NULL for none). @cb runs exactly once, from
 * the event loop, never from inside this call.
 * Return: 0, or -ENOTCONN (not ready) / -ENOMEM: @cb will not run.
 */
int vhd_qmp_call(struct vhd_qmp *q, const char *cmd, json_object *args,
		 vhd_qmp_cb cb, void *opaque);

#endif
