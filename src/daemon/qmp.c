// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The asynchronous QMP client (qmp.h). Everything runs on libvirt's event
 * loop: one fd watch and one timer per connection, a bounded input buffer
 * cut into lines, an output buffer written when the socket takes it.
 *
 * Calls carry an integer "id"; QEMU echoes it, so a reply is matched by
 * id, never by position. The timer watches the oldest pending call (QEMU
 * answers a monitor's commands one after the other, so if the oldest one
 * is late, all are).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "qmp.h"
#include "util.h"

/* No reply of QEMU's comes near this (query-vmhint is a few KiB). */
#define QMP_MAX_LINE	(1u << 20)
#define QMP_MAX_OUT	(1u << 20)	/* queued output, same bound */
#define QMP_JSON_DEPTH	64

enum qmp_state { Q_CLOSED, Q_GREETING, Q_CAPS, Q_READY };

struct qmp_call {
	struct qmp_call *next;
	uint64_t id;
	char cmd[48];			/* for the log */
	long long deadline;		/* vhd_now_ms() */
	vhd_qmp_cb cb;
	void *opaque;
};

struct vhd_qmp {
	char path[108];
	uint32_t timeout_ms;
	const struct vhd_qmp_ops *ops;
	void *opaque;

	enum qmp_state state;
	int fd;
	int watch;
	int timer;
	long long greet_deadline;
	pid_t pid;
	unsigned int errors;

	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off;

	struct qmp_call *head, *tail;
	uint64_t next_id;

	int busy;			/* callbacks running */
	bool dead;			/* vhd_qmp_free() called meanwhile */
};

static void qmp_arm_timer(struct vhd_qmp *q);
static void qmp_timeout(int timer, void *opaque);

struct vhd_qmp *vhd_qmp_new(const char *path, uint32_t timeout_ms,
			    const struct vhd_qmp_ops *ops, void *opaque)
{
	struct vhd_qmp *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	snprintf(q->path, sizeof(q->path), "%s", path);
	q->timeout_ms = timeout_ms;
	q->ops = ops;
	q->opaque = opaque;
	q->fd = -1;
	q->watch = -1;
	q->next_id = 1;
	q->timer = virEventAddTimeout(-1, qmp_timeout, q, NULL);
	if (q->timer < 0) {
		free(q);
		return NULL;
	}
	return q;
}

/* --- closing ------------------------------------------------------------ */

/*
 * Every pending call gets its error, once, oldest first. Its desc reaches
 * vmhintctl as it is, so it says what happened to the request, then why.
 */
static void qmp_fail_calls(struct vhd_qmp *q, const char *why)
{
	struct qmp_call *c;
	char desc[320];

	snprintf(desc, sizeof(desc), "QEMU did not answer: its QMP connection "
		 "closed (%s)", why);

	while ((c = q->head)) {
		q->head = c->next;
		if (!q->head)
			q->tail = NULL;
		q->busy++;
		c->cb(q, NULL, VHD_QMP_ENOTCONN, desc, c->opaque);
		q->busy--;
		free(c);
	}
}

static void qmp_shut(struct vhd_qmp *q, const char *why)
{
	if (q->watch >= 0)
		virEventRemoveHandle(q->watch);
	if (q->fd >= 0)
		close(q->fd);
	q->watch = -1;
	q->fd = -1;
	q->state = Q_CLOSED;
	q->pid = 0;
	free(q->in);
	free(q->out);
	q->in = q->out = NULL;
	q->in_len = q->in_cap = q->out_len = q->out_off = 0;
	if (q->timer >= 0)
		virEventUpdateTimeout(q->timer, -1);
	qmp_fail_calls(q, why);
}

static void qmp_really_free(struct vhd_qmp *q)
{
	if (q->timer >= 0)
		virEventRemoveTimeout(q->timer);
	free(q);
}

void vhd_qmp_free(struct vhd_qmp *q)
{
	if (!q || q->dead)
		return;
	q->dead = true;
	q->busy++;
	qmp_shut(q, "the domain stopped, or vmhintd no longer manages it");
	if (!--q->busy)
		qmp_really_free(q);
}

static bool qmp_leave(struct vhd_qmp *q);

