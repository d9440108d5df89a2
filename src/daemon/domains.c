// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The managed domain table (domains.h).
 *
 * A domain's entry outlives libvirt connections: while libvirtd restarts,
 * entries keep their QMP connections (QEMU does not care about libvirtd)
 * and lose only their virDomainPtr; the next connection's list finds them
 * again by UUID. An entry goes away when libvirt says the domain is gone
 * (undefined and not running, or a transient one stopped), or when a new
 * connection's list no longer has it.
 *
 * What QEMU runs with is learnt from query-vmhint (on every QMP connect
 * and every poll); the policy is applied where that differs from it, so
 * the metadata event that follows vmhintd's own metadata write finds
 * nothing to do. Calls in flight count as done for that comparison.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <libvirt/virterror.h>
#include <string.h>

#include "conn.h"
#include "domains.h"
#include "lifecycle.h"
#include "log.h"
#include "qmp.h"
#include "request.h"
#include "util.h"

#define MAX_OBJS		16	/* vmhint objects per domain */
#define QMP_BACKOFF_FIRST_MS	500
#define QMP_UNREACHABLE_AFTER	3	/* failed connects before "unreachable" */

/* One vmhint object as QEMU last reported it (or as our calls left it). */
struct vhd_obj {
	char id[64];
	enum vhp_mode mode;
	bool has_dedupe;	/* QEMU reports a dedupe state */
	bool dedupe;
};

struct vhd_domain {
	struct vhd_domain *next;
	char uuid[VIR_UUID_STRING_BUFLEN];
	char name[256];
	int id;				/* -1 while inactive */
	int state;			/* virDomainState, last known */
	bool persistent;
	bool seen;			/* in the current reconcile's list */
	virDomainPtr dom;		/* NULL while libvirt is away */

	bool has_policy;		/* a valid policy was read */
	bool attached;			/* metadata present (valid or not) */
	struct vhp_policy policy;	/* the last valid one */
	struct vhp_policy start;	/* the one QEMU was started with */
	bool start_known;
	unsigned int next_start;	/* NS_* that differ from start */
	bool nosharepages;
	unsigned int policy_errors;
	char last_error[VHP_ERR_MAX + 64];
	char logged_error[VHP_ERR_MAX + 64];
	bool error_is_policy;		/* last_error is about the metadata */

	struct vhd_qmp *qmp;
	char qmp_path[VHP_PATH_MAX];
	int retry_timer;
	uint32_t backoff;
	unsigned int connect_failures;	/* in a row */
	bool qemu_exiting;		/* QEMU said SHUTDOWN: a hang-up is due */
	bool query_inflight;
	struct vhd_obj objs[MAX_OBJS];
	unsigned int nr_objs;
	bool objs_known;

	/* The target of an automatic apply that QEMU refused: not tried
	 * again on every poll, only when the policy changes. */
	bool apply_blocked;
	enum vhp_mode blocked_mode;
	bool blocked_dedupe;
};

/* What cannot change live, as next_start bits. */
#define NS_NUMA		(1u << 0)
#define NS_ACTIVE	(1u << 1)
#define NS_QMP		(1u << 2)

static struct {
	struct vhd_conf conf;
	struct vhd_ksm *ksm;
	struct vhd_domain *list;
	int poll_timer;
} g = { .poll_timer = -1 };

static void dom_ensure_qmp(struct vhd_domain *d);
static void dom_drop_qmp(struct vhd_domain *d);

/* --- errors, logged once per distinct message ---------------------------- */

static void dom_error(struct vhd_domain *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void dom_error(struct vhd_domain *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->last_error, sizeof(d->last_error), fmt, ap);
	va_end(ap);
	d->error_is_policy = false;
	if (!strcmp(d->last_error, d->logged_error))
		return;
	snprintf(d->logged_error, sizeof(d->logged_error), "%s", d->last_error);
	vhd_warn("domain %s: %s", d->name, d->last_error);
}

/* --- the table --------------------------------------------------------- */

static struct vhd_domain *dom_by_uuid(const char *uuid)
{
	struct vhd_domain *d;

	for (d = g.list; d; d = d->next)
		if (!strcmp(d->uuid, uuid))
			return d;
	return NULL;
}

static void dom_retry_timer(int timer, void *opaque);

static struct vhd_domain *dom_new(const char *uuid)
{
	struct vhd_domain *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	d->id = -1;
	d->backoff = QMP_BACKOFF_FIRST_MS;
	vhp_policy_init(&d->policy);
	d->retry_timer = virEventAddTimeout(-1, dom_retry_timer, d, NULL);
	if (d->retry_timer < 0) {
		free(d);
		return NULL;
	}
	d->next = g.list;
	g.list = d;
	return d;
}

