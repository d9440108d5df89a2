// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * estimate.c - the saving estimate computed from the cross-VM table:
 * every live slot copied out (sharetable.c), fingerprints grouped across
 * VMs, and KSM's rules applied (max_page_sharing, use_zero_pages).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dedupe/dedupe-internal.h"
#include "sys/sysdep.h"
#include "util/struct.h"

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
	uint64_t i = 0, j;

	if (n)	/* qsort() of a NULL array is undefined, even of 0 items */
		qsort(v, n, sizeof(*v), cmp_item);
	while (i < n) {
		uint64_t total = v[i].count;


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

/*
 * The host's KSM knob @name, or @dflt without KSM. Read here, not through
 * host/: dedupe only needs two numbers and must not depend on the
 * host-wide API.
 */
static uint64_t host_knob(const char *name, uint64_t dflt)
{
	uint64_t v;

	return sys_read_u64(name, &v) ? dflt : v;
}

/* Copy every live slot into @e->vm and the items array. */
static int est_collect(struct vmhint_dedupe_table *t, struct vmhint_dedupe_estimate *e,
		       struct est_item **items, uint64_t *nr_items)
{
	struct slot_copy c = { 0 };
	struct est_item *v = NULL, *nv;
	uint64_t n = 0, k;
	uint32_t i;

	for (i = 0; i < table_nr_slots(t); i++) {
		if (table_slot_read(t, (int)i, &c) || (!c.nr && !c.pages))
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
	uint32_t zm;
	struct vmhint_dedupe_estimate *e;
	struct est_item *v = NULL;
	uint64_t n = 0;
	int ret;

	struct vmhint_dedupe_estimate_opts o = { .size = sizeof(o) };

	if (!t || !out)
		return -EINVAL;
	ret = vh_struct_in(&o, sizeof(o), opts);
	if (ret)
		return ret;
	if (o._pad0 || o.zero_mode > VMHINT_DEDUPE_ZERO_ZERO_PAGE)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (e)
		e->vm = calloc(table_nr_slots(t) + 1, sizeof(*e->vm));
	if (!e || !e->vm) {
		vmhint_dedupe_estimate_free(e);
		return -ENOMEM;
	}
	zm = o.zero_mode;
	e->mps = o.max_page_sharing;
	if (zm == VMHINT_DEDUPE_ZERO_AUTO)
		zm = host_knob(SYS_KSM_DIR "use_zero_pages", 0) ? VMHINT_DEDUPE_ZERO_ZERO_PAGE :
							      VMHINT_DEDUPE_ZERO_KSM_PAGE;
	if (!e->mps)
		e->mps = host_knob(SYS_KSM_DIR "max_page_sharing", 256);
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

	if (!e || !out || vh_struct_out_ok(out))
		return -EINVAL;
	if (index < -1 || index >= e->nr)
		return -ENOENT;
	est_fill(index < 0 ? &e->all : &e->vm[index], &s);
	return vh_struct_out(out, &s, sizeof(s));
}

VMHINT_API void vmhint_dedupe_estimate_free(struct vmhint_dedupe_estimate *e)
{
	if (!e)
		return;
	free(e->vm);
	free(e);
}
