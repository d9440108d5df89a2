/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhint/common.h - things every part of the libvmhint API shares.
 *
 * Conventions of the whole API:
 *  - every function returns 0 (or a count) on success and a negative errno
 *    value on failure; errno is never the channel for errors;
 *  - the library never prints, exits or aborts: it reports through the log
 *    callback given in struct vmhint_ctx_opts;
 *  - option and result structs follow one size rule, so they can grow
 *    without breaking the ABI (libvmhint(3), "STRUCT SIZES"):
 *      - the first field is `uint32_t size`, which the caller sets to
 *        sizeof(struct ...) as its header declares it;
 *      - every field has a fixed width (no bool, enum, size_t, pid_t) and
 *        the structs have no implicit padding; size is at least 8 and a
 *        multiple of 8, so it never ends inside a field (else -EINVAL);
 *      - in an option struct, fields past @size (an older caller) take
 *        their defaults: zero, unless the field's comment names another
 *        (struct vmhint_region_opts' fd: -1); bytes past
 *        the library's own sizeof (a newer caller) must be zero (else
 *        -E2BIG), as the kernel's copy_struct_from_user() rules;
 *      - into a result struct the library writes min(size, its sizeof)
 *        bytes and zeroes the caller's bytes beyond its sizeof; it never
 *        writes past @size.
 */
#ifndef VMHINT_COMMON_H
#define VMHINT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <vmhint/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VMHINT_BUILDING_LIB)
#define VMHINT_EXPORT __attribute__((visibility("default")))
#else
#define VMHINT_EXPORT
#endif

#define VMHINT_MUST_CHECK __attribute__((warn_unused_result))

struct vmhint_ctx;
struct vmhint_region;

/* Size of the smallest page a hint can name. */
#define VMHINT_PAGE_SHIFT 12
#define VMHINT_PAGE_SIZE (1ULL << VMHINT_PAGE_SHIFT)

/* Hint operations, as on the wire (see vmhint/wire.h). */
enum vmhint_op {
	VMHINT_OP_UNUSED = 1, /* content of no interest: the host may drop it */
	VMHINT_OP_STABLE = 2, /* the guest needs the content (again)          */
};

/* Severity of a log message, syslog numbering. */
enum vmhint_log_level {
	VMHINT_LOG_ERR = 3,
	VMHINT_LOG_WARNING = 4,
	VMHINT_LOG_INFO = 6,
	VMHINT_LOG_DEBUG = 7,
};

/*
 * vmhint_log_fn - where the library's messages go.
 * @opaque: the log_opaque of struct vmhint_ctx_opts
 * @level:  enum vmhint_log_level
 * @msg:    one line, no trailing newline
 */
typedef void (*vmhint_log_fn)(void *opaque, int level, const char *msg);

/**
 * vmhint_version() - the version of the library running, e.g. "0.2.0",
 * which may be newer than the VMHINT_VERSION a program was built with.
 */
VMHINT_EXPORT const char *vmhint_version(void);

#ifdef __cplusplus
}
#endif
#endif /* VMHINT_COMMON_H */
