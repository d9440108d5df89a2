// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The control socket (control.h).
 *
 * Each request gets a slot in its client's queue when it is read; its
 * reply fills the slot, maybe much later (after QEMU answered), and
 * replies leave in slot order. A client that goes away leaves its
 * unanswered slots behind as orphans: their replies are dropped when they
 * come, so nothing is ever written for (or to) a client that is gone.
 *
 * Nothing here closes a client from inside a reply callback: a failed
 * write only marks it, and its timer closes it from the event loop.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <libvirt/libvirt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "commands.h"
#include "control.h"
#include "log.h"
#include "util.h"
#include "request.h"

#define IDLE_MS		60000
#define MAX_CLIENTS	64
#define MAX_PENDING	32		/* a client's unanswered requests */
#define MAX_OUT		(4u << 20)	/* replies a client leaves unread */
#define DRAIN_MS	5000		/* a refused client's rest of input */

struct client;

struct slot {
	struct vhd_cmd_ctx ctx;		/* first: ctx -> slot */
	struct slot *next;
	struct client *c;		/* NULL: an orphan */
	json_object *reply;
};

struct client {
	struct client *next;
	int fd, watch, timer;
	uid_t uid;
	pid_t pid;
	char in[VHD_REQ_MAX_LINE];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	struct slot *head, *tail;
	unsigned int pending;
	bool closing;			/* close once the output is out */
	bool drain;			/* ...but read and drop input until EOF */
	bool shut;			/* shutdown(SHUT_WR) done */
	bool kill;			/* close now (from the timer) */
};

static struct {
	char path[108];
	int fd, watch;
	gid_t gid;
	bool has_group;
	struct client *clients;
	unsigned int nr_clients;
} s = { .fd = -1, .watch = -1 };

static void client_update(struct client *c);

/* --- output ------------------------------------------------------------- */

