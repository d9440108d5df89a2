// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The control socket client: connect, send one request line, read one
 * reply line (bounded, with a timeout), and turn the reply into either its
 * "return" object or one printed error. What the daemon sends is not
 * trusted: its strings are printed with control characters replaced, so a
 * confused peer cannot drive the terminal.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* The request line limit of the daemon (VHD_REQ_MAX_LINE). */
#define VHC_REQUEST_MAX		4096
/* Longest daemon string we print (a desc or hint is one sentence). */
#define VHC_PRINT_MAX		1024

static void vmsg(const char *pfx, const char *fmt, va_list ap)
{
	fputs(pfx, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void vhc_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("error: ", fmt, ap);
	va_end(ap);
}

void vhc_hint(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("hint: ", fmt, ap);
	va_end(ap);
}

const char *vhc_socket_path(const char *opt)
{
	const char *env = getenv(VHC_SOCKET_ENV);

	if (opt)
		return opt;
	return env && *env ? env : VHC_SOCKET_DEFAULT;
}

void vhc_attach(struct vhc_client *c, int fd, const char *path)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->path = path;
	c->next_id = 1;
}

int vhc_connect(struct vhc_client *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int e;

	vhc_attach(c, -1, path);
	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		vhc_err("invalid socket path '%s' (%zu bytes at most)", path,
			sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		vhc_err("cannot create a socket: %s", strerror(errno));
		return -1;
	}
	if (!connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return 0;
	e = errno;
	vhc_err("cannot connect to vmhintd at %s: %s", path, strerror(e));
	if (e == ENOENT || e == ECONNREFUSED)
		vhc_hint("start it: vmhintd -d (or: systemctl start vmhintd)");
	else if (e == EACCES || e == EPERM)
		vhc_hint("the socket is root's; vmhintd.conf's socket_group lets a group use it");
	close(c->fd);
	c->fd = -1;
	return -1;
}

void vhc_close(struct vhc_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

/* @s as printable text: control characters become '?', long ones are cut. */
static const char *clean(const char *s, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < outsz; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	out[i] = '\0';
	return out;
}

static int send_all(struct vhc_client *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			vhc_err("cannot send to vmhintd at %s: %s", c->path, strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the fd to be readable before the deadline; 0 or -1 (printed). */
static int wait_readable(struct vhc_client *c, long long deadline)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	for (;;) {
		long long left = deadline - now_ms();
		int r;

		if (left <= 0) {
			vhc_err("vmhintd at %s did not reply within %d s", c->path,
				VHC_REPLY_TIMEOUT_MS / 1000);
			return -1;
		}
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR) {
			vhc_err("cannot read from vmhintd at %s: %s", c->path,
				strerror(errno));
			return -1;
		}
		/* EINTR: a signal the caller handles (Ctrl-C); keep waiting. */
	}
}

/* Read one line into c->buf; return its length (newline excluded) or -1. */
static long read_line(struct vhc_client *c)
{
	long long deadline = now_ms() + VHC_REPLY_TIMEOUT_MS;

	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		ssize_t r;

		if (nl)
			return nl - c->buf;
		if (c->len >= VHC_REPLY_MAX) {
			vhc_err("vmhintd at %s sent a reply longer than %u bytes",
				c->path, VHC_REPLY_MAX);
			return -1;
		}
		if (c->cap - c->len < 65536) {
			size_t ncap = c->cap ? c->cap * 2 : 65536;
			char *nb;

			if (ncap > VHC_REPLY_MAX + 1)
				ncap = VHC_REPLY_MAX + 1;
			nb = realloc(c->buf, ncap);
			if (!nb) {
				vhc_err("out of memory");
				return -1;
			}
			c->buf = nb;
			c->cap = ncap;
		}
		if (wait_readable(c, deadline))
			return -1;
		r = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			vhc_err("cannot read from vmhintd at %s: %s", c->path,
				strerror(errno));
			return -1;
		}
		if (r == 0) {
			vhc_err(c->len ? "vmhintd at %s closed the connection in the middle of a reply"
				       : "vmhintd at %s closed the connection without a reply",
				c->path);
			return -1;
		}
		c->len += (size_t)r;
	}
}

