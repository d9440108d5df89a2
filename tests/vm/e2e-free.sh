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
#        VMHINT_VM_QEMU  stock QEMU for balloon (qemu-system-x86_64)
#        HOG_MB (1024), GUEST_MEM (2G), DROP_TIMEOUT (s, 90)
#        VH_ARGS      virtio_hint.ko parameters (active=1)
# Prints one JSON line per mode; ms_to_90pct counts from when the host
# sees memhog's "freed" line on the console (polled every 10 ms), so values
# near 0 mean "already gone when we looked"; rss_seen_free_kib is the RSS
# at that moment. Exit: 0 every mode run met the 90% goal,
# 1 one did not, 77 nothing could run.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$top/tests/vm/lib.sh"
vm_need

HOG_MB=${HOG_MB:-1024}
GUEST_MEM=${GUEST_MEM:-2G}
DROP_TIMEOUT=${DROP_TIMEOUT:-90}
VH_ARGS=${VH_ARGS:-active=1}
modes=${*:-hint balloon}
vm_build_driver || exit 1
use_tree_libvmhint
# GUEST_MEM in MiB for the harness (2G, 2048M or 2048).
case $GUEST_MEM in
*G) guest_mb=$((${GUEST_MEM%G} * 1024)) ;;
*M) guest_mb=${GUEST_MEM%M} ;;
*) guest_mb=$GUEST_MEM ;;
esac
work=$(mktemp -d)
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	vm_stop
	rm -rf "$work"
}
trap cleanup EXIT

# run_mode MODE QEMU_BINARY MODULE_ARGS APPEND QEMU_ARGS...
run_mode() {
	local mode=$1 qemu=$2 args=$3 append=$4 rss_end
	shift 4
	cat >"$work/free-$mode" <<GUEST
#!/bin/sh
. /lib/vmtest.sh
case $mode in
balloon) insmod /lib/modules/virtio_balloon.ko || vm_fail insmod ;;
hint*) insmod /lib/modules/virtio_hint.ko $args || vm_fail insmod ;;
esac
sleep 5
memhog $HOG_MB 5 0 || vm_fail memhog
# The host says when it has measured (a line on the console).
read -r go
for f in /sys/bus/virtio/drivers/virtio_hint/virtio*/hint/*; do
	[ -f "\$f" ] && [ -r "\$f" ] && vm_info "stat \${f##*/} \$(cat \$f 2>/dev/null)"
done
vm_end
GUEST
	chmod +x "$work/free-$mode"
	vm_initramfs "$work/initrd" --driver --ship-kmod virtio_balloon --interactive \
		--bin "$top/src/guest/tools/memhog" -- "$work/free-$mode" || return 1
	vm_start "$work" "$work/initrd" --qemu "$qemu" --mem "$guest_mb" --smp 1 \
		${append:+--append "$append"} -- "$@"
	if ! vm_measure_free rss "$HOG_MB" "$DROP_TIMEOUT"; then
		echo "FAIL: $mode: qemu died or memhog did not run"
		cat "$work/qemu.out"
		tail "$work/log"
		vm_stop
		return 1
	fi
	sleep 2
	rss_end=$(vm_mem_kib "$vm_qpid" rss)
	# Let the guest print its counters and check its log, then stop it.
	vm_send go
	vm_wait "^@@VMTEST ALLDONE" 30
	vm_stop
	grep -aE "@@VMTEST INFO stat (requests|bytes|work_ns|wait_ns|active_passes|active_work_ns|active_bytes|active_last_ns|report_bytes|err_proto) |@@VMTEST (CHECK|RESULT)|WARNING|BUG" "$work/log"
	printf '{"mode":"%s","hog_mib":%d,"rss_peak_kib":%d,"rss_seen_free_kib":%d,"rss_end_kib":%d,"freed_kib":%d,"ms_to_90pct":%d}\n' \
		"$mode" "$HOG_MB" "$vm_peak_kib" "$vm_seen_free_kib" "$rss_end" \
		$((vm_peak_kib - rss_end)) "$vm_ms_to_90"
	cp "$work/log" "/tmp/e2e-free-$mode.log"
	vm_results "$work/log" "free-$mode" >/dev/null && [ "$vm_ms_to_90" -ge 0 ]
}

ran=0
failed=0
for mode in $modes; do
	case $mode in
	hint | hint-passive | hint-alloc)
		# shellcheck disable=SC2119 # patched_qemu's --build is optional
		q=$(patched_qemu) || { echo "SKIP: $mode: no patched QEMU (set VMHINT_QEMU or run scripts/build-qemu)"; continue; }
		case $mode in
		hint) args=$VH_ARGS append= ;;
		hint-passive) args=active=0 append= ;;
		hint-alloc) args="active=1 active_alloc=1" append=init_on_alloc=0 ;;
		esac
		run_mode "$mode" "$q" "$args" "$append" -object memory-backend-ram,id=m0,size="${guest_mb}M" \
			-machine memory-backend=m0 -object vmhint,id=vh0,memdev=m0 \
			-device virtio-hint-pci,vmhint=vh0 || failed=1
		;;
	balloon)
		run_mode balloon "${VMHINT_VM_QEMU:-qemu-system-x86_64}" "" "" -device virtio-balloon-pci,free-page-reporting=on || failed=1
		;;
	*) echo "unknown mode $mode"; exit 2 ;;
	esac
	ran=1
done
[ $ran = 1 ] || exit 77
exit $failed
