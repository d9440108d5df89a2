# SPDX-License-Identifier: GPL-2.0
# Helpers for the guest-driver VM tests: sourced, not run.
#   vh_mkinitramfs OUT INIT [FILE...]   cpio.gz with busybox, the virtio
#       modules, virtio_hint.ko, INIT as /init and FILEs in /bin
#   vh_boot INITRD LOG [QEMU ARGS...]   boot the Debian kernel under TCG,
#       serial console to LOG; returns QEMU's exit status
# Environment: KVER (newest /boot/vmlinuz-*-amd64), QEMU (qemu-system-x86_64), MEM (1G),
# VH_TIMEOUT (seconds, 300), VH_KO (path of virtio_hint.ko), VH_EXTRA_MODULES
# (more kernel modules for /lib/modules, e.g. virtio_balloon).
#
# A guest the host talks to while it runs (e2e-free.sh, e2e.sh):
#   vh_vm_start WORK QEMU INITRD APPEND [QEMU ARGS...]  boots in the
#       background; console log WORK/log, console input by vh_vm_send,
#       QMP socket WORK/qmp; sets vh_qpid
#   vh_vm_send LINE, vh_vm_wait REGEX SECS [COUNT], vh_vm_stop
#   vh_measure_free rss|hugetlb HOG_MIB TIMEOUT_S  times the drop after
#       memhog's "freed" line; sets vh_peak_kib vh_seen_free_kib vh_ms_to_90
#   vh_mem_kib PID rss|hugetlb, vh_now_ms

# Newest Debian amd64 kernel installed; the module Makefile picks the
# newest headers, which linux-image-amd64/linux-headers-amd64 keep in step.
vh_newest_kernel() {
	local f
	f=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1)
	f=${f#/boot/vmlinuz-}
	echo "${f:-6.1.0-56-amd64}"
}
KVER=${KVER:-$(vh_newest_kernel)}
QEMU=${QEMU:-qemu-system-x86_64}
MEM=${MEM:-1G}
VH_TIMEOUT=${VH_TIMEOUT:-300}
vh_dir=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
vh_top=$(cd "$vh_dir/../../.." && pwd)
VH_KO=${VH_KO:-$vh_top/src/guest/virtio_hint/virtio_hint.ko}

# Modules the initramfs loads, in dependency order (see modules.dep).
VH_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci"

vh_skip() { echo "SKIP: $*"; exit 77; }

# Prints the patched QEMU: $VMHINT_QEMU, else the binary scripts/build-qemu
# has built already for the current patches (building is not a test's job).
vh_patched_qemu() {
	local key f
	if [ -n "${VMHINT_QEMU:-}" ]; then
		echo "$VMHINT_QEMU"
		return
	fi
	[ -x "$vh_top/scripts/build-qemu" ] || return 1
	key=$("$vh_top/scripts/build-qemu" --print-key 2>/dev/null) || return 1
	f=${VMHINT_CACHE:-/var/cache/vmhint}/qemu/$key/src/build/qemu-system-x86_64
	[ -x "$f" ] && echo "$f"
}

# QEMU arguments for a virtio-hint device over all of guest RAM ($MEM).
vh_device_args() {
	echo "-object memory-backend-ram,id=m0,size=$MEM -machine memory-backend=m0" \
		"-object vmhint,id=vh0,memdev=m0 -device virtio-hint-pci,vmhint=vh0"
}

vh_need() {
	[ -r "/boot/vmlinuz-$KVER" ] || vh_skip "no /boot/vmlinuz-$KVER (linux-image-amd64)"
	[ -x /bin/busybox ] || vh_skip "no /bin/busybox (busybox-static)"
	command -v cpio >/dev/null || vh_skip "no cpio"
	command -v "$QEMU" >/dev/null || vh_skip "no $QEMU"
	[ -r "$VH_KO" ] || { echo "FAIL: $VH_KO not built (make -C src/guest/virtio_hint)"; exit 1; }
	case $(modinfo -F vermagic "$VH_KO") in
	"$KVER "*) ;;
	*) echo "FAIL: $VH_KO is not built for $KVER (make -C src/guest/virtio_hint KDIR=/usr/src/linux-headers-$KVER)"; exit 1 ;;
	esac
}

vh_mkinitramfs() {
	local out=$1 init=$2 root m f
	shift 2
	root=$(mktemp -d)
	mkdir -p "$root"/bin "$root"/lib/modules "$root"/proc "$root"/sys "$root"/dev
	cp /bin/busybox "$root"/bin/busybox
	ln -s busybox "$root"/bin/sh
	for m in $VH_MODULES ${VH_EXTRA_MODULES:-}; do
		f=$(modinfo -k "$KVER" -n "$m") || return 1
		case $f in
		*.ko.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
		*.ko.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
		*) cp "$f" "$root/lib/modules/$m.ko" ;;
		esac
	done
	cp "$VH_KO" "$root"/lib/modules/
	for f in "$@"; do cp "$f" "$root"/bin/; done
	cp "$vh_dir/init-common.sh" "$root"/lib/vhtest.sh
	cp "$init" "$root"/init
	chmod 755 "$root"/init
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
	rm -rf "$root"
}

