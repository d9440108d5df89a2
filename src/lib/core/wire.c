// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * wire.c - the parser of wire format v1 (vmhint/wire.h). The buffer is a
 * copy of what the guest wrote: every field is checked here or in
 * hint_apply() before anything is done, and each rejection has a status
 * and a counter.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/hint-engine.h"
#include "core/core.h"

static void set_resp(struct vmhint_wire_resp *resp, int status, uint32_t nr_done)
{
	if (!resp)
		return;
	resp->status = htole32((uint32_t)status);
	resp->nr_done = htole32(nr_done);
}

/* Header checks that need no guest RAM; fills *nr on success. */
static int parse_header(const struct vmhint_ctx *ctx, const uint8_t *buf, size_t len,
			uint16_t *op, uint32_t *nr)
{
	struct vmhint_wire_req req;

	if (len < sizeof(req))
		return VMHINT_WIRE_ERR_SHORT;
	memcpy(&req, buf, sizeof(req));
	*op = le16toh(req.op);
	*nr = le32toh(req.nr_ranges);
	if (*op != VMHINT_OP_UNUSED && *op != VMHINT_OP_STABLE)
		return VMHINT_WIRE_ERR_OP;
	if (le16toh(req.flags))
		return VMHINT_WIRE_ERR_FLAGS;
	if (*nr == 0)
		return VMHINT_WIRE_ERR_NO_RANGES;
	if (*nr > ctx->max_ranges)
		return VMHINT_WIRE_ERR_TOO_MANY;
	/* nr is bounded by max_ranges (<= 1024): no overflow in the product. */
	if (len != sizeof(req) + (size_t)*nr * sizeof(struct vmhint_wire_range))
		return VMHINT_WIRE_ERR_LENGTH;
	return VMHINT_WIRE_OK;
}

/* Copy the ranges out in host byte order (the buffer may be unaligned). */
static void decode_ranges(const uint8_t *p, uint32_t nr, struct vmhint_range *out)
{
	for (uint32_t i = 0; i < nr; i++, p += sizeof(struct vmhint_wire_range)) {
		struct vmhint_wire_range w;

		memcpy(&w, p, sizeof(w));
		out[i].gpa = le64toh(w.gpa);
		out[i].len = le64toh(w.len);
	}
}

VMHINT_API int vmhint_wire_handle(struct vmhint_ctx *ctx, const void *buf, size_t len,
				  struct vmhint_wire_resp *resp)
{
	/* Zeroed only because GCC cannot see decode_ranges() fill it (its
	 * sanitizer builds warn); 1 KiB is noise next to one drop. */
	struct vmhint_range ranges_small[64] = { { 0 } }, *ranges = ranges_small;
	uint16_t op = 0;
	uint32_t nr = 0;
	int status;

	if (!ctx)
		return -EINVAL;
	status = buf ? parse_header(ctx, buf, len, &op, &nr) : VMHINT_WIRE_ERR_SHORT;
	if (status != VMHINT_WIRE_OK) {
		hint_count_reject(ctx, status);
		set_resp(resp, status, 0);
		return status;
	}
	if (nr > 64) {
		ranges = malloc(nr * sizeof(*ranges));
		if (!ranges) {
			hint_count_reject(ctx, VMHINT_WIRE_ERR_IO);
			set_resp(resp, VMHINT_WIRE_ERR_IO, 0);
			return VMHINT_WIRE_ERR_IO;
		}
	}
	decode_ranges((const uint8_t *)buf + sizeof(struct vmhint_wire_req), nr, ranges);
	status = hint_apply(ctx, op, ranges, nr, NULL);
	if (ranges != ranges_small)
		free(ranges);
	set_resp(resp, status, status == VMHINT_WIRE_OK ? nr : 0);
	return status;
}

static uint32_t largest_page_size(struct vmhint_ctx *ctx)
{
	uint64_t ps = VMHINT_PAGE_SIZE;

	pthread_rwlock_rdlock(&ctx->regions_lock);
	for (int i = 0; i < ctx->nr_regions; i++)
		if (ctx->regions[i]->page_size > ps)
			ps = ctx->regions[i]->page_size;
	pthread_rwlock_unlock(&ctx->regions_lock);
	return (uint32_t)(ps > UINT32_MAX ? 1u << 30 : ps);
}

VMHINT_API int vmhint_wire_config_get(struct vmhint_ctx *ctx, struct vmhint_wire_config *cfg)
{
	if (!ctx || !cfg)
		return -EINVAL;
	*cfg = (struct vmhint_wire_config){
		.version = htole32(VMHINT_WIRE_VERSION),
		.page_size = htole32(largest_page_size(ctx)),
		.max_ranges = htole32(ctx->max_ranges),
	};
	return 0;
}

#define STATUS_NAME(sym, val, name) [VMHINT_WIRE_##sym] = #name,
static const char *const status_names[VMHINT_WIRE_NR_STATUS] = {
	VMHINT_WIRE_STATUS_LIST(STATUS_NAME)
};
#undef STATUS_NAME

VMHINT_API const char *vmhint_wire_status_name(int status)
{
	if (status < 0 || status >= VMHINT_WIRE_NR_STATUS)
		return "unknown";
	return status_names[status];
}
