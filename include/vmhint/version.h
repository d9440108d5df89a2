/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmhint/version.h - the version of libvmhint this header belongs to, and
 * the one place the version is written: configure.ac reads it from here,
 * and a test checks that the symbol map, vmhint.pc and the manuals agree.
 * vmhint_version() says which library runs.
 */
#ifndef VMHINT_VERSION_H
#define VMHINT_VERSION_H

#define VMHINT_VERSION_MAJOR 0
#define VMHINT_VERSION_MINOR 2
#define VMHINT_VERSION_MICRO 0
#define VMHINT_VERSION "0.2.0"

/* True if this header is at least version major.minor.micro. */
#define VMHINT_CHECK_VERSION(major, minor, micro)				\
	(VMHINT_VERSION_MAJOR > (major) ||					\
	 (VMHINT_VERSION_MAJOR == (major) && VMHINT_VERSION_MINOR > (minor)) ||	\
	 (VMHINT_VERSION_MAJOR == (major) && VMHINT_VERSION_MINOR == (minor) &&	\
	  VMHINT_VERSION_MICRO >= (micro)))

#endif /* VMHINT_VERSION_H */
