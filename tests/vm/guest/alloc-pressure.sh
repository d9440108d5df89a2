#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Active mode's alloc method must not starve the guest: with passes
# running back to back (interval 10 ms, threshold 0, hint_now in a loop)
# a 1 GiB guest repeatedly touches HOG (700) MiB; RESERVE (32) is
# active_reserve_mb. Every memhog must succeed and
# the kernel must not OOM-kill anything; the shrinker's work shows in
# active_aborts / active_shrunk_pages.
# Env: VMHINT_QEMU as for device.sh. Exit: 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "$0")/lib.sh"
vh_setup_patched

cat >"$work/init" <<'GUEST'
#!/bin/sh
. /lib/vhtest.sh
insmod /lib/modules/virtio_hint.ko active=1 active_alloc=1 active_interval_ms=10 active_threshold_mb=0 active_reserve_mb=@RESERVE@ ||
	vh_fail insmod
d=$(ls -d /sys/bus/virtio/drivers/virtio_hint/virtio* | head -1)
[ "$(cat $d/hint/active_method)" = alloc ] || vh_fail "method not alloc"
( while :; do echo 1 >$d/hint/hint_now; sleep 0.05; done ) & poke=$!
for i in 1 2 3 4 5 6 7 8; do
	memhog @HOG@ 0 0 >/dev/null || vh_fail "memhog $i"
done
kill $poke
for f in active_passes active_aborts active_shrunk_pages active_peak_held_bytes active_bytes active_work_ns status_ok err_proto; do
	echo "VHTEST: $f $(cat $d/hint/$f)"
done
dmesg | grep -i "out of memory\|oom-kill\|page allocation failure" && vh_fail "OOM"
rmmod virtio_hint || vh_fail rmmod
vh_done
GUEST

sed -i "s/@RESERVE@/${RESERVE:-32}/; s/@HOG@/${HOG:-700}/" "$work/init"
vh_mkinitramfs "$work/initrd" "$work/init" "$vh_top/src/guest/tools/memhog" ||
	{ echo "FAIL: initramfs"; exit 1; }
VH_APPEND=init_on_alloc=0 MEM=1G
# shellcheck disable=SC2046
QEMU=$VMHINT_QEMU vh_boot "$work/initrd" "$work/log" $(vh_device_args)
rc=$?
grep -E "VHTEST|WARNING|BUG|Call Trace|Out of memory" "$work/log"
if [ $rc = 0 ] && grep -q "VHTEST: PASS" "$work/log"; then
	echo "PASS: alloc-pressure"
	exit 0
fi
echo "FAIL: alloc-pressure (qemu rc $rc)"
tail -20 "$work/log"
exit 1
