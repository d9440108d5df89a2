#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/libvirt/daemon.sh - vmhintd and vmhintctl against a real libvirtd
# and real domains (the command guest of lib.sh, TCG).
#
# vmhintd runs first (lv_vmhintd_start, ksm = off: KSM's knobs are the
# host's, and nothing here dedupes); every domain is defined after it, so
# vmhintd learns each one from libvirt's events alone.
#
#   pickup    vmhintctl attach on a plain defined domain A (GUEST_MB), then
#             virsh start: vmhintctl list shows it not-attached, inactive,
#             then active, without a vmhintd restart; the time from virsh
#             start to "active" is printed
#   stats     A's guest touches and frees HOG_MB: QEMU's RSS falls by >=
#             90% of it; vmhintctl stats --json, virsh dommemstat and
#             /proc agree on the RSS while it is held and after the free,
#             and on the fall, and QEMU's bytes-dropped accounts for it
#   metadata  virsh metadata --live --config switches QEMU's mode
#             (query-vmhint over libvirt's monitor) without vmhintctl;
#             vmhintctl set-mode changes the live and config metadata and
#             QEMU's mode before it returns
#   badmeta   metadata with a bad mode, a bad dedupe, over-long values and
#             values of the wrong type: vmhintctl list's last-error names
#             the field, policy-errors counts it, QEMU's mode and the
#             listed policy stay; a valid change after them applies again
#   badreq    vmhintctl: an unknown domain, a bad mode, a bad node; raw
#             lines on the control socket (not JSON, not an object, wrong
#             types, unknown members and commands, a NUL, bad UTF-8, a line
#             over 4096 bytes): each gets a BadRequest or NoDomain error
#             that says what is wrong; vmhintd stays up, nothing changed
#   numa      vmhintctl numa-move A --node 0 prints its summary (status,
#             per-outcome page counts adding up to pages-total) and A's
#             RAM is on node 0 (/proc/PID/numa_maps); node 1 is refused
#             with the reason and the next step (on a one-node host: not
#             online; with more nodes, outside cpuset.mems: virsh numatune)
#   restart   libvirtd is killed and started again at once (only if it
#             was running): vmhintd reconnects, lists the same domains
#             in the same states, its QMP connections never dropped, stats
#             works, and a metadata change still reaches QEMU
#   destroy   with B's QEMU stopped (SIGSTOP) so that requests are surely
#             in flight (stats, flush, set-mode, numa-move, each from a
#             vmhintctl of its own), virsh destroy B, and one more stats
#             once libvirt waits for the QEMU it sent SIGTERM: vmhintd
#             answers list all along (libvirt holds B meanwhile), every
#             request ends with a clear error ("QEMU did not answer: its
#             QMP connection closed (...)") or its result, vmhintd runs on
#             and manages B again after virsh start
#
# Env: HOG_MB (1024), GUEST_MB (1536, domain A), SMALL_MB (512, domain B),
#      DROP_TIMEOUT (s, 60), VMHINT_LIBVIRT_KEEP=1 keeps the work directory.
# Exit: 0 all passed, 77 skipped (the reason is printed), 1 a check failed.
# shellcheck disable=SC2016 # check_sh's expressions are single-quoted: it evaluates them
# shellcheck disable=SC2317 # functions that only check runs (check DESC FUNCTION ARGS...)
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
HOG_MB=${HOG_MB:-1024}
GUEST_MB=${GUEST_MB:-1536}
SMALL_MB=${SMALL_MB:-512}
DROP_TIMEOUT=${DROP_TIMEOUT:-60}
NS=urn:vmhint:domain:1

lv_need vmhintd
lv_setup
lv_guest_prep
lv_guest_initrd "$lv_initrd" || { fail "initramfs"; exit 1; }
# qmp_timeout: a QEMU stopped by the destroy check must not time out
# before virsh destroy kills it (libvirt waits 10 s after SIGTERM).
lv_vmhintd_start "ksm = off" "qmp_timeout = 60s" || exit 1

# --- helpers ---------------------------------------------------------------

# section NAME: where the run is, and since when (SECONDS: bash's clock).
section() { echo "--- $1 (at ${SECONDS} s)"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# vl NAME EXPR: a Python expression over NAME's entry (d) in vmhintctl list
# --json; None if NAME is not listed.
vl() {
	lv_ctl list --json 2>/dev/null | python3 -c '
import json, sys
try:
    doms = {x["name"]: x for x in json.load(sys.stdin)["domains"]}
except Exception as e:
    print("no list: %s" % e); sys.exit(0)
d = doms.get(sys.argv[1])
print(None if d is None else eval(sys.argv[2]))' "$1" "$2"
}
# wait_vl NAME EXPR SECS: until EXPR is True.
wait_vl() {
	local end=$(($(date +%s) + $3))
	until [ "$(vl "$1" "$2")" = True ]; do
		[ "$(date +%s)" -lt $end ] || return 1
		sleep 0.05
	done
}

# The mode of the first vmhint object, asked over libvirt's monitor (vmhintd
# holds the domain's own QMP socket).
qmode() {
	lv_qmon "$1" '{"execute":"query-vmhint"}' 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["return"][0]["mode"])' 2>/dev/null
}
wait_qmode() {
	local end=$(($(date +%s) + $3))
	until [ "$(qmode "$1")" = "$2" ]; do
		[ "$(date +%s)" -lt $end ] || return 1
		sleep 0.05
	done
}