void vhd_qmp_close(struct vhd_qmp *q, const char *why)
{
	if (q->state == Q_CLOSED || q->dead)
		return;
	vhd_debug("qmp %s: closing: %s", q->path, why);
	q->busy++;
	qmp_shut(q, why);
	if (q->ops->closed && !q->dead)
		q->ops->closed(q, why, q->opaque);
	qmp_leave(q);
}

/* QEMU's fault: counted, logged by the caller of closed(). */
static void qmp_fault(struct vhd_qmp *q, const char *why)
{
	q->errors++;
	vhd_qmp_close(q, why);
}

/* After a callback: free if it was freed meanwhile. True if @q is gone. */
static bool qmp_leave(struct vhd_qmp *q)
{
	if (--q->busy || !q->dead)
		return q->dead;
	qmp_really_free(q);
	return true;
}

/* --- output ------------------------------------------------------------- */

static int qmp_queue(struct vhd_qmp *q, json_object *msg)
{
	size_t len;
	const char *s = json_object_to_json_string_length(msg,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	char *n;

	if (!s || q->out_len + len + 1 > QMP_MAX_OUT)
		return -ENOMEM;
	n = realloc(q->out, q->out_len + len + 1);
	if (!n)
		return -ENOMEM;
	q->out = n;
	memcpy(q->out + q->out_len, s, len);
	q->out[q->out_len + len] = '\n';
	q->out_len += len + 1;
	virEventUpdateHandle(q->watch, VIR_EVENT_HANDLE_READABLE |
			     VIR_EVENT_HANDLE_WRITABLE);
	return 0;
}

static void qmp_write(struct vhd_qmp *q)
{
	ssize_t n;

	while (q->out_off < q->out_len) {
		n = send(q->fd, q->out + q->out_off, q->out_len - q->out_off,
			 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			qmp_fault(q, "write to QEMU failed");
			return;
		}
		q->out_off += n;
	}
	free(q->out);
	q->out = NULL;
	q->out_len = q->out_off = 0;
	virEventUpdateHandle(q->watch, VIR_EVENT_HANDLE_READABLE);
}

static int qmp_send(struct vhd_qmp *q, const char *cmd, json_object *args,
		    vhd_qmp_cb cb, void *opaque)
{
	struct qmp_call *c = calloc(1, sizeof(*c));
	json_object *msg = json_object_new_object();
	int ret;

	if (!c || !msg) {
		free(c);
		json_object_put(msg);
		json_object_put(args);
		return -ENOMEM;
	}
	c->id = q->next_id++;
	snprintf(c->cmd, sizeof(c->cmd), "%s", cmd);
	c->cb = cb;
	c->opaque = opaque;
	c->deadline = vhd_now_ms() + q->timeout_ms;
	json_object_object_add(msg, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(msg, "arguments", args);
	json_object_object_add(msg, "id", json_object_new_uint64(c->id));
	ret = qmp_queue(q, msg);
	json_object_put(msg);
	if (ret) {
		free(c);
		return ret;
	}
	if (q->tail)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
	qmp_arm_timer(q);
	return 0;
}

int vhd_qmp_call(struct vhd_qmp *q, const char *cmd, json_object *args,
		 vhd_qmp_cb cb, void *opaque)
{
	if (q->state != Q_READY || q->dead) {
		json_object_put(args);
		return -ENOTCONN;
	}
	return qmp_send(q, cmd, args, cb, opaque);
}

/* --- input -------------------------------------------------------------- */

static void qmp_caps_done(struct vhd_qmp *q, json_object *ret,
			  const char *eclass, const char *edesc, void *opaque)
{
	if (!ret) {
		/* A closing connection fails this call too: not a new fault. */
		if (strcmp(eclass, VHD_QMP_ENOTCONN))
			qmp_fault(q, "qmp_capabilities refused");
		return;
	}
	q->state = Q_READY;
	vhd_debug("qmp %s: ready (QEMU pid %d)", q->path, (int)q->pid);
	if (q->ops->ready)
		q->ops->ready(q, q->opaque);
}

static void qmp_greeting(struct vhd_qmp *q, json_object *msg)
{
	if (!json_object_object_get_ex(msg, "QMP", NULL)) {
		qmp_fault(q, "no QMP greeting");
		return;
	}
	q->state = Q_CAPS;
	if (qmp_send(q, "qmp_capabilities", NULL, qmp_caps_done, NULL))
		qmp_fault(q, "out of memory");
}

/* Unlink the pending call @idv names; NULL if none has that id. */
static struct qmp_call *qmp_take_call(struct vhd_qmp *q, json_object *idv)
{
	struct qmp_call **pp, *c, *prev = NULL;
	uint64_t id;

	if (!idv || !json_object_is_type(idv, json_type_int))
		return NULL;
	id = json_object_get_uint64(idv);
	for (pp = &q->head; (c = *pp); prev = c, pp = &c->next) {
		if (c->id != id)
			continue;
		*pp = c->next;
		if (q->tail == c)
			q->tail = prev;
		return c;
	}
	return NULL;
}

static const char *str_member(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void qmp_event(struct vhd_qmp *q, json_object *msg)
{
	const char *name = str_member(msg, "event");
	json_object *data = NULL;

	if (!name) {
		qmp_fault(q, "event without a name");
		return;
	}
	json_object_object_get_ex(msg, "data", &data);
	if (q->ops->event)
		q->ops->event(q, name, data, q->opaque);
}

static void qmp_reply(struct vhd_qmp *q, json_object *msg)
{
	json_object *idv = NULL, *ret = NULL, *err = NULL;
	struct qmp_call *c;
	const char *eclass, *edesc;

	json_object_object_get_ex(msg, "id", &idv);
	c = qmp_take_call(q, idv);
	if (!c) {
		qmp_fault(q, "reply to no call of ours");
		return;
	}
	qmp_arm_timer(q);
	if (json_object_object_get_ex(msg, "return", &ret)) {
		c->cb(q, ret, NULL, NULL, c->opaque);
	} else {
		json_object_object_get_ex(msg, "error", &err);
		eclass = err ? str_member(err, "class") : NULL;
		edesc = err ? str_member(err, "desc") : NULL;
		c->cb(q, NULL, eclass ? eclass : "GenericError",
		      edesc ? edesc : "QEMU gave an error without a description",
		      c->opaque);
	}
	free(c);
}

static void qmp_line(struct vhd_qmp *q, const char *line, size_t len)
{
	json_tokener *tok;
	json_object *msg;
	enum json_tokener_error jerr;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return;
	tok = json_tokener_new_ex(QMP_JSON_DEPTH);
	if (!tok) {
		qmp_fault(q, "out of memory");
		return;
	}
	msg = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	/* One whole object per line: trailing bytes are as bad as none. */
	if (msg && (jerr != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != len ||
		    !json_object_is_type(msg, json_type_object))) {
		json_object_put(msg);
		msg = NULL;
	}
	json_tokener_free(tok);
	if (!msg) {
		qmp_fault(q, "QEMU sent a line that is not a JSON object");
		return;
	}
	if (q->state == Q_GREETING)
		qmp_greeting(q, msg);
	else if (json_object_object_get_ex(msg, "event", NULL))
		qmp_event(q, msg);
	else if (json_object_object_get_ex(msg, "return", NULL) ||
		 json_object_object_get_ex(msg, "error", NULL))
		qmp_reply(q, msg);
	else
		qmp_fault(q, "QEMU sent neither a reply nor an event");
	json_object_put(msg);
}

/* Cut what arrived into lines; stop as soon as a callback closed @q. */
static void qmp_lines(struct vhd_qmp *q)
{
	size_t off = 0;
	char *nl;

	while (q->state != Q_CLOSED && !q->dead &&
	       (nl = memchr(q->in + off, '\n', q->in_len - off))) {
		size_t len = nl - (q->in + off);

		qmp_line(q, q->in + off, len);
		off += len + 1;
	}
	if (q->state == Q_CLOSED || q->dead)
		return;
	memmove(q->in, q->in + off, q->in_len - off);
	q->in_len -= off;
	if (q->in_len >= QMP_MAX_LINE) {
		qmp_fault(q, "QEMU sent a line longer than 1 MiB");
	} else if (!q->in_len) {
		/* Idle connections hold no buffer (a domain's share of RSS). */
		free(q->in);
		q->in = NULL;
		q->in_cap = 0;
	}
}

static void qmp_read(struct vhd_qmp *q)
{
	ssize_t n;

	if (q->in_cap - q->in_len < 4096) {
		size_t cap = q->in_cap ? q->in_cap * 2 : 8192;
		char *b;

		if (cap > QMP_MAX_LINE + 8192)
			cap = QMP_MAX_LINE + 8192;
		b = realloc(q->in, cap);
		if (!b) {
			qmp_fault(q, "out of memory");
			return;
		}
		q->in = b;
		q->in_cap = cap;
	}
	n = recv(q->fd, q->in + q->in_len, q->in_cap - q->in_len, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		char why[128];

		/* ECONNRESET: QEMU was killed with our call unread. */
		snprintf(why, sizeof(why), "%s%s", n ? "read from QEMU failed: " :
			 "QEMU hung up", n ? strerror(errno) : "");
		qmp_fault(q, why);
		return;
	}
	q->in_len += n;
	qmp_lines(q);
}

static void qmp_io(int watch, int fd, int events, void *opaque)
{
	struct vhd_qmp *q = opaque;

	q->busy++;
	/* Reading first: a hang-up is reported as one, not as a failed
	 * write of what was still queued. */
	if (events & (VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_HANGUP |
		      VIR_EVENT_HANDLE_ERROR))
		qmp_read(q);
	if (q->state != Q_CLOSED && !q->dead &&
	    (events & VIR_EVENT_HANDLE_WRITABLE))
		qmp_write(q);
	qmp_leave(q);
}

/* --- timeouts ----------------------------------------------------------- */

static long long qmp_deadline(const struct vhd_qmp *q)
{
	if (q->state == Q_GREETING)
		return q->greet_deadline;
	return q->head ? q->head->deadline : -1;
}

static void qmp_arm_timer(struct vhd_qmp *q)
{
	long long d = qmp_deadline(q), left;

	if (q->timer < 0)
		return;
	if (d < 0) {
		virEventUpdateTimeout(q->timer, -1);
		return;
	}
	left = d - vhd_now_ms();
	virEventUpdateTimeout(q->timer, left > 0 ? (int)left : 0);
}

static void qmp_timeout(int timer, void *opaque)
{
	struct vhd_qmp *q = opaque;
	long long d = qmp_deadline(q);
	char why[128];

	if (d < 0 || d > vhd_now_ms()) {
		qmp_arm_timer(q);
		return;
	}
	if (q->state == Q_GREETING)
		snprintf(why, sizeof(why), "no QMP greeting in %u ms (another "
			 "client on the socket?)", q->timeout_ms);
	else
		snprintf(why, sizeof(why), "no answer to %s in %u ms",
			 q->head->cmd, q->timeout_ms);
	q->busy++;
	qmp_fault(q, why);
	qmp_leave(q);
}

/* --- connecting --------------------------------------------------------- */

static pid_t peer_pid(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len))
		return 0;
	return cr.pid;
}

int vhd_qmp_connect(struct vhd_qmp *q)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (q->state != Q_CLOSED || q->dead)
		return -EISCONN;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", q->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A unix socket connects at once or not at all (EAGAIN: backlog
	 * full, as good as refused for a retry later). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	q->watch = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, qmp_io, q,
				     NULL);
	if (q->watch < 0) {
		close(fd);
		return -ENOMEM;
	}
	q->fd = fd;
	q->pid = peer_pid(fd);
	q->state = Q_GREETING;
	q->greet_deadline = vhd_now_ms() + q->timeout_ms;
	qmp_arm_timer(q);
	return 0;
}

bool vhd_qmp_is_ready(const struct vhd_qmp *q)
{
	return q && q->state == Q_READY && !q->dead;
}

pid_t vhd_qmp_pid(const struct vhd_qmp *q)
{
	return q && q->state != Q_CLOSED ? q->pid : 0;
}

const char *vhd_qmp_path(const struct vhd_qmp *q)
{
	return q->path;
}

unsigned int vhd_qmp_errors(const struct vhd_qmp *q)
{
	return q->errors;
}
