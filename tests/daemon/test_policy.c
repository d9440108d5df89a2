// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_policy - the per-domain policy of src/policy: what the parser makes
 * of the element as vmhintctl attach writes it and as libvirt gives it
 * back (another prefix, a default namespace, the whole domain XML), the
 * defaults, the error for every kind of bad input (its text, and the
 * caller's policy unchanged byte for byte), XML attacks (DOCTYPE,
 * entities, size), format -> parse round trips, and the node list and
 * table name helpers vmhintctl shares.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

#define NS	"xmlns:vmhint='urn:vmhint:domain:1'"
#define EL(body)	"<vmhint:vmhint " NS ">" body "</vmhint:vmhint>"

/* The policy a bad input must leave alone: valid, and nothing default. */
static void sentinel(struct vhp_policy *p)
{
	memset(p, 0xa5, sizeof(*p));
	p->mode = VHP_MODE_LAZY;
	p->active_reporting = true;
	p->dedupe = true;
	strcpy(p->dedupe_table, "/vmhint-sentinel");
	p->numa_policy = VHP_NUMA_BIND;
	p->numa_nodes = 0x3;
	strcpy(p->qmp_socket, "/run/sentinel.qmp");
}

static int parse(const char *xml, struct vhp_policy *p, char *err)
{
	err[0] = '\0';
	return vhp_policy_parse(xml, strlen(xml), p, err, VHP_ERR_MAX);
}

/* --- valid input --- */

START_TEST(example_element)
{
	static const char xml[] =
		"<vmhint:vmhint xmlns:vmhint=\"urn:vmhint:domain:1\"><vmhint:mode>lazy</vmhint:mode>"
		"<vmhint:active-reporting enabled=\"no\"/><vmhint:dedupe enabled=\"yes\" "
		"table=\"/vmhint-tenant1\"/><vmhint:numa policy=\"bind\" nodes=\"0-1\"/>"
		"<vmhint:qmp socket=\"/var/lib/libvirt/qemu/vmhint/UUID.qmp\"/></vmhint:vmhint>";
	struct vhp_policy p;
	char err[VHP_ERR_MAX];
	char *text;

	sentinel(&p);
	ck_assert_int_eq(parse(xml, &p, err), 1);
	ck_assert_int_eq(p.mode, VHP_MODE_LAZY);
	ck_assert(!p.active_reporting);
	ck_assert(p.dedupe);
	ck_assert_str_eq(p.dedupe_table, "/vmhint-tenant1");
	ck_assert_int_eq(p.numa_policy, VHP_NUMA_BIND);
	ck_assert_uint_eq(p.numa_nodes, 0x3);
	ck_assert_str_eq(p.qmp_socket, "/var/lib/libvirt/qemu/vmhint/UUID.qmp");
	/* and the formatter writes exactly what vmhintctl attach writes */
	text = vhp_policy_format(&p);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, xml);
	free(text);
}
END_TEST

/* libvirt re-serializes the element: any prefix, or none. */
START_TEST(prefix_does_not_matter)
{
	static const char *const xmls[] = {
		"<v:vmhint xmlns:v='urn:vmhint:domain:1'><v:mode>lazy</v:mode>"
		"<v:numa policy='preferred' nodes='2'/></v:vmhint>",
		"<vmhint xmlns='urn:vmhint:domain:1'><mode>lazy</mode>"
		"<numa policy='preferred' nodes='2'/></vmhint>",
		"<a:vmhint xmlns:a='urn:vmhint:domain:1' xmlns:b='urn:vmhint:domain:1'>"
		"<b:mode>\n  lazy\n</b:mode><a:numa policy='preferred' nodes='2'/></a:vmhint>",
	};
	struct vhp_policy p;
	char err[VHP_ERR_MAX];
	unsigned int i;

	for (i = 0; i < sizeof(xmls) / sizeof(xmls[0]); i++) {
		sentinel(&p);
		ck_assert_msg(parse(xmls[i], &p, err) == 1, "%s: %s", xmls[i], err);
		ck_assert_int_eq(p.mode, VHP_MODE_LAZY);
		ck_assert_int_eq(p.numa_policy, VHP_NUMA_PREFERRED);
		ck_assert_uint_eq(p.numa_nodes, 1u << 2);
		/* the rest took the defaults */
		ck_assert(!p.dedupe && !p.active_reporting);
		ck_assert_str_eq(p.dedupe_table, "");
		ck_assert_str_eq(p.qmp_socket, "");
	}
}
END_TEST

