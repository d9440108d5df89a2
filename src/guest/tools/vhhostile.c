// SPDX-License-Identifier: GPL-2.0
/*
 * vhhostile - send hostile virtio-hint requests from inside a guest
 * through virtio_hint.ko's debugfs raw file (module parameter raw=1), and
 * print what the host answered. The host must answer each with an error
 * status and stay up; nothing here names guest RAM in use.
 *
 * Usage: vhhostile DEBUGFS_DIR MAX_RANGES [RAM_END | break]
 *   e.g. vhhostile /sys/kernel/debug/virtio_hint/virtio0 256 0x80000000
 * RAM_END (the end of guest RAM as the host registered it, a byte address)
 * adds requests that start inside guest RAM and end outside it: the host
 * must refuse them whole, and drop not even the part inside. That part is
 * the last 4 KiB below RAM_END, which firmware reserves (ACPI) on a PC
 * machine, so a host that got it wrong shows in its counters rather than
 * by crashing the guest.
 * Prints one line per case: "HOSTILE: <case> want=<status> <raw result>",
 * with "MISMATCH" when the status differs. Exit: 0 every request came back
 * with an error status, 1 a request failed in the guest or was accepted.
 *
 * With "break", sends one request without room for the response instead:
 * QEMU's device then needs a reset, and the driver must notice, reset it
 * and fail the request (exit 0 when the write fails that way).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct req {
	uint16_t op, flags;
	uint32_t nr;
} __attribute__((packed));

struct range {
	uint64_t gpa, len;
} __attribute__((packed));

static const char *dir;
static int failed;

static void set_in_len(unsigned int n)
{
	char path[512], s[16];
	int fd;

	snprintf(path, sizeof(path), "%s/raw_in_len", dir);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, s, snprintf(s, sizeof(s), "%u", n)) < 0) {
		perror(path);
		failed = 1;
	}
	if (fd >= 0)
		close(fd);
}

/* want < 0: any error status will do. */
static void send_case(const char *name, const void *buf, size_t len, int want)
{
	char path[512], res[128] = "";
	unsigned int status = ~0u;
	ssize_t n;
	char *s;
	int fd;

	snprintf(path, sizeof(path), "%s/raw", dir);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	n = write(fd, buf, len);
	if (n != (ssize_t)len) {
		printf("HOSTILE: %s write failed (%zd)\n", name, n);
		failed = 1;
	}
	lseek(fd, 0, SEEK_SET);
	n = read(fd, res, sizeof(res) - 1);
	close(fd);
	if (n > 0)
		res[n] = 0;
	s = strchr(res, '\n');
	if (s)
		*s = 0;
	s = strstr(res, "status=");
	if (s)
		status = strtoul(s + 7, NULL, 0);
	if (status == 0) /* accepted: a hostile request must not be */
		failed = 1;
	printf("HOSTILE: %s want=%d %s%s\n", name, want, res,
	       want >= 0 && status != (unsigned int)want ? " MISMATCH" : "");
	fflush(stdout);
}

static void *mkreq(uint16_t op, uint16_t flags, uint32_t nr,
		   unsigned int nr_ranges, size_t *len)
{
	struct req *r;

	*len = sizeof(*r) + nr_ranges * sizeof(struct range);
	r = calloc(1, *len);
	if (!r)
		exit(1);
	r->op = op; /* x86 guest: host order is little-endian */
	r->flags = flags;
	r->nr = nr;
	return r;
}

static struct range *ranges(void *r)
{
	return (struct range *)((struct req *)r + 1);
}

#define OUTSIDE (1ULL << 40) /* 1 TiB: beyond any test guest's RAM */

/* A response buffer too small for the response: the device must refuse. */
static int break_device(void)
{
	struct { struct req h; struct range r; } __attribute__((packed)) q = {
		{ 1, 0, 1 }, { OUTSIDE, 4096 } };
	char path[512];
	ssize_t n;
	int fd;

	set_in_len(4);
	snprintf(path, sizeof(path), "%s/raw", dir);
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	n = write(fd, &q, sizeof(q));
	printf("HOSTILE: short_resp_buf write=%zd (%s)\n", n,
	       n < 0 ? strerror(errno) : "accepted");
	close(fd);
	set_in_len(8);
	return n < 0 && errno == EIO ? 0 : 1;
}

int main(int argc, char **argv)
{
	unsigned long long ram_end;
	unsigned int max, i;
	char junk[65536];
	size_t len;
	void *r;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: vhhostile DEBUGFS_DIR MAX_RANGES [RAM_END | break]\n");
		return 2;
	}
	dir = argv[1];
	max = strtoul(argv[2], NULL, 0);
	if (argc == 4 && !strcmp(argv[3], "break"))
		return break_device();
	ram_end = argc == 4 ? strtoull(argv[3], NULL, 0) & ~4095ULL : 0;
	set_in_len(8);

	send_case("short", "\x01\x00\x00", 3, 1);

	r = mkreq(1, 0, 2, 1, &len);
	ranges(r)[0] = (struct range){ OUTSIDE, 4096 };
	send_case("length", r, len, 2);
	free(r);

	r = mkreq(7, 0, 1, 1, &len);
	ranges(r)[0] = (struct range){ OUTSIDE, 4096 };
	send_case("op", r, len, 3);
	free(r);

	r = mkreq(1, 0x8000, 1, 1, &len);
	ranges(r)[0] = (struct range){ OUTSIDE, 4096 };
	send_case("flags", r, len, 4);
	free(r);

	r = mkreq(1, 0, 0, 0, &len);
	send_case("no_ranges", r, len, 5);
	free(r);

	r = mkreq(1, 0, max + 1, max + 1, &len);
	for (i = 0; i <= max; i++)
		ranges(r)[i] = (struct range){ OUTSIDE + i * 8192ULL, 4096 };
	send_case("too_many", r, len, 6);
	free(r);

	r = mkreq(1, 0, 0xffffffffu, 1, &len);
	ranges(r)[0] = (struct range){ OUTSIDE, 4096 };
	send_case("nr_huge", r, len, -1);
	free(r);

	r = mkreq(1, 0, 1, 1, &len);
	ranges(r)[0] = (struct range){ OUTSIDE + 512, 4096 };
	send_case("align", r, len, 7);
	ranges(r)[0] = (struct range){ OUTSIDE, 0 };
	send_case("zero_len", r, len, 8);
	ranges(r)[0] = (struct range){ 0xfffffffffffff000ULL, 0x2000 };
	send_case("overflow", r, len, 9);
	ranges(r)[0] = (struct range){ 0, 0xfffffffffffff000ULL };
	send_case("len_huge", r, len, -1);
	ranges(r)[0] = (struct range){ OUTSIDE, 4096 };
	send_case("outside", r, len, 10);
	((struct req *)r)->op = 2;
	send_case("stable_outside", r, len, 10);

	free(r);

	if (ram_end > 4096) {
		r = mkreq(1, 0, 1, 1, &len);
		ranges(r)[0] = (struct range){ ram_end - 4096, 8192 };
		send_case("straddle_end", r, len, 10);
		free(r);
		/* One good range, one outside: all or nothing. */
		r = mkreq(1, 0, 2, 2, &len);
		ranges(r)[0] = (struct range){ ram_end - 4096, 4096 };
		ranges(r)[1] = (struct range){ ram_end, 4096 };
		send_case("good_then_outside", r, len, 10);
		free(r);
	}

	memset(junk, 0xa5, sizeof(junk));
	send_case("junk_64k", junk, sizeof(junk), -1);

	return failed;
}
