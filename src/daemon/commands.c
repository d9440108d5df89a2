// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The control commands (commands.h), as vmhintd(8) PROTOCOL specifies
 * them. A command that needs QEMU keeps a small job until QEMU answered
 * (or the connection went away: then NotConnected); everything else
 * replies before vhd_cmd_run() returns.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <unistd.h>
#include <vmhint/common.h>

#include "commands.h"
#include "conn.h"
#include "domains.h"
#include "log.h"
#include "util.h"

static struct {
	struct vhd_ksm *ksm;
	int stats_pipe[2];		/* workers -> the loop: struct stats_job * */
	int stats_watch;
} g = { .stats_pipe = { -1, -1 }, .stats_watch = -1 };

static void stats_pipe_io(int watch, int fd, int events, void *opaque);

void vhd_commands_init(const struct vhd_conf *conf, struct vhd_ksm *ksm)
{
	g.ksm = ksm;
	/* Without the pipe, stats asks libvirt from the loop (cmd_stats). */
	if (pipe2(g.stats_pipe, O_CLOEXEC | O_NONBLOCK)) {
		vhd_warn("stats: no pipe for the libvirt worker: %s",
			 strerror(errno));
		return;
	}
	g.stats_watch = virEventAddHandle(g.stats_pipe[0],
					  VIR_EVENT_HANDLE_READABLE,
					  stats_pipe_io, NULL, NULL);
	if (g.stats_watch < 0)
		vhd_warn("stats: cannot watch the libvirt worker's pipe");
}

/* --- replies ------------------------------------------------------------ */

static void add_id(json_object *reply, const char *id)
{
	json_object *v;

	if (!id || !id[0])
		return;
	/* request.c checked it is a JSON string or integer. */
	v = json_tokener_parse(id);
	if (v)
		json_object_object_add(reply, "id", v);
}

json_object *vhd_cmd_error_reply(const char *id, const char *eclass,
				 const char *desc, const char *hint)
{
	json_object *r = json_object_new_object(), *e = json_object_new_object();

	if (!r || !e) {
		json_object_put(r);
		json_object_put(e);
		return NULL;
	}
	json_object_object_add(e, "class", json_object_new_string(eclass));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	if (hint)
		json_object_object_add(e, "hint", json_object_new_string(hint));
	json_object_object_add(r, "error", e);
	add_id(r, id);
	return r;
}

static void reply_error(struct vhd_cmd_ctx *ctx, const char *eclass,
			const char *desc, const char *hint)
{
	ctx->done(ctx, vhd_cmd_error_reply(ctx->id, eclass, desc, hint));
}

/* Takes @ret's reference. */
static void reply_return(struct vhd_cmd_ctx *ctx, json_object *ret)
{
	json_object *r;

	if (!ret) {
		reply_error(ctx, "Internal", "out of memory", NULL);
		return;
	}
	r = json_object_new_object();
	if (!r) {
		json_object_put(ret);
		reply_error(ctx, "Internal", "out of memory", NULL);
		return;
	}
	json_object_object_add(r, "return", ret);
	add_id(r, ctx->id);
	ctx->done(ctx, r);
}

/* The end of a domain operation that replies {} (or an error). */
static void reply_empty_cb(json_object *ret, const char *eclass,
			   const char *edesc, void *opaque)
{
	struct vhd_cmd_ctx *ctx = opaque;

	if (!ret)
		reply_error(ctx, eclass, edesc, NULL);
	else
		reply_return(ctx, json_object_new_object());
}

/* --- finding the domain -------------------------------------------------- */

static struct vhd_domain *need_domain(struct vhd_cmd_ctx *ctx,
				      const struct vhd_request *r)
{
	struct vhd_domain *d = vhd_domain_find(r->domain);
	char desc[VHD_REQ_DOMAIN_MAX + 64];

	if (!d) {
		snprintf(desc, sizeof(desc), "no domain %s%s", r->domain,
			 vhd_domains_connected() ? "" :
			 " (vmhintd is not connected to libvirt)");
		reply_error(ctx, "NoDomain", desc,
			    vhd_domains_connected() ? "virsh list --all" :
			    "is libvirtd running?");
	}
	return d;
}

static const struct vhp_policy *need_policy(struct vhd_cmd_ctx *ctx,
					    struct vhd_domain *d)
{
	const struct vhp_policy *p = vhd_domain_policy(d);
	char desc[320];

