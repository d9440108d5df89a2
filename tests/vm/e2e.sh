#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# End-to-end test of issue 5: patched QEMU + libvmhint + virtio_hint.ko.
# For each backing of guest RAM (a 2 GiB guest, one vmhint object):
#   anon     memory-backend-ram
#   memfd    memory-backend-memfd,share=on
#   hugetlb  memory-backend-memfd,share=on,hugetlb=on,hugetlbsize=2M (the
#            test raises /proc/sys/vm/nr_hugepages for it and restores it)
#   hugetlbfs  memory-backend-file,share=on on a 2 MiB hugetlbfs mounted
#            for the test; the file's st_blocks must fall as well
# the guest keeps KEEP_MB of checksummed memory, touches HOG_MB more and
# frees it; then two cases:
#   free-B     QEMU's memory (VmRSS; the hugetlb pages it maps for hugetlb)
#              falls by >= 90% of HOG_MB; query-vmhint over QMP: bytes
#              dropped >= 90% of HOG_MB, requests > 0, no rejection, and the
#              counters equal the guest driver's own (sysfs); every kept
#              page still verifies
#   hostile-B  vhhostile sends malformed requests through the driver's raw
#              debugfs file; the kept memory still verifies, QEMU still
#              answers QMP, the rejected counters grew by exactly the
#              requests sent, per status, and nothing more was dropped than
#              well-formed requests asked for; then one request without
#              room for the response breaks the device (needs reset): the
#              kept memory still verifies and QEMU still answers QMP
# and once:
#   balloon    tests/vm/e2e-free.sh hint balloon: the same guest freeing the
#              same HOG_MB with virtio-hint and with stock QEMU's
#              virtio-balloon free page reporting; prints both times and
#              their ratio (a benchmark figure: it fails only if a mode
#              failed its own 90% goal)
#
# Usage: tests/vm/e2e.sh [CASE...]   CASE: anon memfd hugetlb hugetlbfs balloon (all)
# Env:   VMHINT_QEMU (patched qemu-system-x86_64; default: what
#        scripts/build-qemu built already), VMHINT_VM_QEMU (stock, balloon),
#        HOG_MB (1024), KEEP_MB (64), GUEST_MB (2048), DROP_TIMEOUT (s, 60),
#        VH_ARGS (module parameters: active=1; raw=1 is always added),
#        and tests/vm/lib.sh's (VMHINT_LIBDIR=rpath: the libvmhint QEMU was
#        built with, not this tree's src/lib/.libs, used when built)
# Prints "PASS|FAIL|SKIP: case (why)" and one JSON line per case.
# Exit: 0 all passed, 1 a case failed, 77 no failure but a case was skipped.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$top/tests/vm/lib.sh"
vm_need
# shellcheck disable=SC2119 # patched_qemu's --build is optional
vm_patched=$(patched_qemu) ||
	vm_skip "no patched QEMU (set VMHINT_QEMU or run scripts/build-qemu)"
command -v python3 >/dev/null || vm_skip "no python3 (the QMP client, tests/qemu/qmptest.py)"
# This tree's library when it is built (scripts/check builds it first),
# else the copy scripts/build-qemu installed (QEMU's RUNPATH names it).
use_tree_libvmhint
echo "e2e: $vm_patched with $(ldd "$vm_patched" | awk '/libvmhint/ { print $3 }')"
vm_build_driver || exit 1

HOG_MB=${HOG_MB:-1024}
KEEP_MB=${KEEP_MB:-64}
GUEST_MB=${GUEST_MB:-2048}
DROP_TIMEOUT=${DROP_TIMEOUT:-60}
VH_ARGS=${VH_ARGS:-active=1}
MEM=${GUEST_MB}M	# for the memory backends
cases=${*:-anon memfd hugetlb hugetlbfs balloon}
# Wire statuses by number (enum vmhint_wire_status), as QMP names them.
statuses=(ok short length op flags no_ranges too_many align zero_len overflow outside cross io)

work=$(mktemp -d)
hp_old=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	vm_stop
	mountpoint -q "$work/hugetlbfs" 2>/dev/null && umount "$work/hugetlbfs"
	# Give back the huge pages we reserved, whatever happened.
	[ -n "$hp_old" ] && echo "$hp_old" >/proc/sys/vm/nr_hugepages
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

