// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/discard.c - how a frame is dropped, per backing (docs/architecture.md,
 * Discard by backing). One const ops entry per backing kind says
 * which method drops a run now and which lazily, with and without an fd,
 * and whether runs may be batched:
 *
 *   private anonymous   MADV_DONTNEED; several runs in one process_madvise()
 *                       call (batched TLB flushes); lazy: MADV_FREE
 *   shared (memfd/shm)  fallocate(PUNCH_HOLE): MADV_DONTNEED would only unmap,
 *                       the page cache keeps the frame; MADV_REMOVE if no fd
 *   hugetlbfs shared    punch, whole huge pages only
 *   hugetlb private     MADV_DONTNEED, whole huge pages only
 *   file MAP_PRIVATE    MADV_DONTNEED: drops our private copies; never punch
 *                       the file, it is not ours
 *
 * Every drop of the library goes through here (hints, flushes, NUMA moves,
 * zero reclaim), so bytes_dropped[] and syscalls count all of them.
 */
#include "config.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "core/discard.h"
#include "sys/sysdep.h"

/* One process_madvise() call takes at most IOV_MAX ranges. */
#define PMADV_BATCH 1024

struct discard_ops {
	enum vmhint_method with_fd[DISCARD_NR_HOW];
	enum vmhint_method no_fd[DISCARD_NR_HOW];
	bool batch;     /* DISCARD_NOW runs may share one process_madvise() */
};

#define SAME(m) { [DISCARD_NOW] = (m), [DISCARD_LAZY] = (m) }

static const struct discard_ops ops_anon = {
	.with_fd = { [DISCARD_NOW] = VMHINT_METHOD_MADV_DONTNEED,
		     [DISCARD_LAZY] = VMHINT_METHOD_MADV_FREE },
	.no_fd = { [DISCARD_NOW] = VMHINT_METHOD_MADV_DONTNEED,
		   [DISCARD_LAZY] = VMHINT_METHOD_MADV_FREE },
	.batch = true,
};

/* shmem and hugetlbfs shared: the page cache holds the frame, punch it. */
static const struct discard_ops ops_shared = {
	.with_fd = SAME(VMHINT_METHOD_PUNCH_HOLE),
	.no_fd = SAME(VMHINT_METHOD_MADV_REMOVE),
};

static const struct discard_ops ops_hugetlb_private = {
	.with_fd = SAME(VMHINT_METHOD_MADV_DONTNEED),
	.no_fd = SAME(VMHINT_METHOD_MADV_DONTNEED),
};

static const struct discard_ops ops_file_private = {
	.with_fd = SAME(VMHINT_METHOD_MADV_DONTNEED),
	.no_fd = SAME(VMHINT_METHOD_MADV_DONTNEED),
	.batch = true,
};

static const struct discard_ops *ops_of(const struct vmhint_region *r)
{
	switch (r->backing) {
	case VMHINT_BACKING_ANON:
		return &ops_anon;
	case VMHINT_BACKING_SHMEM:
	case VMHINT_BACKING_HUGETLB_SHARED:
		return &ops_shared;
	case VMHINT_BACKING_HUGETLB_PRIVATE:
		return &ops_hugetlb_private;
	case VMHINT_BACKING_FILE_PRIVATE:
		break;
	}
	return &ops_file_private; /* MADV_DONTNEED never destroys data */
}

static enum vmhint_method method_of(const struct vmhint_region *r, enum discard_how how)
{
	const struct discard_ops *ops = ops_of(r);

	return r->fd >= 0 ? ops->with_fd[how] : ops->no_fd[how];
}

bool discard_has_lazy(const struct vmhint_region *r)
{
	return method_of(r, DISCARD_LAZY) != method_of(r, DISCARD_NOW);
}

/* The one system call of method @m on [off, off + len) of @r. */
static int method_drop(const struct vmhint_region *r, enum vmhint_method m, uint64_t off,
		       uint64_t len)
{
	switch (m) {
	case VMHINT_METHOD_PUNCH_HOLE:
		return sys_punch_hole(r->fd, r->fd_offset + off, len);
	case VMHINT_METHOD_MADV_REMOVE:
		return sys_madvise(r->hva + off, len, MADV_REMOVE);
	case VMHINT_METHOD_MADV_FREE:
		return sys_madvise(r->hva + off, len, MADV_FREE);
	default:
		return sys_madvise(r->hva + off, len, MADV_DONTNEED);
	}
}

static void count_drop(struct vmhint_ctx *ctx, enum vmhint_method m, uint64_t bytes, int err)
{
	count_inc(ctx, syscalls);
	if (err)
		count_inc(ctx, syscall_errors);
	else
		count_add(ctx, bytes_dropped[m], bytes);
}

