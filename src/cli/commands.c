// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmhintctl's daemon commands. Each command checks its arguments before
 * it connects, so a usage error says what is wrong whether vmhintd runs
 * or not; then it sends one request (numa-move: a few) and prints the
 * reply. Replies are printed as aligned "key: value" lines whose values
 * are the daemon's raw figures (tests read those), sizes followed by a
 * human form in parentheses; --json prints the "return" object as is.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

#define VHC_WIDTH_MAX	40	/* key column: no wider than this */

const char *vhc_human(uint64_t bytes, char *buf, size_t sz)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	unsigned int u = 0;

	while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, sz, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, sz, "%.1f %s", v, unit[u]);
	return buf;
}

/* @s with control characters replaced, cut to fit @sz. */
static const char *clean(const char *s, char *buf, size_t sz)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < sz; i++) {
		unsigned char ch = (unsigned char)s[i];

		buf[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	buf[i] = '\0';
	return buf;
}

uint64_t vhc_get_u64(struct json_object *o, const char *key, uint64_t def)
{
	struct json_object *m;

	if (!json_object_object_get_ex(o, key, &m) || !json_object_is_type(m, json_type_int))
		return def;
	return json_object_get_uint64(m);
}

const char *vhc_get_str(struct json_object *o, const char *key, const char *def,
			char *buf, size_t sz)
{
	struct json_object *m;

	if (!json_object_object_get_ex(o, key, &m) || !json_object_is_type(m, json_type_string))
		return def;
	return clean(json_object_get_string(m), buf, sz);
}

/* ---- "key: value" output ---- */

struct line {
	int indent;
	char *key;
	char *val;	/* NULL: a heading ("key:" alone) */
};

struct lines {
	struct line *v;
	size_t n, cap;
};

static void add(struct lines *l, int indent, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add(struct lines *l, int indent, const char *key, const char *fmt, ...)
{
	char kb[256], vb[4096];
	va_list ap;

	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct line *nv = realloc(l->v, nc * sizeof(*nv));

		if (!nv)
			return;	/* out of memory: the line is lost, not the rest */
		l->v = nv;
		l->cap = nc;
	}
	clean(key, kb, sizeof(kb));
	l->v[l->n].indent = indent;
	l->v[l->n].key = strdup(kb);
	l->v[l->n].val = NULL;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(vb, sizeof(vb), fmt, ap);
		va_end(ap);
		l->v[l->n].val = strdup(clean(vb, vb, sizeof(vb)));
	}
	l->n++;
}