	if (!p) {
		snprintf(desc, sizeof(desc), "domain %s has no valid vmhint "
			 "policy", vhd_domain_name(d));
		reply_error(ctx, "NotAttached", desc, "vmhintctl attach DOMAIN");
	}
	return p;
}

static bool need_qmp(struct vhd_cmd_ctx *ctx, struct vhd_domain *d)
{
	char desc[320];

	if (vhd_domain_qmp_ready(d))
		return true;
	snprintf(desc, sizeof(desc), vhd_domain_active(d) ?
		 "vmhintd is not connected to the QMP socket of domain %s" :
		 "domain %s is not running", vhd_domain_name(d));
	reply_error(ctx, "NotConnected", desc, vhd_domain_active(d) ?
		    "see last-error in vmhintctl list" : NULL);
	return false;
}

/* A running domain that vmhintd reaches over QMP. */
static struct vhd_domain *need_live(struct vhd_cmd_ctx *ctx,
				    const struct vhd_request *r)
{
	struct vhd_domain *d = need_domain(ctx, r);

	if (!d || !need_policy(ctx, d) || !need_qmp(ctx, d))
		return NULL;
	return d;
}

/* --- version, list, ksm-status ------------------------------------------ */

static void cmd_version(struct vhd_cmd_ctx *ctx, const struct vhd_request *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "libvmhint", json_object_new_string(vmhint_version()));
	json_object_object_add(o, "libvirt-uri", json_object_new_string(vhd_conn_uri()));
	json_object_object_add(o, "connected",
			       json_object_new_boolean(vhd_domains_connected()));
	reply_return(ctx, o);
}

static void cmd_list(struct vhd_cmd_ctx *ctx, const struct vhd_request *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "domains", vhd_domains_list());
	reply_return(ctx, o);
}

static void cmd_ksm_status(struct vhd_cmd_ctx *ctx, const struct vhd_request *r)
{
	reply_return(ctx, vhd_ksm_status(g.ksm));
}

/* --- stats ------------------------------------------------------------- */

/*
 * libvirt's memory figures come from a worker thread: virDomainMemoryStats
 * waits for the domain's lock and job, which libvirtd may hold for seconds
 * (virsh destroy of a QEMU that does not die waits 10 s before SIGKILL; a
 * job holds others up to 30 s). Called from the loop, it would stop
 * vmhintd for every domain and client meanwhile. The worker has a
 * reference of its own on the domain and hands the job back through a
 * pipe; the loop finds the domain again by UUID (it may be gone by then)
 * and asks QEMU.
 */
struct stats_job {
	struct vhd_cmd_ctx *ctx;
	json_object *o;
	char uuid[VIR_UUID_STRING_BUFLEN];
	virDomainPtr dom;		/* the worker's reference, or NULL */
	virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
	int n;
	char err[256];			/* libvirt's message if n < 0 */
};

static void stats_query_done(json_object *ret, const char *eclass,
			     const char *edesc, void *opaque)
{
	struct stats_job *j = opaque;

	if (ret)
		json_object_object_add(j->o, "vmhint", json_object_get(ret));
	else
		json_object_object_add(j->o, "vmhint-error",
				       json_object_new_string(edesc));
	reply_return(j->ctx, j->o);
	free(j);
}

/* The loop's half: libvirt's figures in, then QEMU's (if reachable). */
static void stats_finish(struct stats_job *j)
{
	struct vhd_domain *d;
	int i;

	for (i = 0; i < j->n; i++) {
		if (j->st[i].tag == VIR_DOMAIN_MEMORY_STAT_RSS)
			json_object_object_add(j->o, "rss-kib",
					       json_object_new_uint64(j->st[i].val));
		else if (j->st[i].tag == VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON)
			json_object_object_add(j->o, "actual-kib",
					       json_object_new_uint64(j->st[i].val));
	}
	d = vhd_domain_find(j->uuid);
	/* The state now, not when the request came: libvirt may have
	 * taken its time because the domain was stopping. */
	if (d)
		json_object_object_add(j->o, "state", json_object_new_string(
				vhd_domain_state_name(vhd_domain_state(d))));
	/* A domain that stopped meanwhile: libvirt says so here. */
	if (j->n < 0)
		json_object_object_add(j->o, "memory-error",
				       json_object_new_string(j->err));
	if (d && vhd_domain_active(d) && !vhd_domain_qmp_ready(d))
		json_object_object_add(j->o, "vmhint-error", json_object_new_string(
				"vmhintd is not connected to the domain's QEMU "
				"(see last-error in vmhintctl list)"));
	if (!d || !vhd_domain_qmp_ready(d)) {
		reply_return(j->ctx, j->o);
		free(j);
		return;
	}
	vhd_domain_query(d, stats_query_done, j);
}

