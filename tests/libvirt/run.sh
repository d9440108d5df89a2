#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/libvirt/run.sh - vmhintctl and the patched QEMU under a real libvirtd.
#
#   domcaps   virsh domcapabilities of the patched emulator equals that of
#             Debian's /usr/bin/qemu-system-x86_64 (but for its path)
#   xml-*     vmhintctl attach on defined domains of each memory layout
#             (plain, memfd, hugepages, 2 guest NUMA cells, DIMMs, q35):
#             every memdev of the vmhint object is a memory backend in the
#             command line libvirt generates (virsh domxml-to-native), the
#             device is at the chipset slot; attach twice gives the same
#             XML; detach gives back the original XML (diff)
#   bad-*     unknown domain, bad options, a domain XML without memory,
#             dedupe with <nosharepages/>, a hand-written vmhint argument,
#             detach without attach: "error: ..." on stderr, exit 1, and
#             the domain XML unchanged (diff)
#   boot      a plain TCG domain (<cpu mode='maximum'/>, direct kernel boot
#             of the Debian kernel, busybox initramfs with virtio_hint.ko
#             and memhog) with the patched emulator, vmhintctl attach, virsh
#             start: QEMU runs as libvirt's QEMU user with -sandbox on, the
#             vmhint object and device answer query-vmhint (time from virsh
#             start), a hotplugged device gets an address of its own, the
#             guest touches and frees HOG_MB and QEMU's RSS falls by >= 90%
#             of it; vmhintctl detach restores the original XML (diff)
#
# It starts virtlogd and libvirtd if they are not running and stops what it
# started; its domains are named vmhint-test-PID-* and destroyed and
# undefined on exit. The patched emulator is installed into a private
# directory from scripts/build-qemu's cache (building is not a test's job).
#
# Env: VMHINT_LIBVIRT_QEMU (an installed emulator to use instead),
#      VMHINTCTL (default: ./vmhintctl of the build tree, found from the
#      current directory or the source tree), HOG_MB (1024), GUEST_MB
#      (1536), DROP_TIMEOUT (s, 60), VMHINT_LIBVIRT_KEEP=1 keeps the work
#      directory.
# Exit: 0 all passed, 77 skipped (the reason is printed), 1 a check failed.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
HOG_MB=${HOG_MB:-1024}
GUEST_MB=${GUEST_MB:-1536}
DROP_TIMEOUT=${DROP_TIMEOUT:-60}

lv_need
lv_setup

# --- domcaps: libvirt sees what it sees in Debian's QEMU ----------------------
# Everything but the binary's path; the differences are shown.
domcaps() { vsh domcapabilities --emulatorbin "$1" --virttype qemu | grep -v '^ *<path>'; }
if [ -x /usr/bin/qemu-system-x86_64 ]; then
	domcaps /usr/bin/qemu-system-x86_64 >"$work/domcaps.debian"
	domcaps "$qemu" >"$work/domcaps.vmhint"
	if diff -u "$work/domcaps.debian" "$work/domcaps.vmhint" >"$work/domcaps.diff"; then
		pass "domcaps: virsh domcapabilities of $qemu = of /usr/bin/qemu-system-x86_64 ($(wc -l <"$work/domcaps.debian") lines)"
	else
		fail "domcaps: virsh domcapabilities differ from Debian's QEMU:"
		cat "$work/domcaps.diff"
	fi
else
	echo "domcaps: no /usr/bin/qemu-system-x86_64 to compare with (qemu-system-x86)"
fi

# --- helpers -------------------------------------------------------------------
domain_xml() { lv_domain_xml "$@"; }
inactive() { lv_inactive "$@"; }

# The -object vmhint's memdev IDs and the memory backends' IDs in ARGV.
# Both spellings of the list: memdev=a,memdev=b and memdev=a:b (vmhint 0.1).
memdevs_of() {
	grep -o "vmhint,id=vmhint0,[^ ']*" "$1" | tr ',' '\n' |
		sed -n 's/^memdev\(\.[0-9]*\)\{0,1\}=//p' | tr ':' '\n'
}
backends_of() { grep -o '"qom-type":"memory-backend-[a-z]*","id":"[^"]*"' "$1" | sed 's/.*"id":"//; s/"$//'; }

