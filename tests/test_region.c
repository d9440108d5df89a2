// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_region.c - guest RAM registration: the backing kind the kernel
 * reports, overlap and alignment rejection, lookup at the edges, the fd the
 * library must own, the file offset it must honour, context options.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"

static void check_kind(enum tmem_kind kind, enum vmhint_backing want)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(kind, 4 * MiB);
	struct vmhint_region_info info = { .size = sizeof(info) };
	struct vmhint_region *r = NULL;

	ck_assert_int_eq(tmem_register(ctx, &m, 64 * MiB, &r), 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(vmhint_region_info_get(ctx, 0, &info), 0);
	ck_assert_msg(info.backing == want, "kind %d detected as %s, want %s", kind,
		      vmhint_backing_name(info.backing), vmhint_backing_name(want));
	ck_assert_uint_eq(info.page_size, PAGE);
	ck_assert_uint_eq(info.gpa, 64 * MiB);
	ck_assert_ptr_eq(info.hva, m.hva);
	ck_assert_uint_eq(info.len, 4 * MiB);
	ck_assert_str_eq(info.name, "test-ram");
	ck_assert_uint_eq(info.unused_bytes, 0);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}

START_TEST(backing_anon)
{
	check_kind(TMEM_ANON, VMHINT_BACKING_ANON);
}
END_TEST

START_TEST(backing_memfd)
{
	check_kind(TMEM_MEMFD, VMHINT_BACKING_SHMEM);
}
END_TEST

START_TEST(backing_shared_anon)
{
	check_kind(TMEM_SHARED_ANON, VMHINT_BACKING_SHMEM);
}
END_TEST

START_TEST(backing_file_private)
{
	check_kind(TMEM_FILE_PRIVATE, VMHINT_BACKING_FILE_PRIVATE);
}
END_TEST

/* The caller's fd is no proof of anything: a memfd mapping registered
 * without its fd is still shared memory (and is dropped with MADV_REMOVE). */
START_TEST(backing_memfd_without_fd_is_shmem)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_MEMFD, 2 * MiB);
	struct vmhint_region_opts o = {
		.size = sizeof(o), .gpa = 0, .hva = m.hva, .len = m.len, .fd = -1,
	};
	struct vmhint_region_info info = { .size = sizeof(info) };

	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), 0);
	ck_assert_int_eq(vmhint_region_info_get(ctx, 0, &info), 0);
	ck_assert_int_eq(info.backing, VMHINT_BACKING_SHMEM);

	memset(m.hva, 0x5a, m.len);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, 0, 64 * 1024), 0);
	ck_assert_msg(file_is_hole(m.fd, 0, 64 * 1024), "MADV_REMOVE left data in the file");
	ck_assert_uint_eq(fd_bytes_allocated(m.fd), m.len - 64 * 1024);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

START_TEST(backing_names)
{
	ck_assert_str_eq(vmhint_backing_name(VMHINT_BACKING_ANON), "anon");
	ck_assert_str_eq(vmhint_backing_name(VMHINT_BACKING_SHMEM), "shmem");
	ck_assert_str_eq(vmhint_backing_name(VMHINT_BACKING_HUGETLB_SHARED), "hugetlb-shared");
	ck_assert_str_eq(vmhint_backing_name(VMHINT_BACKING_HUGETLB_PRIVATE), "hugetlb-private");
	ck_assert_str_eq(vmhint_backing_name(VMHINT_BACKING_FILE_PRIVATE), "file-private");
	ck_assert_str_eq(vmhint_backing_name(0), "unknown");
	ck_assert_str_eq(vmhint_backing_name(99), "unknown");
	ck_assert_str_eq(vmhint_version(), PACKAGE_VERSION);
}
END_TEST

/* Three regions: [1M,2M) and [2M,3M) adjacent, [8M,9M) after a hole. */
struct three {
	struct vmhint_ctx *ctx;
	struct tmem m[3];
	struct vmhint_region *r[3];
};

static const uint64_t three_gpa[3] = { 1 * MiB, 2 * MiB, 8 * MiB };

static void three_setup(struct three *t)
{
	t->ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	/* Added out of order: the registry must sort them. */
	for (int i = 2; i >= 0; i--) {
		t->m[i] = tmem_map(i == 1 ? TMEM_MEMFD : TMEM_ANON, 1 * MiB);
		pattern_fill(t->m[i].hva, t->m[i].len, 100 + i);
		ck_assert_int_eq(tmem_register(t->ctx, &t->m[i], three_gpa[i], &t->r[i]), 0);
	}
}