START_TEST(empty_element_gives_defaults)
{
	struct vhp_policy p, d;
	char err[VHP_ERR_MAX];

	sentinel(&p);
	vhp_policy_init(&d);
	ck_assert_int_eq(parse("<vmhint:vmhint " NS "> <!-- nothing --> </vmhint:vmhint>",
			       &p, err), 1);
	ck_assert_int_eq(p.mode, VHP_MODE_SYNC);
	ck_assert(!p.active_reporting && !p.dedupe);
	ck_assert_int_eq(p.numa_policy, VHP_NUMA_DEFAULT);
	ck_assert_uint_eq(p.numa_nodes, 0);
	ck_assert_str_eq(p.dedupe_table, "");
	ck_assert_str_eq(p.qmp_socket, "");
	ck_assert_mem_eq(&p, &d, sizeof(p));
}
END_TEST

/* The whole domain XML, as virsh dumpxml gives it; the example of the tree. */
START_TEST(whole_domain)
{
	static const char xml[] =
		"<domain type='qemu'><name>d</name><metadata>"
		"<other:x xmlns:other='urn:example'/>"
		"<vm:vmhint xmlns:vm='urn:vmhint:domain:1'><vm:mode>lazy</vm:mode>"
		"<vm:dedupe enabled='no' table='tenant2'/></vm:vmhint>"
		"</metadata><devices/></domain>";
	struct vhp_policy p;
	char err[VHP_ERR_MAX], path[4096], *buf;
	const char *top = getenv("top_srcdir");
	FILE *f;
	size_t n;

	sentinel(&p);
	ck_assert_int_eq(parse(xml, &p, err), 1);
	ck_assert_int_eq(p.mode, VHP_MODE_LAZY);
	ck_assert(!p.dedupe);
	/* "NAME" is taken as "/vmhint-NAME", kept while dedupe is off */
	ck_assert_str_eq(p.dedupe_table, "/vmhint-tenant2");

	snprintf(path, sizeof(path), "%s/examples/libvirt/domain-vmhint.xml", top ? top : ".");
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	buf = malloc(1 << 16);
	n = fread(buf, 1, 1 << 16, f);
	fclose(f);
	sentinel(&p);
	ck_assert_int_eq(vhp_policy_parse(buf, n, &p, err, sizeof(err)), 1);
	ck_assert_int_eq(p.mode, VHP_MODE_LAZY);
	ck_assert(p.dedupe);
	ck_assert_str_eq(p.dedupe_table, "/vmhint-tenant1");
	ck_assert_int_eq(p.numa_policy, VHP_NUMA_DEFAULT);
	ck_assert_str_eq(p.qmp_socket, "/var/lib/libvirt/qemu/vmhint/"
			 "0f0e6c2a-2d7e-4c55-9d1e-6b0b2f1b7a10.qmp");
	ck_assert_int_eq(vhp_domain_nosharepages(buf, n), 0);
	free(buf);
}
END_TEST

/* No element of ours: 0, and the policy untouched. */
START_TEST(no_element)
{
	static const char *const xmls[] = {
		"<domain><name>d</name></domain>",
		"<domain><metadata/></domain>",
		"<domain><metadata><vmhint:vmhint xmlns:vmhint='urn:vmhint:domain:2'/>"
		"</metadata></domain>",
		"<domain><metadata><vmhint/></metadata></domain>",
		/* ours, but not inside <metadata> */
		"<domain><vmhint xmlns='urn:vmhint:domain:1'><mode>lazy</mode></vmhint></domain>",
		"<vmhint:vmhint xmlns:vmhint='urn:other'/>",
		"<something-else/>",
	};
	struct vhp_policy p, s;
	char err[VHP_ERR_MAX];
	unsigned int i;

	for (i = 0; i < sizeof(xmls) / sizeof(xmls[0]); i++) {
		sentinel(&p);
		sentinel(&s);
		ck_assert_msg(parse(xmls[i], &p, err) == 0, "%s", xmls[i]);
		ck_assert_mem_eq(&p, &s, sizeof(p));
	}
}
END_TEST

