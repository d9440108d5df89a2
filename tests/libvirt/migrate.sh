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
#   migrate-setup   the second daemon answers with another host UUID
#   migrate-live    a running domain (patched QEMU, vmhint object and
#                   device, active reporting), whose guest has written
#                   KEEP_MB of per-page patterns, migrates with virsh
#                   migrate --live --migrateuri tcp://127.0.0.1:PORT; it
#                   runs on the second daemon only, in another QEMU, as
#                   libvirt's QEMU user
#   migrate-content the guest's kept pages verify on the destination
#                   (memhog's own counter goes on from the source's: the
#                   process migrated, not just its pages)
#   migrate-policy  the vmhint metadata arrives; the destination QEMU
#                   answers query-vmhint on the QMP socket of the metadata,
#                   inside the second daemon's namespace, with the policy
#                   the source had. A mode set over QMP alone on the source
#                   does not travel (QEMU migrates no vmhint mode: the note
#                   says what arrived); vmhintd applies the metadata's
#                   policy on the host where the domain starts.
#   migrate-device  the guest frees HOG_MB on the destination and that
#                   QEMU's RSS falls by >= 90% of it (sync mode)
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

lv_need
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
"$vmhintctl" attach "$d" >"$work/mig.attach.log" 2>&1 ||
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
policy() {	# the policy fields of query-vmhint's first object
	python3 -c 'import json,sys
r=json.loads(sys.stdin.readline())["return"][0]
print(" ".join("%s=%s" % (k, r[k]) for k in ("id", "mode", "guest-stable-hints") if k in r),
      "dedupe=%s" % r.get("dedupe", {}).get("enabled"))'
}
ns=$(vsh dumpxml "$d" | grep -o 'xmlns:vmhint="[^"]*"' | head -n1 | sed 's/.*="//; s/"$//')
src_meta=$(meta "$uri")
lv_qmp "$sock" '{"execute":"query-vmhint"}' >"$work/mig.src.query" || fail "migrate: query-vmhint on the source"
src_policy=$(policy <"$work/mig.src.query")
echo "source: QEMU pid $spid, $src_policy, metadata $src_meta"
# A mode set over QMP alone, not in the metadata: is it carried along?
lv_qmp "$sock" '{"execute":"vmhint-set-mode","arguments":{"id":"vmhint0","mode":"lazy"}}' >/dev/null ||
	fail "migrate: vmhint-set-mode lazy on the source"

# --- migrate --------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
t0=$(date +%s%N)
if vsh migrate --live --verbose "$d" "$duri" --migrateuri "tcp://127.0.0.1:$port" >"$work/mig.log" 2>&1; then
	pass "migrate-live: virsh migrate --live to the second libvirtd in $((($(date +%s%N) - t0) / 1000000)) ms"
else
	fail "migrate-live: $(tr '\r' '\n' <"$work/mig.log" | grep -v '^$' | tail -n 3 | tr '\n' ' ')"
	tail -n 20 "$dst/libvirtd.log"
	exit 1
fi
check "migrate-live: the domain runs on the second daemon" [ "$(dvsh domstate "$d")" = running ]
check "migrate-live: and no more on the first ($(vsh domstate "$d"))" [ "$(vsh domstate "$d")" = "shut off" ]
droot=/proc/$dst_pid/root
dpid=$(lv_qemu_pid "$d" "$droot")
check_sh "migrate-live: the destination QEMU (pid ${dpid:-?}) is another process" \
	'[ -n "$dpid" ] && [ "$dpid" != "$spid" ] && [ -d "/proc/$dpid" ]'
check "migrate-live: it runs as $qemu_user" [ "$(ps -o user= -p "${dpid:-0}" | tr -d ' ')" = "$qemu_user" ]

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
check_sh "migrate-policy: the destination domain has the source's vmhint metadata" \
	'[ -n "$src_meta" ] && [ "$dst_meta" = "$src_meta" ]'
dsock=$droot$sock
if lv_qmp "$dsock" '{"execute":"query-vmhint"}' >"$work/mig.dst.query" 2>&1; then
	dst_policy=$(policy <"$work/mig.dst.query")
	if [ "$dst_policy" = "$src_policy" ]; then
		pass "migrate-policy: the destination QEMU answers query-vmhint on $sock (in its namespace) with the metadata's policy: $dst_policy"
	else
		fail "migrate-policy: destination '$dst_policy', source '$src_policy'"
	fi
	# What QEMU does not carry: the mode set over QMP alone came back
	# as the command line's. vmhintd applies the metadata's policy when
	# the domain starts on the destination (its lifecycle event there).
	echo "note: the source's mode set over QMP only (lazy) arrived as $(echo "$dst_policy" | grep -o 'mode=[a-z]*'): QEMU migrates no vmhint mode; the metadata is what follows the domain"
else
	fail "migrate-policy: QMP $dsock: $(tail -n 2 "$work/mig.dst.query")"
fi

# --- the device works there ------------------------------------------------------
lv_send "$d" "hog $HOG_MB 3"
if lv_measure_free "$dpid" "$con" "$HOG_MB" "$DROP_TIMEOUT" 2; then
	if [ "$lv_ms" -ge 0 ]; then
		pass "migrate-device: destination QEMU RSS fell by $((lv_peak - lv_end)) KiB (peak $lv_peak KiB) >= 90% of $HOG_MB MiB, $lv_ms ms after the free"
	else
		fail "migrate-device: destination RSS did not fall by 90% of $HOG_MB MiB in $DROP_TIMEOUT s (peak $lv_peak, now $lv_end KiB)"
	fi
else
	fail "migrate-device: the guest did not hog on the destination"
fi
lv_qmp "$dsock" '{"execute":"query-vmhint"}' >"$work/mig.dst.query2" 2>&1
grep -a "@@VMTEST CHECK FAIL" "$con" && fail "migrate: the guest reported failures"

[ $failed = 0 ] || { VMHINT_LIBVIRT_KEEP=1; exit 1; }
exit 0