# xml_case NAME MACHINE WANT_MEMDEVS WANT_ADDR EXTRA [DEVICES]
xml_case() {
	local c=$1 machine=$2 want=$3 addr=$4 extra=$5 devices=${6:-} d=$prefix-xml-$1 got b ok=1
	domain_xml "$d" "$machine" "$extra" "$devices" >"$work/$c.in.xml"
	if ! vsh define "$work/$c.in.xml" >"$work/$c.define.log" 2>&1; then
		fail "xml-$c: virsh define: $(cat "$work/$c.define.log")"
		return
	fi
	inactive "$d" >"$work/$c.orig.xml"
	"$vmhintctl" attach "$d" --mode lazy >/dev/null || { fail "xml-$c: attach"; return; }
	inactive "$d" >"$work/$c.att.xml"
	"$vmhintctl" attach "$d" --mode lazy >/dev/null || { fail "xml-$c: attach again"; return; }
	inactive "$d" >"$work/$c.att2.xml"
	check "xml-$c: attach twice gives the same XML" cmp -s "$work/$c.att.xml" "$work/$c.att2.xml"
	if [ "$c" = hugepages ] && ! grep -q ' hugetlbfs ' /proc/mounts; then
		echo "SKIP: xml-$c: no hugetlbfs mounted for the running libvirtd: command line not generated"
	elif vsh domxml-to-native qemu-argv --domain "$d" >"$work/$c.argv" 2>"$work/$c.argv.err"; then
		got=$(memdevs_of "$work/$c.argv" | tr '\n' ' ')
		[ "$got" = "$want " ] || { ok=0; echo "  memdevs '$got', want '$want '"; }
		for b in $got; do
			backends_of "$work/$c.argv" | grep -qxF "$b" ||
				{ ok=0; echo "  memdev $b is no memory backend libvirt creates"; }
		done
		grep -q "virtio-hint-pci,id=vmhint-dev0,vmhint=vmhint0,$addr" "$work/$c.argv" ||
			{ ok=0; echo "  device not at $addr"; }
		if [ $ok = 1 ]; then
			pass "xml-$c: memdevs $got= libvirt's backends, device at $addr"
		else
			fail "xml-$c: memdevs/address (argv in $work/$c.argv)"
		fi
	else
		fail "xml-$c: domxml-to-native: $(cat "$work/$c.argv.err")"
	fi
	"$vmhintctl" detach "$d" >/dev/null || fail "xml-$c: detach"
	inactive "$d" >"$work/$c.det.xml"
	check "xml-$c: detach restores the original XML" diff -u "$work/$c.orig.xml" "$work/$c.det.xml"
	vsh undefine "$d" >/dev/null
}

# bad_case NAME DOMAIN EXPECT-REGEX CMD...: exit 1, "error: " matching
# EXPECT-REGEX on stderr, nothing on stdout, DOMAIN's XML unchanged.
bad_case() {
	local c=$1 d=$2 re=$3 rc
	shift 3
	[ -n "$d" ] && inactive "$d" >"$work/bad-$c.before"
	"$@" >"$work/bad-$c.out" 2>"$work/bad-$c.err"
	rc=$?
	[ -n "$d" ] && inactive "$d" >"$work/bad-$c.after"
	if [ $rc = 1 ] && grep -qE "^error: .*$re" "$work/bad-$c.err" && [ ! -s "$work/bad-$c.out" ] &&
		{ [ -z "$d" ] || cmp -s "$work/bad-$c.before" "$work/bad-$c.after"; }; then
		pass "bad-$c: exit 1, $(head -n1 "$work/bad-$c.err"), XML unchanged"
	else
		fail "bad-$c: rc $rc, stderr '$(tr '\n' ' ' <"$work/bad-$c.err")', stdout '$(head -c 200 "$work/bad-$c.out")'"
	fi
}