static void print_lines(struct lines *l)
{
	size_t i, w = 0;

	for (i = 0; i < l->n; i++) {
		size_t k = (size_t)l->v[i].indent + strlen(l->v[i].key) + 1;

		if (l->v[i].val && k > w)
			w = k;
	}
	if (w > VHC_WIDTH_MAX)
		w = VHC_WIDTH_MAX;
	for (i = 0; i < l->n; i++) {
		struct line *x = &l->v[i];
		int pad = (int)w - x->indent - (int)strlen(x->key) - 1;

		if (x->val)
			printf("%*s%s:%*s %s\n", x->indent, "", x->key,
			       pad > 0 ? pad : 0, "", x->val);
		else
			printf("%*s%s:\n", x->indent, "", x->key);
		free(x->key);
		free(x->val);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* Figures in bytes or KiB get a human form beside them. */
static int size_kind(const char *key)
{
	size_t n = strlen(key);

	if (n >= 4 && !strcmp(key + n - 4, "-kib"))
		return 1024;
	if (n >= 4 && !strcmp(key + n - 4, "size"))
		return 1;
	return strstr(key, "bytes") ? 1 : 0;
}

/*
 * A total reads best under the name of what it totals: counters'
 * bytes-dropped-total is "bytes-dropped" (its per-method list becomes
 * bytes-dropped-METHOD lines).
 */
static const char *display_name(const char *key)
{
	if (!strcmp(key, "bytes-dropped-total"))
		return "bytes-dropped";
	return key;
}

static void add_scalar(struct lines *l, int indent, const char *key,
		       struct json_object *v, int kind)
{
	char h[32];

	switch (json_object_get_type(v)) {
	case json_type_null:
		add(l, indent, key, "-");
		break;
	case json_type_boolean:
		add(l, indent, key, "%s", json_object_get_boolean(v) ? "yes" : "no");
		break;
	case json_type_int:
		if (!strcmp(key, "gpa"))	/* an address reads best in hex */
			add(l, indent, key, "0x%" PRIx64, json_object_get_uint64(v));
		else if (kind && json_object_get_int64(v) >= 0)
			add(l, indent, key, "%" PRIu64 " (%s)", json_object_get_uint64(v),
			    vhc_human(json_object_get_uint64(v) * (uint64_t)kind, h, sizeof(h)));
		else if (json_object_get_int64(v) < 0)
			add(l, indent, key, "%" PRId64, json_object_get_int64(v));
		else
			add(l, indent, key, "%" PRIu64, json_object_get_uint64(v));
		break;
	case json_type_double:
		add(l, indent, key, "%g", json_object_get_double(v));
		break;
	case json_type_string:
		add(l, indent, key, "%s", json_object_get_string(v));
		break;
	default:
		break;
	}
}

static void emit_object(struct lines *l, struct json_object *o, int indent, const char *skip);

/*
 * {"method":"madvise","bytes":N} and the like, in either order: a name
 * (a string, or a node number beside a figure) and its figure.
 */
static int is_pair(struct json_object *e, const char **name, char *nb, size_t nsz,
		   struct json_object **val, const char **vkey)
{
	struct json_object *str = NULL, *ints[2] = { NULL, NULL };
	const char *ikeys[2] = { NULL, NULL };
	int ni = 0;

	if (!json_object_is_type(e, json_type_object) || json_object_object_length(e) != 2)
		return 0;
	json_object_object_foreach(e, k, v) {
		if (json_object_is_type(v, json_type_string))
			str = v;
		else if (json_object_is_type(v, json_type_int) && ni < 2) {
			ikeys[ni] = k;
			ints[ni++] = v;
		}
	}
	if (str && ni == 1) {
		*name = json_object_get_string(str);
		*val = ints[0];
		*vkey = ikeys[0];
		return 1;
	}
	if (ni == 2) {	/* {"node":0,"bytes":N}: the name is the first */
		snprintf(nb, nsz, "%" PRId64, json_object_get_int64(ints[0]));
		*name = nb;
		*val = ints[1];
		*vkey = ikeys[1];
		return 1;
	}
	return 0;
}

/* What names an element of a list: its id, name, table... */
static const char *element_name(struct json_object *e, const char **key)
{
	static const char *const names[] = { "id", "name", "table", "memdev", "outcome" };
	struct json_object *m;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (json_object_object_get_ex(e, names[i], &m) &&
		    json_object_is_type(m, json_type_string)) {
			*key = names[i];
			return json_object_get_string(m);
		}
	json_object_object_foreach(e, k, v) {
		if (json_object_is_type(v, json_type_string)) {
			*key = k;
			return json_object_get_string(v);
		}
	}
	*key = NULL;
	return NULL;
}

/* "regions" → "region": the heading of one element. */
static void singular(const char *key, char *buf, size_t sz)
{
	size_t n = strlen(key);

	snprintf(buf, sz, "%s", key);
	if (n > 3 && n < sz && key[n - 1] == 's')
		buf[n - 1] = '\0';
}

static void emit_array(struct lines *l, const char *key, struct json_object *a, int indent)
{
	size_t i, n = json_object_array_length(a);
	char one[128], nb[32], hb[512], text[1024];
	int scalars = 1;

	singular(key, one, sizeof(one));
	for (i = 0; i < n; i++) {
		enum json_type t = json_object_get_type(json_object_array_get_idx(a, i));

		scalars &= t != json_type_object && t != json_type_array;
	}
	if (!n) {
		add(l, indent, key, "none");
		return;
	}
	if (scalars) {	/* a histogram: the figures on one line */
		size_t off = 0;

		text[0] = '\0';
		for (i = 0; i < n && off < sizeof(text) - 32; i++)
			off += (size_t)snprintf(text + off, sizeof(text) - off, "%s%s",
						i ? " " : "",
						json_object_get_string(json_object_array_get_idx(a, i)));
		add(l, indent, key, "%s", text);
		return;
	}
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i), *v = NULL;
		const char *name = NULL, *vkey = NULL, *skip = NULL, *en;

		if (is_pair(e, &name, nb, sizeof(nb), &v, &vkey)) {
			snprintf(hb, sizeof(hb), "%s-%s", one, name);
			add_scalar(l, indent, hb, v, size_kind(key) ? size_kind(key)
								   : size_kind(vkey));
			continue;
		}
		if (!json_object_is_type(e, json_type_object)) {
			snprintf(hb, sizeof(hb), "%s-%zu", one, i);
			add_scalar(l, indent, hb, e, size_kind(key));
			continue;
		}
		/* Named by a member: "vmhint vmhint0", "region pc.ram". */
		en = element_name(e, &skip);
		if (en)
			snprintf(hb, sizeof(hb), "%s %s", one, en);
		else
			snprintf(hb, sizeof(hb), "%s %zu", one, i);
		add(l, indent, hb, NULL);
		emit_object(l, e, indent + 2, skip);
	}
}

