#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Active mode's alloc method must not starve the guest: with passes
# running back to back (interval 10 ms, threshold 0, hint_now in a loop)
# a 1 GiB guest repeatedly touches HOG (700) MiB; RESERVE (32) is
# active_reserve_mb. Every memhog must succeed and
# the kernel must not OOM-kill anything; the shrinker's work shows in
# active_aborts / active_shrunk_pages.
# Env: tests/vm/lib.sh's; HOG, RESERVE. Exit: 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "$0")/../lib.sh"
vm_setup_patched

cat >"$work/alloc-pressure" <<'GUEST'
#!/bin/sh
. /lib/vmtest.sh
insmod /lib/modules/virtio_hint.ko active=1 active_alloc=1 active_interval_ms=10 active_threshold_mb=0 active_reserve_mb=@RESERVE@ ||
	vm_fail insmod
d=$(ls -d /sys/bus/virtio/drivers/virtio_hint/virtio* | head -1)
[ "$(cat $d/hint/active_method)" = alloc ] || vm_fail "method not alloc"
( while :; do echo 1 >$d/hint/hint_now; sleep 0.05; done ) & poke=$!
for i in 1 2 3 4 5 6 7 8; do
	memhog @HOG@ 0 0 >/dev/null || vm_fail "memhog $i"
done
kill $poke
for f in active_passes active_aborts active_shrunk_pages active_peak_held_bytes active_bytes active_work_ns status_ok err_proto; do
	vm_info "$f $(cat $d/hint/$f)"
done
dmesg | grep -i "out of memory\|oom-kill\|page allocation failure" && vm_fail "OOM"
rmmod virtio_hint || vm_fail rmmod
vm_end
GUEST

sed -i "s/@RESERVE@/${RESERVE:-32}/; s/@HOG@/${HOG:-700}/" "$work/alloc-pressure"
chmod +x "$work/alloc-pressure"
vm_initramfs "$work/initrd" --driver --bin "$vm_top/src/guest/tools/memhog" \
	-- "$work/alloc-pressure" || { echo "FAIL: initramfs"; exit 1; }
# shellcheck disable=SC2046 # vm_device_args prints QEMU arguments as words
vm_run "$work/initrd" "$work/log" --qemu "$vm_patched" --mem 1024 --smp 1 \
	--append init_on_alloc=0 -- $(vm_device_args 1024)
grep -a "Out of memory" "$work/log"
vm_report "$work/log" alloc-pressure
