// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmhintd.conf (conf.h, vmhintd.conf(5)).
 *
 * The file is root's, but a typo in it must still not pass silently and
 * a wrong value must not reach the daemon: every line is bounded, every
 * key known, every value checked for its type, unit and range, and an
 * error names the file, the line and what is wrong. A key given twice
 * takes the last value (as a later line overrides an earlier one in most
 * daemons' files).
 *
 * A bad file changes nothing: it is parsed into a copy.
 *
 * Syntax: "key = value" lines; blank lines; '#' starts a comment at the
 * beginning of a line or after a blank (so "poll_interval = 5s  # why"
 * works, and a '#' inside a value, "/run/a#b", stays). Surrounding blanks
 * and a trailing CR are dropped. There is no quoting.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define LINE_MAX_BYTES	4096		/* without its newline */
#define FILE_MAX_BYTES	(1u << 20)	/* a config file is a few KiB */
#define SHOWN		64		/* bytes of a bad value in an error */

enum type {
	T_STRING,	/* printable, no blanks */
	T_PATH,		/* absolute, printable */
	T_SOCKET,	/* a T_PATH that fits sun_path */
	T_GROUP,	/* a group name or GID, or empty */
	T_URI,		/* scheme:rest */
	T_TIME_MS,	/* 500ms, 5s, 10min, 1h; bare number: seconds */
	T_SECONDS,	/* the same, in whole seconds */
	T_UINT,		/* a plain number */
	T_SIZE,		/* 64M; bare number: bytes */
	T_LOG,		/* auto stderr syslog */
	T_LEVEL,	/* err warning notice info debug */
	T_KSM,		/* auto off */
};

struct key {
	const char *name;
	enum type type;
	size_t off;
	size_t size;		/* strings: the buffer */
	uint64_t min, max;	/* numbers, in the stored unit */
};

#define STR(n, t, f) { n, t, offsetof(struct vhd_conf, f), \
		       sizeof(((struct vhd_conf *)0)->f), 0, 0 }
#define NUM(n, t, f, lo, hi) { n, t, offsetof(struct vhd_conf, f), \
			       sizeof(((struct vhd_conf *)0)->f), lo, hi }
#define SEC	1000u
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)

static const struct key keys[] = {
	STR("uri", T_URI, uri),
	STR("socket", T_SOCKET, socket_path),
	STR("socket_group", T_GROUP, socket_group),
	STR("pidfile", T_PATH, pidfile),
	STR("state_dir", T_PATH, state_dir),
	NUM("log", T_LOG, log, 0, 0),
	NUM("log_level", T_LEVEL, log_level, 0, 0),
	NUM("poll_interval", T_TIME_MS, poll_interval_ms, 100, HOUR),
	NUM("qmp_timeout", T_TIME_MS, qmp_timeout_ms, 100, 10 * MIN),
	NUM("keepalive_interval", T_SECONDS, keepalive_interval, 0, 3600),
	NUM("keepalive_count", T_UINT, keepalive_count, 1, 100),
	NUM("reconnect_max", T_TIME_MS, reconnect_max_ms, SEC, HOUR),
	NUM("ksm", T_KSM, ksm, 0, 0),
	NUM("ksm_burst_min_gain", T_SIZE, ksm_burst_min_gain, 0, 1ull << 40),
	NUM("ksm_burst_interval", T_TIME_MS, ksm_burst_interval_ms, SEC, 24 * HOUR),
	NUM("ksm_burst_timeout", T_TIME_MS, ksm_burst_timeout_ms, SEC, HOUR),
	NUM("ksm_burst_pages_to_scan", T_UINT, ksm_burst_pages_to_scan, 1, 1000000),
	NUM("ksm_burst_sleep", T_TIME_MS, ksm_burst_sleep_ms, 1, 10 * SEC),
};

#define N_KEYS	(sizeof(keys) / sizeof(keys[0]))

