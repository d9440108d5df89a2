/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel stand-in for <stddef.h>: see stdint.h in this directory. */
#ifndef VH_COMPAT_STDDEF_H
#define VH_COMPAT_STDDEF_H
#include <linux/stddef.h>
#include <linux/types.h>
#endif