static void emit_object(struct lines *l, struct json_object *o, int indent, const char *skip)
{
	json_object_object_foreach(o, key, v) {
		const char *name = display_name(key);

		if (skip && !strcmp(key, skip))
			continue;
		if (json_object_is_type(v, json_type_object)) {
			add(l, indent, name, NULL);
			emit_object(l, v, indent + 2, NULL);
		} else if (json_object_is_type(v, json_type_array)) {
			char tk[128];

			/* An empty list beside its total: the total says it. */
			snprintf(tk, sizeof(tk), "%s-total", key);
			if (!json_object_array_length(v) && json_object_object_get_ex(o, tk, NULL))
				continue;
			emit_array(l, name, v, indent);
		} else {
			add_scalar(l, indent, name, v, size_kind(key));
		}
	}
}

void vhc_print_object(struct json_object *o)
{
	struct lines l = { 0 };

	emit_object(&l, o, 0, NULL);
	print_lines(&l);
}

/*
 * json-c escapes the control characters below 0x20 but not DEL: escape it
 * too, so no reply drives the terminal. DEL can only be inside a string,
 * where \u007f is the same JSON.
 */
void vhc_print_json(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);

	for (; *s; s++) {
		if (*s == 0x7f)
			fputs("\\u007f", stdout);
		else
			putchar(*s);
	}
	putchar('\n');
}

/* ---- arguments ---- */

enum {
	O_JSON = 1 << 0, O_LIVE = 1 << 1, O_CONFIG = 1 << 2, O_NODE = 1 << 3,
	O_ALL = 1 << 4, O_RATE = 1 << 5, O_NOWAIT = 1 << 6,
};

struct cmdargs {
	const char *pos[2];
	int npos;
	unsigned int given;	/* O_* */
	const char *node_s, *rate_s;
	uint32_t node;
	uint64_t rate;
};

struct cmd {
	const char *name;
	unsigned int opts;	/* the O_* it takes */
	int npos;		/* positional arguments */
	const char *args;	/* what they are, for messages */
	/* Check the arguments, build the request; NULL: a usage error, printed. */
	struct json_object *(*req)(struct cmdargs *a);
	/* Print the "return"; the exit status. */
	int (*out)(struct cmdargs *a, struct json_object *ret);
};

static struct json_object *affect(struct json_object *r, struct cmdargs *a)
{
	if (a->given & O_LIVE)
		json_object_object_add(r, "live", json_object_new_boolean(1));
	if (a->given & O_CONFIG)
		json_object_object_add(r, "config", json_object_new_boolean(1));
	return r;
}

static struct json_object *req_list(struct cmdargs *a)
{
	(void)a;
	return vhc_request("list", NULL);
}

static struct json_object *req_stats(struct cmdargs *a)
{
	return vhc_request("stats", a->pos[0]);
}

static struct json_object *req_set_mode(struct cmdargs *a)
{
	struct json_object *r;

	if (strcmp(a->pos[1], "sync") && strcmp(a->pos[1], "lazy")) {
		vhc_err("invalid mode '%s' (sync or lazy)", a->pos[1]);
		return NULL;
	}
	r = vhc_request("set-mode", a->pos[0]);
	if (r)
		json_object_object_add(r, "mode", json_object_new_string(a->pos[1]));
	return r ? affect(r, a) : NULL;
}