# virsh metadata prints the element without its prefix (<vmhint><mode>...);
# --key vmhint puts it and every element in it back into the namespace.
meta() { vsh metadata "$1" "$NS" "${@:2}"; }
meta_set() { vsh metadata "$1" "$NS" --key vmhint --set "$2" --live --config; }
# The mode in a domain's metadata (live, or --config).
meta_mode() { meta "$@" | sed -n 's|.*<mode>\([^<]*\)</mode>.*|\1|p'; }

# vreq LINE...: raw request lines on one control connection; the reply
# lines (JSON), one per request, until vmhintd closes or 10 s pass.
vreq() {
	python3 - "$vhd_sock" "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
for l in sys.argv[2:]:
    s.sendall(l.encode("utf-8", "surrogateescape") + b"\n")
s.shutdown(socket.SHUT_WR)
buf = b""
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        buf += c
except socket.timeout:
    pass
sys.stdout.write(buf.decode("utf-8", "replace"))
PY
}

# Three readings of a QEMU's resident memory, one after another, in KiB:
# vmhintctl stats (rss-kib: libvirt's VIR_DOMAIN_MEMORY_STAT_RSS), virsh
# dommemstat's rss (the same libvirt figure), /proc/PID/status VmRSS (the
# kernel's counter libvirt reads it from, /proc/PID/stat), and QEMU's
# bytes-dropped-total from the same stats reply. Sets r_ctl r_dms r_proc
# r_drop; the stats reply is kept in $work/stats.TAG.json.
# The three are taken again (up to 20 times) while VmRSS moved by more than
# 1 MiB from before them to after them: the guest may still be freeing.
read_rss() {
	local d=$1 pid=$2 tag=$3 before i
	for i in $(seq 20); do
		before=$(lv_rss "$pid")
		lv_ctl stats "$d" --json >"$work/stats.$tag.json" 2>"$work/stats.$tag.err"
		r_dms=$(vsh dommemstat "$d" 2>/dev/null | awk '$1 == "rss" { print $2 }')
		r_proc=$(lv_rss "$pid")
		[ "$(absdiff "$before" "$r_proc")" -le 1024 ] && break
		sleep 0.5
	done
	r_ctl=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["rss-kib"])' \
		"$work/stats.$tag.json" 2>/dev/null)
	r_drop=$(python3 -c 'import json, sys
print(sum(o["counters"]["bytes-dropped-total"] for o in json.load(open(sys.argv[1]))["vmhint"]))' \
		"$work/stats.$tag.json" 2>/dev/null)
	echo "  $tag: vmhintctl stats rss-kib ${r_ctl:-?}, dommemstat rss ${r_dms:-?}, VmRSS $r_proc KiB; bytes-dropped ${r_drop:-?} (reading $i)"
}
xsub() { sed "$1" <<<"$2"; }	# xsub SED-EXPR TEXT
absdiff() { local x=$(($1 - $2)); echo $((x < 0 ? -x : x)); }

# le MAX N...: every N is at most MAX.
le() {
	local max=$1 n
	shift
	for n; do [ "$n" -le "$max" ] || return 1; done
}

# define_plain NAME MIB: a plain domain (no vmhint) of MIB, defined.
define_plain() {
	lv_domain_xml "$1" pc "<memory unit='MiB'>$2</memory>" >"$work/$1.xml"
	vsh define "$work/$1.xml" >"$work/$1.define.log" 2>&1
}

A=$prefix-a
B=$prefix-b

# --- pickup: attach, start, active --------------------------------------------
section pickup
# A's RAM is never merged by KSM (<nosharepages/>: QEMU's mem-merge=off),
# which another test may run host-wide: its RSS falls only by what vmhint
# drops.
lv_domain_xml "$A" pc "<memory unit='MiB'>$GUEST_MB</memory><memoryBacking><nosharepages/></memoryBacking>" >"$work/$A.xml"
vsh define "$work/$A.xml" >"$work/$A.define.log" 2>&1 || { fail "define $A: $(cat "$work/$A.define.log")"; exit 1; }
check "pickup: a plain defined domain is listed not-attached (from libvirt's defined event)" \
	wait_vl "$A" 'd["vmhint"] == "not-attached" and d["state"] == "shutoff"' 10
"$vmhintctl" attach "$A" >"$work/attach.log" 2>&1 || { fail "vmhintctl attach: $(cat "$work/attach.log")"; exit 1; }
check "pickup: after vmhintctl attach it is listed inactive, mode sync" \
	wait_vl "$A" 'd["vmhint"] == "inactive" and d["mode"] == "sync"' 10
t0=$(date +%s%N)
vsh start "$A" >"$work/start.log" 2>&1 || { fail "virsh start $A: $(cat "$work/start.log")"; exit 1; }
t_started=$(ms_since "$t0")
if wait_vl "$A" 'd["vmhint"] == "active" and d["state"] == "running"' 60; then
	t_active=$(ms_since "$t0")
	pass "pickup: vmhintd reports $A active ${t_active} ms after virsh start (virsh start returned after $t_started ms), no restart"
