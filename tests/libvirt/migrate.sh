#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/libvirt/migrate.sh - virsh migrate --live of a vmhint domain between
# two libvirt daemons on this one machine.
#
# The second libvirtd runs in a mount namespace of its own (unshare -m):
# private tmpfs over /run/libvirt, /var/lib/libvirt (its directories
# recreated with their owners and modes), /var/cache/libvirt and
# /var/log/libvirt, and a copy of /etc/libvirt bind-mounted over it with
#   libvirtd.conf: host_uuid (a new one; libvirt refuses a migration to a
#                  host of the same UUID) and unix_sock_dir in this run's
#                  work directory, which both namespaces see
#   qemu.conf:     stdio_handler = "file" (no virtlogd of its own) and no
#                  cgroup controllers (both daemons would claim the same
#                  machine cgroups)
# and a pidfile inside its own /run/libvirt.
#
# Each daemon has a vmhintd: the first one's in this namespace, the second
# one's inside the second daemon's (nsenter -m: its QEMUs' QMP sockets are
# there), with its own control socket, state_dir and libvirt URI, ksm = off.
#
#   migrate-setup   the second daemon answers with another host UUID
#   migrate-vmhintd the domain (attached with mode lazy on its command
#                   line) is active in the first vmhintd; vmhintctl
#                   set-mode sync: the source QEMU runs sync, the metadata
#                   (live and config) says sync
#   migrate-live    a running domain (patched QEMU, vmhint object and
#                   device, active reporting), whose guest has written
#                   KEEP_MB of per-page patterns, migrates with virsh
#                   migrate --live --migrateuri tcp://127.0.0.1:PORT; it
#                   runs on the second daemon only, in another QEMU, as
#                   libvirt's QEMU user; the first vmhintd lists it
#                   inactive and logged no warning or error
#   migrate-content the guest's kept pages verify on the destination
#                   (memhog's own counter goes on from the source's: the
#                   process migrated, not just its pages)
#   migrate-policy  the vmhint metadata arrives; with no vmhintd there yet
#                   the destination QEMU answers query-vmhint on the QMP
#                   socket of the metadata, inside the second daemon's
#                   namespace, with the command line's mode (QEMU migrates
#                   no vmhint mode); once the second vmhintd starts, QEMU
#                   runs the metadata's mode, vmhintd logged that it
#                   applied it and lists the domain active
#   migrate-device  the guest frees HOG_MB on the destination and that
#                   QEMU's RSS falls by >= 90% of it (sync mode: lazy
#                   would keep it resident)
#   migrate-back    back to the first daemon with both vmhintds running:
#                   the first applies the metadata's mode to the incoming
#                   QEMU at its STARTED (migrated) event, before the stream
#                   is in, QEMU still runs it once the stream is in, and
#                   vmhintd asked again at RESUMED (migrated); the times of
#                   each step from the end of the migration are printed;
#                   the second vmhintd lets the transient domain go without
#                   a warning; the pages verify, a free drops again
#
# Env: KEEP_MB (128), HOG_MB (256), GUEST_MB (768), DROP_TIMEOUT (s, 60).
# Exit: 0 all passed, 77 skipped (the reason is printed), 1 a check failed.
# shellcheck disable=SC2016 # check_sh's expressions are single-quoted: it evaluates them
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
KEEP_MB=${KEEP_MB:-128}
HOG_MB=${HOG_MB:-256}
GUEST_MB=${GUEST_MB:-768}
DROP_TIMEOUT=${DROP_TIMEOUT:-60}

lv_need vmhintd
command -v unshare >/dev/null || skip "no unshare (util-linux)"
lv_setup
lv_guest_prep
lv_guest_initrd "$lv_initrd" "$KEEP_MB" || { fail "initramfs"; exit 1; }

# --- the second libvirtd ---------------------------------------------------
dst=$work/dst
mkdir -p "$dst/sock"
cp -a /etc/libvirt "$dst/etc"
dst_uuid=$(cat /proc/sys/kernel/random/uuid)
cat >>"$dst/etc/libvirtd.conf" <<EOF

# tests/libvirt/migrate.sh: a second daemon on this host
host_uuid = "$dst_uuid"
unix_sock_dir = "$dst/sock"
EOF
cat >>"$dst/etc/qemu.conf" <<EOF

