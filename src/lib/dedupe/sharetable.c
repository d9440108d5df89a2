// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sharetable.c - the cross-VM fingerprint table in POSIX shared memory,
 * and the saving estimate computed from it.
 *
 * Layout: a header, nr_slots slot headers, then nr_slots arrays of
 * slot_capacity entries. A VM process owns one slot (its pid in ->owner,
 * claimed by compare-and-swap) and writes only there: its distinct
 * fingerprints, sorted, each with the number of pages holding it. A
 * sequence counter (odd while writing) lets readers detect a torn copy
 * and retry, so nobody ever waits for a lock held by a stuck or dead VM.
 *
 * Every byte of the segment may have been written by another process, so
 * readers copy a slot out first and then validate the copy: counts are
 * clipped to the capacity, names terminated, order checked.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dedupe/dedupe-internal.h"
#include "util/struct.h"

#define TABLE_MAGIC 0x4554444e49484d56ULL /* "VMHINDTE" */
#define TABLE_VERSION 1
#define TABLE_DEF_SLOTS 16
#define TABLE_DEF_CAPACITY (4ULL << 20)
#define READ_RETRIES 1000

struct tbl_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t nr_slots;
	uint64_t slot_capacity;
	uint64_t reserved[5];
};

struct tbl_slot {
	_Atomic int64_t owner;        /* pid, 0: free */
	_Atomic uint64_t seq;         /* odd while the owner writes */
	uint64_t nr_entries;
	uint64_t pages;               /* resident pages fingerprinted */
	uint64_t zero_pages;
	char name[64];
	uint64_t reserved[3];
};

struct vmhint_dedupe_table {
	void *map;
	size_t map_len;
	uint32_t nr_slots;
	uint64_t capacity;
};

static struct tbl_slot *tbl_slot(struct vmhint_dedupe_table *t, int i)
{
	return (struct tbl_slot *)((char *)t->map + sizeof(struct tbl_hdr)) + i;
}

static struct tbl_entry *tbl_entries(struct vmhint_dedupe_table *t, int i)
{
	char *base = (char *)tbl_slot(t, (int)t->nr_slots);

	return (struct tbl_entry *)base + (uint64_t)i * t->capacity;
}

static int table_size(uint32_t slots, uint64_t cap, size_t *len)
{
	uint64_t n;

	if (!slots || slots > VMHINT_DEDUPE_MAX_SLOTS || !cap || cap > (1ULL << 36))
		return -EINVAL;
	n = sizeof(struct tbl_hdr) + slots * sizeof(struct tbl_slot) +
	    slots * cap * sizeof(struct tbl_entry);
	if (n > SIZE_MAX)
		return -EINVAL;
	*len = (size_t)n;
	return 0;
}

static bool table_name_ok(const char *name)
{
	return name && name[0] == '/' && name[1] && !strchr(name + 1, '/') &&
	       strlen(name) < 255;
}

/* Make a new segment: exclusive create, explicit mode (umask must not widen or narrow it). */
static int table_create(const char *name, const struct vmhint_dedupe_table_opts *o,
			uint32_t *slots, uint64_t *cap)
{
	bool group = o->flags & VMHINT_DEDUPE_TABLE_GROUP;
	mode_t mode = group ? 0660 : 0600;
	size_t len;
	int fd, ret;

	*slots = o->nr_slots ? o->nr_slots : TABLE_DEF_SLOTS;
	*cap = o->slot_capacity ? o->slot_capacity : TABLE_DEF_CAPACITY;
	ret = table_size(*slots, *cap, &len);
	if (ret)
		return ret;
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if ((group && fchown(fd, (uid_t)-1, (gid_t)o->gid)) || fchmod(fd, mode) ||
	    ftruncate(fd, (off_t)len)) {
		ret = -errno;
		close(fd);
		shm_unlink(name);
		return ret;
	}
	return fd;
}

