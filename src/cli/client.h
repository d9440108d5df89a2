/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhintctl's client of vmhintd's control socket (vmhintd(8), PROTOCOL):
 * one JSON object a line each way. Every failure is reported once, on
 * stderr, as "error: ..." (and "hint: ..." when there is a next step), the
 * way virsh reports them; callers then just exit 1.
 */
#ifndef VHC_CLIENT_H
#define VHC_CLIENT_H

#include <json-c/json.h>
#include <stddef.h>

#define VHC_SOCKET_DEFAULT	"/run/vmhint/vmhintd.sock"
#define VHC_SOCKET_ENV		"VMHINTD_SOCKET"
/*
 * Longest reply line accepted, newline included. A stats reply carries
 * query-vmhint's return (a few KiB a vmhint object) and a list reply one
 * entry per domain: 4 MiB is far above both, and bounds what a confused
 * peer can make us buffer.
 */
#define VHC_REPLY_MAX		(4u << 20)
/* How long to wait for a reply: the daemon answers after QMP did. */
#define VHC_REPLY_TIMEOUT_MS	60000

struct vhc_client {
	int fd;
	const char *path;
	char *buf;		/* bytes read and not yet used */
	size_t len, cap;
	long long next_id;	/* "id" of the next request */
};

void vhc_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vhc_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The socket to use: @opt (-s), else $VMHINTD_SOCKET, else the default. */
const char *vhc_socket_path(const char *opt);

/* Connect to @path. Return: 0, or -1 with the error printed. */
int vhc_connect(struct vhc_client *c, const char *path);
/* Use @fd, a connected socket (the client owns it), named @path in errors. */
void vhc_attach(struct vhc_client *c, int fd, const char *path);
void vhc_close(struct vhc_client *c);

/*
 * vhc_call() - send @req (consumed: its reference is dropped) and read
 * its reply.
 * Return: the reply's "return" object (a new reference, json_object_put
 * it), or NULL with the error printed: the daemon's {"error":...} as
 * "error: DESC" + "hint: HINT", or a reply that is too long, not JSON,
 * not an object, or neither a return nor an error.
 */
struct json_object *vhc_call(struct vhc_client *c, struct json_object *req);

/* A request {"cmd":CMD} with "domain":DOMAIN if @domain is not NULL. */
struct json_object *vhc_request(const char *cmd, const char *domain);

#endif
