/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util/struct.h - the one implementation of the size rule of public option
 * and result structs (vmhint/common.h; docs/architecture.md, "ABI"):
 * a caller's struct may be older (smaller) or newer (larger) than ours.
 */
#ifndef VH_UTIL_STRUCT_H
#define VH_UTIL_STRUCT_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* A size the rule accepts at all: holds the size field, ends on a field. */
static inline int vh_struct_size_ok(uint32_t size)
{
	return size >= 8 && size % 8 == 0;
}

/*
 * vh_struct_in() - copy the caller's option struct @src (its first field
 * is its size) into @dst of @dst_size bytes, which the caller of this
 * function has filled with the defaults: an older caller's missing fields
 * keep them, and a NULL @src keeps them all. A newer caller's extra bytes
 * must be zero.
 *
 * Return: 0, -EINVAL for a bad size, -E2BIG for a non-zero unknown tail.
 */
static inline int vh_struct_in(void *dst, size_t dst_size, const void *src)
{
	uint32_t size;

	if (!src)
		return 0;
	memcpy(&size, src, sizeof(size));
	if (!vh_struct_size_ok(size))
		return -EINVAL;
	if (size > dst_size) {
		const uint8_t *tail = (const uint8_t *)src + dst_size;

		for (size_t i = 0; i < size - dst_size; i++)
			if (tail[i])
				return -E2BIG;
		size = (uint32_t)dst_size;
	}
	memcpy(dst, src, size);
	/* Our size field says what we hold, whatever the caller said. */
	size = (uint32_t)dst_size;
	memcpy(dst, &size, sizeof(size));
	return 0;
}

/* Check the size field of a result struct the caller hands us. */
static inline int vh_struct_out_ok(const void *dst)
{
	uint32_t size;

	memcpy(&size, dst, sizeof(size));
	return vh_struct_size_ok(size) ? 0 : -EINVAL;
}

/*
 * vh_struct_out() - copy our result @src of @src_size bytes into the
 * caller's struct @dst (its first field is its size, which stays): at most
 * that many bytes, and zeroes in whatever the caller has beyond ours.
 *
 * Return: 0 or -EINVAL for a bad size (then nothing is written).
 */
static inline int vh_struct_out(void *dst, const void *src, size_t src_size)
{
	uint32_t size;

	memcpy(&size, dst, sizeof(size));
	if (!vh_struct_size_ok(size))
		return -EINVAL;
	/* Past the size field only: the caller's size stays as it set it. */
	if (size > src_size) {
		memcpy((uint8_t *)dst + 4, (const uint8_t *)src + 4, src_size - 4);
		memset((uint8_t *)dst + src_size, 0, size - src_size);
	} else {
		memcpy((uint8_t *)dst + 4, (const uint8_t *)src + 4, size - 4);
	}
	return 0;
}

#endif /* VH_UTIL_STRUCT_H */
