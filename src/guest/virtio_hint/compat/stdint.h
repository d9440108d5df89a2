/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel stand-in for <stdint.h>. include/vmhint/wire.h is shared with the
 * user-space library and names the C99 fixed-width types; the kernel builds
 * with -nostdinc and gets those types from <linux/types.h>. This shim lets
 * the module include wire.h itself, so the wire format has one definition.
 */
#ifndef VH_COMPAT_STDINT_H
#define VH_COMPAT_STDINT_H
#include <linux/types.h>
#endif
