/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The KSM state file, STATE_DIR/ksm-knobs.saved: the knobs as they were
 * before a burst changed them, so that a vmhintd killed mid-burst puts
 * them back when it starts again.
 *
 *	vmhint-ksm-knobs 1
 *	run 0
 *	pages_to_scan 100
 *	...
 *	end 13
 *
 * A header line with the format version, one "name value" line per knob
 * (decimal, no sign), and an "end N" line with the number of knob lines,
 * so a file cut short is never taken for a shorter list. Every line ends
 * in '\n'.
 *
 * The file is read as hostile input: anybody who could write the state
 * directory could otherwise make vmhintd write what they like into
 * /sys/kernel/mm/ksm. Only the knob names the caller lists are taken, each
 * at most once and within its range, the file is bounded in size, must be
 * a regular file of our own user not writable by others; anything else
 * makes the whole file bad (nothing of it is applied).
 *
 * This file knows nothing of libvmhint's KSM API: the caller describes
 * the knobs (names and ranges) and owns their meaning.
 */
#ifndef VHD_KSM_STATE_H
#define VHD_KSM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VHD_KSM_STATE_NAME	"ksm-knobs.saved"
#define VHD_KSM_STATE_HEADER	"vmhint-ksm-knobs"
#define VHD_KSM_STATE_VERSION	1
#define VHD_KSM_STATE_MAX_BYTES	4096	/* 13 knobs take about 300 */
#define VHD_KSM_STATE_MAX_KNOBS	32

/* One knob the file may hold: its sysfs name and the values allowed. */
struct vhd_ksm_state_spec {
	const char *name;
	uint64_t min, max;
};

/* Knob i of the caller's spec array is val[i] if bit i of present is set. */
struct vhd_ksm_state {
	uint32_t present;
	uint64_t val[VHD_KSM_STATE_MAX_KNOBS];
};

/*
 * vhd_ksm_state_format() - the file's text for @st into @buf.
 * Return: its length, or -ENOSPC if @size is too small.
 */
int vhd_ksm_state_format(const struct vhd_ksm_state_spec *spec, unsigned int nr_spec,
			 const struct vhd_ksm_state *st, char *buf, size_t size);

/*
 * vhd_ksm_state_parse() - parse @len bytes of @text (need not be
 * NUL-terminated) into *@st.
 * Return: 0, or -EBADMSG with @err saying what is wrong (line number and
 * why); *@st is then all zero.
 */
int vhd_ksm_state_parse(const struct vhd_ksm_state_spec *spec, unsigned int nr_spec,
			const char *text, size_t len, struct vhd_ksm_state *st,
			char *err, size_t errsz);

/*
 * vhd_ksm_state_write() - write @st to @path atomically: @path.tmp is
 * written, fsync()ed and renamed over @path, then the directory is
 * fsync()ed, so after a return of 0 the file survives a crash, and a
 * crash before leaves the old file (or none), never half a file. The
 * directory is created (0755) if missing.
 * Return: 0; -ERANGE if a value is outside its spec (a file we would
 * refuse to read back is never written); or -errno.
 */
int vhd_ksm_state_write(const char *path, const struct vhd_ksm_state_spec *spec,
			unsigned int nr_spec, const struct vhd_ksm_state *st);

/*
 * vhd_ksm_state_read() - read and parse @path.
 * Return: 0; -ENOENT if there is no file; -EBADMSG for a file that must
 * not be applied (@err says why: content, size, type, owner or mode);
 * another -errno if it could not be read.
 */
int vhd_ksm_state_read(const char *path, const struct vhd_ksm_state_spec *spec,
		       unsigned int nr_spec, struct vhd_ksm_state *st,
		       char *err, size_t errsz);

/* Remove @path and fsync() its directory. Return: 0 (also if it was not
 * there) or -errno. */
int vhd_ksm_state_remove(const char *path);

/* Rename a bad @path to @path.bad (replacing an older one), kept for the
 * administrator to look at. Return: 0 or -errno. */
int vhd_ksm_state_set_aside(const char *path);

#endif
