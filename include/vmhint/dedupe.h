/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhint/dedupe.h - dedupe guest RAM: fingerprint scans, a cross-VM
 * estimate, KSM marking and zero-page reclaim (docs/architecture.md,
 * "Dedupe").
 *
 * WARNING - SIDE CHANNEL. Merging identical pages across VMs lets one VM
 * learn whether another VM holds a given page (a write to a merged page
 * takes a copy-on-write fault and is measurably slower; see the published
 * KSM/"memory deduplication" timing attacks). Never merge across VMs of
 * different tenants or trust levels. Everything here is therefore opt-in
 * per region (vmhint_dedupe_enable()), and the calls that let pages of this
 * VM meet pages of other VMs (KSM marking, publishing to a shared table)
 * additionally need VMHINT_DEDUPE_CROSS_VM in the options.
 *
 * The pieces:
 *  - a dedupe handle per region holds one 64-bit XXH3 fingerprint per 4 KiB
 *    page, filled by an incremental, rate-limited scan that never touches
 *    pages the guest declared UNUSED or pages that are not resident (so a
 *    scan neither allocates nor swaps in memory);
 *  - a shared table (a POSIX shared-memory segment, mode 0600 or 0660 for a
 *    group) where each VM process publishes its fingerprints, and anyone
 *    can ask how much merging would save, per VM and in total, before
 *    anything is merged;
 *  - KSM marking for private anonymous regions: mark the region, or only
 *    its candidate-dense chunks, MADV_MERGEABLE (the host daemon runs
 *    the KSM scan bursts, see <vmhint/ksm.h>);
 *  - zero-page reclaim for shared memfd/shmem and hugetlbfs regions, which
 *    KSM cannot merge: zero pages are punched out of the file, with the
 *    check and the punch made atomic against guest writes by userfaultfd
 *    write-protection.
 *
 * Fingerprints are estimates (a 64-bit hash collision would count two
 * different pages as equal); nothing is ever merged or dropped on the
 * strength of a fingerprint alone: KSM compares full pages, and zero-page
 * reclaim reads the whole page under write-protection.
 *
 * All functions return 0 or a count on success and a negative errno value
 * on failure. Thread safety: calls on one dedupe handle are serialised by
 * the handle; different handles and tables may be used from any thread.
 */
#ifndef VMHINT_DEDUPE_H
#define VMHINT_DEDUPE_H

#include <vmhint/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmhint_dedupe;        /* dedupe state of one region */
struct vmhint_dedupe_table;  /* cross-VM shared fingerprint table */
struct vmhint_dedupe_estimate; /* one snapshot of a table's estimate */

/* Flags of struct vmhint_dedupe_opts. */
/*
 * Allow pages of this region to meet pages of other processes: KSM marking
 * and publishing into a shared table. Read the side-channel warning above.
 */
#define VMHINT_DEDUPE_CROSS_VM (1u << 0)

struct vmhint_dedupe_opts {
	uint32_t size;            /* sizeof(struct vmhint_dedupe_opts) */
	uint32_t flags;           /* VMHINT_DEDUPE_* */
	/*
	 * Scan rate limit in bytes per second of guest RAM visited (pages
	 * skipped as unused or absent count too: they cost a bitmap or
	 * mincore lookup only); 0: unlimited.
	 */
	uint64_t scan_bytes_per_sec;
};

/* Counters of one dedupe handle. All grow, except the gauges. */
struct vmhint_dedupe_stats {
	uint32_t size;             /* set by the caller: sizeof(struct vmhint_dedupe_stats) */
	uint32_t _pad0;
	uint64_t pages_scanned;    /* 4 KiB pages fingerprinted */
	uint64_t pages_skipped;    /* skipped: UNUSED or not resident */
	uint64_t passes;           /* full passes over the region */
	/* Gauges, as of the last complete pass: */
	uint64_t zero_pages;       /* pages full of zeroes */
	uint64_t dup_pages;        /* pages whose content another page of this region has */
	uint64_t candidate_pages;  /* pages whose content another VM published */
	uint64_t merged_pages;     /* pages KSM merged in this region (smaps "KSM:") */
	/* Zero-page reclaim: */
	uint64_t zero_reclaimed;   /* 4 KiB pages punched out */
	uint64_t zero_raced;       /* zero candidates a guest write changed before the punch */
	/* Estimated saving of this region: merged and reclaimed bytes. */
	uint64_t bytes_saved;
	uint64_t scan_cpu_ns;      /* CPU time of scans and reclaim */
};