# --- guest -------------------------------------------------------------------
lv_guest_prep
# The guest's one test: the driver in active mode, then memhog touches,
# holds and frees HOG_MB; it stays up until the host destroys it.
cat >"$work/hog" <<GUEST
#!/bin/sh
. /lib/vmtest.sh
insmod /lib/modules/virtio_hint.ko active=1 || vm_fail insmod
d=\$(ls -d /sys/bus/virtio/drivers/virtio_hint/virtio* 2>/dev/null | head -1)
[ -n "\$d" ] && vm_info "bound \${d##*/}" || vm_fail "device not bound"
sleep 3
memhog $HOG_MB 5 0 0
vm_info "memhog done"
while :; do sleep 60; done
GUEST
chmod 755 "$work/hog"
vm_initramfs "$work/initrd" --driver --bin "$top/src/guest/tools/memhog" -- "$work/hog" ||
	{ fail "initramfs"; exit 1; }

# --- xml-* ---------------------------------------------------------------------
mem="<memory unit='MiB'>$GUEST_MB</memory>"
numa_cells="<cpu mode='maximum'><numa><cell id='0' cpus='0' memory='512' unit='MiB'/><cell id='1' cpus='1' memory='512' unit='MiB'/></numa></cpu>"
xml_case plain pc "pc.ram" "bus=pci.0,addr=0x1.0x7" "$mem"
xml_case memfd pc "pc.ram" "bus=pci.0,addr=0x1.0x7" \
	"$mem<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
xml_case hugepages pc "pc.ram" "bus=pci.0,addr=0x1.0x7" \
	"$mem<memoryBacking><hugepages/></memoryBacking>"
xml_case q35 q35 "pc.ram" "bus=pcie.0,addr=0x1f.0x7" "$mem"
xml_case numa pc "ram-node0 ram-node1" "bus=pci.0,addr=0x1.0x7" \
	"<memory unit='MiB'>1024</memory>$numa_cells"
xml_case dimm pc "ram-node0 ram-node1 memdimm0 memdimm1" "bus=pci.0,addr=0x1.0x7" \
	"<maxMemory slots='4' unit='MiB'>4096</maxMemory><memory unit='MiB'>1536</memory>$numa_cells" \
	"<memory model='dimm'><target><size unit='MiB'>256</size><node>0</node></target></memory>
	 <memory model='dimm'><target><size unit='MiB'>256</size><node>1</node></target></memory>"

# --- bad-* ---------------------------------------------------------------------
bd=$prefix-bad
domain_xml "$bd" pc "$mem<memoryBacking><nosharepages/></memoryBacking>" >"$work/bad.xml"
vsh define "$work/bad.xml" >/dev/null || fail "define $bd"
bad_case unknown-domain "$bd" "failed to get domain '$prefix-nosuch'" \
	"$vmhintctl" attach "$prefix-nosuch"
bad_case bad-mode "$bd" "invalid --mode 'fast'" "$vmhintctl" attach "$bd" --mode fast
bad_case bad-option "$bd" "doesn't support option --bogus" "$vmhintctl" attach "$bd" --bogus
bad_case bad-nodes "$bd" "invalid --numa-nodes '64'" \
	"$vmhintctl" attach "$bd" --numa-policy bind --numa-nodes 64
bad_case bad-table "$bd" "invalid --dedupe table" "$vmhintctl" attach "$bd" --dedupe 'a/b'
bad_case nosharepages "$bd" "nosharepages" "$vmhintctl" attach "$bd" --dedupe t1
bad_case detach-none "$bd" "has no vmhint configuration" "$vmhintctl" detach "$bd"
bad_case no-command "" "unknown command: 'frob'" "$vmhintctl" frob "$bd"
sed '/<memory /d' "$work/bad.xml" >"$work/nomem.xml"
cp "$work/nomem.xml" "$work/nomem.orig"
bad_case no-memory "" "has no <memory>" "$vmhintctl" attach --file "$work/nomem.xml"
check "bad-no-memory: the file is unchanged" cmp -s "$work/nomem.xml" "$work/nomem.orig"
# A hand-written vmhint object: attach does not add a second one.
sed "s|<domain type='qemu'>|<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>|; s|</domain>|<qemu:commandline><qemu:arg value='-object'/><qemu:arg value='vmhint,id=vh0,memdev=pc.ram'/></qemu:commandline></domain>|" \
	"$work/bad.xml" >"$work/hand.xml"
