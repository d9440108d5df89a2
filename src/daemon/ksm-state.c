// SPDX-License-Identifier: LGPL-2.1-or-later
/* The KSM state file: see ksm-state.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksm-state.h"

#define NAME_MAX_LEN 63
#define VALUE_MAX_DIGITS 20	/* UINT64_MAX has 20 */

int vhd_ksm_state_format(const struct vhd_ksm_state_spec *spec, unsigned int nr_spec,
			 const struct vhd_ksm_state *st, char *buf, size_t size)
{
	unsigned int i, n = 0;
	size_t off;
	int len;

	len = snprintf(buf, size, "%s %d\n", VHD_KSM_STATE_HEADER, VHD_KSM_STATE_VERSION);
	if (len < 0 || (size_t)len >= size)
		return -ENOSPC;
	off = (size_t)len;
	for (i = 0; i < nr_spec && i < VHD_KSM_STATE_MAX_KNOBS; i++) {
		if (!(st->present & (1u << i)))
			continue;
		len = snprintf(buf + off, size - off, "%s %" PRIu64 "\n", spec[i].name, st->val[i]);
		if (len < 0 || (size_t)len >= size - off)
			return -ENOSPC;
		off += (size_t)len;
		n++;
	}
	len = snprintf(buf + off, size - off, "end %u\n", n);
	if (len < 0 || (size_t)len >= size - off)
		return -ENOSPC;
	off += (size_t)len;
	return off > VHD_KSM_STATE_MAX_BYTES ? -ENOSPC : (int)off;
}