else
	t_active=-1
	fail "pickup: $A not active within 60 s: $(vl "$A" d)"
fi
pid_a=$(lv_qemu_pid "$A")
check "pickup: list's qemu-pid is the domain's QEMU ($pid_a)" [ "$(vl "$A" 'd.get("qemu-pid")')" = "$pid_a" ]
lv_ctl list >"$work/list.txt" 2>&1
check "pickup: vmhintctl list (table) shows $A running, active, sync" \
	grep -Eq "^ [0-9]+ +$A +running +active +sync +off *$" "$work/list.txt"
lv_wait_line "$work/$A.console" "INFO ready" 300 1 "$pid_a" ||
	{ fail "$A: the guest never got ready"; tail -n 20 "$work/$A.console"; exit 1; }
lv_console_open "$A" || { fail "$A: no serial pty"; exit 1; }

# --- stats: the free, and three views of it -----------------------------------
section stats
# What "agree" means: vmhintctl stats' rss-kib and dommemstat's rss are one
# libvirt figure (VIR_DOMAIN_MEMORY_STAT_RSS, from /proc/PID/stat), and
# VmRSS is the kernel's counter behind it; read one after another (~0.1 s
# apart) with the guest idle they differ only by what QEMU allocated in
# between: each pair within AGREE_KIB. The fall (held -> freed) seen through
# vmhintctl stats is >= 90% of HOG_MB, dommemstat sees the same fall within
# 2 * AGREE_KIB, and QEMU's bytes-dropped grew by at least that fall less
# AGREE_KIB: what RSS lost is what vmhint dropped.
AGREE_KIB=${AGREE_KIB:-8192}
con=$work/$A.console
lv_send "$A" "hog $HOG_MB 8"
if lv_wait_line "$con" "MEMHOG: touched" 300 1 "$pid_a"; then
	read_rss "$A" "$pid_a" held
	h_ctl=$r_ctl h_dms=$r_dms h_proc=$r_proc h_drop=$r_drop
	lv_measure_free "$pid_a" "$con" "$HOG_MB" "$DROP_TIMEOUT" 1
	read_rss "$A" "$pid_a" freed
	f_ctl=$r_ctl f_dms=$r_dms f_proc=$r_proc f_drop=$r_drop
	if [ "$lv_ms" -ge 0 ]; then
		pass "stats: QEMU RSS fell by $((lv_peak - lv_end)) KiB (peak $lv_peak, now $lv_end KiB) >= 90% of $HOG_MB MiB, $lv_ms ms after the free"
	else
		fail "stats: QEMU RSS did not fall by 90% of $HOG_MB MiB in $DROP_TIMEOUT s (peak $lv_peak, now $lv_end KiB)"
	fi
	if [ -n "$h_ctl" ] && [ -n "$f_ctl" ] && [ -n "$h_dms" ] && [ -n "$f_dms" ] && [ -n "$h_drop" ] && [ -n "$f_drop" ]; then
		check "stats: held: vmhintctl stats rss-kib $h_ctl, dommemstat rss $h_dms, VmRSS $h_proc KiB agree within $AGREE_KIB KiB" \
			le "$AGREE_KIB" "$(absdiff "$h_ctl" "$h_dms")" "$(absdiff "$h_ctl" "$h_proc")"
		check "stats: freed: vmhintctl stats rss-kib $f_ctl, dommemstat rss $f_dms, VmRSS $f_proc KiB agree within $AGREE_KIB KiB" \
			le "$AGREE_KIB" "$(absdiff "$f_ctl" "$f_dms")" "$(absdiff "$f_ctl" "$f_proc")"
		fall_ctl=$((h_ctl - f_ctl)) fall_dms=$((h_dms - f_dms)) dropped_kib=$(((f_drop - h_drop) / 1024))
		check "stats: vmhintctl stats' rss-kib fell by $fall_ctl KiB >= 90% of $HOG_MB MiB" \
			[ "$fall_ctl" -ge $((HOG_MB * 1024 * 9 / 10)) ]
		check "stats: dommemstat's rss fell by $fall_dms KiB, the same within $((2 * AGREE_KIB)) KiB" \
			le $((2 * AGREE_KIB)) "$(absdiff "$fall_ctl" "$fall_dms")"
		check "stats: QEMU's bytes-dropped (vmhintctl stats) grew by $dropped_kib KiB: the fall of $fall_ctl KiB is what vmhint dropped" \
			[ "$dropped_kib" -ge $((fall_ctl - AGREE_KIB)) ]
	else
		fail "stats: vmhintctl stats --json gave no rss-kib or counters: $(cat "$work/stats.held.err" "$work/stats.freed.err")"
	fi
	lv_ctl stats "$A" >"$work/stats.txt" 2>&1
	check_sh "stats: vmhintctl stats (text) has rss-kib, the policy and the object's bytes-dropped" \
		'grep -Eq "^rss-kib: +[0-9]+ \(" "$work/stats.txt" && grep -Eq "^ +mode: +sync$" "$work/stats.txt" &&
		 grep -Eq "^ +bytes-dropped: +[0-9]+" "$work/stats.txt"'
	echo "{\"case\":\"libvirt-daemon-stats\",\"hog_mib\":$HOG_MB,\"peak_kib\":$lv_peak,\"end_kib\":$lv_end,\"ms_to_90pct\":$lv_ms,\"stats_fall_kib\":${fall_ctl:-0},\"dommemstat_fall_kib\":${fall_dms:-0},\"dropped_kib\":${dropped_kib:-0},\"start_to_active_ms\":$t_active}"
