// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_conf - vmhintd.conf: the defaults, what each key and unit parses
 * to, the syntax (comments, blanks, CRLF, the last of a key wins), the
 * error for every kind of bad line (text, file name and line number, and
 * the settings unchanged), line and file bounds, loading real files, and
 * --print-config's output (every key, and it parses back to the same).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/conf.h"
#include "daemon/log.h"

static const char defaults_text[] =
	"uri = qemu:///system\n"
	"socket = /run/vmhint/vmhintd.sock\n"
	"socket_group =\n"
	"pidfile = /run/vmhint/vmhintd.pid\n"
	"state_dir = /var/lib/vmhint\n"
	"log = auto\n"
	"log_level = info\n"
	"poll_interval = 5s\n"
	"qmp_timeout = 5s\n"
	"keepalive_interval = 5\n"
	"keepalive_count = 5\n"
	"reconnect_max = 30s\n"
	"ksm = auto\n"
	"ksm_burst_min_gain = 64M\n"
	"ksm_burst_interval = 1min\n"
	"ksm_burst_timeout = 1min\n"
	"ksm_burst_pages_to_scan = 8192\n"
	"ksm_burst_sleep = 10ms\n";

static int parse(struct vhd_conf *c, const char *text, char *err)
{
	err[0] = '\0';
	return vhd_conf_parse(c, "t.conf", text, strlen(text), err, 256);
}

static char *printed(const struct vhd_conf *c)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	ck_assert_ptr_nonnull(f);
	vhd_conf_print(c, f);
	fclose(f);
	return buf;
}

static void same_conf(const struct vhd_conf *a, const struct vhd_conf *b)
{
	ck_assert_str_eq(a->uri, b->uri);
	ck_assert_str_eq(a->socket_path, b->socket_path);
	ck_assert_str_eq(a->socket_group, b->socket_group);
	ck_assert_str_eq(a->pidfile, b->pidfile);
	ck_assert_str_eq(a->state_dir, b->state_dir);
	ck_assert_int_eq(a->log, b->log);
	ck_assert_int_eq(a->log_level, b->log_level);
	ck_assert_uint_eq(a->poll_interval_ms, b->poll_interval_ms);
	ck_assert_uint_eq(a->qmp_timeout_ms, b->qmp_timeout_ms);
	ck_assert_uint_eq(a->keepalive_interval, b->keepalive_interval);
	ck_assert_uint_eq(a->keepalive_count, b->keepalive_count);
	ck_assert_uint_eq(a->reconnect_max_ms, b->reconnect_max_ms);
	ck_assert_int_eq(a->ksm, b->ksm);
	ck_assert_uint_eq(a->ksm_burst_min_gain, b->ksm_burst_min_gain);
	ck_assert_uint_eq(a->ksm_burst_interval_ms, b->ksm_burst_interval_ms);
	ck_assert_uint_eq(a->ksm_burst_timeout_ms, b->ksm_burst_timeout_ms);
	ck_assert_uint_eq(a->ksm_burst_pages_to_scan, b->ksm_burst_pages_to_scan);
	ck_assert_uint_eq(a->ksm_burst_sleep_ms, b->ksm_burst_sleep_ms);
}

START_TEST(defaults)
{
	struct vhd_conf c;
	char *text;

	memset(&c, 0x5a, sizeof(c));
	vhd_conf_defaults(&c);
	ck_assert_str_eq(c.uri, "qemu:///system");
	ck_assert_str_eq(c.socket_path, "/run/vmhint/vmhintd.sock");
	ck_assert_str_eq(c.socket_group, "");
	ck_assert_str_eq(c.pidfile, "/run/vmhint/vmhintd.pid");
	ck_assert_str_eq(c.state_dir, "/var/lib/vmhint");
	ck_assert_int_eq(c.log, VHD_LOG_AUTO);
	ck_assert_int_eq(c.log_level, LOG_INFO);
	ck_assert_uint_eq(c.poll_interval_ms, 5000);
	ck_assert_uint_eq(c.qmp_timeout_ms, 5000);
	ck_assert_uint_eq(c.keepalive_interval, 5);
	ck_assert_uint_eq(c.keepalive_count, 5);
	ck_assert_uint_eq(c.reconnect_max_ms, 30000);
	ck_assert_int_eq(c.ksm, VHD_KSM_AUTO);
	ck_assert_uint_eq(c.ksm_burst_min_gain, 64u << 20);
	ck_assert_uint_eq(c.ksm_burst_interval_ms, 60000);
	ck_assert_uint_eq(c.ksm_burst_timeout_ms, 60000);
	ck_assert_uint_eq(c.ksm_burst_pages_to_scan, 8192);
	ck_assert_uint_eq(c.ksm_burst_sleep_ms, 10);
	/* --print-config prints every key */
	text = printed(&c);
	ck_assert_str_eq(text, defaults_text);
	free(text);
}
END_TEST

