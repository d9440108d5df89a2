# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# shellcheck disable=SC2034 # failed, qemu_user, lv_peak... are the sourcing scripts' to read
# tests/libvirt/lib.sh - what every real-libvirtd test shares: sourced by
# tests/libvirt/*.sh (and scripts/demo --libvirt), not run.
#
#   lv_need [vmhintd]   skips (77) without root, virsh/libvirtd/virtlogd,
#                       vmhintctl (and vmhintd) built, the patched QEMU cached
#   lv_setup            $work (0755, removed on exit unless
#                       VMHINT_LIBVIRT_KEEP=1), virtlogd and libvirtd started
#                       if they are not running (stopped on exit), the patched
#                       emulator installed privately as $qemu
#   lv_on_exit CMD      CMD runs on exit, before the domains go (last first)
#   lv_domain_xml NAME MACHINE EXTRA [DEVICES]  a TCG domain of the patched
#                       emulator, direct kernel boot of $lv_initrd
#                       ($work/initrd), console logged to $work/NAME.console
#   lv_guest_prep       the guest driver and tools built (tests/vm/lib.sh)
#   lv_guest_initrd OUT [KEEP_MIB]  the command guest: virtio_hint active,
#                       memhog keeps KEEP_MIB of per-page patterns (the same
#                       in every guest), "@@VMTEST INFO ready", then one
#                       console command a line: "verify" (memhog checks its
#                       kept pages), "hog MIB [HOLD_S]" (touch, hold, free),
#                       "zero MIB" (a tmpfs file of MIB zeroes: resident
#                       zero pages), "zerocheck" (it still reads as zeroes),
#                       "info TEXT" (echoed)
#   lv_console_open NAME [URI]  holds the domain's serial pty open (drained)
#   lv_send NAME LINE           a line to the guest (after lv_console_open)
#   lv_wait_line FILE ERE SECS [COUNT [PID]]  until COUNT lines match
#   lv_qemu_pid NAME [ROOT]     the domain QEMU's pid (ROOT: a libvirtd's
#                               /proc/PID/root for a daemon of its own)
#   lv_rss PID          VmRSS in KiB (0 if gone)
#   lv_measure_free PID CONSOLE HOG_MIB TIMEOUT_S [N]  the N-th "MEMHOG:
#                       touched" .. "freed" of CONSOLE: peak RSS while held
#                       ($lv_peak), time until it fell by 90% of HOG_MIB
#                       ($lv_ms, -1 if not within TIMEOUT_S), RSS 1 s after
#                       ($lv_end)
#   lv_qmp SOCKET CMD-JSON...   QMP on a unix socket: one reply line each
#   lv_qmon NAME CMD-JSON [URI] virsh qemu-monitor-command's reply
#   lv_vmhintd_start [OPTION...] [CONF-LINE...]  vmhintd -f (after lv_need
#                       vmhintd) with $work/vmhintd.conf: socket $vhd_sock,
#                       state_dir $work/state, log to $vhd_log
#                       ($work/vmhintd.log), the lines given (e.g.
#                       "ksm = off"); VMHINTD_DOMAINS=$prefix-* leaves other
#                       domains alone; $vhd_pid; stopped on exit; fails
#                       unless the socket answers in 10 s. Options, for a
#                       second vmhintd:
#                         --name N   files $work/N.{conf,sock,pid,log} and
#                                    state_dir $work/N.state
#                         --uri U    the libvirt URI (default $uri)
#                         --in PID   run it in the mount namespace of PID
#                                    (nsenter -m), e.g. a second libvirtd's
#                         --stamp    each log line starts with the time it
#                                    was written ($EPOCHREALTIME, s.us)
#                       $vhd_sock, $vhd_pid and $vhd_log name the last one
#                       started
#   lv_vmhintd_stop [SIGNAL [PID]]  stops it (TERM; PID: one started
#                       earlier, default $vhd_pid) and waits for it to exit
#   lv_ctl ARGS...      $vmhintctl -s $vhd_sock ARGS...
#
# Domains are named $prefix-* (default vmhint-test-PID) and destroyed and
# undefined on exit. Never a libvirtd this run did not start is stopped.

