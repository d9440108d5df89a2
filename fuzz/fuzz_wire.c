// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_wire.c - libFuzzer target for vmhint_wire_handle(), the code that
 * reads what a hostile guest wrote.
 *
 * Guest RAM is three small regions, each inside a bigger mapping whose
 * extra pages are canaries (and, for the memfd, file pages outside the
 * registered window):
 *
 *   gpa 0x100000  anon   16 pages    canaries: 4 pages before, 4 after
 *   gpa 0x110000  memfd  16 pages    (adjacent) file offset 8 pages,
 *                                    canaries: file pages 0-7 and 24-31
 *   gpa 0x200000  anon   16 pages    (after a hole) canaries as above
 *
 * Every input goes to a sync context, where the outcome is fully
 * predictable: rejected means no page changed; accepted means exactly the
 * hinted pages read zero (UNUSED) or none did (STABLE), and an independent
 * validator must agree that the request was valid. Then the same input
 * goes to a lazy context with STABLE hints (auto-flush at 16 KiB, and an
 * explicit flush). After each input no canary byte may have changed.
 */
#include "config.h"

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vmhint.h>

#define PG 4096ULL
#define REGION_PAGES 16
#define CANARY_PAGES 4
#define MAP_PAGES (REGION_PAGES + 2 * CANARY_PAGES)
#define NR_REGIONS 3
#define SYNC_MAX_RANGES 16

struct fuzz_region {
	uint64_t gpa;
	uint8_t *map;      /* whole mapping, canaries included */
	uint8_t *ram;      /* map + CANARY_PAGES pages: what is registered */
	int fd;            /* memfd or -1 */
	bool dropped[REGION_PAGES];
};

static struct fuzz_region regions[NR_REGIONS];
static struct vmhint_ctx *ctx_sync, *ctx_lazy;

static uint64_t fill_word(int region, uint64_t page, uint64_t i)
{
	return ((uint64_t)(region + 1) << 56 | page << 20 | i) * 0x9e3779b97f4a7c15ULL | 1;
}

static void fill_page(int region, uint64_t page)
{
	uint64_t *w = (uint64_t *)(regions[region].map + page * PG);

	for (uint64_t i = 0; i < PG / 8; i++)
		w[i] = fill_word(region, page, i);
}

static bool page_holds_fill(int region, uint64_t page)
{
	const uint64_t *w = (const uint64_t *)(regions[region].map + page * PG);

	for (uint64_t i = 0; i < PG / 8; i++)
		if (w[i] != fill_word(region, page, i))
			return false;
	return true;
}

static bool page_zero(int region, uint64_t page)
{
	const uint64_t *w = (const uint64_t *)(regions[region].map + page * PG);

	for (uint64_t i = 0; i < PG / 8; i++)
		if (w[i])
			return false;
	return true;
}

static void die(const char *what, int region, uint64_t page)
{
	fprintf(stderr, "fuzz_wire: %s (region %d, page %llu)\n", what, region,
		(unsigned long long)page);
	abort();
}

