/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmtest.h - helpers of the NUMA tests that run inside a two-node guest
 * (tests/vm/run-vm). Each test is a static program: exit 0 pass, 1 fail,
 * 77 skip, with one line of why on stdout.
 */
#ifndef VMHINT_VMTEST_H
#define VMHINT_VMTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <vmhint.h>

#define PAGE 4096UL
#define MiB (1UL << 20)
#define GPA0 0x100000000ULL

#define FAIL(...) do { printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); \
		       printf("\n"); exit(1); } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)
#define CHECK_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
			    if (_a != _b) FAIL("%s == %lld, expected %s == %lld", #a, _a, #b, _b); \
			  } while (0)

enum vm_kind {
	VM_ANON,        /* private anonymous; the guest kernel's THP setting applies */
	VM_ANON_4K,     /* private anonymous, MADV_NOHUGEPAGE */
	VM_MEMFD,       /* shared memfd, registered with its fd */
};

struct vm_mem {
	enum vm_kind kind;
	uint8_t *hva;
	size_t len;
	int fd;
};

/* Skip (77) unless the guest has nodes 0 and 1 with memory. */
void vm_need_two_nodes(void);
struct vm_mem vm_map(enum vm_kind kind, size_t len);
const char *vm_kind_name(enum vm_kind kind);
struct vmhint_ctx *vm_ctx(enum vmhint_mode mode, uint32_t flags);
struct vmhint_region *vm_register(struct vmhint_ctx *ctx, const struct vm_mem *m, uint64_t gpa);

/* The node of each page, as move_pages(2) reports it (-errno if none). */
int vm_node_of(const void *p);
/* Fail unless every page of [p, p + len) is on @node; returns the count. */
void vm_expect_node(const void *p, size_t len, int node, const char *what);

/* Page patterns: page i holds words derived from (seed, i). */
void vm_fill(void *p, size_t len, uint32_t seed);
/* Index of the first page not holding its pattern, or -1. */
long vm_first_bad(const void *p, size_t len, uint32_t seed);
/* The same for [base + off, base + off + len) of a buffer filled from @base. */
long vm_bad_in(const void *base, size_t off, size_t len, uint32_t seed);
bool vm_resident(const void *p);

uint64_t vm_now_ns(void);
void vm_print_result(const char *what, const struct vmhint_numa_result *r);

#endif /* VMHINT_VMTEST_H */