vh_boot() {
	local initrd=$1 log=$2
	shift 2
	timeout "$VH_TIMEOUT" "$QEMU" -accel tcg -cpu max -m "$MEM" -smp 1 \
		-nographic -nodefaults -serial stdio -no-reboot \
		-L /usr/share/seabios -L /usr/share/qemu \
		-kernel "/boot/vmlinuz-$KVER" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 loglevel=4 ${VH_APPEND:-}" \
		"$@" </dev/null >"$log" 2>&1
}

vh_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# What a free gives back, in KiB: VmRSS, or for hugetlbfs backings the huge
# pages the process maps (VmRSS does not count hugetlb pages at all).
vh_mem_kib() {
	local v
	case $2 in
	hugetlb) v=$(awk '/^(Shared|Private)_Hugetlb:/ { s += $2 } END { print s + 0 }' \
		"/proc/$1/smaps_rollup" 2>/dev/null) ;;
	*) v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null) ;;
	esac
	echo "${v:-0}"
}

vh_vm_start() {
	local work=$1 qemu=$2 initrd=$3 append=$4
	shift 4
	vh_work=$work
	: >"$work/log"
	rm -f "$work/con.in" "$work/con.out" "$work/qmp"
	mkfifo "$work/con.in" "$work/con.out"
	cat "$work/con.out" >"$work/log" &
	# A pipe chardev, not stdio: the host writes lines to the guest's
	# console while it runs, and nothing waits on a terminal.
	"$qemu" -accel tcg -cpu max -m "$MEM" -smp 1 -nographic -nodefaults \
		-chardev pipe,id=con,path="$work/con" -serial chardev:con -no-reboot \
		-qmp unix:"$work/qmp",server=on,wait=off \
		-L /usr/share/seabios -L /usr/share/qemu \
		-kernel "/boot/vmlinuz-$KVER" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 loglevel=4 $append" "$@" \
		</dev/null >"$work/qemu.out" 2>&1 &
	vh_qpid=$!
}

vh_vm_send() { echo "$1" >"$vh_work/con.in"; }

# Waits until REGEX matched COUNT (1) console lines; 1 on timeout or when
# QEMU is gone.
vh_vm_wait() {
	local re=$1 end=$(($(date +%s) + $2)) count=${3:-1}
	while [ "$(grep -cE "$re" "$vh_work/log")" -lt "$count" ]; do
		if ! kill -0 "$vh_qpid" 2>/dev/null || [ "$(date +%s)" -ge $end ]; then
			echo "vh_vm_wait: no '$re' (qemu $(kill -0 "$vh_qpid" 2>/dev/null && echo running || echo gone))" >&2
			return 1
		fi
		sleep 0.2
	done
}

vh_vm_stop() {
	[ -n "${vh_qpid:-}" ] || return 0
	kill "$vh_qpid" 2>/dev/null
	wait "$vh_qpid" 2>/dev/null
	vh_qpid=
}

# After memhog's "touched": the peak is reached while it holds the memory;
# the console line "freed" is our only clock for the free, so poll fast.
# vh_ms_to_90 stays -1 when 90% of HOG_MIB did not come back in time.
# shellcheck disable=SC2034 # results for the caller
vh_measure_free() {
	local kind=$1 hog=$2 timeout_s=$3 t_free v target
	vh_peak_kib=0 vh_seen_free_kib=0 vh_ms_to_90=-1
	vh_vm_wait "MEMHOG: touched" 300 || return 1
	while ! grep -q "MEMHOG: freed" "$vh_work/log"; do
		kill -0 "$vh_qpid" 2>/dev/null || return 1
		v=$(vh_mem_kib "$vh_qpid" "$kind")
		[ "$v" -gt "$vh_peak_kib" ] && vh_peak_kib=$v
		sleep 0.01
	done
	t_free=$(vh_now_ms)
	vh_seen_free_kib=$(vh_mem_kib "$vh_qpid" "$kind")
	target=$((vh_peak_kib - hog * 1024 * 9 / 10))
	while [ $(($(vh_now_ms) - t_free)) -lt $((timeout_s * 1000)) ]; do
		if [ "$(vh_mem_kib "$vh_qpid" "$kind")" -le "$target" ]; then
			vh_ms_to_90=$(($(vh_now_ms) - t_free))
			break
		fi
		sleep 0.01
	done
}

# The set-up of a test that needs the real device: prerequisites, the patched
# QEMU in $VMHINT_QEMU (else skip), the guest tools, and a work directory
# $work removed on exit.
vh_setup_patched() {
	vh_need
	VMHINT_QEMU=$(vh_patched_qemu) ||
		vh_skip "no patched QEMU (set VMHINT_QEMU or run scripts/build-qemu)"
	make -s -C "$vh_top/src/guest/tools" >/dev/null || { echo "FAIL: tools"; exit 1; }
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
}
