#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A two-node guest (one memdev per node, adjacent in guest-physical
# space): hints from page reporting and from both active methods must
# never span the two host regions (status_cross stays 0) and get OK.
# Env: tests/vm/lib.sh's. Exit: 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "$0")/../lib.sh"
vm_setup_patched

cat >"$work/numa" <<'GUEST'
#!/bin/sh
. /lib/vmtest.sh
for args in "active=1" "active=1 active_alloc=1"; do
	insmod /lib/modules/virtio_hint.ko $args || vm_fail "insmod $args"
	d=$(ls -d /sys/bus/virtio/drivers/virtio_hint/virtio* | head -1)
	for i in 1 2 3; do
		memhog 600 0 0 >/dev/null
		echo 1 >$d/hint/hint_now; sleep 1
	done
	vm_info "$args: method $(cat $d/hint/active_method) ok $(cat $d/hint/status_ok) cross $(cat $d/hint/status_cross) bytes $(cat $d/hint/bytes)"
	[ "$(cat $d/hint/status_cross)" = 0 ] || vm_fail "$args: ranges across host regions"
	[ "$(cat $d/hint/status_ok)" -gt 0 ] || vm_fail "$args: no OK answer"
	rmmod virtio_hint || vm_fail rmmod
done
vm_end
GUEST

chmod +x "$work/numa"
vm_initramfs "$work/initrd" --driver --bin "$vm_top/src/guest/tools/memhog" -- "$work/numa" ||
	{ echo "FAIL: initramfs"; exit 1; }
# The harness's two nodes are memory-backend-ram m0 and m1, 512M each.
vm_run "$work/initrd" "$work/log" --qemu "$vm_patched" --nodes 2 --mem 512 --smp 1 \
	--append init_on_alloc=0 -- \
	-object vmhint,id=vh0,memdev=m0,memdev=m1 -device virtio-hint-pci,vmhint=vh0
vm_report "$work/log" numa
