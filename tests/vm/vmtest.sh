# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=dash disable=SC3043 # busybox ash has local
# tests/vm/vmtest.sh - the guest side of the VM harness (tests/vm/lib.sh),
# for busybox sh. It is /lib/vmtest.sh in the initramfs: /init runs vm_init,
# and a test script sources it for vm_fail, vm_info and vm_end.
#
# The harness's markers, each at the start of a console line (a test never
# prints "@@VMTEST" itself):
#   @@VMTEST BOOTED nodes=N cpus=N
#   @@VMTEST BEGIN NAME
#   @@VMTEST INFO TEXT          vm_info: a figure or a state the host shows
#                               or waits for
#   @@VMTEST CHECK FAIL TEXT    vm_fail: a failed check; the test goes on
#                               and fails at vm_end
#   @@VMTEST RESULT NAME PASS|FAIL|SKIP rc=N start=S end=S
#   @@VMTEST ALLDONE
# A test is an executable in /tests: exit 0 pass, 77 skip, else fail.

vm_fail() { echo "@@VMTEST CHECK FAIL $*"; VM_FAILED=1; }
vm_info() { echo "@@VMTEST INFO $*"; }
# The last line of a test script: its exit status says whether a check failed.
vm_end() { [ -z "${VM_FAILED:-}" ] && exit 0; exit 1; }

# Run after the tests: anything the kernel flagged fails the run, whatever
# the tests saw.
vm_kernel_log() {
	if dmesg | grep -E "WARNING:|BUG:|Oops|Call Trace|general protection|refcount_t"; then
		vm_fail "kernel log has warnings"
	fi
	vm_end
}

# vm_test NAME CMD...: one test between its BEGIN and RESULT markers.
vm_test() {
	local name=$1 start end rc res
	shift
	echo "@@VMTEST BEGIN $name"
	start=$(cut -d' ' -f1 /proc/uptime)
	if [ -e /tests/INTERACTIVE ]; then
		"$@"	# the host talks to it on the console
	else
		"$@" </dev/null
	fi
	rc=$?
	end=$(cut -d' ' -f1 /proc/uptime)
	case $rc in 0) res=PASS ;; 77) res=SKIP ;; *) res=FAIL ;; esac
	echo "@@VMTEST RESULT $name $res rc=$rc start=$start end=$end"
}

# /init: mounts, the modules of /lib/modules/LOAD in order, /tests/SETUP
# (one shell command a line), the tests of /tests/LIST ("NAME:ARGS" a
# line), the kernel log check, power off.
vm_init() {
	local m cmd name args
	/bin/busybox --install -s /bin
	export PATH=/bin:/sbin
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev 2>/dev/null
	mount -t tmpfs tmpfs /tmp
	mount -t debugfs debugfs /sys/kernel/debug
	nodes=0
	for n in /sys/devices/system/node/node*; do
		[ -e "$n" ] && nodes=$((nodes + 1))
	done
	echo "@@VMTEST BOOTED nodes=$nodes cpus=$(nproc)"
	while read -r m; do
		[ -n "$m" ] || continue
		insmod "/lib/modules/$m.ko" || echo "@@VMTEST RESULT insmod-$m FAIL rc=1"
	done </lib/modules/LOAD
	while IFS= read -r cmd; do
		[ -n "$cmd" ] || continue
		sh -c "$cmd" || echo "@@VMTEST RESULT setup FAIL rc=$?"
	done </tests/SETUP
	cd /tests || return
	# The list on fd 3: stdin stays the console, for interactive tests.
	while IFS=: read -r name args <&3; do
		[ -n "$name" ] || continue
		# shellcheck disable=SC2086 # the arguments are words
		vm_test "$name" "/tests/$name" $args 3<&-
	done 3</tests/LIST
	vm_test kernel-log sh -c '. /lib/vmtest.sh; vm_kernel_log'
	echo "@@VMTEST ALLDONE"
	sync
	poweroff -f
}
