# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# tests/vm/lib.sh - the VM harness, host side: sourced (by tests/vm/run-vm,
# tests/vm/guest/*.sh and tests/vm/e2e*.sh), not run. Every VM test boots
# Debian's kernel under QEMU/TCG (nested KVM does not boot Linux here) from
# an initramfs made of busybox-static, modules of that kernel's own tree,
# our files and the tests; the guest side is tests/vm/vmtest.sh (markers,
# vm_fail, vm_info, vm_end).
#
# Environment, the one set of variables of every VM test:
#   VMHINT_VM_KERNEL   guest kernel (default: the newest
#                      /boot/vmlinuz-*-amd64 whose headers are installed, so
#                      virtio_hint.ko can be built for it)
#   VMHINT_VM_QEMU     QEMU for guests without our device (qemu-system-x86_64)
#   VMHINT_QEMU        the patched QEMU (default: scripts/build-qemu's build)
#   VMHINT_LIBDIR      the libvmhint the patched QEMU loads (tests/lib/qemu.sh)
#   VMHINT_VM_TIMEOUT  seconds before a guest is killed (300)
#   VMHINT_VM_APPEND   more kernel command line
#
# Building and booting:
#   vm_initramfs OUT [OPTION...] [--] TEST[:ARGS]...
#       --kmod NAME       a module of the guest kernel's tree, loaded at boot
#                         after its dependencies (modprobe --show-depends)
#       --ship-kmod NAME  the same module file, not loaded (the test does)
#       --module PATH.ko  our module, loaded at boot in order
#       --driver          virtio_pci loaded, virtio_hint.ko shipped
#       --file SRC[:DST]  a file or folder (DST default /extra/NAME)
#       --bin PATH        an executable into /bin, with the libraries ldd lists
#       --setup CMD       a shell command run before the tests
#       --interactive     the tests read the console (vm_start, vm_send)
#     TEST: an executable run from /tests, with ARGS split on spaces.
#   vm_run INITRD LOG [BOOT OPTION...] [-- QEMU ARG...]  boots, waits for
#       the power-off; the console (without CRs) goes to LOG. Returns
#       QEMU's status (124: timed out).
#       --qemu PATH (VMHINT_VM_QEMU)  --mem MB (512, per node with nodes)
#       --nodes N (0; each node a memory-backend-ram m0, m1...)  --smp N (2)
#       --timeout S  --append ARGS  --verbose (console to stderr too)
#   vm_start WORK INITRD [BOOT OPTION...] [-- QEMU ARG...]  the same in the
#       background: console in WORK/log, QMP socket WORK/qmp; sets vm_qpid
#   vm_send LINE    a line to the console of the vm_start guest
#   vm_wait ERE SECS [COUNT]  until COUNT (1) console lines match; 1 on
#       timeout or when QEMU is gone
#   vm_stop         stops the vm_start guest
#   vm_results LOG [TEST...]  "PASS|FAIL|SKIP: name (...)" per result, the
#       failed checks; 0 if every TEST (default: all that ran) and the
#       kernel log passed or skipped and the guest powered off cleanly
#       (after vm_run: QEMU exited with 0)
#   vm_device_args MB  QEMU arguments: RAM of MB on memory-backend-ram m0,
#       a vmhint object vh0 over it, a virtio-hint-pci device
#   vm_report LOG NAME  a driver test's end: its INFO and CHECK lines, the
#       results, "PASS|FAIL: NAME"; exits 0 or 1
# Prerequisites:
#   vm_need         skips (77) without kernel, busybox-static, cpio, modprobe
#   vm_setup_patched  vm_need, the patched QEMU ($vm_patched), the driver and
#       the guest tools built; $work, removed on exit
# Measuring (e2e): vm_mem_kib PID rss|hugetlb, vm_now_ms,
#   vm_measure_free rss|hugetlb HOG_MIB TIMEOUT_S (sets vm_peak_kib,
#   vm_seen_free_kib, vm_ms_to_90)

vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vm_top=$(cd "$vm_dir/../.." && pwd)
# shellcheck source=../lib/qemu.sh
. "$vm_top/tests/lib/qemu.sh"

vm_skip() { echo "SKIP: $*"; exit 77; }