static struct json_object *req_flush(struct cmdargs *a)
{
	return vhc_request("flush", a->pos[0]);
}

static struct json_object *req_dedupe(struct cmdargs *a)
{
	struct json_object *r;
	int on = !strcmp(a->pos[1], "on");

	if (!on && strcmp(a->pos[1], "off")) {
		vhc_err("invalid dedupe setting '%s' (on or off)", a->pos[1]);
		return NULL;
	}
	r = vhc_request("dedupe", a->pos[0]);
	if (r)
		json_object_object_add(r, "enable", json_object_new_boolean(on));
	return r ? affect(r, a) : NULL;
}

static struct json_object *req_ksm(struct cmdargs *a)
{
	if (strcmp(a->pos[0], "status")) {
		vhc_err("unknown ksm subcommand '%s' (status)", a->pos[0]);
		return NULL;
	}
	return vhc_request("ksm-status", NULL);
}

/* A size: digits, then K, M, G or T (KiB... also taken), then "/s". */
static int parse_rate(const char *s, uint64_t *out)
{
	static const char sfx[] = "KMGT";
	const char *p;
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	p = *end ? strchr(sfx, toupper((unsigned char)*end)) : NULL;
	if (p) {
		shift = 10 * (int)(p - sfx + 1);
		end++;
		if (*end == 'i' && end[1] == 'B')
			end += 2;
	} else if (*end == 'B') {
		end++;
	}
	if (!strcmp(end, "/s"))
		end += 2;
	if (*end || !v || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static struct json_object *req_numa_move(struct cmdargs *a)
{
	unsigned long n;
	char *end;

	if (!(a->given & O_NODE)) {
		vhc_err("command 'numa-move' needs --node N");
		return NULL;
	}
	errno = 0;
	n = strtoul(a->node_s, &end, 10);
	if (!isdigit((unsigned char)*a->node_s) || *end || errno || n >= 1024) {
		vhc_err("invalid --node '%s' (a host NUMA node number, below 1024)", a->node_s);
		return NULL;
	}
	a->node = (uint32_t)n;
	if ((a->given & O_RATE) && parse_rate(a->rate_s, &a->rate)) {
		vhc_err("invalid --rate '%s' (bytes per second above 0, e.g. 104857600 or 100M/s)",
			a->rate_s);
		return NULL;
	}
	/* Built and sent by vhc_numa_move(); a placeholder says "valid". */
	return json_object_new_object();
}

static const char *state_name(const char *s)
{
	return !strcmp(s, "shutoff") ? "shut off" : s;
}

static int dom_order(const void *x, const void *y)
{
	struct json_object *a = *(struct json_object *const *)x;
	struct json_object *b = *(struct json_object *const *)y;
	int64_t ia = (int64_t)vhc_get_u64(a, "id", (uint64_t)-1);
	int64_t ib = (int64_t)vhc_get_u64(b, "id", (uint64_t)-1);
	char na[256], nbuf[256];

	/* As virsh: running domains by id, then the others by name. */
	if ((ia > 0) != (ib > 0))
		return ia > 0 ? -1 : 1;
	if (ia > 0 && ia != ib)
		return ia < ib ? -1 : 1;
	return strcmp(vhc_get_str(a, "name", "", na, sizeof(na)),
		      vhc_get_str(b, "name", "", nbuf, sizeof(nbuf)));
}

enum { C_ID, C_NAME, C_STATE, C_VMHINT, C_MODE, C_DEDUPE, C_NR };

static void list_row(struct json_object *d, char cell[C_NR][300])
{
	struct json_object *m;
	char b[256];
	int64_t id = (int64_t)vhc_get_u64(d, "id", (uint64_t)-1);
	const char *vh = vhc_get_str(d, "vmhint", "-", cell[C_VMHINT], 300);
	int attached = strcmp(vh, "not-attached") != 0;

	if (id > 0)
		snprintf(cell[C_ID], 300, "%" PRId64, id);
	else
		snprintf(cell[C_ID], 300, "-");
	vhc_get_str(d, "name", "?", cell[C_NAME], 300);
	snprintf(cell[C_STATE], 300, "%s", state_name(vhc_get_str(d, "state", "?", b, sizeof(b))));
	vhc_get_str(d, "mode", "-", cell[C_MODE], 300);
	snprintf(cell[C_DEDUPE], 300, "-");
	if (json_object_object_get_ex(d, "dedupe", &m) && json_object_is_type(m, json_type_boolean))
		snprintf(cell[C_DEDUPE], 300, "%s", json_object_get_boolean(m) ? "on" : "off");
	if (!strcmp(cell[C_DEDUPE], "on") && vhc_get_str(d, "dedupe-table", NULL, b, sizeof(b)))
		snprintf(cell[C_DEDUPE], 300, "on (%s)", b);
	if (!attached) {
		snprintf(cell[C_MODE], 300, "-");
		snprintf(cell[C_DEDUPE], 300, "-");
	}
}

static int out_list(struct cmdargs *a, struct json_object *ret)
{
	static const char *const head[C_NR] = { "Id", "Name", "State", "vmhint", "Mode", "Dedupe" };
	struct json_object *doms;
	char (*cells)[C_NR][300];
	size_t i, n, w[C_NR], total = 0;
	int c;

	if (a->given & O_JSON) {
		vhc_print_json(ret);
		return 0;
	}
	if (!json_object_object_get_ex(ret, "domains", &doms) ||
	    !json_object_is_type(doms, json_type_array)) {
		vhc_err("vmhintd's list reply has no \"domains\" array");
		return 1;
	}
	json_object_array_sort(doms, dom_order);
	n = json_object_array_length(doms);
	cells = calloc(n ? n : 1, sizeof(*cells));
	if (!cells) {
		vhc_err("out of memory");
		return 1;
	}
	for (c = 0; c < C_NR; c++)
		w[c] = strlen(head[c]);
	for (i = 0; i < n; i++) {
		list_row(json_object_array_get_idx(doms, i), cells[i]);
		for (c = 0; c < C_NR; c++)
			if (strlen(cells[i][c]) > w[c])
				w[c] = strlen(cells[i][c]);
	}
	/* virsh's layout: a leading space, three between columns, a rule. */
	for (c = 0; c < C_NR; c++) {
		printf(c ? "   %-*s" : " %-*s", c + 1 < C_NR ? (int)w[c] : 0, head[c]);
		total += w[c] + (c ? 3 : 2);
	}
	printf("\n");
	for (i = 0; i < total; i++)
		putchar('-');
	printf("\n");
	for (i = 0; i < n; i++) {
		for (c = 0; c < C_NR; c++)
			printf(c ? "   %-*s" : " %-*s", c + 1 < C_NR ? (int)w[c] : 0,
			       cells[i][c]);
		printf("\n");
	}
	printf("\n");
	free(cells);
	return 0;
}

static int out_object(struct cmdargs *a, struct json_object *ret)
{
	if (a->given & O_JSON)
		vhc_print_json(ret);
	else
		vhc_print_object(ret);
	return 0;
}

static int out_set_mode(struct cmdargs *a, struct json_object *ret)
{
	(void)ret;
	printf("Domain '%s' mode set to %s\n", a->pos[0], a->pos[1]);
	return 0;
}

static int out_flush(struct cmdargs *a, struct json_object *ret)
{
	char h[32];
	uint64_t b = vhc_get_u64(ret, "bytes-dropped", 0);

	printf("Domain '%s' flushed\n", a->pos[0]);
	printf("bytes-dropped: %" PRIu64 " (%s)\n", b, vhc_human(b, h, sizeof(h)));
	return 0;
}

static int out_dedupe(struct cmdargs *a, struct json_object *ret)
{
	(void)ret;
	printf("Domain '%s' dedupe %s\n", a->pos[0],
	       !strcmp(a->pos[1], "on") ? "enabled" : "disabled");
	return 0;
}

static const struct cmd cmds[] = {
	{ "list", O_JSON, 0, "", req_list, out_list },
	{ "stats", O_JSON, 1, "DOMAIN", req_stats, out_object },
	{ "set-mode", O_LIVE | O_CONFIG, 2, "DOMAIN and sync|lazy", req_set_mode, out_set_mode },
	{ "flush", 0, 1, "DOMAIN", req_flush, out_flush },
	{ "dedupe", O_LIVE | O_CONFIG, 2, "DOMAIN and on|off", req_dedupe, out_dedupe },
	{ "ksm", O_JSON, 1, "a subcommand (status)", req_ksm, out_object },
	{ "numa-move", O_NODE | O_ALL | O_RATE | O_NOWAIT, 1, "DOMAIN", req_numa_move, NULL },
};

void vhc_daemon_usage(FILE *f)
{
	fputs("  list [--json]\n"
	      "      the domains libvirt knows, with vmhint's state, mode and dedupe\n"
	      "  stats DOMAIN [--json]\n"
	      "      the domain's RSS, policy and vmhint counters\n"
	      "  set-mode DOMAIN sync|lazy [--live] [--config]\n"
	      "  dedupe DOMAIN on|off [--live] [--config]\n"
	      "      change the policy (default: live, and config if persistent)\n"
	      "  flush DOMAIN\n"
	      "      drop what lazy mode holds pending now\n"
	      "  ksm status [--json]\n"
	      "      who owns KSM, its knobs, bursts and dedupe tables\n"
	      "  numa-move DOMAIN --node N [--all] [--rate BYTES/s] [--no-wait]\n"
	      "      move the domain's RAM to host node N, with progress; Ctrl-C cancels\n",
	      f);
}

int vhc_is_daemon_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(name, cmds[i].name))
			return 1;
	return 0;
}

