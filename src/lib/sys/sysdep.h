/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysdep.h - every system call the library makes on guest memory, in one
 * place, so that tests and benchmarks can see what the library asks of the
 * kernel. Each wrapper returns 0 (or a count) or -errno; none touches errno
 * for its caller.
 */
#ifndef VMHINT_SYSDEP_H
#define VMHINT_SYSDEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

int sys_madvise(void *addr, size_t len, int advice);
int sys_punch_hole(int fd, uint64_t offset, uint64_t len);

/*
 * process_madvise(2) on our own process: one call, many ranges, one TLB
 * flush batch. Returns bytes advised or -errno. sys_process_madvise_probe()
 * says once whether the running kernel supports it for MADV_DONTNEED.
 */
bool sys_process_madvise_probe(void);
int64_t sys_process_madvise(const struct iovec *iov, size_t n, int advice);

/*
 * NUMA (numa.c, move.c, policy.c). sys_move_pages() on our own
 * process: @nodes NULL only queries. Returns 0, the number of pages the
 * kernel gave up on (> 0, their status may be unwritten), or -errno.
 */
long sys_move_pages(unsigned long count, void **pages, const int *nodes, int *status,
		    int flags);
int sys_mbind(void *addr, uint64_t len, int mode, uint64_t nodes, unsigned int flags);
int sys_get_mempolicy_addr(void *addr, int *mode, uint64_t *nodes);
/* Nodes with memory that our cpuset allows, as a mask of nodes 0..63. */
int sys_mems_allowed(uint64_t *mask);
/* Does our effective capability set hold CAP_SYS_NICE (needed by MOVE_ALL)? */
bool sys_has_cap_sys_nice(void);

/*
 * userfaultfd, for dedupe's zero-page reclaim (zeroreclaim.c). The fd
 * handles kernel-mode faults too (no UFFD_USER_MODE_ONLY): KVM resolves
 * guest writes through GUP, and those must wait, not get SIGBUS.
 * sys_uffd_open() returns the fd or -errno; it enables @features and
 * fails with -EOPNOTSUPP if the kernel lacks one.
 */
int sys_uffd_open(uint64_t features);
int sys_uffd_register_wp(int uffd, void *addr, uint64_t len);
int sys_uffd_unregister(int uffd, void *addr, uint64_t len);
/* Write-protect (@protect) or unprotect and wake the waiting writers. */
int sys_uffd_wp(int uffd, void *addr, uint64_t len, bool protect);

#endif /* VMHINT_SYSDEP_H */
