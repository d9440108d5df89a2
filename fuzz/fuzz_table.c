// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_table.c - libFuzzer target for the cross-VM dedupe table as another
 * process may have written it. Every byte of the shared segment comes
 * from the input; this process then does what a QEMU does with it: opens
 * the table, computes the saving estimate, publishes its own region's
 * fingerprints (claiming a slot among hostile ones, reading the others to
 * find its candidates) and withdraws.
 *
 * Input: byte 0 chooses the layout, the rest is the segment's content.
 *   bit 0 clear: a well-formed header (magic, version, 1-8 slots of
 *                1-64 entries from bytes 1-2) and the rest of the input
 *                after it, so the slots and entries are what is fuzzed;
 *   bit 0 set:   the input is the whole segment, header included;
 *   bit 1 set:   the segment is one byte shorter than its header says;
 *   bits 2-3:    the estimate's zero mode; bit 4: max_page_sharing 2
 *                (else 256).
 *
 * Checked after each input:
 *   - open: 0, or -EPROTO for a segment that is not a table of this
 *     version or is shorter than its header says;
 *   - the estimate: a count within the slots, names NUL-terminated, the
 *     sum's pages the sum of the VMs', index count refused;
 *   - publish: our distinct fingerprints (the same count as with an empty
 *     table) or -ENOSPC when hostile owners hold every slot; our slot
 *     then reads back with that many entries, sorted; the candidates are
 *     within our region;
 *   - our region's content is what it was (a reader never writes guest
 *     RAM), and no byte of the segment outside our slot changed.
 * Under ASan + UBSan (float-cast-overflow included: the estimate works in
 * doubles on counts another process chose).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vmhint.h>

#include "dedupe/dedupe-internal.h"

#define PG		4096u
#define RAM_PAGES	64u
#define HDR_BYTES	64u	/* struct tbl_hdr */
#define SLOT_BYTES	128u	/* struct tbl_slot */
#define ENTRY_BYTES	16u	/* struct tbl_entry */
#define MAX_SEGMENT	(1u << 20)

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_table: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

static struct vmhint_ctx *ctx;
static struct vmhint_dedupe *dd;
static unsigned char *ram, *ram_copy;
static char name[64];
static int distinct_alone;	/* what publish returns into an empty table */

/* A few contents: zero pages, one page held four times, unique ones. */
static void fill_ram(void)
{
	uint32_t p, i;

	for (p = 0; p < RAM_PAGES; p++) {
		uint64_t *w = (uint64_t *)(ram + (size_t)p * PG);
		uint64_t seed = p % 16 == 3 ? 3 : p;

		if (p % 8 == 0)
			continue;	/* zero */
		for (i = 0; i < PG / 8; i++)
			w[i] = (seed + 1) * 0x9e3779b97f4a7c15ULL ^ i;
	}
}

static int segment_new(const void *bytes, size_t len, size_t size)
{
	int fd;

	shm_unlink(name);
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	if (len)
		CHECK(pwrite(fd, bytes, len, 0) == (ssize_t)len);
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vmhint_ctx_opts co = { .size = sizeof(co), .mode = VMHINT_MODE_SYNC };
	struct vmhint_dedupe_opts dopts = { .size = sizeof(dopts), .flags = VMHINT_DEDUPE_CROSS_VM };
	struct vmhint_dedupe_table_opts to = { .size = sizeof(to), .nr_slots = 1, .slot_capacity = 64,
					       .flags = VMHINT_DEDUPE_TABLE_CREATE };
	struct vmhint_region_opts ro = { .size = sizeof(ro), .gpa = 0, .len = RAM_PAGES * PG,
					 .fd = -1, .name = "fuzz" };
	struct vmhint_dedupe_table *t;
	struct vmhint_region *r;

	(void)argc;
	(void)argv;
	snprintf(name, sizeof(name), "/vmhint-fuzz-table-%d", (int)getpid());
	ram = mmap(NULL, RAM_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ram != MAP_FAILED);
	fill_ram();
	ram_copy = malloc(RAM_PAGES * PG);
	CHECK(ram_copy);
	memcpy(ram_copy, ram, RAM_PAGES * PG);
	ro.hva = ram;
	CHECK(vmhint_ctx_new(&co, &ctx) == 0);
	CHECK(vmhint_region_add(ctx, &ro, &r) == 0);
	CHECK(vmhint_dedupe_enable(ctx, r, &dopts, &dd) == 0);
	CHECK(vmhint_dedupe_scan(dd, 0) == RAM_PAGES);
	/* The reference: our count of distinct contents, alone in a table. */
	shm_unlink(name);
	CHECK(vmhint_dedupe_table_open(name, &to, &t) == 0);
	distinct_alone = vmhint_dedupe_publish(dd, t);
	CHECK(distinct_alone > 0);
	CHECK(vmhint_dedupe_withdraw(dd) == 0);
	vmhint_dedupe_table_close(t);
	shm_unlink(name);
	return 0;
}