/**
 * vmhint_dedupe_enable() - opt a region in to dedupe.
 * @ctx:    the context holding @region
 * @region: a registered region
 * @opts:   options, or NULL for the defaults (no cross-VM, no rate limit)
 * @out:    receives the handle
 *
 * The handle remembers the region by its guest-physical address and
 * checks on every call that it is still registered.
 *
 * Return: 0; -EINVAL for bad options; -ENOENT if @region is not in @ctx;
 * -ENOMEM.
 */
VMHINT_EXPORT VMHINT_MUST_CHECK int
vmhint_dedupe_enable(struct vmhint_ctx *ctx, struct vmhint_region *region,
		     const struct vmhint_dedupe_opts *opts, struct vmhint_dedupe **out);

/**
 * vmhint_dedupe_disable() - withdraw the region's fingerprints from any
 * table and free the handle. Leaves KSM marks in place (unmarking would
 * unmerge, i.e. copy every merged page); call vmhint_dedupe_unmark() first
 * to undo them. NULL is fine.
 */
VMHINT_EXPORT void vmhint_dedupe_disable(struct vmhint_dedupe *d);

/**
 * vmhint_dedupe_scan() - fingerprint up to @max_pages 4 KiB pages of the
 * region, continuing where the previous call stopped and wrapping around
 * at the end (which completes a pass and updates the gauges). Never blocks
 * for the rate limit: it only spends at most @max_pages of work.
 * @max_pages: budget; 0 means "the rest of the current pass"
 *
 * Return: pages visited (scanned or skipped); -ENOENT if the region is
 * gone; -EINVAL for a NULL handle; -errno of mincore().
 */
VMHINT_EXPORT int64_t vmhint_dedupe_scan(struct vmhint_dedupe *d, uint64_t max_pages);

/**
 * vmhint_dedupe_scan_pass() - scan the rest of the current pass, sleeping
 * as needed to stay within the handle's rate limit. For a worker thread.
 *
 * Return: pages visited, or -errno as vmhint_dedupe_scan().
 */
VMHINT_EXPORT int64_t vmhint_dedupe_scan_pass(struct vmhint_dedupe *d);

/**
 * vmhint_dedupe_stats_get() - copy the handle's counters; fields beyond
 * @st->size are not written. Reads the region's KSM figures from
 * /proc/self/smaps for merged_pages.
 *
 * Return: 0 or -EINVAL for a too small size.
 */
VMHINT_EXPORT int vmhint_dedupe_stats_get(struct vmhint_dedupe *d, struct vmhint_dedupe_stats *st);

/*
 * ---- Cross-VM shared table ----
 *
 * A POSIX shared-memory segment ("/dev/shm/<name>") with a fixed number of
 * slots, one per VM process, each holding that VM's sorted fingerprints
 * with counts. Writers publish only into their own slot (a sequence
 * counter makes readers retry torn copies), so publishing takes no lock.
 * Readers treat the segment as hostile - any process with access could
 * have scribbled on it - and validate everything they copy out. A process
 * with access could still truncate the segment and make readers fault:
 * give access only to processes of equal trust (one host's QEMUs).
 */

/* Flags of struct vmhint_dedupe_table_opts. */
#define VMHINT_DEDUPE_TABLE_CREATE (1u << 0) /* create it if missing */
#define VMHINT_DEDUPE_TABLE_GROUP (1u << 1)  /* at creation: mode 0660 for group @gid */

struct vmhint_dedupe_table_opts {
	uint32_t size;       /* sizeof(struct vmhint_dedupe_table_opts) */
	uint32_t nr_slots;   /* VMs, 1..VMHINT_DEDUPE_MAX_SLOTS; 0: 16 (creation only) */
	/* Distinct fingerprints per VM slot; 0: 4Mi (16 GiB of distinct pages). */
	uint64_t slot_capacity;
	uint32_t flags;      /* VMHINT_DEDUPE_TABLE_*; without GROUP: mode 0600 */
	uint32_t gid;        /* with VMHINT_DEDUPE_TABLE_GROUP: the group allowed */
};

#define VMHINT_DEDUPE_MAX_SLOTS 256

/**
 * vmhint_dedupe_table_open() - open (or create) the shared table @name.
 * @name: a shared-memory name, "/vmhint-..." (leading slash, no other)
 *
 * The segment is sparse: only the slots' used parts take memory.
 *
 * Return: 0; -EINVAL for a bad name or options; -ENOENT if it does not
 * exist and VMHINT_DEDUPE_TABLE_CREATE is not set; -EPROTO if the segment is not a table
 * of this version; -EACCES; -ENOMEM.
 */
VMHINT_EXPORT VMHINT_MUST_CHECK int
vmhint_dedupe_table_open(const char *name, const struct vmhint_dedupe_table_opts *opts,
			 struct vmhint_dedupe_table **out);

/**
 * vmhint_dedupe_table_close() - unmap the table. Slots published through
 * it stay until withdrawn or their owner process is gone. NULL is fine.
 */