static void three_teardown(struct three *t)
{
	vmhint_ctx_free(t->ctx);
	for (int i = 0; i < 3; i++)
		tmem_unmap(&t->m[i]);
}

/*
 * The index of the region holding @gpa, checking that the description
 * vmhint_region_find() gives is the one vmhint_region_info_get() gives for
 * that index and that it holds @gpa.
 */
static int region_at(struct vmhint_ctx *ctx, uint64_t gpa)
{
	struct vmhint_region_info found = { .size = sizeof(found) };
	struct vmhint_region_info byindex = { .size = sizeof(byindex) };
	int idx = vmhint_region_find(ctx, gpa, &found);

	if (idx < 0)
		return idx;
	ck_assert_int_eq(vmhint_region_info_get(ctx, idx, &byindex), 0);
	ck_assert_uint_eq(found.gpa, byindex.gpa);
	ck_assert_uint_eq(found.len, byindex.len);
	ck_assert_ptr_eq(found.hva, byindex.hva);
	ck_assert(gpa >= found.gpa && gpa - found.gpa < found.len);
	return idx;
}

START_TEST(lookup_edges)
{
	struct three t;

	three_setup(&t);
	ck_assert_int_eq(vmhint_region_count(t.ctx), 3);
	ck_assert_int_eq(vmhint_region_find(t.ctx, 0, NULL), -ENOENT);
	ck_assert_int_eq(vmhint_region_find(t.ctx, 1 * MiB - 1, NULL), -ENOENT);
	ck_assert_int_eq(region_at(t.ctx, 1 * MiB), 0);
	ck_assert_int_eq(region_at(t.ctx, 2 * MiB - 1), 0);
	ck_assert_int_eq(region_at(t.ctx, 2 * MiB), 1);
	ck_assert_int_eq(region_at(t.ctx, 3 * MiB - 1), 1);
	ck_assert_int_eq(vmhint_region_find(t.ctx, 3 * MiB, NULL), -ENOENT);
	ck_assert_int_eq(vmhint_region_find(t.ctx, 8 * MiB - 1, NULL), -ENOENT);
	ck_assert_int_eq(region_at(t.ctx, 8 * MiB), 2);
	ck_assert_int_eq(region_at(t.ctx, 9 * MiB - 1), 2);
	ck_assert_int_eq(vmhint_region_find(t.ctx, 9 * MiB, NULL), -ENOENT);
	ck_assert_int_eq(vmhint_region_find(t.ctx, UINT64_MAX, NULL), -ENOENT);

	ck_assert_int_eq(vmhint_page_state(t.ctx, 3 * MiB - PAGE), VMHINT_PAGE_STABLE);
	ck_assert_int_eq(vmhint_page_state(t.ctx, 3 * MiB), -EFAULT);
	ck_assert_int_eq(vmhint_page_state(t.ctx, 9 * MiB), -EFAULT);
	ck_assert_int_eq(vmhint_page_state(t.ctx, UINT64_MAX & ~(PAGE - 1)), -EFAULT);
	three_teardown(&t);
}
END_TEST

START_TEST(info_in_gpa_order)
{
	struct vmhint_region_info info = { .size = sizeof(info) };
	struct three t;

	three_setup(&t);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(vmhint_region_info_get(t.ctx, i, &info), 0);
		ck_assert_uint_eq(info.gpa, three_gpa[i]);
		ck_assert_ptr_eq(info.hva, t.m[i].hva);
		ck_assert_int_eq(info.backing, i == 1 ? VMHINT_BACKING_SHMEM : VMHINT_BACKING_ANON);
	}
	ck_assert_int_eq(vmhint_region_info_get(t.ctx, 3, &info), -ENOENT);
	ck_assert_int_eq(vmhint_region_info_get(t.ctx, -1, &info), -ENOENT);
	info.size = 12;
	ck_assert_int_eq(vmhint_region_info_get(t.ctx, 0, &info), -EINVAL);
	/* An older caller's struct: only what it holds is written. */
	memset(&info, 0xee, sizeof(info));
	info.size = 8;
	ck_assert_int_eq(vmhint_region_info_get(t.ctx, 1, &info), 0);
	ck_assert_int_eq(info.backing, VMHINT_BACKING_SHMEM);
	ck_assert_uint_eq(info.gpa, 0xeeeeeeeeeeeeeeeeull);
	three_teardown(&t);
}
END_TEST

