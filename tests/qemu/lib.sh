# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# tests/qemu/lib.sh - what every patched-QEMU test needs: sourced, not run.
# Sets $top, $qemu (VMHINT_QEMU, else what scripts/build-qemu prints),
# LD_LIBRARY_PATH for libvmhint (VMHINT_LIBDIR, else this tree's
# src/lib/.libs if built, else the copy QEMU was linked against; both from
# tests/lib/qemu.sh, which the VM tests share),
# $virtio_id (from include/vmhint/wire.h), $tmp (removed on exit) and
# PYTHONPATH for tests/qemu/qmptest.py;
# skips (exit 77) without python3 or SeaBIOS.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

skip() { echo "SKIP: $*"; exit 77; }

command -v python3 >/dev/null || skip "python3 is not installed"
[ -r /usr/share/seabios/bios-256k.bin ] || skip "no SeaBIOS (apt-get install seabios)"

# shellcheck source=../lib/qemu.sh
. "$top/tests/lib/qemu.sh"
qemu=$(patched_qemu --build) || { echo "FAIL: scripts/build-qemu failed"; exit 1; }
[ -x "$qemu" ] || { echo "FAIL: no QEMU binary at '$qemu'"; exit 1; }
use_tree_libvmhint
echo "qemu: $qemu"
echo "libvmhint: ${libvmhint_dir:-the copy QEMU was built with (RUNPATH)}"

virtio_id=$(sed -n 's/^#define VMHINT_VIRTIO_ID[[:space:]]*\([0-9]*\).*/\1/p' \
	"$top/include/vmhint/wire.h")
[ -n "$virtio_id" ] || { echo "FAIL: no VMHINT_VIRTIO_ID in include/vmhint/wire.h"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The Python parts import tests/qemu/qmptest.py.
export PYTHONPATH=$top/tests/qemu${PYTHONPATH:+:$PYTHONPATH}
