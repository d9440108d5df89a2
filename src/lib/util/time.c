// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * util/time.c - clocks and sleep (see util/time.h).
 */
#include "config.h"

#include <errno.h>
#include <time.h>

#include "util/time.h"

#define NS_PER_SEC 1000000000ULL

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t vh_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t vh_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

void vh_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NS_PER_SEC),
			       .tv_nsec = (long)(ns % NS_PER_SEC) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}