# tests/libvirt/migrate.sh: a second daemon on this host
stdio_handler = "file"
cgroup_controllers = [ ]
EOF
(cd /var/lib/libvirt && find . -mindepth 1 -type d -printf '%m %u %g %P\n') >"$dst/libdirs"
cat >"$dst/start" <<EOF
#!/bin/bash
set -e
mount -t tmpfs -o mode=755 tmpfs /run/libvirt
mount -t tmpfs -o mode=755 tmpfs /var/lib/libvirt
while read -r m u g p; do
	mkdir -p "/var/lib/libvirt/\$p"
	chown "\$u:\$g" "/var/lib/libvirt/\$p"
	chmod "\$m" "/var/lib/libvirt/\$p"
done <"$dst/libdirs"
mount -t tmpfs -o mode=755 tmpfs /var/cache/libvirt
mkdir -p /var/log/libvirt
mount -t tmpfs -o mode=755 tmpfs /var/log/libvirt
mkdir -p /var/log/libvirt/qemu
mount --bind "$dst/etc" /etc/libvirt
exec libvirtd -p /run/libvirt/libvirtd.pid
EOF
chmod 755 "$dst/start"
unshare -m --propagation private "$dst/start" >"$dst/libvirtd.log" 2>&1 &
dst_pid=$!
duri="qemu+unix:///system?socket=$dst/sock/libvirt-sock"
dvsh() { virsh -q -c "$duri" "$@"; }
lv_on_exit "for d in \$(virsh -q -c '$duri' list --name | grep '^$prefix-'); do virsh -q -c '$duri' destroy \$d; done; kill $dst_pid; sleep 1"
for _ in $(seq 100); do dvsh uri >/dev/null 2>&1 && break; sleep 0.1; done
src_uuid=$(vsh capabilities | xmllint --xpath 'string(/capabilities/host/uuid)' -)
got_uuid=$(dvsh capabilities 2>/dev/null | xmllint --xpath 'string(/capabilities/host/uuid)' - 2>/dev/null)
if [ "$got_uuid" = "$dst_uuid" ] && [ "$got_uuid" != "$src_uuid" ]; then
	pass "migrate-setup: a second libvirtd (pid $dst_pid, own mount namespace) answers on $dst/sock with host UUID $dst_uuid (this one: $src_uuid)"
else
	fail "migrate-setup: second libvirtd: host UUID '${got_uuid:-none}' (log: $(tail -n 3 "$dst/libvirtd.log" | tr '\n' ' '))"
	exit 1
fi

# --- the domain on the first --------------------------------------------------
d=$prefix-mig
con=$work/$d.console
LV_CONSOLE_APPEND=on lv_domain_xml "$d" pc "<memory unit='MiB'>$GUEST_MB</memory>" >"$work/mig.xml"
vsh define "$work/mig.xml" >/dev/null || { fail "migrate: define"; exit 1; }
# Lazy on the command line: in lazy mode a free does not bring QEMU's RSS
# down (MADV_FREE), in sync mode it does, so migrate-device shows the mode
# vmhintd applied on the destination at work.
"$vmhintctl" attach --mode lazy "$d" >"$work/mig.attach.log" 2>&1 ||
	{ fail "migrate: vmhintctl attach: $(cat "$work/mig.attach.log")"; exit 1; }