static void *stats_worker(void *opaque)
{
	struct stats_job *j = opaque;

	j->n = virDomainMemoryStats(j->dom, j->st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
	if (j->n < 0)	/* libvirt's last error is per thread: this one's */
		snprintf(j->err, sizeof(j->err), "%s", virGetLastErrorMessage());
	virDomainFree(j->dom);
	j->dom = NULL;
	/* A pointer is less than PIPE_BUF: written whole or not at all. */
	if (write(g.stats_pipe[1], &j, sizeof(j)) != sizeof(j))
		vhd_err("stats: cannot hand a reply back to the loop");
	return NULL;
}

static void stats_pipe_io(int watch, int fd, int events, void *opaque)
{
	struct stats_job *j;

	while (read(fd, &j, sizeof(j)) == sizeof(j))
		stats_finish(j);
}

/* The worker for @j, or -1 (then the caller goes on without it). */
static int stats_start_worker(struct stats_job *j, virDomainPtr dom)
{
	pthread_attr_t attr;
	pthread_t t;
	int ret;

	if (g.stats_watch < 0 || virDomainRef(dom) < 0)
		return -1;
	j->dom = dom;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = pthread_create(&t, &attr, stats_worker, j);
	pthread_attr_destroy(&attr);
	if (ret) {
		virDomainFree(dom);
		j->dom = NULL;
		return -1;
	}
	return 0;
}

static void cmd_stats(struct vhd_cmd_ctx *ctx, const struct vhd_request *r)
{
	struct vhd_domain *d = need_domain(ctx, r);
	virDomainPtr dom;
	struct stats_job *j;
	json_object *o;

	if (!d)
		return;
	o = json_object_new_object();
	j = calloc(1, sizeof(*j));
	if (!o || !j) {
		json_object_put(o);
		free(j);
		reply_error(ctx, "Internal", "out of memory", NULL);
		return;
	}
	j->ctx = ctx;
	j->o = o;
	snprintf(j->uuid, sizeof(j->uuid), "%s", vhd_domain_uuid(d));
	json_object_object_add(o, "name", json_object_new_string(vhd_domain_name(d)));
	json_object_object_add(o, "uuid", json_object_new_string(vhd_domain_uuid(d)));
	json_object_object_add(o, "state", json_object_new_string(
				       vhd_domain_state_name(vhd_domain_state(d))));
	if (vhd_domain_policy(d))
		json_object_object_add(o, "policy", vhd_domain_policy_json(d));
	dom = vhd_domain_virdom(d);
	if (dom && vhd_domain_active(d)) {
		if (!stats_start_worker(j, dom))
			return;
		/* No worker (no pipe, no thread): from the loop, then. */
		j->n = virDomainMemoryStats(dom, j->st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
		if (j->n < 0)
			snprintf(j->err, sizeof(j->err), "%s",
				 virGetLastErrorMessage());
	}
	stats_finish(j);
}

/* --- set-mode, dedupe ---------------------------------------------------- */

/* A changed policy: metadata first, then QEMU (if the change is live). */
static void set_policy(struct vhd_cmd_ctx *ctx, struct vhd_domain *d,
		       const struct vhp_policy *np, unsigned int affect)
{
	bool live = (affect & VHD_AFFECT_LIVE) ||
		    (!affect && vhd_domain_active(d));
	char err[512];

	if (live && !vhd_domain_active(d)) {
		reply_error(ctx, "Refused", "the domain is not running: a live "
			    "change needs a running domain", "use --config");
		return;
	}
	if ((affect & VHD_AFFECT_CONFIG) && !vhd_domain_persistent(d)) {
		reply_error(ctx, "Refused", "the domain is transient: it has "
			    "no config to change", NULL);
		return;
	}
	/* Nothing is written unless libvirt and QEMU can take it now. */
	if (!vhd_domain_virdom(d)) {
		reply_error(ctx, "NotConnected", "vmhintd is not connected to "
			    "libvirt (it is reconnecting)", "is libvirtd running?");
		return;
	}
	if (live && !need_qmp(ctx, d))
		return;
	if (vhd_domain_write_policy(d, np, affect, err, sizeof(err))) {
		reply_error(ctx, "Internal", err, NULL);
		return;
	}
	if (!live) {
		reply_return(ctx, json_object_new_object());
		return;
	}
	vhd_domain_apply(d, reply_empty_cb, ctx);
}

static void cmd_set_mode(struct vhd_cmd_ctx *ctx, const struct vhd_request *r)
{
	struct vhd_domain *d = need_domain(ctx, r);
	const struct vhp_policy *p;
	struct vhp_policy np;

	if (!d || !(p = need_policy(ctx, d)))
		return;
	np = *p;
	np.mode = r->mode;
	set_policy(ctx, d, &np, r->affect);
}

static void cmd_dedupe(struct vhd_cmd_ctx *ctx, const struct vhd_request *r)
{
	struct vhd_domain *d = need_domain(ctx, r);
	const struct vhp_policy *p;
	struct vhp_policy np;
	char desc[320];

	if (!d || !(p = need_policy(ctx, d)))
		return;
	if (r->enable && vhd_domain_nosharepages(d)) {
		snprintf(desc, sizeof(desc), "domain %s has <nosharepages/>: "
			 "its memory is never merged", vhd_domain_name(d));
		reply_error(ctx, "Refused", desc, "remove <nosharepages/> from "
			    "<memoryBacking> first (virsh edit)");
		return;
	}
	if (r->enable && !p->dedupe_table[0]) {
		snprintf(desc, sizeof(desc), "domain %s has no dedupe table",
			 vhd_domain_name(d));
		reply_error(ctx, "Refused", desc,
			    "vmhintctl attach DOMAIN --dedupe TABLE");
		return;
	}
	np = *p;
	np.dedupe = r->enable;
	set_policy(ctx, d, &np, r->affect);
}

/* --- flush ------------------------------------------------------------- */

static void flush_done(json_object *ret, const char *eclass, const char *edesc,
		       void *opaque)
{
	struct vhd_cmd_ctx *ctx = opaque;
	uint64_t sum = 0;
	json_object *o, *b;
	size_t i;

	if (!ret) {
		reply_error(ctx, eclass, edesc, NULL);
		return;
	}
	for (i = 0; i < json_object_array_length(ret); i++) {
		b = vhd_json_get(json_object_array_get_idx(ret, i),
				 "bytes-dropped", json_type_int);
		if (b)
			sum += json_object_get_uint64(b);
	}
	o = json_object_new_object();
	json_object_object_add(o, "bytes-dropped", json_object_new_uint64(sum));
	reply_return(ctx, o);
}

static void cmd_flush(struct vhd_cmd_ctx *ctx, const struct vhd_request *r)
{
	struct vhd_domain *d = need_live(ctx, r);

	if (d)
		vhd_domain_call_all(d, "vmhint-flush", NULL, flush_done, ctx);
}

/* --- NUMA -------------------------------------------------------------- */

/* A node list file ("0-1,3\n") into a mask of nodes < 64: 0 or -1. */
static int read_nodes(const char *path, const char *key, uint64_t *nodes,
		      char *text, size_t size)
{
	char line[512];
	size_t klen = key ? strlen(key) : 0;
	FILE *f = fopen(path, "re");
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *v = line;

		if (key) {
			if (strncmp(line, key, klen))
				continue;
			v = line + klen;
			v += strspn(v, " \t");
		}
		v[strcspn(v, "\n")] = '\0';
		/* Shown in errors: a node list is short, cut it if not. */
		if (strlen(v) >= size)
			v[size - 1] = '\0';
		memcpy(text, v, strlen(v) + 1);
		ret = vhp_nodes_parse(text, nodes);
		break;
	}
	fclose(f);
	return ret;
}

static void cmd_numa_move(struct vhd_cmd_ctx *ctx, const struct vhd_request *r)
{
	struct vhd_domain *d = need_live(ctx, r);
	char online_s[256], allowed_s[256], path[64], desc[384], hint[512];
	uint64_t online = 0, allowed = 0;
	json_object *a;

	if (!d)
		return;
	if (read_nodes("/sys/devices/system/node/online", NULL, &online,
		       online_s, sizeof(online_s)))
		online = 1, snprintf(online_s, sizeof(online_s), "0");
	if (r->node >= 64 || !(online & (1ull << r->node))) {
		snprintf(desc, sizeof(desc), "node %u is not an online host "
			 "node (online: %s)", r->node, online_s);
		reply_error(ctx, "Refused", desc, "numactl --hardware");
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)vhd_domain_pid(d));
	if (read_nodes(path, "Mems_allowed_list:", &allowed, allowed_s,
		       sizeof(allowed_s))) {
		reply_error(ctx, "Internal", "cannot read the QEMU process's "
			    "Mems_allowed_list", NULL);
		return;
	}
	if (!(allowed & (1ull << r->node))) {
		snprintf(desc, sizeof(desc), "node %u is outside the domain's "
			 "cpuset.mems (%s)", r->node, allowed_s);
		snprintf(hint, sizeof(hint), "widen it with: virsh numatune %s "
			 "--mode restrictive --nodeset %s,%u --live",
			 vhd_domain_name(d), allowed_s, r->node);
		reply_error(ctx, "Refused", desc, hint);
		return;
	}
	a = json_object_new_object();
	json_object_object_add(a, "host-node", json_object_new_int64(r->node));
	if (r->move_all)
		json_object_object_add(a, "move-all", json_object_new_boolean(true));
	if (r->max_bytes_per_sec)
		json_object_object_add(a, "max-bytes-per-sec",
				       json_object_new_uint64(r->max_bytes_per_sec));
	vhd_domain_call_all(d, "vmhint-numa-move", a, reply_empty_cb, ctx);
	json_object_put(a);
}