VMHINT_EXPORT void vmhint_dedupe_table_close(struct vmhint_dedupe_table *t);

/**
 * vmhint_dedupe_table_unlink() - remove the name @name (mapped tables stay
 * valid until closed).
 *
 * Return: 0 or -errno of shm_unlink().
 */
VMHINT_EXPORT int vmhint_dedupe_table_unlink(const char *name);

/**
 * vmhint_dedupe_publish() - publish the fingerprints of the last complete
 * pass into @t, in this handle's slot (claimed on first use, labelled
 * with the region name). Needs VMHINT_DEDUPE_CROSS_VM. Also updates the
 * handle's candidate_pages from what other VMs published.
 *
 * Return: number of distinct fingerprints published; -EPERM without
 * VMHINT_DEDUPE_CROSS_VM; -EAGAIN before the first complete pass; -ENOSPC
 * if no slot is free or the slot is too small; -EBUSY if the handle
 * publishes into another table already.
 */
VMHINT_EXPORT int vmhint_dedupe_publish(struct vmhint_dedupe *d, struct vmhint_dedupe_table *t);

/**
 * vmhint_dedupe_withdraw() - empty and release this handle's slot.
 *
 * Return: 0, or -ENOENT if it published nothing.
 */
VMHINT_EXPORT int vmhint_dedupe_withdraw(struct vmhint_dedupe *d);

/* How zero pages would be merged (KSM's use_zero_pages knob). */
enum vmhint_dedupe_zero_mode {
	VMHINT_DEDUPE_ZERO_AUTO = 0,     /* read the host's current knob */
	VMHINT_DEDUPE_ZERO_KSM_PAGE = 1, /* use_zero_pages=0: zero pages share one KSM page */
	VMHINT_DEDUPE_ZERO_ZERO_PAGE = 2, /* use_zero_pages=1: each maps the kernel zero page */
};

/* Saving figures of one VM, or of all (then pid is 0 and name empty). */
struct vmhint_dedupe_saving {
	uint32_t size;             /* set by the caller: sizeof(struct vmhint_dedupe_saving) */
	int32_t pid;               /* publishing process */
	char name[64];             /* region name it published under */
	uint64_t pages;            /* pages fingerprinted (resident, not unused) */
	uint64_t zero_pages;
	uint64_t dup_pages;        /* extra copies of content this VM holds twice or more */
	uint64_t cross_pages;      /* pages whose content some other VM holds */
	/*
	 * Pages KSM would map shared: every page whose content exists twice
	 * or more (compare with ksm_merging_pages of /proc/<pid>/ksm_stat),
	 * zero pages excluded in ZERO_PAGE mode (then see ksm_zero_pages).
	 */
	uint64_t merging_pages;
	/*
	 * Pages freed. For all VMs: the sum over contents of (copies -
	 * KSM pages kept, one per max_page_sharing copies), plus every zero
	 * page in ZERO_PAGE mode (compare with KSM's
	 * pages_sharing + ksm_zero_pages). Per VM, a content's saving is
	 * split in proportion to the copies each VM holds.
	 */
	uint64_t saved_pages;
	uint64_t saved_bytes;
};

struct vmhint_dedupe_estimate_opts {
	uint32_t size;                    /* sizeof(struct vmhint_dedupe_estimate_opts) */
	uint32_t zero_mode;               /* enum vmhint_dedupe_zero_mode */
	/*
	 * KSM maps one KSM page into at most this many places and keeps a
	 * further copy per such group (the max_page_sharing knob); 0: read
	 * the host's knob (256 when KSM is absent).
	 */
	uint32_t max_page_sharing;
	uint32_t _pad0;                   /* must be 0 */
};

/**
 * vmhint_dedupe_estimate_new() - compute how much merging every VM
 * published in @t would save, from one consistent copy of each slot.
 * Nothing is merged. Costs a sort of all published fingerprints.
 * @opts: NULL for the defaults (zero mode AUTO)
 *
 * Return: number of VMs in the estimate (>= 0); -EINVAL; -ENOMEM.
 */
VMHINT_EXPORT VMHINT_MUST_CHECK int
vmhint_dedupe_estimate_new(struct vmhint_dedupe_table *t,
			   const struct vmhint_dedupe_estimate_opts *opts,
			   struct vmhint_dedupe_estimate **out);

/**
 * vmhint_dedupe_estimate_get() - figures of VM @index (0 .. count - 1) of
 * the estimate, or of all VMs together for @index -1.
 *
 * Return: 0; -ENOENT for a bad index; -EINVAL for a too small size.
 */
VMHINT_EXPORT int vmhint_dedupe_estimate_get(const struct vmhint_dedupe_estimate *e, int index,
					     struct vmhint_dedupe_saving *out);

