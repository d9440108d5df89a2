// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sysdep.c - thin wrappers around the system calls libvmhint makes on guest
 * memory. They turn errno into a return value and nothing else.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <numaif.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

int sys_madvise(void *addr, size_t len, int advice)
{
	return madvise(addr, len, advice) ? -errno : 0;
}

int sys_punch_hole(int fd, uint64_t offset, uint64_t len)
{
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
