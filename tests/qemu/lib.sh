# SPDX-License-Identifier: GPL-2.0-or-later
# tests/qemu/lib.sh - what every patched-QEMU test needs: sourced, not run.
# Sets $top, $qemu (VMHINT_QEMU, else what scripts/build-qemu prints),
# LD_LIBRARY_PATH for libvmhint (VMHINT_LIBDIR, else this tree's
# src/lib/.libs if built, else the copy QEMU was linked against),
# $virtio_id (from include/vmhint/wire.h), $tmp (removed on exit) and
# PYTHONPATH for tests/qemu/qmptest.py;
# skips (exit 77) without python3 or SeaBIOS.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

skip() { echo "SKIP: $*"; exit 77; }

command -v python3 >/dev/null || skip "python3 is not installed"
[ -r /usr/share/seabios/bios-256k.bin ] || skip "no SeaBIOS (apt-get install seabios)"

qemu=${VMHINT_QEMU:-}
if [ -z "$qemu" ]; then
	qemu=$("$top/scripts/build-qemu") || { echo "FAIL: scripts/build-qemu failed"; exit 1; }
fi
[ -x "$qemu" ] || { echo "FAIL: no QEMU binary at '$qemu'"; exit 1; }

libdir=${VMHINT_LIBDIR:-}
if [ -z "$libdir" ] && [ -e "$top/src/lib/.libs/libvmhint.so.0" ]; then
	libdir=$top/src/lib/.libs
fi
if [ -n "$libdir" ]; then
	export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
echo "qemu: $qemu"
echo "libvmhint: ${libdir:-the copy QEMU was built with (RUNPATH)}"

virtio_id=$(sed -n 's/^#define VMHINT_VIRTIO_ID[[:space:]]*\([0-9]*\).*/\1/p' \
	"$top/include/vmhint/wire.h")
[ -n "$virtio_id" ] || { echo "FAIL: no VMHINT_VIRTIO_ID in include/vmhint/wire.h"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The Python parts import tests/qemu/qmptest.py.
export PYTHONPATH=$top/tests/qemu${PYTHONPATH:+:$PYTHONPATH}