nfail=0 nskip=0 total_start=$(date +%s)
result() { # RESULT CASE WHY
	echo "$1: $2${3:+ ($3)}"
	case $1 in FAIL) nfail=$((nfail + 1)) ;; SKIP) nskip=$((nskip + 1)) ;; esac
}

# "key value" files: QMP (qmptest.py) and the guest's sysfs counters.
val() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$1"; }
qmp() { python3 "$top/tests/qemu/qmptest.py" "$work/qmp" vh0 >"$1"; }

# Collects why a case fails; a case passes when this stays empty.
why=
chk() { # MESSAGE TEST...
	local msg=$1
	shift
	"$@" || why="${why:+$why; }$msg"
}

# no_mismatch LINES: true when no line of vhhostile's says MISMATCH.
# shellcheck disable=SC2317 # run through chk
no_mismatch() {
	! printf '%s\n' "$1" | grep -q MISMATCH
}

# snap TAG: QMP counters in $work/q.TAG and the guest driver's in
# $work/g.TAG, taken so that they can be compared exactly: QMP is read
# before and after the guest prints its counters, and only an unchanged
# answer is taken (free page reporting may still send a request now and
# then, even with active mode off).
snap() {
	local tag=$1 try
	for try in 1 2 3 4 5; do
		qmp "$work/qa" || return 1
		vm_send "stats $tag.$try"
		vm_wait "@@VMTEST INFO stat end $tag.$try" 30 || return 1
		qmp "$work/q.$tag" || return 1
		if cmp -s <(grep '^counters\.' "$work/qa") <(grep '^counters\.' "$work/q.$tag"); then
			tr -d '\r' <"$work/log" |
				sed -n "/@@VMTEST INFO stat begin $tag.$try\$/,/@@VMTEST INFO stat end $tag.$try\$/s/^.*@@VMTEST INFO stat //p" \
					>"$work/g.$tag"
			return 0
		fi
		sleep 1
	done
	echo "snap: host counters kept moving" >&2
	return 1
}

# consistent TAG: the host's counters say what the guest driver's say.
consistent() {
	local q=$work/q.$1 g=$work/g.$1 s gs=0 qs
	chk "host requests $(($(val "$q" counters.requests-unused) + $(val "$q" counters.requests-stable))) != guest status_ok $(val "$g" status_ok)" \
		[ $(($(val "$q" counters.requests-unused) + $(val "$q" counters.requests-stable))) = "$(val "$g" status_ok)" ]
	# The driver counts the bytes of ranges the host applied; the host
	# counts 4 KiB pages hinted. Raw (hostile) requests must add none.
	chk "host pages-unused*4K $(($(val "$q" counters.pages-unused) * 4096)) != guest bytes $(val "$g" bytes)" \
		[ $(($(val "$q" counters.pages-unused) * 4096)) = "$(val "$g" bytes)" ]
	chk "guest raw_bytes $(val "$g" raw_bytes) != 0" [ "$(val "$g" raw_bytes)" = 0 ]
	chk "host dropped more than hinted" \
		[ "$(val "$q" counters.bytes-dropped-total)" -le $(($(val "$q" counters.pages-unused) * 4096)) ]
	chk "guest err_proto $(val "$g" err_proto)" [ "$(val "$g" err_proto)" = 0 ]
	for s in "${statuses[@]:1}"; do
		qs=$(val "$q" "counters.rejected.$s")
		gs=$((gs + $(val "$g" "status_$s")))
		chk "host rejected.$s $qs != guest status_$s $(val "$g" "status_$s")" \
			[ "$qs" = "$(val "$g" "status_$s")" ]
	done
	chk "host rejected-total $(val "$q" counters.rejected-total) != guest $gs" \
		[ "$(val "$q" counters.rejected-total)" = "$gs" ]
}

hp_free() { awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo; }

