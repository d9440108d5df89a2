// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmhintctl - set up and control vmhint for libvirt domains.
 *
 *   vmhintctl [-c URI] attach DOMAIN|--file FILE [options]
 *   vmhintctl [-c URI] detach DOMAIN|--file FILE
 *   vmhintctl [-s SOCKET] list|stats|set-mode|flush|dedupe|ksm|numa-move ...
 *
 * attach edits a defined domain's persistent XML (libvirt's own, read with
 * virDomainGetXMLDesc(INACTIVE|SECURE) and written back with
 * virDomainDefineXML) to add vmhint's object, device, QMP socket and
 * policy; detach removes exactly that. The other commands talk to vmhintd
 * over its control socket (commands.c). See vmhintctl(8).
 * Errors go to stderr as "error: ..." and exit 1, as virsh does.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "commands.h"
#include "domxml.h"

#define DEFAULT_URI "qemu:///system"
/* Who the QMP socket directory belongs to: the owner of libvirt's own. */
#define LIBVIRT_QEMU_DIR "/var/lib/libvirt/qemu"

static const char *prog = "vmhintctl";

static void err(const char *f, ...) __attribute__((format(printf, 1, 2)));

static void err(const char *f, ...)
{
	va_list ap;

	fputs("error: ", stderr);
	va_start(ap, f);
	vfprintf(stderr, f, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* libvirt's own message for the last failure, as virsh prints it. */
static void err_libvirt(void)
{
	const char *m = virGetLastErrorMessage();

	if (m && *m)
		err("%s", m);
}

/* libvirt prints errors to stderr by default; we print them once, above. */
static void quiet_libvirt(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: %s [-c URI] [-s SOCKET] COMMAND [ARGS]\n"
"\n"
"  attach DOMAIN|--file FILE [--mode sync|lazy] [--active-reporting]\n"
"         [--dedupe TABLE] [--numa-policy POLICY --numa-nodes NODES]\n"
"         [--qmp-socket PATH]\n"
"      add vmhint (object, device, QMP socket, policy in <metadata>) to a\n"
"      defined domain; again: replace it with the new options\n"
"  detach DOMAIN|--file FILE\n"
"      remove what attach added\n"
"\n"
"Through vmhintd, on running domains:\n", prog);
	vhc_daemon_usage(f);
	fprintf(f,
"\n"
"  -c, --connect URI   libvirt connection (default " DEFAULT_URI ")\n"
"  -s, --socket PATH   vmhintd's control socket (default $" VHC_SOCKET_ENV ",\n"
"                      else " VHC_SOCKET_DEFAULT ")\n"
"  --file FILE         edit a domain XML file instead, print the result\n"
"  -h, --help, -V, --version\n"
"\n"
"See vmhintctl(8) and vmhint-libvirt(7).\n");
}

struct args {
	const char *uri;
	const char *cmd;
	const char *domain;
	const char *file;
	struct vhc_policy pol;
	char table[80];
};

enum { OPT_MODE = 256, OPT_ACTIVE, OPT_DEDUPE, OPT_NUMA_POLICY, OPT_NUMA_NODES,
       OPT_QMP, OPT_FILE };

static int check_policy(struct args *a, const char *nodes)
{
	static const char *const policies[] = { "default", "preferred", "bind",
						"interleave" };
	const char *np = a->pol.numa_policy;
	unsigned int i;
	int ok = 0;

	if (a->pol.mode && strcmp(a->pol.mode, "sync") && strcmp(a->pol.mode, "lazy")) {
		err("invalid --mode '%s' (sync or lazy)", a->pol.mode);
		return -1;
	}
	if (nodes && vhp_nodes_parse(nodes, &a->pol.numa_nodes)) {
		err("invalid --numa-nodes '%s' (host nodes below 64, e.g. 0-1,3)", nodes);
		return -1;
	}
	if (!np) {
		if (nodes) {
			err("--numa-nodes needs --numa-policy");
			return -1;
		}
		return 0;
	}
	for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		ok |= !strcmp(np, policies[i]);
	if (!ok) {
		err("invalid --numa-policy '%s' (default, preferred, bind or interleave)", np);
		return -1;
	}
	if (!strcmp(np, "default") ? nodes != NULL : !nodes) {
		err("--numa-policy %s %s --numa-nodes", np,
		    strcmp(np, "default") ? "needs" : "takes no");
		return -1;
	}
	if (!strcmp(np, "preferred") && __builtin_popcountll(a->pol.numa_nodes) != 1) {
		err("--numa-policy preferred takes exactly one node");
		return -1;
	}
	return 0;
}

static int parse_cmd_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "active-reporting", no_argument, NULL, OPT_ACTIVE },
		{ "dedupe", required_argument, NULL, OPT_DEDUPE },
		{ "numa-policy", required_argument, NULL, OPT_NUMA_POLICY },
		{ "numa-nodes", required_argument, NULL, OPT_NUMA_NODES },
		{ "qmp-socket", required_argument, NULL, OPT_QMP },
		{ "file", required_argument, NULL, OPT_FILE },
		{ NULL, 0, NULL, 0 }
	};
	int attach = !strcmp(a->cmd, "attach"), c;
	const char *nodes = NULL;

	opterr = 0;
	optind = 0;	/* glibc: start afresh (main's scan used "+") */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == '?' || (!attach && c != OPT_FILE)) {
			err("command '%s' doesn't support option %s", a->cmd,
			    argv[optind - 1]);
			return -1;
		}
		switch (c) {
		case OPT_MODE: a->pol.mode = optarg; break;
		case OPT_ACTIVE: a->pol.active = 1; break;
		case OPT_DEDUPE:
			if (vhp_table_name(optarg, a->table, sizeof(a->table))) {
				err("invalid --dedupe table '%s' (NAME or /vmhint-NAME; "
				    "NAME: up to 64 of A-Z a-z 0-9 _ - .)", optarg);
				return -1;
			}
			a->pol.dedupe_table = a->table;
			break;
		case OPT_NUMA_POLICY: a->pol.numa_policy = optarg; break;
		case OPT_NUMA_NODES: nodes = optarg; break;
		case OPT_QMP: a->pol.qmp_path = optarg; break;
		case OPT_FILE: a->file = optarg; break;
		}
	}
	if (optind < argc)
		a->domain = argv[optind++];
	if (optind < argc) {
		err("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!a->domain == !a->file) {
		err("command '%s' needs a DOMAIN or --file FILE (one of them)", a->cmd);
		return -1;
	}
	return attach ? check_policy(a, nodes) : 0;
}