static void dom_forget(struct vhd_domain *d)
{
	struct vhd_domain **pp;

	for (pp = &g.list; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	vhd_info("domain %s (%s): no longer managed", d->name, d->uuid);
	/* Pending calls fail (their clients get NotConnected) while @d is
	 * still whole: their callbacks may look at it. */
	dom_drop_qmp(d);
	virEventRemoveTimeout(d->retry_timer);
	if (d->dom)
		virDomainFree(d->dom);
	free(d);
}

static void dom_set_virdom(struct vhd_domain *d, virDomainPtr dom)
{
	if (d->dom == dom)
		return;
	if (dom)
		virDomainRef(dom);
	if (d->dom)
		virDomainFree(d->dom);
	d->dom = dom;
}

/* Name, ID, state from libvirt: 0, or -1 if the domain is gone. */
static int dom_refresh(struct vhd_domain *d)
{
	int state, reason, p;
	const char *name;

	if (!d->dom)
		return 0;
	if (virDomainGetState(d->dom, &state, &reason, 0) < 0) {
		virErrorPtr e = virGetLastError();

		return e && e->code == VIR_ERR_NO_DOMAIN ? -1 : 0;
	}
	d->state = state;
	name = virDomainGetName(d->dom);
	if (name)
		snprintf(d->name, sizeof(d->name), "%s", name);
	d->id = virDomainIsActive(d->dom) == 1 ? (int)virDomainGetID(d->dom) : -1;
	p = virDomainIsPersistent(d->dom);
	if (p >= 0)
		d->persistent = p;
	return 0;
}

bool vhd_domain_active(const struct vhd_domain *d)
{
	return d->state == VIR_DOMAIN_RUNNING || d->state == VIR_DOMAIN_PAUSED ||
	       d->state == VIR_DOMAIN_BLOCKED || d->state == VIR_DOMAIN_PMSUSPENDED ||
	       d->state == VIR_DOMAIN_SHUTDOWN;
}

/* --- the policy ---------------------------------------------------------- */

static unsigned int policy_next_start(const struct vhp_policy *now,
				      const struct vhp_policy *start)
{
	unsigned int ns = 0;

	if (now->numa_policy != start->numa_policy ||
	    now->numa_nodes != start->numa_nodes)
		ns |= NS_NUMA;
	if (now->active_reporting != start->active_reporting)
		ns |= NS_ACTIVE;
	if (strcmp(now->qmp_socket, start->qmp_socket))
		ns |= NS_QMP;
	return ns;
}

/* Log, once per change, what the new policy cannot change in QEMU. */
static void dom_note_next_start(struct vhd_domain *d)
{
	unsigned int ns = 0;

	if (d->start_known)
		ns = policy_next_start(&d->policy, &d->start);
	if ((ns & ~d->next_start) & NS_NUMA)
		vhd_notice("domain %s: the NUMA policy applies from the next "
			   "start (a QEMU startup property)", d->name);
	if ((ns & ~d->next_start) & NS_ACTIVE)
		vhd_notice("domain %s: active reporting applies from the next "
			   "start (a guest module parameter)", d->name);
	if ((ns & ~d->next_start) & NS_QMP)
		vhd_notice("domain %s: the QMP socket applies from the next "
			   "start", d->name);
	d->next_start = ns;
}

/* Read the policy from the domain's XML (live if it runs). */
static void dom_read_policy(struct vhd_domain *d)
{
	char err[VHP_ERR_MAX];
	struct vhp_policy p;
	char *xml;
	int ret, nsp;

	if (!d->dom)
		return;
	xml = virDomainGetXMLDesc(d->dom, 0);
	if (!xml) {
		dom_error(d, "cannot read its XML: %s", virGetLastErrorMessage());
		return;
	}
	nsp = vhp_domain_nosharepages(xml, strlen(xml));
	d->nosharepages = nsp == 1;
	ret = vhp_policy_parse(xml, strlen(xml), &p, err, sizeof(err));
	free(xml);
	if (ret < 0) {
		d->attached = true;
		d->policy_errors++;
		dom_error(d, "invalid vmhint metadata (%s); %s", err,
			  d->has_policy ? "keeping the last valid policy" :
			  "no valid policy yet");
		d->error_is_policy = true;
		return;
	}
	d->attached = ret == 1;
	if (ret == 0) {
		d->has_policy = false;
		vhp_policy_init(&d->policy);
		return;
	}
	if (!d->has_policy || memcmp(&p, &d->policy, sizeof(p))) {
		vhd_debug("domain %s: policy mode %s, dedupe %s", d->name,
			  vhp_mode_name(p.mode), p.dedupe ? "on" : "off");
		d->apply_blocked = false;
	}
	d->policy = p;
	d->has_policy = true;
	dom_note_next_start(d);
}

/* Refresh from libvirt and bring QMP in line with the state. Return -1 if
 * the domain is gone. */
static int dom_sync(struct vhd_domain *d, bool reread)
{
	bool was_active = vhd_domain_active(d);

	if (dom_refresh(d))
		return -1;
	if (reread)
		dom_read_policy(d);
	if (vhd_domain_active(d) && d->has_policy) {
		if (!was_active || !d->start_known) {
			d->start = d->policy;
			d->start_known = true;
			d->next_start = 0;
		}
		dom_ensure_qmp(d);
	} else {
		dom_drop_qmp(d);
		if (!vhd_domain_active(d))
			d->start_known = false;
	}
	return 0;
}

/* --- applying ------------------------------------------------------------ */

/* A set of calls, one per object; @cb once all answered. */
struct batch {
	struct vhd_domain *d;
	unsigned int outstanding;
	bool failed;
	char eclass[32];
	char edesc[256];
	json_object *results;		/* array, in object order */
	bool empty;			/* the caller gets {} instead */
	vhd_domain_cb cb;
	void *opaque;
};

struct batch_call {
	struct batch *b;
	unsigned int obj;
	int kind;			/* CALL_* */
	int value;
};

enum { CALL_PLAIN, CALL_MODE, CALL_DEDUPE };

static struct batch *batch_new(struct vhd_domain *d, vhd_domain_cb cb,
			       void *opaque)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->d = d;
	b->cb = cb;
	b->opaque = opaque;
	b->outstanding = 1;	/* held until every call is sent */
	b->results = json_object_new_array();
	return b;
}

