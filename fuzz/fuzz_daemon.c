// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_daemon.c - libFuzzer target for the parsers of hostile input in
 * vmhintd and vmhintctl: the policy metadata (src/policy/policy.c), the
 * vmhintd.conf parser (src/daemon/conf.c) and the control requests
 * (src/daemon/request.c). The first byte of an input selects the parser
 * (modulo 4), the rest is its input:
 *
 *   0  vhp_policy_parse()   accepted: the policy passes vhp_policy_check,
 *                           format -> parse gives the same fields back (and
 *                           so does format_metadata -> parse), formatting
 *                           that gives the same text again;
 *                           rejected or absent: the policy is unchanged,
 *                           and a rejection has a one-line printable error
 *   1  vhd_conf_parse()     accepted: every value within its range, and
 *                           print -> parse -> print is a fixed point;
 *                           rejected: unchanged, "fuzz.conf:LINE: ..."
 *   2  vhd_request_parse()  accepted: every field within its documented
 *                           range and only the members its command takes;
 *                           rejected: unchanged but for the id, which is a
 *                           valid JSON string or integer or ""
 *   3  the helpers          vhp_nodes_parse/format, vhp_table_name and
 *                           vhp_domain_nosharepages on the same bytes
 *
 * Under ASan + UBSan, which also catch leaks and undefined behaviour.
 */
#include "config.h"

#include <json-c/json.h>
#include <libxml/parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "daemon/conf.h"
#include "daemon/request.h"
#include "policy/policy.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_daemon: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

static int terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* --- 0: policy --- */

static void policy_sentinel(struct vhp_policy *p)
{
	memset(p, 0x5a, sizeof(*p));
	p->mode = VHP_MODE_LAZY;
	p->active_reporting = true;
	p->dedupe = true;
	strcpy(p->dedupe_table, "/vmhint-fuzz");
	p->numa_policy = VHP_NUMA_INTERLEAVE;
	p->numa_nodes = 0x5;
	strcpy(p->qmp_socket, "/fuzz.qmp");
}

static void same_policy(const struct vhp_policy *a, const struct vhp_policy *b)
{
	CHECK(a->mode == b->mode);
	CHECK(a->active_reporting == b->active_reporting);
	CHECK(a->dedupe == b->dedupe);
	CHECK(!strcmp(a->dedupe_table, b->dedupe_table));
	CHECK(a->numa_policy == b->numa_policy);
	CHECK(a->numa_nodes == b->numa_nodes);
	CHECK(!strcmp(a->qmp_socket, b->qmp_socket));
}

static void fuzz_policy(const char *data, size_t size)
{
	struct vhp_policy p, s, q;
	char err[VHP_ERR_MAX], *text, *text2;
	int r;

	policy_sentinel(&p);
	policy_sentinel(&s);
	err[0] = '\0';
	r = vhp_policy_parse(data, size, &p, err, sizeof(err));
	CHECK(r >= -1 && r <= 1);
	if (r < 1) {
		CHECK(!memcmp(&p, &s, sizeof(p)));
		if (r < 0)
			CHECK(fuzz_error_ok(err, sizeof(err)));
		return;
	}
	CHECK(terminated(p.dedupe_table, sizeof(p.dedupe_table)));
	CHECK(terminated(p.qmp_socket, sizeof(p.qmp_socket)));
	CHECK(vhp_policy_check(&p, err, sizeof(err)) == 0);
	text = vhp_policy_format(&p);
	CHECK(text != NULL);
	policy_sentinel(&q);
	r = vhp_policy_parse(text, strlen(text), &q, err, sizeof(err));
	if (r != 1)
		fprintf(stderr, "fuzz_daemon: '%s' does not parse back: %s\n", text, err);
	CHECK(r == 1);
	same_policy(&p, &q);
	text2 = vhp_policy_format(&q);
	CHECK(text2 && !strcmp(text, text2));
	free(text);
	free(text2);
	/* and the element for virDomainSetMetadata, as libvirt returns it */
	text = vhp_policy_format_metadata(&p);
	CHECK(text != NULL);
	policy_sentinel(&q);
	CHECK(vhp_policy_parse(text, strlen(text), &q, err, sizeof(err)) == 1);
	same_policy(&p, &q);
	free(text);
}