vsh start "$d" >"$work/mig.start.log" 2>&1 || { fail "migrate: virsh start: $(cat "$work/mig.start.log")"; exit 1; }
spid=$(lv_qemu_pid "$d")
sock=$(vsh dumpxml "$d" | sed -n "s/.*<vmhint:qmp socket=['\"]\([^'\"]*\)['\"].*/\1/p")
lv_wait_line "$con" "INFO ready" 300 1 "$spid" || { fail "migrate: the guest never got ready"; tail -n 20 "$con"; exit 1; }
lv_console_open "$d" || { fail "migrate: no serial pty"; exit 1; }
lv_send "$d" verify
lv_wait_line "$con" "MEMHOG: keep (PASS|FAIL) n=1" 60 1 "$spid" || fail "migrate: no verify answer on the source"
grep -aq "MEMHOG: keep PASS n=1" "$con" || fail "migrate: kept pages bad on the source already"
meta() {	# the domain's vmhint metadata, canonical
	virsh -q -c "$1" metadata "$d" --uri "$ns" 2>/dev/null | xmllint --c14n - 2>/dev/null
}
# The mode in metadata XML on stdin (libvirt prints it with or without the
# namespace prefix).
xml_mode() { sed -n 's/.*<\([a-z]*:\)\{0,1\}mode>\([a-z]*\)<.*/\2/p'; }
meta_mode() { meta "$1" | xml_mode; }
policy() {	# the policy fields of query-vmhint's first object
	python3 -c 'import json,sys
r=json.loads(sys.stdin.readline())["return"][0]
print(" ".join("%s=%s" % (k, r[k]) for k in ("id", "mode", "guest-stable-hints") if k in r),
      "dedupe=%s" % r.get("dedupe", {}).get("enabled"))'
}
# The mode QEMU runs, as it says itself (libvirt's monitor: vmhintd holds
# the vmhint QMP socket, which takes one client).
qemu_mode() {
	lv_qmon "$d" '{"execute":"query-vmhint"}' "$1" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["return"][0]["mode"])' 2>/dev/null
}
# A field of the domain in a vmhintd's list (socket $1).
vhd_field() {
	"$vmhintctl" -s "$1" list --json 2>/dev/null | python3 -c 'import json,sys
r=json.load(sys.stdin)
for x in r.get("domains", r if isinstance(r, list) else []):
    if x.get("name") == sys.argv[1]:
        print(x.get(sys.argv[2], ""))' "$d" "$2" 2>/dev/null
}
# Until vhd_field $1 $2 is $3, $4 s at most.
vhd_wait() {
	local end=$(($(date +%s) + $4))
	while [ "$(vhd_field "$1" "$2")" != "$3" ]; do
		[ "$(date +%s)" -lt $end ] || return 1
		sleep 0.1
	done
}
# The warnings and errors a vmhintd logged after byte $2 of its log $1.
vhd_complaints() { tail -c +"$(($2 + 1))" "$1" | grep -aE 'vmhintd: (warning|err|crit|alert|emerg):'; }
# The time (s.us) of the first line of log $1 after byte $2 matching $3.
vhd_when() { tail -c +"$(($2 + 1))" "$1" | grep -aE -m1 "$3" | cut -d' ' -f1; }
# Milliseconds from time $2 to time $1 (s.us each; negative if before).
ms_between() { python3 -c 'import sys; print(round((float(sys.argv[1]) - float(sys.argv[2])) * 1000))' "$1" "$2"; }
ns=$(vsh dumpxml "$d" | grep -o 'xmlns:vmhint="[^"]*"' | head -n1 | sed 's/.*="//; s/"$//')
lv_qmp "$sock" '{"execute":"query-vmhint"}' >"$work/mig.src.query" || fail "migrate: query-vmhint on the source"
src_policy=$(policy <"$work/mig.src.query")
# What <qemu:commandline> starts every QEMU of this domain with (attach
# wrote it; set-mode changes only the metadata); vmhintd is to set the
# other mode.
cmd_mode=$(vsh dumpxml "$d" | grep -o "value=['\"]vmhint,[^'\"]*" | grep -o 'mode=[a-z]*' | head -n1)
cmd_mode=${cmd_mode#mode=}
cmd_mode=${cmd_mode:-sync}
want=lazy
[ "$cmd_mode" = lazy ] && want=sync
echo "source: QEMU pid $spid, $src_policy, command line mode $cmd_mode, metadata $(meta "$uri")"

# --- vmhintd on the first, and the new mode ---------------------------------
# No poll: what it would put right is migrate-back's to show from events.
lv_vmhintd_start --stamp "poll_interval = 1h" || exit 1
src_vsock=$vhd_sock src_vlog=$vhd_log
if vhd_wait "$src_vsock" vmhint active 30; then
	pass "migrate-vmhintd: the first vmhintd (pid $vhd_pid) has the domain active"
else
	fail "migrate-vmhintd: the first vmhintd: domain '$(vhd_field "$src_vsock" vmhint)' ($(vhd_field "$src_vsock" last-error))"
	exit 1
fi
if "$vmhintctl" -s "$src_vsock" set-mode "$d" "$want" >"$work/mig.setmode.log" 2>&1; then
	check "migrate-vmhintd: vmhintctl set-mode $want: the source QEMU runs $want" \
		[ "$(qemu_mode "$uri")" = "$want" ]
	check_sh "migrate-vmhintd: and the metadata says $want (live and config)" \
		'[ "$(meta_mode "$uri")" = "$want" ] && [ "$(vsh metadata "$d" --uri "$ns" --config | xml_mode)" = "$want" ]'
else
	fail "migrate-vmhintd: vmhintctl set-mode $want: $(cat "$work/mig.setmode.log")"
fi
# shellcheck disable=SC2034 # read by check_sh's eval below
src_meta=$(meta "$uri")

# --- migrate, with no vmhintd on the second ---------------------------------
# A libvirtd restarted mid-migration (by another test on a shared machine)
# kills the incoming QEMU; a failure says so.
host_libvirtd=$(lv_daemon_pid libvirtd)
restarted() {
	local now
	now=$(lv_daemon_pid libvirtd)
	[ "$now" = "$host_libvirtd" ] || echo " (the first libvirtd was restarted meanwhile: pid $host_libvirtd, now ${now:-none})"
	[ -d "/proc/$dst_pid" ] || echo " (the second libvirtd, pid $dst_pid, is gone)"
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
src_off=$(stat -c %s "$src_vlog")
t0=$(date +%s%N)
if vsh migrate --live --verbose "$d" "$duri" --migrateuri "tcp://127.0.0.1:$port" >"$work/mig.log" 2>&1; then
	mig1_ms=$((($(date +%s%N) - t0) / 1000000))
	pass "migrate-live: virsh migrate --live to the second libvirtd in $mig1_ms ms"
else
	fail "migrate-live: $(tr '\r' '\n' <"$work/mig.log" | grep -v '^$' | tail -n 3 | tr '\n' ' ')$(restarted)"
	tail -n 20 "$dst/libvirtd.log"
	VMHINT_LIBVIRT_KEEP=1
	exit 1
fi
check "migrate-live: the domain runs on the second daemon" [ "$(dvsh domstate "$d")" = running ]
check "migrate-live: and no more on the first ($(vsh domstate "$d"))" [ "$(vsh domstate "$d")" = "shut off" ]
droot=/proc/$dst_pid/root
dpid=$(lv_qemu_pid "$d" "$droot")
check_sh "migrate-live: the destination QEMU (pid ${dpid:-?}) is another process" \
	'[ -n "$dpid" ] && [ "$dpid" != "$spid" ] && [ -d "/proc/$dpid" ]'
check "migrate-live: it runs as $qemu_user" [ "$(ps -o user= -p "${dpid:-0}" | tr -d ' ')" = "$qemu_user" ]

# The first vmhintd let the domain go: inactive (it stays defined there),
# nothing complained, and it still answers.
if vhd_wait "$src_vsock" vmhint inactive 10; then
	pass "migrate-vmhintd: the first vmhintd has the domain inactive (state $(vhd_field "$src_vsock" state))"
else
	fail "migrate-vmhintd: the first vmhintd: domain '$(vhd_field "$src_vsock" vmhint)' after the migration"
fi
sleep 1	# a late reconnection attempt would complain by now
out=$(vhd_complaints "$src_vlog" "$src_off")
check_sh "migrate-vmhintd: the first vmhintd logged no warning or error for the migration${out:+: $out}" '[ -z "$out" ]'
check_sh "migrate-vmhintd: and shows no last-error ($(vhd_field "$src_vsock" last-error))" \
	'[ -z "$(vhd_field "$src_vsock" last-error)" ]'

# --- the guest's content arrived ---------------------------------------------
lv_console_open "$d" "$duri" || fail "migrate: no serial pty on the destination"
lv_send "$d" verify
if lv_wait_line "$con" "MEMHOG: keep (PASS|FAIL) n=2" 60 1 "$dpid"; then
	line=$(tr -d '\r' <"$con" | grep -a "MEMHOG: keep .* n=2")
	case $line in
	*PASS*) pass "migrate-content: on the destination: $line" ;;
	*) fail "migrate-content: $line" ;;
	esac