lv_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
top=${top:-$lv_top}
prefix=${prefix:-vmhint-test-$$}
uri=${uri:-qemu:///system}
failed=0
lv_started_virtlogd='' lv_started_libvirtd='' lv_mounted_hugetlbfs=''
lv_exit_hooks=()
lv_drains=()

skip() { echo "SKIP: $*"; exit 77; }
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
# check DESCRIPTION COMMAND...: PASS or FAIL by the command's status.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
# check_sh DESCRIPTION SHELL-EXPRESSION: the same for a compound test.
check_sh() {
	if eval "$2"; then pass "$1"; else fail "$1"; fi
}
vsh() { virsh -q -c "$uri" "$@"; }

# The build tree's program NAME (./NAME from the current directory or the
# source tree), or $2 if set.
lv_find_prog() {
	local f
	if [ -n "${2:-}" ]; then echo "$2"; return; fi
	for f in "./$1" "$top/$1"; do
		[ -x "$f" ] && { echo "$(cd "$(dirname "$f")" && pwd)/$1"; return; }
	done
}

# shellcheck disable=SC2120 # lv_need vmhintd, or no argument
lv_need() {
	local c key
	[ "$(id -u)" = 0 ] || skip "needs root (libvirtd, qemu:///system)"
	for c in virsh libvirtd virtlogd xmllint python3; do
		command -v "$c" >/dev/null || skip "no $c (scripts/install-deps libvirt)"
	done
	vmhintctl=$(lv_find_prog vmhintctl "${VMHINTCTL:-}")
	[ -x "$vmhintctl" ] ||
		skip "vmhintctl not built (configure needs libvirt-dev and libxml2-dev; set VMHINTCTL)"
	if [ "${1:-}" = vmhintd ]; then
		vmhintd=$(lv_find_prog vmhintd "${VMHINTD:-}")
		[ -x "$vmhintd" ] ||
			skip "vmhintd not built (configure needs libvirt-dev, libxml2-dev and libjson-c-dev; set VMHINTD)"
	fi
	if [ -z "${VMHINT_LIBVIRT_QEMU:-}" ]; then
		key=$("$top/scripts/build-qemu" --print-key) || skip "scripts/build-qemu --print-key failed"
		[ -f "${VMHINT_CACHE:-/var/cache/vmhint}/qemu/$key/.complete" ] ||
			skip "no patched QEMU built for key $key (run scripts/build-qemu)"
	fi
}

lv_on_exit() { lv_exit_hooks+=("$1"); }

lv_cleanup() {
	local d i
	for ((i = ${#lv_exit_hooks[@]} - 1; i >= 0; i--)); do
		eval "${lv_exit_hooks[$i]}" >/dev/null 2>&1
	done
	for i in "${lv_drains[@]}"; do kill "$i" 2>/dev/null; done
	for d in $(virsh -q -c "$uri" list --all --name 2>/dev/null | grep "^$prefix-"); do
		virsh -q -c "$uri" destroy "$d" >/dev/null 2>&1
		virsh -q -c "$uri" undefine "$d" >/dev/null 2>&1
	done
	# Only what this run started, by its own pid.
	[ -n "$lv_started_libvirtd" ] && kill "$lv_started_libvirtd" 2>/dev/null
	[ -n "$lv_started_virtlogd" ] && kill "$lv_started_virtlogd" 2>/dev/null
	if [ -n "$lv_mounted_hugetlbfs" ]; then
		# libvirtd must be gone first: it holds the mount's directory.
		for _ in $(seq 50); do [ -d "/proc/$lv_started_libvirtd" ] || break; sleep 0.1; done
		umount "$lv_mounted_hugetlbfs"
	fi
	if [ -n "${VMHINT_LIBVIRT_KEEP:-}" ]; then
		echo "kept $work"
	else
		rm -rf "$work"
	fi
}

# A running daemon of this mount namespace: not a zombie that has not been
# reaped yet, nor a daemon of the same name that another test runs in a
# namespace of its own (migrate.sh's second libvirtd), whatever their pids.
lv_daemon_pid() {
	local p ns
	ns=$(readlink /proc/self/ns/mnt)
	for p in $(pgrep -x "$1"); do
		[ "$(readlink "/proc/$p/ns/mnt" 2>/dev/null)" = "$ns" ] || continue
		[ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" = Z ] || { echo "$p"; return; }
	done
}

lv_start_daemons() {
	if [ -z "$(lv_daemon_pid virtlogd)" ]; then
		virtlogd -d || skip "virtlogd -d failed"
		sleep 0.5
		lv_started_virtlogd=$(lv_daemon_pid virtlogd)
	fi
	if [ -z "$(lv_daemon_pid libvirtd)" ]; then
		# libvirtd looks for hugetlbfs mounts when it starts; one of our
		# own lets a hugepages domain generate its command line (no
		# pages are reserved).
		if ! grep -q ' hugetlbfs ' /proc/mounts; then
			mkdir -p "$work/hugepages"
			mount -t hugetlbfs none "$work/hugepages" && lv_mounted_hugetlbfs=$work/hugepages
		fi
		libvirtd -d || skip "libvirtd -d failed"
		lv_started_libvirtd=$(lv_daemon_pid libvirtd)
	fi
	for _ in $(seq 100); do vsh uri >/dev/null 2>&1 && break; sleep 0.1; done
	vsh uri >/dev/null 2>&1 || skip "libvirtd does not answer on $uri"
}

lv_setup() {
	work=$(mktemp -d /tmp/vmhint-libvirt.XXXXXX)
	chmod 755 "$work"	# libvirt's QEMU user reads the emulator and initramfs here
	trap lv_cleanup EXIT
	lv_start_daemons
	if [ -n "${VMHINT_LIBVIRT_QEMU:-}" ]; then
		qemu=$VMHINT_LIBVIRT_QEMU
	else
		qemu=$("$top/scripts/build-qemu" --install "$work/qemu" 2>"$work/install.log") ||
			{ cat "$work/install.log"; fail "scripts/build-qemu --install"; exit 1; }
	fi
	echo "emulator: $qemu"
	lv_initrd=$work/initrd
	qemu_user=$(stat -c %U /var/lib/libvirt/qemu)
}

lv_uuid_n=0
lv_domain_xml() {
	local name=$1 machine=$2 extra=$3 devices=${4:-} cpu="<cpu mode='maximum'/>" vcpu=1
	# Guest NUMA cells come with their own <cpu>, one vCPU each.
	case $extra in *"<cpu"*) cpu='' vcpu=2 ;; esac
	lv_uuid_n=$((lv_uuid_n + 1))
	cat <<XML
<domain type='qemu'>
  <name>$name</name>
  <uuid>$(printf '7a3e0000-0000-4000-8000-%012d' $(($$ * 100 + lv_uuid_n)))</uuid>
  $extra
  <vcpu>$vcpu</vcpu>
  <os>
    <type arch='x86_64' machine='$machine'>hvm</type>
    <kernel>$vm_kernel</kernel>
    <initrd>$lv_initrd</initrd>
    <cmdline>console=ttyS0 panic=-1 loglevel=4</cmdline>
  </os>
  <features><acpi/><apic/></features>
  $cpu
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$qemu</emulator>
    <serial type='pty'><log file='$work/$name.console' append='${LV_CONSOLE_APPEND:-off}'/></serial>
    <console type='pty'/>
    <memballoon model='none'/>
    $devices
  </devices>
</domain>
XML
}

lv_inactive() { vsh dumpxml --inactive --security-info "$1"; }

lv_guest_prep() {
	# shellcheck source=../vm/lib.sh
	. "$top/tests/vm/lib.sh"	# vm_need, vm_build_driver, vm_initramfs, vm_kernel
	(vm_need) >"$work/need.log" ||
		{ cat "$work/need.log"; exit "$(grep -q SKIP "$work/need.log" && echo 77 || echo 1)"; }
	vm_build_driver || { fail "build the guest driver and tools"; exit 1; }
}

lv_guest_initrd() {
	local out=$1 keep=${2:-0}
	cat >"$work/cmdguest" <<GUEST
#!/bin/sh
. /lib/vmtest.sh
insmod /lib/modules/virtio_hint.ko active=1 || vm_fail insmod
d=\$(ls -d /sys/bus/virtio/drivers/virtio_hint/virtio* 2>/dev/null | head -1)
[ -n "\$d" ] && vm_info "bound \${d##*/}" || vm_fail "device not bound"
mkfifo /tmp/mh || vm_fail mkfifo
if [ $keep -gt 0 ]; then
	# Its lines to the console and to a file: ready once the pattern is in.
	memhog 1 0 0 $keep </tmp/mh | tee /tmp/mh.out &
	exec 3>/tmp/mh
	while ! grep -q freed /tmp/mh.out 2>/dev/null; do sleep 0.2; done
fi
sleep 1
vm_info "ready"
while read -r cmd arg; do
	case \$cmd in
	verify) echo verify >&3 ;;
	hog) memhog \$arg 0 || vm_fail "memhog \$arg" ;;
	zero) dd if=/dev/zero of=/tmp/zero bs=1M count=\$arg 2>/dev/null && vm_info "zeroed \$arg" ;;
	zerocheck) [ "\$(tr -d '\\000' </tmp/zero | wc -c)" = 0 ] && vm_info "zero intact" || vm_fail "zero file changed" ;;
	info) vm_info "\$arg" ;;
	esac