/* Every key set to something else, then print -> parse gives it back. */
START_TEST(every_key_and_round_trip)
{
	static const char text[] =
		"uri = qemu+ssh://root@host/system\n"
		"socket = /tmp/vmhintd test.sock\n"
		"socket_group = kvm\n"
		"pidfile = /tmp/p.pid\n"
		"state_dir = /tmp/state\n"
		"log = syslog\n"
		"log_level = debug\n"
		"poll_interval = 500ms\n"
		"qmp_timeout = 10min\n"
		"keepalive_interval = 0\n"
		"keepalive_count = 100\n"
		"reconnect_max = 1h\n"
		"ksm = off\n"
		"ksm_burst_min_gain = 1536K\n"
		"ksm_burst_interval = 90s\n"
		"ksm_burst_timeout = 1\n"
		"ksm_burst_pages_to_scan = 1000000\n"
		"ksm_burst_sleep = 1ms\n";
	struct vhd_conf c, d;
	char err[256], *out, *out2;

	vhd_conf_defaults(&c);
	ck_assert_msg(parse(&c, text, err) == 0, "%s", err);
	ck_assert_str_eq(c.uri, "qemu+ssh://root@host/system");
	ck_assert_str_eq(c.socket_path, "/tmp/vmhintd test.sock");
	ck_assert_str_eq(c.socket_group, "kvm");
	ck_assert_str_eq(c.pidfile, "/tmp/p.pid");
	ck_assert_str_eq(c.state_dir, "/tmp/state");
	ck_assert_int_eq(c.log, VHD_LOG_SYSLOG);
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
	ck_assert_uint_eq(c.poll_interval_ms, 500);
	ck_assert_uint_eq(c.qmp_timeout_ms, 600000);
	ck_assert_uint_eq(c.keepalive_interval, 0);
	ck_assert_uint_eq(c.keepalive_count, 100);
	ck_assert_uint_eq(c.reconnect_max_ms, 3600000);
	ck_assert_int_eq(c.ksm, VHD_KSM_OFF);
	ck_assert_uint_eq(c.ksm_burst_min_gain, 1536u << 10);
	ck_assert_uint_eq(c.ksm_burst_interval_ms, 90000);
	ck_assert_uint_eq(c.ksm_burst_timeout_ms, 1000);
	ck_assert_uint_eq(c.ksm_burst_pages_to_scan, 1000000);
	ck_assert_uint_eq(c.ksm_burst_sleep_ms, 1);

	out = printed(&c);
	ck_assert_ptr_nonnull(strstr(out, "ksm_burst_min_gain = 1536K\n"));
	ck_assert_ptr_nonnull(strstr(out, "qmp_timeout = 10min\n"));
	ck_assert_ptr_nonnull(strstr(out, "ksm_burst_timeout = 1s\n"));
	ck_assert_ptr_nonnull(strstr(out, "reconnect_max = 1h\n"));
	vhd_conf_defaults(&d);
	ck_assert_msg(parse(&d, out, err) == 0, "%s", err);
	same_conf(&c, &d);
	out2 = printed(&d);
	ck_assert_str_eq(out, out2);
	free(out);
	free(out2);
	/* and the defaults' print parses to the defaults */
	vhd_conf_defaults(&c);
	ck_assert_int_eq(parse(&d, defaults_text, err), 0);
	same_conf(&c, &d);
}
END_TEST

