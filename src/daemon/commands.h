/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control commands (vmhintd(8), PROTOCOL): one parsed request in, one
 * reply object out, possibly later (after QEMU answered). They know
 * nothing of sockets: the reply goes to ctx->done(), which the control
 * socket provides.
 */
#ifndef VHD_COMMANDS_H
#define VHD_COMMANDS_H

#include <json-c/json.h>

#include "conf.h"
#include "ksm-owner.h"
#include "request.h"

struct vhd_cmd_ctx {
	/* Takes the reply ({"return":...} or {"error":...}, with "id" if
	 * the request had one). Called exactly once per vhd_cmd_run(),
	 * maybe before it returns; @ctx is not touched afterwards. */
	void (*done)(struct vhd_cmd_ctx *ctx, json_object *reply);
	char id[VHD_REQ_ID_MAX];	/* the request's "id" as JSON text */
};

void vhd_commands_init(const struct vhd_conf *conf, struct vhd_ksm *ksm);

void vhd_cmd_run(struct vhd_cmd_ctx *ctx, const struct vhd_request *r);

/* An error reply for @ctx (its "id" included); a new reference. The
 * control socket uses it for requests that do not parse. */
json_object *vhd_cmd_error_reply(const char *id, const char *eclass,
				 const char *desc, const char *hint);

#endif