static void map_region(int i, uint64_t gpa, bool memfd)
{
	struct fuzz_region *r = &regions[i];

	r->gpa = gpa;
	r->fd = -1;
	if (memfd) {
		r->fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
		if (r->fd < 0 || ftruncate(r->fd, MAP_PAGES * PG) < 0)
			die("memfd", i, 0);
		r->map = mmap(NULL, MAP_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	} else {
		r->map = mmap(NULL, MAP_PAGES * PG, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (r->map == MAP_FAILED)
		die("mmap", i, 0);
	r->ram = r->map + CANARY_PAGES * PG;
	for (uint64_t p = 0; p < MAP_PAGES; p++)
		fill_page(i, p);
}

static struct vmhint_ctx *make_ctx(enum vmhint_mode mode, uint32_t flags, uint32_t max_ranges)
{
	struct vmhint_ctx_opts o = {
		.size = sizeof(o), .mode = mode, .flags = flags, .max_ranges = max_ranges,
		.lazy_max_pending = 4 * PG,
	};
	struct vmhint_ctx *ctx;

	if (vmhint_ctx_new(&o, &ctx))
		die("vmhint_ctx_new", -1, 0);
	for (int i = 0; i < NR_REGIONS; i++) {
		struct vmhint_region_opts ro = {
			.size = sizeof(ro), .gpa = regions[i].gpa, .hva = regions[i].ram,
			.len = REGION_PAGES * PG, .fd = regions[i].fd,
			.fd_offset = CANARY_PAGES * PG, .name = "fuzz",
		};

		if (vmhint_region_add(ctx, &ro, NULL))
			die("vmhint_region_add", i, 0);
	}
	return ctx;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	map_region(0, 0x100000, false);
	map_region(1, 0x110000, true);
	map_region(2, 0x200000, false);
	ctx_sync = make_ctx(VMHINT_MODE_SYNC, 0, SYNC_MAX_RANGES);
	ctx_lazy = make_ctx(VMHINT_MODE_LAZY, VMHINT_CTX_GUEST_STABLE_HINTS,
			    VMHINT_WIRE_MAX_RANGES_LIMIT);
	return 0;
}

/* The reference: which region holds [gpa, gpa + len) entirely, or -1. */
static int region_of(uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa % PG || len % PG || gpa + len < gpa)
		return -1;
	for (int i = 0; i < NR_REGIONS; i++) {
		uint64_t start = regions[i].gpa, end = start + REGION_PAGES * PG;

		if (gpa >= start && gpa + len <= end)
			return i;
	}
	return -1;
}

struct parsed {
	bool valid;
	uint16_t op;
	uint32_t nr;
};

/* An independent validator of the whole request; marks pages to drop. */
static struct parsed reference_parse(const uint8_t *data, size_t size, uint32_t max_ranges,
				     bool mark)
{
	struct parsed p = { 0 };
	struct vmhint_wire_req req;

	if (size < sizeof(req))
		return p;
	memcpy(&req, data, sizeof(req));
	p.op = le16toh(req.op);
	p.nr = le32toh(req.nr_ranges);
	if ((p.op != VMHINT_OP_UNUSED && p.op != VMHINT_OP_STABLE) || req.flags || p.nr == 0 ||
	    p.nr > max_ranges || size != sizeof(req) + (uint64_t)p.nr * 16)
		return p;
	for (uint32_t i = 0; i < p.nr; i++) {
		struct vmhint_wire_range w;
		uint64_t gpa, len;
		int reg;

		memcpy(&w, data + sizeof(req) + i * 16, 16);
		gpa = le64toh(w.gpa);
		len = le64toh(w.len);
		reg = region_of(gpa, len);
		if (reg < 0)
			return p;
		for (uint64_t pg = (gpa - regions[reg].gpa) / PG;
		     mark && pg < (gpa - regions[reg].gpa + len) / PG; pg++)
			regions[reg].dropped[pg] |= p.op == VMHINT_OP_UNUSED;
	}
	p.valid = true;
	return p;
}

static void check_response(int status, const struct vmhint_wire_resp *resp, const struct parsed *p)
{
	if (status < 0 || status >= VMHINT_WIRE_NR_STATUS)
		die("status out of range", -1, (uint64_t)status);
	if (le32toh(resp->status) != (uint32_t)status)
		die("resp.status differs from the return value", -1, (uint64_t)status);
	if (le32toh(resp->nr_done) != (status == VMHINT_WIRE_OK ? p->nr : 0))
		die("resp.nr_done wrong", -1, le32toh(resp->nr_done));
	if ((status == VMHINT_WIRE_OK) != p->valid)
		die(p->valid ? "valid request rejected" : "invalid request accepted", -1,
		    (uint64_t)status);
}

/* Sync context: hinted-UNUSED pages read zero, every other page intact. */
static void check_guest_ram(void)
{
	for (int i = 0; i < NR_REGIONS; i++) {
		struct fuzz_region *r = &regions[i];

		for (uint64_t pg = 0; pg < REGION_PAGES; pg++) {
			uint64_t mp = pg + CANARY_PAGES;

			if (r->dropped[pg] ? !page_zero(i, mp) : !page_holds_fill(i, mp))
				die(r->dropped[pg] ? "UNUSED page not dropped" : "page changed", i, pg);
		}
	}
}

static void refill_dropped(void)
{
	for (int i = 0; i < NR_REGIONS; i++)
		for (uint64_t pg = 0; pg < REGION_PAGES; pg++)
			if (regions[i].dropped[pg]) {
				fill_page(i, pg + CANARY_PAGES);
				regions[i].dropped[pg] = false;
			}
}

/* Bytes outside guest RAM: the canary pages, in memory and in the file. */
static void check_canaries(void)
{
	for (int i = 0; i < NR_REGIONS; i++)
		for (uint64_t p = 0; p < MAP_PAGES; p++)
			if ((p < CANARY_PAGES || p >= CANARY_PAGES + REGION_PAGES) &&
			    !page_holds_fill(i, p))
				die("canary outside guest RAM changed", i, p);
}

static void run_sync(const uint8_t *data, size_t size)
{
	struct vmhint_stats before = { .size = sizeof(before) }, after = { .size = sizeof(after) };
	struct vmhint_wire_resp resp;
	struct parsed p = reference_parse(data, size, SYNC_MAX_RANGES, true);
	int status;

	vmhint_stats_get(ctx_sync, &before);
	status = vmhint_wire_handle(ctx_sync, data, size, &resp);
	vmhint_stats_get(ctx_sync, &after);
	check_response(status, &resp, &p);
	if (status != VMHINT_WIRE_OK) {
		if (after.rejected[status] != before.rejected[status] + 1 ||
		    after.rejected_total != before.rejected_total + 1)
			die("rejection not counted", -1, (uint64_t)status);
		for (int i = 0; i < NR_REGIONS; i++)
			memset(regions[i].dropped, 0, sizeof(regions[i].dropped));
	}
	check_guest_ram();
	refill_dropped();
}

static void run_lazy(const uint8_t *data, size_t size)
{
	struct vmhint_wire_resp resp;
	struct parsed p = reference_parse(data, size, VMHINT_WIRE_MAX_RANGES_LIMIT, false);
	int status = vmhint_wire_handle(ctx_lazy, data, size, &resp);

	check_response(status, &resp, &p);
	if (vmhint_flush(ctx_lazy) < 0)
		die("flush failed", -1, 0);
	/* the lazy context's drops are of no interest to the next input */
	if (status == VMHINT_WIRE_OK && p.op == VMHINT_OP_UNUSED) {
		for (int i = 0; i < NR_REGIONS; i++) {
			if (vmhint_hint(ctx_lazy, VMHINT_OP_STABLE, regions[i].gpa,
					REGION_PAGES * PG) < 0)
				die("STABLE hint over a whole region refused", i, 0);
			for (uint64_t pg = 0; pg < REGION_PAGES; pg++)
				fill_page(i, pg + CANARY_PAGES);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: ASan flags any read past the guest's buffer */
	uint8_t *buf = malloc(size ? size : 1);

	memcpy(buf, data, size);
	run_sync(buf, size);
	run_lazy(buf, size);
	check_canaries();
	free(buf);
	return 0;
}