/* --- 1: vmhintd.conf --- */

static char *conf_text(const struct vhd_conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f != NULL);
	vhd_conf_print(c, f);
	CHECK(fclose(f) == 0);
	return buf;
}

static void check_conf_ranges(const struct vhd_conf *c)
{
	CHECK(terminated(c->uri, sizeof(c->uri)) && c->uri[0]);
	CHECK(terminated(c->socket_path, sizeof(c->socket_path)) && c->socket_path[0] == '/');
	CHECK(terminated(c->socket_group, sizeof(c->socket_group)));
	CHECK(terminated(c->pidfile, sizeof(c->pidfile)) && c->pidfile[0] == '/');
	CHECK(terminated(c->state_dir, sizeof(c->state_dir)) && c->state_dir[0] == '/');
	CHECK(c->log == VHD_LOG_AUTO || c->log == VHD_LOG_STDERR || c->log == VHD_LOG_SYSLOG);
	CHECK(c->log_level >= 3 && c->log_level <= 7);	/* LOG_ERR..LOG_DEBUG */
	CHECK(c->poll_interval_ms >= 100 && c->poll_interval_ms <= 3600000);
	CHECK(c->qmp_timeout_ms >= 100 && c->qmp_timeout_ms <= 600000);
	CHECK(c->keepalive_interval <= 3600);
	CHECK(c->keepalive_count >= 1 && c->keepalive_count <= 100);
	CHECK(c->reconnect_max_ms >= 1000 && c->reconnect_max_ms <= 3600000);
	CHECK(c->ksm == VHD_KSM_AUTO || c->ksm == VHD_KSM_OFF);
	CHECK(c->ksm_burst_min_gain <= 1ull << 40);
	CHECK(c->ksm_burst_interval_ms >= 1000 && c->ksm_burst_interval_ms <= 86400000);
	CHECK(c->ksm_burst_timeout_ms >= 1000 && c->ksm_burst_timeout_ms <= 3600000);
	CHECK(c->ksm_burst_pages_to_scan >= 1 && c->ksm_burst_pages_to_scan <= 1000000);
	CHECK(c->ksm_burst_sleep_ms >= 1 && c->ksm_burst_sleep_ms <= 10000);
}

static void fuzz_conf(const char *data, size_t size)
{
	struct vhd_conf c, s, d;
	char err[256], *t1, *t2;
	int r;

	vhd_conf_defaults(&c);
	s = c;
	err[0] = '\0';
	r = vhd_conf_parse(&c, "fuzz.conf", data, size, err, sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r) {
		CHECK(!memcmp(&c, &s, sizeof(c)));
		CHECK(fuzz_error_ok(err, sizeof(err)));
		CHECK(!strncmp(err, "fuzz.conf:", 10));
		return;
	}
	check_conf_ranges(&c);
	t1 = conf_text(&c);
	vhd_conf_defaults(&d);
	r = vhd_conf_parse(&d, "printed", t1, strlen(t1), err, sizeof(err));
	if (r)
		fprintf(stderr, "fuzz_daemon: printed config does not parse back: %s\n%s", err, t1);
	CHECK(r == 0);
	t2 = conf_text(&d);
	CHECK(!strcmp(t1, t2));
	free(t1);
	free(t2);
}

/* --- 2: control requests --- */

static void request_sentinel(struct vhd_request *r)
{
	memset(r, 0x5a, sizeof(*r));
	r->cmd = VHD_REQ_STATS;
	strcpy(r->domain, "fuzz");
	strcpy(r->id, "\"old\"");
}

