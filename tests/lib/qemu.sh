# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# tests/lib/qemu.sh - which patched QEMU and which libvmhint a test runs:
# sourced by tests/qemu/lib.sh and tests/vm/lib.sh, not run.
#
#   patched_qemu [--build]  prints the patched qemu-system-x86_64:
#       $VMHINT_QEMU, else the one scripts/build-qemu built for the current
#       patches; with --build, builds it if it is not there yet (7 minutes).
#       1 (nothing printed) if there is none.
#   use_tree_libvmhint  the libvmhint QEMU loads: $VMHINT_LIBDIR if set
#       ("rpath": the copy scripts/build-qemu installed, which QEMU's RUNPATH
#       names), else this tree's src/lib/.libs when it is built, else that
#       copy. Exports LD_LIBRARY_PATH; sets $libvmhint_dir ("" for the copy).

tests_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

patched_qemu() {
	local key f
	if [ -n "${VMHINT_QEMU:-}" ]; then
		echo "$VMHINT_QEMU"
		return 0
	fi
	if [ "${1:-}" = --build ]; then
		"$tests_top/scripts/build-qemu"
		return
	fi
	key=$("$tests_top/scripts/build-qemu" --print-key 2>/dev/null) || return 1
	f=${VMHINT_CACHE:-/var/cache/vmhint}/qemu/$key/src/build/qemu-system-x86_64
	[ -x "$f" ] || return 1
	echo "$f"
}

use_tree_libvmhint() {
	libvmhint_dir=${VMHINT_LIBDIR:-}
	if [ -z "$libvmhint_dir" ] && [ -e "$tests_top/src/lib/.libs/libvmhint.so.0" ]; then
		libvmhint_dir=$tests_top/src/lib/.libs
	fi
	[ "$libvmhint_dir" = rpath ] && libvmhint_dir=
	if [ -n "$libvmhint_dir" ]; then
		export LD_LIBRARY_PATH=$libvmhint_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	fi
}
