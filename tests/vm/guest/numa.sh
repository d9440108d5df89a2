#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A two-node guest (one memdev per node, adjacent in guest-physical
# space): hints from page reporting and from both active methods must
# never span the two host regions (status_cross stays 0) and get OK.
# Env: VMHINT_QEMU as for device.sh. Exit: 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "$0")/lib.sh"
vh_setup_patched

cat >"$work/init" <<'GUEST'
#!/bin/sh
. /lib/vhtest.sh
for args in "active=1" "active=1 active_alloc=1"; do
	insmod /lib/modules/virtio_hint.ko $args || vh_fail "insmod $args"
	d=$(ls -d /sys/bus/virtio/drivers/virtio_hint/virtio* | head -1)
	for i in 1 2 3; do
		memhog 600 0 0 >/dev/null
		echo 1 >$d/hint/hint_now; sleep 1
	done
	echo "VHTEST: $args: method $(cat $d/hint/active_method) ok $(cat $d/hint/status_ok) cross $(cat $d/hint/status_cross) bytes $(cat $d/hint/bytes)"
	[ "$(cat $d/hint/status_cross)" = 0 ] || vh_fail "$args: ranges across host regions"
	[ "$(cat $d/hint/status_ok)" -gt 0 ] || vh_fail "$args: no OK answer"
	rmmod virtio_hint || vh_fail rmmod
done
vh_done
GUEST

vh_mkinitramfs "$work/initrd" "$work/init" "$vh_top/src/guest/tools/memhog" ||
	{ echo "FAIL: initramfs"; exit 1; }
VH_APPEND=init_on_alloc=0 MEM=1G QEMU=$VMHINT_QEMU vh_boot "$work/initrd" "$work/log" \
	-object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=512M \
	-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 \
	-object vmhint,id=vh0,memdev=m0:m1 -device virtio-hint-pci,vmhint=vh0
rc=$?
grep -E "VHTEST|WARNING|BUG|Call Trace" "$work/log"
if [ $rc = 0 ] && grep -q "VHTEST: PASS" "$work/log"; then
	echo "PASS: numa"
	exit 0
fi
echo "FAIL: numa (qemu rc $rc)"
tail -20 "$work/log"
exit 1
