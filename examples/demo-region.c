// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * demo-region.c - what libvmhint does for a host, in one screen.
 *
 * Maps 512 MiB the way QEMU maps guest RAM, fills it as a busy guest
 * would, then plays the guest's free page reporting: every other 2 MiB
 * block is reported unused, 32 blocks per request. Prints the process RSS
 * before and after, checks that kept blocks still hold their data, and
 * prints the library's counters (a table, or JSON with --json).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <vmhint.h>

#define RAM_SIZE (512ull << 20)
#define BLOCK (2ull << 20)
#define PER_REQUEST 32 /* what Linux free page reporting batches */

static uint64_t rss_bytes(void)
{
	unsigned long size, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Each block gets its own byte, so a dropped or mixed-up block shows. */
static uint8_t block_byte(uint64_t block)
{
	return (uint8_t)(block * 7 + 1) | 1;
}

static void fill(uint8_t *ram)
{
	for (uint64_t b = 0; b < RAM_SIZE / BLOCK; b++)
		memset(ram + b * BLOCK, block_byte(b), BLOCK);
}

/* Report the odd blocks unused, PER_REQUEST at a time. */
static int report_half(struct vmhint_ctx *ctx)
{
	struct vmhint_range r[PER_REQUEST];
	uint32_t n = 0;

	for (uint64_t b = 1; b < RAM_SIZE / BLOCK; b += 2) {
		r[n++] = (struct vmhint_range){ .gpa = b * BLOCK, .len = BLOCK };
		if (n == PER_REQUEST || b + 2 >= RAM_SIZE / BLOCK) {
			int64_t ret = vmhint_hint_ranges(ctx, VMHINT_OP_UNUSED, r, n);

			if (ret < 0)
				return (int)ret;
			n = 0;
		}
	}
	return 0;
}

/* Kept blocks hold their byte; reported ones read as zeroes. */
static bool contents_as_expected(const uint8_t *ram)
{
	for (uint64_t b = 0; b < RAM_SIZE / BLOCK; b++) {
		uint8_t want = b % 2 ? 0 : block_byte(b);

		for (uint64_t off = 0; off < BLOCK; off += 4096)
			if (ram[b * BLOCK + off] != want)
				return false;
	}
	return true;
}

static void row_mib(const char *label, uint64_t bytes)
{
	printf("%-28s %8llu MiB\n", label, (unsigned long long)(bytes >> 20));
}

static void row_count(const char *label, uint64_t n)
{
	printf("%-28s %8llu\n", label, (unsigned long long)n);
}

static void print_table(const struct vmhint_stats *st, uint64_t before, uint64_t after,
			double secs, bool ok)
{
	char label[64];

	row_mib("guest RAM (private anon)", st->guest_ram_bytes);
	row_mib("RSS before", before);
	row_mib("RSS after", after);
	printf("%-28s %8.2f ms\n", "hinted in", secs * 1e3);
	row_count("requests", st->requests_unused);
	row_count("pages hinted", st->pages_unused);
	for (int m = 0; m < VMHINT_NR_METHODS; m++)
		if (st->bytes_dropped[m]) {
			snprintf(label, sizeof(label), "dropped by %s", vmhint_method_name(m));
			row_mib(label, st->bytes_dropped[m]);
		}
	row_count("system calls", st->syscalls);
	printf("%-28s %8s\n", "kept blocks intact", ok ? "yes" : "NO");
}

static void print_json(const struct vmhint_stats *st, uint64_t before, uint64_t after,
		       double secs, bool ok)
{
	printf("{\"guest_ram_bytes\": %llu, \"rss_before\": %llu, \"rss_after\": %llu, "
	       "\"hint_seconds\": %.6f, \"requests\": %llu, \"pages_unused\": %llu, "
	       "\"bytes_dropped_total\": %llu, \"syscalls\": %llu, \"contents_ok\": %s}\n",
	       (unsigned long long)st->guest_ram_bytes, (unsigned long long)before,
	       (unsigned long long)after, secs, (unsigned long long)st->requests_unused,
	       (unsigned long long)st->pages_unused, (unsigned long long)st->bytes_dropped_total,
	       (unsigned long long)st->syscalls, ok ? "true" : "false");
}

int main(int argc, char **argv)
{
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	struct vmhint_stats st = { .size = sizeof(st) };
	struct vmhint_ctx *ctx;
	uint64_t before, after;
	uint8_t *ram;
	double t0, secs;
	bool ok;
	int err;

	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	fill(ram);
	err = vmhint_ctx_new(NULL, &ctx);
	if (!err)
		err = vmhint_region_add(ctx, &(struct vmhint_region_opts){
			.size = sizeof(struct vmhint_region_opts), .gpa = 0, .hva = ram,
			.len = RAM_SIZE, .fd = -1, .name = "demo-ram" }, NULL);
	if (err) {
		fprintf(stderr, "demo-region: %s\n", strerror(-err));
		return 1;
	}

	before = rss_bytes();
	t0 = now_s();
	err = report_half(ctx);
	secs = now_s() - t0;
	after = rss_bytes();
	if (err) {
		fprintf(stderr, "demo-region: hint failed: %s\n", strerror(-err));
		return 1;
	}
	ok = contents_as_expected(ram);
	vmhint_stats_get(ctx, &st);
	if (json)
		print_json(&st, before, after, secs, ok);
	else
		print_table(&st, before, after, secs, ok);
	vmhint_ctx_free(ctx);
	munmap(ram, RAM_SIZE);
	return ok ? 0 : 1;
}