# The newest Debian kernel whose headers are installed (the module must be
# built for the kernel we boot); the newest at all if none has them.
vm_default_kernel() {
	local k newest='' v
	for k in $(printf '%s\n' /boot/vmlinuz-*-amd64 | sort -rV); do
		[ -e "$k" ] || continue
		v=${k#/boot/vmlinuz-}
		[ -n "$newest" ] || newest=$k
		if [ -d "/usr/src/linux-headers-$v" ] || [ -d "/lib/modules/$v/build" ]; then
			echo "$k"
			return
		fi
	done
	echo "$newest"
}
vm_kernel=${VMHINT_VM_KERNEL:-$(vm_default_kernel)}
vm_kver=${vm_kernel##*/vmlinuz-}
vm_ko=$vm_top/src/guest/virtio_hint/virtio_hint.ko

vm_need() {
	[ -r "$vm_kernel" ] || vm_skip "no guest kernel ${vm_kernel:-/boot/vmlinuz-*-amd64} (apt-get install linux-image-amd64)"
	if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
		vm_skip "/bin/busybox missing or dynamic (apt-get install busybox-static)"
	fi
	command -v cpio >/dev/null || vm_skip "no cpio"
	command -v modprobe >/dev/null || vm_skip "no modprobe (apt-get install kmod)"
}

# virtio_hint.ko and the guest tools, built for the guest kernel.
vm_build_driver() {
	local kdir=/usr/src/linux-headers-$vm_kver
	[ -d "$kdir" ] || kdir=/lib/modules/$vm_kver/build
	make -s -C "$vm_top/src/guest/virtio_hint" KDIR="$kdir" >/dev/null ||
		{ echo "FAIL: make -C src/guest/virtio_hint KDIR=$kdir"; return 1; }
	case $(modinfo -F vermagic "$vm_ko") in
	"$vm_kver "*) ;;
	*) echo "FAIL: $vm_ko is not built for $vm_kver"; return 1 ;;
	esac
	make -s -C "$vm_top/src/guest/tools" >/dev/null || { echo "FAIL: src/guest/tools"; return 1; }
}

vm_setup_patched() {
	vm_need
	# shellcheck disable=SC2034,SC2119 # vm_patched is for the caller; --build is optional
	vm_patched=$(patched_qemu) ||
		vm_skip "no patched QEMU (set VMHINT_QEMU or run scripts/build-qemu)"
	use_tree_libvmhint
	vm_build_driver || exit 1
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
}

# _vm_copy_mod FILE NAME: a module into the initramfs as /lib/modules/NAME.ko.
_vm_copy_mod() {
	case $1 in
	*.ko.xz) xz -dc "$1" ;;
	*.ko.zst) zstd -qdc "$1" ;;
	*) cat "$1" ;;
	esac >"$vm_root/lib/modules/$2.ko"
}

