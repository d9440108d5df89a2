// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * backing.c - find out what really backs a range of host memory. The caller
 * (QEMU) knows, but the library decides how to drop frames, and a wrong
 * guess loses data (punching a private file mapping) or frees nothing
 * (MADV_DONTNEED on shmem), so we ask the kernel: /proc/self/smaps says
 * what each mapping is and which file it maps at which offset, fstat() who
 * the caller's fd really is.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "core/core.h"

/* What one VMA of smaps says about itself. */
struct vma_kind {
	uint64_t start, end;
	bool shared, hugetlb;
	uint64_t page_size;
	uint64_t offset;           /* file offset mapped at start */
	dev_t dev;
	uint64_t inode;            /* 0: anonymous */
};

/* What the whole range is, and which file (if any) it maps where. */
struct range_kind {
	enum vmhint_backing backing;
	uint64_t page_size;
	dev_t dev;
	uint64_t inode;
	uint64_t offset;           /* file offset mapped at the range's start */
};

/* Parse "start-end perms offset maj:min inode [path]"; false if not a header. */
static bool parse_vma_header(const char *line, struct vma_kind *v)
{
	unsigned long long start, end, offset, inode;
	unsigned int major, minor;
	char perms[8];

	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &start, &end, perms, &offset,
		   &major, &minor, &inode) != 7)
		return false;
	*v = (struct vma_kind){
		.start = start, .end = end, .offset = offset,
		.dev = makedev(major, minor), .inode = inode,
	};
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
	return v->inode ? VMHINT_BACKING_FILE_PRIVATE : VMHINT_BACKING_ANON;
}

/* File offset that @v maps at address @addr (inside it). */
static uint64_t vma_offset_at(const struct vma_kind *v, uint64_t addr)
{
	return v->offset + (addr - v->start);
}

/*
 * Fold one finished VMA into the result: every VMA overlapping the range
 * must be of one kind, leave no hole, and map one file contiguously (a
 * punch at one offset must hit the page the guest named).
 */
static int fold_vma(const struct vma_kind *v, uint64_t start, uint64_t end, uint64_t *covered,
		    struct range_kind *k)
{
	if (v->end <= start || v->start >= end)
		return 0;
	if (v->start > *covered)
		return -EINVAL; /* a hole */
	if (*covered == start) {
		*k = (struct range_kind){
			.backing = vma_backing(v), .page_size = v->page_size,
			.dev = v->dev, .inode = v->inode, .offset = vma_offset_at(v, start),
		};
	} else if (k->backing != vma_backing(v) || k->page_size != v->page_size) {
		return -EINVAL; /* two kinds of memory */
	} else if (k->inode && (v->inode != k->inode || v->dev != k->dev ||
				vma_offset_at(v, *covered) != k->offset + (*covered - start))) {
		return -EINVAL; /* another file, or the same file out of order */
	}
	*covered = v->end;
	return 0;
}

static int scan_smaps(uint64_t start, uint64_t end, struct range_kind *k)
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
				err = fold_vma(&cur, start, end, &covered, k);
			cur = next;
			have = true;
		} else if (have) {
			parse_vma_field(line, &cur);
		}
	}
	if (!err && have && covered < end)
		err = fold_vma(&cur, start, end, &covered, k);
	fclose(f);
	if (!err && covered < end)
		err = -EINVAL; /* not (all) mapped */
	return err;
}

/*
 * The fd, if given, must be the very file the mapping shows, at the very
 * offset: it is what we punch, and a wrong one destroys pages the guest
 * still uses.
 */
static int check_fd(int fd, uint64_t fd_offset, const struct range_kind *k)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (!k->inode || st.st_ino != k->inode || st.st_dev != k->dev)
		return -EINVAL;
	if (fd_offset != k->offset)
		return -EINVAL;
	return 0;
}

int backing_detect(void *hva, uint64_t len, int fd, uint64_t fd_offset,
		   enum vmhint_backing *backing, uint64_t *page_size)
{
	uint64_t start = (uint64_t)(uintptr_t)hva;
	struct range_kind k;
	int err;

	if (len == 0 || start + len < start)
		return -EINVAL;
	err = scan_smaps(start, start + len, &k);
	if (err)
		return err;
	if (k.page_size < VMHINT_PAGE_SIZE)
		return -EINVAL;
	if (fd >= 0) {
		err = check_fd(fd, fd_offset, &k);
		if (err)
			return err;
	}
	*backing = k.backing;
	*page_size = k.page_size;
	return 0;
}