static uint8_t *run_addr(const struct vmhint_region *r, const struct discard_run *run)
{
	return r->hva + run->first * VMHINT_PAGE_SIZE;
}

static int drop_one(struct vmhint_ctx *ctx, struct vmhint_region *r,
		    const struct discard_run *run, enum discard_how how)
{
	uint64_t off = run->first * VMHINT_PAGE_SIZE, len = run->n * VMHINT_PAGE_SIZE;
	enum vmhint_method m = method_of(r, how);
	int err = method_drop(r, m, off, len);

	count_drop(ctx, m, len, err);
	if (err)
		log_warn(ctx, "region %s: %s of 0x%llx+0x%llx failed: %d", r->name,
			 vmhint_method_name(m), (unsigned long long)off,
			 (unsigned long long)len, err);
	return err;
}

static bool can_batch(struct vmhint_ctx *ctx, const struct vmhint_region *r,
		      size_t nr, enum discard_how how)
{
	if (nr < 2 || how != DISCARD_NOW || !ops_of(r)->batch)
		return false;
	if (atomic_load(&ctx->flags) & VMHINT_CTX_NO_PROCESS_MADVISE)
		return false;
	return sys_process_madvise_probe();
}

/*
 * Drop up to PMADV_BATCH runs with one process_madvise(). The kernel stops
 * at the first range it cannot advise and reports the bytes it did; the
 * rest go one by one so one bad range cannot hide the others.
 * Returns the number of runs handled.
 */
static size_t drop_batch(struct vmhint_ctx *ctx, struct vmhint_region *r,
			 const struct discard_run *runs, size_t nr, int *err)
{
	struct iovec iov[PMADV_BATCH];
	uint64_t total = 0, done_bytes;
	size_t i, n = nr;
	int64_t ret;

	if (n > PMADV_BATCH)
		n = PMADV_BATCH;
	for (i = 0; i < n; i++) {
		iov[i].iov_base = run_addr(r, &runs[i]);
		iov[i].iov_len = runs[i].n * VMHINT_PAGE_SIZE;
		total += iov[i].iov_len;
	}
	ret = sys_process_madvise(iov, n, MADV_DONTNEED);
	done_bytes = ret > 0 ? (uint64_t)ret : 0;
	count_drop(ctx, VMHINT_METHOD_PROCESS_MADVISE, done_bytes, ret < 0 ? (int)ret : 0);
	if (done_bytes == total)
		return n;
	/* Skip the runs the kernel finished, redo the rest singly. */
	for (i = 0; i < n && done_bytes >= iov[i].iov_len; i++)
		done_bytes -= iov[i].iov_len;
	for (; i < n; i++) {
		int e = drop_one(ctx, r, &runs[i], DISCARD_NOW);

		if (e && !*err)
			*err = e;
	}
	return n;
}

int discard_runs(struct vmhint_ctx *ctx, struct vmhint_region *r,
		 const struct discard_run *runs, size_t nr, enum discard_how how)
{
	size_t i = 0;
	int err = 0;

	if (can_batch(ctx, r, nr, how)) {
		while (i < nr)
			i += drop_batch(ctx, r, runs + i, nr - i, &err);
		return err;
	}
	for (; i < nr; i++) {
		int e = drop_one(ctx, r, &runs[i], how);

		if (e && !err)
			err = e;
	}
	return err;
}

/* A backing with a lazy drop (MADV_FREE) uses it for PENDING pages. */
static enum discard_how flush_how(const struct vmhint_region *r)
{
	return discard_has_lazy(r) ? DISCARD_LAZY : DISCARD_NOW;
}

int64_t discard_flush_region(struct vmhint_ctx *ctx, struct vmhint_region *r)
{
	uint64_t pos = 0, start, n, dropped = 0;
	int err = 0;

	pthread_mutex_lock(&r->lock);
	while (pagestate_next_pending(&r->state, pos, r->state.nr_pages, &start, &n)) {
		struct discard_run run = { .first = start, .n = n };
		int e = discard_runs(ctx, r, &run, 1, flush_how(r));

		if (e && !err)
			err = e;
		if (!e)
			dropped += n * VMHINT_PAGE_SIZE;
		/* Not dropped: STABLE again, so a later hint retries, rather
		 * than UNUSED, which would take them for dropped for good. */
		if (e)
			pagestate_set_stable(&r->state, start, n, NULL);
		else
			pagestate_clear_pending(&r->state, start, n);
		atomic_fetch_sub(&ctx->pending_bytes, n * VMHINT_PAGE_SIZE);
		pos = start + n;
	}
	pthread_mutex_unlock(&r->lock);
	return err ? err : (int64_t)dropped;
}