static void batch_fail(struct batch *b, const char *eclass, const char *edesc)
{
	if (b->failed)
		return;
	b->failed = true;
	snprintf(b->eclass, sizeof(b->eclass), "%s", eclass);
	snprintf(b->edesc, sizeof(b->edesc), "%s", edesc);
}

static void batch_put(struct batch *b)
{
	if (--b->outstanding)
		return;
	if (b->cb) {
		json_object *empty = b->empty ? json_object_new_object() : NULL;

		if (b->failed)
			b->cb(NULL, b->eclass, b->edesc, b->opaque);
		else
			b->cb(empty ? empty : b->results, NULL, NULL, b->opaque);
		json_object_put(empty);
	}
	json_object_put(b->results);
	free(b);
}

static void dom_query(struct vhd_domain *d, struct batch *b);

static void batch_reply(struct vhd_qmp *q, json_object *ret, const char *eclass,
			const char *edesc, void *opaque)
{
	struct batch_call *c = opaque;
	struct batch *b = c->b;
	struct vhd_domain *d = b->d;

	if (ret) {
		json_object_array_put_idx(b->results, c->obj, json_object_get(ret));
	} else if (!strcmp(eclass, VHD_QMP_ENOTCONN)) {
		batch_fail(b, "NotConnected", edesc);
	} else {
		batch_fail(b, "QmpError", edesc);
		/* What we assumed the call did is wrong: ask QEMU again. */
		if (c->kind != CALL_PLAIN && vhd_qmp_is_ready(d->qmp))
			dom_query(d, NULL);
	}
	free(c);
	batch_put(b);
}

static void batch_send(struct batch *b, unsigned int obj, const char *cmd,
		       json_object *args, int kind, int value)
{
	struct batch_call *c = calloc(1, sizeof(*c));
	struct vhd_domain *d = b->d;

	if (!c) {
		json_object_put(args);
		batch_fail(b, "Internal", "out of memory");
		return;
	}
	c->b = b;
	c->obj = obj;
	c->kind = kind;
	c->value = value;
	if (!d->qmp || vhd_qmp_call(d->qmp, cmd, args, batch_reply, c)) {
		free(c);
		batch_fail(b, "NotConnected", "vmhintd has no QMP connection to "
			   "the domain's QEMU");
		return;
	}
	b->outstanding++;
}

static json_object *obj_args(const struct vhd_obj *o)
{
	json_object *a = json_object_new_object();

	json_object_object_add(a, "id", json_object_new_string(o->id));
	return a;
}

static bool dom_dedupe_wanted(const struct vhd_domain *d)
{
	return d->policy.dedupe && !d->nosharepages;
}

/* Send what differs; true if anything was sent. */
static bool dom_apply_diff(struct vhd_domain *d, struct batch *b)
{
	bool want_dedupe = dom_dedupe_wanted(d), sent = false;
	json_object *a;
	unsigned int i;

	for (i = 0; i < d->nr_objs; i++) {
		struct vhd_obj *o = &d->objs[i];

		if (o->mode != d->policy.mode) {
			a = obj_args(o);
			json_object_object_add(a, "mode", json_object_new_string(
					vhp_mode_name(d->policy.mode)));
			o->mode = d->policy.mode;
			batch_send(b, i, "vmhint-set-mode", a, CALL_MODE,
				   d->policy.mode);
			sent = true;
		}
		/* Off needs nothing from QEMU if it reports no dedupe. */
		if ((o->has_dedupe || want_dedupe) && o->dedupe != want_dedupe) {
			a = obj_args(o);
			json_object_object_add(a, "enable",
					       json_object_new_boolean(want_dedupe));
			o->dedupe = want_dedupe;
			o->has_dedupe = true;
			batch_send(b, i, "vmhint-dedupe", a, CALL_DEDUPE,
				   want_dedupe);
			sent = true;
		}
	}
	return sent;
}

static void apply_logged(json_object *ret, const char *eclass,
			 const char *edesc, void *opaque)
{
	struct vhd_domain *d = opaque;

	if (ret) {
		vhd_info("domain %s: policy applied (mode %s, dedupe %s)",
			 d->name, vhp_mode_name(d->policy.mode),
			 dom_dedupe_wanted(d) ? "on" : "off");
		return;
	}
	if (!strcmp(eclass, "NotConnected"))
		return;	/* the hang-up is logged, and applies again */
	d->apply_blocked = true;
	d->blocked_mode = d->policy.mode;
	d->blocked_dedupe = dom_dedupe_wanted(d);
	dom_error(d, "QEMU refused the policy: %s", edesc);
}

/* The policy applied without anyone waiting (events, polls). */
static void dom_apply_auto(struct vhd_domain *d)
{
	struct batch *b;

	if (!d->has_policy || !d->objs_known || !vhd_qmp_is_ready(d->qmp))
		return;
	if (d->apply_blocked && d->blocked_mode == d->policy.mode &&
	    d->blocked_dedupe == dom_dedupe_wanted(d))
		return;
	b = batch_new(d, apply_logged, d);
	if (!b)
		return;
	if (!dom_apply_diff(d, b))
		b->cb = NULL;	/* nothing differed: nothing to log */
	batch_put(b);
}