else
	fail "stats: the guest never touched its memory"
	tail -n 20 "$con"
fi

# --- metadata: virsh metadata switches the mode live ------------------------------
section metadata
meta "$A" >"$work/meta.sync.xml"
check "metadata: $A's live metadata has mode sync" [ "$(meta_mode "$A")" = sync ]
check "metadata: QEMU runs mode sync" [ "$(qmode "$A")" = sync ]
sed 's|<mode>sync</mode>|<mode>lazy</mode>|' "$work/meta.sync.xml" >"$work/meta.lazy.xml"
t0=$(date +%s%N)
if meta_set "$A" "$(cat "$work/meta.lazy.xml")" >"$work/meta.log" 2>&1; then
	if wait_qmode "$A" lazy 15; then
		pass "metadata: virsh metadata --live --config (mode lazy): QEMU's mode is lazy $(ms_since "$t0") ms later, without vmhintctl"
	else
		fail "metadata: QEMU's mode is '$(qmode "$A")' 15 s after virsh metadata set lazy"
	fi
	check "metadata: vmhintctl list shows mode lazy" wait_vl "$A" 'd["mode"] == "lazy"' 5
	check "metadata: the config has mode lazy too" [ "$(meta_mode "$A" --config)" = lazy ]
else
	fail "metadata: virsh metadata --set: $(cat "$work/meta.log")"
fi
if lv_ctl set-mode "$A" sync >"$work/setmode.log" 2>&1; then
	# set-mode returns once QEMU has the mode: no waiting here.
	m=$(qmode "$A")
	check "metadata: vmhintctl set-mode sync ($(cat "$work/setmode.log")): QEMU's mode is '$m' when it returns" [ "$m" = sync ]
	check "metadata: set-mode wrote mode sync into the live metadata and the config" \
		[ "$(meta_mode "$A")/$(meta_mode "$A" --config)" = sync/sync ]
else
	fail "metadata: vmhintctl set-mode: $(cat "$work/setmode.log")"
fi
lv_ctl set-mode "$A" lazy --config >"$work/setmode2.log" 2>&1
check "metadata: set-mode lazy --config changes the config only (config $(meta_mode "$A" --config), live $(meta_mode "$A"), QEMU $(qmode "$A"))" \
	[ "$(meta_mode "$A" --config)/$(meta_mode "$A")/$(qmode "$A")" = lazy/sync/sync ]

# --- badmeta: invalid policies change nothing ------------------------------------
section badmeta
# Each bad policy asks for mode lazy where its mode is valid, so a policy
# applied in part would show in QEMU's mode (sync now).
valid=$(cat "$work/meta.sync.xml")
lazy=$(cat "$work/meta.lazy.xml")
long=$(head -c 5000 /dev/zero | tr '\0' a)
# badmeta CASE FIELD-REGEX XML: set it; policy-errors grows, last-error
# matches, nothing else changes.
badmeta() {
	local c=$1 re=$2 xml=$3 pe0 err
	pe0=$(vl "$A" 'd["policy-errors"]')
	t0=$(date +%s%N)
	if ! meta_set "$A" "$xml" >"$work/bad-$c.log" 2>&1; then
		# libvirt itself refused it: nothing reached vmhintd.
		pass "badmeta-$c: virsh metadata refused it: $(head -n1 "$work/bad-$c.log")"
		return
	fi
	if ! wait_vl "$A" "d[\"policy-errors\"] > $pe0" 15; then
		fail "badmeta-$c: policy-errors still $pe0 after 15 s: $(vl "$A" d)"
		return
	fi
	err=$(vl "$A" 'd.get("last-error", "")')
	check_sh "badmeta-$c: $(ms_since "$t0") ms: last-error '$err' (${#err} bytes)" \
		'[[ $err =~ $re ]] && [ ${#err} -lt 400 ]'
	check "badmeta-$c: vmhintctl list keeps mode sync, active; QEMU runs sync" \
		[ "$(vl "$A" 'd["mode"] + "/" + d["vmhint"]')/$(qmode "$A")" = sync/active/sync ]
}
badmeta mode 'invalid vmhint metadata .*mode.*fast' \
	"${valid/<mode>sync</<mode>fast<}"
badmeta dedupe 'invalid vmhint metadata .*dedupe.*maybe' \
	"$(xsub "s|<dedupe [^>]*>|<dedupe enabled='maybe'/>|" "$lazy")"
badmeta long-mode 'invalid vmhint metadata .*mode.*aaaa\.\.\.' \
	"${valid/<mode>sync</<mode>$long<}"
