// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_request - vmhintd's control requests: what each command parses to
 * (every member, its defaults, the edges of every range), and for every
 * kind of bad line (not JSON, not an object, trailing data, too long or
 * deep, duplicate or unknown members, wrong types, values out of range,
 * hostile strings, bad ids) the error's text, the request left as it was
 * and the id that the error reply echoes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/request.h"

static void sentinel(struct vhd_request *r)
{
	memset(r, 0xa5, sizeof(*r));
	r->cmd = VHD_REQ_FLUSH;
	strcpy(r->domain, "sentinel");
	strcpy(r->id, "\"stale\"");
	r->mode = VHP_MODE_LAZY;
	r->enable = true;
	r->affect = VHD_AFFECT_CONFIG;
	r->node = 3;
	r->move_all = true;
	r->max_bytes_per_sec = 77;
}

static int parse(const char *line, struct vhd_request *r, char *err)
{
	err[0] = '\0';
	return vhd_request_parse(line, strlen(line), r, err, 256);
}

/* r and s are the same but for the id. */
static void same_but_id(const struct vhd_request *r, const struct vhd_request *s)
{
	struct vhd_request a = *r, b = *s;

	memset(a.id, 0, sizeof(a.id));
	memset(b.id, 0, sizeof(b.id));
	ck_assert_mem_eq(&a, &b, sizeof(a));
}

/* --- valid requests --- */

START_TEST(no_domain_commands)
{
	static const struct { const char *line; enum vhd_req_cmd cmd; } cases[] = {
		{ "{\"cmd\":\"version\"}", VHD_REQ_VERSION },
		{ "  {  \"cmd\" : \"list\" }  \r", VHD_REQ_LIST },
		{ "{\"cmd\":\"ksm-status\"}", VHD_REQ_KSM_STATUS },
	};
	struct vhd_request r;
	char err[256];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sentinel(&r);
		ck_assert_msg(parse(cases[i].line, &r, err) == 0, "%s: %s", cases[i].line, err);
		ck_assert_int_eq(r.cmd, cases[i].cmd);
		ck_assert_str_eq(r.domain, "");
		ck_assert_str_eq(r.id, "");
		ck_assert_uint_eq(r.affect, 0);
		ck_assert_uint_eq(r.node, 0);
		ck_assert_uint_eq(r.max_bytes_per_sec, 0);
		ck_assert(!r.enable && !r.move_all);
	}
}
END_TEST

START_TEST(domain_commands)
{
	static const struct { const char *cmd; enum vhd_req_cmd v; } cases[] = {
		{ "stats", VHD_REQ_STATS }, { "flush", VHD_REQ_FLUSH },
		{ "numa-status", VHD_REQ_NUMA_STATUS }, { "numa-cancel", VHD_REQ_NUMA_CANCEL },
	};
	static const char *const domains[] = {
		"vm1", "0f0e6c2a-2d7e-4c55-9d1e-6b0b2f1b7a10", "7", "d\xc3\xa9j\xc3\xa0 vu",
		"with \\\"quote\\\" and \\\\", "\\u00e9t\\u00e9",
	};
	static const char *const want[] = {
		"vm1", "0f0e6c2a-2d7e-4c55-9d1e-6b0b2f1b7a10", "7", "d\xc3\xa9j\xc3\xa0 vu",
		"with \"quote\" and \\", "\xc3\xa9t\xc3\xa9",
	};
	struct vhd_request r;
	char line[512], err[256];
	unsigned int i, j;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (j = 0; j < sizeof(domains) / sizeof(domains[0]); j++) {
			snprintf(line, sizeof(line), "{\"domain\":\"%s\",\"cmd\":\"%s\"}",
				 domains[j], cases[i].cmd);
			sentinel(&r);
			ck_assert_msg(parse(line, &r, err) == 0, "%s: %s", line, err);
			ck_assert_int_eq(r.cmd, cases[i].v);
			ck_assert_str_eq(r.domain, want[j]);
			ck_assert_str_eq(r.id, "");
		}
}
END_TEST