static const char *const log_names[] = {
	[VHD_LOG_AUTO] = "auto", [VHD_LOG_STDERR] = "stderr", [VHD_LOG_SYSLOG] = "syslog",
};
static const char *const ksm_names[] = { [VHD_KSM_AUTO] = "auto", [VHD_KSM_OFF] = "off" };

void vhd_conf_defaults(struct vhd_conf *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->uri, "qemu:///system");
	strcpy(c->socket_path, "/run/vmhint/vmhintd.sock");
	strcpy(c->pidfile, "/run/vmhint/vmhintd.pid");
	strcpy(c->state_dir, "/var/lib/vmhint");
	c->log = VHD_LOG_AUTO;
	c->log_level = LOG_INFO;
	c->poll_interval_ms = 5 * SEC;
	c->qmp_timeout_ms = 5 * SEC;
	c->keepalive_interval = 5;
	c->keepalive_count = 5;
	c->reconnect_max_ms = 30 * SEC;
	c->ksm = VHD_KSM_AUTO;
	c->ksm_burst_min_gain = 64ull << 20;
	c->ksm_burst_interval_ms = 60 * SEC;
	c->ksm_burst_timeout_ms = 60 * SEC;
	c->ksm_burst_pages_to_scan = 8192;
	c->ksm_burst_sleep_ms = 10;
}

/* --- errors --- */

struct where {
	const char *name;
	unsigned int line;
	char *err;
	size_t errsz;
};

static int fail(const struct where *w, const char *f, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(const struct where *w, const char *f, ...)
{
	va_list ap;
	int n;

	if (!w->err || !w->errsz)
		return -1;
	n = snprintf(w->err, w->errsz, "%s:%u: ", w->name, w->line);
	if (n >= 0 && (size_t)n < w->errsz) {
		va_start(ap, f);
		vsnprintf(w->err + n, w->errsz - (size_t)n, f, ap);
		va_end(ap);
	}
	return -1;
}

/* A value as errors quote it: bounded, printable ASCII only. */
static const char *shown(const char *s, char *buf, size_t size)
{
	size_t i, n = 0;

	for (i = 0; s[i] && n + 4 < size && i < SHOWN; i++)
		buf[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] && n + 4 <= size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* --- values --- */

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int printable(const char *s, int blanks_ok)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || (!blanks_ok && is_blank(*s)))
			return 0;
	return 1;
}

/* Decimal digits, no sign, no blanks, below 2^64. */
static int number(const char **s, uint64_t *v)
{
	uint64_t n = 0;

	if (**s < '0' || **s > '9')
		return -1;
	for (; **s >= '0' && **s <= '9'; (*s)++) {
		if (n > (UINT64_MAX - (uint64_t)(**s - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(**s - '0');
	}
	*v = n;
	return 0;
}

/* Saturating: a product past 2^64 is out of every range anyway. */
static uint64_t mul(uint64_t v, uint64_t by)
{
	return v > UINT64_MAX / by ? UINT64_MAX : v * by;
}

/* A time in ms: 0 or -1 (bad number or unit: *bad_unit says which). */
static int parse_time(const char *s, uint64_t *ms, int *bad_unit)
{
	static const struct { const char *u; uint64_t ms; } units[] = {
		{ "", SEC }, { "ms", 1 }, { "s", SEC }, { "min", MIN }, { "h", HOUR },
	};
	unsigned int i;
	uint64_t v;

	*bad_unit = 0;
	if (number(&s, &v))
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(s, units[i].u))
			return *ms = mul(v, units[i].ms), 0;
	*bad_unit = 1;
	return -1;
}

static int parse_size(const char *s, uint64_t *bytes, int *bad_unit)
{
	static const struct { const char *u; unsigned int shift; } units[] = {
		{ "", 0 }, { "K", 10 }, { "M", 20 }, { "G", 30 },
	};
	unsigned int i;
	uint64_t v;

	*bad_unit = 0;
	if (number(&s, &v))
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(s, units[i].u))
			return *bytes = mul(v, 1ull << units[i].shift), 0;
	*bad_unit = 1;
	return -1;
}

static int enum_value(const char *s, const char *const *names, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -1;
}

/* A group name as useradd takes them ([a-z_][a-z0-9_-]*$?, 32 bytes), or a
 * GID. The daemon looks it up: here only its shape. */
static int group_ok(const char *s)
{
	size_t i;

	if (!*s)
		return 1;
	if (strspn(s, "0123456789") == strlen(s))
		return strlen(s) <= 10;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return 0;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' ||
		      s[i] == '.' || (s[i] == '$' && !s[i + 1])))
			return 0;
	return i <= 32;
}

