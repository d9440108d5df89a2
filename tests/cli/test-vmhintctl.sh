#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-vmhintctl.sh - vmhintctl's daemon commands without a daemon, root
# or libvirt: usage errors (each says what is wrong, exit 1, before any
# connection), a vmhintd that is not running (the error and its hint), and
# what vmhintctl makes of replies from a fake vmhintd on a socket of our
# own: the requests it sends, the output it prints, and replies that are
# errors, too long, not JSON, or cut short. Run by make check (top_srcdir
# and top_builddir in the environment).
# shellcheck disable=SC2015 # "COND && ok || bad": ok always succeeds, so bad runs only when COND fails
set -u
build=${top_builddir:-.}
ctl=$build/vmhintctl
[ -x "$ctl" ] || { echo "SKIP: $ctl not built (configure found no libvirt/json-c)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmhintctl-test.XXXXXX") || exit 1
srv_pid=
cleanup() {
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# run ARGS...: vmhintctl's stdout, stderr and status in $out, $err, $rc.
run() {
	"$ctl" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# expect_err STATUS 'stderr text' ARGS...: exits STATUS, stderr has the text.
expect_err() {
	want=$1 text=$2
	shift 2
	run "$@"
	if [ "$rc" -ne "$want" ]; then
		bad "vmhintctl $*: exit $rc, not $want (stderr: $err)"
	elif ! printf '%s\n' "$err" | grep -qF -- "$text"; then
		bad "vmhintctl $*: stderr '$err' lacks '$text'"
	else
		ok
	fi
}

# expect_out 'stdout line (a grep -x regex)' ARGS...: exits 0 and prints it.
expect_out() {
	text=$1
	shift
	run "$@"
	if [ "$rc" -ne 0 ]; then
		bad "vmhintctl $*: exit $rc (stderr: $err)"
	elif ! printf '%s\n' "$out" | grep -qx -- "$text"; then
		bad "vmhintctl $*: no line '$text' in:
$out"
	else
		ok
	fi
}

# --- Usage errors: said before any connection (the socket does not exist). ---
export VMHINTD_SOCKET="$tmp/none.sock"
expect_err 1 "command 'stats' needs DOMAIN" stats
expect_err 1 "command 'set-mode' needs DOMAIN and sync|lazy" set-mode web1
expect_err 1 "invalid mode 'fast' (sync or lazy)" set-mode web1 fast
expect_err 1 "invalid dedupe setting 'yes' (on or off)" dedupe web1 yes
expect_err 1 "command 'dedupe' needs DOMAIN and on|off" dedupe
expect_err 1 "unexpected argument 'b'" flush a b
expect_err 1 "command 'flush' doesn't support option --json" flush web1 --json
expect_err 1 "command 'list' doesn't support option --bogus" list --bogus
expect_err 1 "command 'stats' doesn't support option --live" stats web1 --live
expect_err 1 "unknown ksm subcommand 'start' (status)" ksm start
expect_err 1 "command 'ksm' needs a subcommand (status)" ksm
expect_err 1 "command 'numa-move' needs --node N" numa-move web1
expect_err 1 "option '--node' needs an argument" numa-move web1 --node
expect_err 1 "invalid --node 'x' (a host NUMA node number, below 1024)" numa-move web1 --node x
expect_err 1 "invalid --node '1024'" numa-move web1 --node 1024
expect_err 1 "invalid --node '-1'" numa-move web1 --node -1
expect_err 1 "invalid --rate '0'" numa-move web1 --node 0 --rate 0
expect_err 1 "invalid --rate '10X'" numa-move web1 --node 0 --rate 10X
expect_err 1 "unknown command: 'frobnicate'" frobnicate
expect_err 1 "option '-s' needs an argument" -s
run list
[ ! -e "$tmp/none.sock" ] && [ "$rc" -eq 1 ] || bad "list without a daemon: exit $rc"

# --- A daemon that is not running. ---
expect_err 1 "error: cannot connect to vmhintd at $tmp/none.sock: No such file or directory" list
expect_err 1 "hint: start it: vmhintd -d (or: systemctl start vmhintd)" stats web1
# -s wins over the environment; the default path without either.
expect_err 1 "cannot connect to vmhintd at $tmp/other.sock:" -s "$tmp/other.sock" list
expect_err 1 "cannot connect to vmhintd at $tmp/other.sock:" --socket "$tmp/other.sock" list
if [ ! -e /run/vmhint/vmhintd.sock ]; then
	(unset VMHINTD_SOCKET; "$ctl" list) 2>"$tmp/err" >/dev/null
	grep -qF "at /run/vmhint/vmhintd.sock: No such file" "$tmp/err" && ok ||
		bad "default socket: $(cat "$tmp/err")"
fi
: >"$tmp/plain"
expect_err 1 "cannot connect to vmhintd at $tmp/plain: Connection refused" -s "$tmp/plain" list
long=$(printf '/tmp/%0120d' 0)
expect_err 1 "invalid socket path '$long' (107 bytes at most)" -s "$long" list

# --- A fake vmhintd: answers as $tmp/mode says, logs each request line. ---
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: the reply tests need python3 (for a fake vmhintd); $pass passed"
	[ "$fail" -eq 0 ] && exit 77
	exit 1
fi
sock=$tmp/vmhintd.sock
cat >"$tmp/fake.py" <<'PY'
import json, os, socket, sys
sock, tmp = sys.argv[1], sys.argv[2]
STATS = {"name": "web1", "uuid": "8a5c1e55-0000-4000-8000-000000000001",
         "state": "running", "rss-kib": 422400, "actual-kib": 1048576,
         "policy": {"mode": "lazy", "dedupe": False},
         "vmhint": [{"mode": "lazy", "library-version": "0.2.0", "id": "vh0",
                     "guest-stable-hints": True, "discard-inhibited": False,
                     "counters": {"pages-unused": 262144,
                                  "rejected": [{"status": "bad_range", "count": 3}],
                                  "rejected-total": 3,
                                  "bytes-dropped": [{"bytes": 1073741824, "method": "dontneed"},
                                                    {"method": "punch_hole", "bytes": 0}],
                                  "bytes-dropped-total": 1073741824,
                                  "pending-bytes": 0,
                                  "latency-us-hist": [0, 5, 7, 1],
                                  "guest-ram-bytes": 2147483648},
                     "regions": [{"memdev": "pc.ram", "gpa": 0, "size": 2147483648,
                                  "backing": "anon", "page-size": 4096}]}]}
LIST = {"domains": [
    {"name": "zeta", "uuid": "u3", "id": -1, "state": "shutoff", "vmhint": "not-attached",
     "mode": "sync", "dedupe": False},
    {"name": "web2", "uuid": "u2", "id": 7, "state": "paused", "vmhint": "active",
     "mode": "sync", "dedupe": True, "dedupe-table": "/vmhint-tenant1"},
    {"name": "web1", "uuid": "u1", "id": 3, "state": "running", "vmhint": "active",
     "mode": "lazy", "dedupe": False}]}
KSM = {"owner": "vmhintd", "knobs": {"run": 0, "pages_to_scan": 100}, "saved-state": False,
       "bursts": 2, "tables": [{"table": "/vmhint-tenant1", "vms": 2,
                                "saved-bytes": 104857600, "merged-pages": 25600}],
       "global": {"pages_shared": 10, "pages_sharing": 90}}
numa = {"polls": 0, "cancelled": False}

def status(mode):
    numa["polls"] += 1
    if mode == "numa-cancel":
        if numa["cancelled"]:
            return {"status": "cancelled", "host-node": 1, "pages-done": 40, "pages-total": 100,
                    "result": {"pages-total": 100, "bytes-moved": 163840, "time-ns": 5000000,
                               "outcomes": [{"outcome": "moved", "pages": 40}]}}
        return {"status": "running", "host-node": 1, "pages-done": 40, "pages-total": 100}
    if numa["polls"] < 4:
        return {"status": "running", "host-node": 1, "pages-done": 25 * numa["polls"],
                "pages-total": 100}
    st = "failed" if mode == "numa-fail" else "completed"
    r = {"status": st, "host-node": 1, "pages-done": 100, "pages-total": 100,
         "result": {"pages-total": 100, "bytes-moved": 286720, "time-ns": 912000000,
                    "outcomes": [{"outcome": "moved", "pages": 70},
                                 {"outcome": "dropped", "pages": 30}]}}
    if st == "failed":
        r["error"] = "mbind: Cannot allocate memory"
    return r

def reply(mode, req):
    cmd, rid = req.get("cmd"), req.get("id")
    if mode == "error":
        return json.dumps({"error": {"class": "NoDomain", "desc": "no domain 'x\u001b[2J'",
                                     "hint": "see: virsh list --all"}, "id": rid})
    if mode == "error-bare":
        return json.dumps({"error": {"class": "Internal"}, "id": rid})
    if mode == "notjson":
        return "this is not json"
    if mode == "array":
        return "[1, 2]"
    if mode == "trailing":
        return json.dumps({"return": {}, "id": rid}) + " {}"
    if mode == "noreturn":
        return json.dumps({"id": rid, "result": {}})
    if mode == "wrongid":
        return json.dumps({"return": {}, "id": 999})
    if mode == "wrongid-del":  # json.dumps leaves DEL raw, as json-c does
        return json.dumps({"return": {}, "id": "9\x7f9"})
    if mode == "del":
        return json.dumps({"return": {"name": "web\x7f1"}, "id": rid})
    if mode == "toolong":
        return json.dumps({"return": {"x": "y" * (5 << 20)}, "id": rid})
    ret = {}
    if cmd == "list":
        ret = LIST
    elif cmd == "stats":
        ret = STATS
    elif cmd == "ksm-status":
        ret = KSM
    elif cmd == "flush":
        ret = {"bytes-dropped": 12582912}
    elif cmd == "numa-move":
        numa["polls"] = 0
        numa["cancelled"] = False
    elif cmd == "numa-cancel":
        numa["cancelled"] = True
    elif cmd == "numa-status":
        ret = status(mode)
    return json.dumps({"return": ret, "id": rid})

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sock)
s.listen(4)
while True:
    c, _ = s.accept()
    f = c.makefile("rwb")
    mode = open(os.path.join(tmp, "mode")).read().strip()
    try:
        for line in f:
            with open(os.path.join(tmp, "requests"), "ab") as log:
                log.write(line)
            if mode == "close":
                break
            if mode == "partial":
                f.write(b'{"return":')
                f.flush()
                break
            f.write((reply(mode, json.loads(line)) + "\n").encode())
            f.flush()
    except (BrokenPipeError, ConnectionResetError):
        pass
    f.close()
    c.close()
PY
echo ok >"$tmp/mode"
python3 "$tmp/fake.py" "$sock" "$tmp" &
srv_pid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$sock" ] || { bad "the fake vmhintd did not start"; exit 1; }
export VMHINTD_SOCKET="$sock"

mode() { echo "$1" >"$tmp/mode"; : >"$tmp/requests"; }
# last_request: the last request line vmhintctl sent, id left out.
last_request() { tail -n 1 "$tmp/requests" | jq -c 'del(.id)'; }
expect_request() {
	got=$(last_request)
	[ "$got" = "$1" ] && ok || bad "request '$got', not '$1'"
}

# Requests as the protocol spells them.
mode ok
expect_out "Domain 'web1' mode set to lazy" set-mode web1 lazy
expect_request '{"cmd":"set-mode","domain":"web1","mode":"lazy"}'
expect_out "Domain 'web1' mode set to sync" set-mode web1 sync --live --config
expect_request '{"cmd":"set-mode","domain":"web1","mode":"sync","live":true,"config":true}'
expect_out "Domain '3' dedupe disabled" dedupe 3 off --config
expect_request '{"cmd":"dedupe","domain":"3","enable":false,"config":true}'
expect_out "Domain 'web1' dedupe enabled" dedupe web1 on
expect_request '{"cmd":"dedupe","domain":"web1","enable":true}'
expect_out "bytes-dropped: 12582912 (12.0 MiB)" flush web1
expect_request '{"cmd":"flush","domain":"web1"}'
expect_out "NUMA move of domain 'web1' to node 2 started" numa-move web1 --node 2 --all --rate 100M/s --no-wait
expect_request '{"cmd":"numa-move","domain":"web1","node":2,"move-all":true,"max-bytes-per-sec":104857600}'
run numa-move web1 --node 0 --rate 4096 --no-wait
expect_request '{"cmd":"numa-move","domain":"web1","node":0,"max-bytes-per-sec":4096}'
head -c 1 "$tmp/requests" | grep -q '{' && ok || bad "request line does not start with {"
grep -q '"id":1}$' "$tmp/requests" && ok || bad "request carries no id: $(cat "$tmp/requests")"

# list: a virsh-like table, running domains by id first, then by name.
expect_out " Id   Name   State      vmhint         Mode   Dedupe" list
expect_out " 3    web1   running    active         lazy   off" list
expect_out " 7    web2   paused     active         sync   on (/vmhint-tenant1)" list
expect_out " -    zeta   shut off   not-attached   -      -" list
printf '%s\n' "$out" | sed -n 2p | grep -qx -- '-\{20,\}' && ok || bad "list: no rule under the header"
printf '%s\n' "$out" | sed -n '3s/^ \([0-9-]*\).*/\1/p;4s/^ \([0-9-]*\).*/\1/p;5s/^ \([0-9-]*\).*/\1/p' |
	tr '\n' ' ' | grep -qx '3 7 - ' && ok || bad "list order: $out"
run list --json
printf '%s' "$out" | jq -e '.domains | length == 3' >/dev/null && ok || bad "list --json: $out"

# stats: the raw figures as "key: value", sizes with their human form.
expect_out "rss-kib:  *422400 (412.5 MiB)" stats web1
expect_out "  *bytes-dropped:  *1073741824 (1.0 GiB)" stats web1
expect_out "  *bytes-dropped-dontneed:  *1073741824 (1.0 GiB)" stats web1
expect_out "  *rejected-bad_range:  *3" stats web1
expect_out "  *rejected-total:  *3" stats web1
expect_out "  *bytes-dropped-punch_hole:  *0 (0 B)" stats web1
expect_out "vmhint vh0:" stats web1
expect_out "  *region pc.ram:" stats web1
expect_out "  *mode:  *lazy" stats web1
expect_out "state:  *running" stats web1
expect_out "  *guest-stable-hints:  *yes" stats web1
# aligned: every value starts in the same column.
printf '%s\n' "$out" | awk '/: / { c = index($0, ": "); while (substr($0, c + 2, 1) == " ") c++;
	col[c + 2] = 1 } END { n = 0; for (k in col) n++; exit n != 1 }' && ok ||
	bad "stats: values not aligned:
$out"
run stats web1 --json
printf '%s' "$out" | jq -e '."rss-kib" == 422400 and .vmhint[0].counters."bytes-dropped-total" == 1073741824' \
	>/dev/null && ok || bad "stats --json: $out"
expect_request '{"cmd":"stats","domain":"web1"}'

# ksm status
expect_out "owner:  *vmhintd" ksm status
expect_out "table /vmhint-tenant1:" ksm status
expect_out "  *saved-bytes:  *104857600 (100.0 MiB)" ksm status
expect_out "  *run:  *0" ksm status
expect_request '{"cmd":"ksm-status"}'
run ksm status --json
printf '%s' "$out" | jq -e '.owner == "vmhintd" and .bursts == 2' >/dev/null && ok || bad "ksm --json: $out"

# numa-move follows the move to its end, a line a second when not a tty.
mode numa
expect_out "NUMA move of domain 'web1' to node 1: completed" numa-move web1 --node 1
printf '%s\n' "$out" | grep -qx "  moved: *70 pages (280.0 KiB)" && ok || bad "numa-move summary: $out"
printf '%s\n' "$out" | grep -qx "  dropped: *30 pages (120.0 KiB)" && ok || bad "numa-move summary: $out"
printf '%s\n' "$out" | grep -q "^numa-move: running 25% (25 of 100 pages" && ok || bad "numa-move progress: $out"
printf '%s\n' "$out" | grep -q "$(printf '\r')" && bad "numa-move: carriage return off a tty" || ok
n=$(grep -c '"numa-status"' "$tmp/requests")
[ "$n" -eq 4 ] && ok || bad "numa-move: $n status polls, not 4"
mode numa-fail
expect_err 1 "error: the NUMA move of domain 'web1' failed: mbind: Cannot allocate memory" numa-move web1 --node 1
printf '%s\n' "$out" | grep -q "to node 1: failed" && ok || bad "failed move: no summary: $out"
# Ctrl-C: numa-cancel is sent, the move followed until it says cancelled.
mode numa-cancel
"$ctl" numa-move web1 --node 1 >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 1
kill -INT $pid
wait $pid
rc=$?
[ "$rc" -eq 1 ] && ok || bad "cancelled move: exit $rc"
grep -q '"cmd":"numa-cancel"' "$tmp/requests" && ok || bad "Ctrl-C sent no numa-cancel: $(cat "$tmp/requests")"
grep -qF "error: the NUMA move of domain 'web1' was cancelled" "$tmp/err" && ok || bad "cancel: $(cat "$tmp/err")"
grep -q "to node 1: cancelled" "$tmp/out" && ok || bad "cancel summary: $(cat "$tmp/out")"
[ "$(tail -n 1 "$tmp/requests" | jq -r .cmd)" = numa-status ] && ok || bad "not followed after cancel"