else
	fail "migrate-content: no answer from the migrated guest"
fi

# --- the policy followed --------------------------------------------------------
# shellcheck disable=SC2034 # read by check_sh's expression
dst_meta=$(meta "$duri")
check_sh "migrate-policy: the destination domain has the source's vmhint metadata (mode $(meta_mode "$duri"))" \
	'[ -n "$src_meta" ] && [ "$dst_meta" = "$src_meta" ]'
dsock=$droot$sock
# No vmhintd there yet: QEMU migrated no vmhint mode, and the destination
# runs what its command line says, whatever the metadata says.
if lv_qmp "$dsock" '{"execute":"query-vmhint"}' >"$work/mig.dst.query" 2>&1; then
	dst_policy=$(policy <"$work/mig.dst.query")
	if [ "$dst_policy" = "$src_policy" ]; then
		pass "migrate-policy: without vmhintd there, the destination QEMU answers query-vmhint on $sock (in its namespace) with the command line's policy: $dst_policy (metadata: mode $want)"
	else
		fail "migrate-policy: without vmhintd, destination '$dst_policy', the source's command line '$src_policy'"
	fi
else
	fail "migrate-policy: QMP $dsock: $(tail -n 2 "$work/mig.dst.query")"
fi

# The second vmhintd, in the second libvirtd's mount namespace (the QMP
# socket is there), with a config of its own and no hand on KSM.
t_vhd=$EPOCHREALTIME
lv_vmhintd_start --name vmhintd-dst --uri "$duri" --in "$dst_pid" --stamp "ksm = off" || exit 1
dst_vsock=$vhd_sock dst_vlog=$vhd_log
end=$(($(date +%s) + 30))
while [ "$(qemu_mode "$duri")" != "$want" ] && [ "$(date +%s)" -lt $end ]; do sleep 0.05; done
t_seen=$EPOCHREALTIME
if [ "$(qemu_mode "$duri")" = "$want" ]; then
	t=$(vhd_when "$dst_vlog" 0 "policy applied")
	t1=$(head -n1 "$dst_vlog" | cut -d' ' -f1)
	pass "migrate-policy: the second vmhintd (pid $vhd_pid) applied the metadata's mode: the destination QEMU runs $want (vmhintd applied it ${t:+$(ms_between "$t" "$t1") ms after its first log line, $(ms_between "$t" "$t_vhd") ms after it was launched}; QEMU asked $(ms_between "$t_seen" "$t_vhd") ms after)"