START_TEST(domain_length)
{
	char line[1024], name[300], err[256];
	struct vhd_request r;

	memset(name, 'n', 255);
	name[255] = '\0';
	snprintf(line, sizeof(line), "{\"cmd\":\"stats\",\"domain\":\"%s\"}", name);
	ck_assert_int_eq(parse(line, &r, err), 0);
	ck_assert_uint_eq(strlen(r.domain), 255);
	ck_assert_str_eq(r.domain, name);
	/* 256 is one too many, also when escapes make it so */
	sentinel(&r);
	snprintf(line, sizeof(line), "{\"cmd\":\"stats\",\"domain\":\"%s\\u0061\"}", name);
	ck_assert_int_eq(parse(line, &r, err), -1);
	ck_assert_str_eq(err, "member \"domain\" must be 1 to 255 bytes long (it has 256)");
	ck_assert_str_eq(r.domain, "sentinel");
	/* and bytes, not characters, count */
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 128; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	snprintf(line, sizeof(line), "{\"cmd\":\"stats\",\"domain\":\"%s\"}", name);
	ck_assert_int_eq(parse(line, &r, err), -1);
	ck_assert_str_eq(err, "member \"domain\" must be 1 to 255 bytes long (it has 256)");
}
END_TEST

START_TEST(set_mode_and_dedupe)
{
	static const struct {
		const char *line;
		enum vhd_req_cmd cmd;
		enum vhp_mode mode;
		bool enable;
		uint32_t affect;
	} cases[] = {
		{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":\"lazy\"}",
		  VHD_REQ_SET_MODE, VHP_MODE_LAZY, false, 0 },
		{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":\"sync\",\"live\":true}",
		  VHD_REQ_SET_MODE, VHP_MODE_SYNC, false, VHD_AFFECT_LIVE },
		{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":\"sync\",\"config\":true}",
		  VHD_REQ_SET_MODE, VHP_MODE_SYNC, false, VHD_AFFECT_CONFIG },
		{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":\"lazy\",\"live\":true,"
		  "\"config\":true}", VHD_REQ_SET_MODE, VHP_MODE_LAZY, false,
		  VHD_AFFECT_LIVE | VHD_AFFECT_CONFIG },
		{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":\"lazy\",\"live\":false,"
		  "\"config\":true}", VHD_REQ_SET_MODE, VHP_MODE_LAZY, false, VHD_AFFECT_CONFIG },
		{ "{\"cmd\":\"dedupe\",\"domain\":\"d\",\"enable\":true}",
		  VHD_REQ_DEDUPE, VHP_MODE_SYNC, true, 0 },
		{ "{\"cmd\":\"dedupe\",\"domain\":\"d\",\"enable\":false,\"live\":true}",
		  VHD_REQ_DEDUPE, VHP_MODE_SYNC, false, VHD_AFFECT_LIVE },
		{ "{\"enable\":true,\"config\":true,\"cmd\":\"dedupe\",\"domain\":\"d\",\"live\":false}",
		  VHD_REQ_DEDUPE, VHP_MODE_SYNC, true, VHD_AFFECT_CONFIG },
	};
	struct vhd_request r;
	char err[256];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sentinel(&r);
		ck_assert_msg(parse(cases[i].line, &r, err) == 0, "%s: %s", cases[i].line, err);
		ck_assert_int_eq(r.cmd, cases[i].cmd);
		ck_assert_str_eq(r.domain, "d");
		ck_assert_int_eq(r.mode, cases[i].mode);
		ck_assert_int_eq(r.enable, cases[i].enable);
		ck_assert_uint_eq(r.affect, cases[i].affect);
	}
}
END_TEST