static int bad(char *err, size_t errsz, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad(char *err, size_t errsz, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (err && errsz) {
		if (line)
			n = snprintf(err, errsz, "line %u: ", line);
		if (n < 0 || (size_t)n >= errsz)
			n = 0;
		va_start(ap, fmt);
		vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

/* A decimal without sign, spaces or leading zeros, that fits 64 bits. */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len || len > VALUE_MAX_DIGITS || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		unsigned int d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned int)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* "NAME VALUE": NAME of [a-z_], one space, VALUE a plain decimal. */
static bool split_line(const char *line, size_t len, const char **name, size_t *name_len,
		       uint64_t *val)
{
	size_t i;

	for (i = 0; i < len && i <= NAME_MAX_LEN; i++)
		if (!((line[i] >= 'a' && line[i] <= 'z') || line[i] == '_' || line[i] == '-'))
			break;
	if (!i || i > NAME_MAX_LEN || i >= len || line[i] != ' ')
		return false;
	*name = line;
	*name_len = i;
	return parse_u64(line + i + 1, len - i - 1, val);
}

static int find_knob(const struct vhd_ksm_state_spec *spec, unsigned int nr_spec,
		     const char *name, size_t len)
{
	unsigned int i;

	for (i = 0; i < nr_spec && i < VHD_KSM_STATE_MAX_KNOBS; i++)
		if (strlen(spec[i].name) == len && !memcmp(spec[i].name, name, len))
			return (int)i;
	return -1;
}

static int parse_lines(const struct vhd_ksm_state_spec *spec, unsigned int nr_spec,
		       const char *text, size_t len, struct vhd_ksm_state *st,
		       char *err, size_t errsz)
{
	size_t off = 0, name_len;
	unsigned int lineno = 0, knobs = 0;
	const char *name;
	bool ended = false;
	uint64_t val;

	while (off < len) {
		const char *line = text + off, *nl = memchr(line, '\n', len - off);
		size_t ll;
		int k;

		lineno++;
		if (!nl)
			return bad(err, errsz, lineno, "no newline at the end (file cut short?)");
		ll = (size_t)(nl - line);
		off += ll + 1;
		if (memchr(line, '\0', ll))
			return bad(err, errsz, lineno, "NUL byte");
		if (ended)
			return bad(err, errsz, lineno, "text after the end line");
		if (!split_line(line, ll, &name, &name_len, &val))
			return bad(err, errsz, lineno, "not \"name value\" with a decimal value "
				   "of at most %d digits", VALUE_MAX_DIGITS);
		if (lineno == 1) {
			if (name_len != strlen(VHD_KSM_STATE_HEADER) ||
			    memcmp(name, VHD_KSM_STATE_HEADER, name_len))
				return bad(err, errsz, lineno, "not a vmhintd KSM state file");
			if (val != VHD_KSM_STATE_VERSION)
				return bad(err, errsz, lineno, "format version %" PRIu64
					   ", this vmhintd reads %d", val, VHD_KSM_STATE_VERSION);
			continue;
		}
		if (name_len == 3 && !memcmp(name, "end", 3)) {
			if (val != knobs)
				return bad(err, errsz, lineno, "end says %" PRIu64
					   " knobs, the file has %u", val, knobs);
			ended = true;
			continue;
		}
		k = find_knob(spec, nr_spec, name, name_len);
		if (k < 0)
			return bad(err, errsz, lineno, "unknown knob \"%.*s\"",
				   (int)name_len, name);
		if (st->present & (1u << k))
			return bad(err, errsz, lineno, "%s given twice", spec[k].name);
		if (val < spec[k].min || val > spec[k].max)
			return bad(err, errsz, lineno, "%s %" PRIu64 " is outside %" PRIu64
				   "..%" PRIu64, spec[k].name, val, spec[k].min, spec[k].max);
		st->present |= 1u << k;
		st->val[k] = val;
		knobs++;
	}
	if (!lineno)
		return bad(err, errsz, 0, "empty file");
	if (!ended)
		return bad(err, errsz, lineno, "no end line (file cut short?)");
	return 0;
}

int vhd_ksm_state_parse(const struct vhd_ksm_state_spec *spec, unsigned int nr_spec,
			const char *text, size_t len, struct vhd_ksm_state *st,
			char *err, size_t errsz)
{
	int ret;

	memset(st, 0, sizeof(*st));
	if (err && errsz)
		err[0] = '\0';
	if (len > VHD_KSM_STATE_MAX_BYTES)
		return bad(err, errsz, 0, "larger than %d bytes", VHD_KSM_STATE_MAX_BYTES);
	ret = parse_lines(spec, nr_spec, text, len, st, err, errsz);
	if (ret)
		memset(st, 0, sizeof(*st));
	return ret;
}

/* Copy of @path's directory part into @dir ("." if it has none). */
static int dir_of(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash) {
		snprintf(dir, size, ".");
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

static int fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd, ret;

	ret = dir_of(path, dir, sizeof(dir));
	if (ret)
		return ret;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = fsync(fd) ? -errno : 0;
	close(fd);
	return ret;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int ensure_dir(const char *path)
{
	char dir[PATH_MAX];
	int ret = dir_of(path, dir, sizeof(dir));

	if (ret)
		return ret;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int vhd_ksm_state_write(const char *path, const struct vhd_ksm_state_spec *spec,
			unsigned int nr_spec, const struct vhd_ksm_state *st)
{
	char buf[VHD_KSM_STATE_MAX_BYTES + 1], tmp[PATH_MAX];
	unsigned int i;
	int fd, len, ret;

	/* Never write a file we would refuse to read back. */
	for (i = 0; i < nr_spec && i < VHD_KSM_STATE_MAX_KNOBS; i++)
		if ((st->present & (1u << i)) &&
		    (st->val[i] < spec[i].min || st->val[i] > spec[i].max))
			return -ERANGE;
	len = vhd_ksm_state_format(spec, nr_spec, st, buf, sizeof(buf));
	if (len < 0)
		return len;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	ret = ensure_dir(path);
	if (ret)
		return ret;
	/* A leftover .tmp (or a symlink planted there) goes first. */
	if (unlink(tmp) && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, buf, (size_t)len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	return fsync_dir(path);
}

static int check_file(int fd, char *err, size_t errsz)
{
	struct stat sb;

	if (fstat(fd, &sb))
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return bad(err, errsz, 0, "not a regular file");
	if (sb.st_uid != geteuid())
		return bad(err, errsz, 0, "owned by uid %u, not by vmhintd (uid %u)",
			   (unsigned int)sb.st_uid, (unsigned int)geteuid());
	if (sb.st_mode & 022)
		return bad(err, errsz, 0, "writable by others (mode %04o)",
			   (unsigned int)(sb.st_mode & 07777));
	if (sb.st_size > VHD_KSM_STATE_MAX_BYTES)
		return bad(err, errsz, 0, "larger than %d bytes", VHD_KSM_STATE_MAX_BYTES);
	return 0;
}

int vhd_ksm_state_read(const char *path, const struct vhd_ksm_state_spec *spec,
		       unsigned int nr_spec, struct vhd_ksm_state *st,
		       char *err, size_t errsz)
{
	char buf[VHD_KSM_STATE_MAX_BYTES + 1];
	size_t len = 0;
	int fd, ret;

	memset(st, 0, sizeof(*st));
	if (err && errsz)
		err[0] = '\0';
	/* O_NOFOLLOW: a symlink there points at a file nobody meant for us. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			return bad(err, errsz, 0, "a symbolic link");
		return -errno;
	}
	ret = check_file(fd, err, errsz);
	/* Read one byte more than allowed: a file that grew is caught too. */
	while (!ret && len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		else if (!n)
			break;
		else
			len += (size_t)n;
	}
	close(fd);
	if (ret)
		return ret;
	return vhd_ksm_state_parse(spec, nr_spec, buf, len, st, err, errsz);
}

int vhd_ksm_state_remove(const char *path)
{
	if (unlink(path)) {
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	return fsync_dir(path);
}

int vhd_ksm_state_set_aside(const char *path)
{
	char bad_path[PATH_MAX];

	if (snprintf(bad_path, sizeof(bad_path), "%s.bad", path) >= (int)sizeof(bad_path))
		return -ENAMETOOLONG;
	if (rename(path, bad_path))
		return -errno;
	return fsync_dir(path);
}
