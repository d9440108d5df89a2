#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# virtio-balloon with free page reporting owns page reporting first: the
# driver must still bind, say so, fall back to the alloc method for active
# mode, hint with it, and unload cleanly.
# Env: tests/vm/lib.sh's. Exit: 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "$0")/../lib.sh"
vm_setup_patched

cat >"$work/coexist" <<'GUEST'
#!/bin/sh
. /lib/vmtest.sh
insmod /lib/modules/virtio_balloon.ko || vm_fail "insmod virtio_balloon"
insmod /lib/modules/virtio_hint.ko active=1 || vm_fail "insmod virtio_hint"
d=$(ls -d /sys/bus/virtio/drivers/virtio_hint/virtio* | head -1)
[ "$(cat $d/hint/reporting)" = 0 ] || vm_fail "reporting should be the balloon's"
[ "$(cat $d/hint/active_method)" = alloc ] || vm_fail "no alloc fallback"
echo 1 >$d/hint/hint_now; sleep 2
vm_info "active_bytes=$(cat $d/hint/active_bytes) ok=$(cat $d/hint/status_ok)"
[ "$(cat $d/hint/active_bytes)" -gt 0 ] || vm_fail "alloc method hinted nothing"
rmmod virtio_hint || vm_fail "rmmod virtio_hint"
rmmod virtio_balloon || vm_fail "rmmod virtio_balloon"
vm_end
GUEST

chmod +x "$work/coexist"
vm_initramfs "$work/initrd" --driver --ship-kmod virtio_balloon -- "$work/coexist" ||
	{ echo "FAIL: initramfs"; exit 1; }
# init_on_alloc=0: the alloc method would make the host fault in what it drops.
# shellcheck disable=SC2046 # vm_device_args prints QEMU arguments as words
vm_run "$work/initrd" "$work/log" --qemu "$vm_patched" --mem 1024 --smp 1 \
	--append init_on_alloc=0 -- $(vm_device_args 1024) \
	-device virtio-balloon-pci,free-page-reporting=on
vm_report "$work/log" coexist
