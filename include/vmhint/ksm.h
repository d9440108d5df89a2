/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhint/ksm.h - the host-wide side of KSM: its knobs, short scan bursts
 * with every knob saved and restored, and the global and per-process
 * figures. These change or read state of the whole host and need root, so
 * they belong to one privileged process per host (a host daemon), never to
 * a VM's QEMU: a VM marks its own memory with vmhint_dedupe_mark() of
 * <vmhint/dedupe.h>.
 *
 * Not included by <vmhint.h>: include it explicitly. Its symbols are in
 * their own version node, VMHINT_HOST_0.2, so `objdump -T` of a program
 * shows whether it uses the host-wide API.
 */
#ifndef VMHINT_KSM_H
#define VMHINT_KSM_H

#include <sys/types.h>
#include <vmhint/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * vmhint_ksm_available() - does this kernel have KSM (/sys/kernel/mm/ksm)?
 *
 * Return: 0, or -ENOENT (CONFIG_KSM off).
 */
VMHINT_EXPORT int vmhint_ksm_available(void);

/* Knobs of /sys/kernel/mm/ksm. Bit i of the masks below is field i. */
enum vmhint_ksm_knob {
	VMHINT_KSM_RUN = 0,                  /* 0 stop, 1 run, 2 stop and unmerge all */
	VMHINT_KSM_PAGES_TO_SCAN,
	VMHINT_KSM_SLEEP_MILLISECS,
	VMHINT_KSM_MERGE_ACROSS_NODES,
	VMHINT_KSM_USE_ZERO_PAGES,
	VMHINT_KSM_MAX_PAGE_SHARING,
	VMHINT_KSM_STABLE_NODE_CHAINS_PRUNE_MILLISECS,
	VMHINT_KSM_SMART_SCAN,
	VMHINT_KSM_ADVISOR_MODE,             /* 0 none, 1 scan-time */
	VMHINT_KSM_ADVISOR_MAX_CPU,
	VMHINT_KSM_ADVISOR_MIN_PAGES_TO_SCAN,
	VMHINT_KSM_ADVISOR_MAX_PAGES_TO_SCAN,
	VMHINT_KSM_ADVISOR_TARGET_SCAN_TIME,
	VMHINT_KSM_NR_KNOBS
};

struct vmhint_ksm_knobs {
	uint32_t size;         /* sizeof(struct vmhint_ksm_knobs) */
	uint32_t present;      /* get: knobs this kernel has (bit per enum vmhint_ksm_knob) */
	uint32_t set;          /* set: knobs to write */
	uint32_t _pad0;        /* must be 0 */
	uint64_t val[VMHINT_KSM_NR_KNOBS];
};

/**
 * vmhint_ksm_knob_name() - the sysfs file name of knob @knob; "unknown"
 * for any other value.
 */
VMHINT_EXPORT const char *vmhint_ksm_knob_name(enum vmhint_ksm_knob knob);

/**
 * vmhint_ksm_knobs_get() - read every KSM knob this kernel has.
 *
 * Return: 0; -ENOENT without KSM; -EINVAL for a bad size; -EIO for a
 * file that does not parse.
 */
VMHINT_EXPORT int vmhint_ksm_knobs_get(struct vmhint_ksm_knobs *k);

/**
 * vmhint_ksm_knobs_set() - write the knobs selected by @k->set, all or
 * none: write access to every one is checked before the first write, and
 * if the kernel refuses one (e.g. merge_across_nodes while pages are
 * merged: -EBUSY) the ones already written are put back. Knobs are
 * written in an order the kernel accepts (advisor before pages_to_scan,
 * run last). Only root may change KSM knobs.
 *
 * Return: 0; -EPERM if the caller may not write KSM knobs (nothing is
 * touched); -EOPNOTSUPP if a selected knob does not exist here; -errno of
 * the refused write.
 */
VMHINT_EXPORT VMHINT_MUST_CHECK int vmhint_ksm_knobs_set(const struct vmhint_ksm_knobs *k);

/**
 * vmhint_ksm_knobs_restore() - write back every knob of @saved (from
 * vmhint_ksm_knobs_get()) that differs from its current value.
 *
 * Return: 0 or -errno as vmhint_ksm_knobs_set().
 */
VMHINT_EXPORT int vmhint_ksm_knobs_restore(const struct vmhint_ksm_knobs *saved);

