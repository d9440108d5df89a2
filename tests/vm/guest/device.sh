#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# virtio_hint.ko against the real virtio-hint device (patched QEMU):
#  1. binds, reads a sane config, page reporting and active mode get OK
#     answers;
#  2. hostile raw requests (vhhostile) each get an error status, and the
#     device still answers a good request afterwards;
#  3. unload while active mode and a memory churner keep requests in
#     flight, five times, no kernel warning;
#  4. a request without room for the response breaks the device; the
#     driver resets it, fails the request, and a reload works again;
#  5. a request the host never answers: unbind resets the device after the
#     grace period and fails it; a rebind works;
#  6. QEMU is still running at the end and exits normally.
# Env: tests/vm/lib.sh's (VMHINT_QEMU: the patched QEMU; default what
# scripts/build-qemu built already). Exit: 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "$0")/../lib.sh"
vm_setup_patched

cat >"$work/device" <<'GUEST'
#!/bin/sh
. /lib/vmtest.sh
H=/sys/bus/virtio/drivers/virtio_hint
dev() { ls -d $H/virtio* 2>/dev/null | head -1; }
val() { cat "$(dev)/hint/$1"; }

insmod /lib/modules/virtio_hint.ko raw=1 || vm_fail insmod
d=$(dev); [ -n "$d" ] || { vm_fail "device not bound"; vm_end; }
n=$(basename $d)
vm_info "$n version $(val config_version) page_size $(val config_page_size) max_ranges $(val config_max_ranges) features '$(val features)' reporting $(val reporting)"
[ "$(val config_version)" = 1 ] || vm_fail "config_version"

# 1. page reporting (boot-time pass) and an active pass get OK answers.
memhog 128 0 0 >/dev/null
echo 1 >$d/hint/hint_now; sleep 3
vm_info "ok=$(val status_ok) report_bytes=$(val report_bytes) active_passes=$(val active_passes) err_proto=$(val err_proto)"
[ "$(val status_ok)" -gt 0 ] || vm_fail "no OK answer"
[ "$(val err_proto)" = 0 ] || vm_fail "invalid responses"

# 2. hostile requests, then a good one still works.
ok0=$(val status_ok)
vhhostile /sys/kernel/debug/virtio_hint/$n $(val config_max_ranges) || vm_fail "vhhostile"
memhog 64 0 0 >/dev/null
echo 1 >$d/hint/hint_now; sleep 3
[ "$(val status_ok)" -gt "$ok0" ] || vm_fail "no OK answer after hostile requests"
grep . $d/hint/status_* | sed 's|.*/|@@VMTEST INFO |'
rmmod virtio_hint || vm_fail "rmmod after hostile"

# 3. unload with requests in flight.
for i in 1 2 3 4 5; do
	insmod /lib/modules/virtio_hint.ko active=1 active_interval_ms=10 active_threshold_mb=0 ||
		vm_fail "insmod busy $i"
	( while :; do memhog 96 0 0 >/dev/null; done ) & churn=$!
	( while :; do echo 1 >$(dev)/hint/hint_now 2>/dev/null; done ) & poke=$!
	sleep 2
	vm_info "busy $i: requests $(val requests)"
	rmmod virtio_hint || vm_fail "rmmod busy $i"
	kill $churn $poke; wait $churn $poke 2>/dev/null
done

# 4. a request the device must refuse by breaking; reload recovers.
insmod /lib/modules/virtio_hint.ko raw=1 || vm_fail "insmod break"
vhhostile /sys/kernel/debug/virtio_hint/$(basename $(dev)) 1 break || vm_fail "break not handled"
[ "$(val broken)" = 1 ] || vm_fail "broken not set"
rmmod virtio_hint || vm_fail "rmmod broken"
insmod /lib/modules/virtio_hint.ko || vm_fail "insmod after break"
ok0=$(val status_ok)
memhog 64 0 0 >/dev/null
echo 1 >$(dev)/hint/hint_now; sleep 3
[ "$(val status_ok)" -gt "$ok0" ] || vm_fail "device dead after reload"
rmmod virtio_hint || vm_fail "rmmod after reload"

# 5. a request the host never sees (raw_hold): unbinding waits 10 s, resets
#    the device, fails the request; binding again works.
insmod /lib/modules/virtio_hint.ko raw=1 || vm_fail "insmod hold"
n=$(basename $(dev))
echo Y >/sys/kernel/debug/virtio_hint/$n/raw_hold
( echo x >/sys/kernel/debug/virtio_hint/$n/raw; vm_info "held write rc $?" ) &
writer=$!
sleep 1
t0=$(date +%s)
echo $n >$H/unbind || vm_fail unbind
vm_info "unbind with a request in flight took $(($(date +%s) - t0)) s"
wait $writer
dmesg | grep -q "host did not complete a request; resetting" || vm_fail "no reset on unbind"
echo $n >$H/bind || vm_fail bind
ok0=$(val status_ok)
memhog 64 0 0 >/dev/null
echo 1 >$(dev)/hint/hint_now; sleep 3
[ "$(val status_ok)" -gt "$ok0" ] || vm_fail "device dead after rebind"
rmmod virtio_hint || vm_fail "final rmmod"
# The driver's own reset message is expected; anything else is not.
dmesg | grep -i "virtio_hint\|virtio-hint" | sed 's/^/@@VMTEST INFO dmesg: /'
vm_end
GUEST

chmod +x "$work/device"
vm_initramfs "$work/initrd" --driver --bin "$vm_top/src/guest/tools/memhog" \
	--bin "$vm_top/src/guest/tools/vhhostile" -- "$work/device" || { echo "FAIL: initramfs"; exit 1; }
# shellcheck disable=SC2046 # vm_device_args prints QEMU arguments as words
vm_run "$work/initrd" "$work/log" --qemu "$vm_patched" --mem 1024 --smp 1 -- $(vm_device_args 1024)
cp "$work/log" /tmp/vm-guest-device.log
echo "console in /tmp/vm-guest-device.log"
grep -a "HOSTILE" "$work/log"
vm_report "$work/log" device
