// SPDX-License-Identifier: GPL-2.0
/*
 * memhog - allocate and touch MiB of anonymous memory, hold it, free it,
 * and say when on stdout, so a host-side test can time how fast the host
 * gets the memory back.
 *
 * Usage: memhog MIB [HOLD_SECONDS [AFTER_SECONDS]]
 * Prints "MEMHOG: touched <MiB> <ms>", then after HOLD_SECONDS
 * "MEMHOG: freed", then sleeps AFTER_SECONDS (default 0) and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	size_t mib, len, off;
	unsigned int hold, after;
	double t0;
	char *p;

	if (argc < 2) {
		fprintf(stderr, "usage: memhog MIB [HOLD_S [AFTER_S]]\n");
		return 2;
	}
	mib = strtoul(argv[1], NULL, 0);
	hold = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
	after = argc > 3 ? strtoul(argv[3], NULL, 0) : 0;
	len = mib << 20;

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
	return 0;
}