static int parse_args(const struct cmd *cmd, int argc, char **argv, struct cmdargs *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "live", no_argument, NULL, O_LIVE },
		{ "config", no_argument, NULL, O_CONFIG },
		{ "node", required_argument, NULL, O_NODE },
		{ "all", no_argument, NULL, O_ALL },
		{ "rate", required_argument, NULL, O_RATE },
		{ "no-wait", no_argument, NULL, O_NOWAIT },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	opterr = 0;
	optind = 0;	/* glibc: start afresh */
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == ':') {
			vhc_err("option '%s' needs an argument", argv[optind - 1]);
			return -1;
		}
		if (c == '?' || !(cmd->opts & (unsigned int)c)) {
			vhc_err("command '%s' doesn't support option %s", cmd->name,
				argv[optind - 1]);
			return -1;
		}
		a->given |= (unsigned int)c;
		if (c == O_NODE)
			a->node_s = optarg;
		if (c == O_RATE)
			a->rate_s = optarg;
	}
	while (optind < argc) {
		if (a->npos == cmd->npos) {
			vhc_err("unexpected argument '%s'", argv[optind]);
			return -1;
		}
		a->pos[a->npos++] = argv[optind++];
	}
	if (a->npos < cmd->npos) {
		vhc_err("command '%s' needs %s", cmd->name, cmd->args);
		return -1;
	}
	return 0;
}