START_TEST(numa_move)
{
	static const struct {
		const char *line;
		uint32_t node;
		bool all;
		uint64_t rate;
	} cases[] = {
		{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":0}", 0, false, 0 },
		{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":1023}", 1023, false, 0 },
		{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":-0}", 0, false, 0 },
		{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":1,\"move-all\":true}", 1, true, 0 },
		{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":2,\"max-bytes-per-sec\":0}",
		  2, false, 0 },
		{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":2,\"move-all\":false,"
		  "\"max-bytes-per-sec\":9007199254740991}", 2, false, 9007199254740991ull },
		{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":5,\"max-bytes-per-sec\":"
		  "104857600}", 5, false, 104857600 },
	};
	struct vhd_request r;
	char err[256];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sentinel(&r);
		ck_assert_msg(parse(cases[i].line, &r, err) == 0, "%s: %s", cases[i].line, err);
		ck_assert_int_eq(r.cmd, VHD_REQ_NUMA_MOVE);
		ck_assert_str_eq(r.domain, "d");
		ck_assert_uint_eq(r.node, cases[i].node);
		ck_assert_int_eq(r.move_all, cases[i].all);
		ck_assert_uint_eq(r.max_bytes_per_sec, cases[i].rate);
	}
}
END_TEST

START_TEST(ids)
{
	static const struct { const char *id, *text; } cases[] = {
		{ "1", "1" }, { "-7", "-7" }, { "0", "0" },
		{ "9007199254740991", "9007199254740991" },
		{ "-9007199254740991", "-9007199254740991" },
		{ "\"abc\"", "\"abc\"" }, { "\"\"", "\"\"" }, { "\"a/b\"", "\"a/b\"" },
		{ "\"a\\\"b\"", "\"a\\\"b\"" }, { "\"\\n\"", "\"\\n\"" },
		/* 61 characters: 63 bytes as JSON, the most that fits */
		{ "\"1234567890123456789012345678901234567890123456789012345678901\"",
		  "\"1234567890123456789012345678901234567890123456789012345678901\"" },
	};
	struct vhd_request r;
	char line[256], err[256];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "{\"cmd\":\"list\",\"id\":%s}", cases[i].id);
		sentinel(&r);
		ck_assert_msg(parse(line, &r, err) == 0, "%s: %s", line, err);
		ck_assert_str_eq(r.id, cases[i].text);
		ck_assert_int_eq(r.cmd, VHD_REQ_LIST);
	}
}
END_TEST

/* --- bad requests --- */

