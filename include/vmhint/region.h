/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhint/region.h - guest RAM regions: which host memory backs which
 * guest-physical addresses, and what kind of memory it is.
 */
#ifndef VMHINT_REGION_H
#define VMHINT_REGION_H

#include <vmhint/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What backs a region; decides how a frame is dropped (docs/architecture.md, "Discard by backing"). */
enum vmhint_backing {
	VMHINT_BACKING_ANON = 1,          /* private anonymous: MADV_DONTNEED / MADV_FREE */
	VMHINT_BACKING_SHMEM = 2,         /* shared memfd, shmem, shared file: punch hole */
	VMHINT_BACKING_HUGETLB_SHARED = 3, /* shared hugetlbfs: punch whole huge pages    */
	VMHINT_BACKING_HUGETLB_PRIVATE = 4, /* private hugetlb: MADV_DONTNEED, whole pages */
	VMHINT_BACKING_FILE_PRIVATE = 5,  /* private file mapping: MADV_DONTNEED, no punch */
};

struct vmhint_region_opts {
	uint32_t size;       /* sizeof(struct vmhint_region_opts) */
	/*
	 * The file behind a shared mapping, or -1 (set it: 0 is a valid fd;
	 * -1 is also the default of a struct too short to hold it). With an
	 * fd, frames are dropped with fallocate(PUNCH_HOLE); without one,
	 * with MADV_REMOVE. The library dup()s it.
	 */
	int32_t fd;
	uint64_t gpa;        /* guest-physical base, 4 KiB aligned */
	void *hva;           /* host address of gpa, aligned to the backing page size */
	uint64_t len;        /* bytes, a multiple of the backing page size */
	uint64_t fd_offset;  /* file offset that hva maps */
	const char *name;    /* for logs and stats, e.g. QEMU's memdev id; may be NULL */
};

struct vmhint_region_info {
	uint32_t size;        /* set by the caller: sizeof(struct vmhint_region_info) */
	uint32_t backing;     /* enum vmhint_backing */
	uint64_t gpa;
	void *hva;
	uint64_t len;
	uint64_t page_size;   /* backing page size: 4 KiB, 2 MiB or 1 GiB */
	uint64_t unused_bytes;  /* guest state UNUSED (dropped or inhibited) */
	uint64_t pending_bytes; /* guest state PENDING (lazy, not yet dropped) */
	uint64_t partial_huge_pages; /* huge pages partly hinted unused */
	char name[64];
};

/**
 * vmhint_region_add() - register guest RAM. The backing kind and page size
 * are read from the kernel (/proc/self/smaps and the fd), never trusted
 * from the caller.
 * @out: receives the region handle; may be NULL
 *
 * Return: 0; -EINVAL for a misaligned or empty range, or one that is not
 * one kind of mapped memory; -EEXIST if it overlaps a registered region in
 * guest-physical or host address space; -ENOMEM; -errno from the kernel.
 */
VMHINT_EXPORT VMHINT_MUST_CHECK int
vmhint_region_add(struct vmhint_ctx *ctx, const struct vmhint_region_opts *opts,
		  struct vmhint_region **out);

/**
 * vmhint_region_remove() - unregister a region. PENDING pages are dropped
 * first. Waits for hints in flight on it.
 *
 * Return: 0 or -ENOENT.
 */
VMHINT_EXPORT int vmhint_region_remove(struct vmhint_ctx *ctx, struct vmhint_region *region);

/**
 * vmhint_region_find() - which region holds guest-physical address @gpa.
 * O(log n).
 * @info: receives the region's description, taken under the registry lock
 *        (so it is consistent even while another thread removes regions);
 *        may be NULL
 *
 * Return: the region's index (>= 0, as vmhint_region_info_get() takes it),
 * -ENOENT if no region holds @gpa, -EINVAL for a bad @info size.
 */
VMHINT_EXPORT int vmhint_region_find(struct vmhint_ctx *ctx, uint64_t gpa,
				     struct vmhint_region_info *info);

/**
 * vmhint_region_count() - number of registered regions.
 */
VMHINT_EXPORT int vmhint_region_count(struct vmhint_ctx *ctx);

/**
 * vmhint_region_info_get() - describe region number @index (0 ..
 * vmhint_region_count() - 1, in guest-physical order).
 *
 * Return: 0, -ENOENT for an index out of range, -EINVAL for a bad size.
 */
VMHINT_EXPORT int vmhint_region_info_get(struct vmhint_ctx *ctx, int index,
					 struct vmhint_region_info *info);

/**
 * vmhint_backing_name() - "anon", "shmem", "hugetlb-shared",
 * "hugetlb-private", "file-private"; "unknown" for any other value.
 */
VMHINT_EXPORT const char *vmhint_backing_name(enum vmhint_backing backing);

#ifdef __cplusplus
}
#endif
#endif /* VMHINT_REGION_H */
