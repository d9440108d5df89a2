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

#endif /* VMHINT_SYSDEP_H */
