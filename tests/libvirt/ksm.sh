#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/libvirt/ksm.sh - vmhintd's KSM owner with real libvirt domains.
#
# Two domains on one dedupe table (vmhintctl attach --dedupe TABLE), whose
# guests keep the same KEEP_MB of patterns; KSM stopped (run=0) first. The
# knobs are every writable file of /sys/kernel/mm/ksm; "before" is what
# they were once run was 0.
#   ksm-share    both QEMUs publish to the table and see each other's pages
#                (query-vmhint over virsh qemu-monitor-command)
#   ksm-kill     vmhintd (ksm = auto, a slow burst) boosts the knobs and
#                writes its state file; kill -9 then: the knobs stay boosted
#                (nobody put them back) and the state file is there
#   ksm-restart  vmhintd started again (ksm = off): every knob is back as
#                before, the state file is gone, the log says so, ksm status
#                says no saved state
#   ksm-reload   SIGHUP with ksm = auto and the fast burst settings in the
#                file: vmhintd logs "KSM settings reloaded: ksm off->auto,
#                ksm_burst_pages_to_scan 8192->4096"
#   ksm-tuned    ksmtuned running (Debian's script, unpacked from its .deb,
#                never installed): vmhintd (ksm = auto, a gain well above
#                ksm_burst_min_gain) says owner ksmtuned, runs no burst and
#                changes no knob
#   ksm-burst    ksmtuned gone: vmhintd bursts, the knobs are boosted while
#                the state file exists, the domains' pages are merged
#                (ksm status's table merged-pages, /proc/PID/
#                ksm_merging_pages and query-vmhint merged-pages of each
#                QEMU; pages_shared/pages_sharing when no other process
#                has KSM pages), vmhintctl ksm status shows the burst, the
#                kept pages verify, and after it every knob is as before
#                and the state file is gone
#
# KSM is host-wide: the test holds /tmp/vmhint-tests-ksm.lock (as
# tests/lib's KSM fixture and tests/qemu/test-dedupe.sh do) and puts every
# knob back on exit.
#
# Env: KEEP_MB (96), GUEST_MB (384), PASS_TIMEOUT (s, 120), BURST_TIMEOUT
#      (s, 120), KSMTUNED_DEBS (/var/cache/vmhint/debs: ksmtuned_*.deb, or
#      apt-get download puts it there).
# Exit: 0 all passed, 77 skipped (the reason is printed), 1 a check failed.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
KEEP_MB=${KEEP_MB:-96}
GUEST_MB=${GUEST_MB:-384}
PASS_TIMEOUT=${PASS_TIMEOUT:-120}
BURST_TIMEOUT=${BURST_TIMEOUT:-120}
KSMTUNED_DEBS=${KSMTUNED_DEBS:-/var/cache/vmhint/debs}
ksm=/sys/kernel/mm/ksm
lock=/tmp/vmhint-tests-ksm.lock
# A slow burst to be killed in (it merges next to nothing before the
# kill), and a fast one; both differ from the kernel's defaults, so a
# boosted knob is told from one put back.
SLOW_PAGES=321 SLOW_SLEEP=500
FAST_PAGES=4096 FAST_SLEEP=10
MIN_GAIN_MB=32
keep_pages=$((KEEP_MB * 256))

lv_need vmhintd
[ -r $ksm/run ] || skip "no KSM in this kernel ($ksm)"
command -v flock >/dev/null || skip "no flock (util-linux)"
lv_setup
lv_guest_prep
lv_guest_initrd "$lv_initrd" "$KEEP_MB" || { fail "initramfs"; exit 1; }