static void numa_status_done(json_object *ret, const char *eclass,
			     const char *edesc, void *opaque)
{
	struct vhd_cmd_ctx *ctx = opaque;
	json_object *m = NULL, *o;
	size_t i;

	if (!ret) {
		reply_error(ctx, eclass, edesc, NULL);
		return;
	}
	for (i = 0; i < json_object_array_length(ret) && !m; i++)
		m = vhd_json_get(json_object_array_get_idx(ret, i), "numa-move",
				 json_type_object);
	if (m) {
		reply_return(ctx, json_object_get(m));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("none"));
	reply_return(ctx, o);
}

static void cmd_numa_status(struct vhd_cmd_ctx *ctx, const struct vhd_request *r)
{
	struct vhd_domain *d = need_live(ctx, r);

	if (d)
		vhd_domain_query(d, numa_status_done, ctx);
}

static void cmd_numa_cancel(struct vhd_cmd_ctx *ctx, const struct vhd_request *r)
{
	struct vhd_domain *d = need_live(ctx, r);

	if (d)
		vhd_domain_call_all(d, "vmhint-numa-move-cancel", NULL,
				    reply_empty_cb, ctx);
}

/* --- dispatch ----------------------------------------------------------- */

typedef void (*cmd_fn)(struct vhd_cmd_ctx *ctx, const struct vhd_request *r);

static const cmd_fn cmds[VHD_REQ_NR] = {
	[VHD_REQ_VERSION] = cmd_version,
	[VHD_REQ_LIST] = cmd_list,
	[VHD_REQ_STATS] = cmd_stats,
	[VHD_REQ_SET_MODE] = cmd_set_mode,
	[VHD_REQ_FLUSH] = cmd_flush,
	[VHD_REQ_DEDUPE] = cmd_dedupe,
	[VHD_REQ_KSM_STATUS] = cmd_ksm_status,
	[VHD_REQ_NUMA_MOVE] = cmd_numa_move,
	[VHD_REQ_NUMA_STATUS] = cmd_numa_status,
	[VHD_REQ_NUMA_CANCEL] = cmd_numa_cancel,
};

void vhd_cmd_run(struct vhd_cmd_ctx *ctx, const struct vhd_request *r)
{
	if ((unsigned int)r->cmd >= VHD_REQ_NR || !cmds[r->cmd]) {
		reply_error(ctx, "BadRequest", "unknown command", NULL);
		return;
	}
	cmds[r->cmd](ctx, r);
}