static void print_error(struct json_object *e)
{
	struct json_object *desc = NULL, *hint = NULL;
	char buf[VHC_PRINT_MAX];

	if (json_object_is_type(e, json_type_object)) {
		json_object_object_get_ex(e, "desc", &desc);
		json_object_object_get_ex(e, "hint", &hint);
	}
	if (json_object_is_type(desc, json_type_string) &&
	    *json_object_get_string(desc))
		vhc_err("%s", clean(json_object_get_string(desc), buf, sizeof(buf)));
	else
		vhc_err("vmhintd refused the request without saying why");
	if (json_object_is_type(hint, json_type_string) &&
	    *json_object_get_string(hint))
		vhc_hint("%s", clean(json_object_get_string(hint), buf, sizeof(buf)));
}

/* The "return" of one reply line, or NULL (printed). */
static struct json_object *parse_reply(struct vhc_client *c, const char *line,
				       size_t len, long long id)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL, *ret = NULL, *m;
	enum json_tokener_error je;

	if (!tok) {
		vhc_err("out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, line, (int)len);
	je = json_tokener_get_error(tok);
	if (!o || je != json_tokener_success || json_tokener_get_parse_end(tok) != len) {
		vhc_err("vmhintd at %s sent a reply that is not JSON (%s)", c->path,
			je != json_tokener_success && je != json_tokener_continue ?
			json_tokener_error_desc(je) : "incomplete or trailing text");
		goto out;
	}
	if (!json_object_is_type(o, json_type_object)) {
		vhc_err("vmhintd at %s sent a reply that is not a JSON object", c->path);
		goto out;
	}
	if (json_object_object_get_ex(o, "id", &m) &&
	    (!json_object_is_type(m, json_type_int) || json_object_get_int64(m) != id)) {
		char shown[64];

		/* json-c leaves DEL and raw bytes of the reply unescaped. */
		vhc_err("vmhintd at %s replied to another request (id %s, not %lld)",
			c->path, clean(json_object_to_json_string(m), shown, sizeof(shown)), id);
		goto out;
	}
	if (json_object_object_get_ex(o, "error", &m)) {
		print_error(m);
		goto out;
	}
	if (!json_object_object_get_ex(o, "return", &m) ||
	    !json_object_is_type(m, json_type_object)) {
		vhc_err("vmhintd at %s sent a reply with neither a \"return\" object nor an \"error\"",
			c->path);
		goto out;
	}
	ret = json_object_get(m);
out:
	json_object_put(o);
	json_tokener_free(tok);
	return ret;
}

struct json_object *vhc_call(struct vhc_client *c, struct json_object *req)
{
	struct json_object *ret = NULL;
	long long id = c->next_id++;
	const char *s;
	size_t n;
	long l;

	if (!req) {
		vhc_err("out of memory");
		return NULL;
	}
	json_object_object_add(req, "id", json_object_new_int64(id));
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(s);
	if (n + 1 > VHC_REQUEST_MAX) {
		vhc_err("the request is longer than vmhintd takes (%d bytes)",
			VHC_REQUEST_MAX);
		goto out;
	}
	if (send_all(c, s, n) || send_all(c, "\n", 1))
		goto out;
	l = read_line(c);
	if (l < 0)
		goto out;
	n = (size_t)l;
	ret = parse_reply(c, c->buf, n && c->buf[n - 1] == '\r' ? n - 1 : n, id);
	/* Keep what follows the line (nothing, from a well-behaved daemon). */
	c->len -= n + 1;
	memmove(c->buf, c->buf + n + 1, c->len);
out:
	json_object_put(req);
	return ret;
}

struct json_object *vhc_request(const char *cmd, const char *domain)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "cmd", json_object_new_string(cmd));
	if (domain)
		json_object_object_add(o, "domain", json_object_new_string(domain));
	return o;
}
