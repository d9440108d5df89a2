// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_qmp.c - libFuzzer target for vmhintd's QMP client (src/daemon/qmp.c)
 * on libvirt's event loop: what a domain's QEMU sends vmhintd, which runs
 * as root. A QEMU runs guest-facing code; vmhintd must not trust it.
 *
 * Per input: a real unix socket; vmhintd's client connects, the harness
 * accepts and sends the input's bytes as QEMU's whole output, then hangs
 * up. When the client is ready (greeting, qmp_capabilities answered) it
 * sends three calls, one with an argument; the event loop runs until the
 * connection is closed. Checked:
 *   - the connection ends closed, through closed() exactly once (the
 *     hang-up at the latest), and is not ready afterwards;
 *   - ready() comes at most once, and before any call's callback;
 *   - every call gets exactly one callback: a return, or an error with a
 *     class and a description;
 *   - event names are strings of the line;
 * and under ASan + UBSan, no memory error, leak or undefined behaviour.
 */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/qmp.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_qmp: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

#define NR_CALLS	3
#define MAX_ROUNDS	10000	/* event loop iterations; the hang-up ends it far sooner */

static char sock_path[108];
static int listen_fd = -1;

struct run {
	int ready, closed, answered[NR_CALLS];
	int calls_made;
};

static void call_done(struct vhd_qmp *q, json_object *ret, const char *eclass,
		      const char *edesc, void *opaque)
{
	int *answered = opaque;

	(*answered)++;
	CHECK(ret || (eclass && *eclass && edesc && *edesc));
}

static void on_ready(struct vhd_qmp *q, void *opaque)
{
	struct run *r = opaque;
	int i;

	r->ready++;
	for (i = 0; i < NR_CALLS; i++) {
		json_object *args = i == 1 ? json_object_new_object() : NULL;

		if (args)
			json_object_object_add(args, "id", json_object_new_string("vh0"));
		if (!vhd_qmp_call(q, i == 2 ? "vmhint-flush" : "query-vmhint", args,
				  call_done, &r->answered[i]))
			r->calls_made |= 1 << i;
	}
}

static void on_event(struct vhd_qmp *q, const char *name, json_object *data, void *opaque)
{
	CHECK(name != NULL);
}

static void on_closed(struct vhd_qmp *q, const char *why, void *opaque)
{
	struct run *r = opaque;

	r->closed++;
	CHECK(why && *why);
}

static void tick(int timer, void *opaque)
{
}

static const struct vhd_qmp_ops ops = {
	.ready = on_ready, .event = on_event, .closed = on_closed,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	vhd_log_open(false, LOG_EMERG);	/* quiet: the faults are the point */
	CHECK(virEventRegisterDefaultImpl() == 0);
	/*
	 * A timer due at every iteration: the loop never sleeps, and one more
	 * iteration after each input frees the handle and timer that input
	 * removed (libvirt frees them lazily), so no input looks like a leak
	 * to libFuzzer's per-input check, which would cost a heap scan.
	 */
	CHECK(virEventAddTimeout(0, tick, NULL, NULL) >= 0);
	snprintf(sock_path, sizeof(sock_path), "/tmp/vmhint-fuzz-qmp-%d.sock", (int)getpid());
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	unlink(sock_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(listen_fd >= 0);
	CHECK(bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(listen(listen_fd, 4) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { 0 };
	struct vhd_qmp *q = vhd_qmp_new(sock_path, 5000, &ops, &r);
	int s, i, rounds;

	CHECK(q);
	CHECK(vhd_qmp_connect(q) == 0);
	s = accept(listen_fd, NULL, NULL);
	CHECK(s >= 0);
	CHECK(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &(int){ 4 << 20 }, sizeof(int)) == 0);
	CHECK(size == 0 || write(s, data, size) == (ssize_t)size);
	CHECK(shutdown(s, SHUT_WR) == 0);
	for (rounds = 0; !r.closed && rounds < MAX_ROUNDS; rounds++)
		CHECK(virEventRunDefaultImpl() == 0);
	CHECK(r.closed == 1);
	CHECK(!vhd_qmp_is_ready(q) && vhd_qmp_pid(q) == 0);
	CHECK(r.ready <= 1);
	for (i = 0; i < NR_CALLS; i++)
		CHECK(r.answered[i] == !!(r.calls_made & (1 << i)));
	vhd_qmp_free(q);
	CHECK(virEventRunDefaultImpl() == 0);
	close(s);
	return 0;
}