badmeta long-table 'invalid vmhint metadata .*table' \
	"$(xsub "s|<dedupe [^>]*>|<dedupe enabled='no' table='/vmhint-${long:0:300}'/>|" "$lazy")"
badmeta long-socket 'invalid vmhint metadata .*qmp.*socket' \
	"$(xsub "s|socket=.[^'\"]*.|socket='/${long:0:300}'|" "$lazy")"
badmeta numa-type 'invalid vmhint metadata .*numa' \
	"$(xsub "s|<numa [^>]*>|<numa policy='bind' nodes='zero'/>|" "$lazy")"
badmeta mode-element 'invalid vmhint metadata .*mode' \
	"${valid/<mode>sync</<mode><lazy/><}"
check "badmeta: vmhintd logged the invalid metadata" grep -q "invalid vmhint metadata" "$work/vmhintd.log"
check "badmeta: vmhintd ($vhd_pid) runs" kill -0 "$vhd_pid"
# And a valid one applies again.
meta_set "$A" "$lazy" >/dev/null 2>&1
check "badmeta: a valid policy (mode lazy) after them: QEMU's mode is lazy" wait_qmode "$A" lazy 15
check "badmeta: list is back to lazy, active" wait_vl "$A" 'd["mode"] == "lazy" and d["vmhint"] == "active"' 5
lv_ctl set-mode "$A" sync >/dev/null 2>&1

# --- badreq: bad vmhintctl requests and raw lines --------------------------------
section badreq
# ctl_bad CASE EXPECT-ERE ARGS...: exit 1, "error: " matching on stderr.
ctl_bad() {
	local c=$1 re=$2 rc
	shift 2
	lv_ctl "$@" >"$work/req-$c.out" 2>"$work/req-$c.err"
	rc=$?
	check_sh "badreq-$c: vmhintctl $*: exit $rc, $(head -n1 "$work/req-$c.err")" \
		'[ $rc = 1 ] && grep -Eq "^error: .*$re" "$work/req-$c.err"'
}
ctl_bad unknown-domain "no domain $prefix-nosuch" stats "$prefix-nosuch"
ctl_bad unknown-domain-flush "no domain $prefix-nosuch" flush "$prefix-nosuch"
ctl_bad bad-mode "invalid mode 'fast'" set-mode "$A" fast
ctl_bad bad-node "invalid --node '4096'" numa-move "$A" --node 4096
ctl_bad offline-node "node 63 is not an online host node" numa-move "$A" --node 63
C=$prefix-c	# defined, not attached (attached later, never started)
define_plain "$C" "$SMALL_MB" || fail "define $C: $(cat "$work/$C.define.log")"
wait_vl "$C" 'd["vmhint"] == "not-attached"' 10
ctl_bad not-attached "domain $C has no valid vmhint policy" flush "$C"
python3 - "$vhd_sock" "$A" >"$work/raw.log" 2>&1 <<'PY'
import json, socket, sys
path, dom = sys.argv[1], sys.argv[2]
cases = [
    # (what, line, class, text in desc)
    ("not JSON", b"{", "BadRequest", "not JSON"),
    ("not an object", b"[1,2]", "BadRequest", "not a JSON object"),
    ("no cmd", b'{"domain":"x"}', "BadRequest", 'missing member "cmd"'),
    ("unknown command", b'{"cmd":"frob"}', "BadRequest", 'unknown command "frob"'),
    ("bad mode", json.dumps({"cmd": "set-mode", "domain": dom, "mode": "fast"}).encode(),
     "BadRequest", '"mode" must be "sync" or "lazy"'),
    ("domain of the wrong type", b'{"cmd":"stats","domain":7}', "BadRequest", '"domain" must be a string'),
    ("node out of range", json.dumps({"cmd": "numa-move", "domain": dom, "node": -1}).encode(),
     "BadRequest", '"node" must be an integer from 0 to 1023'),
    ("node of the wrong type", json.dumps({"cmd": "numa-move", "domain": dom, "node": "0"}).encode(),
     "BadRequest", '"node" must be an integer'),
    ("unknown member", json.dumps({"cmd": "stats", "domain": dom, "bogus": 1}).encode(),
     "BadRequest", 'unknown member "bogus"'),
    ("member twice", ('{"cmd":"stats","domain":"%s","domain":"%s"}' % (dom, dom)).encode(),
     "BadRequest", "given twice"),
    ("trailing data", b'{"cmd":"list"} x', "BadRequest", "trailing data"),
    ("NUL byte", b'{"cmd":"list"}\0', "BadRequest", "NUL byte"),
    ("bad UTF-8", b'{"cmd":"stats","domain":"\xff\xfe"}', "BadRequest", ""),
    ("unknown domain", b'{"cmd":"flush","domain":"no-such-domain"}', "NoDomain", "no domain no-such-domain"),
    ("over-long domain", json.dumps({"cmd": "stats", "domain": "d" * 3000}).encode(), "BadRequest", '"domain" must be 1 to'),
]
bad = 0
def connect():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    return s, s.makefile("rb")
s, f = connect()
for i, (what, line, cls, text) in enumerate(cases):
    s.sendall(line.replace(b"}", b',"id":%d}' % i, 1) if line.endswith(b"}") and b"\0" not in line else line)
    s.sendall(b"\n")
    r = f.readline()
    try:
        e = json.loads(r)["error"]
        ok = e["class"] == cls and text in e["desc"]
    except Exception:
        e, ok = r, False
    print("%s %s: %s" % ("ok" if ok else "BAD", what, json.dumps(e)))
    bad |= not ok
# Over-long: an error, then vmhintd closes the connection.
s.sendall(b'{"cmd":"list","x":"' + b"y" * 5000 + b'"}\n')
r = f.readline()
ok = b"longer than 4096" in r
print("%s over-long line: %s" % ("ok" if ok else "BAD", r.decode("utf-8", "replace").strip()))
bad |= not ok
try:
    s.sendall(b'{"cmd":"list"}\n')
    rest = f.readline()
except OSError:
    rest = b""
ok = rest == b""
print("%s closed after the over-long line (read %r)" % ("ok" if ok else "BAD", rest[:80]))
bad |= not ok
# A new connection works.
s, f = connect()
s.sendall(b'{"cmd":"version","id":"after"}\n')
r = json.loads(f.readline())
ok = r.get("id") == "after" and r["return"]["connected"] is True
print("%s a new connection answers version: %s" % ("ok" if ok else "BAD", json.dumps(r)))
bad |= not ok
sys.exit(bad)
PY
rc=$?
sed 's/^/  /' "$work/raw.log"
check "badreq-raw: $(grep -c '^ok' "$work/raw.log") raw lines each refused with a clear error, vmhintd answers after them" [ $rc = 0 ]
check "badreq: vmhintd ($vhd_pid) runs; $A still active, mode sync in QEMU" \
	[ "$(kill -0 "$vhd_pid" && vl "$A" 'd["vmhint"]')/$(qmode "$A")" = active/sync ]

# --- numa: move to node 0; a node outside --------------------------------------
section numa
# The guest RAM mapping: the largest in QEMU's numa_maps.
ram_nodes() {
	awk '{ n = 0; for (i = 3; i <= NF; i++) if ($i ~ /^(anon|mapped)=/) { split($i, a, "="); n += a[2] }
	       if (n > best) { best = n; line = $0 } } END { print line }' "/proc/$1/numa_maps" |
		grep -o 'N[0-9]*=[0-9]*' | tr '\n' ' '
}
if lv_ctl numa-move "$A" --node 0 >"$work/numa.out" 2>"$work/numa.err"; then
	sed 's/^/  /' "$work/numa.out" | tail -n 12
	if python3 - "$work/numa.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