START_TEST(overlap_rejected)
{
	struct three t;
	struct tmem extra = tmem_map(TMEM_ANON, 2 * MiB);
	struct vmhint_region_opts o = { .size = sizeof(o), .hva = extra.hva, .fd = -1 };

	three_setup(&t);
	/* guest-physical overlap: partial at either end, inside, covering */
	static const struct { uint64_t gpa, len; } bad[] = {
		{ 1 * MiB - 4096, 8192 }, { 3 * MiB - 4096, 8192 }, { 2 * MiB, 4096 },
		{ 0, 2 * MiB }, { 8 * MiB - PAGE, 2 * PAGE }, { 9 * MiB - PAGE, PAGE },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.gpa = bad[i].gpa;
		o.len = bad[i].len;
		ck_assert_msg(vmhint_region_add(t.ctx, &o, NULL) == -EEXIST,
			      "gpa overlap %zu accepted", i);
	}
	/* host overlap: fresh guest-physical range, already registered memory */
	o.gpa = 32 * MiB;
	o.hva = t.m[0].hva + 512 * 1024;
	o.len = 4096;
	ck_assert_int_eq(vmhint_region_add(t.ctx, &o, NULL), -EEXIST);
	ck_assert_int_eq(vmhint_region_count(t.ctx), 3);

	/* touching is not overlapping */
	o.gpa = 3 * MiB;
	o.hva = extra.hva;
	o.len = 1 * MiB;
	ck_assert_int_eq(vmhint_region_add(t.ctx, &o, NULL), 0);
	ck_assert_int_eq(vmhint_region_count(t.ctx), 4);
	ck_assert_int_ge(region_at(t.ctx, 3 * MiB), 0);
	three_teardown(&t);
	tmem_unmap(&extra);
}
END_TEST

START_TEST(bad_region_rejected)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem a = tmem_map(TMEM_ANON, 4 * MiB);
	struct vmhint_region_opts o = { .size = sizeof(o), .fd = -1 };
	struct vmhint_region_opts good = { .size = sizeof(o), .gpa = 0, .hva = a.hva,
					   .len = MiB, .fd = -1 };

	o = good; o.gpa = 100;
	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	o = good; o.hva = a.hva + 100;
	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	o = good; o.len = MiB + 100;
	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	o = good; o.len = 0;
	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	o = good; o.gpa = UINT64_MAX - PAGE + 1; o.len = 2 * PAGE;
	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	o = good; o.size = 0;
	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	ck_assert_int_eq(vmhint_region_add(ctx, NULL, NULL), -EINVAL);

	/* a hole in the host mapping: not "one kind of mapped memory" */
	ck_assert_int_eq(munmap(a.hva + MiB, PAGE), 0);
	o = good; o.len = 2 * MiB;
	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	ck_assert_int_eq(vmhint_region_count(ctx), 0);
	vmhint_ctx_free(ctx);
	tmem_unmap(&a);
}
END_TEST

/*
 * QEMU madvise()s guest RAM (MADV_HUGEPAGE, MADV_DONTDUMP, MADV_MERGEABLE)
 * in pieces, which splits it into several VMAs of one kind: still one
 * region, and drops across the VMA boundary still work.
 */
START_TEST(split_vmas_one_kind)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_ANON, 8 * MiB);
	struct vmhint_region_info info = { .size = sizeof(info) };

	pattern_fill(m.hva, m.len, 5);
	ck_assert_int_eq(madvise(m.hva + 2 * MiB, 2 * MiB, MADV_DONTDUMP), 0);
	ck_assert_int_eq(madvise(m.hva + 6 * MiB, 2 * MiB, MADV_HUGEPAGE), 0);
	ck_assert_int_eq(tmem_register(ctx, &m, 0, NULL), 0);
	ck_assert_int_eq(vmhint_region_info_get(ctx, 0, &info), 0);
	ck_assert_int_eq(info.backing, VMHINT_BACKING_ANON);
	ck_assert_uint_eq(info.page_size, PAGE);
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, 2 * MiB - PAGE, 2 * PAGE), 0);
	ck_assert_uint_eq(resident_pages(m.hva, m.len), m.len / PAGE - 2);
	ck_assert(range_is_zero(m.hva + 2 * MiB - PAGE, 2 * PAGE));
	ck_assert_int_eq(pattern_bad_in(m.hva, 0, 2 * MiB - PAGE, 5), -1);
	ck_assert_int_eq(pattern_bad_in(m.hva, 2 * MiB + PAGE, 6 * MiB - PAGE, 5), -1);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/* Anonymous memory directly followed by a memfd mapping: two kinds. */