done
vm_end
GUEST
	chmod 755 "$work/cmdguest"
	vm_initramfs "$out" --driver --interactive --bin "$top/src/guest/tools/memhog" -- "$work/cmdguest"
}

lv_console_open() {
	local name=$1 c=${2:-$uri} pty
	pty=$(virsh -q -c "$c" dumpxml "$name" | xmllint --xpath 'string(//serial/source/@path)' -)
	[ -c "$pty" ] || return 1
	cat "$pty" >/dev/null 2>&1 &
	lv_drains+=($!)
	eval "lv_pty_$(echo "$name" | tr -c 'a-zA-Z0-9\n' _)=\$pty"
}

lv_send() {
	local v
	v=lv_pty_$(echo "$1" | tr -c 'a-zA-Z0-9\n' _)
	printf '%s\n' "$2" >"${!v}"
}

lv_wait_line() {
	local file=$1 re=$2 end=$(($(date +%s) + $3)) count=${4:-1} pid=${5:-}
	while [ "$(tr -d '\r' <"$file" 2>/dev/null | grep -acE "$re")" -lt "$count" ]; do
		[ "$(date +%s)" -lt $end ] || return 1
		[ -z "$pid" ] || [ -d "/proc/$pid" ] || return 1
		sleep 0.05
	done
}