vsh define "$work/hand.xml" >/dev/null || fail "define $bd (hand-written)"
bad_case hand-written "$bd" "did not add" "$vmhintctl" attach "$bd"
vsh undefine "$bd" >/dev/null

# --- boot ----------------------------------------------------------------------
d=$prefix-boot
domain_xml "$d" pc "$mem" >"$work/boot.xml"
vsh define "$work/boot.xml" >/dev/null || { fail "boot: define"; exit 1; }
inactive "$d" >"$work/boot.orig.xml"
"$vmhintctl" attach "$d" >"$work/boot.attach.log" 2>&1 ||
	{ fail "boot: vmhintctl attach: $(cat "$work/boot.attach.log")"; exit 1; }
t0=$(date +%s%N)
if ! vsh start "$d" >"$work/boot.start.log" 2>&1; then
	fail "boot: virsh start: $(cat "$work/boot.start.log")"
	exit 1
fi
q=
for _ in $(seq 300); do
	q=$(vsh qemu-monitor-command "$d" '{"execute":"query-vmhint"}' 2>/dev/null) && break
	sleep 0.05
done
t1=$(date +%s%N)
if [ -n "$q" ]; then
	pass "boot: query-vmhint answered $(((t1 - t0) / 1000000)) ms after virsh start"
else
	fail "boot: query-vmhint never answered"
fi
echo "$q" >"$work/boot.query-vmhint.json"
if grep -q '"vmhint0"' "$work/boot.query-vmhint.json" && grep -q '"pc.ram"' "$work/boot.query-vmhint.json"; then
	pass "boot: query-vmhint lists object vmhint0 over pc.ram"
else
	fail "boot: query-vmhint: $(head -c 400 "$work/boot.query-vmhint.json")"