static xmlDocPtr parse_xml(const char *xml, const char *what)
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), what, NULL,
				      XML_PARSE_NONET | XML_PARSE_NOBLANKS |
				      XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

	if (!doc) {
		const xmlError *x = xmlGetLastError();

		err("%s: not well-formed XML%s%s", what, x ? ": " : "",
		    x && x->message ? x->message : "");
	}
	return doc;
}

static int edit(struct args *a, xmlDocPtr doc)
{
	struct vhc_err e = { "" };
	int r;

	r = !strcmp(a->cmd, "attach") ? vhc_xml_attach(doc, &a->pol, &e)
				      : vhc_xml_detach(doc, &e);
	if (r)
		err("%s%s%s: %s", a->domain ? "domain '" : "",
		    a->domain ? a->domain : a->file, a->domain ? "'" : "", e.msg);
	return r;
}

static char *dump(xmlDocPtr doc)
{
	xmlChar *out = NULL;
	int len = 0;

	xmlDocDumpFormatMemory(doc, &out, &len, 1);
	return (char *)out;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, n;

	if (!f) {
		err("failed to open '%s': %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		char *nb = realloc(buf, len + 65536 + 1);

		if (!nb) {
			free(buf);
			fclose(f);
			err("out of memory");
			return NULL;
		}
		buf = nb;
		n = fread(buf + len, 1, 65536, f);
		len += n;
		if (n < 65536)
			break;
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static int run_file(struct args *a)
{
	char *xml = read_file(a->file), *out;
	xmlDocPtr doc;
	int ret = 1;

	if (!xml)
		return 1;
	doc = parse_xml(xml, a->file);
	free(xml);
	if (!doc)
		return 1;
	if (!edit(a, doc)) {
		out = dump(doc);
		if (out && fputs(out, stdout) >= 0)
			ret = 0;
		else
			err("failed to write the XML");
		xmlFree(out);
	}
	xmlFreeDoc(doc);
	return ret;
}

static virDomainPtr lookup(virConnectPtr conn, const char *name)
{
	virDomainPtr dom = virDomainLookupByName(conn, name);
	char *end;
	long id;

	if (!dom && strlen(name) == 36)
		dom = virDomainLookupByUUIDString(conn, name);
	if (!dom) {
		id = strtol(name, &end, 10);
		if (*name && !*end && id >= 0)
			dom = virDomainLookupByID(conn, (int)id);
	}
	if (!dom) {
		/* Report the lookup by name, as virsh does. */
		virDomainFree(virDomainLookupByName(conn, name));
		err("failed to get domain '%s'", name);
		err_libvirt();
	}
	return dom;
}

/*
 * The default QMP socket's directory: private to the user QEMU runs as
 * (the owner of libvirt's /var/lib/libvirt/qemu), so only that user and
 * root can connect.
 */
static int make_qmp_dir(void)
{
	struct stat st;

	if (stat(LIBVIRT_QEMU_DIR, &st)) {
		err("cannot stat %s: %s (is libvirt's QEMU driver installed?)",
		    LIBVIRT_QEMU_DIR, strerror(errno));
		return -1;
	}
	if (mkdir(VHC_QMP_DIR, 0700) && errno != EEXIST) {
		err("cannot create %s: %s", VHC_QMP_DIR, strerror(errno));
		return -1;
	}
	if (chown(VHC_QMP_DIR, st.st_uid, st.st_gid) || chmod(VHC_QMP_DIR, 0700)) {
		err("cannot give %s to uid %u: %s", VHC_QMP_DIR, (unsigned)st.st_uid,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int is_local_qemu(virConnectPtr conn)
{
	char *uri = virConnectGetURI(conn);
	int local = uri && !strcmp(uri, "qemu:///system");

	free(uri);
	return local;
}

static int define(virConnectPtr conn, struct args *a, xmlDocPtr doc)
{
	char *out = dump(doc);
	virDomainPtr nd;

	if (!out) {
		err("out of memory");
		return -1;
	}
	nd = virDomainDefineXML(conn, out);
	xmlFree(out);
	if (!nd) {
		err("failed to define domain '%s'", a->domain);
		err_libvirt();
		return -1;
	}
	virDomainFree(nd);
	return 0;
}

static int run_domain(struct args *a)
{
	virConnectPtr conn;
	virDomainPtr dom = NULL;
	xmlDocPtr doc = NULL;
	char *xml = NULL;
	int attach = !strcmp(a->cmd, "attach"), ret = 1, was, active;

	conn = virConnectOpen(a->uri);
	if (!conn) {
		err("failed to connect to the hypervisor");
		err_libvirt();
		return 1;
	}
	dom = lookup(conn, a->domain);
	if (!dom)
		goto out;
	if (virDomainIsPersistent(dom) != 1) {
		err("domain '%s' is not persistent: %s needs a defined domain",
		    a->domain, a->cmd);
		goto out;
	}
	xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	if (!xml) {
		err("failed to get the XML of domain '%s'", a->domain);
		err_libvirt();
		goto out;
	}
	doc = parse_xml(xml, a->domain);
	if (!doc)
		goto out;
	was = vhc_xml_attached(doc);
	if (edit(a, doc))
		goto out;
	if (attach && !a->pol.qmp_path && is_local_qemu(conn) && make_qmp_dir())
		goto out;
	if (define(conn, a, doc))
		goto out;
	active = virDomainIsActive(dom) == 1;
	if (attach)
		printf("Domain '%s' %s\n", a->domain,
		       was ? "attached to vmhint again (replaced)" : "attached to vmhint");
	else
		printf("Domain '%s' detached from vmhint\n", a->domain);
	if (active)
		printf("The domain is running: the change applies from its next start\n");
	ret = 0;
out:
	if (doc)
		xmlFreeDoc(doc);
	free(xml);
	if (dom)
		virDomainFree(dom);
	virConnectClose(conn);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct args a = { .uri = DEFAULT_URI };
	const char *sock = NULL;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:s:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': a.uri = optarg; break;
		case 's': sock = optarg; break;
		case ':':
			err("option '%s' needs an argument", argv[optind - 1]);
			return 1;
		case 'h': usage(stdout); return 0;
		case 'V': printf("%s %s\n", prog, PACKAGE_VERSION); return 0;
		default:
			err("unsupported option '%s'. See --help.", argv[optind - 1]);
			return 1;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	a.cmd = argv[optind];
	if (vhc_is_daemon_cmd(a.cmd))
		return vhc_daemon_cmd(sock, argc - optind, argv + optind);
	if (strcmp(a.cmd, "attach") && strcmp(a.cmd, "detach")) {
		err("unknown command: '%s'", a.cmd);
		return 1;
	}
	if (parse_cmd_args(argc - optind, argv + optind, &a))
		return 1;
	virSetErrorFunc(NULL, quiet_libvirt);
	xmlInitParser();
	return a.file ? run_file(&a) : run_domain(&a);
}
