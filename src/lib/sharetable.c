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

#include "dedupe.h"

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

struct tbl_entry {
	uint64_t fp;
	uint64_t count;
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
	mode_t mode = o->gid == (gid_t)-1 ? 0600 : 0660;
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
	if ((o->gid != (gid_t)-1 && fchown(fd, (uid_t)-1, o->gid)) || fchmod(fd, mode) ||
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
	struct vmhint_dedupe_table_opts o = { .size = sizeof(o), .gid = (gid_t)-1 };
	struct vmhint_dedupe_table *t;
	uint32_t slots;
	uint64_t cap;
	int fd, ret;

	if (!table_name_ok(name) || !out)
		return -EINVAL;
	if (opts) {
		if (opts->size < sizeof(o))
			return -EINVAL;
		o = *opts;
	}
	fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0 && errno == ENOENT && o.create) {
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

	atomic_fetch_add(&s->seq, 1);
	s->nr_entries = slot_fill(tbl_entries(t, d->slot), fp, n);
	s->pages = n + d->zero_pages;
	s->zero_pages = d->zero_pages;
	memcpy(s->name, d->name, sizeof(s->name));
	atomic_fetch_add(&s->seq, 1);
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
 * A consistent private copy of slot @i: NULL entries and 0 count for a free
 * slot or one that stayed torn for READ_RETRIES tries (a stuck or hostile
 * writer must not stall the reader).
 */
struct slot_copy {
	int64_t owner;
	uint64_t nr, pages, zero;
	char name[64];
	struct tbl_entry *e;
};

static int slot_read(struct vmhint_dedupe_table *t, int i, struct slot_copy *c)
{
	struct tbl_slot *s = tbl_slot(t, i);
	uint64_t seq0, tries;
	struct tbl_entry *e = c->e;
	bool ok = false;

	memset(c, 0, sizeof(*c));
	c->e = e;
	for (tries = 0; tries < READ_RETRIES && !ok; tries++) {
		seq0 = atomic_load_explicit(&s->seq, memory_order_acquire);
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
	if (!ok)
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
	uint64_t *hit = calloc((d->nr_pages + 63) / 64, sizeof(uint64_t));

	if (!hit)
		return;
	for (i = 0; i < t->nr_slots; i++) {
		if ((int)i == d->slot || slot_read(t, (int)i, &c) || !c.nr)
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
	uint64_t cpu0 = dedupe_cpu_ns();
	int ret;

	if (!d || !t)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	ret = publish_locked(d, t);
	pthread_mutex_unlock(&d->lock);
	dd_add(d, scan_cpu_ns, dedupe_cpu_ns() - cpu0);
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

/* ---- estimate ---- */

struct est_vm {
	pid_t pid;
	char name[64];
	uint64_t pages, zero, dup, cross, merging;
	double saved;
};

struct vmhint_dedupe_estimate {
	int nr;
	uint64_t mps;            /* max_page_sharing */
	struct est_vm all;
	struct est_vm *vm;
};

struct est_item {
	uint64_t fp;
	uint64_t count;
	uint32_t vm;
};

static int cmp_item(const void *a, const void *b)
{
	const struct est_item *x = a, *y = b;

	return x->fp < y->fp ? -1 : x->fp > y->fp;
}

/* One content held @total times over [v, v + n): who saves what. */
static void est_group(struct vmhint_dedupe_estimate *e, const struct est_item *v, uint64_t n,
		      uint64_t total)
{
	uint64_t i, kept = (total + e->mps - 1) / e->mps;

	if (total < 2)
		return;
	e->all.saved += (double)(total - kept);
	e->all.merging += total;
	for (i = 0; i < n; i++) {
		struct est_vm *m = &e->vm[v[i].vm];

		m->merging += v[i].count;
		m->dup += v[i].count - 1;
		e->all.dup += v[i].count - 1;
		if (n > 1)
			m->cross += v[i].count;
		m->saved += (double)v[i].count * (double)(total - kept) / (double)total;
	}
	if (n > 1)
		e->all.cross += total;
}

static void est_walk(struct vmhint_dedupe_estimate *e, struct est_item *v, uint64_t n)
{
	uint64_t i = 0, j, total;

	qsort(v, n, sizeof(*v), cmp_item);
	while (i < n) {
		total = v[i].count;
		for (j = i + 1; j < n && v[j].fp == v[i].fp; j++)
			total += v[j].count;
		/*
		 * Entries of one VM are distinct fingerprints, so equal
		 * neighbours come from different VMs - unless a hostile
		 * slot repeats one; counts are still only summed.
		 */
		est_group(e, v + i, j - i, total);
		i = j;
	}
}

static void est_zero(struct vmhint_dedupe_estimate *e, bool zero_page)
{
	uint64_t z = 0, kept;
	int i;

	for (i = 0; i < e->nr; i++)
		z += e->vm[i].zero;
	e->all.zero = z;
	if (zero_page) {
		e->all.saved += (double)z;
		for (i = 0; i < e->nr; i++)
			e->vm[i].saved += (double)e->vm[i].zero;
		return;
	}
	if (z < 2)
		return;
	kept = (z + e->mps - 1) / e->mps;
	e->all.saved += (double)(z - kept);
	e->all.merging += z;
	for (i = 0; i < e->nr; i++) {
		e->vm[i].merging += e->vm[i].zero;
		e->vm[i].saved += (double)e->vm[i].zero * (double)(z - kept) / (double)z;
	}
}

/* The host's knob @knob, or @dflt without KSM. */
static uint64_t host_knob(enum vmhint_ksm_knob knob, uint64_t dflt)
{
	struct vmhint_ksm_knobs k = { .size = sizeof(k) };

	if (vmhint_ksm_knobs_get(&k) || !(k.present & (1u << knob)))
		return dflt;
	return k.val[knob];
}

/* Copy every live slot into @e->vm and the items array. */
static int est_collect(struct vmhint_dedupe_table *t, struct vmhint_dedupe_estimate *e,
		       struct est_item **items, uint64_t *nr_items)
{
	struct slot_copy c = { 0 };
	struct est_item *v = NULL, *nv;
	uint64_t n = 0, k;
	uint32_t i;

	for (i = 0; i < t->nr_slots; i++) {
		if (slot_read(t, (int)i, &c) || (!c.nr && !c.pages))
			continue;
		nv = realloc(v, (n + c.nr) * sizeof(*v) + 1);
		if (!nv) {
			free(v);
			free(c.e);
			return -ENOMEM;
		}
		v = nv;
		for (k = 0; k < c.nr; k++)
			v[n + k] = (struct est_item){ c.e[k].fp, c.e[k].count, (uint32_t)e->nr };
		n += c.nr;
		e->vm[e->nr].pid = (pid_t)c.owner;
		memcpy(e->vm[e->nr].name, c.name, sizeof(c.name));
		e->vm[e->nr].pages = c.pages;
		e->vm[e->nr].zero = c.zero < c.pages ? c.zero : c.pages;
		e->all.pages += c.pages;
		e->nr++;
	}
	free(c.e);
	*items = v;
	*nr_items = n;
	return 0;
}

VMHINT_API int vmhint_dedupe_estimate_new(struct vmhint_dedupe_table *t,
					  const struct vmhint_dedupe_estimate_opts *opts,
					  struct vmhint_dedupe_estimate **out)
{
	enum vmhint_dedupe_zero_mode zm = VMHINT_DEDUPE_ZERO_AUTO;
	struct vmhint_dedupe_estimate *e;
	struct est_item *v = NULL;
	uint64_t n = 0;
	int ret;

	if (!t || !out || (opts && opts->size < sizeof(*opts)))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (e)
		e->vm = calloc(t->nr_slots + 1, sizeof(*e->vm));
	if (!e || !e->vm) {
		vmhint_dedupe_estimate_free(e);
		return -ENOMEM;
	}
	if (opts) {
		zm = opts->zero_mode;
		e->mps = opts->max_page_sharing;
	}
	if (zm == VMHINT_DEDUPE_ZERO_AUTO)
		zm = host_knob(VMHINT_KSM_USE_ZERO_PAGES, 0) ? VMHINT_DEDUPE_ZERO_ZERO_PAGE :
							      VMHINT_DEDUPE_ZERO_KSM_PAGE;
	if (!e->mps)
		e->mps = host_knob(VMHINT_KSM_MAX_PAGE_SHARING, 256);
	if (e->mps < 2)
		e->mps = 2;
	ret = est_collect(t, e, &v, &n);
	if (ret) {
		vmhint_dedupe_estimate_free(e);
		return ret;
	}
	est_walk(e, v, n);
	free(v);
	est_zero(e, zm == VMHINT_DEDUPE_ZERO_ZERO_PAGE);
	*out = e;
	return e->nr;
}

static void est_fill(const struct est_vm *m, struct vmhint_dedupe_saving *s)
{
	s->pid = m->pid;
	memcpy(s->name, m->name, sizeof(s->name));
	s->pages = m->pages;
	s->zero_pages = m->zero;
	s->dup_pages = m->dup;
	s->cross_pages = m->cross;
	s->merging_pages = m->merging;
	s->saved_pages = (uint64_t)(m->saved + 0.5);
	s->saved_bytes = s->saved_pages * VMHINT_PAGE_SIZE;
}

VMHINT_API int vmhint_dedupe_estimate_get(const struct vmhint_dedupe_estimate *e, int index,
					  struct vmhint_dedupe_saving *out)
{
	struct vmhint_dedupe_saving s = { .size = sizeof(s) };
	size_t want;

	if (!e || !out || out->size < offsetof(struct vmhint_dedupe_saving, saved_bytes))
		return -EINVAL;
	if (index < -1 || index >= e->nr)
		return -ENOENT;
	est_fill(index < 0 ? &e->all : &e->vm[index], &s);
	want = out->size < sizeof(s) ? out->size : sizeof(s);
	memcpy((char *)out + sizeof(size_t), (char *)&s + sizeof(size_t), want - sizeof(size_t));
	return 0;
}

VMHINT_API void vmhint_dedupe_estimate_free(struct vmhint_dedupe_estimate *e)
{
	if (!e)
		return;
	free(e->vm);
	free(e);
}