START_TEST(units)
{
	static const struct {
		const char *line;
		size_t off;
		uint64_t want;
	} cases[] = {
#define OFF(f) offsetof(struct vhd_conf, f)
		{ "poll_interval = 100ms", OFF(poll_interval_ms), 100 },
		{ "poll_interval = 7", OFF(poll_interval_ms), 7000 },
		{ "poll_interval = 7s", OFF(poll_interval_ms), 7000 },
		{ "poll_interval = 2min", OFF(poll_interval_ms), 120000 },
		{ "poll_interval = 1h", OFF(poll_interval_ms), 3600000 },
		{ "poll_interval = 3600000ms", OFF(poll_interval_ms), 3600000 },
		{ "poll_interval = 0007s", OFF(poll_interval_ms), 7000 },
		{ "keepalive_interval = 2min", OFF(keepalive_interval), 120 },
		{ "keepalive_interval = 3000ms", OFF(keepalive_interval), 3 },
		{ "ksm_burst_min_gain = 0", OFF(ksm_burst_min_gain), 0 },
		{ "ksm_burst_min_gain = 4096", OFF(ksm_burst_min_gain), 4096 },
		{ "ksm_burst_min_gain = 2K", OFF(ksm_burst_min_gain), 2048 },
		{ "ksm_burst_min_gain = 3M", OFF(ksm_burst_min_gain), 3u << 20 },
		{ "ksm_burst_min_gain = 1024G", OFF(ksm_burst_min_gain), 1ull << 40 },
		{ "ksm_burst_sleep = 10s", OFF(ksm_burst_sleep_ms), 10000 },
		{ "ksm_burst_interval = 24h", OFF(ksm_burst_interval_ms), 86400000 },
#undef OFF
	};
	struct vhd_conf c;
	char err[256];
	unsigned int i;
	uint64_t v;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vhd_conf_defaults(&c);
		ck_assert_msg(parse(&c, cases[i].line, err) == 0, "%s: %s", cases[i].line, err);
		if (strstr(cases[i].line, "gain")) {
			v = c.ksm_burst_min_gain;
		} else {
			uint32_t v32;

			memcpy(&v32, (char *)&c + cases[i].off, sizeof(v32));
			v = v32;
		}
		ck_assert_msg(v == cases[i].want, "%s: %llu", cases[i].line,
			      (unsigned long long)v);
	}
}
END_TEST

START_TEST(syntax)
{
	static const char text[] =
		"# vmhintd.conf\n"
		"\n"
		"   \t\n"
		"  # indented comment = with an equals sign\n"
		"poll_interval=2s\n"
		"\tqmp_timeout   =\t 3s   \r\n"
		"pidfile = /run/a#b.pid\n"
		"state_dir = /srv/state # where the state file goes\n"
		"socket_group = kvm\n"
		"socket_group =\n"
		"keepalive_count = 7\n"
		"keepalive_count = 9\n"
		"ksm = off";		/* no newline at the end */
	struct vhd_conf c;
	char err[256];

	vhd_conf_defaults(&c);
	ck_assert_msg(parse(&c, text, err) == 0, "%s", err);
	ck_assert_uint_eq(c.poll_interval_ms, 2000);
	ck_assert_uint_eq(c.qmp_timeout_ms, 3000);
	ck_assert_str_eq(c.pidfile, "/run/a#b.pid");
	ck_assert_str_eq(c.state_dir, "/srv/state");
	ck_assert_str_eq(c.socket_group, "");		/* the last one wins */
	ck_assert_uint_eq(c.keepalive_count, 9);	/* the last one wins */
	ck_assert_int_eq(c.ksm, VHD_KSM_OFF);
	/* the length is what counts: bytes after it are not read */
	vhd_conf_defaults(&c);
	ck_assert_int_eq(vhd_conf_parse(&c, "t.conf", "ksm = offbogus", 9, err, 256), 0);
	ck_assert_int_eq(c.ksm, VHD_KSM_OFF);
	/* an empty file changes nothing */
	ck_assert_int_eq(vhd_conf_parse(&c, "t.conf", "", 0, err, 256), 0);
	ck_assert_int_eq(c.ksm, VHD_KSM_OFF);
}
END_TEST