/**
 * vmhint_dedupe_estimate_free() - free an estimate. NULL is fine.
 */
VMHINT_EXPORT void vmhint_dedupe_estimate_free(struct vmhint_dedupe_estimate *e);

/*
 * ---- KSM marking (per VM) ----
 *
 * The host-wide side of KSM (its knobs, scan bursts, global and
 * per-process figures) is in <vmhint/ksm.h>: it belongs to one privileged
 * process per host, not to each VM.
 */

/* What vmhint_dedupe_mark() marks (its mode). */
#define VMHINT_DEDUPE_MARK_REGION 0 /* the whole region, one VMA */
#define VMHINT_DEDUPE_MARK_DENSE 1  /* chunks where candidates are dense */

struct vmhint_dedupe_mark_opts {
	uint32_t size;            /* sizeof(struct vmhint_dedupe_mark_opts) */
	uint32_t mode;            /* VMHINT_DEDUPE_MARK_* */
	uint64_t chunk_bytes;     /* DENSE: chunk size, 0: 2 MiB */
	uint32_t min_percent;     /* DENSE: candidates per chunk to mark it, 0: 25 */
	/*
	 * DENSE: at most this many marked ranges (each may split a VMA in
	 * up to three; QEMU suffers from many VMAs). Ranges with the
	 * smallest gaps are joined until the bound holds. 0: 16.
	 */
	uint32_t max_ranges;
};

/**
 * vmhint_dedupe_mark() - mark a private anonymous region (or its dense
 * chunks, from the last complete scan) MADV_MERGEABLE so ksmd merges it.
 * Needs VMHINT_DEDUPE_CROSS_VM: KSM merges across every process.
 * @opts: NULL for MARK_REGION
 *
 * Return: number of ranges marked; -EPERM without VMHINT_DEDUPE_CROSS_VM;
 * -EOPNOTSUPP for another backing (use zero-page reclaim) or without KSM;
 * -EAGAIN for DENSE before a complete pass; -errno of madvise().
 */
VMHINT_EXPORT int vmhint_dedupe_mark(struct vmhint_dedupe *d,
				  const struct vmhint_dedupe_mark_opts *opts);

/**
 * vmhint_dedupe_unmark() - MADV_UNMERGEABLE the whole region: KSM unmerges
 * its pages (copying each one back: the region's RSS grows).
 *
 * Return: 0 or -errno.
 */
VMHINT_EXPORT int vmhint_dedupe_unmark(struct vmhint_dedupe *d);

/*
 * ---- Zero-page reclaim ----
 */

struct vmhint_dedupe_zero_opts {
	uint32_t size;         /* sizeof(struct vmhint_dedupe_zero_opts) */
	/* Backing pages write-protected at once (one run). 0: 64. */
	uint32_t batch_pages;
	/*
	 * Anonymous memory only: drop only whole blocks of this many bytes
	 * (a power of two, counted from the region start) that are all
	 * zero. 2 MiB keeps transparent huge pages whole; 0: 4 KiB.
	 */
	uint64_t granule_bytes;
};

/**
 * vmhint_dedupe_zero_reclaim() - drop every resident, all-zero backing
 * page of the region so it takes no memory until written again: punched
 * out of the file for shared memfd/shmem and hugetlbfs regions (4 KiB, or
 * whole huge pages), MADV_DONTNEED for private anonymous regions (only
 * pages this process maps alone: not the shared zero page, not pages KSM
 * merged). For anonymous memory this does at once what KSM's
 * use_zero_pages does after two full scans; with 4 KiB granules it splits
 * a transparent huge page that holds a zero 4 KiB page (set
 * granule_bytes to 2 MiB to drop only whole zero huge pages).
 *
 * Each candidate run is write-protected with userfaultfd (registered on
 * the region for the call), checked for zeroes, dropped, and unprotected:
 * a guest write meanwhile waits in the fault and then lands in a fresh
 * zero page, so no write is lost. Writes through *other* mappings of the
 * same file (e.g. a vhost-user backend) are not held off: do not call this
 * while another process writes guest RAM. Does nothing while discards are
 * inhibited (vmhint_discard_inhibit()). Fails with -EBUSY if something
 * else (e.g. postcopy) has a userfaultfd on the region.
 *
 * Return: 4 KiB pages reclaimed; -EOPNOTSUPP for other backings or
 * without userfaultfd write-protection; -ENOENT if the region is gone.
 */
VMHINT_EXPORT int64_t vmhint_dedupe_zero_reclaim(struct vmhint_dedupe *d,
						 const struct vmhint_dedupe_zero_opts *opts);

#ifdef __cplusplus
}
#endif
#endif /* VMHINT_DEDUPE_H */
