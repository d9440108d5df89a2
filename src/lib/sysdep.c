// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sysdep.c - thin wrappers around the system calls libvmhint makes on guest
 * memory. They turn errno into a return value and nothing else.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sysdep.h"

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

/* ---- userfaultfd (dedupe zero-page reclaim) ---- */

#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

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