# --- the knobs ------------------------------------------------------------------
# The writable files of $ksm (root can write any, so by mode), "name=value"
# a line; a choice such as advisor_mode's "[none] scan-time" as the chosen.
knob_names() {
	local f
	for f in "$ksm"/*; do
		[ -f "$f" ] && [ $(($(stat -c '0%a' "$f") & 0200)) != 0 ] && echo "${f##*/}"
	done
}
knob() { sed 's/.*\[\([^]]*\)\].*/\1/' "$ksm/$1"; }
knobs() {
	local k
	for k in $(knob_names); do echo "$k=$(knob "$k")"; done
}
# knobs_diff A B: "name a->b" for each knob that differs, on one line.
knobs_diff() {
	join -t= <(sort <<<"$1") <(sort <<<"$2") | awk -F= '$2 != $3 { printf "%s%s %s->%s", n++ ? ", " : "", $1, $2, $3 }'
}
# A few of them, for the figures.
knobs_short() { echo "run=$(knob run) pages_to_scan=$(knob pages_to_scan) sleep_millisecs=$(knob sleep_millisecs)"; }
ksm_global() { echo "pages_shared=$(cat $ksm/pages_shared) pages_sharing=$(cat $ksm/pages_sharing)"; }

# Put back $1: ksmd stopped first (0, never 2, which would unmerge), each
# knob that differs, run last.
knobs_restore() {
	local line k v run_was
	run_was=$(sed -n 's/^run=//p' <<<"$1")
	[ "$(knob run)" = 0 ] || echo 0 >$ksm/run
	while IFS= read -r line; do
		k=${line%%=*} v=${line#*=}
		[ "$k" = run ] || [ "$(knob "$k")" = "$v" ] ||
			echo "$v" >"$ksm/$k" || echo "ksm.sh: cannot put $k back to $v" >&2
	done <<<"$1"
	[ -z "$run_was" ] || [ "$(knob run)" = "$run_was" ] || echo "$run_was" >$ksm/run
}

exec {lock_fd}>"$lock"
echo "waiting for $lock (other KSM tests)"
flock -w 1800 "$lock_fd" || { fail "$lock not free within 30 min"; exit 1; }
saved=$(knobs)
# shellcheck disable=SC2317 # run on exit (lv_on_exit)
restore_saved() { knobs_restore "$saved"; }
lv_on_exit restore_saved
echo "knobs on entry: $(tr '\n' ' ' <<<"$saved")"
echo 0 >$ksm/run
before=$(knobs)
state=$work/state/ksm-knobs.saved

# --- two domains on one table ------------------------------------------------------
tname=lvk-$$
lv_on_exit "rm -f /dev/shm/vmhint-$tname"

# qv DOMAIN PYTHON-EXPR: EXPR over query-vmhint (libvirt's monitor: the
# vmhint QMP socket is vmhintd's) of DOMAIN's first object: its dedupe
# figures summed over the regions (r).
qv() {
	lv_qmon "$1" '{"execute":"query-vmhint"}' 2>/dev/null | python3 -c '
import json, sys
o = json.load(sys.stdin)["return"][0]
r = {}
for g in o["regions"]:
    for k, v in g.get("dedupe", {}).items():
        r[k] = r.get(k, 0) + v
print(eval(sys.argv[1]))' "$2"
}
wait_qv() {
	local end=$(($(date +%s) + $3))
	until [ "$(qv "$1" "$2")" = True ]; do
		[ "$(date +%s)" -lt $end ] || return 1
		sleep 1
	done
}
# ks PYTHON-EXPR: EXPR over vmhintctl ksm status --json (s).
ks() {
	lv_ctl ksm status --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}

declare -A qpid
doms=()
for i in 1 2; do
	d=$prefix-k$i
	doms+=("$d")
	lv_domain_xml "$d" pc "<memory unit='MiB'>$GUEST_MB</memory>" >"$work/k$i.xml"
	vsh define "$work/k$i.xml" >/dev/null || { fail "define $d"; exit 1; }
	"$vmhintctl" attach "$d" --dedupe "$tname" >"$work/k$i.attach" 2>&1 ||
		{ fail "vmhintctl attach --dedupe: $(cat "$work/k$i.attach")"; exit 1; }
	vsh start "$d" >"$work/k$i.start" 2>&1 || { fail "virsh start $d: $(cat "$work/k$i.start")"; exit 1; }
	qpid[$d]=$(lv_qemu_pid "$d")
done
for d in "${doms[@]}"; do
	lv_wait_line "$work/$d.console" "INFO ready" 300 1 "${qpid[$d]}" ||
		{ fail "$d: the guest never got ready"; tail -n 20 "$work/$d.console"; exit 1; }
	lv_console_open "$d" || { fail "$d: no serial pty"; exit 1; }
done
for d in "${doms[@]}"; do
	# ksm-ranges stays 0: libvirt's RAM backend has QEMU's default
	# merge=on, which marks all of it mergeable.
	if wait_qv "$d" "r.get('published', 0) > 0 and r.get('candidate-pages', 0) >= $keep_pages * 9 // 10" "$PASS_TIMEOUT"; then
		pass "ksm-share: $d publishes to /vmhint-$tname: $(qv "$d" '"published %d, candidate-pages %d (want >= %d)" % (r["published"], r["candidate-pages"], '"$keep_pages"' * 9 // 10)')"
	else
		fail "ksm-share: $d: $(qv "$d" r)"; exit 1
	fi
done
echo "knobs before (run=0): $(tr '\n' ' ' <<<"$before")"
echo "KSM before: $(ksm_global)"

# The first burst of a vmhintd starts at once; an interval of 1h keeps a
# second one (the estimate promises more than KSM merges of guests that
# keep running) out of the checks after it.
common=("poll_interval = 500ms" "ksm = auto" "ksm_burst_min_gain = ${MIN_GAIN_MB}M"
	"ksm_burst_interval = 1h" "ksm_burst_timeout = 2min")

# --- kill -9 mid-burst ---------------------------------------------------------------
lv_vmhintd_start "${common[@]}" "ksm_burst_pages_to_scan = $SLOW_PAGES" \
	"ksm_burst_sleep = ${SLOW_SLEEP}ms" || exit 1
end=$(($(date +%s) + BURST_TIMEOUT))
until [ "$(knob pages_to_scan)" = $SLOW_PAGES ] && [ "$(knob run)" = 1 ] && [ -f "$state" ]; do
	[ "$(date +%s)" -lt $end ] || break
	sleep 0.1
done
if [ "$(knob pages_to_scan)" = $SLOW_PAGES ] && [ -f "$state" ]; then
	during_slow=$(knobs_short)
	lv_vmhintd_stop KILL
	sleep 1
	killed=$(knobs)
	check "ksm-kill: kill -9 mid-burst: the knobs stay boosted 1 s later ($(knobs_diff "$before" "$killed"))" \
		[ "$(knobs_short)" = "run=1 pages_to_scan=$SLOW_PAGES sleep_millisecs=$SLOW_SLEEP" ]
	check "ksm-kill: the state file is there ($state, $(grep -c . "$state") lines)" [ -f "$state" ]
	# Its "name value" lines as knobs (advisor_mode by number there).
	saved_in_file=$(sed -n -e '/^end /d' -e 's/^advisor_mode 0$/advisor_mode none/' \
		-e 's/^advisor_mode 1$/advisor_mode scan-time/' -e 's/^\([a-z_]*\) \([a-z0-9-]*\)$/\1=\2/p' "$state")
	missing=$(join -t= -v1 <(sort <<<"$before") <(sort <<<"$saved_in_file") | cut -d= -f1 | tr '\n' ' ')
	check "ksm-kill: the state file holds every knob ($(grep -c = <<<"$saved_in_file"); missing: '$missing') as it was before the burst (differs: '$(knobs_diff "$before" "$saved_in_file")')" \
		[ "$missing/$(knobs_diff "$before" "$saved_in_file")" = / ]
	echo "knobs during the slow burst: $during_slow"

	# --- the next start puts them back -------------------------------------------
	lv_vmhintd_start "${common[@]}" "ksm = off" || exit 1
	after_restart=$(knobs)
	check "ksm-restart: vmhintd started again: every knob as before (differs: '$(knobs_diff "$before" "$after_restart")')" \
		[ -z "$(knobs_diff "$before" "$after_restart")" ]
	check "ksm-restart: the state file is gone" [ ! -e "$state" ]
	check "ksm-restart: the log says so: $(grep -o 'restored the KSM knobs a killed vmhintd left.*' "$work/vmhintd.log" | tail -n 1)" \
		grep -q "restored the KSM knobs a killed vmhintd left" "$work/vmhintd.log"
	check "ksm-restart: ksm status: owner off, no saved state" \
		[ "$(ks 's["owner"], s["saved-state"]')" = "('off', False)" ]
	echo "knobs after the restart: $(knobs_short)"
else
	fail "ksm-kill: no burst within $BURST_TIMEOUT s: $(knobs_short), state file: $(ls "$state" 2>&1)"
	tail -n 20 "$work/vmhintd.log"
	lv_vmhintd_stop
	knobs_restore "$before"
fi
# From here on the restarted vmhintd (ksm = off), until SIGHUP says auto.
[ -n "${vhd_pid:-}" ] || lv_vmhintd_start "${common[@]}" "ksm = off" || exit 1

# --- ksmtuned owns KSM while it runs --------------------------------------------------
kt_pid='' kt_pgid=''
ksmtuned_start() {
	local debs kt=$work/ksmtuned
	debs=("$KSMTUNED_DEBS"/ksmtuned_*.deb)
	if [ ! -f "${debs[0]}" ]; then
		# Fetched once into the cache, never installed.
		mkdir -p "$KSMTUNED_DEBS"
		(cd "$KSMTUNED_DEBS" && timeout 120 apt-get download -q ksmtuned) >"$work/ksmtuned.get" 2>&1
		debs=("$KSMTUNED_DEBS"/ksmtuned_*.deb)
		[ -f "${debs[0]}" ] || { kt_why="no ksmtuned package in $KSMTUNED_DEBS and apt-get download ksmtuned failed"; return 1; }
	fi
	[ -x /bin/bash ] || { kt_why="ksmtuned needs /bin/bash"; return 1; }
	mkdir -p "$kt"
	if ! dpkg-deb -x "${debs[0]}" "$kt" || [ ! -x "$kt/usr/sbin/ksmtuned" ]; then
		kt_why="dpkg-deb -x ${debs[0]} failed"
		return 1
	fi
	# Its first adjustment is KSM_MONITOR_INTERVAL (60 s) away: within the
	# check it writes no knob, so every change would be vmhintd's.
	PIDFILE=$kt/ksmtune.pid KSM_MONITOR_INTERVAL=60 setsid "$kt/usr/sbin/ksmtuned" \
		</dev/null >/dev/null 2>&1 {lock_fd}>&-
	for _ in $(seq 100); do
		kt_pid=$(cat "$kt/ksmtune.pid" 2>/dev/null)
		[ -n "$kt_pid" ] && break
		sleep 0.1
	done
	[ -n "$kt_pid" ] || { kt_why="ksmtuned wrote no pid"; return 1; }
	kt_pgid=$(awk '{ print $5 }' "/proc/$kt_pid/stat" 2>/dev/null)
	lv_on_exit ksmtuned_stop
	[ "$(cat "/proc/$kt_pid/comm" 2>/dev/null)" = ksmtuned ] ||
		{ kt_why="ksmtuned runs as '$(cat "/proc/$kt_pid/comm" 2>/dev/null)'"; return 1; }
}
ksmtuned_stop() {
	[ -n "$kt_pgid" ] || return 0
	kill -TERM -- "-$kt_pgid" 2>/dev/null
	for _ in $(seq 50); do [ -d "/proc/$kt_pid" ] || break; sleep 0.1; done
	[ -d "/proc/$kt_pid" ] && kill -KILL -- "-$kt_pgid" 2>/dev/null
	kt_pgid=''
}

fast=("${common[@]}" "ksm_burst_pages_to_scan = $FAST_PAGES" "ksm_burst_sleep = ${FAST_SLEEP}ms")
kt_why='' have_kt=''
if ksmtuned_start; then
	have_kt=1
else
	echo "SKIP part ksm-tuned: $kt_why"
	ksmtuned_stop
fi

# --- SIGHUP: the ksm settings of the new file, from ksm = off -------------------------
n=$(grep -c "KSM settings reloaded" "$work/vmhintd.log")
{ grep -v '^ksm' "$work/vmhintd.conf"; printf '%s\n' "${fast[@]}" | grep '^ksm'; } >"$work/vmhintd.conf.new"
mv "$work/vmhintd.conf.new" "$work/vmhintd.conf"
kill -HUP "$vhd_pid"
lv_wait_line "$work/vmhintd.log" "KSM settings reloaded" 10 $((n + 1)) "$vhd_pid"
reloaded=$(grep -o "KSM settings reloaded: .*" "$work/vmhintd.log" | tail -n 1)
check "ksm-reload: SIGHUP: '${reloaded:-nothing logged}' (want ksm off->auto, pages_to_scan ->$FAST_PAGES)" \
	grep -q "ksm off->auto.*ksm_burst_pages_to_scan [0-9]*->$FAST_PAGES" <<<"$reloaded"

if [ -n "$have_kt" ]; then
	# Ten polls: owner ksmtuned, a gain worth a burst, and no burst, no
	# knob changed, no state file.
	end=$(($(date +%s) + 5))
	changed='' filed=''
	while [ "$(date +%s)" -lt $end ]; do
		d=$(knobs_diff "$before" "$(knobs)")
		[ -n "$d" ] && changed=$d
		[ -e "$state" ] && filed=1
		sleep 0.1
	done
	st=$(ks '"%s %s %d %d" % (s["owner"], s.get("ksmtuned-pid"), s["bursts"], max([t["gain-bytes"] for t in s["tables"]] or [0]))')
	read -r owner ktp nbursts gain <<<"$st"
	echo "ksm status with ksmtuned (pid $kt_pid): $(ks 'dict((k, s[k]) for k in ("owner", "ksmtuned-pid", "bursts", "tables"))')"
	check "ksm-tuned: ksm status: owner ksmtuned, pid $kt_pid ($owner $ktp)" \
		[ "$owner $ktp" = "ksmtuned $kt_pid" ]
	check "ksm-tuned: the table's gain ($((gain >> 20)) MiB) is worth a burst (>= $MIN_GAIN_MB MiB)" \
		[ "$gain" -ge $((MIN_GAIN_MB << 20)) ]
	check "ksm-tuned: no burst ($nbursts), no knob changed ('$changed'), no state file ('$filed') for 5 s" \
		[ "$nbursts/$changed/$filed" = "0//" ]
	ksmtuned_stop
fi

# --- the burst -------------------------------------------------------------------------
g0=$(ksm_global)
shared0=$(cat $ksm/pages_shared) sharing0=$(cat $ksm/pages_sharing)
m0=()
for d in "${doms[@]}"; do m0+=("$(qv "$d" 'r.get("merged-pages", 0)')"); done
during='' unsafe='' t0=$(date +%s%N)
end=$(($(date +%s) + BURST_TIMEOUT))
while [ "$(ks 's["bursts"]' 2>/dev/null || echo 0)" -lt 1 ]; do
	[ "$(date +%s)" -lt $end ] || break
	if [ "$(knob run)" = 1 ] && [ "$(knob pages_to_scan)" = $FAST_PAGES ]; then
		[ -n "$during" ] || during=$(knobs_short)
		# Boosted without the saved knobs on disk is the unsafe window.
		[ -e "$state" ] || [ "$(knob pages_to_scan)" != $FAST_PAGES ] || unsafe=1
	fi
	sleep 0.05
done
wall_ms=$((($(date +%s%N) - t0) / 1000000))
after=$(knobs)
echo "ksm status after the burst: $(ks 'dict((k, s[k]) for k in ("owner", "bursts", "last-burst", "tables", "global"))')"
last=$(ks '"%s %d %d %s" % (s["last-burst"]["result"], s["last-burst"]["elapsed-ms"], s["last-burst"]["pages-merged"], s["last-burst"]["table"])' 2>/dev/null)
read -r result elapsed merged table <<<"$last"
tmerged=$(ks 'sum(t["merged-pages"] for t in s["tables"] if t["table"] == "/vmhint-'"$tname"'")')
check "ksm-burst: vmhintctl ksm status shows the burst on ${table:-?}: ${result:-none} after ${elapsed:-?} ms, ${merged:-?} pages merged; the table's domains have ${tmerged:-?} merged (want reached on /vmhint-$tname, >= $((2 * keep_pages * 9 / 10)))" \
	[ "$result $table $((merged > 0 && tmerged >= 2 * keep_pages * 9 / 10))" = "reached /vmhint-$tname 1" ]
check "ksm-burst: knobs boosted during it (${during:-never seen}), and only with the state file there" \
	[ "${during:+seen}/$unsafe" = seen/ ]
check "ksm-burst: after it every knob is as before (differs: '$(knobs_diff "$before" "$after")')" \
	[ -z "$(knobs_diff "$before" "$after")" ]
saved_state=$(ks 's["saved-state"]')
check "ksm-burst: the state file is gone, ksm status saved-state $saved_state" \
	[ "$(ls "$state" 2>/dev/null)/$saved_state" = /False ]
shared1=$(cat $ksm/pages_shared) sharing1=$(cat $ksm/pages_sharing)
# The kernel's own per-process count (what vmhintd's merged-pages sums).
for d in "${doms[@]}"; do
	mp=$(cat "/proc/${qpid[$d]}/ksm_merging_pages" 2>/dev/null || echo 0)
	check "ksm-burst: $d: /proc/${qpid[$d]}/ksm_merging_pages $mp (want >= $((keep_pages * 9 / 10)))" \
		[ "$mp" -ge $((keep_pages * 9 / 10)) ]
done
# The host-wide counters are ours alone only while no other process has
# KSM pages: another test's guests (the same kernel, the same patterns)
# merge into the same KSM pages and come and go meanwhile.
if [ $((shared0 + sharing0)) = 0 ]; then
	check "ksm-burst: KSM merged the guests' pages: pages_shared $shared0 -> $shared1, pages_sharing $sharing0 -> $sharing1 (want +$((keep_pages * 9 / 10)) each)" \
		[ $((shared1 - shared0 >= keep_pages * 9 / 10 && sharing1 - sharing0 >= keep_pages * 9 / 10)) = 1 ]
else
	echo "not checked: pages_shared $shared0 -> $shared1, pages_sharing $sharing0 -> $sharing1: other processes had KSM pages before the burst"
fi
# merged-pages is a gauge of the last scan pass: the next pass shows it.
for i in 0 1; do
	d=${doms[$i]}
	if wait_qv "$d" "r.get('merged-pages', 0) >= $keep_pages * 9 // 10" "$PASS_TIMEOUT"; then
		pass "ksm-burst: $d: query-vmhint merged-pages ${m0[$i]} -> $(qv "$d" 'r["merged-pages"]') (want >= $((keep_pages * 9 / 10)), the kept $KEEP_MB MiB)"
	else
		fail "ksm-burst: $d: query-vmhint merged-pages ${m0[$i]} -> $(qv "$d" 'r.get("merged-pages")') (want >= $((keep_pages * 9 / 10)))"
	fi
done
few() { grep -E '^(run|pages_to_scan|sleep_millisecs)=' <<<"$1" | tr '\n' ' '; }
echo "figures: knobs before: $(few "$before")| during the burst: $during | after: $(few "$after")"
echo "figures: burst $result after $elapsed ms ($wall_ms ms watched), $merged pages merged; KSM $g0 -> $(ksm_global)"
grep -a "KSM burst" "$work/vmhintd.log" | tail -n 4

for d in "${doms[@]}"; do
	lv_send "$d" verify
	lv_wait_line "$work/$d.console" "MEMHOG: keep (PASS|FAIL) n=1" 60 1 "${qpid[$d]}"
	check "ksm-burst: $d's kept pages verify after the merge" grep -aq "MEMHOG: keep PASS n=1" "$work/$d.console"
	grep -a "@@VMTEST CHECK FAIL" "$work/$d.console" && fail "$d: the guest reported failures"
done

lv_vmhintd_stop
final=$(knobs)
check "knobs as before once vmhintd stopped (differs: '$(knobs_diff "$before" "$final")')" \
	[ -z "$(knobs_diff "$before" "$final")" ]

[ $failed = 0 ] || { VMHINT_LIBVIRT_KEEP=1; exit 1; }
exit 0