total = int(re.search(r"^\s*pages-total:\s+(\d+)", t, re.M).group(1))
outs = {k: int(v) for k, v in re.findall(r"^\s*([a-z_]+):\s+(\d+) pages", t, re.M)}
sys.exit(0 if re.search(r"to node 0: completed", t) and outs and sum(outs.values()) == total else 1)
PY
	then
		pass "numa: vmhintctl numa-move --node 0: completed, per-outcome counts add up to pages-total"
	else
		fail "numa: numa-move's summary: $(tr '\n' ' ' <"$work/numa.out")"
	fi
else
	fail "numa: vmhintctl numa-move --node 0: $(cat "$work/numa.err")"
fi
nodes=$(ram_nodes "$pid_a")
check_sh "numa: A's guest RAM is on node 0 (numa_maps: ${nodes:-none})" '[[ $nodes =~ ^N0=[0-9]+\ $ ]]'
# The only node outside the domain's cpuset.mems a one-node host has is a
# node that is not online: refused with that reason. (With more nodes, an
# online node outside cpuset.mems is refused naming cpuset.mems and
# "virsh numatune"; that reply is checked where there is such a node.)
ctl_bad node1 "node 1 is (not an online host node|outside the domain's cpuset.mems)" numa-move "$A" --node 1
allowed=$(awk '/^Mems_allowed_list:/ { print $2 }' "/proc/$pid_a/status")
online=$(cat /sys/devices/system/node/online)
if grep -q "outside the domain's cpuset.mems" "$work/req-node1.err"; then
	check "numa: the refusal names virsh numatune" grep -q "^hint: .*virsh numatune $A --mode restrictive --nodeset $allowed,1 --live" "$work/req-node1.err"
else
	check_sh "numa: node 1 is not online here (online: $online, QEMU's Mems_allowed_list: $allowed): the refusal says so and how to look" \
		'grep -q "online: $online" "$work/req-node1.err" && grep -q "^hint: numactl --hardware" "$work/req-node1.err"'
fi

# --- a second domain: picked up while the first runs ---------------------------
section pickup-b
define_plain "$B" "$SMALL_MB" || { fail "define $B: $(cat "$work/$B.define.log")"; exit 1; }
"$vmhintctl" attach "$B" --mode lazy >"$work/attach-b.log" 2>&1 || fail "vmhintctl attach $B: $(cat "$work/attach-b.log")"
t0=$(date +%s%N)
vsh start "$B" >"$work/start-b.log" 2>&1 || { fail "virsh start $B: $(cat "$work/start-b.log")"; exit 1; }
if wait_vl "$B" 'd["vmhint"] == "active"' 60; then
	pass "pickup: a second domain $B is active $(ms_since "$t0") ms after virsh start"
