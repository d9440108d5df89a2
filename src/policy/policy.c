// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The per-domain policy in <metadata> (policy.h): one parser for vmhintd
 * and vmhintctl, one formatter.
 *
 * The XML is hostile: it is bounded (1 MiB), parsed without network,
 * without entity substitution and without any DTD (a document with a
 * DOCTYPE is refused before its internal subset is read), and every
 * element, attribute and value of <vmhint:vmhint> is checked. Elements are
 * matched by namespace URI and local name only: libvirt re-serializes the
 * element and may give it another prefix.
 *
 * Everything is parsed into a copy that reaches the caller only when all
 * of it is valid, so a bad input changes nothing.
 */
#include "config.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define XML_MAX_INPUT	(1u << 20)	/* no domain XML comes near this */
#define VALUE_SHOWN	64		/* bytes of a bad value quoted in errors */

static int fail(char *err, size_t errsz, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errsz, const char *f, ...)
{
	va_list ap;

	if (err && errsz) {
		va_start(ap, f);
		vsnprintf(err, errsz, f, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * A hostile value as errors quote it: at most VALUE_SHOWN bytes, anything
 * but printable ASCII as '?', so an error never carries a newline or a
 * terminal escape into a log or a reply.
 */
static const char *shown(const char *s, char *buf, size_t size)
{
	size_t i, n = 0;

	for (i = 0; s && s[i] && n + 4 < size && i < VALUE_SHOWN; i++)
		buf[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s && s[i] && n + 4 <= size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* --- names --- */

static const char *const mode_names[] = {
	[VHP_MODE_SYNC] = "sync", [VHP_MODE_LAZY] = "lazy",
};

static const char *const numa_names[] = {
	[VHP_NUMA_DEFAULT] = "default", [VHP_NUMA_PREFERRED] = "preferred",
	[VHP_NUMA_BIND] = "bind", [VHP_NUMA_INTERLEAVE] = "interleave",
};

#define N_MODES	(sizeof(mode_names) / sizeof(mode_names[0]))
#define N_NUMA	(sizeof(numa_names) / sizeof(numa_names[0]))

const char *vhp_mode_name(enum vhp_mode m)
{
	return (unsigned int)m < N_MODES ? mode_names[m] : "unknown";
}

const char *vhp_numa_name(enum vhp_numa n)
{
	return (unsigned int)n < N_NUMA ? numa_names[n] : "unknown";
}

int vhp_mode_from_name(const char *s, enum vhp_mode *m)
{
	unsigned int i;

	for (i = 0; s && i < N_MODES; i++)
		if (!strcmp(s, mode_names[i])) {
			*m = (enum vhp_mode)i;
			return 0;
		}
	return -1;
}

int vhp_numa_from_name(const char *s, enum vhp_numa *n)
{
	unsigned int i;

	for (i = 0; s && i < N_NUMA; i++)
		if (!strcmp(s, numa_names[i])) {
			*n = (enum vhp_numa)i;
			return 0;
		}
	return -1;
}

void vhp_policy_init(struct vhp_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = VHP_MODE_SYNC;
	p->numa_policy = VHP_NUMA_DEFAULT;
}

/* --- node lists and table names --- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal number below 64 at *s (as many digits as given: "007" is 7). */
static int node_number(const char **s, unsigned int *v)
{
	unsigned int n = 0;

	if (!is_digit(**s))
		return -1;
	for (; is_digit(**s); (*s)++) {
		n = n * 10 + (unsigned int)(**s - '0');
		if (n >= 64)
			return -1;
	}
	*v = n;
	return 0;
}

int vhp_nodes_parse(const char *s, uint64_t *nodes)
{
	uint64_t set = 0;
	unsigned int a, b;

	if (!s || !*s)
		return -1;
	for (;;) {
		if (node_number(&s, &a))
			return -1;
		b = a;
		if (*s == '-') {
			s++;
			if (node_number(&s, &b) || b < a)
				return -1;
		}
		for (; a <= b; a++)
			set |= 1ULL << a;
		if (!*s)
			break;
		if (*s++ != ',')
			return -1;	/* and "1," is no list either */
	}
	*nodes = set;
	return 0;
}

void vhp_nodes_format(uint64_t nodes, char *buf, size_t size)
{
	size_t len = 0;
	int a, b, n;

	if (!size)
		return;
	buf[0] = '\0';
	for (a = 0; a < 64; a++) {
		if (!(nodes >> a & 1))
			continue;
		for (b = a; b < 63 && (nodes >> (b + 1) & 1); b++)
			;
		if (b > a)
			n = snprintf(buf + len, size - len, "%s%d-%d", len ? "," : "", a, b);
		else
			n = snprintf(buf + len, size - len, "%s%d", len ? "," : "", a);
		if (n < 0 || (size_t)n >= size - len) {
			buf[len] = '\0';	/* whole ranges only */
			return;
		}
		len += (size_t)n;
		a = b;
	}
}

static int table_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	       c == '_' || c == '-' || c == '.';
}

int vhp_table_name(const char *s, char *out, size_t size)
{
	size_t i;

	if (!s)
		return -1;
	if (!strncmp(s, "/vmhint-", 8))
		s += 8;
	for (i = 0; s[i]; i++)
		if (i == 64 || !table_char(s[i]))
			return -1;
	if (!i || size < 8 + i + 1)
		return -1;
	snprintf(out, size, "/vmhint-%s", s);
	return 0;
}

/* --- the rules between fields --- */

static int terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* The QMP socket: an absolute path that fits sun_path, printable, no comma
 * (it goes into QEMU's -chardev option syntax). */
static int qmp_path_ok(const char *s)
{
	size_t i;

	if (s[0] != '/')
		return 0;
	for (i = 0; s[i]; i++)
		if (s[i] < 0x20 || s[i] == 0x7f || s[i] == ',')
			return 0;
	return i < VHP_PATH_MAX;
}

static int check_numa(enum vhp_numa pol, uint64_t nodes, char *err, size_t errsz)
{
	switch (pol) {
	case VHP_NUMA_DEFAULT:
		if (nodes)
			return fail(err, errsz, "<vmhint:numa> policy 'default' takes no nodes");
		return 0;
	case VHP_NUMA_PREFERRED:
		if (__builtin_popcountll(nodes) != 1)
			return fail(err, errsz, "<vmhint:numa> policy 'preferred' takes "
				    "exactly one node");
		return 0;
	case VHP_NUMA_BIND:
	case VHP_NUMA_INTERLEAVE:
		if (!nodes)
			return fail(err, errsz, "<vmhint:numa> policy '%s' needs nodes",
				    vhp_numa_name(pol));
		return 0;
	}
	return fail(err, errsz, "invalid <vmhint:numa> policy %d", (int)pol);
}

int vhp_policy_check(const struct vhp_policy *p, char *err, size_t errsz)
{
	char canon[VHP_TABLE_MAX], b[VALUE_SHOWN + 8];

	if ((unsigned int)p->mode >= N_MODES)
		return fail(err, errsz, "invalid <vmhint:mode> %d (sync or lazy)",
			    (int)p->mode);
	if (check_numa(p->numa_policy, p->numa_nodes, err, errsz))
		return -1;
	if (!terminated(p->dedupe_table, sizeof(p->dedupe_table)) ||
	    (p->dedupe_table[0] &&
	     (vhp_table_name(p->dedupe_table, canon, sizeof(canon)) ||
	      strcmp(canon, p->dedupe_table))))
		return fail(err, errsz, "invalid <vmhint:dedupe> table '%s' (/vmhint-NAME; "
			    "NAME: 1 to 64 of A-Z a-z 0-9 _ - .)",
			    terminated(p->dedupe_table, sizeof(p->dedupe_table)) ?
			    shown(p->dedupe_table, b, sizeof(b)) : "(unterminated)");
	if (!terminated(p->qmp_socket, sizeof(p->qmp_socket)) ||
	    (p->qmp_socket[0] && !qmp_path_ok(p->qmp_socket)))
		return fail(err, errsz, "invalid <vmhint:qmp> socket '%s' (an absolute "
			    "path under %d bytes, printable, no comma)",
			    terminated(p->qmp_socket, sizeof(p->qmp_socket)) ?
			    shown(p->qmp_socket, b, sizeof(b)) : "(unterminated)",
			    VHP_PATH_MAX);
	return 0;
}

/* --- reading the XML --- */

struct dtd_guard {
	internalSubsetSAXFunc orig;
	int seen;
};

/*
 * Called at <!DOCTYPE, before its internal subset: stop there. Domain XML
 * never has one, and without a DTD there are no entities to expand, no
 * external subset to load and no default attributes.
 */
static void refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *ext_id,
		       const xmlChar *sys_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct dtd_guard *g = ctxt->_private;

	(void)name;
	(void)ext_id;
	(void)sys_id;
	g->seen = 1;
	xmlStopParser(ctxt);
}

static void xml_error_text(xmlParserCtxtPtr ctxt, char *err, size_t errsz)
{
	const xmlError *e = xmlCtxtGetLastError(ctxt);
	char msg[160];
	size_t n;

	snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "unknown error");
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	fail(err, errsz, "XML does not parse: line %d: %s", e ? e->line : 0, msg);
}

/* Parse @xml safely: the document, or NULL with @err. */
static xmlDocPtr read_xml(const char *xml, size_t len, char *err, size_t errsz)
{
	struct dtd_guard g = { NULL, 0 };
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;

	if (!xml)
		return fail(err, errsz, "no XML"), NULL;
	if (len > XML_MAX_INPUT)
		return fail(err, errsz, "XML of %zu bytes refused (at most 1 MiB)", len), NULL;
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return fail(err, errsz, "out of memory"), NULL;
	ctxt->_private = &g;
	ctxt->sax->internalSubset = refuse_dtd;
	/* No XML_PARSE_NOENT, DTDLOAD, DTDATTR, XINCLUDE or HUGE: none of
	 * them is needed for a domain's XML, each is a way in. */
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "policy.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				XML_PARSE_NOCDATA);
	if (g.seen) {
		fail(err, errsz, "XML with a DOCTYPE is refused (a domain XML has none)");
		xmlFreeDoc(doc);
		doc = NULL;
	} else if (!doc || !ctxt->wellFormed) {
		xml_error_text(ctxt, err, errsz);
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
}

static int in_ns(xmlNodePtr n)
{
	return n->ns && n->ns->href && !strcmp((const char *)n->ns->href, VHP_NS_URI);
}

static int is_elem(xmlNodePtr n, const char *name, int ours)
{
	if (!n || n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name))
		return 0;
	return ours ? in_ns(n) : !n->ns;
}

static xmlNodePtr plain_child(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n;

	for (n = parent ? parent->children : NULL; n; n = n->next)
		if (is_elem(n, name, 0))
			return n;
	return NULL;
}

static int blank(const xmlChar *s)
{
	for (; s && *s; s++)
		if (!strchr(" \t\r\n", *s))
			return 0;
	return 1;
}

/*
 * Only whitespace and comments between the children of <vmhint:vmhint>,
 * and no children at all in the leaf elements but <vmhint:mode>'s text.
 */
static int check_content(xmlNodePtr e, const char *what, int text_ok,
			 char *err, size_t errsz)
{
	char b[VALUE_SHOWN + 8];
	xmlNodePtr n;

	for (n = e->children; n; n = n->next) {
		switch (n->type) {
		case XML_COMMENT_NODE:
			break;
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE:
			if (!text_ok && !blank(n->content))
				return fail(err, errsz, "unexpected text '%s' in <vmhint:%s>",
					    shown((const char *)n->content, b, sizeof(b)), what);
			break;
		case XML_ELEMENT_NODE:
			if (text_ok || strcmp(what, VHP_ELEMENT))
				return fail(err, errsz, "unexpected element <%s> in <vmhint:%s>",
					    shown((const char *)n->name, b, sizeof(b)), what);
			break;
		default:
			return fail(err, errsz, "unexpected XML node (type %d) in <vmhint:%s>",
				    (int)n->type, what);
		}
	}
	return 0;
}

/*
 * The attributes of @e, all of them named in @names (NULL-terminated, no
 * namespace): an unknown one is refused, so enable='yes' for enabled=
 * does not pass. Values into @vals (xmlFree them), NULL if missing.
 */
static int get_attrs(xmlNodePtr e, const char *what, const char *const *names,
		     xmlChar **vals, char *err, size_t errsz)
{
	char b[VALUE_SHOWN + 8];
	xmlAttrPtr a;
	int i;

	for (a = e->properties; a; a = a->next) {
		for (i = 0; names[i]; i++)
			if (!a->ns && !strcmp((const char *)a->name, names[i]))
				break;
		if (!names[i])
			return fail(err, errsz, "unknown attribute '%s' in <vmhint:%s>",
				    shown((const char *)a->name, b, sizeof(b)), what);
	}
	for (i = 0; names[i]; i++)
		vals[i] = xmlGetNoNsProp(e, (const xmlChar *)names[i]);
	return 0;
}

static void free_attrs(xmlChar **vals, int n)
{
	int i;

	for (i = 0; i < n; i++)
		xmlFree(vals[i]);
}

static int yes_no(const xmlChar *v, const char *what, bool *out, char *err,
		  size_t errsz)
{
	char b[VALUE_SHOWN + 8];

	if (!v)
		return fail(err, errsz, "<vmhint:%s> needs enabled='yes' or 'no'", what);
	if (!strcmp((const char *)v, "yes") || !strcmp((const char *)v, "no")) {
		*out = !strcmp((const char *)v, "yes");
		return 0;
	}
	return fail(err, errsz, "invalid <vmhint:%s> enabled '%s' (yes or no)", what,
		    shown((const char *)v, b, sizeof(b)));
}

/* <vmhint:mode>lazy</vmhint:mode>: its text, surrounding blanks ignored. */
static int parse_mode(xmlNodePtr e, struct vhp_policy *p, char *err, size_t errsz)
{
	static const char *const none[] = { NULL };
	char b[VALUE_SHOWN + 8], *s, *end;
	xmlChar *v;
	int ret;

	if (get_attrs(e, "mode", none, NULL, err, errsz) ||
	    check_content(e, "mode", 1, err, errsz))
		return -1;
	v = xmlNodeGetContent(e);
	if (!v)
		return fail(err, errsz, "out of memory");
	s = (char *)v + strspn((char *)v, " \t\r\n");
	for (end = s + strlen(s); end > s && strchr(" \t\r\n", end[-1]); end--)
		;
	*end = '\0';
	ret = vhp_mode_from_name(s, &p->mode);
	if (ret)
		fail(err, errsz, "invalid <vmhint:mode> '%s' (sync or lazy)",
		     shown(s, b, sizeof(b)));
	xmlFree(v);
	return ret;
}

static int parse_active(xmlNodePtr e, struct vhp_policy *p, char *err, size_t errsz)
{
	static const char *const names[] = { "enabled", NULL };
	xmlChar *v[1] = { NULL };
	int ret;

	if (check_content(e, "active-reporting", 0, err, errsz) ||
	    get_attrs(e, "active-reporting", names, v, err, errsz))
		return -1;
	ret = yes_no(v[0], "active-reporting", &p->active_reporting, err, errsz);
	free_attrs(v, 1);
	return ret;
}

static int parse_dedupe(xmlNodePtr e, struct vhp_policy *p, char *err, size_t errsz)
{
	static const char *const names[] = { "enabled", "table", NULL };
	char b[VALUE_SHOWN + 8];
	xmlChar *v[2] = { NULL, NULL };
	int ret = -1;

	if (check_content(e, "dedupe", 0, err, errsz) ||
	    get_attrs(e, "dedupe", names, v, err, errsz))
		return -1;
	if (yes_no(v[0], "dedupe", &p->dedupe, err, errsz))
		goto out;
	p->dedupe_table[0] = '\0';
	if (v[1] && vhp_table_name((const char *)v[1], p->dedupe_table,
				   sizeof(p->dedupe_table))) {
		fail(err, errsz, "invalid <vmhint:dedupe> table '%s' (/vmhint-NAME; "
		     "NAME: 1 to 64 of A-Z a-z 0-9 _ - .)",
		     shown((const char *)v[1], b, sizeof(b)));
		goto out;
	}
	ret = 0;
out:
	free_attrs(v, 2);
	return ret;
}

static int parse_numa(xmlNodePtr e, struct vhp_policy *p, char *err, size_t errsz)
{
	static const char *const names[] = { "policy", "nodes", NULL };
	char b[VALUE_SHOWN + 8];
	xmlChar *v[2] = { NULL, NULL };
	int ret = -1;

	if (check_content(e, "numa", 0, err, errsz) ||
	    get_attrs(e, "numa", names, v, err, errsz))
		return -1;
	p->numa_policy = VHP_NUMA_DEFAULT;
	p->numa_nodes = 0;
	if (v[0] && vhp_numa_from_name((const char *)v[0], &p->numa_policy)) {
		fail(err, errsz, "invalid <vmhint:numa> policy '%s' (default, preferred, "
		     "bind or interleave)", shown((const char *)v[0], b, sizeof(b)));
		goto out;
	}
	if (v[1] && vhp_nodes_parse((const char *)v[1], &p->numa_nodes)) {
		fail(err, errsz, "invalid <vmhint:numa> nodes '%s' (host nodes below 64, "
		     "e.g. 0-1,3)", shown((const char *)v[1], b, sizeof(b)));
		goto out;
	}
	ret = check_numa(p->numa_policy, p->numa_nodes, err, errsz);
out:
	free_attrs(v, 2);
	return ret;
}

static int parse_qmp(xmlNodePtr e, struct vhp_policy *p, char *err, size_t errsz)
{
	static const char *const names[] = { "socket", NULL };
	char b[VALUE_SHOWN + 8];
	xmlChar *v[1] = { NULL };
	int ret = -1;

	if (check_content(e, "qmp", 0, err, errsz) ||
	    get_attrs(e, "qmp", names, v, err, errsz))
		return -1;
	if (!v[0]) {
		fail(err, errsz, "<vmhint:qmp> needs socket='PATH'");
	} else if (!qmp_path_ok((const char *)v[0])) {
		fail(err, errsz, "invalid <vmhint:qmp> socket '%s' (an absolute path "
		     "under %d bytes, printable, no comma)",
		     shown((const char *)v[0], b, sizeof(b)), VHP_PATH_MAX);
	} else {
		snprintf(p->qmp_socket, sizeof(p->qmp_socket), "%s", (const char *)v[0]);
		ret = 0;
	}
	free_attrs(v, 1);
	return ret;
}

static const struct child_parser {
	const char *name;
	int (*parse)(xmlNodePtr e, struct vhp_policy *p, char *err, size_t errsz);
} child_parsers[] = {
	{ "mode", parse_mode },
	{ "active-reporting", parse_active },
	{ "dedupe", parse_dedupe },
	{ "numa", parse_numa },
	{ "qmp", parse_qmp },
};

#define N_CHILDREN	(sizeof(child_parsers) / sizeof(child_parsers[0]))

static int parse_child(xmlNodePtr n, struct vhp_policy *p, unsigned int *seen,
		       char *err, size_t errsz)
{
	char b[VALUE_SHOWN + 8];
	unsigned int i;

	for (i = 0; in_ns(n) && i < N_CHILDREN; i++) {
		if (strcmp((const char *)n->name, child_parsers[i].name))
			continue;
		if (*seen & (1u << i))
			return fail(err, errsz, "<vmhint:%s> given twice", child_parsers[i].name);
		*seen |= 1u << i;
		return child_parsers[i].parse(n, p, err, errsz);
	}
	if (!in_ns(n))
		return fail(err, errsz, "unknown element <%s> in <vmhint:vmhint> (not in "
			    "namespace " VHP_NS_URI ")", shown((const char *)n->name, b,
							       sizeof(b)));
	return fail(err, errsz, "unknown element <vmhint:%s> in <vmhint:vmhint> (mode, "
		    "active-reporting, dedupe, numa or qmp)",
		    shown((const char *)n->name, b, sizeof(b)));
}

static int parse_element(xmlNodePtr v, struct vhp_policy *out, char *err,
			 size_t errsz)
{
	static const char *const none[] = { NULL };
	unsigned int seen = 0;
	struct vhp_policy p;
	xmlNodePtr n;

	vhp_policy_init(&p);
	if (get_attrs(v, VHP_ELEMENT, none, NULL, err, errsz) ||
	    check_content(v, VHP_ELEMENT, 0, err, errsz))
		return -1;
	for (n = v->children; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && parse_child(n, &p, &seen, err, errsz))
			return -1;
	if (vhp_policy_check(&p, err, errsz))
		return -1;
	*out = p;
	return 1;
}

/* The <vmhint:vmhint> of a domain's <metadata>, NULL if none; -1 in *ret
 * if there are several. */
static xmlNodePtr find_element(xmlNodePtr root, int *ret, char *err, size_t errsz)
{
	xmlNodePtr n, found = NULL;

	*ret = 0;
	if (is_elem(root, VHP_ELEMENT, 1))
		return root;
	if (!is_elem(root, "domain", 0))
		return NULL;
	n = plain_child(root, "metadata");
	for (n = n ? n->children : NULL; n; n = n->next) {
		if (!is_elem(n, VHP_ELEMENT, 1))
			continue;
		if (found) {
			*ret = fail(err, errsz, "<metadata> has more than one <vmhint:vmhint>");
			return NULL;
		}
		found = n;
	}
	return found;
}

int vhp_policy_parse(const char *xml, size_t len, struct vhp_policy *p,
		     char *err, size_t errsz)
{
	xmlDocPtr doc = read_xml(xml, len, err, errsz);
	xmlNodePtr v;
	int ret;

	if (!doc)
		return -1;
	v = find_element(xmlDocGetRootElement(doc), &ret, err, errsz);
	if (v)
		ret = parse_element(v, p, err, errsz);
	xmlFreeDoc(doc);
	return ret;
}

int vhp_domain_nosharepages(const char *xml, size_t len)
{
	xmlDocPtr doc = read_xml(xml, len, NULL, 0);
	xmlNodePtr root;
	int ret;

	if (!doc)
		return -1;
	root = xmlDocGetRootElement(doc);
	ret = is_elem(root, "domain", 0) &&
	      plain_child(plain_child(root, "memoryBacking"), "nosharepages");
	xmlFreeDoc(doc);
	return ret;
}

/* --- writing it --- */

static xmlNodePtr add(xmlNodePtr parent, xmlNsPtr ns, const char *name)
{
	return xmlNewChild(parent, ns, (const xmlChar *)name, NULL);
}

static int set(xmlNodePtr n, const char *name, const char *value)
{
	return n && xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)value) ? 0 : -1;
}

/*
 * The element as a tree of libxml2 (which escapes whatever needs it),
 * children in the order of vmhint-libvirt(7). Table and QMP socket only
 * when set; nodes for every policy but default.
 */
static xmlNodePtr build(xmlDocPtr doc, const struct vhp_policy *p)
{
	char nodes[256];
	xmlNodePtr v, n;
	xmlNsPtr ns;
	int bad = 0;

	v = xmlNewDocNode(doc, NULL, (const xmlChar *)VHP_ELEMENT, NULL);
	if (!v)
		return NULL;
	xmlDocSetRootElement(doc, v);
	ns = xmlNewNs(v, (const xmlChar *)VHP_NS_URI, (const xmlChar *)VHP_NS_PREFIX);
	if (!ns)
		return NULL;
	xmlSetNs(v, ns);
	bad |= !xmlNewTextChild(v, ns, (const xmlChar *)"mode",
				(const xmlChar *)vhp_mode_name(p->mode));
	bad |= set(add(v, ns, "active-reporting"), "enabled",
		   p->active_reporting ? "yes" : "no");
	n = add(v, ns, "dedupe");
	bad |= set(n, "enabled", p->dedupe ? "yes" : "no");
	if (terminated(p->dedupe_table, sizeof(p->dedupe_table)) && p->dedupe_table[0])
		bad |= set(n, "table", p->dedupe_table);
	n = add(v, ns, "numa");
	bad |= set(n, "policy", vhp_numa_name(p->numa_policy));
	if (p->numa_policy != VHP_NUMA_DEFAULT) {
		vhp_nodes_format(p->numa_nodes, nodes, sizeof(nodes));
		bad |= set(n, "nodes", nodes);
	}
	if (terminated(p->qmp_socket, sizeof(p->qmp_socket)) && p->qmp_socket[0])
		bad |= set(add(v, ns, "qmp"), "socket", p->qmp_socket);
	return bad ? NULL : v;
}

char *vhp_policy_format(const struct vhp_policy *p)
{
	xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlBufferPtr buf = xmlBufferCreate();
	xmlNodePtr v = doc && buf ? build(doc, p) : NULL;
	char *s = NULL;

	if (v && xmlNodeDump(buf, doc, v, 0, 0) > 0)
		s = strdup((const char *)xmlBufferContent(buf));
	xmlBufferFree(buf);
	xmlFreeDoc(doc);
	return s;
}
