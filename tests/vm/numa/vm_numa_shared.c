// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vm_numa_shared - pages that a second process maps too are reported as
 * "shared" and stay under the default MPOL_MF_MOVE, and move under
 * VMHINT_NUMA_MOVE_ALL (we run as root: CAP_SYS_NICE). Two ways to share:
 * a MAP_SHARED memfd that a child maps and touches, and private anonymous
 * memory inherited over fork() (copy-on-write, not yet written).
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define LEN (4 * MiB)
#define NP (LEN / PAGE)

/* A child that reads every page (so it maps them) and waits to be killed. */
static pid_t sharer(const struct tmem *m)
{
	int p[2];
	pid_t pid;
	char c;

	CHECK(pipe(p) == 0, "pipe");
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		volatile uint8_t sum = 0;

		for (size_t off = 0; off < m->len; off += PAGE)
			sum += m->hva[off];
		(void)sum;
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CHECK(read(p[0], &c, 1) == 1, "child did not start");
	close(p[0]);
	close(p[1]);
	return pid;
}

static void one_kind(enum tmem_kind kind)
{
	struct vmhint_numa_move_opts o = { .size = sizeof(o), .target_node = 1 };
	struct vmhint_numa_result r = { .size = sizeof(r) };
	struct tmem m = tmem_map(kind, LEN);
	struct vmhint_ctx *ctx = ctx_make_nolimit(VMHINT_MODE_SYNC, 0);
	pid_t child;

	CHECK_EQ(tmem_register(ctx, &m, GPA0, NULL), 0);
	pattern_fill(m.hva, LEN, 3);
	child = sharer(&m);

	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), 0);
	print_numa_result(tmem_kind_name(kind), &r);
	CHECK_EQ(r.pages[VMHINT_NUMA_SHARED], NP);
	CHECK_EQ(r.retries, 0); /* permanent: never retried */
	expect_node(m.hva, LEN, 0, "shared, MOVE");

	o.flags = VMHINT_NUMA_MOVE_ALL;
	CHECK_EQ(vmhint_numa_move(ctx, GPA0, LEN, &o, &r), NP);
	print_numa_result(tmem_kind_name(kind), &r);
	CHECK_EQ(r.pages[VMHINT_NUMA_MOVED], NP);
	expect_node(m.hva, LEN, 1, "shared, MOVE_ALL");
	CHECK(pattern_first_bad(m.hva, LEN, 3) == -1, "contents changed");

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	vmhint_ctx_free(ctx);
	munmap(m.hva, LEN);
}

int main(void)
{
	need_two_nodes();
	one_kind(TMEM_MEMFD);
	one_kind(TMEM_ANON_4K);
	printf("PASS\n");
	return 0;
}
