/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-util.h - what the fuzz targets check alike: an error message for an
 * operator is one line of printable ASCII, never raw hostile bytes.
 */
#ifndef VMHINT_FUZZ_UTIL_H
#define VMHINT_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* @err is NUL-terminated within @size, non-empty, printable ASCII only. */
static inline bool fuzz_error_ok(const char *err, size_t size)
{
	size_t i;

	if (!memchr(err, '\0', size) || !err[0])
		return false;
	for (i = 0; err[i]; i++)
		if (err[i] < 0x20 || err[i] >= 0x7f)
			return false;
	return true;
}

#endif
