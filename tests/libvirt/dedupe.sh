#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/libvirt/dedupe.sh - libvmhint's dedupe inside the QEMU libvirt runs:
# as libvirt's QEMU user, no capabilities, a private /dev, -sandbox on.
#
# Two domains (vmhintctl attach --dedupe TABLE, plus dedupe-zero-reclaim=on
# on the object) whose guests keep the same KEEP_MB of patterns and write
# ZERO_MB of zeroes into a tmpfs file (resident zero pages):
#   dedupe-table     /dev/shm/vmhint-TABLE exists, owned by the QEMU user,
#                    mode 0600 (created by the first QEMU, inside its
#                    private /dev: libvirt keeps /dev/shm the host's)
#   dedupe-share     the second QEMU of the same user opens the same table:
#                    both publish fingerprints (query-vmhint's region
#                    "published") and each sees the other's pages
#                    ("candidate-pages": content another VM published)
#   zero-eperm       with vm.unprivileged_userfaultfd=0 zero-page reclaim
#                    cannot get a userfaultfd: nothing is reclaimed and
#                    query-vmhint's dedupe last-error says "zero-page
#                    reclaim ...: Operation not permitted" (EPERM)
#   zero-reclaim     with vm.unprivileged_userfaultfd=1 (set for the test,
#                    restored after) the next passes reclaim at least half
#                    of ZERO_MB (anonymous RAM is dropped in whole 2 MiB
#                    granules: the file's pages at the edges of non-zero
#                    ones stay), the QEMU's RSS falls by >= 90% of what
#                    query-vmhint says was reclaimed, the guest's zero
#                    file still reads as zeroes and its kept pages verify
#
# Env: KEEP_MB (64), ZERO_MB (128), GUEST_MB (512), PASS_TIMEOUT (s, 90).
# Exit: 0 all passed, 77 skipped (the reason is printed), 1 a check failed.
# shellcheck disable=SC2016 # check_sh's expressions are single-quoted: it evaluates them
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
KEEP_MB=${KEEP_MB:-64}
ZERO_MB=${ZERO_MB:-128}
GUEST_MB=${GUEST_MB:-512}
PASS_TIMEOUT=${PASS_TIMEOUT:-90}
uffd_sysctl=/proc/sys/vm/unprivileged_userfaultfd

lv_need
[ -w "$uffd_sysctl" ] || skip "no $uffd_sysctl"
lv_setup
lv_guest_prep
lv_guest_initrd "$lv_initrd" "$KEEP_MB" || { fail "initramfs"; exit 1; }

uffd_was=$(cat "$uffd_sysctl")
lv_on_exit "echo $uffd_was >$uffd_sysctl"
echo 0 >"$uffd_sysctl"
tname=lvt-$$
shm=/dev/shm/vmhint-$tname
lv_on_exit "rm -f $shm"

# dq DOMAIN PYTHON-EXPR: EXPR over query-vmhint's first object (o), its
# first region's dedupe stats (r) and its dedupe state (s).
dq() {
	lv_qmp "${sock[$1]}" '{"execute":"query-vmhint"}' 2>/dev/null | python3 -c '
import json, sys
o = json.loads(sys.stdin.readline())["return"][0]
s = o.get("dedupe", {})
r = o["regions"][0].get("dedupe", {})
print(eval(sys.argv[1]))' "$2"
}
# wait_dq DOMAIN EXPR SECS: until EXPR is True
wait_dq() {
	local end=$(($(date +%s) + $3))
	until [ "$(dq "$1" "$2")" = True ]; do
		[ "$(date +%s)" -lt $end ] || return 1
		sleep 1
	done
}

declare -A sock pid
for i in 1 2; do
	d=$prefix-dd$i
	lv_domain_xml "$d" pc "<memory unit='MiB'>$GUEST_MB</memory>" >"$work/dd$i.xml"
	vsh define "$work/dd$i.xml" >/dev/null || { fail "define $d"; exit 1; }
	"$vmhintctl" attach "$d" --dedupe "$tname" >"$work/dd$i.attach" 2>&1 ||
		{ fail "vmhintctl attach --dedupe: $(cat "$work/dd$i.attach")"; exit 1; }
	# Zero-page reclaim is a property of the object vmhintctl does not set.
	lv_inactive "$d" | sed "s|dedupe-table=/vmhint-$tname|&,dedupe-zero-reclaim=on|" >"$work/dd$i.zr.xml"
	grep -q 'dedupe-zero-reclaim=on' "$work/dd$i.zr.xml" || { fail "no dedupe-table argument to extend"; exit 1; }
	vsh define "$work/dd$i.zr.xml" >/dev/null || { fail "define $d with zero reclaim"; exit 1; }
	vsh start "$d" >"$work/dd$i.start" 2>&1 || { fail "virsh start $d: $(cat "$work/dd$i.start")"; exit 1; }
	pid[$i]=$(lv_qemu_pid "$d")
	sock[$i]=$(vsh dumpxml "$d" | sed -n "s/.*<vmhint:qmp socket=['\"]\([^'\"]*\)['\"].*/\1/p")
	lv_wait_line "$work/$d.console" "INFO ready" 300 1 "${pid[$i]}" ||
		{ fail "$d: the guest never got ready"; tail -n 20 "$work/$d.console"; exit 1; }
	lv_console_open "$d" || { fail "$d: no serial pty"; exit 1; }
	if [ "$i" = 1 ]; then
		own=$(stat -c '%U %a' "$shm" 2>/dev/null)
		check "dedupe-table: $shm exists, owner and mode '${own:-none}' = '$qemu_user 600'" \
			[ "$own" = "$qemu_user 600" ]
	fi