# Replies that are errors, or not replies at all: a clear error, exit 1.
mode error
expect_err 1 "error: no domain 'x?[2J'" stats x
expect_err 1 "hint: see: virsh list --all" flush x
printf '%s' "$out" | grep -q . && bad "an error printed on stdout: $out" || ok
mode error-bare
expect_err 1 "error: vmhintd refused the request without saying why" list
grep -q '^hint:' "$tmp/err" && bad "hint printed without one: $(cat "$tmp/err")" || ok
mode notjson
expect_err 1 "error: vmhintd at $sock sent a reply that is not JSON" list
mode trailing
expect_err 1 "sent a reply that is not JSON (incomplete or trailing text)" list
mode array
expect_err 1 "sent a reply that is not a JSON object" list
mode noreturn
expect_err 1 "sent a reply with neither a \"return\" object nor an \"error\"" set-mode a sync
mode wrongid
expect_err 1 "replied to another request (id 999, not 1)" flush a
mode wrongid-del
expect_err 1 'replied to another request (id "9?9", not 1)' flush a
mode del
run stats web1 --json
del=$(printf '\177')
LC_ALL=C grep -q "$del" "$tmp/out" && bad "stats --json printed a raw DEL" || ok
jq -e '.name == "web\u007f1"' "$tmp/out" >/dev/null && ok || bad "stats --json with DEL: $out"
mode toolong
expect_err 1 "error: vmhintd at $sock sent a reply longer than 4194304 bytes" stats web1
mode close
expect_err 1 "error: vmhintd at $sock closed the connection without a reply" list
mode partial
expect_err 1 "closed the connection in the middle of a reply" ksm status
for f in out err; do
	[ "$(wc -l <"$tmp/$f")" -le 2 ] || bad "partial: too much output on std$f"
done

# Bash completion: commands, values, options (no virsh needed for these).
comp=${top_srcdir:-.}/data/vmhintctl.bash-completion
if command -v bash >/dev/null 2>&1; then
	got=$(bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _vmhintctl
		echo "${COMPREPLY[*]}"' sh "$comp" vmhintctl -s /x set-mode web1 '')
	[ "$got" = "sync lazy" ] && ok || bad "completion of set-mode DOMAIN: '$got'"
	got=$(bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _vmhintctl
		echo "${COMPREPLY[*]}"' sh "$comp" vmhintctl numa-move web1 --)
	[ "$got" = "--node --all --rate --no-wait" ] && ok || bad "completion of numa-move options: '$got'"
	got=$(bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _vmhintctl
		echo "${COMPREPLY[*]}"' sh "$comp" vmhintctl f)
	[ "$got" = "flush" ] && ok || bad "completion of commands: '$got'"
fi

echo "test-vmhintctl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
