// SPDX-License-Identifier: LGPL-2.1-or-later
/* vmtest.c - see vmtest.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <numaif.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmtest.h"

void vm_need_two_nodes(void)
{
	unsigned long node0 = 1;
	uint64_t nodes = 0;
	int err = vmhint_numa_nodes(&nodes);

	if (err || (nodes & 3) != 3) {
		printf("SKIP: needs host nodes 0 and 1 with memory (mask 0x%llx, err %d): "
		       "run in tests/vm/run-vm --nodes 2\n", (unsigned long long)nodes, err);
		exit(77);
	}
	/* First touch on node 0 whichever vCPU we run on; mbind()s still win. */
	CHECK(set_mempolicy(MPOL_PREFERRED, &node0, 2) == 0, "set_mempolicy: %m");
}

const char *vm_kind_name(enum vm_kind kind)
{
	return kind == VM_ANON ? "anon" : kind == VM_ANON_4K ? "anon-4k" : "memfd";
}

/* 2 MiB aligned, so transparent huge pages can back anonymous memory. */
struct vm_mem vm_map(enum vm_kind kind, size_t len)
{
	struct vm_mem m = { .kind = kind, .len = len, .fd = -1 };
	size_t align = 2 * MiB;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	uint8_t *p;

	if (kind == VM_MEMFD) {
		m.fd = memfd_create("vmtest", MFD_CLOEXEC);
		CHECK(m.fd >= 0 && ftruncate(m.fd, (off_t)len) == 0, "memfd: %m");
		m.hva = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
		CHECK(m.hva != MAP_FAILED, "mmap memfd: %m");
		return m;
	}
	p = mmap(NULL, len + align, PROT_READ | PROT_WRITE, flags, -1, 0);
	CHECK(p != MAP_FAILED, "mmap: %m");
	m.hva = (uint8_t *)(((uintptr_t)p + align - 1) & ~(align - 1));
	if (kind == VM_ANON_4K)
		CHECK(madvise(m.hva, len, MADV_NOHUGEPAGE) == 0, "MADV_NOHUGEPAGE: %m");
	return m;
}

struct vmhint_ctx *vm_ctx(enum vmhint_mode mode, uint32_t flags)
{
	struct vmhint_ctx_opts o = { .size = sizeof(o), .mode = mode, .flags = flags,
				     .lazy_max_pending = 1ULL << 40 };
	struct vmhint_ctx *ctx = NULL;

	CHECK_EQ(vmhint_ctx_new(&o, &ctx), 0);
	return ctx;
}

struct vmhint_region *vm_register(struct vmhint_ctx *ctx, const struct vm_mem *m, uint64_t gpa)
{
	struct vmhint_region_opts o = { .size = sizeof(o), .gpa = gpa, .hva = m->hva,
					.len = m->len, .fd = m->fd, .name = "vmtest" };
	struct vmhint_region *r = NULL;

	CHECK_EQ(vmhint_region_add(ctx, &o, &r), 0);
	return r;
}

int vm_node_of(const void *p)
{
	void *addr = (void *)p;
	int status = -1;

	CHECK(move_pages(0, 1, &addr, NULL, &status, 0) == 0, "move_pages query: %m");
	return status;
}

void vm_expect_node(const void *p, size_t len, int node, const char *what)
{
	for (size_t off = 0; off < len; off += PAGE) {
		int n = vm_node_of((const uint8_t *)p + off);

		CHECK(n == node, "%s: page %zu is on node %d, expected %d", what, off / PAGE, n,
		      node);
	}
}

static uint64_t word(uint32_t seed, uint64_t page, uint64_t i)
{
	uint64_t x = ((uint64_t)seed << 40) ^ (page << 12) ^ i;

	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ULL;
	return x ^ (x >> 29);
}

void vm_fill(void *p, size_t len, uint32_t seed)
{
	uint64_t *w = p;

	for (uint64_t pg = 0; pg < len / PAGE; pg++)
		for (uint64_t i = 0; i < PAGE / 8; i += 8) /* every 8th word: fast enough */
			w[pg * (PAGE / 8) + i] = word(seed, pg, i);
}

long vm_first_bad(const void *p, size_t len, uint32_t seed)
{
	return vm_bad_in(p, 0, len, seed);
}

long vm_bad_in(const void *base, size_t off, size_t len, uint32_t seed)
{
	const uint64_t *w = base;

	for (uint64_t pg = off / PAGE; pg < (off + len) / PAGE; pg++)
		for (uint64_t i = 0; i < PAGE / 8; i += 8)
			if (w[pg * (PAGE / 8) + i] != word(seed, pg, i))
				return (long)pg;
	return -1;
}

bool vm_resident(const void *p)
{
	unsigned char v = 0;

	CHECK(mincore((void *)p, PAGE, &v) == 0, "mincore: %m");
	return v & 1;
}

uint64_t vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vm_print_result(const char *what, const struct vmhint_numa_result *r)
{
	printf("%s:", what);
	for (int i = 0; i < VMHINT_NUMA_NR_OUTCOMES; i++)
		if (r->pages[i])
			printf(" %s=%llu", vmhint_numa_outcome_name(i),
			       (unsigned long long)r->pages[i]);
	printf(" retries=%llu batches=%llu max_batch=%lluus time=%llums\n",
	       (unsigned long long)r->retries, (unsigned long long)r->batches,
	       (unsigned long long)r->max_batch_ns / 1000, (unsigned long long)r->time_ns / 1000000);
}