static int client_queue_line(struct client *c, json_object *reply)
{
	size_t len;
	const char *t = json_object_to_json_string_length(reply,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	char *n;

	if (!t || c->out_len + len + 1 > MAX_OUT)
		return -1;
	n = realloc(c->out, c->out_len + len + 1);
	if (!n)
		return -1;
	c->out = n;
	memcpy(c->out + c->out_len, t, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	return 0;
}

static int client_write(struct client *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		c->out_off += n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	return 0;
}

/* Replies that are ready, in request order, onto the output. */
static void client_flush(struct client *c)
{
	struct slot *sl;

	while ((sl = c->head) && sl->reply) {
		if (client_queue_line(c, sl->reply))
			c->kill = true;
		c->head = sl->next;
		if (!c->head)
			c->tail = NULL;
		c->pending--;
		json_object_put(sl->reply);
		free(sl);
	}
	if (client_write(c))
		c->kill = true;
	client_update(c);
}

static void slot_done(struct vhd_cmd_ctx *ctx, json_object *reply)
{
	struct slot *sl = (struct slot *)ctx;

	if (!sl->c) {
		/* Its client left: drop the reply, nobody is there. */
		json_object_put(reply);
		free(sl);
		return;
	}
	sl->reply = reply ? reply : vhd_cmd_error_reply(sl->ctx.id, "Internal",
						"out of memory", NULL);
	client_flush(sl->c);
}

/* --- clients ------------------------------------------------------------ */

static void client_close(struct client *c)
{
	struct client **pp;
	struct slot *sl, *next;

	for (pp = &s.clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	s.nr_clients--;
	for (sl = c->head; sl; sl = next) {
		next = sl->next;
		if (sl->reply) {
			json_object_put(sl->reply);
			free(sl);
		} else {
			sl->c = NULL;	/* freed when its reply comes */
		}
	}
	virEventRemoveHandle(c->watch);
	virEventRemoveTimeout(c->timer);
	close(c->fd);
	free(c->out);
	vhd_debug("control: client pid %d closed", (int)c->pid);
	free(c);
}

/* Events wanted and the timer, after anything changed. */
static void client_update(struct client *c)
{
	int ev = 0;

	if (c->closing && c->drain && !c->kill && !c->out_len && !c->head) {
		/*
		 * Closing a socket with unread input resets it, and the
		 * client might lose the error line before reading it: end
		 * our side, drop what it still sends, close on its EOF.
		 */
		if (!c->shut)
			shutdown(c->fd, SHUT_WR);
		if (!c->shut)
			virEventUpdateTimeout(c->timer, DRAIN_MS);
		c->shut = true;
		virEventUpdateHandle(c->watch, VIR_EVENT_HANDLE_READABLE);
		return;
	}
	if (c->kill || (c->closing && !c->out_len && !c->head)) {
		c->kill = true;
		virEventUpdateTimeout(c->timer, 0);
		virEventUpdateHandle(c->watch, 0);
		return;
	}
	if (!c->closing && c->pending < MAX_PENDING)
		ev |= VIR_EVENT_HANDLE_READABLE;
	if (c->out_len)
		ev |= VIR_EVENT_HANDLE_WRITABLE;
	virEventUpdateHandle(c->watch, ev);
	/* Idle: nothing pending either way for 60 s. */
	virEventUpdateTimeout(c->timer, c->head || c->out_len ? -1 : IDLE_MS);
}

static void client_timer(int timer, void *opaque)
{
	struct client *c = opaque;

	if (!c->kill)
		vhd_debug("control: client pid %d %s", (int)c->pid, c->drain ?
			  "refused, did not close" : "idle for 60 s");
	client_close(c);
}

static struct slot *client_slot(struct client *c, const char *id)
{
	struct slot *sl = calloc(1, sizeof(*sl));

	if (!sl)
		return NULL;
	sl->ctx.done = slot_done;
	snprintf(sl->ctx.id, sizeof(sl->ctx.id), "%s", id);
	sl->c = c;
	if (c->tail)
		c->tail->next = sl;
	else
		c->head = sl;
	c->tail = sl;
	c->pending++;
	return sl;
}

static void client_request(struct client *c, const char *line, size_t len)
{
	struct vhd_request r;
	char err[256];
	struct slot *sl;

	if (vhd_request_parse(line, len, &r, err, sizeof(err))) {
		sl = client_slot(c, r.id);
		if (sl)
			slot_done(&sl->ctx, vhd_cmd_error_reply(r.id, "BadRequest",
								err, NULL));
		return;
	}
	sl = client_slot(c, r.id);
	if (!sl) {
		c->kill = true;
		return;
	}
	vhd_debug("control: pid %d: %s %s", (int)c->pid,
		  vhd_request_cmd_name(r.cmd), r.domain);
	vhd_cmd_run(&sl->ctx, &r);
}

static void client_lines(struct client *c)
{
	size_t off = 0;
	char *nl;

	while (!c->kill && !c->closing && c->pending < MAX_PENDING &&
	       (nl = memchr(c->in + off, '\n', c->in_len - off))) {
		size_t len = nl - (c->in + off);

		if (len)
			client_request(c, c->in + off, len);
		off += len + 1;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	if (c->in_len == sizeof(c->in) && !memchr(c->in, '\n', c->in_len)) {
		struct slot *sl = client_slot(c, "");

		if (sl)
			slot_done(&sl->ctx, vhd_cmd_error_reply("", "BadRequest",
				"request line longer than 4096 bytes", NULL));
		c->closing = true;
		c->drain = true;
		c->in_len = 0;
	}
}

static void client_read(struct client *c)
{
	ssize_t n;

	if (c->drain) {
		n = recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			c->kill = true;
		c->in_len = 0;
		return;
	}
	if (c->in_len == sizeof(c->in))
		return;		/* full of whole lines waiting for slots */
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
		 MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF: answer what was asked, then close. */
		c->closing = true;
		if (n < 0)
			c->kill = true;
		return;
	}
	c->in_len += n;
	client_lines(c);
}

static void client_io(int watch, int fd, int events, void *opaque)
{
	struct client *c = opaque;

	if (events & VIR_EVENT_HANDLE_WRITABLE && client_write(c))
		c->kill = true;
	if (!c->kill && (!c->closing || c->drain) &&
	    (events & (VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_HANGUP |
		       VIR_EVENT_HANDLE_ERROR)))
		client_read(c);
	/* Whole lines held back by MAX_PENDING come in as slots free up. */
	if (!c->kill && !c->closing && c->pending < MAX_PENDING &&
	    memchr(c->in, '\n', c->in_len))
		client_lines(c);
	if (c->kill) {
		client_close(c);
		return;
	}
	client_update(c);
}

/* --- accepting ---------------------------------------------------------- */

static bool peer_in_group(uid_t uid, gid_t pgid)
{
	struct passwd *pw;
	gid_t groups[256];
	int n = 256, i;

	if (pgid == s.gid)
		return true;
	pw = getpwuid(uid);
	if (!pw || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (groups[i] == s.gid)
			return true;
	return false;
}

/* Refused before any slot: one error line, best effort, and close. */
static void refuse(int fd, const char *desc)
{
	json_object *r = vhd_cmd_error_reply("", "Refused", desc, NULL);
	const char *t = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE);

	if (send(fd, t, strlen(t), MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
		(void)!send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	json_object_put(r);
	close(fd);
}

static void control_accept(int watch, int lfd, int events, void *opaque)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct client *c;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len)) {
		close(fd);
		return;
	}
	if (cr.uid != 0 && !(s.has_group && peer_in_group(cr.uid, cr.gid))) {
		vhd_notice("control: refused uid %u (pid %d)", (unsigned)cr.uid,
			   (int)cr.pid);
		refuse(fd, "permission denied: vmhintd answers root and the "
		       "members of its socket_group only");
		return;
	}
	if (s.nr_clients >= MAX_CLIENTS) {
		refuse(fd, "too many vmhintd clients");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->uid = cr.uid;
	c->pid = cr.pid;
	c->watch = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, client_io,
				     c, NULL);
	c->timer = virEventAddTimeout(IDLE_MS, client_timer, c, NULL);
	if (c->watch < 0 || c->timer < 0) {
		if (c->watch >= 0)
			virEventRemoveHandle(c->watch);
		if (c->timer >= 0)
			virEventRemoveTimeout(c->timer);
		close(fd);
		free(c);
		return;
	}
	c->next = s.clients;
	s.clients = c;
	s.nr_clients++;
	vhd_debug("control: client uid %u pid %d", (unsigned)cr.uid, (int)cr.pid);
}

/* --- the socket --------------------------------------------------------- */


static int control_group(const struct vhd_conf *conf, char *err, size_t errsz)
{
	struct group *gr;

	s.has_group = conf->socket_group[0] != '\0';
	if (!s.has_group)
		return 0;
	/* A name, or a GID as vmhintd.conf(5) allows. */
	gr = getgrnam(conf->socket_group);
	if (!gr && strspn(conf->socket_group, "0123456789") == strlen(conf->socket_group))
		gr = getgrgid((gid_t)strtoul(conf->socket_group, NULL, 10));
	if (!gr) {
		snprintf(err, errsz, "socket_group %s: no such group",
			 conf->socket_group);
		return -1;
	}
	s.gid = gr->gr_gid;
	return 0;
}

int vhd_control_start(const struct vhd_conf *conf, char *err, size_t errsz)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int ret;

	if (control_group(conf, err, errsz))
		return -1;
	snprintf(s.path, sizeof(s.path), "%s", conf->socket_path);
	if (vhd_mkdir_parents(s.path)) {
		snprintf(err, errsz, "cannot create the directory of %s: %s",
			 s.path, strerror(errno));
		return -1;
	}
	s.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s.fd < 0)
		goto fail;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s.path);
	/* The pidfile lock says no other vmhintd runs: a socket there is a
	 * stale one. */
	unlink(s.path);
	/* Born 0600: never a moment when others could connect. */
	old = umask(0177);
	ret = bind(s.fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret)
		goto fail;
	if (s.has_group && (chown(s.path, 0, s.gid) || chmod(s.path, 0660)))
		goto fail;
	if (listen(s.fd, 16))
		goto fail;
	s.watch = virEventAddHandle(s.fd, VIR_EVENT_HANDLE_READABLE,
				    control_accept, NULL, NULL);
	if (s.watch < 0) {
		errno = ENOMEM;
		goto fail;
	}
	vhd_info("control socket %s (%s)", s.path,
		 s.has_group ? "0660, group" : "0600, root only");
	return 0;
fail:
	snprintf(err, errsz, "control socket %s: %s", s.path, strerror(errno));
	if (s.fd >= 0)
		close(s.fd);
	s.fd = -1;
	return -1;
}

void vhd_control_stop(void)
{
	while (s.clients)
		client_close(s.clients);
	if (s.watch >= 0)
		virEventRemoveHandle(s.watch);
	if (s.fd >= 0) {
		close(s.fd);
		unlink(s.path);
	}
	s.watch = s.fd = -1;
}