static int uri_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

	return n && s[n] == ':' && printable(s, 0);
}

static void store_num(void *field, size_t size, uint64_t v)
{
	if (size == sizeof(uint64_t))
		*(uint64_t *)field = v;
	else
		*(uint32_t *)field = (uint32_t)v;
}

static void time_text(uint64_t ms, char *buf, size_t size)
{
	if (ms && ms % HOUR == 0)
		snprintf(buf, size, "%" PRIu64 "h", ms / HOUR);
	else if (ms && ms % MIN == 0)
		snprintf(buf, size, "%" PRIu64 "min", ms / MIN);
	else if (ms % SEC == 0)
		snprintf(buf, size, "%" PRIu64 "s", ms / SEC);
	else
		snprintf(buf, size, "%" PRIu64 "ms", ms);
}

static void size_text(uint64_t b, char *buf, size_t size)
{
	static const char units[] = "GMK";
	unsigned int i;

	for (i = 0; i < 3; i++) {
		uint64_t u = 1ull << (10 * (3 - i));

		if (b && b % u == 0) {
			snprintf(buf, size, "%" PRIu64 "%c", b / u, units[i]);
			return;
		}
	}
	snprintf(buf, size, "%" PRIu64, b);
}

/* The range of @k in the file's terms, for errors. */
static void range_text(const struct key *k, char *buf, size_t size)
{
	char lo[32], hi[32];

	switch (k->type) {
	case T_TIME_MS:
		time_text(k->min, lo, sizeof(lo));
		time_text(k->max, hi, sizeof(hi));
		break;
	case T_SIZE:
		size_text(k->min, lo, sizeof(lo));
		size_text(k->max, hi, sizeof(hi));
		break;
	case T_SECONDS:
		snprintf(lo, sizeof(lo), "%" PRIu64 "s", k->min);
		snprintf(hi, sizeof(hi), "%" PRIu64 "s", k->max);
		break;
	default:
		snprintf(lo, sizeof(lo), "%" PRIu64, k->min);
		snprintf(hi, sizeof(hi), "%" PRIu64, k->max);
	}
	snprintf(buf, size, "%s to %s", lo, hi);
}

static int set_number(const struct key *k, struct vhd_conf *c, const char *v,
		      const struct where *w)
{
	char b[SHOWN + 8], range[80];
	int bad_unit = 0, r;
	uint64_t n;

	switch (k->type) {
	case T_TIME_MS:
	case T_SECONDS:
		r = parse_time(v, &n, &bad_unit);
		if (!r && k->type == T_SECONDS) {
			if (n % SEC)
				return fail(w, "%s: '%s' is not a whole number of seconds",
					    k->name, shown(v, b, sizeof(b)));
			n /= SEC;
		}
		break;
	case T_SIZE:
		r = parse_size(v, &n, &bad_unit);
		break;
	default: {
		const char *e = v;

		r = number(&e, &n) || *e ? -1 : 0;
	}
	}
	if (r && bad_unit)
		return fail(w, "%s: bad unit in '%s' (%s)", k->name, shown(v, b, sizeof(b)),
			    k->type == T_SIZE ? "K, M, G or none for bytes" :
			    "ms, s, min, h or none for seconds");
	if (r)
		return fail(w, "%s: '%s' is not a number", k->name, shown(v, b, sizeof(b)));
	if (n < k->min || n > k->max) {
		range_text(k, range, sizeof(range));
		return fail(w, "%s: '%s' is out of range (%s)", k->name,
			    shown(v, b, sizeof(b)), range);
	}
	store_num((char *)c + k->off, k->size, n);
	return 0;
}