void vhd_domain_apply(struct vhd_domain *d, vhd_domain_cb cb, void *opaque)
{
	struct batch *b;

	if (!vhd_qmp_is_ready(d->qmp) || !d->objs_known) {
		cb(NULL, "NotConnected", "vmhintd is not connected to the "
		   "domain's QEMU yet", opaque);
		return;
	}
	b = batch_new(d, cb, opaque);
	if (!b) {
		cb(NULL, "Internal", "out of memory", opaque);
		return;
	}
	d->apply_blocked = false;
	dom_apply_diff(d, b);
	/* The caller wants {} on success, not the per-object returns. */
	b->empty = true;
	batch_put(b);
}

void vhd_domain_call_all(struct vhd_domain *d, const char *cmd,
			 json_object *args, vhd_domain_cb cb, void *opaque)
{
	struct batch *b;
	unsigned int i;

	if (!vhd_qmp_is_ready(d->qmp) || !d->objs_known) {
		cb(NULL, "NotConnected", "vmhintd is not connected to the "
		   "domain's QEMU", opaque);
		return;
	}
	b = batch_new(d, cb, opaque);
	if (!b) {
		cb(NULL, "Internal", "out of memory", opaque);
		return;
	}
	for (i = 0; i < d->nr_objs; i++) {
		json_object *a = obj_args(&d->objs[i]);

		if (args) {
			json_object_object_foreach(args, k, v)
				json_object_object_add(a, k, json_object_get(v));
		}
		batch_send(b, i, cmd, a, CALL_PLAIN, 0);
	}
	batch_put(b);
}

/* --- query-vmhint ------------------------------------------------------- */

/* Learn the objects from query-vmhint's return: 0, or -1 if it is not
 * what QEMU's schema says. */
static int dom_parse_objs(struct vhd_domain *d, json_object *ret)
{
	struct vhd_obj objs[MAX_OBJS];
	size_t i, n;

	if (!json_object_is_type(ret, json_type_array))
		return -1;
	n = json_object_array_length(ret);
	if (n > MAX_OBJS)
		n = MAX_OBJS;
	memset(objs, 0, sizeof(objs));
	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(ret, i);
		json_object *id = vhd_json_get(o, "id", json_type_string);
		json_object *mode = vhd_json_get(o, "mode", json_type_string);
		json_object *dd = vhd_json_get(o, "dedupe", json_type_object);
		json_object *en = vhd_json_get(dd, "enabled", json_type_boolean);

		if (!id || !mode ||
		    vhp_mode_from_name(json_object_get_string(mode), &objs[i].mode))
			return -1;
		snprintf(objs[i].id, sizeof(objs[i].id), "%s",
			 json_object_get_string(id));
		objs[i].has_dedupe = en != NULL;
		objs[i].dedupe = en && json_object_get_boolean(en);
	}
	memcpy(d->objs, objs, sizeof(objs));
	d->nr_objs = n;
	d->objs_known = true;
	return 0;
}

struct query {
	struct vhd_domain *d;
	struct batch *b;		/* who waits, or NULL */
};

static void query_reply(struct vhd_qmp *q, json_object *ret,
			const char *eclass, const char *edesc, void *opaque)
{
	struct query *qu = opaque;
	struct vhd_domain *d = qu->d;
	struct batch *b = qu->b;

	free(qu);
	d->query_inflight = false;
	if (ret && dom_parse_objs(d, ret)) {
		dom_error(d, "query-vmhint returned what its schema does not "
			  "allow");
		ret = NULL;
		eclass = "QmpError";
		edesc = "query-vmhint returned an unexpected reply";
	}
	if (ret) {
		/* Only what the poll needs is kept (objs): stats and
		 * numa-status ask QEMU afresh. */
		if (b)
			json_object_array_put_idx(b->results, 0,
						  json_object_get(ret));
	} else if (b) {
		batch_fail(b, strcmp(eclass, VHD_QMP_ENOTCONN) ? "QmpError" :
			   "NotConnected", edesc);
	}
	if (ret && vhd_qmp_is_ready(d->qmp))
		dom_apply_auto(d);
	if (b)
		batch_put(b);
}

/* query-vmhint; @b (or nobody) waits for it. */
static void dom_query(struct vhd_domain *d, struct batch *b)
{
	struct query *qu = calloc(1, sizeof(*qu));

	if (!qu) {
		if (b)
			batch_fail(b, "Internal", "out of memory");
		return;
	}
	qu->d = d;
	qu->b = b;
	if (vhd_qmp_call(d->qmp, "query-vmhint", NULL, query_reply, qu)) {
		free(qu);
		if (b)
			batch_fail(b, "NotConnected", "vmhintd is not connected "
				   "to the domain's QEMU");
		return;
	}
	d->query_inflight = true;
	if (b)
		b->outstanding++;
}

/* The return array itself, not an array of one. */
struct query_wait {
	vhd_domain_cb cb;
	void *opaque;
};