/* An id is "" or the JSON text of a string or an exact integer. */
static void check_id(const char *id)
{
	json_object *o;
	int64_t v;

	CHECK(terminated(id, VHD_REQ_ID_MAX));
	if (!id[0])
		return;
	o = json_tokener_parse(id);
	CHECK(o != NULL);
	CHECK(json_object_is_type(o, json_type_string) || json_object_is_type(o, json_type_int));
	if (json_object_is_type(o, json_type_int)) {
		v = json_object_get_int64(o);
		CHECK(v >= -((1LL << 53) - 1) && v <= (1LL << 53) - 1);
	}
	json_object_put(o);
}

static void check_request(const struct vhd_request *r)
{
	size_t i, len;
	bool domain = r->cmd != VHD_REQ_VERSION && r->cmd != VHD_REQ_LIST &&
		      r->cmd != VHD_REQ_KSM_STATUS;

	CHECK((unsigned int)r->cmd < VHD_REQ_NR);
	CHECK(terminated(r->domain, sizeof(r->domain)));
	len = strlen(r->domain);
	CHECK(domain ? len >= 1 && len <= 255 : len == 0);
	for (i = 0; i < len; i++)
		CHECK((unsigned char)r->domain[i] >= 0x20 && r->domain[i] != 0x7f);
	check_id(r->id);
	CHECK(r->mode == VHP_MODE_SYNC || (r->cmd == VHD_REQ_SET_MODE && r->mode == VHP_MODE_LAZY));
	CHECK(!r->enable || r->cmd == VHD_REQ_DEDUPE);
	CHECK(!(r->affect & ~(VHD_AFFECT_LIVE | VHD_AFFECT_CONFIG)));
	CHECK(!r->affect || r->cmd == VHD_REQ_SET_MODE || r->cmd == VHD_REQ_DEDUPE);
	CHECK(r->node < 1024 && (!r->node || r->cmd == VHD_REQ_NUMA_MOVE));
	CHECK(!r->move_all || r->cmd == VHD_REQ_NUMA_MOVE);
	CHECK(r->max_bytes_per_sec <= (1ull << 53) - 1);
	CHECK(!r->max_bytes_per_sec || r->cmd == VHD_REQ_NUMA_MOVE);
	CHECK(strcmp(vhd_request_cmd_name(r->cmd), "unknown"));
}

static void fuzz_request(const char *data, size_t size)
{
	struct vhd_request r, s;
	char err[256];
	int ret;

	request_sentinel(&r);
	request_sentinel(&s);
	err[0] = '\0';
	ret = vhd_request_parse(data, size, &r, err, sizeof(err));
	CHECK(ret == 0 || ret == -1);
	if (ret == 0) {
		check_request(&r);
		return;
	}
	CHECK(fuzz_error_ok(err, sizeof(err)));
	check_id(r.id);
	CHECK(strcmp(r.id, "\"old\""));	/* never an older line's id */
	memcpy(r.id, s.id, sizeof(r.id));
	CHECK(!memcmp(&r, &s, sizeof(r)));
}

/* --- 3: helpers --- */

static void fuzz_helpers(const char *data, size_t size)
{
	char *s = malloc(size + 1), buf[256], out[VHP_TABLE_MAX], out2[VHP_TABLE_MAX];
	uint64_t nodes = 0x1234, again = 0;

	CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	if (vhp_nodes_parse(s, &nodes) == 0) {
		vhp_nodes_format(nodes, buf, sizeof(buf));
		CHECK(nodes != 0);
		CHECK(vhp_nodes_parse(buf, &again) == 0 && again == nodes);
	} else {
		CHECK(nodes == 0x1234);
	}
	if (vhp_table_name(s, out, sizeof(out)) == 0) {
		CHECK(!strncmp(out, "/vmhint-", 8) && strlen(out) > 8 && strlen(out) <= 72);
		CHECK(vhp_table_name(out, out2, sizeof(out2)) == 0 && !strcmp(out, out2));
	}
	CHECK(vhp_domain_nosharepages(data, size) >= -1);
	free(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xmlInitParser();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 1;

	if (!size)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_policy(in, size - 1);
		break;
	case 1:
		fuzz_conf(in, size - 1);
		break;
	case 2:
		fuzz_request(in, size - 1);
		break;
	default:
		fuzz_helpers(in, size - 1);
	}
	return 0;
}