static int set_string(const struct key *k, struct vhd_conf *c, const char *v,
		      const struct where *w)
{
	char b[SHOWN + 8];
	size_t len = strlen(v), max = k->size - 1;

	switch (k->type) {
	case T_URI:
		if (!uri_ok(v))
			return fail(w, "%s: '%s' is not a libvirt URI (like qemu:///system)",
				    k->name, shown(v, b, sizeof(b)));
		break;
	case T_GROUP:
		if (!group_ok(v))
			return fail(w, "%s: '%s' is not a group name or GID", k->name,
				    shown(v, b, sizeof(b)));
		break;
	default:	/* the paths */
		if (v[0] != '/' || !printable(v, 1))
			return fail(w, "%s: '%s' is not a printable absolute path", k->name,
				    shown(v, b, sizeof(b)));
		if (k->type == T_SOCKET && len > sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
			return fail(w, "%s: the path is %zu bytes long, a unix socket's "
				    "at most %zu (sun_path)", k->name, len,
				    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	}
	if (len > max)
		return fail(w, "%s: the value is %zu bytes long, at most %zu", k->name, len, max);
	memcpy((char *)c + k->off, v, len + 1);
	return 0;
}

static int set_value(const struct key *k, struct vhd_conf *c, const char *v,
		     const struct where *w)
{
	char b[SHOWN + 8];
	int i;

	if (!*v && k->type != T_GROUP)
		return fail(w, "%s: empty value", k->name);
	switch (k->type) {
	case T_LOG:
		i = enum_value(v, log_names, 3);
		if (i < 0)
			return fail(w, "log: '%s' is not auto, stderr or syslog",
				    shown(v, b, sizeof(b)));
		c->log = (enum vhd_log_target)i;
		return 0;
	case T_KSM:
		i = enum_value(v, ksm_names, 2);
		if (i < 0)
			return fail(w, "ksm: '%s' is not auto or off", shown(v, b, sizeof(b)));
		c->ksm = (enum vhd_ksm_mode)i;
		return 0;
	case T_LEVEL:
		i = vhd_log_level_from_name(v);
		if (i < 0)
			return fail(w, "log_level: '%s' is not err, warning, notice, info "
				    "or debug", shown(v, b, sizeof(b)));
		c->log_level = i;
		return 0;
	case T_TIME_MS:
	case T_SECONDS:
	case T_UINT:
	case T_SIZE:
		return set_number(k, c, v, w);
	default:
		return set_string(k, c, v, w);
	}
}

/* --- lines --- */

static char *trim(char *s)
{
	char *e;

	while (is_blank(*s))
		s++;
	for (e = s + strlen(s); e > s && (is_blank(e[-1]) || e[-1] == '\r'); e--)
		;
	*e = '\0';
	return s;
}

/* Cut a comment: '#' at the start or after a blank. */
static void cut_comment(char *s)
{
	char *p;

	for (p = s; *p; p++)
		if (*p == '#' && (p == s || is_blank(p[-1]))) {
			*p = '\0';
			return;
		}
}

static int parse_line(struct vhd_conf *c, char *line, const struct where *w)
{
	char b[SHOWN + 8], *eq, *key, *val;
	unsigned int i;

	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t' && line[i] != '\r')
			return fail(w, "control character %#x", (unsigned int)line[i]);
	cut_comment(line);
	key = trim(line);
	if (!*key)
		return 0;
	eq = strchr(key, '=');
	if (!eq)
		return fail(w, "expected 'key = value', got '%s'", shown(key, b, sizeof(b)));
	*eq = '\0';
	val = trim(eq + 1);
	key = trim(key);
	for (i = 0; i < N_KEYS; i++)
		if (!strcmp(key, keys[i].name))
			return set_value(&keys[i], c, val, w);
	if (!*key)
		return fail(w, "no key before '='");
	return fail(w, "unknown key '%s'", shown(key, b, sizeof(b)));
}

int vhd_conf_parse(struct vhd_conf *c, const char *name, const char *text,
		   size_t len, char *err, size_t errsz)
{
	struct where w = { name ? name : "(config)", 0, err, errsz };
	char line[LINE_MAX_BYTES + 1];
	struct vhd_conf tmp = *c;
	size_t pos = 0, n;
	const char *nl;

	while (pos < len) {
		w.line++;
		nl = memchr(text + pos, '\n', len - pos);
		n = (nl ? (size_t)(nl - text) : len) - pos;
		if (n > LINE_MAX_BYTES)
			return fail(&w, "line longer than %d bytes", LINE_MAX_BYTES);
		if (memchr(text + pos, '\0', n))
			return fail(&w, "NUL byte in the line");
		memcpy(line, text + pos, n);
		line[n] = '\0';
		if (parse_line(&tmp, line, &w))
			return -1;
		pos += n + (nl != NULL);
	}
	/* All or nothing, though conf.h allows less: a SIGHUP with a bad
	 * file then keeps the running settings whatever the caller does. */
	*c = tmp;
	return 0;
}

int vhd_conf_load(struct vhd_conf *c, const char *path, bool must_exist,
		  char *err, size_t errsz)
{
	struct stat st;
	char *buf;
	ssize_t r;
	size_t len = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	buf = malloc(FILE_MAX_BYTES + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errsz, "%s: out of memory", path);
		return -1;
	}
	/* Read up to one byte more than allowed: a file that grew is caught. */
	while ((r = read(fd, buf + len, FILE_MAX_BYTES + 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	if (r < 0 || len > FILE_MAX_BYTES) {
		snprintf(err, errsz, "%s: %s", path, r < 0 ? strerror(errno) : "larger than 1 MiB");
		free(buf);
		return -1;
	}
	ret = vhd_conf_parse(c, path, buf, len, err, errsz);
	free(buf);
	return ret;
}

static uint64_t num_of(const struct vhd_conf *c, const struct key *k)
{
	const char *field = (const char *)c + k->off;
	uint64_t v64;
	uint32_t v32;

	if (k->size == sizeof(v64)) {
		memcpy(&v64, field, sizeof(v64));
		return v64;
	}
	memcpy(&v32, field, sizeof(v32));
	return v32;
}

void vhd_conf_print(const struct vhd_conf *c, FILE *f)
{
	const char *base = (const char *)c;
	unsigned int i;
	char buf[64];

	for (i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];

		switch (k->type) {
		case T_LOG:
			fprintf(f, "%s = %s\n", k->name, (unsigned int)c->log < 3 ?
				log_names[c->log] : "unknown");
			continue;
		case T_KSM:
			fprintf(f, "%s = %s\n", k->name, (unsigned int)c->ksm < 2 ?
				ksm_names[c->ksm] : "unknown");
			continue;
		case T_LEVEL:
			fprintf(f, "%s = %s\n", k->name, vhd_log_level_name(c->log_level));
			continue;
		case T_TIME_MS:
			time_text(num_of(c, k), buf, sizeof(buf));
			break;
		case T_SECONDS:
		case T_UINT:
			snprintf(buf, sizeof(buf), "%" PRIu64, num_of(c, k));
			break;
		case T_SIZE:
			size_text(num_of(c, k), buf, sizeof(buf));
			break;
		default:
			fprintf(f, "%s =%s%.*s\n", k->name, base[k->off] ? " " : "",
				(int)k->size, base + k->off);
			continue;
		}
		fprintf(f, "%s = %s\n", k->name, buf);
	}
}
