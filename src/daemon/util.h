/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers every layer of vmhintd may use (no state of their own).
 */
#ifndef VHD_UTIL_H
#define VHD_UTIL_H

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Monotonic milliseconds: timeouts and backoffs, never wall time. */
static inline long long vhd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A member of a JSON object of the given type, or NULL. */
static inline json_object *vhd_json_get(json_object *o, const char *key,
					json_type type)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

/*
 * mkdir -p of the directory that holds @path (the socket, the pidfile),
 * 0755 for what it creates: 0, or -1 with errno.
 */
static inline int vhd_mkdir_parents(const char *path)
{
	char dir[256], *p;

	snprintf(dir, sizeof(dir), "%s", path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(dir, 0755) && errno != EEXIST ? -1 : 0;
}

#endif