static int table_map(struct vmhint_dedupe_table *t, int fd)
{
	struct stat st;
	struct tbl_hdr hdr;

	if (fstat(fd, &st))
		return -errno;
	if ((size_t)st.st_size < sizeof(hdr))
		return -EPROTO;
	if (pread(fd, &hdr, sizeof(hdr), 0) != sizeof(hdr))
		return -EPROTO;
	if (hdr.magic != TABLE_MAGIC || hdr.version != TABLE_VERSION ||
	    table_size(hdr.nr_slots, hdr.slot_capacity, &t->map_len) ||
	    (uint64_t)st.st_size < t->map_len)
		return -EPROTO;
	t->nr_slots = hdr.nr_slots;
	t->capacity = hdr.slot_capacity;
	t->map = mmap(NULL, t->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (t->map == MAP_FAILED) {
		t->map = NULL;
		return -errno;
	}
	return 0;
}

/*
 * The creator writes the header last-but-magic: an opener racing with the
 * creation sees a zero magic and gets -EPROTO rather than a half header.
 */
static int table_init_header(int fd, uint32_t slots, uint64_t cap)
{
	struct tbl_hdr hdr = { .version = TABLE_VERSION, .nr_slots = slots, .slot_capacity = cap };

	if (pwrite(fd, &hdr, sizeof(hdr), 0) != sizeof(hdr))
		return -EIO;
	hdr.magic = TABLE_MAGIC;
	if (pwrite(fd, &hdr.magic, sizeof(hdr.magic), 0) != sizeof(hdr.magic))
		return -EIO;
	return 0;
}

VMHINT_API int vmhint_dedupe_table_open(const char *name,
					const struct vmhint_dedupe_table_opts *opts,
					struct vmhint_dedupe_table **out)
{
	struct vmhint_dedupe_table_opts o = { .size = sizeof(o) };
	struct vmhint_dedupe_table *t;
	uint32_t slots;
	uint64_t cap;
	int fd, ret;

	if (!table_name_ok(name) || !out)
		return -EINVAL;
	ret = vh_struct_in(&o, sizeof(o), opts);
	if (ret)
		return ret;
	if (o.flags & ~(VMHINT_DEDUPE_TABLE_CREATE | VMHINT_DEDUPE_TABLE_GROUP))
		return -EINVAL;
	fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0 && errno == ENOENT && (o.flags & VMHINT_DEDUPE_TABLE_CREATE)) {
		fd = table_create(name, &o, &slots, &cap);
		if (fd >= 0 && (ret = table_init_header(fd, slots, cap))) {
			close(fd);
			shm_unlink(name);
			return ret;
		}
	} else if (fd < 0) {
		fd = -errno;
	}
	if (fd < 0)
		return fd;
	t = calloc(1, sizeof(*t));
	if (!t) {
		close(fd);
		return -ENOMEM;
	}
	ret = table_map(t, fd);
	close(fd);
	if (ret) {
		free(t);
		return ret;
	}
	*out = t;
	return 0;
}

VMHINT_API void vmhint_dedupe_table_close(struct vmhint_dedupe_table *t)
{
	if (!t)
		return;
	munmap(t->map, t->map_len);
	free(t);
}

VMHINT_API int vmhint_dedupe_table_unlink(const char *name)
{
	if (!table_name_ok(name))
		return -EINVAL;
	return shm_unlink(name) ? -errno : 0;
}

/* A slot whose owner process is gone may be taken over. */
static bool owner_dead(int64_t pid)
{
	return pid > 0 && pid <= INT32_MAX && kill((pid_t)pid, 0) && errno == ESRCH;
}

static int slot_claim(struct vmhint_dedupe_table *t)
{
	int64_t me = getpid(), cur;
	uint32_t i;

	for (i = 0; i < t->nr_slots; i++) {
		cur = 0;
		if (atomic_compare_exchange_strong(&tbl_slot(t, i)->owner, &cur, me))
			return (int)i;
	}
	for (i = 0; i < t->nr_slots; i++) {
		cur = atomic_load(&tbl_slot(t, i)->owner);
		if (owner_dead(cur) &&
		    atomic_compare_exchange_strong(&tbl_slot(t, i)->owner, &cur, me))
			return (int)i;
	}
	return -ENOSPC;
}