fi
# vmhintd's own QMP socket, from the domain's metadata.
sock=$(vsh dumpxml "$d" | sed -n "s/.*<vmhint:qmp socket=['\"]\([^'\"]*\)['\"].*/\1/p")
if python3 - "$sock" >"$work/boot.qmp.log" 2>&1 <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
def cmd(c):
    f.write(json.dumps({"execute": c}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
json.loads(f.readline())  # greeting
cmd("qmp_capabilities")
r = cmd("query-vmhint")
print(json.dumps(r))
sys.exit(0 if "return" in r else 1)
PY
then
	pass "boot: query-vmhint over the domain's own QMP socket $sock"
else
	fail "boot: QMP socket ${sock:-?}: $(tail -n 3 "$work/boot.qmp.log")"
fi
pid=$(cat "/run/libvirt/qemu/$d.pid" 2>/dev/null)
qemu_user=$(stat -c %U /var/lib/libvirt/qemu)
check "boot: QEMU (pid ${pid:-?}) runs as $qemu_user" [ "$(ps -o user= -p "${pid:-0}" | tr -d ' ')" = "$qemu_user" ]
tr '\0' ' ' <"/proc/${pid:-0}/cmdline" >"$work/boot.cmdline" 2>/dev/null
sb=$(grep -o -- '-sandbox [^ ]*' "$work/boot.cmdline")
check "boot: ${sb:-no -sandbox} on QEMU's command line" grep -q -- '-sandbox on,' "$work/boot.cmdline"
check "boot: seccomp filter installed (Seccomp: $(awk '/^Seccomp:/ {print $2}' "/proc/${pid:-0}/status"))" \
	[ "$(awk '/^Seccomp:/ {print $2}' "/proc/${pid:-0}/status")" = 2 ]
pci=$(vsh qemu-monitor-command "$d" '{"execute":"query-pci"}' 2>/dev/null)
check "boot: virtio-hint-pci vmhint-dev0 at 00:01.7" python3 -c 'import json,sys
d=json.load(sys.stdin)["return"]
sys.exit(0 if any(x["slot"]==1 and x["function"]==7 and x.get("qdev_id")=="vmhint-dev0" for b in d for x in b["devices"]) else 1)' <<<"$pci"
# A device hotplugged without an address gets one of its own.
cat >"$work/rng.xml" <<XML
<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
XML
if vsh attach-device "$d" "$work/rng.xml" --live >"$work/rng.log" 2>&1; then
	pass "boot: a hotplugged virtio-rng got $(vsh dumpxml "$d" | grep -A3 "<rng" | grep -o "slot='[^']*'")"
else
	fail "boot: hotplug: $(cat "$work/rng.log")"
fi

# The free: memhog touches HOG_MB, holds it, frees it.
con=$work/$d.console
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0; }
wait_line() {
	local end=$(($(date +%s) + $2))
	until grep -q "$1" "$con" 2>/dev/null; do
		[ "$(date +%s)" -lt $end ] && [ -d "/proc/$pid" ] || return 1
		sleep 0.05
	done
}
peak=0
if wait_line "MEMHOG: touched" 300; then
	while ! grep -q "MEMHOG: freed" "$con"; do
		v=$(rss); [ "$v" -gt "$peak" ] && peak=$v
		[ -d "/proc/$pid" ] || break
		sleep 0.02
	done
	tf=$(date +%s%N)
	target=$((peak - HOG_MB * 1024 * 9 / 10))
	ms=-1
	while [ $((($(date +%s%N) - tf) / 1000000)) -lt $((DROP_TIMEOUT * 1000)) ]; do
		if [ "$(rss)" -le "$target" ]; then
			ms=$((($(date +%s%N) - tf) / 1000000))
			break
		fi
		sleep 0.02
	done
	sleep 1
	end=$(rss)
	q2=$(vsh qemu-monitor-command "$d" '{"execute":"query-vmhint"}' 2>/dev/null)
	dropped=$(echo "$q2" | grep -o '"bytes-dropped-total": *[0-9]*' | grep -o '[0-9]*$')
	if [ "$ms" -ge 0 ]; then
		pass "boot: QEMU RSS fell by $((peak - end)) KiB (peak $peak KiB, now $end KiB) >= 90% of $HOG_MB MiB, $ms ms after the free; host dropped ${dropped:-?} bytes"
	else
		fail "boot: QEMU RSS did not fall by 90% of $HOG_MB MiB in $DROP_TIMEOUT s (peak $peak KiB, now $end KiB, dropped ${dropped:-?})"
	fi
	echo "{\"case\":\"libvirt-boot\",\"hog_mib\":$HOG_MB,\"peak_kib\":$peak,\"end_kib\":$end,\"ms_to_90pct\":$ms,\"host_bytes_dropped\":${dropped:-0},\"start_to_qmp_ms\":$(((t1 - t0) / 1000000))}"
else
	fail "boot: the guest never touched its memory (console: $con)"
	tail -n 20 "$con" 2>/dev/null
fi
grep -q "@@VMTEST CHECK FAIL" "$con" 2>/dev/null && fail "boot: guest: $(grep '@@VMTEST CHECK FAIL' "$con" | head -n3 | tr '\r\n' '  ')"
vsh destroy "$d" >/dev/null 2>&1
"$vmhintctl" detach "$d" >/dev/null || fail "boot: vmhintctl detach"
inactive "$d" >"$work/boot.det.xml"
check "boot: detach restores the original XML" diff -u "$work/boot.orig.xml" "$work/boot.det.xml"

[ $failed = 0 ] || { VMHINT_LIBVIRT_KEEP=1; exit 1; }
exit 0
