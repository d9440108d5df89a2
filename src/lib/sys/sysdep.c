// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sys/sysdep.c - thin wrappers around the system calls libvmhint makes on
 * memory and the kernel files it reads about memory. They turn errno into
 * a return value and nothing else.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <numaif.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sys/sysdep.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

#ifdef VMHINT_FAULT_INJECTION
/*
 * Test builds only (tests/libvmhint-faults.la): make the next calls of a
 * kind fail. The library itself is never built with this.
 */
static struct {
	_Atomic int err;
	_Atomic unsigned int skip, count;
} faults[SYS_FAULT_NR];

void sys_fault_inject(enum sys_fault f, int err, unsigned int skip, unsigned int count)
{
	atomic_store(&faults[f].err, err);
	atomic_store(&faults[f].skip, skip);
	atomic_store(&faults[f].count, count);
}

/* The injected error for this call of kind @f, or 0. */
static int fault_hit(enum sys_fault f)
{
	unsigned int n = atomic_load(&faults[f].skip);

	while (n && !atomic_compare_exchange_weak(&faults[f].skip, &n, n - 1))
		;
	if (n)
		return 0;
	n = atomic_load(&faults[f].count);
	while (n && !atomic_compare_exchange_weak(&faults[f].count, &n, n - 1))
		;
	return n ? atomic_load(&faults[f].err) : 0;
}
#define FAULT(f) do { int fault_err_ = fault_hit(f); if (fault_err_) return fault_err_; } while (0)
#else
#define FAULT(f) do { } while (0)
#endif

int sys_madvise(void *addr, size_t len, int advice)
{
	if (advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE)
		FAULT(SYS_FAULT_MADVISE_DROP);
	return madvise(addr, len, advice) ? -errno : 0;
}

int sys_punch_hole(int fd, uint64_t offset, uint64_t len)
{
	FAULT(SYS_FAULT_PUNCH_HOLE);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)len))
		return -errno;
	return 0;
}

/*
 * The pidfd of our own process, opened once. process_madvise() needs one
 * even for the calling process; it stays open for the life of the process.
 */
static int self_pidfd = -1;
static bool pmadv_ok;
static pthread_once_t pmadv_once = PTHREAD_ONCE_INIT;

static void pmadv_probe_once(void)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	long page = sysconf(_SC_PAGESIZE);
	struct iovec iov;
	void *p;

	if (fd < 0)
		return;
	/* MADV_DONTNEED through process_madvise arrived in Linux 5.19 (before
	 * only COLD/PAGEOUT/WILLNEED): ask with a page of our own. */
	p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return;
	}
	iov.iov_base = p;
	iov.iov_len = (size_t)page;
	if (syscall(SYS_process_madvise, fd, &iov, 1, MADV_DONTNEED, 0) == page) {
		self_pidfd = fd;
		pmadv_ok = true;
	} else {
		close(fd);
	}
	munmap(p, (size_t)page);
}

bool sys_process_madvise_probe(void)
{
	pthread_once(&pmadv_once, pmadv_probe_once);
	return pmadv_ok;
}

int64_t sys_process_madvise(const struct iovec *iov, size_t n, int advice)
{
	long ret;

	if (!sys_process_madvise_probe())
		return -ENOSYS;
	FAULT(SYS_FAULT_PROCESS_MADVISE);
	ret = syscall(SYS_process_madvise, self_pidfd, iov, n, advice, 0);
	return ret < 0 ? -errno : ret;
}

/*
 * NUMA wrappers. libnuma's numaif.h gives the raw system calls; its
 * higher-level calls are avoided because they print on failure.
 */

long sys_move_pages(unsigned long count, void **pages, const int *nodes, int *status,
		    int flags)
{
	long ret = move_pages(0, count, pages, nodes, status, flags);

	return ret < 0 ? -errno : ret;
}

/* The kernel reads maxnode - 1 bits: pass 65 to name nodes 0..63. */
#define SYS_MAXNODE 65

int sys_mbind(void *addr, uint64_t len, int mode, uint64_t nodes, unsigned int flags)
{
	unsigned long mask[2] = { (unsigned long)nodes, 0 };

	return mbind(addr, len, mode, nodes ? mask : NULL, nodes ? SYS_MAXNODE : 0, flags) ?
		-errno : 0;
}

int sys_get_mempolicy_addr(void *addr, int *mode, uint64_t *nodes)
{
	/* Room for 1024 nodes: the kernel refuses a mask shorter than its own. */
	unsigned long mask[1024 / (8 * sizeof(unsigned long))] = { 0 };

	if (get_mempolicy(mode, mask, 1024, addr, MPOL_F_ADDR))
		return -errno;
	*nodes = mask[0];
	return 0;
}

