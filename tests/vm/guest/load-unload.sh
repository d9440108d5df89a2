#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# virtio_hint.ko loads and unloads cleanly in a guest, with every mode
# switched on, and the kernel log stays free of warnings. With stock QEMU
# there is no virtio-hint device (the driver registers and binds nothing);
# with VMHINT_VM_QEMU=<patched binary> and VH_DEVICE="-device
# virtio-hint-pci,..." the device is bound, used and unbound as well.
# Env: tests/vm/lib.sh's; VH_DEVICE. Exit: 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "$0")/../lib.sh"
vm_need
vm_build_driver || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/load-unload" <<'GUEST'
#!/bin/sh
. /lib/vmtest.sh
for round in 1 2 3; do
	case $round in
	1) args="" ;;
	2) args="raw=1 active=1 active_interval_ms=10" ;;
	3) args="raw=1 report=0 stable_hints=1 active=1 active_alloc=1" ;;
	esac
	insmod /lib/modules/virtio_hint.ko $args || vm_fail "insmod round $round"
	[ -d /sys/bus/virtio/drivers/virtio_hint ] || vm_fail "driver not registered"
	for d in /sys/bus/virtio/drivers/virtio_hint/virtio*; do
		[ -d "$d/hint" ] || continue
		vm_info "bound $(basename $d): $(cat $d/hint/features) order $(cat $d/hint/report_order)/$(cat $d/hint/active_order)"
		echo 1 >$d/hint/hint_now
		sleep 1
		grep . $d/hint/*requests $d/hint/*bytes $d/hint/status_* $d/hint/err_* | sed 's/^/@@VMTEST INFO /'
	done
	rmmod virtio_hint || vm_fail "rmmod round $round"
	[ -d /sys/bus/virtio/drivers/virtio_hint ] && vm_fail "driver still registered"
	[ -d /sys/kernel/debug/virtio_hint ] && vm_fail "debugfs left behind"
done
vm_info "rounds done"
vm_end
GUEST

chmod +x "$work/load-unload"
vm_initramfs "$work/initrd" --driver -- "$work/load-unload" || { echo "FAIL: initramfs"; exit 1; }
# shellcheck disable=SC2086 # VH_DEVICE holds QEMU arguments as words
vm_run "$work/initrd" "$work/log" --mem 1024 --smp 1 -- ${VH_DEVICE:-}
grep -a "virtio_hint" "$work/log"
vm_report "$work/log" load-unload
