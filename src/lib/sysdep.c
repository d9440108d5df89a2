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