/* Host-wide KSM figures (pages). */
struct vmhint_ksm_global {
	uint32_t size;         /* set by the caller: sizeof(struct vmhint_ksm_global) */
	uint32_t _pad0;
	uint64_t pages_shared, pages_sharing, pages_unshared, pages_volatile;
	uint64_t pages_scanned, pages_skipped, full_scans, ksm_zero_pages;
	int64_t general_profit; /* bytes */
};

/**
 * vmhint_ksm_global_get() - read the host-wide KSM counters.
 *
 * Return: 0, -ENOENT without KSM, -EINVAL for a bad size.
 */
VMHINT_EXPORT int vmhint_ksm_global_get(struct vmhint_ksm_global *g);

/* Flags of struct vmhint_ksm_process, per-process KSM figures from
 * /proc/<pid>/ksm_stat. */
#define VMHINT_KSM_PROCESS_MERGE_ANY (1u << 0) /* prctl(PR_SET_MEMORY_MERGE) is on */
#define VMHINT_KSM_PROCESS_MERGEABLE (1u << 1) /* it has mergeable memory */

struct vmhint_ksm_process {
	uint32_t size;         /* set by the caller: sizeof(struct vmhint_ksm_process) */
	uint32_t flags;        /* VMHINT_KSM_PROCESS_* */
	uint64_t rmap_items;
	uint64_t zero_pages;
	uint64_t merging_pages;
	int64_t process_profit; /* bytes */
};

/**
 * vmhint_ksm_process_get() - read /proc/<@pid>/ksm_stat (@pid 0: self).
 *
 * Return: 0; -ENOENT for no such process or no KSM; -EACCES; -EINVAL.
 */
VMHINT_EXPORT int vmhint_ksm_process_get(pid_t pid, struct vmhint_ksm_process *p);

/* Flags of struct vmhint_ksm_burst_opts. */
#define VMHINT_KSM_BURST_USE_ZERO_PAGES (1u << 0) /* map zero pages to the kernel's zero page */

struct vmhint_ksm_burst_opts {
	uint32_t size;            /* sizeof(struct vmhint_ksm_burst_opts) */
	uint32_t flags;           /* VMHINT_KSM_BURST_* */
	/*
	 * Progress is measured host-wide as the growth of pages_sharing +
	 * ksm_zero_pages - or, if @pids is set, as the sum of
	 * ksm_merging_pages + ksm_zero_pages of those processes (other
	 * processes' mergeable memory, e.g. other QEMUs, then cannot make
	 * the burst stop early).
	 */
	const int32_t *pids;
	uint32_t nr_pids;
	uint32_t _pad0;           /* must be 0 */
	/*
	 * Stop once progress reached this many pages (e.g. an estimate's
	 * saved_pages host-wide, or merging_pages + zero_pages with @pids);
	 * 0 - or a target never reached - stop once two full scans after
	 * the second merged nothing new.
	 */
	uint64_t target_pages;
	uint32_t pages_to_scan;   /* during the burst; 0: 8192 */
	uint32_t sleep_millisecs; /* during the burst; 0: 10 */
	uint32_t timeout_ms;      /* give up after; 0: 60000 */
	uint32_t _pad1;           /* must be 0 */
	/* Called every poll (about 20 ms); return non-zero to stop early. */
	int (*should_stop)(void *opaque);
	void *opaque;
};

/* Flags of struct vmhint_ksm_burst_result. */
#define VMHINT_KSM_BURST_REACHED (1u << 0) /* target (or steady state) reached before the timeout */

struct vmhint_ksm_burst_result {
	uint32_t size;            /* set by the caller: sizeof(struct vmhint_ksm_burst_result) */
	uint32_t flags;           /* VMHINT_KSM_BURST_REACHED */
	uint64_t elapsed_ms;
	uint64_t pages_merged;    /* progress, see target_pages */
	uint64_t full_scans;      /* full scans ksmd made during the burst */
};

/**
 * vmhint_ksm_burst() - run ksmd fast until the merging is done, then put
 * every knob back as it was (also when stopped early or on error). Blocks
 * the calling thread for the burst. Host-wide: one process per host (the
 * daemon) runs bursts.
 * @result: may be NULL
 *
 * Return: 0 (target reached or steady), -ETIMEDOUT, -ECANCELED (stopped
 * by should_stop), -EPERM without the right to change KSM knobs (then KSM
 * is left alone), -ENOENT without KSM, -EBUSY while another thread of
 * this process runs a burst.
 */
VMHINT_EXPORT int vmhint_ksm_burst(const struct vmhint_ksm_burst_opts *opts,
				   struct vmhint_ksm_burst_result *result);

#ifdef __cplusplus
}
#endif
#endif /* VMHINT_KSM_H */
