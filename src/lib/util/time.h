/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util/time.h - the clocks and the sleep every layer uses, written once.
 */
#ifndef VH_UTIL_TIME_H
#define VH_UTIL_TIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC in ns: durations, rate caps, timeouts. */
uint64_t vh_now_ns(void);

/* This thread's CPU time in ns: what a scan cost, not how long it took. */
uint64_t vh_cpu_ns(void);

/* Sleep @ns, restarting after signals: callers pace work, they do not wait for events. */
void vh_sleep_ns(uint64_t ns);

#endif /* VH_UTIL_TIME_H */