static const struct bad_case {
	const char *line;
	const char *want;	/* the error starts with it */
	const char *id;		/* what r->id is after it */
} bad_cases[] = {
	/* not JSON, or not one object */
	{ "version", "request is not JSON: ", "" },
	{ "{\"cmd\":\"version\"", "request is not JSON: ", "" },
	{ "{\"cmd\":\"version\",}", "request is not JSON: ", "" },
	{ "{cmd:\"version\"}", "request is not JSON: ", "" },
	{ "{'cmd':'version'}", "request is not JSON: ", "" },
	{ "{\"cmd\":'version'}", "request is not JSON: ", "" },
	{ "{\"cmd\":\"vers\tion\"}", "request is not JSON: bad value at byte 8", "" },
	{ "{\"cmd\":\"version\"} x", "trailing data after the request at byte 19", "" },
	{ "{\"cmd\":\"version\"}{\"cmd\":\"list\"}", "trailing data after the request at byte 18", "" },
	{ "{\"cmd\":\"version\"}//", "trailing data after the request at byte 18", "" },
	{ "[{\"cmd\":\"version\"}]", "request is not a JSON object", "" },
	{ "\"version\"", "request is not a JSON object", "" },
	{ "42", "request is not a JSON object", "" },
	{ "null", "request is not a JSON object", "" },
	{ "", "empty request", "" },
	{ " \t\r", "empty request", "" },
	{ "{\"cmd\":\"version\",\"x\":{\"y\":[1]}}", "request is not JSON: nested too deeply", "" },
	{ "[[{\"cmd\":\"version\"}]]", "request is not JSON: nested too deeply", "" },
	{ "{\"cmd\":\"v\xff\"}", "request is not JSON: ", "" },
	{ "{\"cmd\":\"version\",\"x\":NaN}", "unknown member \"x\" for \"version\"", "" },
	/* duplicates, which json-c alone would let through */
	{ "{\"cmd\":\"flush\",\"domain\":\"d\",\"cmd\":\"version\"}", "member \"cmd\" given twice", "" },
	{ "{\"cmd\":\"version\",\"\\u0063md\":\"list\",\"id\":3}", "member \"cmd\" given twice", "3" },
	{ "{\"id\":1,\"cmd\":\"version\",\"id\":2}", "member \"id\" given twice", "" },
	{ "{\"cmd\":\"stats\",\"domain\":\"a\",\"domain\":\"b\"}", "member \"domain\" given twice", "" },
	{ "{\"cmd\":\"version\",\"cmd\\u0000x\":\"flush\"}",
	  "member name with a control character at byte 18", "" },
	/* commands and members */
	{ "{\"id\":7,\"cmd\":\"reboot\"}", "unknown command \"reboot\"", "7" },
	{ "{\"cmd\":\"Version\"}", "unknown command \"Version\"", "" },
	{ "{\"cmd\":\"version\\u0000\"}", "unknown command \"version?\"", "" },
	{ "{\"cmd\":\"\"}", "unknown command \"\"", "" },
	{ "{\"cmd\":\"\\u001b[2J\"}", "unknown command \"?[2J\"", "" },
	{ "{\"cmd\":1}", "member \"cmd\" must be a string", "" },
	{ "{\"cmd\":[\"version\"]}", "member \"cmd\" must be a string", "" },
	{ "{\"id\":\"x\"}", "missing member \"cmd\"", "\"x\"" },
	{ "{}", "missing member \"cmd\"", "" },
	{ "{\"cmd\":\"version\",\"domain\":\"d\"}", "unknown member \"domain\" for \"version\"", "" },
	{ "{\"cmd\":\"stats\",\"domain\":\"d\",\"node\":1}", "unknown member \"node\" for \"stats\"", "" },
	{ "{\"cmd\":\"list\",\"verbose\":true}", "unknown member \"verbose\" for \"list\"", "" },
	{ "{\"cmd\":\"list\",\"\\u00e9\":1}", "unknown member \"??\" for \"list\"", "" },
	{ "{\"cmd\":\"stats\",\"id\":\"s1\"}", "missing member \"domain\" (\"stats\" needs it)", "\"s1\"" },
	{ "{\"cmd\":\"set-mode\",\"domain\":\"d\"}", "missing member \"mode\" (\"set-mode\" needs it)", "" },
	{ "{\"cmd\":\"dedupe\",\"domain\":\"d\"}", "missing member \"enable\" (\"dedupe\" needs it)", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\"}", "missing member \"node\" (\"numa-move\" needs it)", "" },
	/* domain */
	{ "{\"cmd\":\"stats\",\"domain\":\"\"}", "member \"domain\" must be 1 to 255 bytes long (it has 0)", "" },
	{ "{\"cmd\":\"stats\",\"domain\":7}", "member \"domain\" must be a string", "" },
	{ "{\"cmd\":\"stats\",\"domain\":null}", "member \"domain\" must be a string", "" },
	{ "{\"cmd\":\"stats\",\"domain\":\"a\\nb\"}", "member \"domain\" has a control character at byte 2", "" },
	{ "{\"cmd\":\"stats\",\"domain\":\"a\\u0000b\"}", "member \"domain\" has a control character at byte 2", "" },
	{ "{\"cmd\":\"stats\",\"domain\":\"\\u007f\"}", "member \"domain\" has a control character at byte 1", "" },
	/* mode, booleans */
	{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":\"fast\"}", "member \"mode\" must be \"sync\" or \"lazy\"", "" },
	{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":\"LAZY\"}", "member \"mode\" must be \"sync\" or \"lazy\"", "" },
	{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":\"lazy\\u0000x\"}", "member \"mode\" must be", "" },
	{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":1}", "member \"mode\" must be", "" },
	{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":\"lazy\",\"live\":1}", "member \"live\" must be true or false", "" },
	{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":\"lazy\",\"live\":false}",
	  "\"live\" and \"config\" are both false: the change would affect nothing", "" },
	{ "{\"cmd\":\"set-mode\",\"domain\":\"d\",\"mode\":\"lazy\",\"live\":false,\"config\":false}",
	  "\"live\" and \"config\" are both false", "" },
	{ "{\"cmd\":\"dedupe\",\"domain\":\"d\",\"enable\":\"yes\"}", "member \"enable\" must be true or false", "" },
	{ "{\"cmd\":\"dedupe\",\"domain\":\"d\",\"enable\":true,\"config\":null}", "member \"config\" must be true or false", "" },
	{ "{\"cmd\":\"dedupe\",\"domain\":\"d\",\"enable\":true,\"mode\":\"lazy\"}", "unknown member \"mode\" for \"dedupe\"", "" },
	/* integers */
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":-1}", "member \"node\" must be an integer from 0 to 1023", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":1024}", "member \"node\" must be an integer from 0 to 1023", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":4294967296}", "member \"node\" must be an integer from 0", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":18446744073709551617}", "member \"node\" must be an integer from 0", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":-18446744073709551617}", "member \"node\" must be an integer from 0", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":1.0}", "member \"node\" must be an integer", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":1e2}", "member \"node\" must be an integer", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":\"1\"}", "member \"node\" must be an integer", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":true}", "member \"node\" must be an integer", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":1,\"max-bytes-per-sec\":-1}",
	  "member \"max-bytes-per-sec\" must be an integer from 0 to 9007199254740991", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":1,\"max-bytes-per-sec\":9007199254740992}",
	  "member \"max-bytes-per-sec\" must be an integer from 0 to 9007199254740991", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":1,\"max-bytes-per-sec\":99999999999999999999}",
	  "member \"max-bytes-per-sec\" must be an integer from 0", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":1,\"max-bytes-per-sec\":1e9}",
	  "member \"max-bytes-per-sec\" must be an integer", "" },
	{ "{\"cmd\":\"numa-move\",\"domain\":\"d\",\"node\":1,\"move-all\":\"true\"}",
	  "member \"move-all\" must be true or false", "" },
	/* ids */
	{ "{\"cmd\":\"list\",\"id\":1.5}", "member \"id\" must be a string or an integer", "" },
	{ "{\"cmd\":\"list\",\"id\":true}", "member \"id\" must be a string or an integer", "" },
	{ "{\"cmd\":\"list\",\"id\":null}", "member \"id\" must be a string or an integer", "" },
	{ "{\"cmd\":\"list\",\"id\":[1]}", "member \"id\" must be a string or an integer", "" },
	{ "{\"cmd\":\"list\",\"id\":{}}", "member \"id\" must be a string or an integer", "" },
	{ "{\"cmd\":\"list\",\"id\":9007199254740992}",
	  "member \"id\" must be an integer from -9007199254740991 to 9007199254740991", "" },
	{ "{\"cmd\":\"list\",\"id\":99999999999999999999}", "member \"id\" must be an integer from", "" },
	{ "{\"cmd\":\"list\",\"id\":\"12345678901234567890123456789012345678901234567890123456789012\"}",
	  "member \"id\" is too long (at most 63 bytes as JSON)", "" },
	{ "{\"cmd\":\"list\",\"id\":\"\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\"}",
	  "member \"id\" is too long (at most 63 bytes as JSON)", "" },
	/* an error after a valid id: the id is kept for the reply */
	{ "{\"cmd\":\"numa-move\",\"id\":\"m\",\"domain\":\"d\",\"node\":2048}",
	  "member \"node\" must be an integer from 0 to 1023", "\"m\"" },
};