int vhc_daemon_cmd(const char *socket, int argc, char **argv)
{
	return vhc_daemon_cmd_fd(socket, -1, argc, argv);
}

int vhc_daemon_cmd_fd(const char *socket, int fd, int argc, char **argv)
{
	const struct cmd *cmd = NULL;
	struct cmdargs a = { .npos = 0 };
	struct json_object *req, *ret;
	struct vhc_client c;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[0], cmds[i].name))
			cmd = &cmds[i];
	if (!cmd)
		vhc_err("unknown command: '%s'", argv[0]);
	req = cmd && !parse_args(cmd, argc, argv, &a) ? cmd->req(&a) : NULL;
	if (!req) {
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (fd >= 0) {
		vhc_attach(&c, fd, socket);
	} else if (vhc_connect(&c, vhc_socket_path(socket))) {
		json_object_put(req);
		return 1;
	}
	if (!cmd->out) {
		json_object_put(req);
		rc = vhc_numa_move(&c, a.pos[0], a.node, !!(a.given & O_ALL), a.rate,
				   !!(a.given & O_NOWAIT));
	} else {
		ret = vhc_call(&c, req);
		rc = ret ? cmd->out(&a, ret) : 1;
		json_object_put(ret);
	}
	vhc_close(&c);
	if (fflush(stdout) || ferror(stdout)) {
		vhc_err("cannot write the output: %s", strerror(errno));
		rc = 1;
	}
	return rc;
}