lv_qemu_pid() { cat "${2:-}/run/libvirt/qemu/$1.pid" 2>/dev/null; }
lv_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

lv_measure_free() {
	local pid=$1 con=$2 hog=$3 timeout_s=$4 n=${5:-1} tf target v
	lv_peak=0 lv_end=0 lv_ms=-1
	lv_wait_line "$con" "MEMHOG: touched" 300 "$n" "$pid" || return 1
	while [ "$(grep -ac "MEMHOG: freed" "$con")" -lt "$n" ]; do
		v=$(lv_rss "$pid")
		[ "$v" -gt "$lv_peak" ] && lv_peak=$v
		[ -d "/proc/$pid" ] || return 1
		sleep 0.02
	done
	tf=$(date +%s%N)
	target=$((lv_peak - hog * 1024 * 9 / 10))
	while [ $((($(date +%s%N) - tf) / 1000000)) -lt $((timeout_s * 1000)) ]; do
		if [ "$(lv_rss "$pid")" -le "$target" ]; then
			lv_ms=$((($(date +%s%N) - tf) / 1000000))
			break
		fi
		sleep 0.02
	done
	sleep 1
	lv_end=$(lv_rss "$pid")
}

lv_qmp() {
	python3 - "$@" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
def cmd(c):
    f.write(c + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
json.loads(f.readline())  # greeting
cmd('{"execute":"qmp_capabilities"}')
rc = 0
for c in sys.argv[2:]:
    r = cmd(c)
    print(json.dumps(r))
    rc |= "error" in r
sys.exit(rc)
PY
}

lv_qmon() { virsh -q -c "${3:-$uri}" qemu-monitor-command "$1" "$2"; }

# --- vmhintd ----------------------------------------------------------------

lv_vmhintd_start() {
	local l name=vmhintd vuri=$uri state=$work/state stamp='' wrap=()
	while [ $# -gt 0 ]; do
		case $1 in
		--name) name=$2 state=$work/$2.state; shift 2 ;;
		--uri) vuri=$2; shift 2 ;;
		--in) wrap=(nsenter -m -t "$2" --); shift 2 ;;
		--stamp) stamp=1; shift ;;
		*) break ;;
		esac
	done
	vhd_sock=$work/$name.sock vhd_log=$work/$name.log
	mkdir -p "$state"
	{
		echo "uri = $vuri"
		echo "socket = $vhd_sock"
		echo "pidfile = $work/$name.pid"
		echo "state_dir = $state"
		echo "log = stderr"
		for l in "$@"; do echo "$l"; done
	} >"$work/$name.conf"
	if [ -n "$stamp" ]; then
		VMHINTD_DOMAINS="$prefix-*" "${wrap[@]}" "$vmhintd" -f -v \
			-c "$work/$name.conf" >>"$vhd_log" 2> >(lv_stamp >>"$vhd_log") &
	else
		VMHINTD_DOMAINS="$prefix-*" "${wrap[@]}" "$vmhintd" -f -v \
			-c "$work/$name.conf" >>"$vhd_log" 2>&1 &
	fi
	vhd_pid=$!
	lv_on_exit "lv_vmhintd_stop TERM $vhd_pid"
	for _ in $(seq 100); do
		lv_ctl list >/dev/null 2>&1 && return 0
		kill -0 "$vhd_pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "vmhintd did not answer on $vhd_sock:"
	tail -n 20 "$vhd_log"
	return 1
}

# Each line of standard input, after the time it was read.
lv_stamp() {
	local l
	while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done
}

lv_vmhintd_stop() {
	local pid=${2:-${vhd_pid:-}}
	[ -n "$pid" ] || return 0
	# Stopped already (and its pid maybe another process's by now).
	grep -qa vmhintd "/proc/$pid/cmdline" 2>/dev/null || return 0
	kill "-${1:-TERM}" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ "$pid" != "${vhd_pid:-}" ] || vhd_pid=''
}

lv_ctl() { "$vmhintctl" -s "$vhd_sock" "$@"; }
