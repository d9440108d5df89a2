#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# virtio_hint.ko loads and unloads cleanly in a guest, with every mode
# switched on, and the kernel log stays free of warnings. With stock QEMU
# there is no virtio-hint device (the driver registers and binds nothing);
# with QEMU=<patched binary> and VH_DEVICE="-device virtio-hint-pci,..."
# the device is bound, used and unbound as well.
# Exit: 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "$0")/lib.sh"
vh_need

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/init" <<'GUEST'
#!/bin/sh
. /lib/vhtest.sh
for round in 1 2 3; do
	case $round in
	1) args="" ;;
	2) args="raw=1 active=1 active_interval_ms=10" ;;
	3) args="raw=1 report=0 stable_hints=1 active=1 active_alloc=1" ;;
	esac
	insmod /lib/modules/virtio_hint.ko $args || vh_fail "insmod round $round"
	[ -d /sys/bus/virtio/drivers/virtio_hint ] || vh_fail "driver not registered"
	for d in /sys/bus/virtio/drivers/virtio_hint/virtio*; do
		[ -d "$d/hint" ] || continue
		echo "VHTEST: bound $(basename $d): $(cat $d/hint/features) order $(cat $d/hint/report_order)/$(cat $d/hint/active_order)"
		echo 1 >$d/hint/hint_now
		sleep 1
		grep . $d/hint/*requests $d/hint/*bytes $d/hint/status_* $d/hint/err_* | sed 's/^/VHTEST: /'
	done
	rmmod virtio_hint || vh_fail "rmmod round $round"
	[ -d /sys/bus/virtio/drivers/virtio_hint ] && vh_fail "driver still registered"
	[ -d /sys/kernel/debug/virtio_hint ] && vh_fail "debugfs left behind"
done
echo "VHTEST: rounds done"
vh_done
GUEST

vh_mkinitramfs "$work/initrd" "$work/init" || { echo "FAIL: initramfs"; exit 1; }
# shellcheck disable=SC2086
vh_boot "$work/initrd" "$work/log" ${VH_DEVICE:-}
rc=$?
grep -E "VHTEST|virtio_hint|WARNING|BUG|Call Trace" "$work/log"
if grep -q "VHTEST: PASS" "$work/log"; then
	echo "PASS: load-unload"
	exit 0
fi
echo "FAIL: load-unload (qemu rc $rc); last lines of the console:"
tail -30 "$work/log"
exit 1