/* --- bad lines: -1, "FILE:LINE: what", and nothing changed --- */

static const struct bad_case {
	const char *text;
	const char *want;
} bad_cases[] = {
	{ "bogus = 1", "t.conf:1: unknown key 'bogus'" },
	{ "Poll_interval = 5s", "t.conf:1: unknown key 'Poll_interval'" },
	{ "poll interval = 5s", "t.conf:1: unknown key 'poll interval'" },
	{ "p\xc3\xb6ll = 1", "t.conf:1: unknown key 'p??ll'" },
	{ "ksm = off\njust some words", "t.conf:2: expected 'key = value', got 'just some words'" },
	{ "= 5", "t.conf:1: no key before '='" },
	{ "\n\npoll_interval = 5m", "t.conf:3: poll_interval: bad unit in '5m' (ms, s, min, h or "
	  "none for seconds)" },
	{ "poll_interval = 5 s", "t.conf:1: poll_interval: bad unit in '5 s'" },
	{ "poll_interval = 5S", "t.conf:1: poll_interval: bad unit in '5S'" },
	{ "poll_interval = 99ms", "t.conf:1: poll_interval: '99ms' is out of range (100ms to 1h)" },
	{ "poll_interval = 3601s", "t.conf:1: poll_interval: '3601s' is out of range (100ms to 1h)" },
	{ "poll_interval = 0", "t.conf:1: poll_interval: '0' is out of range" },
	{ "poll_interval = -1", "t.conf:1: poll_interval: '-1' is not a number" },
	{ "poll_interval = +1", "t.conf:1: poll_interval: '+1' is not a number" },
	{ "poll_interval = s", "t.conf:1: poll_interval: 's' is not a number" },
	{ "poll_interval = 1.5s", "t.conf:1: poll_interval: bad unit in '1.5s'" },
	{ "poll_interval = 18446744073709551616", "t.conf:1: poll_interval: "
	  "'18446744073709551616' is not a number" },
	{ "poll_interval = 18446744073709551h", "t.conf:1: poll_interval: "
	  "'18446744073709551h' is out of range" },
	{ "poll_interval = 4294967296ms", "t.conf:1: poll_interval: '4294967296ms' is out of range" },
	{ "poll_interval =", "t.conf:1: poll_interval: empty value" },
	{ "poll_interval = # none", "t.conf:1: poll_interval: empty value" },
	{ "qmp_timeout = 11min", "t.conf:1: qmp_timeout: '11min' is out of range (100ms to 10min)" },
	{ "keepalive_interval = 1500ms", "t.conf:1: keepalive_interval: '1500ms' is not a whole "
	  "number of seconds" },
	{ "keepalive_interval = 3601", "t.conf:1: keepalive_interval: '3601' is out of range "
	  "(0s to 3600s)" },
	{ "keepalive_count = 0", "t.conf:1: keepalive_count: '0' is out of range (1 to 100)" },
	{ "keepalive_count = 5s", "t.conf:1: keepalive_count: '5s' is not a number" },
	{ "reconnect_max = 999ms", "t.conf:1: reconnect_max: '999ms' is out of range (1s to 1h)" },
	{ "ksm_burst_min_gain = 64MB", "t.conf:1: ksm_burst_min_gain: bad unit in '64MB' (K, M, G "
	  "or none for bytes)" },
	{ "ksm_burst_min_gain = 64m", "t.conf:1: ksm_burst_min_gain: bad unit in '64m'" },
	{ "ksm_burst_min_gain = 1025G", "t.conf:1: ksm_burst_min_gain: '1025G' is out of range "
	  "(0 to 1024G)" },
	{ "ksm_burst_min_gain = 17179869184G", "t.conf:1: ksm_burst_min_gain: '17179869184G' is "
	  "out of range" },
	{ "ksm_burst_interval = 999ms", "t.conf:1: ksm_burst_interval: '999ms' is out of range "
	  "(1s to 24h)" },
	{ "ksm_burst_timeout = 2h", "t.conf:1: ksm_burst_timeout: '2h' is out of range (1s to 1h)" },
	{ "ksm_burst_pages_to_scan = 1000001", "t.conf:1: ksm_burst_pages_to_scan: '1000001' is "
	  "out of range (1 to 1000000)" },
	{ "ksm_burst_sleep = 0ms", "t.conf:1: ksm_burst_sleep: '0ms' is out of range (1ms to 10s)" },
	{ "log = journal", "t.conf:1: log: 'journal' is not auto, stderr or syslog" },
	{ "log_level = verbose", "t.conf:1: log_level: 'verbose' is not err, warning, notice, "
	  "info or debug" },
	{ "log_level = emerg", "t.conf:1: log_level: 'emerg' is not err" },
	{ "ksm = on", "t.conf:1: ksm: 'on' is not auto or off" },
	{ "ksm =", "t.conf:1: ksm: empty value" },
	{ "uri = qemu", "t.conf:1: uri: 'qemu' is not a libvirt URI (like qemu:///system)" },
	{ "uri = qemu:///system extra", "t.conf:1: uri: 'qemu:///system extra' is not a libvirt URI" },
	{ "uri = ://x", "t.conf:1: uri: '://x' is not a libvirt URI" },
	{ "socket = relative.sock",
	  "t.conf:1: socket: 'relative.sock' is not a printable absolute path" },
	{ "socket = /"
	  "2345678901234567890123456789012345678901234567890123456789012345678901234567890"
	  "1234567890123456789012345678",
	  "t.conf:1: socket: the path is 108 bytes long, a unix socket's at most 107 (sun_path)" },
	{ "pidfile = /"
	  "2345678901234567890123456789012345678901234567890123456789012345678901234567890"
	  "1234567890123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123456789012345678"
	  "901234567890123456",
	  "t.conf:1: pidfile: the value is 256 bytes long, at most 255" },
	{ "state_dir = /a\x01" "b", "t.conf:1: control character 0x1" },
	{ "state_dir = /a\x7f" "b", "t.conf:1: state_dir: '/a?b' is not a printable absolute path" },
	{ "state_dir = /a\rb", "t.conf:1: state_dir: '/a?b' is not a printable absolute path" },
	{ "socket_group = bad group", "t.conf:1: socket_group: 'bad group' is not a group name or GID" },
	{ "socket_group = -x", "t.conf:1: socket_group: '-x' is not a group name or GID" },
	{ "socket_group = 12345678901", "t.conf:1: socket_group: '12345678901' is not a group" },
	{ "socket_group = abcdefghijklmnopqrstuvwxyz0123456", "t.conf:1: socket_group: "
	  "'abcdefghijklmnopqrstuvwxyz0123456' is not a group name or GID" },
	{ "socket_group = a$b", "t.conf:1: socket_group: 'a$b' is not a group name or GID" },
	/* the first bad line stops it, and what came before is not kept */
	{ "ksm = off\nlog = stderr\nlog_level = loud\nbogus = 1",
	  "t.conf:3: log_level: 'loud' is not err" },
};