/* --- bad input: -1, the error names the element and the value, and the
 * caller's policy is as it was --- */

static const struct bad_case {
	const char *xml;
	const char *want;
} bad_cases[] = {
	{ EL("<vmhint:mode>fast</vmhint:mode>"), "invalid <vmhint:mode> 'fast' (sync or lazy)" },
	{ EL("<vmhint:mode></vmhint:mode>"), "invalid <vmhint:mode> '' (sync or lazy)" },
	{ EL("<vmhint:mode>LAZY</vmhint:mode>"), "invalid <vmhint:mode> 'LAZY'" },
	{ EL("<vmhint:mode>la<b/>zy</vmhint:mode>"), "unexpected element <b> in <vmhint:mode>" },
	{ EL("<vmhint:mode x='1'>lazy</vmhint:mode>"), "unknown attribute 'x' in <vmhint:mode>" },
	{ EL("<vmhint:mode>sync</vmhint:mode><vmhint:mode>lazy</vmhint:mode>"),
	  "<vmhint:mode> given twice" },
	{ EL("<vmhint:mood>lazy</vmhint:mood>"),
	  "unknown element <vmhint:mood> in <vmhint:vmhint> (mode, active-reporting, "
	  "dedupe, numa or qmp)" },
	{ EL("<mode>lazy</mode>"),
	  "unknown element <mode> in <vmhint:vmhint> (not in namespace urn:vmhint:domain:1)" },
	{ EL("<x:mode xmlns:x='urn:vmhint:domain:2'>lazy</x:mode>"),
	  "unknown element <mode> in <vmhint:vmhint> (not in namespace" },
	{ EL("hello<vmhint:mode>lazy</vmhint:mode>"),
	  "unexpected text 'hello' in <vmhint:vmhint>" },
	{ EL("<?pi x?>"), "unexpected XML node (type 7) in <vmhint:vmhint>" },
	{ "<vmhint:vmhint " NS " mode='lazy'/>", "unknown attribute 'mode' in <vmhint:vmhint>" },
	{ EL("<vmhint:active-reporting enabled='maybe'/>"),
	  "invalid <vmhint:active-reporting> enabled 'maybe' (yes or no)" },
	{ EL("<vmhint:active-reporting/>"),
	  "<vmhint:active-reporting> needs enabled='yes' or 'no'" },
	{ EL("<vmhint:active-reporting enabled='yes'>on</vmhint:active-reporting>"),
	  "unexpected text 'on' in <vmhint:active-reporting>" },
	{ EL("<vmhint:dedupe enable='yes'/>"), "unknown attribute 'enable' in <vmhint:dedupe>" },
	{ EL("<vmhint:dedupe vmhint:enabled='yes'/>"),
	  "unknown attribute 'enabled' in <vmhint:dedupe>" },
	{ EL("<vmhint:dedupe enabled='YES'/>"), "invalid <vmhint:dedupe> enabled 'YES' (yes or no)" },
	{ EL("<vmhint:dedupe enabled='yes' table='/vmhint-a b'/>"),
	  "invalid <vmhint:dedupe> table '/vmhint-a b' (/vmhint-NAME; NAME: 1 to 64 of" },
	{ EL("<vmhint:dedupe enabled='yes' table='/vmhint-'/>"),
	  "invalid <vmhint:dedupe> table '/vmhint-'" },
	{ EL("<vmhint:dedupe enabled='yes' table='../../etc'/>"),
	  "invalid <vmhint:dedupe> table '../../etc'" },
	{ EL("<vmhint:dedupe enabled='yes' table='"
	     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'/>"),
	  "invalid <vmhint:dedupe> table 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'" },
	{ EL("<vmhint:numa policy='strict' nodes='0'/>"),
	  "invalid <vmhint:numa> policy 'strict' (default, preferred, bind or interleave)" },
	{ EL("<vmhint:numa policy='bind' nodes='0-64'/>"),
	  "invalid <vmhint:numa> nodes '0-64' (host nodes below 64, e.g. 0-1,3)" },
	{ EL("<vmhint:numa policy='bind' nodes='1,'/>"), "invalid <vmhint:numa> nodes '1,'" },
	{ EL("<vmhint:numa policy='bind' nodes='3-1'/>"), "invalid <vmhint:numa> nodes '3-1'" },
	{ EL("<vmhint:numa policy='bind' nodes=' 1'/>"), "invalid <vmhint:numa> nodes ' 1'" },
	{ EL("<vmhint:numa policy='bind' nodes='18446744073709551617'/>"),
	  "invalid <vmhint:numa> nodes '18446744073709551617'" },
	{ EL("<vmhint:numa policy='bind'/>"), "<vmhint:numa> policy 'bind' needs nodes" },
	{ EL("<vmhint:numa policy='interleave' nodes=''/>"),
	  "invalid <vmhint:numa> nodes ''" },
	{ EL("<vmhint:numa policy='preferred' nodes='0-1'/>"),
	  "<vmhint:numa> policy 'preferred' takes exactly one node" },
	{ EL("<vmhint:numa nodes='0'/>"), "<vmhint:numa> policy 'default' takes no nodes" },
	{ EL("<vmhint:numa policy='bind' node='0'/>"), "unknown attribute 'node' in <vmhint:numa>" },
	{ EL("<vmhint:qmp socket='rel.qmp'/>"),
	  "invalid <vmhint:qmp> socket 'rel.qmp' (an absolute path under 108 bytes, printable, "
	  "no comma)" },
	{ EL("<vmhint:qmp socket='/a,server=on'/>"), "invalid <vmhint:qmp> socket '/a,server=on'" },
	{ EL("<vmhint:qmp socket='/a&#10;b'/>"), "invalid <vmhint:qmp> socket '/a?b'" },
	{ EL("<vmhint:qmp socket='/a&#9;b'/>"), "invalid <vmhint:qmp> socket '/a?b'" },
	{ EL("<vmhint:qmp socket='/"
	     "23456789012345678901234567890123456789012345678901234567890123456789"
	     "012345678901234567890123456789012345678'/>"),
	  "invalid <vmhint:qmp> socket '/234567890" },
	{ EL("<vmhint:qmp/>"), "<vmhint:qmp> needs socket='PATH'" },
	{ EL("<vmhint:qmp socket='/a'><vmhint:x/></vmhint:qmp>"),
	  "unexpected element <x> in <vmhint:qmp>" },
	{ "<domain><metadata>" EL("") EL("") "</metadata></domain>",
	  "<metadata> has more than one <vmhint:vmhint>" },
	{ "<domain><metadata>" EL("<vmhint:mode>fast</vmhint:mode>") "</metadata></domain>",
	  "invalid <vmhint:mode> 'fast'" },
	/* XML that does not parse, or that is an attack */
	{ "<vmhint:vmhint " NS "><vmhint:mode>lazy</vmhint:mode>", "XML does not parse: line 1: " },
	{ "", "XML does not parse: line " },
	{ "<a>&foo;</a>", "XML does not parse: line 1: Entity 'foo' not defined" },
	{ EL("<vmhint:mode>lazy&#0;</vmhint:mode>"), "XML does not parse: line 1: " },
	{ "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'lazy'>]>"
	  EL("<vmhint:mode>&a;</vmhint:mode>"),
	  "XML with a DOCTYPE is refused (a domain XML has none)" },
	{ "<!DOCTYPE x [<!ENTITY x0 'ha'><!ENTITY x1 '&x0;&x0;&x0;&x0;&x0;&x0;&x0;&x0;'>"
	  "<!ENTITY x2 '&x1;&x1;&x1;&x1;&x1;&x1;&x1;&x1;'>"
	  "<!ENTITY x3 '&x2;&x2;&x2;&x2;&x2;&x2;&x2;&x2;'>]>"
	  EL("<vmhint:mode>&x3;</vmhint:mode>"), "XML with a DOCTYPE is refused" },
	{ "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/hostname'>]>"
	  EL("<vmhint:mode>&e;</vmhint:mode>"), "XML with a DOCTYPE is refused" },
	{ "<!DOCTYPE domain SYSTEM 'http://127.0.0.1:1/x.dtd'><domain/>",
	  "XML with a DOCTYPE is refused" },
	{ "<xi:include xmlns:xi='http://www.w3.org/2001/XInclude' href='/etc/hostname'/>"
	  "<x/>", "XML does not parse: line 1: " },
};

START_TEST(bad_input)
{
	const struct bad_case *c = &bad_cases[_i];
	struct vhp_policy p, s;
	char err[VHP_ERR_MAX];

	sentinel(&p);
	sentinel(&s);
	ck_assert_msg(parse(c->xml, &p, err) == -1, "accepted: %s", c->xml);
	ck_assert_msg(strstr(err, c->want) != NULL, "%s: error '%s', want '%s'",
		      c->xml, err, c->want);
	ck_assert_mem_eq(&p, &s, sizeof(p));
}
END_TEST

/* Errors quote hostile values bounded and without control characters. */
START_TEST(errors_are_one_clean_line)
{
	char xml[4096], err[VHP_ERR_MAX], small[24];
	struct vhp_policy p, s;
	size_t i;

	snprintf(xml, sizeof(xml), EL("<vmhint:mode>%s</vmhint:mode>"),
		 "red&#13;&#10;vmhintd: err: forged line &#x7f;&#xe9;"
		 "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
	sentinel(&p);
	sentinel(&s);
	ck_assert_int_eq(parse(xml, &p, err), -1);
	for (i = 0; err[i]; i++)
		ck_assert_msg(err[i] >= 0x20 && err[i] < 0x7f, "byte %#x at %zu of '%s'",
			      (unsigned char)err[i], i, err);
	ck_assert_ptr_nonnull(strstr(err, "'red??vmhintd: err: forged line ???"));
	ck_assert_ptr_nonnull(strstr(err, "...' (sync or lazy)"));
	ck_assert_mem_eq(&p, &s, sizeof(p));
	/* a short error buffer gets a terminated prefix of the message */
	ck_assert_int_eq(vhp_policy_parse(xml, strlen(xml), &p, small, sizeof(small)), -1);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_int_eq(strncmp(small, "invalid <vmhint:mode> '", sizeof(small) - 1), 0);
	/* and none at all is fine */
	ck_assert_int_eq(vhp_policy_parse(xml, strlen(xml), &p, NULL, 0), -1);
	ck_assert_mem_eq(&p, &s, sizeof(p));
}
END_TEST

START_TEST(size_bound)
{
	const size_t big = (1u << 20) + 1;
	struct vhp_policy p, s;
	char err[VHP_ERR_MAX], *xml = malloc(big + 1);
	const char *head = "<domain><metadata>" EL("") "</metadata><!--";

	/* a valid document of 1 MiB + 1 (a long comment) is refused unread */
	memset(xml, 'c', big);
	memcpy(xml, head, strlen(head));
	memcpy(xml + big - 13, "--></domain>", 13);
	sentinel(&p);
	sentinel(&s);
	ck_assert_int_eq(vhp_policy_parse(xml, big, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "XML of 1048577 bytes refused (at most 1 MiB)");
	ck_assert_mem_eq(&p, &s, sizeof(p));
	ck_assert_int_eq(vhp_domain_nosharepages(xml, big), -1);
	/* one byte less parses (the comment is one byte shorter) */
	memcpy(xml + big - 14, "--></domain>", 13);
	ck_assert_int_eq(vhp_policy_parse(xml, big - 1, &p, err, sizeof(err)), 1);
	ck_assert_int_eq(p.mode, VHP_MODE_SYNC);
	ck_assert_int_eq(vhp_policy_parse(NULL, 0, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no XML");
	free(xml);
}
END_TEST

/* The length is what counts, not a NUL: bytes after it are not read. */
START_TEST(length_not_nul)
{
	static const char xml[] = EL("<vmhint:mode>lazy</vmhint:mode>") "garbage<<<";
	struct vhp_policy p;
	char err[VHP_ERR_MAX];

	sentinel(&p);
	ck_assert_int_eq(vhp_policy_parse(xml, strlen(xml) - 10, &p, err, sizeof(err)), 1);
	ck_assert_int_eq(p.mode, VHP_MODE_LAZY);
	ck_assert_int_eq(vhp_policy_parse(xml, strlen(xml), &p, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "XML does not parse"));
}
END_TEST

/* --- format -> parse --- */

static void expect_same(const struct vhp_policy *a, const struct vhp_policy *b)
{
	ck_assert_int_eq(a->mode, b->mode);
	ck_assert_int_eq(a->active_reporting, b->active_reporting);
	ck_assert_int_eq(a->dedupe, b->dedupe);
	ck_assert_str_eq(a->dedupe_table, b->dedupe_table);
	ck_assert_int_eq(a->numa_policy, b->numa_policy);
	ck_assert_uint_eq(a->numa_nodes, b->numa_nodes);
	ck_assert_str_eq(a->qmp_socket, b->qmp_socket);
}

START_TEST(round_trip)
{
	static const char *const sockets[] = {
		"", "/q", "/tmp/a&b<c>\"d'e.qmp", "/var/lib/libvirt/qemu/vmhint/x.qmp",
		"/234567890123456789012345678901234567890123456789012345678901234567890"
		"123456789012345678901234567890123456",	/* 107 bytes */
	};
	static const char *const tables[] = { "", "/vmhint-t", "/vmhint-A.b_c-9" };
	static const uint64_t nodes[] = { 0x1, 0x5, 0x8000000000000000ull, ~0ull, 0xf0f0 };
	struct vhp_policy p, q;
	char err[VHP_ERR_MAX], *text;
	unsigned int n = 0, i;

	for (i = 0; i < 2 * 2 * 2 * 3 * 4 * 5 * 5; i++) {
		unsigned int k = i;

		vhp_policy_init(&p);
		p.mode = k % 2; k /= 2;
		p.active_reporting = k % 2; k /= 2;
		p.dedupe = k % 2; k /= 2;
		strcpy(p.dedupe_table, tables[k % 3]); k /= 3;
		p.numa_policy = k % 4; k /= 4;
		p.numa_nodes = p.numa_policy == VHP_NUMA_DEFAULT ? 0 :
			       p.numa_policy == VHP_NUMA_PREFERRED ? 1ull << (k % 5 * 13) :
			       nodes[k % 5];
		k /= 5;
		strcpy(p.qmp_socket, sockets[k % 5]);
		ck_assert_int_eq(vhp_policy_check(&p, err, sizeof(err)), 0);
		text = vhp_policy_format(&p);
		ck_assert_ptr_nonnull(text);
		sentinel(&q);
		ck_assert_msg(vhp_policy_parse(text, strlen(text), &q, err, sizeof(err)) == 1,
			      "%s: %s", text, err);
		expect_same(&p, &q);
		free(text);
		n++;
	}
	ck_assert_uint_eq(n, 2400);
}
END_TEST

START_TEST(format_text)
{
	struct vhp_policy p;
	char *text;

	vhp_policy_init(&p);
	text = vhp_policy_format(&p);
	ck_assert_str_eq(text, "<vmhint:vmhint xmlns:vmhint=\"urn:vmhint:domain:1\">"
			 "<vmhint:mode>sync</vmhint:mode><vmhint:active-reporting enabled=\"no\"/>"
			 "<vmhint:dedupe enabled=\"no\"/><vmhint:numa policy=\"default\"/>"
			 "</vmhint:vmhint>");
	free(text);
	strcpy(p.qmp_socket, "/a&b\"<>");
	p.numa_policy = VHP_NUMA_INTERLEAVE;
	p.numa_nodes = 0xb;
	text = vhp_policy_format(&p);
	ck_assert_ptr_nonnull(strstr(text, "<vmhint:numa policy=\"interleave\" nodes=\"0-1,3\"/>"));
	ck_assert_ptr_nonnull(strstr(text, "<vmhint:qmp socket=\"/a&amp;b&quot;&lt;&gt;\"/>"));
	free(text);
}
END_TEST

/* --- the rules between fields --- */

/* Case @i of check_rules: one field of a valid policy made wrong. */
static const char *break_policy(unsigned int i, struct vhp_policy *p)
{
	switch (i) {
	case 0: p->mode = 2; return "invalid <vmhint:mode> 2 (sync or lazy)";
	case 1: p->numa_policy = 9; return "invalid <vmhint:numa> policy 9";
	case 2: p->numa_policy = VHP_NUMA_DEFAULT; return "policy 'default' takes no nodes";
	case 3: p->numa_nodes = 0; return "policy 'bind' needs nodes";
	case 4: p->numa_policy = VHP_NUMA_PREFERRED;
		return "policy 'preferred' takes exactly one node";
	case 5: strcpy(p->dedupe_table, "tenant1");
		return "invalid <vmhint:dedupe> table 'tenant1'";
	case 6: strcpy(p->dedupe_table, "/vmhint-a/b");
		return "invalid <vmhint:dedupe> table '/vmhint-a/b'";
	case 7: memset(p->dedupe_table, 'a', sizeof(p->dedupe_table));
		return "invalid <vmhint:dedupe> table '(unterminated)'";
	case 8: strcpy(p->qmp_socket, "x"); return "invalid <vmhint:qmp> socket 'x'";
	case 9: memset(p->qmp_socket, '/', sizeof(p->qmp_socket));
		return "invalid <vmhint:qmp> socket '(unterminated)'";
	}
	return NULL;
}

START_TEST(check_rules)
{
	struct vhp_policy p;
	char err[VHP_ERR_MAX];
	const char *want;
	unsigned int i;

	sentinel(&p);
	ck_assert_int_eq(vhp_policy_check(&p, err, sizeof(err)), 0);
	for (i = 0; sentinel(&p), (want = break_policy(i, &p)); i++) {
		err[0] = '\0';
		ck_assert_int_eq(vhp_policy_check(&p, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, want) != NULL, "case %u: '%s', want '%s'", i, err, want);
	}
	ck_assert_uint_eq(i, 10);
}
END_TEST

/* --- helpers --- */

START_TEST(nodes)
{
	static const struct {
		const char *s;
		uint64_t v;
		const char *canon;
	} good[] = {
		{ "0", 0x1, "0" }, { "63", 1ull << 63, "63" }, { "0-1", 0x3, "0-1" },
		{ "0-1,3", 0xb, "0-1,3" }, { "3,0-1", 0xb, "0-1,3" }, { "1,1,1", 0x2, "1" },
		{ "0-63", ~0ull, "0-63" }, { "007", 0x80, "7" }, { "2-2", 0x4, "2" },
		{ "0,2,4", 0x15, "0,2,4" }, { "1-2,3-4", 0x1e, "1-4" },
	};
	static const char *const bad[] = {
		"", ",", "1,", ",1", "64", "0-64", "3-1", "-1", "1-", "a", "1 ", " 1",
		"1;2", "1--2", "+1", "0x1", "99999999999999999999999", "1,,2",
	};
	uint64_t v;
	char buf[256], tiny[6];
	unsigned int i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 0;
		ck_assert_msg(vhp_nodes_parse(good[i].s, &v) == 0, "'%s'", good[i].s);
		ck_assert_uint_eq(v, good[i].v);
		vhp_nodes_format(v, buf, sizeof(buf));
		ck_assert_str_eq(buf, good[i].canon);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 0x1234;
		ck_assert_msg(vhp_nodes_parse(bad[i], &v) == -1, "'%s' accepted", bad[i]);
		ck_assert_uint_eq(v, 0x1234);
	}
	ck_assert_int_eq(vhp_nodes_parse(NULL, &v), -1);
	vhp_nodes_format(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");
	vhp_nodes_format(0x5555555555555555ull, buf, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), 5 + 27 * 2 + 31);	/* 0,2,..62 */
	ck_assert(vhp_nodes_parse(buf, &v) == 0 && v == 0x5555555555555555ull);
	/* a short buffer gets whole ranges only */
	vhp_nodes_format(0x1f | 1ull << 40, tiny, sizeof(tiny));
	ck_assert_str_eq(tiny, "0-4");
}
END_TEST

START_TEST(table_names)
{
	char out[VHP_TABLE_MAX], small[12];
	char long64[65], long65[66];

	memset(long64, 'z', 64);
	long64[64] = '\0';
	memset(long65, 'z', 65);
	long65[65] = '\0';
	ck_assert_int_eq(vhp_table_name("tenant1", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/vmhint-tenant1");
	ck_assert_int_eq(vhp_table_name("/vmhint-a.B_c-9", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/vmhint-a.B_c-9");
	ck_assert_int_eq(vhp_table_name(long64, out, sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), 72);
	strcpy(out, "unchanged");
	ck_assert_int_eq(vhp_table_name(long65, out, sizeof(out)), -1);
	ck_assert_int_eq(vhp_table_name("", out, sizeof(out)), -1);
	ck_assert_int_eq(vhp_table_name("/vmhint-", out, sizeof(out)), -1);
	ck_assert_int_eq(vhp_table_name("a/b", out, sizeof(out)), -1);
	ck_assert_int_eq(vhp_table_name("/etc", out, sizeof(out)), -1);
	ck_assert_int_eq(vhp_table_name("a b", out, sizeof(out)), -1);
	ck_assert_int_eq(vhp_table_name("\xc3\xa9", out, sizeof(out)), -1);
	ck_assert_int_eq(vhp_table_name(NULL, out, sizeof(out)), -1);
	ck_assert_str_eq(out, "unchanged");
	/* never a truncated name */
	ck_assert_int_eq(vhp_table_name("abcd", small, sizeof(small)), -1);
	ck_assert_int_eq(vhp_table_name("abc", small, sizeof(small)), 0);
	ck_assert_str_eq(small, "/vmhint-abc");
}
END_TEST

START_TEST(names)
{
	enum vhp_mode m = VHP_MODE_LAZY;
	enum vhp_numa n = VHP_NUMA_BIND;

	ck_assert_str_eq(vhp_mode_name(VHP_MODE_SYNC), "sync");
	ck_assert_str_eq(vhp_mode_name(VHP_MODE_LAZY), "lazy");
	ck_assert_str_eq(vhp_mode_name((enum vhp_mode)2), "unknown");
	ck_assert_str_eq(vhp_mode_name((enum vhp_mode)-1), "unknown");
	ck_assert_str_eq(vhp_numa_name(VHP_NUMA_DEFAULT), "default");
	ck_assert_str_eq(vhp_numa_name(VHP_NUMA_PREFERRED), "preferred");
	ck_assert_str_eq(vhp_numa_name(VHP_NUMA_BIND), "bind");
	ck_assert_str_eq(vhp_numa_name(VHP_NUMA_INTERLEAVE), "interleave");
	ck_assert_str_eq(vhp_numa_name((enum vhp_numa)4), "unknown");
	ck_assert_int_eq(vhp_mode_from_name("sync", &m), 0);
	ck_assert_int_eq(m, VHP_MODE_SYNC);
	ck_assert_int_eq(vhp_mode_from_name("Sync", &m), -1);
	ck_assert_int_eq(vhp_mode_from_name("unknown", &m), -1);
	ck_assert_int_eq(vhp_mode_from_name(NULL, &m), -1);
	ck_assert_int_eq(m, VHP_MODE_SYNC);
	ck_assert_int_eq(vhp_numa_from_name("interleave", &n), 0);
	ck_assert_int_eq(n, VHP_NUMA_INTERLEAVE);
	ck_assert_int_eq(vhp_numa_from_name("strict", &n), -1);
	ck_assert_int_eq(n, VHP_NUMA_INTERLEAVE);
}
END_TEST

START_TEST(nosharepages)
{
	static const char with[] = "<domain><memoryBacking><nosharepages/></memoryBacking></domain>";
	static const char without[] = "<domain><memoryBacking><hugepages/></memoryBacking>"
				      "<nosharepages/></domain>";

	ck_assert_int_eq(vhp_domain_nosharepages(with, strlen(with)), 1);
	ck_assert_int_eq(vhp_domain_nosharepages(without, strlen(without)), 0);
	ck_assert_int_eq(vhp_domain_nosharepages("<domain>", 8), -1);
	ck_assert_int_eq(vhp_domain_nosharepages("<x><memoryBacking><nosharepages/>"
						 "</memoryBacking></x>", 53), 0);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, example_element);
	tcase_add_test(tc, prefix_does_not_matter);
	tcase_add_test(tc, empty_element_gives_defaults);
	tcase_add_test(tc, whole_domain);
	tcase_add_test(tc, no_element);
	tcase_add_loop_test(tc, bad_input, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, errors_are_one_clean_line);
	tcase_add_test(tc, size_bound);
	tcase_add_test(tc, length_not_nul);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, format_text);
	tcase_add_test(tc, check_rules);
	tcase_add_test(tc, nodes);
	tcase_add_test(tc, table_names);
	tcase_add_test(tc, names);
	tcase_add_test(tc, nosharepages);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