# Reserves what a hugetlb guest needs on top of what others hold; 1 when
# the kernel cannot provide it (hp_why says how many it got).
hp_reserve() {
	local need=$(($1 + 8)) got
	[ -w /proc/sys/vm/nr_hugepages ] || { hp_why="/proc/sys/vm/nr_hugepages not writable"; return 1; }
	[ -n "$hp_old" ] || hp_old=$(cat /proc/sys/vm/nr_hugepages)
	echo $((hp_old + need)) >/proc/sys/vm/nr_hugepages 2>/dev/null
	if [ "$(hp_free)" -lt "$need" ]; then
		# Fragmentation: compact and try once more.
		echo 1 >/proc/sys/vm/compact_memory 2>/dev/null
		echo $((hp_old + need)) >/proc/sys/vm/nr_hugepages 2>/dev/null
	fi
	got=$(hp_free)
	hp_why="the kernel gave $got free 2 MiB huge pages, the guest needs $need"
	[ "$got" -ge "$need" ]
}

hint_ms_anon=-1

# run_backing B: boots the guest on backing B and runs free-B and hostile-B.
run_backing() {
	local b=$1 kind=rss stfile='' st0=0 st1=0 backing mem_end hp0 hp1 dropped d0 n_host i s st t0
	local -a args
	t0=$(date +%s)
	case $b in
	anon)
		backing=anon
		args=(-object "memory-backend-ram,id=m0,size=$MEM") ;;
	memfd)
		backing=shmem
		args=(-object "memory-backend-memfd,id=m0,size=$MEM,share=on") ;;
	hugetlb | hugetlbfs)
		backing=hugetlb-shared kind=hugetlb
		if ! hp_reserve $((GUEST_MB / 2)); then
			result SKIP "free-$b" "$hp_why"
			result SKIP "hostile-$b" "$hp_why"
			return
		fi
		args=(-object "memory-backend-memfd,id=m0,size=$MEM,share=on,hugetlb=on,hugetlbsize=2M") ;;
	esac
	if [ "$b" = hugetlbfs ]; then
		# A file we can stat: its st_blocks are what the host really holds.
		mkdir -p "$work/hugetlbfs"
		if ! mountpoint -q "$work/hugetlbfs" &&
			! mount -t hugetlbfs -o pagesize=2M none "$work/hugetlbfs"; then
			result SKIP "free-$b" "cannot mount hugetlbfs"
			result SKIP "hostile-$b" "cannot mount hugetlbfs"
			return
		fi
		stfile=$work/hugetlbfs/guest-ram
		rm -f "$stfile"
		args=(-object "memory-backend-file,id=m0,size=$MEM,share=on,mem-path=$stfile")
	fi
	args+=(-machine memory-backend=m0 -object "vmhint,id=vh0,memdev=m0"
		-device "virtio-hint-pci,vmhint=vh0")

	cat >"$work/e2e-$b" <<GUEST
#!/bin/sh
. /lib/vmtest.sh
insmod /lib/modules/virtio_hint.ko $VH_ARGS raw=1 || vm_fail insmod
d=\$(ls -d /sys/bus/virtio/drivers/virtio_hint/virtio* 2>/dev/null | head -1)
[ -n "\$d" ] || { vm_fail "device not bound"; vm_end; }
n=\${d##*/}
vm_info "page_size \$(cat \$d/hint/config_page_size) report_order \$(cat \$d/hint/report_order) method \$(cat \$d/hint/active_method)"
sleep 5
# memhog holds KEEP_MB after the free and verifies it on "verify".
mkdir -p /tmp && mkfifo /tmp/mh || vm_fail mkfifo
memhog $HOG_MB 5 0 $KEEP_MB </tmp/mh &
mh=\$!
exec 3>/tmp/mh
# The host drives the rest, one console line per step.
while read -r cmd arg; do
	case \$cmd in
	stats)
		vm_info "stat begin \$arg"
		for f in \$d/hint/*; do
			v=\$(cat \$f 2>/dev/null) && vm_info "stat \${f##*/} \$v"
		done
		vm_info "stat end \$arg" ;;
	quiet) echo 0 >\$d/hint/active; vm_info "quiet" ;;
	verify) echo verify >&3 ;;
	hostile)
		vhhostile /sys/kernel/debug/virtio_hint/\$n \$(cat \$d/hint/config_max_ranges) $((GUEST_MB << 20))
		vm_info "hostile rc=\$?" ;;
	break)
		vhhostile /sys/kernel/debug/virtio_hint/\$n 1 break
		vm_info "break rc=\$? broken=\$(cat \$d/hint/broken)" ;;
	done) break ;;
	esac
