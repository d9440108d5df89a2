// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_ctl.c - libFuzzer target for vmhintctl's side of the control
 * socket: whatever a confused or hostile peer answers on vmhintd's socket.
 *
 * vmhintd's side of a socket pair holds the input's bytes (after the
 * selector) as its whole answer, then end of file. vmhintctl's own
 * command code (vhc_daemon_cmd_fd(): src/cli/commands.c, client.c,
 * progress.c) runs the command the input's first byte selects (modulo the
 * table below) over the other side, so the reply reaches the same parsing
 * and printing an operator's terminal gets. numa-move's progress
 * loop reads one reply line per status request; POLL_MS is 0 here.
 *
 * Checked after each input:
 *   - the exit status is 0 or 1;
 *   - everything printed, on stdout and stderr, is free of control
 *     characters other than newline (a reply must not drive the
 *     terminal), and a failure (1) printed an "error: " line;
 * and under ASan + UBSan, no memory error, leak or undefined behaviour.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/commands.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(real_stderr, "fuzz_ctl: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

static FILE *real_stderr;

static const char *const commands[][6] = {
	{ "list" }, { "list", "--json" },
	{ "stats", "fz" }, { "stats", "fz", "--json" },
	{ "set-mode", "fz", "lazy" }, { "dedupe", "fz", "off", "--live" },
	{ "flush", "fz" }, { "ksm", "status" }, { "ksm", "status", "--json" },
	{ "numa-move", "fz", "--node", "0" },
	{ "numa-move", "fz", "--node", "0", "--no-wait" },
};
#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	real_stderr = stderr;
	signal(SIGPIPE, SIG_IGN);	/* vmhintctl uses MSG_NOSIGNAL; be sure */
	return 0;
}

static void check_printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\n') || c == 0x7f) {
			fprintf(real_stderr, "fuzz_ctl: byte 0x%02x at %zu of:\n%.*s\n", c, i,
				(int)len, s);
			CHECK(!"a control character reached the terminal");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL, *err = NULL, *argv[7] = { 0 };
	size_t out_len = 0, err_len = 0, i;
	FILE *fout, *ferr, *saved_out = stdout, *saved_err = stderr;
	int sv[2], argc = 0, rc;

	if (size < 1)
		return 0;
	for (i = 0; i < 6 && commands[data[0] % NR_COMMANDS][i]; i++)
		argv[argc++] = (char *)commands[data[0] % NR_COMMANDS][i];
	/* vmhintd's whole answer is queued before the request is sent. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int)) == 0);
	CHECK(write(sv[1], data + 1, size - 1) == (ssize_t)(size - 1));
	CHECK(shutdown(sv[1], SHUT_WR) == 0);
	fout = open_memstream(&out, &out_len);
	ferr = open_memstream(&err, &err_len);
	CHECK(fout && ferr);
	stdout = fout;
	stderr = ferr;
	rc = vhc_daemon_cmd_fd("fuzz.sock", sv[0], argc, argv);
	stdout = saved_out;
	stderr = saved_err;
	CHECK(fclose(fout) == 0 && fclose(ferr) == 0);
	close(sv[1]);
	CHECK(rc == 0 || rc == 1);
	check_printable(out, out_len);
	check_printable(err, err_len);
	if (rc == 1)
		CHECK(err_len >= 7 && (!strncmp(err, "error: ", 7) || strstr(err, "\nerror: ")));
	free(out);
	free(err);
	return 0;
}