else
	fail "migrate-policy: the destination QEMU still runs $(qemu_mode "$duri") 30 s after vmhintd started ($(vhd_field "$dst_vsock" last-error))"
fi
check "migrate-policy: the second vmhintd logged that it applied it" \
	grep -aq "policy applied (mode $want" "$dst_vlog"
check_sh "migrate-policy: and lists the domain active, QEMU pid $(vhd_field "$dst_vsock" qemu-pid)" \
	'[ "$(vhd_field "$dst_vsock" vmhint)" = active ] && [ "$(vhd_field "$dst_vsock" qemu-pid)" = "$dpid" ]'

# --- the device works there ------------------------------------------------------
lv_send "$d" "hog $HOG_MB 3"
if lv_measure_free "$dpid" "$con" "$HOG_MB" "$DROP_TIMEOUT" 2; then
	if [ "$lv_ms" -ge 0 ]; then
		pass "migrate-device: destination QEMU RSS fell by $((lv_peak - lv_end)) KiB (peak $lv_peak KiB) >= 90% of $HOG_MB MiB, $lv_ms ms after the free ($want mode)"
	else
		fail "migrate-device: destination RSS did not fall by 90% of $HOG_MB MiB in $DROP_TIMEOUT s (peak $lv_peak, now $lv_end KiB)"
	fi
else
	fail "migrate-device: the guest did not hog on the destination"
fi
grep -a "@@VMTEST CHECK FAIL" "$con" && fail "migrate: the guest reported failures"

# --- and back, with a vmhintd on each side -----------------------------------------
# The first libvirtd now gets the domain by migration (its STARTED event,
# detail migrated), and its vmhintd applies the metadata's mode to the QEMU
# that starts from the command line's, while that QEMU still waits for the
# stream; at RESUMED (migrated) it asks QEMU again. Its poll
# (poll_interval = 1h) is not what does it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
src_off=$(stat -c %s "$src_vlog")
dst_off=$(stat -c %s "$dst_vlog")
t0=$(date +%s%N)
if dvsh migrate --live --verbose "$d" "$uri" --migrateuri "tcp://127.0.0.1:$port" >"$work/mig2.log" 2>&1; then
	t_end=$EPOCHREALTIME
	mig2_ms=$((($(date +%s%N) - t0) / 1000000))
	pass "migrate-back: virsh migrate --live back to the first libvirtd in $mig2_ms ms"
else
	fail "migrate-back: $(tr '\r' '\n' <"$work/mig2.log" | grep -v '^$' | tail -n 3 | tr '\n' ' ')$(restarted)"
	VMHINT_LIBVIRT_KEEP=1
	exit 1
fi
bpid=$(lv_qemu_pid "$d")
check_sh "migrate-back: the domain runs on the first daemon again (QEMU pid ${bpid:-?}, $(vsh domstate "$d")), no more on the second" \
	'[ "$(vsh domstate "$d")" = running ] && [ -n "$bpid" ] && [ "$bpid" != "$spid" ] && ! dvsh domstate "$d" >/dev/null 2>&1'
