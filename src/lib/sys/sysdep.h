/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sys/sysdep.h - every system call the library makes on memory, and every
 * read of what the kernel reports about memory (smaps, pagemap, NUMA and
 * KSM sysfs, ksm_stat), in one place, so that tests and benchmarks can see
 * what the library asks of the kernel. Each wrapper returns 0 (or a count)
 * or -errno; none touches errno for its caller, none keeps state beyond a
 * probe result.
 */
#ifndef VH_SYS_SYSDEP_H
#define VH_SYS_SYSDEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

int sys_madvise(void *addr, size_t len, int advice);
int sys_punch_hole(int fd, uint64_t offset, uint64_t len);

#ifdef VMHINT_FAULT_INJECTION
/*
 * Fault injection, in the test build of the library only: after @skip
 * more calls of kind @f, the next @count ones fail with @err (-errno)
 * without reaching the kernel.
 */
enum sys_fault {
	SYS_FAULT_MADVISE_DROP,		/* sys_madvise() DONTNEED, FREE, REMOVE */
	SYS_FAULT_PUNCH_HOLE,		/* sys_punch_hole() */
	SYS_FAULT_PROCESS_MADVISE,	/* sys_process_madvise() */
	SYS_FAULT_NR
};
void sys_fault_inject(enum sys_fault f, int err, unsigned int skip, unsigned int count);
#endif

/*
 * process_madvise(2) on our own process: one call, many ranges, one TLB
 * flush batch. Returns bytes advised or -errno. sys_process_madvise_probe()
 * says once whether the running kernel supports it for MADV_DONTNEED.
 */
bool sys_process_madvise_probe(void);
int64_t sys_process_madvise(const struct iovec *iov, size_t n, int advice);

/*
 * NUMA (numa/). sys_move_pages() on our own
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
 * userfaultfd, for dedupe's zero-page reclaim (dedupe/zeroreclaim.c). The fd
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

/* Close an fd one of the calls above opened. */
void sys_close(int fd);

/*
 * Residency. sys_mincore(): vec[i] bit 0 set if 4 KiB page i of
 * [addr, addr + len) is in memory (page cache included).
 * sys_pagemap_read(): the /proc/self/pagemap entries of @n 4 KiB pages
 * from @addr, from an fd sys_pagemap_open() gave.
 */
int sys_mincore(void *addr, uint64_t len, unsigned char *vec);
int sys_pagemap_open(void);
int sys_pagemap_read(int fd, const void *addr, uint64_t n, uint64_t *entries);

#define SYS_PM_PRESENT (1ULL << 63)
#define SYS_PM_FILE (1ULL << 61)        /* file page or shared anon (huge zero page too) */
#define SYS_PM_EXCLUSIVE (1ULL << 56)   /* mapped by this process only */

/*
 * Feed every line of /proc/self/smaps to @fn until it returns non-zero:
 * > 0 stops with 0, < 0 stops with that error.
 */
int sys_smaps_each(int (*fn)(const char *line, void *opaque), void *opaque);

/*
 * Small kernel text files: KSM's knobs and figures, /proc/PID/ksm_stat.
 * sys_read_text() NUL-terminates; sys_write_text() maps EACCES to -EPERM
 * (a knob refused for lack of privilege); sys_may_write() asks with the
 * effective ids: 0, -EOPNOTSUPP if the file is missing, else -EPERM.
 */
#define SYS_KSM_DIR "/sys/kernel/mm/ksm/"
int sys_read_text(const char *path, char *buf, size_t size);
int sys_read_u64(const char *path, uint64_t *val);
int sys_write_text(const char *path, const char *text);
int sys_may_write(const char *path);
/* Does the running kernel have KSM (0) or not (-ENOENT)? */
int sys_ksm_available(void);

#endif /* VH_SYS_SYSDEP_H */
