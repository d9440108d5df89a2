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
# Env: VMHINT_QEMU (patched qemu-system-x86_64; default: scripts/build-qemu
# output if already built). Exit: 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "$0")/lib.sh"
vh_setup_patched

cat >"$work/init" <<'GUEST'
#!/bin/sh
. /lib/vhtest.sh
H=/sys/bus/virtio/drivers/virtio_hint
dev() { ls -d $H/virtio* 2>/dev/null | head -1; }
val() { cat "$(dev)/hint/$1"; }

insmod /lib/modules/virtio_hint.ko raw=1 || vh_fail insmod
d=$(dev); [ -n "$d" ] || { vh_fail "device not bound"; vh_done; }
n=$(basename $d)
echo "VHTEST: $n version $(val config_version) page_size $(val config_page_size) max_ranges $(val config_max_ranges) features '$(val features)' reporting $(val reporting)"
[ "$(val config_version)" = 1 ] || vh_fail "config_version"

# 1. page reporting (boot-time pass) and an active pass get OK answers.
memhog 128 0 0 >/dev/null
echo 1 >$d/hint/hint_now; sleep 3
echo "VHTEST: ok=$(val status_ok) report_bytes=$(val report_bytes) active_passes=$(val active_passes) err_proto=$(val err_proto)"
[ "$(val status_ok)" -gt 0 ] || vh_fail "no OK answer"
[ "$(val err_proto)" = 0 ] || vh_fail "invalid responses"

# 2. hostile requests, then a good one still works.
ok0=$(val status_ok)
vhhostile /sys/kernel/debug/virtio_hint/$n $(val config_max_ranges) || vh_fail "vhhostile"
memhog 64 0 0 >/dev/null
echo 1 >$d/hint/hint_now; sleep 3
[ "$(val status_ok)" -gt "$ok0" ] || vh_fail "no OK answer after hostile requests"
grep . $d/hint/status_* | sed 's|.*/|VHTEST: |'
rmmod virtio_hint || vh_fail "rmmod after hostile"

# 3. unload with requests in flight.
for i in 1 2 3 4 5; do
	insmod /lib/modules/virtio_hint.ko active=1 active_interval_ms=10 active_threshold_mb=0 ||
		vh_fail "insmod busy $i"
	( while :; do memhog 96 0 0 >/dev/null; done ) & churn=$!
	( while :; do echo 1 >$(dev)/hint/hint_now 2>/dev/null; done ) & poke=$!
	sleep 2
	echo "VHTEST: busy $i: requests $(val requests)"
	rmmod virtio_hint || vh_fail "rmmod busy $i"
	kill $churn $poke; wait $churn $poke 2>/dev/null
done

# 4. a request the device must refuse by breaking; reload recovers.
insmod /lib/modules/virtio_hint.ko raw=1 || vh_fail "insmod break"
vhhostile /sys/kernel/debug/virtio_hint/$(basename $(dev)) 1 break || vh_fail "break not handled"
[ "$(val broken)" = 1 ] || vh_fail "broken not set"
rmmod virtio_hint || vh_fail "rmmod broken"
insmod /lib/modules/virtio_hint.ko || vh_fail "insmod after break"
ok0=$(val status_ok)
memhog 64 0 0 >/dev/null
echo 1 >$(dev)/hint/hint_now; sleep 3
[ "$(val status_ok)" -gt "$ok0" ] || vh_fail "device dead after reload"
rmmod virtio_hint || vh_fail "rmmod after reload"

# 5. a request the host never sees (raw_hold): unbinding waits 10 s, resets
#    the device, fails the request; binding again works.
insmod /lib/modules/virtio_hint.ko raw=1 || vh_fail "insmod hold"
n=$(basename $(dev))
echo Y >/sys/kernel/debug/virtio_hint/$n/raw_hold
( echo x >/sys/kernel/debug/virtio_hint/$n/raw; echo "VHTEST: held write rc $?" ) &
writer=$!
sleep 1
t0=$(date +%s)
echo $n >$H/unbind || vh_fail unbind
echo "VHTEST: unbind with a request in flight took $(($(date +%s) - t0)) s"
wait $writer
dmesg | grep -q "host did not complete a request; resetting" || vh_fail "no reset on unbind"
echo $n >$H/bind || vh_fail bind
ok0=$(val status_ok)
memhog 64 0 0 >/dev/null
echo 1 >$(dev)/hint/hint_now; sleep 3
[ "$(val status_ok)" -gt "$ok0" ] || vh_fail "device dead after rebind"
rmmod virtio_hint || vh_fail "final rmmod"
# The driver's own reset message is expected; anything else is not.
dmesg | grep -i "virtio_hint\|virtio-hint" | sed 's/^/VHTEST: dmesg: /'
vh_done
GUEST

vh_mkinitramfs "$work/initrd" "$work/init" "$vh_top/src/guest/tools/memhog" \
	"$vh_top/src/guest/tools/vhhostile" || { echo "FAIL: initramfs"; exit 1; }
MEM=1G
# shellcheck disable=SC2046
QEMU=$VMHINT_QEMU vh_boot "$work/initrd" "$work/log" $(vh_device_args)
rc=$?
grep -E "VHTEST|HOSTILE|WARNING|BUG|Call Trace" "$work/log"
cp "$work/log" /tmp/vm-guest-device.log
if [ $rc = 0 ] && grep -q "VHTEST: PASS" "$work/log"; then
	echo "PASS: device"
	exit 0
fi
echo "FAIL: device (qemu rc $rc); console in /tmp/vm-guest-device.log"
tail -20 "$work/log"
exit 1