else
	fail "pickup: $B not active: $(vl "$B" d)"
fi
pid_b=$(lv_qemu_pid "$B")
"$vmhintctl" attach "$C" >/dev/null 2>&1
wait_vl "$C" 'd["vmhint"] == "inactive"' 10 || fail "pickup: $C not listed inactive: $(vl "$C" d)"

# --- restart: libvirtd goes away and comes back -------------------------------------
section restart
# state: NAME STATE VMHINT QEMU-PID of every domain of ours, sorted.
list_state() {
	lv_ctl list --json | python3 -c '
import json, sys
for d in sorted(json.load(sys.stdin)["domains"], key=lambda d: d["name"]):
    print(d["name"], d["state"], d["vmhint"], d.get("mode"), d.get("qemu-pid", "-"))'
}
version_connected() {
	vreq '{"cmd":"version"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["return"]["connected"])' 2>/dev/null
}
list_state >"$work/restart.before"
# The host's libvirtd, the one of qemu:///system: of this mount namespace
# (another test may run a libvirtd of its own in another) and the one of
# its pidfile. Restarted only if it runs, and started again at once.
old=$(lv_daemon_pid libvirtd)
if [ -z "$old" ] || [ "$old" != "$(cat /run/libvirtd.pid 2>/dev/null)" ]; then
	fail "restart: no libvirtd to restart (lv_daemon_pid '$old', /run/libvirtd.pid '$(cat /run/libvirtd.pid 2>/dev/null)')"
else
	log_mark=$(wc -l <"$work/vmhintd.log")
	kill "$old"
	for _ in $(seq 200); do
		[ "$(awk '{ print $3 }' "/proc/$old/stat" 2>/dev/null || echo Z)" = Z ] && break
		sleep 0.05
	done
	[ "$(awk '{ print $3 }' "/proc/$old/stat" 2>/dev/null || echo Z)" = Z ] || kill -KILL "$old"
	for _ in $(seq 100); do [ "$(awk '{ print $3 }' "/proc/$old/stat" 2>/dev/null || echo Z)" = Z ] && break; sleep 0.05; done
	t0=$(date +%s%N)
	libvirtd -d || fail "restart: libvirtd -d failed"
	new=$(lv_daemon_pid libvirtd)
	[ "$lv_started_libvirtd" = "$old" ] && lv_started_libvirtd=$new
	for _ in $(seq 200); do vsh uri >/dev/null 2>&1 && break; sleep 0.05; done
	echo "  libvirtd $old killed, $new answers $(ms_since "$t0") ms after libvirtd -d"
	ok=0
	for _ in $(seq 1200); do [ "$(version_connected)" = True ] && { ok=1; break; }; sleep 0.05; done
	if [ $ok = 1 ]; then
		pass "restart: vmhintd is connected again $(ms_since "$t0") ms after libvirtd -d"
	else
		fail "restart: vmhintd not connected 60 s after libvirtd came back"
	fi
	# list's state comes from libvirt again: the same as before.
	for _ in $(seq 100); do list_state >"$work/restart.after"; cmp -s "$work/restart.before" "$work/restart.after" && break; sleep 0.1; done
	check "restart: list shows the same domains, states and QEMUs ($(wc -l <"$work/restart.before") domains)" \
		diff -u "$work/restart.before" "$work/restart.after"
	tail -n +"$((log_mark + 1))" "$work/vmhintd.log" >"$work/restart.log"
	check_sh "restart: no QMP connection was lost (vmhintd's log since the kill)" '! grep -q "QMP connection lost\|QMP connected" "$work/restart.log"'
	lv_ctl stats "$A" --json >"$work/stats.restart.json" 2>&1
	check "restart: stats works (rss-kib from the new libvirt connection, counters over QMP)" \
		python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if r["rss-kib"] > 0 and r["vmhint"] else 1)' "$work/stats.restart.json"
	meta_set "$A" "$lazy" >/dev/null 2>&1
	check "restart: a metadata change still reaches QEMU (events on the new connection): mode lazy" wait_qmode "$A" lazy 15
	lv_ctl set-mode "$A" sync >/dev/null 2>&1
fi

# --- destroy: requests in flight when the domain goes -------------------------------
section destroy
check "destroy: $B active before" wait_vl "$B" 'd["vmhint"] == "active"' 10
kill -STOP "$pid_b"
lv_on_exit "kill -CONT $pid_b"
declare -A rq_pid
log_mark=$(wc -l <"$work/vmhintd.log")
for c in stats flush set-mode numa-move; do
	case $c in
	stats) args=(stats "$B" --json) ;;
	flush) args=(flush "$B") ;;
	set-mode) args=(set-mode "$B" sync --live) ;;
	numa-move) args=(numa-move "$B" --node 0) ;;
	esac
	"$vmhintctl" -s "$vhd_sock" "${args[@]}" >"$work/inflight-$c.out" 2>"$work/inflight-$c.err" &
	rq_pid[$c]=$!