START_TEST(bad_request)
{
	const struct bad_case *c = &bad_cases[_i];
	struct vhd_request r, s;
	char err[256];

	sentinel(&r);
	sentinel(&s);
	ck_assert_msg(parse(c->line, &r, err) == -1, "accepted: %s", c->line);
	ck_assert_msg(strstr(err, c->want) == err, "%s: error '%s', want '%s'", c->line, err,
		      c->want);
	ck_assert_str_eq(r.id, c->id);
	same_but_id(&r, &s);
}
END_TEST

START_TEST(line_bounds)
{
	char *line = malloc(VHD_REQ_MAX_LINE + 16), err[256];
	struct vhd_request r, s;
	size_t len;

	/* 4095 bytes (the newline makes 4096) parse */
	memset(line, ' ', VHD_REQ_MAX_LINE + 16);
	memcpy(line, "{\"cmd\":\"version\"}", 17);
	sentinel(&r);
	ck_assert_int_eq(vhd_request_parse(line, VHD_REQ_MAX_LINE - 1, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, VHD_REQ_VERSION);
	/* 4096 do not */
	sentinel(&r);
	sentinel(&s);
	ck_assert_int_eq(vhd_request_parse(line, VHD_REQ_MAX_LINE, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "request line longer than 4096 bytes");
	ck_assert_str_eq(r.id, "");
	same_but_id(&r, &s);
	/* the length counts, not a NUL; and a NUL inside is refused */
	ck_assert_int_eq(vhd_request_parse("{\"cmd\":\"list\"}garbage", 14, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.cmd, VHD_REQ_LIST);
	sentinel(&r);
	len = 17;
	memcpy(line, "{\"cmd\":\"ver\0ion\"}", len);
	ck_assert_int_eq(vhd_request_parse(line, len, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "NUL byte in the request line");
	same_but_id(&r, &s);
	ck_assert_int_eq(vhd_request_parse(NULL, 0, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no request");
	/* a short error buffer gets a terminated prefix, none is fine */
	ck_assert_int_eq(vhd_request_parse("{}", 2, &r, err, 8), -1);
	ck_assert_str_eq(err, "missing");
	ck_assert_int_eq(vhd_request_parse("{}", 2, &r, NULL, 0), -1);
	free(line);
}
END_TEST

START_TEST(too_many_members)
{
	char line[1024], err[256];
	struct vhd_request r, s;
	size_t n;
	int i;

	n = (size_t)snprintf(line, sizeof(line), "{\"cmd\":\"list\"");
	for (i = 0; i < 16; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"m%d\":%d", i, i);
	snprintf(line + n, sizeof(line) - n, "}");
	sentinel(&r);
	sentinel(&s);
	ck_assert_int_eq(parse(line, &r, err), -1);
	ck_assert_str_eq(err, "request has more than 16 members");
	same_but_id(&r, &s);
}
END_TEST

/* A line that nests deep is refused by the depth limit, not parsed. */
START_TEST(deep_nesting)
{
	char line[4000], err[256];
	struct vhd_request r;
	int i;

	strcpy(line, "{\"cmd\":\"list\",\"x\":");
	for (i = 0; i < 1800; i++)
		strcat(line, "[");
	ck_assert_int_eq(parse(line, &r, err), -1);
	ck_assert_str_eq(err, "request is not JSON: nested too deeply");
}
END_TEST

START_TEST(cmd_names)
{
	static const char *const names[] = {
		"version", "list", "stats", "set-mode", "flush", "dedupe", "ksm-status",
		"numa-move", "numa-status", "numa-cancel",
	};
	unsigned int i;

	ck_assert_uint_eq(sizeof(names) / sizeof(names[0]), VHD_REQ_NR);
	for (i = 0; i < VHD_REQ_NR; i++)
		ck_assert_str_eq(vhd_request_cmd_name((enum vhd_req_cmd)i), names[i]);
	ck_assert_str_eq(vhd_request_cmd_name(VHD_REQ_NR), "unknown");
	ck_assert_str_eq(vhd_request_cmd_name((enum vhd_req_cmd)-1), "unknown");
}
END_TEST

static Suite *request_suite(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("request");

	tcase_add_test(tc, no_domain_commands);
	tcase_add_test(tc, domain_commands);
	tcase_add_test(tc, domain_length);
	tcase_add_test(tc, set_mode_and_dedupe);
	tcase_add_test(tc, numa_move);
	tcase_add_test(tc, ids);
	tcase_add_loop_test(tc, bad_request, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, line_bounds);
	tcase_add_test(tc, too_many_members);
	tcase_add_test(tc, deep_nesting);
	tcase_add_test(tc, cmd_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(request_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