done
exec 3>&-
wait \$mh || vm_fail "memhog: kept memory"
vm_end
GUEST
	chmod +x "$work/e2e-$b"
	vm_initramfs "$work/initrd" --driver --interactive --bin "$top/src/guest/tools/memhog" \
		--bin "$top/src/guest/tools/vhhostile" -- "$work/e2e-$b" ||
		{ result FAIL "free-$b" "initramfs"; return; }
	vm_start "$work" "$work/initrd" --qemu "$vm_patched" --mem "$GUEST_MB" --smp 1 -- "${args[@]}"

	# --- free-B ---
	why=
	if ! vm_wait "MEMHOG: touched" 300 || ! qmp "$work/q.0"; then
		result FAIL "free-$b" "guest or QMP did not come up; console in /tmp/e2e-$b.log"
		cat "$work/qemu.out"; tail -20 "$work/log"
		cp "$work/log" "/tmp/e2e-$b.log"
		vm_stop
		result FAIL "hostile-$b" "not run"
		return
	fi
	chk "region backing $(val "$work/q.0" regions.0.backing), want $backing" \
		[ "$(val "$work/q.0" regions.0.backing)" = "$backing" ]
	hp0=$(hp_free)
	[ -n "$stfile" ] && st0=$(stat -c %b "$stfile")
	vm_measure_free "$kind" "$HOG_MB" "$DROP_TIMEOUT" || why="qemu died"
	sleep 2
	mem_end=$(vm_mem_kib "$vm_qpid" "$kind")
	hp1=$(hp_free)
	if [ -n "$stfile" ]; then
		st1=$(stat -c %b "$stfile")
		chk "$stfile st_blocks fell by $(((st0 - st1) / 2)) KiB, < 90% of $HOG_MB MiB" \
			[ $(((st0 - st1) / 2)) -ge $((HOG_MB * 1024 * 9 / 10)) ]
	fi
	chk "$kind did not fall by 90% of $HOG_MB MiB in $DROP_TIMEOUT s (peak $vm_peak_kib KiB, end $mem_end KiB)" \
		[ "$vm_ms_to_90" -ge 0 ]
	# Unmapped is not freed: a shared hugetlb file keeps its pages until
	# they are punched out. Only the pool shows the host got them back.
	[ "$kind" = hugetlb ] &&
		chk "HugePages_Free rose by $((hp1 - hp0)) pages, < 90% of $HOG_MB MiB" \
			[ $((hp1 - hp0)) -ge $((HOG_MB * 9 / 20)) ]
	vm_send quiet
	vm_wait "@@VMTEST INFO quiet" 30 || why="${why:+$why; }guest did not go quiet"
	if snap 1; then
		dropped=$(($(val "$work/q.1" counters.bytes-dropped-total) - $(val "$work/q.0" counters.bytes-dropped-total)))
		chk "host dropped $dropped bytes after the free, < 90% of $HOG_MB MiB" \
			[ "$dropped" -ge $((HOG_MB * 1048576 * 9 / 10)) ]
		chk "no requests" [ "$(val "$work/q.1" counters.requests-unused)" -gt 0 ]
		chk "$(val "$work/q.1" counters.rejected-total) rejections in a well-formed run" \
			[ "$(val "$work/q.1" counters.rejected-total)" = 0 ]
		consistent 1
	else
		why="${why:+$why; }no consistent counters over QMP"
		dropped=-1
	fi
	vm_send verify
	vm_wait "MEMHOG: keep (PASS|FAIL) n=1" 60 || true
	chk "kept memory: $(grep -m1 'MEMHOG: keep .* n=1' "$work/log" | tr -d '\r')" \
		grep -q "MEMHOG: keep PASS n=1" "$work/log"
	[ "$b" = anon ] && [ -z "$why" ] && hint_ms_anon=$vm_ms_to_90
	printf '{"case":"free-%s","backing":"%s","measure":"%s","hog_mib":%d,"keep_mib":%d,"peak_kib":%d,"seen_free_kib":%d,"end_kib":%d,"ms_to_90pct":%d,"host_bytes_dropped":%d,"host_requests":%d,"guest_bytes":%d,"guest_work_ns":%d,"hugepages_free_at_peak":%d,"hugepages_free_after":%d,"file_kib_at_peak":%d,"file_kib_after":%d,"result":"%s"}\n' \
		"$b" "$backing" "$kind" "$HOG_MB" "$KEEP_MB" "$vm_peak_kib" "$vm_seen_free_kib" \
		"$mem_end" "$vm_ms_to_90" "$dropped" "$(val "$work/q.1" counters.requests-unused 2>/dev/null)" \
		"$(val "$work/g.1" bytes 2>/dev/null)" "$(val "$work/g.1" work_ns 2>/dev/null)" \
		"$hp0" "$hp1" $((st0 / 2)) $((st1 / 2)) "$([ -z "$why" ] && echo PASS || echo FAIL)"
	if [ -z "$why" ]; then
		result PASS "free-$b" "$vm_ms_to_90 ms to 90%"
	else
		result FAIL "free-$b" "$why"
	fi

	# --- hostile-B ---
	why=
	local hostile_lines
	[ -f "$work/q.1" ] || { result FAIL "hostile-$b" "no counters before"; vm_stop; return; }
	vm_send hostile
	vm_wait "@@VMTEST INFO hostile rc=" 120 || why="vhhostile did not finish"
	hostile_lines=$(tr -d '\r' <"$work/log" | grep "^HOSTILE: " | grep "status=")
	n_host=$(printf '%s\n' "$hostile_lines" | grep -c "status=")
	chk "vhhostile: $(tr -d '\r' <"$work/log" | grep -m1 '@@VMTEST INFO hostile rc=')" \
		grep -q "@@VMTEST INFO hostile rc=0" "$work/log"
	chk "status mismatch: $(printf '%s\n' "$hostile_lines" | grep MISMATCH | tr '\n' ' ')" \
		no_mismatch "$hostile_lines"
	vm_send verify
	vm_wait "MEMHOG: keep (PASS|FAIL) n=2" 60 || true
	chk "kept memory after hostile: $(grep -m1 'MEMHOG: keep .* n=2' "$work/log" | tr -d '\r')" \
		grep -q "MEMHOG: keep PASS n=2" "$work/log"
	chk "QEMU gone" kill -0 "$vm_qpid"
	if snap 2; then
		d0=$(($(val "$work/q.2" counters.rejected-total) - $(val "$work/q.1" counters.rejected-total)))
		chk "rejected-total grew by $d0, $n_host hostile requests sent" [ "$d0" = "$n_host" ]
		chk "no hostile request came back" [ "$n_host" -gt 0 ]
		for i in "${!statuses[@]}"; do
			[ "$i" = 0 ] && continue
			s=${statuses[$i]}
			st=$(printf '%s\n' "$hostile_lines" | grep -c " status=$i ")
			d0=$(($(val "$work/q.2" "counters.rejected.$s") - $(val "$work/q.1" "counters.rejected.$s")))
			chk "rejected.$s grew by $d0, guest saw $st" [ "$d0" = "$st" ]
		done
		# Free page reporting may have sent a well-formed request meanwhile;
		# anything dropped beyond that came from a hostile one.
		d0=$(($(val "$work/q.2" counters.bytes-dropped-total) - $(val "$work/q.1" counters.bytes-dropped-total)))
		i=$(($(val "$work/g.2" bytes) - $(val "$work/g.1" bytes)))
		chk "host dropped $d0 bytes during the hostile requests, well-formed ones asked for $i" \
			[ "$d0" -le "$i" ]
		consistent 2
	else
		why="${why:+$why; }QEMU did not answer QMP after the hostile requests"
	fi
	# Last, a request without room for the response: a protocol violation
	# the device answers by needing a reset, not the library by a status.
	vm_send break
	vm_wait "@@VMTEST INFO break rc=" 60 || true
	chk "break: $(tr -d '\r' <"$work/log" | grep -m1 '@@VMTEST INFO break rc=')" \
		grep -q "@@VMTEST INFO break rc=0 broken=1" "$work/log"
	vm_send verify
	vm_wait "MEMHOG: keep (PASS|FAIL) n=3" 60 || true
	chk "kept memory after break: $(grep -m1 'MEMHOG: keep .* n=3' "$work/log" | tr -d '\r')" \
		grep -q "MEMHOG: keep PASS n=3" "$work/log"
	if qmp "$work/q.3"; then
		chk "the broken request reached the library" \
			[ "$(val "$work/q.3" counters.rejected-total)" = "$(val "$work/q.2" counters.rejected-total)" ]
	else
		why="${why:+$why; }QEMU did not answer QMP after the broken request"
	fi
	# The guest checks its kernel log and memhog's exit.
	vm_send "done"
	vm_wait "^@@VMTEST ALLDONE" 60 || true
	# The guest's own checks and its kernel log, as the harness saw them.
	vm_results "$work/log" "e2e-$b" >"$work/results"
	guest_rc=$?
	chk "guest: $(grep -v '^PASS: ' "$work/results" | tr '\n' ' ')" [ "$guest_rc" = 0 ]
	vm_stop
	cp "$work/log" "/tmp/e2e-$b.log"
	printf '{"case":"hostile-%s","backing":"%s","hostile_requests":%d,"host_rejected_delta":%d,"host_bytes_dropped_delta":%d,"result":"%s","vm_s":%d}\n' \
		"$b" "$backing" "$n_host" \
		$(($(val "$work/q.2" counters.rejected-total 2>/dev/null) - $(val "$work/q.1" counters.rejected-total))) \
		$(($(val "$work/q.2" counters.bytes-dropped-total 2>/dev/null) - $(val "$work/q.1" counters.bytes-dropped-total))) \
		"$([ -z "$why" ] && echo PASS || echo FAIL)" $(($(date +%s) - t0))
	if [ -z "$why" ]; then
		result PASS "hostile-$b" "$n_host requests rejected"
	else
		result FAIL "hostile-$b" "$why; console in /tmp/e2e-$b.log"
	fi
	rm -f "$work"/q.* "$work"/g.*
	if [ -n "$stfile" ]; then
		rm -f "$stfile"
		umount "$work/hugetlbfs"
	fi
	if [ "$kind" = hugetlb ]; then
		echo "$hp_old" >/proc/sys/vm/nr_hugepages
		hp_old=
	fi
}

