#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# virtio-balloon with free page reporting owns page reporting first: the
# driver must still bind, say so, fall back to the alloc method for active
# mode, hint with it, and unload cleanly.
# Env: VMHINT_QEMU as for device.sh. Exit: 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "$0")/lib.sh"
vh_need
VMHINT_QEMU=$(vh_patched_qemu) ||
	vh_skip "no patched QEMU (set VMHINT_QEMU or run scripts/build-qemu)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/init" <<'GUEST'
#!/bin/sh
. /lib/vhtest.sh
insmod /lib/modules/virtio_balloon.ko || vh_fail "insmod virtio_balloon"
insmod /lib/modules/virtio_hint.ko active=1 || vh_fail "insmod virtio_hint"
d=$(ls -d /sys/bus/virtio/drivers/virtio_hint/virtio* | head -1)
[ "$(cat $d/hint/reporting)" = 0 ] || vh_fail "reporting should be the balloon's"
[ "$(cat $d/hint/active_method)" = alloc ] || vh_fail "no alloc fallback"
echo 1 >$d/hint/hint_now; sleep 2
echo "VHTEST: active_bytes=$(cat $d/hint/active_bytes) ok=$(cat $d/hint/status_ok)"
[ "$(cat $d/hint/active_bytes)" -gt 0 ] || vh_fail "alloc method hinted nothing"
rmmod virtio_hint || vh_fail "rmmod virtio_hint"
rmmod virtio_balloon || vh_fail "rmmod virtio_balloon"
vh_done
GUEST

VH_EXTRA_MODULES=virtio_balloon vh_mkinitramfs "$work/initrd" "$work/init" ||
	{ echo "FAIL: initramfs"; exit 1; }
# init_on_alloc=0: the alloc method would make the host fault in what it drops.
VH_APPEND=init_on_alloc=0 MEM=1G
# shellcheck disable=SC2046
QEMU=$VMHINT_QEMU vh_boot "$work/initrd" "$work/log" $(vh_device_args) \
	-device virtio-balloon-pci,free-page-reporting=on
rc=$?
grep -E "VHTEST|WARNING|BUG|Call Trace" "$work/log"
if [ $rc = 0 ] && grep -q "VHTEST: PASS" "$work/log"; then
	echo "PASS: coexist"
	exit 0
fi
echo "FAIL: coexist (qemu rc $rc)"
tail -20 "$work/log"
exit 1