static void query_unwrap(json_object *ret, const char *eclass,
			 const char *edesc, void *opaque)
{
	struct query_wait w = *(struct query_wait *)opaque;

	free(opaque);
	w.cb(ret ? json_object_array_get_idx(ret, 0) : NULL, eclass, edesc,
	     w.opaque);
}

void vhd_domain_query(struct vhd_domain *d, vhd_domain_cb cb, void *opaque)
{
	struct query_wait *w;
	struct batch *b;

	if (!vhd_qmp_is_ready(d->qmp)) {
		cb(NULL, "NotConnected", "vmhintd is not connected to the "
		   "domain's QEMU", opaque);
		return;
	}
	w = calloc(1, sizeof(*w));
	b = w ? batch_new(d, query_unwrap, w) : NULL;
	if (!b) {
		free(w);
		cb(NULL, "Internal", "out of memory", opaque);
		return;
	}
	w->cb = cb;
	w->opaque = opaque;
	dom_query(d, b);
	batch_put(b);
}

/* --- QMP connection ---------------------------------------------------- */

static void dom_qmp_ready(struct vhd_qmp *q, void *opaque)
{
	struct vhd_domain *d = opaque;

	vhd_info("domain %s: QMP connected (%s, QEMU pid %d)", d->name,
		 d->qmp_path, (int)vhd_qmp_pid(q));
	d->connect_failures = 0;
	d->backoff = QMP_BACKOFF_FIRST_MS;
	d->objs_known = false;
	d->qemu_exiting = false;
	/* A connection problem that is over is no longer the last error; a
	 * metadata error stays: list keeps showing the last one. */
	if (!d->error_is_policy)
		d->last_error[0] = d->logged_error[0] = '\0';
	dom_query(d, NULL);
}

static void dom_qmp_event(struct vhd_qmp *q, const char *name,
			  json_object *data, void *opaque)
{
	struct vhd_domain *d = opaque;
	int exiting = vhd_qemu_run_event(name);

	if (exiting >= 0)
		d->qemu_exiting = exiting;
	if (!strcmp(name, "VMHINT_NUMA_MOVE_DONE"))
		vhd_info("domain %s: NUMA move done: %s", d->name,
			 data ? json_object_to_json_string_ext(data,
					JSON_C_TO_STRING_PLAIN) : "{}");
	else
		vhd_debug("domain %s: QMP event %s", d->name, name);
}

static void dom_schedule_retry(struct vhd_domain *d)
{
	uint32_t max = g.conf.reconnect_max_ms;

	virEventUpdateTimeout(d->retry_timer, (int)d->backoff);
	d->backoff = d->backoff * 2 > max ? max : d->backoff * 2;
}

static void dom_qmp_closed(struct vhd_qmp *q, const char *why, void *opaque)
{
	struct vhd_domain *d = opaque;

	d->objs_known = false;
	d->query_inflight = false;
	if (d->qemu_exiting) {
		/* Stopped, destroyed, migrated away: libvirt's event
		 * follows. Not an error, and nothing to count; the retry
		 * asks libvirt whether a QEMU still runs. */
		vhd_info("domain %s: QMP closed: QEMU exits (%s)", d->name, why);
		d->qemu_exiting = false;
	} else {
		d->connect_failures++;
		dom_error(d, "QMP connection lost: %s", why);
	}
	dom_schedule_retry(d);
}

static const struct vhd_qmp_ops dom_qmp_ops = {
	.ready = dom_qmp_ready,
	.event = dom_qmp_event,
	.closed = dom_qmp_closed,
};

static void dom_connect_qmp(struct vhd_domain *d)
{
	int ret = vhd_qmp_connect(d->qmp);

	if (!ret || ret == -EISCONN)
		return;
	d->connect_failures++;
	dom_error(d, "cannot connect to its QMP socket %s: %s", d->qmp_path,
		  strerror(-ret));
	dom_schedule_retry(d);
}

static void dom_retry_timer(int timer, void *opaque)
{
	struct vhd_domain *d = opaque;

	virEventUpdateTimeout(d->retry_timer, -1);
	/* A hang-up comes before libvirt's stopped event: ask libvirt first
	 * whether there is a QEMU to reconnect to. */
	if (dom_refresh(d) == 0 && d->qmp && vhd_domain_active(d))
		dom_connect_qmp(d);
}

static void dom_ensure_qmp(struct vhd_domain *d)
{
	if (d->qmp)
		return;
	if (!d->policy.qmp_socket[0]) {
		dom_error(d, "its vmhint policy names no QMP socket "
			  "(vmhintctl attach adds one)");
		return;
	}
	snprintf(d->qmp_path, sizeof(d->qmp_path), "%s", d->policy.qmp_socket);
	d->qmp = vhd_qmp_new(d->qmp_path, g.conf.qmp_timeout_ms, &dom_qmp_ops, d);
	if (!d->qmp) {
		dom_error(d, "out of memory");
		return;
	}
	d->connect_failures = 0;
	d->backoff = QMP_BACKOFF_FIRST_MS;
	dom_connect_qmp(d);
}

static void dom_drop_qmp(struct vhd_domain *d)
{
	struct vhd_qmp *q = d->qmp;

	if (!q)
		return;
	/* Cleared first: callbacks of the failing calls see no QMP. */
	d->qmp = NULL;
	d->objs_known = false;
	d->query_inflight = false;
	vhd_qmp_free(q);
	virEventUpdateTimeout(d->retry_timer, -1);
	vhd_debug("domain %s: QMP dropped", d->name);
}

