/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhintd's control requests, parsed and checked. The control socket
 * carries one JSON object a line each way (vmhintd(8), PROTOCOL); a
 * request comes from whoever may connect and is hostile input: its line
 * is bounded, every member is checked for type and range, and unknown
 * commands or members are refused with one sentence.
 */
#ifndef VHD_REQUEST_H
#define VHD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

/* Longest request line, newline included; longer ones are refused. */
#define VHD_REQ_MAX_LINE	4096
#define VHD_REQ_DOMAIN_MAX	256	/* name, UUID or ID, NUL included */
#define VHD_REQ_ID_MAX		64	/* the "id" member as JSON text */

enum vhd_req_cmd {
	VHD_REQ_VERSION = 0,	/* {"cmd":"version"} */
	VHD_REQ_LIST,		/* {"cmd":"list"} */
	VHD_REQ_STATS,		/* {"cmd":"stats","domain":D} */
	VHD_REQ_SET_MODE,	/* {"cmd":"set-mode","domain":D,"mode":"sync"|"lazy"[,"live":B][,"config":B]} */
	VHD_REQ_FLUSH,		/* {"cmd":"flush","domain":D} */
	VHD_REQ_DEDUPE,		/* {"cmd":"dedupe","domain":D,"enable":B[,"live":B][,"config":B]} */
	VHD_REQ_KSM_STATUS,	/* {"cmd":"ksm-status"} */
	VHD_REQ_NUMA_MOVE,	/* {"cmd":"numa-move","domain":D,"node":N[,"move-all":B][,"max-bytes-per-sec":N]} */
	VHD_REQ_NUMA_STATUS,	/* {"cmd":"numa-status","domain":D} */
	VHD_REQ_NUMA_CANCEL,	/* {"cmd":"numa-cancel","domain":D} */
	VHD_REQ_NR
};

/* Which definitions a policy change affects, as virsh's --live/--config. */
#define VHD_AFFECT_LIVE		(1u << 0)
#define VHD_AFFECT_CONFIG	(1u << 1)

struct vhd_request {
	enum vhd_req_cmd cmd;
	char domain[VHD_REQ_DOMAIN_MAX];	/* "" if the command takes none */
	char id[VHD_REQ_ID_MAX];	/* "id" (a string or integer) as JSON text, "" if none */
	enum vhp_mode mode;		/* set-mode */
	bool enable;			/* dedupe */
	/* set-mode, dedupe: VHD_AFFECT_* from "live"/"config"; 0 if the
	 * request says neither (the daemon's default: live, plus config
	 * for a persistent domain). */
	uint32_t affect;
	uint32_t node;			/* numa-move: host node, < 1024 */
	bool move_all;			/* numa-move: MOVE_ALL */
	uint64_t max_bytes_per_sec;	/* numa-move: 0 = no limit */
};

/*
 * vhd_request_parse() - parse one request line (@len bytes, without the
 * newline; need not be NUL-terminated).
 * Return: 0 and *@r filled; -1 with @err (one sentence for the error's
 * "desc") for anything that is not a valid request. If the line was JSON
 * with a valid "id", r->id is set even on failure, so the error can carry
 * it.
 */
int vhd_request_parse(const char *line, size_t len, struct vhd_request *r,
		      char *err, size_t errsz);

/* The command's name as the protocol spells it; "unknown" otherwise. */
const char *vhd_request_cmd_name(enum vhd_req_cmd cmd);

#endif