START_TEST(mixed_kinds_rejected)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem a = tmem_map(TMEM_ANON, 2 * MiB);
	int fd = memfd_create("mixed", MFD_CLOEXEC);
	struct vmhint_region_opts o = { .size = sizeof(o), .hva = a.hva, .len = 2 * MiB,
					.fd = -1 };

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, MiB), 0);
	ck_assert_ptr_ne(mmap(a.hva + MiB, MiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			      fd, 0), MAP_FAILED);
	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	o.fd = fd;
	ck_assert_int_eq(vmhint_region_add(ctx, &o, NULL), -EINVAL);
	ck_assert_int_eq(vmhint_region_count(ctx), 0);
	vmhint_ctx_free(ctx);
	close(fd);
	tmem_unmap(&a);
}
END_TEST

START_TEST(remove_region)
{
	struct three t;

	three_setup(&t);
	ck_assert_int_eq(vmhint_region_remove(t.ctx, t.r[1]), 0);
	ck_assert_int_eq(vmhint_region_count(t.ctx), 2);
	ck_assert_int_eq(vmhint_region_find(t.ctx, 2 * MiB, NULL), -ENOENT);
	ck_assert_int_eq(vmhint_hint(t.ctx, VMHINT_OP_UNUSED, 2 * MiB, PAGE), -EFAULT);
	/* unregistering never touches guest memory */
	ck_assert_int_eq(pattern_first_bad(t.m[1].hva, t.m[1].len, 101), -1);
	ck_assert_uint_eq(fd_bytes_allocated(t.m[1].fd), t.m[1].len);
	/* and the range can be registered again */
	ck_assert_int_eq(tmem_register(t.ctx, &t.m[1], 2 * MiB, &t.r[1]), 0);
	ck_assert_int_eq(region_at(t.ctx, 2 * MiB), 1);
	three_teardown(&t);
}
END_TEST

/* The library dup()s the fd: closing ours must not stop hole punching. */
START_TEST(fd_is_duplicated)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_MEMFD, 2 * MiB);
	int observer = dup(m.fd);

	pattern_fill(m.hva, m.len, 7);
	ck_assert_int_eq(tmem_register(ctx, &m, 0, NULL), 0);
	close(m.fd);
	m.fd = -1;
	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, MiB, 4 * PAGE), 0);
	ck_assert(file_is_hole(observer, MiB, 4 * PAGE));
	ck_assert_uint_eq(fd_bytes_allocated(observer), 2 * MiB - 4 * PAGE);
	ck_assert_int_eq(pattern_first_bad(m.hva, MiB, 7), -1);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
	close(observer);
}
END_TEST

/* A region mapping the middle of its file: punch at fd_offset + offset. */
START_TEST(fd_offset_honoured)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	int fd = memfd_create("offset", MFD_CLOEXEC);
	struct tmem m = { .kind = TMEM_MEMFD, .len = 2 * MiB, .fd = fd, .fd_offset = MiB };
	uint8_t *all;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4 * MiB), 0);
	all = mmap(NULL, 4 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(all, MAP_FAILED);
	pattern_fill(all, 4 * MiB, 9);
	m.hva = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, MiB);
	ck_assert_ptr_ne(m.hva, MAP_FAILED);
	ck_assert_int_eq(tmem_register(ctx, &m, 16 * MiB, NULL), 0);

	ck_assert_int_ge(vmhint_hint(ctx, VMHINT_OP_UNUSED, 16 * MiB + PAGE, PAGE), 0);
	ck_assert_msg(file_is_hole(fd, MiB + PAGE, PAGE), "page at fd_offset+4K not punched");
	ck_assert_uint_eq(fd_bytes_allocated(fd), 4 * MiB - PAGE);
	ck_assert(page_is_zero(m.hva + PAGE));
	/* everything else of the file, inside and outside the window, intact */
	ck_assert_int_eq(pattern_first_bad(all, MiB + PAGE, 9), -1);
	ck_assert_int_eq(pattern_bad_in(all, MiB + 2 * PAGE, 3 * MiB - 2 * PAGE, 9), -1);
	vmhint_ctx_free(ctx);
	munmap(all, 4 * MiB);
	tmem_unmap(&m);
}
END_TEST

