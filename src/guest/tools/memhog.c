// SPDX-License-Identifier: GPL-2.0
/*
 * memhog - allocate and touch MiB of anonymous memory, hold it, free it,
 * and say when on stdout, so a host-side test can time how fast the host
 * gets the memory back.
 *
 * Usage: memhog MIB [HOLD_SECONDS [AFTER_SECONDS [KEEP_MIB]]]
 * Prints "MEMHOG: touched <MiB> <ms>", then after HOLD_SECONDS
 * "MEMHOG: freed", then sleeps AFTER_SECONDS (default 0) and exits.
 *
 * With KEEP_MIB > 0, KEEP_MIB more are allocated first and filled with a
 * pattern that differs in every page, and a checksum of each page is kept
 * aside. They stay allocated after the free: the host drops what the guest
 * freed, and must not drop these. After AFTER_SECONDS memhog reads
 * commands from stdin until EOF: "verify" checks every kept page against
 * its checksum and its pattern and prints
 *   "MEMHOG: keep PASS n=<seq> mib=<KEEP_MIB> pages=<n> ms=<ms>" or
 *   "MEMHOG: keep FAIL n=<seq> bad=<pages> zero=<pages> first=<index>"
 * (zero: pages that read as all zeroes, what a dropped frame looks like).
 * Exit: 0, or 1 when a verification failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* splitmix64: a page's words depend on its index and their position. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* FNV-1a over 64-bit words: cheap, and any changed word changes it. */
static uint64_t page_sum(const uint64_t *w)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < PAGE / 8; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	return h;
}

static void keep_fill(uint64_t *p, uint64_t *sums, size_t pages)
{
	size_t pg, i;

	for (pg = 0; pg < pages; pg++) {
		uint64_t *w = p + pg * (PAGE / 8);

		for (i = 0; i < PAGE / 8; i++)
			w[i] = mix(pg * (PAGE / 8) + i);
		sums[pg] = page_sum(w);
	}
}

/* Returns the number of bad pages; a checksum alone could be corrupted too. */
static size_t keep_verify(const uint64_t *p, const uint64_t *sums,
			  size_t pages, size_t *zero, size_t *first)
{
	size_t pg, i, bad = 0;

	*zero = 0;
	*first = (size_t)-1;
	for (pg = 0; pg < pages; pg++) {
		const uint64_t *w = p + pg * (PAGE / 8);
		int ok = page_sum(w) == sums[pg], allzero = 1;

		for (i = 0; i < PAGE / 8; i++) {
			if (w[i] != mix(pg * (PAGE / 8) + i))
				ok = 0;
			if (w[i])
				allzero = 0;
		}
		if (ok)
			continue;
		if (!bad)
			*first = pg;
		bad++;
		*zero += allzero;
	}
	return bad;
}

int main(int argc, char **argv)
{
	size_t mib, len, off, keep_mib = 0, keep_pages = 0;
	uint64_t *keep = NULL, *sums = NULL;
	unsigned int hold, after, seq = 0;
	char line[64];
	int failed = 0;
	double t0;
	char *p;

	if (argc < 2) {
		fprintf(stderr, "usage: memhog MIB [HOLD_S [AFTER_S [KEEP_MIB]]]\n");
		return 2;
	}
	mib = strtoul(argv[1], NULL, 0);
	hold = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
	after = argc > 3 ? strtoul(argv[3], NULL, 0) : 0;
	keep_mib = argc > 4 ? strtoul(argv[4], NULL, 0) : 0;
	len = mib << 20;

	if (keep_mib) {
		keep_pages = (keep_mib << 20) / PAGE;
		keep = mmap(NULL, keep_mib << 20, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		sums = calloc(keep_pages, sizeof(*sums));
		if (keep == MAP_FAILED || !sums) {
			perror("keep");
			return 1;
		}
		keep_fill(keep, sums, keep_pages);
	}

	t0 = now_ms();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	/* Non-zero content: zero pages could be deduplicated by someone. */
	for (off = 0; off < len; off += 4096)
		p[off] = (char)(off >> 12) | 1;
	printf("MEMHOG: touched %zu %.0f\n", mib, now_ms() - t0);
	fflush(stdout);
	sleep(hold);
	if (munmap(p, len)) {
		perror("munmap");
		return 1;
	}
	printf("MEMHOG: freed\n");
	fflush(stdout);
	sleep(after);
	if (!keep_mib)
		return 0;

	while (fgets(line, sizeof(line), stdin)) {
		size_t bad, zero, first;

		if (strncmp(line, "verify", 6))
			continue;
		t0 = now_ms();
		bad = keep_verify(keep, sums, keep_pages, &zero, &first);
		seq++;
		if (bad) {
			printf("MEMHOG: keep FAIL n=%u bad=%zu zero=%zu first=%zu\n",
			       seq, bad, zero, first);
			failed = 1;
		} else {
			printf("MEMHOG: keep PASS n=%u mib=%zu pages=%zu ms=%.0f\n",
			       seq, keep_mib, keep_pages, now_ms() - t0);
		}
		fflush(stdout);
	}
	return failed;
}
