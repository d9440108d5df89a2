/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util/api.h - what every file with an entry point needs: the public
 * headers and the marker for exported functions (the version script in
 * src/lib/libvmhint.map decides which names are exported, and in which node).
 */
#ifndef VH_UTIL_API_H
#define VH_UTIL_API_H

#include <vmhint.h>

#define VMHINT_API VMHINT_EXPORT

#endif /* VH_UTIL_API_H */