first=$(qemu_mode "$uri")
t_first=$EPOCHREALTIME
# Where vmhintd was, in its own log's times, from the end of the migration
# (negative: before virsh migrate returned).
steps=''
for e in "started \(detail 1\)" "QMP connected" "policy applied" "resumed \(detail 1\)" "migrated in: checking"; do
	t=$(vhd_when "$src_vlog" "$src_off" "$e")
	steps="$steps, ${e//\\/} ${t:+$(ms_between "$t" "$t_end") ms}"
done
echo "  vmhintd on the first, from the end of the migration:${steps#,}"
early=$(vhd_when "$src_vlog" "$src_off" "policy applied \(mode $want")
# shellcheck disable=SC2034 # read by check_sh's eval below
resumed=$(vhd_when "$src_vlog" "$src_off" "resumed \(detail 1\)")
check_sh "migrate-back: the first vmhintd applied the metadata's mode $want to the incoming QEMU before the stream was in (${early:+$(ms_between "$early" "$t_end") ms from the end of the migration})" \
	'[ -n "$early" ] && [ -n "$resumed" ] && [ "$(ms_between "$early" "$resumed")" -lt 0 ]'
check "migrate-back: and the QEMU there runs $want once the stream is in (asked $(ms_between "$t_first" "$t_end") ms after the migration: $first)" \
	[ "$first" = "$want" ]
check "migrate-back: at RESUMED (migrated) the first vmhintd asked QEMU again" \
	grep -aq "migrated in: checking what QEMU runs" <(tail -c +"$((src_off + 1))" "$src_vlog")
check "migrate-back: the first vmhintd logged that it applied the policy" \
	grep -aq "policy applied (mode $want" <(tail -c +"$((src_off + 1))" "$src_vlog")
check_sh "migrate-back: and lists the domain active, QEMU pid $(vhd_field "$src_vsock" qemu-pid)" \
	'[ "$(vhd_field "$src_vsock" vmhint)" = active ] && [ "$(vhd_field "$src_vsock" qemu-pid)" = "$bpid" ]'
out=$(vhd_complaints "$src_vlog" "$src_off")
check_sh "migrate-back: the first vmhintd logged no warning or error${out:+: $out}" '[ -z "$out" ]'
# The second let it go: the domain was transient there, so it is gone.
for _ in $(seq 50); do [ -z "$(vhd_field "$dst_vsock" name)" ] && break; sleep 0.1; done
check_sh "migrate-back: the second vmhintd no longer lists the domain, and still answers" \
	'"$vmhintctl" -s "$dst_vsock" list >/dev/null && [ -z "$(vhd_field "$dst_vsock" name)" ]'
sleep 1
out=$(vhd_complaints "$dst_vlog" "$dst_off")
check_sh "migrate-back: the second vmhintd logged no warning or error${out:+: $out}" '[ -z "$out" ]'
lv_console_open "$d" || fail "migrate: no serial pty back on the first"
lv_send "$d" verify
if lv_wait_line "$con" "MEMHOG: keep (PASS|FAIL) n=3" 60 1 "$bpid"; then
	line=$(tr -d '\r' <"$con" | grep -a "MEMHOG: keep .* n=3")
	case $line in
	*PASS*) pass "migrate-back: content: $line" ;;
	*) fail "migrate-back: content: $line" ;;
	esac
else
	fail "migrate-back: no answer from the guest back on the first"
fi
# The command line's lazy would keep the freed RAM resident.
lv_send "$d" "hog $HOG_MB 3"
if lv_measure_free "$bpid" "$con" "$HOG_MB" "$DROP_TIMEOUT" 3; then
	if [ "$lv_ms" -ge 0 ]; then
		pass "migrate-back: device: QEMU RSS fell by $((lv_peak - lv_end)) KiB (peak $lv_peak KiB) >= 90% of $HOG_MB MiB, $lv_ms ms after the free ($want mode)"
	else
		fail "migrate-back: device: RSS did not fall by 90% of $HOG_MB MiB in $DROP_TIMEOUT s (peak $lv_peak, now $lv_end KiB)"
	fi
else
	fail "migrate-back: device: the guest did not hog"
fi
grep -a "@@VMTEST CHECK FAIL" "$con" && fail "migrate: the guest reported failures"

[ $failed = 0 ] || { VMHINT_LIBVIRT_KEEP=1; exit 1; }
exit 0
