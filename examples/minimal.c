// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * minimal.c - the smallest complete use of libvmhint: one context, one
 * guest RAM region, one hint, one counter.
 *
 *   cc minimal.c $(pkg-config --cflags --libs vmhint)
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <vmhint.h>

#define RAM_SIZE (64u << 20)

int main(void)
{
	struct vmhint_stats st = { .size = sizeof(st) };
	struct vmhint_ctx *ctx;
	void *ram;
	int err;

	/* What QEMU calls guest RAM: here, plain private anonymous memory. */
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return 1;
	memset(ram, 0xab, RAM_SIZE);

	/* NULL options: sync mode, no log. Errors come back as -errno. */
	err = vmhint_ctx_new(NULL, &ctx);
	if (err)
		return 1;
	err = vmhint_region_add(ctx, &(struct vmhint_region_opts){
		.size = sizeof(struct vmhint_region_opts),
		.gpa = 0, .hva = ram, .len = RAM_SIZE, .fd = -1, .name = "ram0",
	}, NULL);
	if (err) {
		fprintf(stderr, "region: %s\n", strerror(-err));
		return 1;
	}

	/* The guest says: the first MiB is unused. The host drops it now. */
	if (vmhint_hint(ctx, VMHINT_OP_UNUSED, 0, 1u << 20) < 0)
		return 1;

	vmhint_stats_get(ctx, &st);
	printf("libvmhint %s: dropped %llu bytes in %llu system call(s)\n", vmhint_version(),
	       (unsigned long long)st.bytes_dropped_total, (unsigned long long)st.syscalls);
	vmhint_ctx_free(ctx);
	munmap(ram, RAM_SIZE);
	return 0;
}