# _vm_kmod NAME LOAD: NAME from the guest kernel's tree; with LOAD=1 its
# dependencies and itself are loaded at boot, each once, in modprobe's order.
_vm_kmod() {
	local deps d n
	deps=$(modprobe -S "$vm_kver" --show-depends "$1" 2>/dev/null | awk '$1 == "insmod" { print $2 }')
	[ -n "$deps" ] || { echo "vm_initramfs: no module $1 for kernel $vm_kver" >&2; return 1; }
	for d in $deps; do
		n=${d##*/}
		n=${n%%.ko*}
		[ "$2" = 1 ] || [ "$n" = "$(echo "$1" | tr - _)" ] || continue
		[ -e "$vm_root/lib/modules/$n.ko" ] || _vm_copy_mod "$d" "$n"
		if [ "$2" = 1 ] && ! grep -qx "$n" "$vm_root/lib/modules/LOAD"; then
			echo "$n" >>"$vm_root/lib/modules/LOAD"
		fi
	done
}

_vm_bin() {
	local lib
	[ -x "$1" ] || { echo "vm_initramfs: --bin $1: not an executable" >&2; return 1; }
	cp -L "$1" "$vm_root/bin/"
	for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*'); do
		mkdir -p "$vm_root$(dirname "$lib")"
		cp -L "$lib" "$vm_root$lib"
	done
}

vm_initramfs() {
	local out=$1 src dst prog args name
	shift
	vm_root=$(mktemp -d "${TMPDIR:-/tmp}/vmhint-root.XXXXXX")
	mkdir -p "$vm_root"/{bin,sbin,lib/modules,lib64,tests,extra,proc,sys,dev,tmp,run}
	cp /bin/busybox "$vm_root/bin/busybox"
	ln -s busybox "$vm_root/bin/sh"
	cp "$vm_dir/vmtest.sh" "$vm_root/lib/vmtest.sh"
	printf '#!/bin/busybox sh\n. /lib/vmtest.sh\nvm_init\n' >"$vm_root/init"
	chmod 755 "$vm_root/init"
	: >"$vm_root/lib/modules/LOAD"
	: >"$vm_root/tests/LIST"
	: >"$vm_root/tests/SETUP"
	while [ $# -gt 0 ]; do
		case $1 in
		--kmod) _vm_kmod "$2" 1 || return 1; shift ;;
		--ship-kmod) _vm_kmod "$2" 0 || return 1; shift ;;
		--module)
			[ -r "$2" ] || { echo "vm_initramfs: --module $2: not readable" >&2; return 1; }
			name=${2##*/}
			_vm_copy_mod "$2" "${name%%.ko*}"
			echo "${name%%.ko*}" >>"$vm_root/lib/modules/LOAD"
			shift ;;
		--driver)
			_vm_kmod virtio_pci 1 || return 1
			cp "$vm_ko" "$vm_root/lib/modules/" ;;
		--file)
			src=${2%%:*} dst=${2#*:}
			[ "$dst" = "$2" ] && dst=/extra/${src##*/}
			[ -e "$src" ] || { echo "vm_initramfs: --file $src: no such file" >&2; return 1; }
			mkdir -p "$vm_root$(dirname "$dst")"
			cp -rL "$src" "$vm_root$dst"
			shift ;;
		--bin) _vm_bin "$2" || return 1; shift ;;
		--setup) printf '%s\n' "$2" >>"$vm_root/tests/SETUP"; shift ;;
		--interactive) : >"$vm_root/tests/INTERACTIVE" ;;
		--) shift; break ;;
		-*) echo "vm_initramfs: unknown option $1" >&2; return 1 ;;
		*) break ;;
		esac
		shift
	done
	for t in "$@"; do
		prog=${t%%:*} args=
		[ "$prog" != "$t" ] && args=${t#*:}
		[ -x "$prog" ] || { echo "vm_initramfs: test $prog: not an executable" >&2; return 1; }
		cp "$prog" "$vm_root/tests/"
		echo "${prog##*/}:$args" >>"$vm_root/tests/LIST"
	done
	(cd "$vm_root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
	rm -rf "$vm_root"
}

# _vm_cmd INITRD [BOOT OPTION...] [-- QEMU ARG...]: the QEMU command in
# vm_cmd, the timeout in vm_timeout, -v in vm_verbose.
_vm_cmd() {
	local initrd=$1 qemu=${VMHINT_VM_QEMU:-qemu-system-x86_64} mem=512 nodes=0 smp=2 i
	local append="${VMHINT_VM_APPEND:-}"
	local -a numa=()
	shift
	vm_timeout=${VMHINT_VM_TIMEOUT:-300} vm_verbose=0
	while [ $# -gt 0 ]; do
		case $1 in
		--qemu) qemu=$2; shift ;;
		--mem) mem=$2; shift ;;
		--nodes) nodes=$2; shift ;;
		--smp) smp=$2; shift ;;
		--timeout) vm_timeout=$2; shift ;;
		--append) append="$append $2"; shift ;;
		--verbose) vm_verbose=1 ;;
		--) shift; break ;;
		*) break ;;
		esac
		shift
	done
	command -v "$qemu" >/dev/null || { echo "vm: QEMU $qemu not found" >&2; return 1; }
	for ((i = 0; i < nodes; i++)); do
		numa+=(-object "memory-backend-ram,id=m$i,size=${mem}M" -numa "node,nodeid=$i,memdev=m$i")
	done
	[ "$nodes" -gt 0 ] && mem=$((mem * nodes))
	vm_cmd=("$qemu" -accel tcg -cpu max -nographic -nodefaults -no-reboot
		-L /usr/share/seabios -L /usr/share/qemu
		-m "${mem}M" -smp "$smp" "${numa[@]}"
		-kernel "$vm_kernel" -initrd "$initrd"
		-append "console=ttyS0 panic=-1 quiet loglevel=4 $append" "$@")
}

# QEMU arguments for a virtio-hint device over all of guest RAM (MB).
vm_device_args() {
	echo "-object memory-backend-ram,id=m0,size=${1}M -machine memory-backend=m0" \
		"-object vmhint,id=vh0,memdev=m0 -device virtio-hint-pci,vmhint=vh0"
}

vm_run() {
	local initrd=$1 log=$2 rc
	shift 2
	_vm_cmd "$initrd" "$@" || return 1
	echo "vm: ${vm_cmd[*]}" >"$log"
	if [ "$vm_verbose" = 1 ]; then
		timeout --foreground -k 5 "$vm_timeout" "${vm_cmd[@]}" -serial stdio </dev/null 2>&1 |
			tr -d '\r' | tee -a "$log" >&2
	else
		timeout --foreground -k 5 "$vm_timeout" "${vm_cmd[@]}" -serial stdio </dev/null 2>&1 |
			tr -d '\r' >>"$log"
	fi
	rc=${PIPESTATUS[0]}
	vm_qemu_rc=$rc
	return "$rc"
}

vm_start() {
	local work=$1 initrd=$2
	shift 2
	vm_work=$work vm_qemu_rc=
	_vm_cmd "$initrd" "$@" || return 1
	: >"$work/log"
	rm -f "$work/con.in" "$work/con.out" "$work/qmp"
	mkfifo "$work/con.in" "$work/con.out"
	cat "$work/con.out" >"$work/log" &
	# A pipe chardev, not stdio: the host writes lines to the guest's
	# console while it runs, and nothing waits on a terminal.
	"${vm_cmd[@]}" -chardev pipe,id=con,path="$work/con" -serial chardev:con \
		-qmp unix:"$work/qmp",server=on,wait=off </dev/null >"$work/qemu.out" 2>&1 &
	vm_qpid=$!
}