/* --- libvirt events and connections -------------------------------------- */

/*
 * VMHINTD_DOMAINS (a shell pattern of domain names) limits vmhintd to the
 * matching domains: tests on a shared host leave others' domains (and
 * their one-client QMP sockets) alone. Unset: every domain.
 */
static bool dom_wanted(virDomainPtr dom)
{
	const char *pat = getenv("VMHINTD_DOMAINS");
	const char *name;

	if (!pat || !*pat)
		return true;
	name = virDomainGetName(dom);
	return name && !fnmatch(pat, name, 0);
}

static struct vhd_domain *dom_of(virDomainPtr dom, bool create)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	struct vhd_domain *d;

	if (!dom_wanted(dom) || virDomainGetUUIDString(dom, uuid) < 0)
		return NULL;
	d = dom_by_uuid(uuid);
	if (!d && create)
		d = dom_new(uuid);
	if (d)
		dom_set_virdom(d, dom);
	return d;
}

static const char *const event_names[] = {
	[VIR_DOMAIN_EVENT_DEFINED] = "defined",
	[VIR_DOMAIN_EVENT_UNDEFINED] = "undefined",
	[VIR_DOMAIN_EVENT_STARTED] = "started",
	[VIR_DOMAIN_EVENT_SUSPENDED] = "suspended",
	[VIR_DOMAIN_EVENT_RESUMED] = "resumed",
	[VIR_DOMAIN_EVENT_STOPPED] = "stopped",
	[VIR_DOMAIN_EVENT_SHUTDOWN] = "shutdown",
	[VIR_DOMAIN_EVENT_PMSUSPENDED] = "pmsuspended",
	[VIR_DOMAIN_EVENT_CRASHED] = "crashed",
};

/* The stream of a migration is in: what QEMU took while it waited for it
 * (vmhintd applies the policy as soon as the incoming QEMU's QMP answers)
 * is asked again, and what it refused then is tried once more. */
static void dom_recheck(struct vhd_domain *d)
{
	d->apply_blocked = false;
	if (!vhd_qmp_is_ready(d->qmp))
		return;	/* the connection's first query-vmhint does it */
	vhd_debug("domain %s: migrated in: checking what QEMU runs", d->name);
	if (!d->query_inflight)
		dom_query(d, NULL);
}

static void dom_lifecycle(virDomainPtr dom, int event, int detail, void *opaque)
{
	struct vhd_domain *d = dom_of(dom, true);
	unsigned int act = vhd_lifecycle_actions(event, detail);

	if (!d)
		return;
	if (!d->name[0])
		snprintf(d->name, sizeof(d->name), "%s", virDomainGetName(dom));
	vhd_info("domain %s: %s (detail %d)", d->name,
		 event >= 0 && event <= VIR_DOMAIN_EVENT_CRASHED ?
		 event_names[event] : "event", detail);
	/* A QEMU that stopped or crashed has no QMP to wait for. */
	if (act & VHD_LC_DROP_QMP)
		dom_drop_qmp(d);
	if (dom_sync(d, (act & VHD_LC_REREAD) || !d->has_policy)) {
		dom_forget(d);
		return;
	}
	if ((act & VHD_LC_RECHECK) && d->has_policy)
		dom_recheck(d);
}

static void dom_metadata(virDomainPtr dom, void *opaque)
{
	struct vhd_domain *d = dom_of(dom, true);

	if (!d)
		return;
	vhd_debug("domain %s: vmhint metadata changed", d->name);
	if (dom_sync(d, true)) {
		dom_forget(d);
		return;
	}
	dom_apply_auto(d);
}

/* A new connection: every domain it lists, and none it does not. */
static void dom_connected(virConnectPtr conn, void *opaque)
{
	virDomainPtr *doms = NULL;
	struct vhd_domain *d, *next;
	int i, n;

	n = virConnectListAllDomains(conn, &doms, 0);
	if (n < 0) {
		vhd_warn("cannot list domains: %s", virGetLastErrorMessage());
		return;
	}
	for (d = g.list; d; d = d->next)
		d->seen = false;
	for (i = 0; i < n; i++) {
		d = dom_of(doms[i], true);
		if (d && !dom_sync(d, true))
			d->seen = true;
		virDomainFree(doms[i]);
	}
	free(doms);
	for (d = g.list; d; d = next) {
		next = d->next;
		if (!d->seen)
			dom_forget(d);
	}
	for (i = n = 0, d = g.list; d; d = d->next, n++)
		i += d->has_policy;
	vhd_info("%d domains, %d with a vmhint policy", n, i);
}

static void dom_disconnected(void *opaque)
{
	struct vhd_domain *d;

	/* QMP connections stay: QEMU runs on without libvirtd. */
	for (d = g.list; d; d = d->next)
		dom_set_virdom(d, NULL);
}

static const struct vhd_conn_ops dom_conn_ops = {
	.connected = dom_connected,
	.disconnected = dom_disconnected,
	.lifecycle = dom_lifecycle,
	.metadata = dom_metadata,
};

/* --- the poll ------------------------------------------------------------ */