START_TEST(ctx_options)
{
	struct vmhint_ctx_opts o = { .size = sizeof(o) };
	struct vmhint_ctx *ctx = NULL;
	struct vmhint_wire_config cfg;

	o.size = 0;
	ck_assert_int_eq(vmhint_ctx_new(&o, &ctx), -EINVAL);
	o.size = sizeof(o); o.flags = 1u << 31;
	ck_assert_int_eq(vmhint_ctx_new(&o, &ctx), -EINVAL);
	o.flags = 0; o.mode = 7;
	ck_assert_int_eq(vmhint_ctx_new(&o, &ctx), -EINVAL);
	o.mode = VMHINT_MODE_SYNC; o.max_ranges = VMHINT_WIRE_MAX_RANGES_LIMIT + 1;
	ck_assert_int_eq(vmhint_ctx_new(&o, &ctx), -EINVAL);
	ck_assert_ptr_null(ctx);
	vmhint_ctx_free(NULL);

	ck_assert_int_eq(vmhint_ctx_new(NULL, &ctx), 0);
	ck_assert_int_eq(vmhint_wire_config_get(ctx, &cfg), 0);
	ck_assert_uint_eq(le32toh(cfg.version), VMHINT_WIRE_VERSION);
	ck_assert_uint_eq(le32toh(cfg.max_ranges), VMHINT_WIRE_MAX_RANGES_DEFAULT);
	ck_assert_uint_eq(le32toh(cfg.page_size), PAGE);
	ck_assert_int_eq(vmhint_ctx_flags_set(ctx, 1u << 30), -EINVAL);
	ck_assert_int_eq(vmhint_ctx_mode_set(ctx, 5), -EINVAL);
	ck_assert_int_eq(vmhint_ctx_flags_set(ctx, VMHINT_CTX_GUEST_STABLE_HINTS), 0);
	ck_assert_int_eq(vmhint_ctx_mode_set(ctx, VMHINT_MODE_LAZY), 0);
	vmhint_ctx_free(ctx);

	ctx = ctx_make(VMHINT_MODE_SYNC, 0, 17);
	ck_assert_int_eq(vmhint_wire_config_get(ctx, &cfg), 0);
	ck_assert_uint_eq(le32toh(cfg.max_ranges), 17);
	vmhint_ctx_free(ctx);
}
END_TEST

/*
 * A caller mistake that would punch the wrong file, or the wrong part of
 * the right one, silently destroying guest memory the guest believes
 * STABLE. The kernel knows which file and offset back the mapping
 * (/proc/self/maps: dev, inode, offset); region.h promises that the
 * backing is "read from the kernel, never trusted from the caller".
 *
 * Regression: before 5c1b187 both regions were accepted and the punches
 * landed in the other file / at the other offset.
 */
START_TEST(wrong_fd_rejected)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem a = tmem_map(TMEM_MEMFD, 2 * MiB), b = tmem_map(TMEM_MEMFD, 2 * MiB);
	struct vmhint_region_opts o = {
		.size = sizeof(o), .gpa = 0, .hva = a.hva, .len = a.len, .fd = b.fd,
	};
	int ret;

	pattern_fill(a.hva, a.len, 1);
	pattern_fill(b.hva, b.len, 2);
	ret = vmhint_region_add(ctx, &o, NULL);
	if (ret == 0)
		vmhint_hint(ctx, VMHINT_OP_UNUSED, 0, PAGE);
	/* whatever happened, the other file must be whole */
	ck_assert_msg(fd_bytes_allocated(b.fd) == b.len,
		      "a hint for memfd A punched memfd B");
	ck_assert_int_eq(pattern_first_bad(b.hva, b.len, 2), -1);
	ck_assert_int_eq(ret, -EINVAL);
	vmhint_ctx_free(ctx);
	tmem_unmap(&a);
	tmem_unmap(&b);
}
END_TEST