run_balloon() {
	local out hint balloon
	out=$(HOG_MB=$HOG_MB GUEST_MEM=$MEM VMHINT_QEMU=$vm_patched \
		"$top/tests/vm/e2e-free.sh" hint balloon 2>&1)
	rc=$?
	hint=$(printf '%s\n' "$out" | sed -n 's/^{"mode":"hint",.*"ms_to_90pct":\(-*[0-9]*\)}$/\1/p')
	balloon=$(printf '%s\n' "$out" | sed -n 's/^{"mode":"balloon",.*"ms_to_90pct":\(-*[0-9]*\)}$/\1/p')
	printf '{"case":"balloon-vs-hint","hog_mib":%d,"hint_ms_to_90pct":%d,"balloon_ms_to_90pct":%d,"ratio_balloon_over_hint":%s,"e2e_anon_hint_ms_to_90pct":%d}\n' \
		"$HOG_MB" "${hint:--1}" "${balloon:--1}" \
		"$(awk -v h="${hint:--1}" -v b="${balloon:--1}" 'BEGIN { if (h > 0 && b > 0) printf "%.1f", b / h; else print "null" }')" \
		"$hint_ms_anon"
	case $rc in
	0) result PASS balloon "hint ${hint} ms, balloon ${balloon} ms" ;;
	77) result SKIP balloon "$(printf '%s\n' "$out" | grep -m1 SKIP)" ;;
	*) result FAIL balloon "e2e-free.sh rc=$rc: $(printf '%s\n' "$out" | grep -m1 FAIL)" ;;
	esac
}

for c in $cases; do
	case $c in
	anon | memfd | hugetlb | hugetlbfs) run_backing "$c" ;;
	balloon) run_balloon ;;
	*) echo "unknown case $c"; exit 2 ;;
	esac
done
echo "e2e: $nfail failed, $nskip skipped, $(($(date +%s) - total_start)) s"
[ $nfail = 0 ] || exit 1
[ $nskip = 0 ] || exit 77
exit 0