/* Whether QEMU reports dedupe on for one of the domain's objects. */
static bool dom_dedupes(const struct vhd_domain *d)
{
	unsigned int i;

	if (!d->objs_known || !vhd_domain_pid(d) || !d->policy.dedupe_table[0])
		return false;
	for (i = 0; i < d->nr_objs; i++)
		if (d->objs[i].dedupe)
			return true;
	return false;
}

#define MAX_USES	64
#define MAX_PIDS	1024

/* The dedupe tables in use, each with the QEMU pids that publish to it. */
static void dom_ksm_poll(void)
{
	struct vhd_ksm_table_use uses[MAX_USES];
	static pid_t pids[MAX_PIDS];
	unsigned int nu = 0, np = 0, i;
	struct vhd_domain *d;

	for (d = g.list; d; d = d->next) {
		if (!dom_dedupes(d))
			continue;
		for (i = 0; i < nu; i++)
			if (!strcmp(uses[i].table, d->policy.dedupe_table))
				break;
		if (i == nu && nu < MAX_USES) {
			uses[nu].table = d->policy.dedupe_table;
			uses[nu++].nr_pids = 0;
		}
	}
	/* A table's pids contiguous in pids[]. */
	for (i = 0; i < nu; i++) {
		uses[i].pids = pids + np;
		for (d = g.list; d && np < MAX_PIDS; d = d->next) {
			if (!dom_dedupes(d) ||
			    strcmp(d->policy.dedupe_table, uses[i].table))
				continue;
			pids[np++] = vhd_domain_pid(d);
			uses[i].nr_pids++;
		}
	}
	if (g.ksm)
		vhd_ksm_poll(g.ksm, uses, nu);
}

static void dom_poll(int timer, void *opaque)
{
	struct vhd_domain *d;

	for (d = g.list; d; d = d->next)
		if (vhd_qmp_is_ready(d->qmp) && !d->query_inflight)
			dom_query(d, NULL);
	dom_ksm_poll();
}

/* --- the interface ----------------------------------------------------- */

int vhd_domains_start(const struct vhd_conf *conf, struct vhd_ksm *ksm)
{
	g.conf = *conf;
	g.ksm = ksm;
	g.poll_timer = virEventAddTimeout((int)conf->poll_interval_ms, dom_poll,
					  NULL, NULL);
	if (g.poll_timer < 0)
		return -1;
	return vhd_conn_start(conf, &dom_conn_ops, NULL);
}

void vhd_domains_reload(const struct vhd_conf *conf)
{
	struct vhd_domain *d, *next;

	g.conf = *conf;
	virEventUpdateTimeout(g.poll_timer, (int)conf->poll_interval_ms);
	vhd_conn_reconf(conf);
	for (d = g.list; d; d = next) {
		next = d->next;
		d->apply_blocked = false;
		if (dom_sync(d, true))
			dom_forget(d);
		else
			dom_apply_auto(d);
	}
}

void vhd_domains_stop(void)
{
	while (g.list)
		dom_forget(g.list);
	vhd_conn_stop();
	if (g.poll_timer >= 0)
		virEventRemoveTimeout(g.poll_timer);
	g.poll_timer = -1;
}

bool vhd_domains_connected(void)
{
	return vhd_conn_get() != NULL;
}

struct vhd_domain *vhd_domain_find(const char *spec)
{
	struct vhd_domain *d;
	char *end;
	long id;

	for (d = g.list; d; d = d->next)
		if (!strcasecmp(d->uuid, spec))
			return d;
	for (d = g.list; d; d = d->next)
		if (!strcmp(d->name, spec))
			return d;
	errno = 0;
	id = strtol(spec, &end, 10);
	if (*spec < '0' || *spec > '9' || *end || errno || id <= 0)
		return NULL;
	for (d = g.list; d; d = d->next)
		if (d->id == id && vhd_domain_active(d))
			return d;
	return NULL;
}

const char *vhd_domain_state_name(int state)
{
	static const char *const names[] = {
		[VIR_DOMAIN_NOSTATE] = "nostate",
		[VIR_DOMAIN_RUNNING] = "running",
		[VIR_DOMAIN_BLOCKED] = "blocked",
		[VIR_DOMAIN_PAUSED] = "paused",
		[VIR_DOMAIN_SHUTDOWN] = "in-shutdown",
		[VIR_DOMAIN_SHUTOFF] = "shutoff",
		[VIR_DOMAIN_CRASHED] = "crashed",
		[VIR_DOMAIN_PMSUSPENDED] = "pmsuspended",
	};

	if (state < 0 || state > VIR_DOMAIN_PMSUSPENDED)
		return "unknown";
	return names[state];
}

