// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * backing.c - find out what really backs a range of host memory. The caller
 * (QEMU) knows, but the library decides how to drop frames, and a wrong
 * guess loses data (punching a private file mapping) or frees nothing
 * (MADV_DONTNEED on shmem), so we ask the kernel: /proc/self/smaps for the
 * mappings, fstatfs() for the file.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "internal.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

/* What one VMA of smaps says about itself. */
struct vma_kind {
	uint64_t start, end;
	bool shared, hugetlb, has_inode;
	uint64_t page_size;
};

/* Parse "start-end perms offset dev inode [path]"; false if not a header. */
static bool parse_vma_header(const char *line, struct vma_kind *v)
{
	unsigned long long start, end, inode;
	char perms[8];

	if (sscanf(line, "%llx-%llx %7s %*s %*s %llu", &start, &end, perms, &inode) != 4)
		return false;
	*v = (struct vma_kind){ .start = start, .end = end, .has_inode = inode != 0 };
	return true;
}

static void parse_vma_field(const char *line, struct vma_kind *v)
{
	unsigned long kb;

	if (sscanf(line, "KernelPageSize: %lu kB", &kb) == 1)
		v->page_size = (uint64_t)kb * 1024;
	else if (strncmp(line, "VmFlags:", 8) == 0) {
		v->shared = strstr(line, " sh") != NULL;
		v->hugetlb = strstr(line, " ht") != NULL;
	}
}

static enum vmhint_backing vma_backing(const struct vma_kind *v)
{
	if (v->hugetlb)
		return v->shared ? VMHINT_BACKING_HUGETLB_SHARED : VMHINT_BACKING_HUGETLB_PRIVATE;
	if (v->shared)
		return VMHINT_BACKING_SHMEM;
	return v->has_inode ? VMHINT_BACKING_FILE_PRIVATE : VMHINT_BACKING_ANON;
}

/*
 * Fold one finished VMA into the result: every VMA overlapping the range
 * must be of one kind and they must leave no hole.
 */
static int fold_vma(const struct vma_kind *v, uint64_t start, uint64_t end, uint64_t *covered,
		    enum vmhint_backing *backing, uint64_t *page_size)
{
	if (v->end <= start || v->start >= end)
		return 0;
	if (v->start > *covered)
		return -EINVAL; /* a hole */
	if (*covered == start) {
		*backing = vma_backing(v);
		*page_size = v->page_size;
	} else if (*backing != vma_backing(v) || *page_size != v->page_size) {
		return -EINVAL; /* two kinds of memory */
	}
	*covered = v->end;
	return 0;
}

static int scan_smaps(uint64_t start, uint64_t end, enum vmhint_backing *backing,
		      uint64_t *page_size)
{
	struct vma_kind cur, next;
	uint64_t covered = start;
	bool have = false;
	char line[4096];
	int err = 0;
	FILE *f;

	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -errno;
	while (!err && covered < end && fgets(line, sizeof(line), f)) {
		if (parse_vma_header(line, &next)) {
			if (have)
				err = fold_vma(&cur, start, end, &covered, backing, page_size);
			cur = next;
			have = true;
		} else if (have) {
			parse_vma_field(line, &cur);
		}
	}
	if (!err && have && covered < end)
		err = fold_vma(&cur, start, end, &covered, backing, page_size);
	fclose(f);
	if (!err && covered < end)
		err = -EINVAL; /* not (all) mapped */
	return err;
}

/* The fd, if given, must be what the mapping says it is. */
static int check_fd(int fd, enum vmhint_backing backing, uint64_t page_size)
{
	struct statfs sfs;
	bool fd_hugetlb;

	if (fstatfs(fd, &sfs))
		return -errno;
	fd_hugetlb = (uint64_t)sfs.f_type == HUGETLBFS_MAGIC;
	if (fd_hugetlb != (backing == VMHINT_BACKING_HUGETLB_SHARED ||
			   backing == VMHINT_BACKING_HUGETLB_PRIVATE))
		return -EINVAL;
	if (fd_hugetlb && (uint64_t)sfs.f_bsize != page_size)
		return -EINVAL;
	return 0;
}

int backing_detect(void *hva, uint64_t len, int fd, enum vmhint_backing *backing,
		   uint64_t *page_size)
{
	uint64_t start = (uint64_t)(uintptr_t)hva;
	int err;

	if (len == 0 || start + len < start)
		return -EINVAL;
	err = scan_smaps(start, start + len, backing, page_size);
	if (err)
		return err;
	if (*page_size < VMHINT_PAGE_SIZE)
		return -EINVAL;
	return fd >= 0 ? check_fd(fd, *backing, *page_size) : 0;
}