/* Parse a kernel node list such as "0-1,4" into a mask of nodes 0..63. */
static uint64_t parse_node_list(const char *s)
{
	uint64_t mask = 0;
	char *end;

	while (*s >= '0' && *s <= '9') {
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		for (; a <= b && a < 64; a++)
			mask |= 1ULL << a;
		s = *end == ',' ? end + 1 : end;
	}
	return mask;
}

int sys_mems_allowed(uint64_t *mask)
{
	unsigned long allowed[1024 / (8 * sizeof(unsigned long))] = { 0 };
	char buf[256] = "0";
	FILE *f;

	if (get_mempolicy(NULL, allowed, 1024, NULL, MPOL_F_MEMS_ALLOWED))
		return -errno;
	/* has_memory is missing on kernels without NUMA: node 0 then. */
	f = fopen("/sys/devices/system/node/has_memory", "re");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	*mask = allowed[0] & parse_node_list(buf);
	return 0;
}

bool sys_has_cap_sys_nice(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[CAP_SYS_NICE / 32].effective & (1u << (CAP_SYS_NICE % 32));
}

/* ---- userfaultfd (dedupe zero-page reclaim) ---- */

#ifndef SYS_userfaultfd
#define SYS_userfaultfd 323
#endif

/*
 * userfaultfd(2) needs CAP_SYS_PTRACE (or vm.unprivileged_userfaultfd) to
 * handle kernel-mode faults; /dev/userfaultfd hands out the same fd to
 * whoever may open the device. Try both.
 */
static int uffd_create(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int dev, err;

	if (fd >= 0)
		return fd;
	err = -errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return err;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		fd = -errno;
	close(dev);
	return fd;
}

int sys_uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = uffd_create();

	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int err = errno == EINVAL ? -EOPNOTSUPP : -errno;

		close(fd);
		return err;
	}
	if ((api.features & features) != features) {
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

int sys_uffd_register_wp(int uffd, void *addr, uint64_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	if (!(reg.ioctls & (1ULL << _UFFDIO_WRITEPROTECT))) {
		sys_uffd_unregister(uffd, addr, len);
		return -EOPNOTSUPP;
	}
	return 0;
}

int sys_uffd_unregister(int uffd, void *addr, uint64_t len)
{
	struct uffdio_range r = { .start = (uintptr_t)addr, .len = len };

	return ioctl(uffd, UFFDIO_UNREGISTER, &r) ? -errno : 0;
}

int sys_uffd_wp(int uffd, void *addr, uint64_t len, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

void sys_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* ---- residency ---- */

int sys_mincore(void *addr, uint64_t len, unsigned char *vec)
{
	return mincore(addr, len, vec) ? -errno : 0;
}

int sys_pagemap_open(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int sys_pagemap_read(int fd, const void *addr, uint64_t n, uint64_t *entries)
{
	off_t off = (off_t)((uintptr_t)addr / (uint64_t)sysconf(_SC_PAGESIZE) * 8);
	ssize_t got = pread(fd, entries, n * 8, off);

	if (got == (ssize_t)(n * 8))
		return 0;
	return got < 0 ? -errno : -EIO;
}

int sys_smaps_each(int (*fn)(const char *line, void *opaque), void *opaque)
{
	char line[4096];
	int ret = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -errno;
	while (!ret && fgets(line, sizeof(line), f))
		ret = fn(line, opaque);
	fclose(f);
	return ret < 0 ? ret : 0;
}

/* ---- small kernel text files (KSM) ---- */

int sys_read_text(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

int sys_read_u64(const char *path, uint64_t *val)
{
	char buf[64], *end;
	int ret = sys_read_text(path, buf, sizeof(buf));

	if (ret)
		return ret;
	*val = strtoull(buf, &end, 10);
	return end == buf ? -EIO : 0;
}

int sys_write_text(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == EACCES ? -EPERM : -errno;
	n = write(fd, text, len);
	if (n < 0)
		n = errno == EACCES ? -EPERM : -errno;
	close(fd);
	return n < 0 ? (int)n : 0;
}

int sys_may_write(const char *path)
{
	if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS))
		return errno == ENOENT ? -EOPNOTSUPP : -EPERM;
	return 0;
}

int sys_ksm_available(void)
{
	return access(SYS_KSM_DIR "run", R_OK) ? -ENOENT : 0;
}