/* Sorted fingerprints -> (fp, count) runs, written into the slot. */
static uint64_t slot_fill(struct tbl_entry *e, const uint64_t *fp, uint64_t n)
{
	uint64_t i = 0, j, k = 0;

	while (i < n) {
		for (j = i + 1; j < n && fp[j] == fp[i]; j++)
			;
		e[k].fp = fp[i];
		e[k].count = j - i;
		k++;
		i = j;
	}
	return k;
}

static uint64_t count_distinct(const uint64_t *fp, uint64_t n)
{
	uint64_t i, k = n ? 1 : 0;

	for (i = 1; i < n; i++)
		k += fp[i] != fp[i - 1];
	return k;
}

static void slot_write(struct vmhint_dedupe *d, struct vmhint_dedupe_table *t,
		       const uint64_t *fp, uint64_t n)
{
	struct tbl_slot *s = tbl_slot(t, d->slot);

	/*
	 * An odd count left by a previous owner (killed mid-write, or
	 * hostile) would make every write of ours look torn to readers:
	 * we are the only writer, so even it out first.
	 */
	if (atomic_load(&s->seq) & 1)
		atomic_fetch_add(&s->seq, 1);
	atomic_fetch_add(&s->seq, 1);
	s->nr_entries = slot_fill(tbl_entries(t, d->slot), fp, n);
	s->pages = n + d->zero_pages;
	s->zero_pages = d->zero_pages;
	memcpy(s->name, d->name, sizeof(s->name));
	atomic_fetch_add(&s->seq, 1);
}

uint32_t table_nr_slots(const struct vmhint_dedupe_table *t)
{
	return t->nr_slots;
}

void table_withdraw_locked(struct vmhint_dedupe *d)
{
	struct tbl_slot *s;
	int64_t me = getpid();

	if (!d->table)
		return;
	s = tbl_slot(d->table, d->slot);
	atomic_fetch_add(&s->seq, 1);
	s->nr_entries = 0;
	s->pages = 0;
	s->zero_pages = 0;
	atomic_fetch_add(&s->seq, 1);
	atomic_compare_exchange_strong(&s->owner, &me, 0);
	d->table = NULL;
	d->slot = -1;
}

/*
 * What an honest writer leaves (slot_write): strictly increasing
 * fingerprints, each held by 1 to @pages pages, and no more pages than a
 * guest of 4 PiB has. Anything else was written by somebody else: the
 * estimate's sums and mark_cross()'s binary search rely on this.
 */
#define SLOT_MAX_PAGES (1ULL << 40)

static bool slot_copy_valid(const struct slot_copy *c)
{
	uint64_t k;

	if (c->pages > SLOT_MAX_PAGES)
		return false;
	for (k = 0; k < c->nr; k++) {
		if (!c->e[k].count || c->e[k].count > c->pages)
			return false;
		if (k && c->e[k - 1].fp >= c->e[k].fp)
			return false;
	}
	return true;
}

/*
 * A consistent private copy of slot @i: NULL entries and 0 count for a free
 * slot, one that stayed torn for READ_RETRIES tries (a stuck or hostile
 * writer must not stall the reader) or one no honest writer could have
 * left (slot_copy_valid()).
 */