done
for i in 1 2; do lv_send "$prefix-dd$i" "zero $ZERO_MB"; done
for i in 1 2; do
	lv_wait_line "$work/$prefix-dd$i.console" "INFO zeroed" 60 1 "${pid[$i]}" || fail "dd$i: no zero file"
done

# --- both publish to one table -------------------------------------------------
for i in 1 2; do
	j=$((3 - i))
	if wait_dq "$i" 'r.get("published", 0) > 0 and r.get("candidate-pages", 0) > 0' "$PASS_TIMEOUT"; then
		pass "dedupe-share: dd$i (QEMU pid ${pid[$i]}) publishes to $(dq "$i" 's.get("table")'): $(dq "$i" '"published %d, candidate-pages %d (content dd%s published)" % (r["published"], r["candidate-pages"], '"$j"')')"
	else
		fail "dedupe-share: dd$i: $(dq "$i" 'dict(s, **r)')"
	fi
done
check "dedupe-share: one table for both (the same /dev/shm file)" \
	[ -f "$shm" ]

# --- zero-page reclaim without unprivileged userfaultfd ---------------------------
for i in 1 2; do
	if wait_dq "$i" '"zero-page reclaim" in s.get("last-error", "")' "$PASS_TIMEOUT"; then
		err=$(dq "$i" 's["last-error"]')
		zr=$(dq "$i" 'r.get("zero-reclaimed")')
		case $err in
		*"Operation not permitted"*)
			check "zero-eperm: dd$i: vm.unprivileged_userfaultfd=0: '$err', $zr pages reclaimed" [ "$zr" = 0 ] ;;
		*) fail "zero-eperm: dd$i: last-error '$err' does not name EPERM" ;;
		esac
	else
		fail "zero-eperm: dd$i: no zero-page reclaim error: $(dq "$i" 's')"
	fi
done

# --- and with it -----------------------------------------------------------------
rss0=$(lv_rss "${pid[1]}")
echo 1 >"$uffd_sysctl"
want=$((ZERO_MB * 256 / 2))
if wait_dq 1 "r.get(\"zero-reclaimed\", 0) >= $want" "$PASS_TIMEOUT"; then
	sleep 1
	zr=$(dq 1 'r["zero-reclaimed"]')
	rss1=$(lv_rss "${pid[1]}")
	check "zero-reclaim: vm.unprivileged_userfaultfd=1: dd1 reclaimed $zr zero pages ($((zr / 256)) MiB of the guest's $ZERO_MB), RSS $rss0 -> $rss1 KiB (fell by $((rss0 - rss1)) KiB, want >= 90% of the reclaimed)" \
		[ $((rss0 - rss1)) -ge $((zr * 4 * 9 / 10)) ]
else
	fail "zero-reclaim: dd1 reclaimed $(dq 1 'r.get("zero-reclaimed")') pages (want >= $want) in $PASS_TIMEOUT s: $(dq 1 'dict(s, **r)')"
fi
c=$work/$prefix-dd1.console
lv_send "$prefix-dd1" zerocheck
lv_send "$prefix-dd1" verify
lv_wait_line "$c" "INFO zero intact|zero file changed" 60 1 "${pid[1]}" &&
	lv_wait_line "$c" "MEMHOG: keep (PASS|FAIL) n=1" 60 1 "${pid[1]}"
check_sh "zero-reclaim: dd1's zero file reads as zeroes and its kept pages verify after the reclaim" \
	'grep -aq "INFO zero intact" "$c" && grep -aq "MEMHOG: keep PASS n=1" "$c"'
echo "$uffd_was" >"$uffd_sysctl"
check "sysctl vm.unprivileged_userfaultfd back to $uffd_was" [ "$(cat "$uffd_sysctl")" = "$uffd_was" ]
for i in 1 2; do
	grep -a "@@VMTEST CHECK FAIL" "$work/$prefix-dd$i.console" && fail "dd$i: the guest reported failures"
done

[ $failed = 0 ] || { VMHINT_LIBVIRT_KEEP=1; exit 1; }
exit 0