/* The segment's bytes for @data: a header of ours, or the input's own. */
static size_t build_segment(const uint8_t *data, size_t size, unsigned char *seg, size_t *seg_size)
{
	uint64_t hdr[8] = { 0 };
	uint32_t slots, cap;
	size_t len;

	if (data[0] & 1) {
		len = size - 1 < MAX_SEGMENT ? size - 1 : MAX_SEGMENT;
		memcpy(seg, data + 1, len);
		*seg_size = len;
		if (len >= 24) {	/* the header's own idea of the size */
			uint32_t s;
			uint64_t c, want;

			memcpy(&s, seg + 12, sizeof(s));
			memcpy(&c, seg + 16, sizeof(c));
			want = HDR_BYTES + (uint64_t)s * SLOT_BYTES + (uint64_t)s * c * ENTRY_BYTES;
			if (s <= 256 && c <= 4096 && want <= MAX_SEGMENT && want > len)
				*seg_size = (size_t)want;
		}
		return len;
	}
	slots = size > 1 ? 1 + data[1] % 8 : 1;
	cap = size > 2 ? 1 + data[2] % 64 : 1;
	hdr[0] = 0x4554444e49484d56ULL;	/* the magic */
	hdr[1] = 1 | (uint64_t)slots << 32;
	hdr[2] = cap;
	memcpy(seg, hdr, sizeof(hdr));
	*seg_size = HDR_BYTES + (size_t)slots * SLOT_BYTES + (size_t)slots * cap * ENTRY_BYTES;
	len = size > 3 ? size - 3 : 0;
	if (len > *seg_size - HDR_BYTES)
		len = *seg_size - HDR_BYTES;
	memcpy(seg + HDR_BYTES, data + 3, len);
	return HDR_BYTES + len;
}

static void check_estimate(struct vmhint_dedupe_table *t, uint8_t sel)
{
	struct vmhint_dedupe_estimate_opts eo = {
		.size = sizeof(eo), .zero_mode = (sel >> 2) % 3,
		.max_page_sharing = sel & 16 ? 2 : 256,
	};
	struct vmhint_dedupe_estimate *e;
	struct vmhint_dedupe_saving all = { .size = sizeof(all) }, one = { .size = sizeof(one) };
	uint64_t pages = 0;
	int n, i;

	n = vmhint_dedupe_estimate_new(t, &eo, &e);
	CHECK(n >= 0 && (uint32_t)n <= table_nr_slots(t));
	for (i = 0; i < n; i++) {
		CHECK(vmhint_dedupe_estimate_get(e, i, &one) == 0);
		CHECK(memchr(one.name, '\0', sizeof(one.name)));
		pages += one.pages;
	}
	CHECK(vmhint_dedupe_estimate_get(e, -1, &all) == 0);
	CHECK(all.pages == pages);
	CHECK(all.pid == 0 && all.name[0] == '\0');
	CHECK(vmhint_dedupe_estimate_get(e, n, &one) == -ENOENT);
	vmhint_dedupe_estimate_free(e);
}

/* Our slot holds our fingerprints, sorted; no other byte changed. */
static void check_published(struct vmhint_dedupe_table *t, int ret, const unsigned char *before,
			    const unsigned char *after, size_t seg_size)
{
	struct slot_copy c = { 0 };
	uint64_t k, cap;
	size_t lo, hi;

	/* Not vmhint_dedupe_stats_get(): it reads smaps, 10 ms a call. */
	CHECK(dd->candidate_pages <= RAM_PAGES);
	if (ret == -ENOSPC) {
		CHECK(!memcmp(before, after, seg_size));
		return;
	}
	CHECK(ret == distinct_alone);
	CHECK(dd->slot >= 0 && (uint32_t)dd->slot < table_nr_slots(t));
	CHECK(table_slot_read(t, dd->slot, &c) == 0);
	CHECK(c.owner == getpid() && c.nr == (uint64_t)ret);
	for (k = 1; k < c.nr; k++)
		CHECK(c.e[k - 1].fp < c.e[k].fp);
	free(c.e);
	/* Outside our slot header and entries, the segment is unchanged
	 * (the header, which the open validated, gives the layout). */
	memcpy(&cap, before + 16, sizeof(cap));
	lo = HDR_BYTES + (size_t)dd->slot * SLOT_BYTES;
	CHECK(!memcmp(before, after, lo));
	hi = HDR_BYTES + (size_t)table_nr_slots(t) * SLOT_BYTES;
	CHECK(!memcmp(before + lo + SLOT_BYTES, after + lo + SLOT_BYTES, hi - lo - SLOT_BYTES));
	lo = hi + (size_t)dd->slot * cap * ENTRY_BYTES;
	CHECK(!memcmp(before + hi, after + hi, lo - hi));
	hi = lo + cap * ENTRY_BYTES;
	CHECK(!memcmp(before + hi, after + hi, seg_size - hi));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char seg[MAX_SEGMENT], after[MAX_SEGMENT];
	struct vmhint_dedupe_table *t = NULL;
	size_t len, seg_size;
	int fd, ret;

	if (size < 1)
		return 0;
	memset(seg, 0, sizeof(seg));
	len = build_segment(data, size, seg, &seg_size);
	if ((data[0] & 2) && seg_size)
		seg_size--;
	fd = segment_new(seg, len < seg_size ? len : seg_size, seg_size);
	ret = vmhint_dedupe_table_open(name, NULL, &t);
	if (ret) {
		CHECK(ret == -EPROTO);
		close(fd);
		shm_unlink(name);
		return 0;
	}
	check_estimate(t, data[0]);
	ret = vmhint_dedupe_publish(dd, t);
	CHECK(ret == -ENOSPC || ret > 0);
	CHECK(pread(fd, after, seg_size, 0) == (ssize_t)seg_size);
	check_published(t, ret, seg, after, seg_size);
	CHECK(!memcmp(ram, ram_copy, RAM_PAGES * PG));
	if (ret > 0)
		CHECK(vmhint_dedupe_withdraw(dd) == 0);
	vmhint_dedupe_table_close(t);
	close(fd);
	shm_unlink(name);
	return 0;
}