int table_slot_read(struct vmhint_dedupe_table *t, int i, struct slot_copy *c)
{
	struct tbl_slot *s = tbl_slot(t, i);
	uint64_t tries;
	struct tbl_entry *e = c->e;
	bool ok = false;

	memset(c, 0, sizeof(*c));
	c->e = e;
	for (tries = 0; tries < READ_RETRIES && !ok; tries++) {
		uint64_t seq0 = atomic_load_explicit(&s->seq, memory_order_acquire);

		c->owner = atomic_load(&s->owner);
		if (c->owner <= 0)
			break;
		if (seq0 & 1)
			continue;
		c->nr = s->nr_entries < t->capacity ? s->nr_entries : t->capacity;
		c->pages = s->pages;
		c->zero = s->zero_pages;
		memcpy(c->name, s->name, sizeof(c->name));
		free(c->e);
		c->e = malloc(c->nr * sizeof(*c->e) + 1);
		if (!c->e)
			return -ENOMEM;
		memcpy(c->e, tbl_entries(t, i), c->nr * sizeof(*c->e));
		atomic_thread_fence(memory_order_acquire);
		ok = atomic_load(&s->seq) == seq0;
	}
	c->name[sizeof(c->name) - 1] = '\0';
	if (!ok || !slot_copy_valid(c))
		c->nr = c->pages = c->zero = 0;
	return 0;
}

static bool fp_in(const struct tbl_entry *e, uint64_t n, uint64_t fp)
{
	uint64_t lo = 0, hi = n;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (e[mid].fp == fp)
			return true;
		if (e[mid].fp < fp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Pages of @d whose content another slot published: the cross-VM candidates. */
static void mark_cross(struct vmhint_dedupe *d, struct vmhint_dedupe_table *t)
{
	struct slot_copy c = { 0 };
	uint64_t p, cand = 0;
	uint32_t i;
	uint64_t *hit = calloc(bitmap_words(d->nr_pages), sizeof(uint64_t));

	if (!hit)
		return;
	for (i = 0; i < t->nr_slots; i++) {
		if ((int)i == d->slot || table_slot_read(t, (int)i, &c) || !c.nr)
			continue;
		for (p = 0; p < d->nr_pages; p++)
			if (d->fp[p] >= FP_FIRST_REAL && fp_in(c.e, c.nr, d->fp[p]))
				bit_set(hit, p);
		if (c.zero)
			for (p = 0; p < d->nr_pages; p++)
				if (d->fp[p] == FP_ZERO)
					bit_set(hit, p);
	}
	free(c.e);
	for (p = 0; p < d->nr_pages; p++) {
		if (bit_test(hit, p)) {
			bit_set(d->mergeable, p);
			cand++;
		}
	}
	d->candidate_pages = cand;
	free(hit);
}

static int publish_locked(struct vmhint_dedupe *d, struct vmhint_dedupe_table *t)
{
	uint64_t *fp, n, distinct;
	int ret;

	if (!(d->flags & VMHINT_DEDUPE_CROSS_VM))
		return -EPERM;
	if (!atomic_load(&d->c.passes))
		return -EAGAIN;
	if (d->table && d->table != t)
		return -EBUSY;
	ret = fp_sorted_copy(d, &fp, &n);
	if (ret)
		return ret;
	distinct = count_distinct(fp, n);
	if (distinct > t->capacity) {
		free(fp);
		return -ENOSPC;
	}
	if (!d->table) {
		ret = slot_claim(t);
		if (ret < 0) {
			free(fp);
			return ret;
		}
		d->table = t;
		d->slot = ret;
	}
	slot_write(d, t, fp, n);
	free(fp);
	mark_cross(d, t);
	return (int)(distinct > INT32_MAX ? INT32_MAX : distinct);
}

VMHINT_API int vmhint_dedupe_publish(struct vmhint_dedupe *d, struct vmhint_dedupe_table *t)
{
	uint64_t cpu0 = vh_cpu_ns();
	int ret;

	if (!d || !t)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	ret = publish_locked(d, t);
	pthread_mutex_unlock(&d->lock);
	dd_add(d, scan_cpu_ns, vh_cpu_ns() - cpu0);
	return ret;
}

VMHINT_API int vmhint_dedupe_withdraw(struct vmhint_dedupe *d)
{
	int ret = 0;

	if (!d)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	if (!d->table)
		ret = -ENOENT;
	table_withdraw_locked(d);
	pthread_mutex_unlock(&d->lock);
	return ret;
}