done
# vmhintd logs each request (-v) as it sends its QMP call.
inflight() {
	local c n=0
	for c in "${!rq_pid[@]}"; do
		tail -n +"$((log_mark + 1))" "$work/vmhintd.log" | grep -q "control: pid ${rq_pid[$c]}: $c $B" && n=$((n + 1))
	done
	[ "$n" = "${#rq_pid[@]}" ]
}
wait_inflight() {
	for _ in $(seq 200); do inflight && return 0; sleep 0.05; done
	return 1
}
check "destroy: vmhintd took all ${#rq_pid[@]} requests for the stopped QEMU of $B" wait_inflight
still=0
for c in "${!rq_pid[@]}"; do kill -0 "${rq_pid[$c]}" 2>/dev/null && still=$((still + 1)); done
check "destroy: $still of ${#rq_pid[@]} requests wait for QEMU" [ "$still" = "${#rq_pid[@]}" ]
t0=$(date +%s%N)
vsh destroy "$B" >"$work/destroy.log" 2>&1 &
destroy_pid=$!
# And a request that comes while virsh destroy runs: stats asks libvirt
# for the RSS, and libvirt holds the domain while it waits for the QEMU it
# sent SIGTERM to (pending, as QEMU is stopped) to die.
sigterm_pending() { (( 0x$(awk '/^ShdPnd:/ { print $2 }' "/proc/$pid_b/status" 2>/dev/null || echo 0) & 0x4000 )); }
wait_sigterm() {
	for _ in $(seq 200); do sigterm_pending && return 0; sleep 0.05; done
	return 1
}
check "destroy: libvirt sent $B's stopped QEMU SIGTERM (pending)" wait_sigterm
"$vmhintctl" -s "$vhd_sock" stats "$B" --json >"$work/inflight-late.out" 2>"$work/inflight-late.err" &
rq_pid[late]=$!
# virsh destroy holds the domain's job while it waits for QEMU to die:
# vmhintd must go on answering meanwhile.
n=0 worst=0
while kill -0 "$destroy_pid" 2>/dev/null; do
	t1=$(date +%s%N)
	lv_ctl list >/dev/null 2>&1 || worst=999999
	t=$(ms_since "$t1")
	[ "$t" -gt "$worst" ] && worst=$t
	n=$((n + 1))
	sleep 0.1
done
wait "$destroy_pid"
echo "  virsh destroy took $(ms_since "$t0") ms: $(tr '\n' ' ' <"$work/destroy.log")"
check "destroy: vmhintd answered list $n times while virsh destroy ran (slowest: $worst ms)" [ "$worst" -lt 5000 ]
for c in stats flush set-mode numa-move late; do
	end=$(($(date +%s) + 30))
	while kill -0 "${rq_pid[$c]}" 2>/dev/null && [ "$(date +%s)" -lt $end ]; do sleep 0.05; done
	if kill -0 "${rq_pid[$c]}" 2>/dev/null; then
		fail "destroy: vmhintctl $c still waits 30 s after the destroy"
		kill "${rq_pid[$c]}"
		continue
	fi
	wait "${rq_pid[$c]}"
	rc=$?
	what=$c
	[ "$c" = late ] && what="stats (sent during virsh destroy)"
	if [ $rc = 0 ] && [ "$c" != stats ] && [ "$c" != late ]; then
		pass "destroy: vmhintctl $what completed: $(head -n 3 "$work/inflight-$c.out" | tr '\n' ' ')"
	elif [ $rc = 0 ]; then
		# stats replies with what it has: the state, libvirt's figures
		# while the domain runs, and QEMU's or why there are none.
		v=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
print("state %s, rss-kib %s, memory-error %s, %s" % (r["state"], r.get("rss-kib"), r.get("memory-error"),
      "vmhint-error: " + r["vmhint-error"] if "vmhint-error" in r else "%d vmhint objects" % len(r.get("vmhint", []))))' \
			"$work/inflight-$c.out" 2>&1)
		check "destroy: vmhintctl $what completed: $v" \
			grep -Eq '"vmhint-error": "(QEMU did not answer: its QMP connection closed|vmhintd is not connected)|"vmhint": \[|"state": "shutoff"' "$work/inflight-$c.out"
	else
		check "destroy: vmhintctl $what: exit $rc, '$(tr '\n' ' ' <"$work/inflight-$c.err")'" \
			grep -Eq "^error: (QEMU did not answer: its QMP connection closed|domain $B is not running)" "$work/inflight-$c.err"
	fi
done
check "destroy: vmhintd ($vhd_pid) runs" kill -0 "$vhd_pid"
check "destroy: list shows $B shut off, inactive" wait_vl "$B" 'd["state"] == "shutoff" and d["vmhint"] == "inactive"' 10
check "destroy: $A is still active" [ "$(vl "$A" 'd["vmhint"]')" = active ]
vsh start "$B" >/dev/null 2>&1
check "destroy: after virsh start $B is active again" wait_vl "$B" 'd["vmhint"] == "active"' 60
vsh destroy "$B" >/dev/null 2>&1

grep -a "@@VMTEST CHECK FAIL" "$work/$A.console" && fail "$A: the guest reported failures"
echo "--- done in ${SECONDS} s"
[ $failed = 0 ] || { VMHINT_LIBVIRT_KEEP=1; exit 1; }
exit 0
