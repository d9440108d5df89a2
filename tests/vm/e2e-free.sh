#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# End-to-end: a guest touches 1 GiB, frees it, and we time how long the
# QEMU process takes to give 90% of it back to the host, for
#   hint     virtio-hint (patched QEMU + libvmhint) with virtio_hint.ko in
#            active mode
#   balloon  stock virtio-balloon-pci,free-page-reporting=on
# and, for comparison,
#   hint-passive  virtio-hint with free page reporting alone (active=0)
#   hint-alloc    active mode taking pages by allocation (active_alloc=1,
#                 guest booted with init_on_alloc=0)
# Same guest kernel, same initramfs, same memhog.
#
# Usage: tests/vm/e2e-free.sh [MODE...]     (default: hint balloon)
# Env:   VMHINT_QEMU  patched qemu-system-x86_64 (default: what
#                     scripts/build-qemu prints, if it is already built)
#        QEMU         stock QEMU for balloon (qemu-system-x86_64)
#        HOG_MB (1024), GUEST_MEM (2G), DROP_TIMEOUT (s, 90)
#        VH_ARGS      virtio_hint.ko parameters (active=1)
# Prints one JSON line per mode; ms_to_90pct counts from when the host
# sees memhog's "freed" line on the console (polled every 10 ms), so values
# near 0 mean "already gone when we looked"; rss_seen_free_kib is the RSS
# at that moment. Exit: 0 every mode run met the 90% goal,
# 1 one did not, 77 nothing could run.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/vm/guest/lib.sh"
vh_need

HOG_MB=${HOG_MB:-1024}
GUEST_MEM=${GUEST_MEM:-2G}
DROP_TIMEOUT=${DROP_TIMEOUT:-90}
VH_ARGS=${VH_ARGS:-active=1}
modes=${*:-hint balloon}
make -s -C "$top/src/guest/tools" >/dev/null || { echo "FAIL: tools"; exit 1; }

MEM=$GUEST_MEM
work=$(mktemp -d)
cleanup() {
	vh_vm_stop
	rm -rf "$work"
}
trap cleanup EXIT

# run_mode MODE QEMU_BINARY MODULE_ARGS APPEND QEMU_ARGS...
run_mode() {
	local mode=$1 qemu=$2 args=$3 append=$4 rss_end
	shift 4
	cat >"$work/init" <<GUEST
#!/bin/sh
. /lib/vhtest.sh
case $mode in
balloon) insmod /lib/modules/virtio_balloon.ko || vh_fail insmod ;;
hint*) insmod /lib/modules/virtio_hint.ko $args || vh_fail insmod ;;
esac
sleep 5
memhog $HOG_MB 5 0 || vh_fail memhog
# The host says when it has measured (a line on the console).
read -r go
for f in /sys/bus/virtio/drivers/virtio_hint/virtio*/hint/*; do
	[ -f "\$f" ] && [ -r "\$f" ] && echo "VHSTAT: \${f##*/} \$(cat \$f 2>/dev/null)"
done
vh_done
GUEST
	VH_EXTRA_MODULES=virtio_balloon vh_mkinitramfs "$work/initrd" "$work/init" \
		"$top/src/guest/tools/memhog" || return 1
	vh_vm_start "$work" "$qemu" "$work/initrd" "$append" "$@"
	if ! vh_measure_free rss "$HOG_MB" "$DROP_TIMEOUT"; then
		echo "FAIL: $mode: qemu died or memhog did not run"
		cat "$work/qemu.out"
		tail "$work/log"
		vh_vm_stop
		return 1
	fi
	sleep 2
	rss_end=$(vh_mem_kib "$vh_qpid" rss)
	# Let the guest print its counters and check its log, then stop it.
	vh_vm_send go
	vh_vm_wait "VHTEST: PASS|VHTEST: FAILED" 30
	vh_vm_stop
	grep -E "VHSTAT: (requests|bytes|work_ns|wait_ns|active_passes|active_work_ns|active_bytes|active_last_ns|report_bytes|err_proto)|VHTEST|WARNING|BUG" "$work/log"
	printf '{"mode":"%s","hog_mib":%d,"rss_peak_kib":%d,"rss_seen_free_kib":%d,"rss_end_kib":%d,"freed_kib":%d,"ms_to_90pct":%d}\n' \
		"$mode" "$HOG_MB" "$vh_peak_kib" "$vh_seen_free_kib" "$rss_end" \
		$((vh_peak_kib - rss_end)) "$vh_ms_to_90"
	cp "$work/log" "/tmp/e2e-free-$mode.log"
	grep -q "VHTEST: PASS" "$work/log" && [ "$vh_ms_to_90" -ge 0 ]
}

ran=0
failed=0
for mode in $modes; do
	case $mode in
	hint | hint-passive | hint-alloc)
		q=$(vh_patched_qemu) || { echo "SKIP: $mode: no patched QEMU (set VMHINT_QEMU or run scripts/build-qemu)"; continue; }
		case $mode in
		hint) args=$VH_ARGS append= ;;
		hint-passive) args=active=0 append= ;;
		hint-alloc) args="active=1 active_alloc=1" append=init_on_alloc=0 ;;
		esac
		run_mode "$mode" "$q" "$args" "$append" -object memory-backend-ram,id=m0,size="$GUEST_MEM" \
			-machine memory-backend=m0 -object vmhint,id=vh0,memdev=m0 \
			-device virtio-hint-pci,vmhint=vh0 || failed=1
		;;
	balloon)
		run_mode balloon "$QEMU" "" "" -device virtio-balloon-pci,free-page-reporting=on || failed=1
		;;
	*) echo "unknown mode $mode"; exit 2 ;;
	esac
	ran=1
done
[ $ran = 1 ] || exit 77
exit $failed