START_TEST(wrong_fd_offset_rejected)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 0);
	struct tmem m = tmem_map(TMEM_MEMFD, 4 * MiB);
	struct vmhint_region_opts o = {
		.size = sizeof(o), .gpa = 0, .hva = m.hva, .len = 2 * MiB, .fd = m.fd,
		.fd_offset = 2 * MiB, /* the mapping is at file offset 0 */
	};
	int ret;

	pattern_fill(m.hva, m.len, 3);
	ret = vmhint_region_add(ctx, &o, NULL);
	if (ret == 0)
		vmhint_hint(ctx, VMHINT_OP_UNUSED, 0, PAGE);
	ck_assert_msg(fd_bytes_allocated(m.fd) == m.len,
		      "a hint for file page 0 punched file page 512");
	ck_assert_int_eq(pattern_bad_in(m.hva, 2 * MiB, 2 * MiB, 3), -1);
	ck_assert_int_eq(ret, -EINVAL);
	vmhint_ctx_free(ctx);
	tmem_unmap(&m);
}
END_TEST

/*
 * The library never prints (CONVENTIONS.md): failing registrations,
 * rejected hints and kernel refusals say nothing on stdout or stderr, with
 * or without a log callback.
 */
START_TEST(library_never_prints)
{
	struct vmhint_ctx *ctx = ctx_make(VMHINT_MODE_SYNC, 0, 4);
	struct tmem m = tmem_map(TMEM_ANON, 2 * MiB);
	struct vmhint_region_opts o = { .size = sizeof(o), .hva = m.hva + 1, .len = MiB, .fd = -1 };
	int pipefd[2], saved_out = dup(1), saved_err = dup(2);
	char buf[256];
	int ret[4];
	ssize_t n;

	ck_assert_int_eq(pipe2(pipefd, O_NONBLOCK), 0);
	fflush(stdout);
	fflush(stderr);
	dup2(pipefd[1], 1);
	dup2(pipefd[1], 2);

	ret[0] = vmhint_region_add(ctx, &o, NULL);         /* misaligned */
	o.hva = m.hva;
	o.fd = 12345;                                      /* not an fd */
	ret[1] = vmhint_region_add(ctx, &o, NULL);
	o.fd = -1;
	ret[2] = vmhint_region_add(ctx, &o, NULL);
	ret[3] = vmhint_region_add(ctx, &o, NULL);         /* overlap */
	vmhint_hint(ctx, VMHINT_OP_UNUSED, 64 * MiB, PAGE); /* outside */
	vmhint_wire_handle(ctx, "x", 1, NULL);             /* short */
	syscall(SYS_mlock, m.hva, MiB);
	vmhint_hint(ctx, VMHINT_OP_UNUSED, 0, PAGE);       /* refused */
	vmhint_discard_inhibit(ctx, false);                /* unbalanced */
	vmhint_ctx_free(ctx);

	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	n = read(pipefd[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	ck_assert_msg(n <= 0, "the library printed: \"%s\"", buf);
	ck_assert_int_eq(ret[0], -EINVAL);
	ck_assert_int_lt(ret[1], 0);
	ck_assert_int_eq(ret[2], 0);
	ck_assert_int_eq(ret[3], -EEXIST);
	close(pipefd[0]);
	close(pipefd[1]);
	tmem_unmap(&m);
}
END_TEST

static Suite *region_suite(void)
{
	Suite *s = suite_create("region");
	TCase *tc = tcase_create("backing");

	tcase_add_test(tc, backing_anon);
	tcase_add_test(tc, backing_memfd);
	tcase_add_test(tc, backing_shared_anon);
	tcase_add_test(tc, backing_file_private);
	tcase_add_test(tc, backing_memfd_without_fd_is_shmem);
	tcase_add_test(tc, backing_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("registry");
	tcase_add_test(tc, lookup_edges);
	tcase_add_test(tc, info_in_gpa_order);
	tcase_add_test(tc, overlap_rejected);
	tcase_add_test(tc, bad_region_rejected);
	tcase_add_test(tc, mixed_kinds_rejected);
	tcase_add_test(tc, split_vmas_one_kind);
	tcase_add_test(tc, remove_region);
	tcase_add_test(tc, fd_is_duplicated);
	tcase_add_test(tc, fd_offset_honoured);
	tcase_add_test(tc, ctx_options);
	suite_add_tcase(s, tc);

	tc = tcase_create("caller-mistakes");
	tcase_add_test(tc, wrong_fd_rejected);
	tcase_add_test(tc, wrong_fd_offset_rejected);
	tcase_add_test(tc, library_never_prints);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(region_suite());
}