vm_send() { echo "$1" >"$vm_work/con.in"; }

vm_wait() {
	local re=$1 end=$(($(date +%s) + $2)) count=${3:-1}
	while [ "$(grep -acE "$re" "$vm_work/log")" -lt "$count" ]; do
		if ! kill -0 "$vm_qpid" 2>/dev/null || [ "$(date +%s)" -ge $end ]; then
			echo "vm_wait: no '$re' (qemu $(kill -0 "$vm_qpid" 2>/dev/null && echo running || echo gone))" >&2
			return 1
		fi
		sleep 0.2
	done
}

vm_stop() {
	[ -n "${vm_qpid:-}" ] || return 0
	kill "$vm_qpid" 2>/dev/null
	wait "$vm_qpid" 2>/dev/null
	vm_qpid=
}

# _vm_marks LOG WHAT: the markers "@@VMTEST WHAT..." of LOG, from the
# marker to the end of its line: a shell's or the kernel's message may have
# landed on the console in front of one.
_vm_marks() {
	tr -d '\r' <"$1" | grep -ao "@@VMTEST $2\( .*\)\{0,1\}$"
}

vm_results() {
	local log=$1 fail=0 name res rest t
	shift
	_vm_marks "$log" 'CHECK FAIL' | sed 's/^@@VMTEST CHECK //'
	while read -r _ _ name res rest; do
		echo "$res: $name ($rest)"
		[ "$res" = FAIL ] && fail=1
	done < <(_vm_marks "$log" RESULT)
	for t in "$@" kernel-log; do
		_vm_marks "$log" "RESULT $t" | grep -q . ||
			{ echo "FAIL: $t (never finished)"; fail=1; }
	done
	if ! _vm_marks "$log" ALLDONE | grep -q .; then
		echo "vm: the guest did not finish (timeout or crash)"
		fail=1
	fi
	# After vm_run: QEMU must have exited normally (the guest powered off).
	if [ "${vm_qemu_rc:-0}" != 0 ]; then
		echo "vm: QEMU exited with status $vm_qemu_rc (124: timed out)"
		fail=1
	fi
	if grep -aqE 'Kernel panic|BUG:|Oops|general protection fault' "$log"; then
		echo "vm: the guest kernel reported a crash"
		fail=1
	fi
	return $fail
}

vm_report() {
	local log=$1 name=$2
	_vm_marks "$log" INFO | sed 's/^@@VMTEST INFO /  /'
	if vm_results "$log" "$name"; then
		echo "PASS: $name"
		exit 0
	fi
	echo "FAIL: $name; the end of the console:"
	tail -n 30 "$log"
	exit 1
}

vm_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# What a free gives back, in KiB: VmRSS, or for hugetlbfs backings the huge
# pages the process maps (VmRSS does not count hugetlb pages at all).
vm_mem_kib() {
	local v
	case $2 in
	hugetlb) v=$(awk '/^(Shared|Private)_Hugetlb:/ { s += $2 } END { print s + 0 }' \
		"/proc/$1/smaps_rollup" 2>/dev/null) ;;
	*) v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null) ;;
	esac
	echo "${v:-0}"
}

# After memhog's "touched": the peak is reached while it holds the memory;
# the console line "freed" is our only clock for the free, so poll fast.
# vm_ms_to_90 stays -1 when 90% of HOG_MIB did not come back in time.
# shellcheck disable=SC2034 # results for the caller
vm_measure_free() {
	local kind=$1 hog=$2 timeout_s=$3 t_free v target
	vm_peak_kib=0 vm_seen_free_kib=0 vm_ms_to_90=-1
	vm_wait "MEMHOG: touched" 300 || return 1
	while ! grep -aq "MEMHOG: freed" "$vm_work/log"; do
		kill -0 "$vm_qpid" 2>/dev/null || return 1
		v=$(vm_mem_kib "$vm_qpid" "$kind")
		[ "$v" -gt "$vm_peak_kib" ] && vm_peak_kib=$v
		sleep 0.01
	done
	t_free=$(vm_now_ms)
	vm_seen_free_kib=$(vm_mem_kib "$vm_qpid" "$kind")
	target=$((vm_peak_kib - hog * 1024 * 9 / 10))
	while [ $(($(vm_now_ms) - t_free)) -lt $((timeout_s * 1000)) ]; do
		if [ "$(vm_mem_kib "$vm_qpid" "$kind")" -le "$target" ]; then
			vm_ms_to_90=$(($(vm_now_ms) - t_free))
			break
		fi
		sleep 0.01
	done
}