START_TEST(bad_line)
{
	const struct bad_case *c = &bad_cases[_i];
	struct vhd_conf conf, before;
	char err[256];

	vhd_conf_defaults(&conf);
	before = conf;
	ck_assert_msg(parse(&conf, c->text, err) == -1, "accepted: %s", c->text);
	ck_assert_msg(strstr(err, c->want) == err, "'%s': error '%s', want '%s'", c->text,
		      err, c->want);
	ck_assert_mem_eq(&conf, &before, sizeof(conf));
}
END_TEST

START_TEST(bounds)
{
	char *text = malloc(8192), err[256];
	struct vhd_conf c, before;

	vhd_conf_defaults(&c);
	before = c;
	/* a comment of exactly 4096 bytes is fine, one of 4097 is not */
	memset(text, '#', 4096);
	strcpy(text + 4096, "\nksm = off\n");
	ck_assert_int_eq(parse(&c, text, err), 0);
	ck_assert_int_eq(c.ksm, VHD_KSM_OFF);
	c = before;
	memset(text, '#', 4097);
	strcpy(text + 4097, "\nksm = off\n");
	ck_assert_int_eq(parse(&c, text, err), -1);
	ck_assert_str_eq(err, "t.conf:1: line longer than 4096 bytes");
	ck_assert_mem_eq(&c, &before, sizeof(c));
	/* the same without a newline at the end */
	ck_assert_int_eq(vhd_conf_parse(&c, "t.conf", text, 4097, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.conf:1: line longer than 4096 bytes");
	/* a NUL byte, even in a comment */
	memcpy(text, "ksm = off\n# a\0b\n", 16);
	ck_assert_int_eq(vhd_conf_parse(&c, "t.conf", text, 16, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.conf:2: NUL byte in the line");
	ck_assert_mem_eq(&c, &before, sizeof(c));
	/* a short error buffer: a terminated prefix; none at all: fine */
	ck_assert_int_eq(vhd_conf_parse(&c, "t.conf", "bogus = 1", 9, err, 10), -1);
	ck_assert_str_eq(err, "t.conf:1:");
	ck_assert_int_eq(vhd_conf_parse(&c, "t.conf", "bogus = 1", 9, NULL, 0), -1);
	ck_assert_mem_eq(&c, &before, sizeof(c));
	free(text);
}
END_TEST

/* --- files --- */

static char *tmpfile_with(const char *text, size_t len)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/test_conf.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(load_files)
{
	struct vhd_conf c, before;
	char err[256], want[128], *path, *big;

	vhd_conf_defaults(&c);
	before = c;
	/* missing: the defaults, unless it must exist */
	ck_assert_int_eq(vhd_conf_load(&c, "/nonexistent/vmhintd.conf", false, err, 256), 0);
	ck_assert_mem_eq(&c, &before, sizeof(c));
	ck_assert_int_eq(vhd_conf_load(&c, "/nonexistent/vmhintd.conf", true, err, 256), -1);
	ck_assert_str_eq(err, "/nonexistent/vmhintd.conf: No such file or directory");
	ck_assert_int_eq(vhd_conf_load(&c, "/tmp", false, err, 256), -1);
	ck_assert_str_eq(err, "/tmp: not a regular file");

	path = tmpfile_with("# test\nksm = off\npoll_interval = 250ms\n", 38);
	ck_assert_int_eq(vhd_conf_load(&c, path, true, err, 256), 0);
	ck_assert_int_eq(c.ksm, VHD_KSM_OFF);
	ck_assert_uint_eq(c.poll_interval_ms, 250);
	unlink(path);

	c = before;
	path = tmpfile_with("ksm = off\n\nqmp_timeout = forever\n", 33);
	ck_assert_int_eq(vhd_conf_load(&c, path, true, err, 256), -1);
	snprintf(want, sizeof(want), "%s:3: qmp_timeout: 'forever' is not a number", path);
	ck_assert_str_eq(err, want);
	ck_assert_mem_eq(&c, &before, sizeof(c));
	unlink(path);

	/* over 1 MiB of comments: refused whole */
	big = malloc((1 << 20) + 2);
	memset(big, '\n', (1 << 20) + 1);
	memcpy(big, "ksm = off\n", 10);
	path = tmpfile_with(big, (1 << 20) + 1);
	ck_assert_int_eq(vhd_conf_load(&c, path, true, err, 256), -1);
	snprintf(want, sizeof(want), "%s: larger than 1 MiB", path);
	ck_assert_str_eq(err, want);
	ck_assert_mem_eq(&c, &before, sizeof(c));
	unlink(path);
	path = tmpfile_with(big, 1 << 20);
	ck_assert_int_eq(vhd_conf_load(&c, path, true, err, 256), 0);
	ck_assert_int_eq(c.ksm, VHD_KSM_OFF);
	unlink(path);
	free(big);

	if (geteuid() != 0) {
		/* root reads everything: this case needs an ordinary user */
		c = before;
		path = tmpfile_with("ksm = off\n", 10);
		chmod(path, 0);
		ck_assert_int_eq(vhd_conf_load(&c, path, false, err, 256), -1);
		ck_assert_ptr_nonnull(strstr(err, ": Permission denied"));
		unlink(path);
	}
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, every_key_and_round_trip);
	tcase_add_test(tc, units);
	tcase_add_test(tc, syntax);
	tcase_add_loop_test(tc, bad_line, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, load_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