static const char *dom_vmhint_state(const struct vhd_domain *d)
{
	if (!d->has_policy)
		return d->attached ? "invalid-policy" : "not-attached";
	if (!vhd_domain_active(d))
		return "inactive";
	if (vhd_qmp_is_ready(d->qmp) && d->objs_known)
		return "active";
	if (!d->qmp || d->connect_failures >= QMP_UNREACHABLE_AFTER)
		return "unreachable";
	return "connecting";
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

json_object *vhd_domain_policy_json(const struct vhd_domain *d)
{
	const struct vhp_policy *p = &d->policy;
	json_object *o = json_object_new_object();
	char nodes[256];

	if (!o)
		return NULL;
	add_str(o, "mode", vhp_mode_name(p->mode));
	json_object_object_add(o, "dedupe", json_object_new_boolean(
				       dom_dedupe_wanted(d)));
	if (p->dedupe_table[0])
		add_str(o, "dedupe-table", p->dedupe_table);
	if (p->dedupe && d->nosharepages)
		json_object_object_add(o, "nosharepages",
				       json_object_new_boolean(true));
	json_object_object_add(o, "active-reporting",
			       json_object_new_boolean(p->active_reporting));
	add_str(o, "numa-policy", vhp_numa_name(p->numa_policy));
	if (p->numa_nodes) {
		vhp_nodes_format(p->numa_nodes, nodes, sizeof(nodes));
		add_str(o, "numa-nodes", nodes);
	}
	if (p->qmp_socket[0])
		add_str(o, "qmp-socket", p->qmp_socket);
	return o;
}

static json_object *next_start_json(unsigned int ns)
{
	json_object *a = json_object_new_array();

	if (ns & NS_NUMA)
		json_object_array_add(a, json_object_new_string("numa"));
	if (ns & NS_ACTIVE)
		json_object_array_add(a, json_object_new_string("active-reporting"));
	if (ns & NS_QMP)
		json_object_array_add(a, json_object_new_string("qmp-socket"));
	return a;
}

json_object *vhd_domain_json(const struct vhd_domain *d)
{
	json_object *o = json_object_new_object(), *p;

	if (!o)
		return NULL;
	add_str(o, "name", d->name);
	add_str(o, "uuid", d->uuid);
	json_object_object_add(o, "id", json_object_new_int(d->id));
	add_str(o, "state", vhd_domain_state_name(d->state));
	json_object_object_add(o, "persistent",
			       json_object_new_boolean(d->persistent));
	add_str(o, "vmhint", dom_vmhint_state(d));
	if (d->has_policy) {
		/* The policy's members, flat, as list shows them. */
		p = vhd_domain_policy_json(d);
		json_object_object_foreach(p, k, v)
			json_object_object_add(o, k, json_object_get(v));
		json_object_put(p);
	}
	if (vhd_domain_pid(d))
		json_object_object_add(o, "qemu-pid",
				       json_object_new_int(vhd_domain_pid(d)));
	if (d->next_start)
		json_object_object_add(o, "next-start",
				       next_start_json(d->next_start));
	json_object_object_add(o, "policy-errors",
			       json_object_new_int64(d->policy_errors));
	if (d->last_error[0])
		add_str(o, "last-error", d->last_error);
	return o;
}

json_object *vhd_domains_list(void)
{
	json_object *a = json_object_new_array();
	struct vhd_domain *d;

	if (!a)
		return NULL;
	for (d = g.list; d; d = d->next)
		json_object_array_add(a, vhd_domain_json(d));
	return a;
}

const char *vhd_domain_name(const struct vhd_domain *d)
{
	return d->name;
}

const char *vhd_domain_uuid(const struct vhd_domain *d)
{
	return d->uuid;
}

int vhd_domain_state(const struct vhd_domain *d)
{
	return d->state;
}

bool vhd_domain_persistent(const struct vhd_domain *d)
{
	return d->persistent;
}

virDomainPtr vhd_domain_virdom(const struct vhd_domain *d)
{
	return d->dom;
}

const struct vhp_policy *vhd_domain_policy(const struct vhd_domain *d)
{
	return d->has_policy ? &d->policy : NULL;
}

bool vhd_domain_nosharepages(const struct vhd_domain *d)
{
	return d->nosharepages;
}

pid_t vhd_domain_pid(const struct vhd_domain *d)
{
	return vhd_qmp_is_ready(d->qmp) ? vhd_qmp_pid(d->qmp) : 0;
}

bool vhd_domain_qmp_ready(const struct vhd_domain *d)
{
	return vhd_qmp_is_ready(d->qmp) && d->objs_known;
}

int vhd_domain_write_policy(struct vhd_domain *d, const struct vhp_policy *p,
			    unsigned int affect, char *err, size_t errsz)
{
	unsigned int flags = 0;
	char *xml;
	int ret;

	if (!d->dom) {
		snprintf(err, errsz, "vmhintd is not connected to libvirt");
		return -1;
	}
	if (!affect)
		affect = (vhd_domain_active(d) ? VHD_AFFECT_LIVE : 0) |
			 (d->persistent ? VHD_AFFECT_CONFIG : 0);
	if (affect & VHD_AFFECT_LIVE)
		flags |= VIR_DOMAIN_AFFECT_LIVE;
	if (affect & VHD_AFFECT_CONFIG)
		flags |= VIR_DOMAIN_AFFECT_CONFIG;
	xml = vhp_policy_format_metadata(p);
	if (!xml) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	ret = virDomainSetMetadata(d->dom, VIR_DOMAIN_METADATA_ELEMENT, xml,
				   VHP_NS_PREFIX, VHP_NS_URI, flags);
	free(xml);
	if (ret < 0) {
		snprintf(err, errsz, "%s", virGetLastErrorMessage());
		return -1;
	}
	/* The running definition is the one vmhintd applies; an inactive
	 * domain's is its config. */
	if ((affect & VHD_AFFECT_LIVE) || !vhd_domain_active(d)) {
		if (memcmp(&d->policy, p, sizeof(*p)))
			d->apply_blocked = false;
		d->policy = *p;
		d->has_policy = true;
		d->attached = true;
		dom_note_next_start(d);
	}
	return 0;
}
