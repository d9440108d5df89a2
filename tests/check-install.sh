#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/check-install.sh - what "make install" gives an operator around
# vmhintd: every file of data/ where it belongs with its mode, the unit and
# the init script naming the installed vmhintd, the init script valid sh
# (and shellcheck-clean when shellcheck is there), the operator's
# vmhintd.conf kept by a second install, the installed vmhintd reading
# that file by default, and the shipped vmhintd.conf accepted by
# "vmhintd --check-config". Then the installed init script
# starts, reports and stops the installed vmhintd (on libvirt's test:///
# driver, every path in a temporary directory): the pidfile appears,
# status says running, stop removes it.
#
# Run by make check (top_srcdir, top_builddir from AM_TESTS_ENVIRONMENT);
# exit 77 (skip) when vmhintd is not built.
set -u
src=${top_srcdir:-.}
build=${top_builddir:-.}
fail=0
bad() { echo "check-install: FAIL: $*" >&2; fail=1; }
ok() { echo "check-install: ok: $*"; }
note() { echo "check-install: $*"; }

# A make of our own, not the job server of the make that runs the tests.
# Whether process $1 runs (a zombie waiting for its reaper does not).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	[ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$build" "$@"; }

sbindir='' sysconfdir='' systemdsystemunitdir='' bashcompletiondir=''
have_libvirt='' have_systemdunit='' have_bashcomp='' bashcomp_src=''
dirs=$(mk vmhint-print-install-dirs) || { bad "make vmhint-print-install-dirs failed"; exit 1; }
eval "$dirs"
if [ "$have_libvirt" != yes ]; then
	echo "check-install: SKIP: vmhintd is not built (configure found no libvirt, libxml2 or json-c)"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmhint-install.XXXXXX") || exit 1
started=
# shellcheck disable=SC2317 # a trap
cleanup() {
	if [ -n "$started" ] && [ -r "$run/vmhintd.pid" ]; then
		kill "$(cat "$run/vmhintd.pid")" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
dest=$tmp/dest

if ! mk install DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log" >&2
	bad "make install DESTDIR=$dest failed"
	exit 1
fi

# FILE MODE: FILE exists under DESTDIR, a regular file with that mode.
want() {
	f=$dest$1
	if [ ! -f "$f" ]; then
		bad "$1 is not installed"
		return 1
	fi
	m=$(stat -c %a "$f")
	if [ "$m" != "$2" ]; then
		bad "$1 has mode $m, want $2"
		return 1
	fi
	ok "$1 ($m)"
}

unit=$systemdsystemunitdir/vmhintd.service
initd=$sysconfdir/init.d/vmhintd
default=$sysconfdir/default/vmhintd
conf=$sysconfdir/vmhint/vmhintd.conf
daemon=$sbindir/vmhintd

want "$daemon" 755
want "$initd" 755
want "$default" 644
want "$conf" 644
cmp -s "$src/data/vmhintd.conf" "$dest$conf" || bad "$conf differs from data/vmhintd.conf"
if [ "$have_systemdunit" = yes ]; then
	want "$unit" 644
else
	note "configure --without-systemdsystemunitdir: no unit to check"
fi
if [ -n "$bashcomp_src" ] && [ "$have_bashcomp" = yes ]; then
	want "$bashcompletiondir/vmhintctl" 644 &&
		{ cmp -s "$bashcomp_src" "$dest$bashcompletiondir/vmhintctl" ||
			bad "the installed completion differs from data/vmhintctl.bash-completion"; }
else
	note "no data/vmhintctl.bash-completion (or --without-bashcompletiondir): no completion to check"
fi

# No @name@ left, and every path that names vmhintd, its defaults or its
# configuration is the installed one.
for f in "$unit" "$initd" "$default"; do
	[ -f "$dest$f" ] || continue
	if grep -n '@[a-z_]*@' "$dest$f"; then
		bad "$f has unsubstituted @names@"
	fi
done
if [ -f "$dest$unit" ]; then
	for key in ExecStartPre ExecStart; do
		line=$(grep "^$key=" "$dest$unit" | head -n1)
		case $line in
		"$key=$daemon "*) ok "$key runs $daemon" ;;
		*) bad "unit: $key does not run $daemon: $line" ;;
		esac
	done
	grep -qx "ExecStart=$daemon -f .*" "$dest$unit" || bad "unit: ExecStart lacks -f (foreground)"
	grep -qx "ExecReload=/bin/kill -HUP \$MAINPID" "$dest$unit" || bad "unit: no ExecReload with SIGHUP"
	grep -qx "EnvironmentFile=-$default" "$dest$unit" || bad "unit: does not read $default"
	grep -qx "Environment=VMHINTD_CONFIG=$conf" "$dest$unit" || bad "unit: default config is not $conf"
	grep -qx "Restart=on-failure" "$dest$unit" || bad "unit: no Restart=on-failure"
	grep -q "^After=.*libvirtd.service" "$dest$unit" || bad "unit: not After=libvirtd.service"
	# systemd's own check, where systemd is installed. Without systemd as
	# PID 1 it still parses the unit; the executables are looked up in
	# the real root, so those complaints say nothing here.
	if command -v systemd-analyze >/dev/null 2>&1; then
		systemd-analyze --man=no verify "$dest$unit" >"$tmp/verify" 2>&1
		if grep -v -e 'is not executable' -e 'No such file or directory' "$tmp/verify" |
			grep -q .; then
			cat "$tmp/verify" >&2
			bad "systemd-analyze verify complains about the unit"
		else
			ok "systemd-analyze verify"
		fi
	else
		note "no systemd-analyze: unit syntax not verified"
	fi
fi
grep -qx "DAEMON=$daemon" "$dest$initd" || bad "init script: DAEMON is not $daemon"
grep -qx "DEFAULTS=$default" "$dest$initd" || bad "init script: DEFAULTS is not $default"
grep -qx "VMHINTD_CONFIG=$conf" "$dest$initd" || bad "init script: VMHINTD_CONFIG is not $conf"
grep -qx "VMHINTD_PIDFILE=/run/vmhint/vmhintd.pid" "$dest$initd" ||
	bad "init script: pidfile is not /run/vmhint/vmhintd.pid"
grep -q '^### BEGIN INIT INFO' "$dest$initd" || bad "init script: no LSB header"
# The actions: the labels of the script's case on "$1".
sed -n 's/^\([a-z|-]*\))$/\1/p' "$dest$initd" | tr '|' '\n' >"$tmp/actions"
for a in start stop restart reload force-reload status; do
	grep -qx -- "$a" "$tmp/actions" || bad "init script: no '$a' action"
done
if sh -n "$dest$initd"; then ok "sh -n $initd"; else bad "sh -n $initd"; fi
if command -v shellcheck >/dev/null 2>&1; then
	if shellcheck -s sh "$dest$initd"; then ok "shellcheck $initd"; else bad "shellcheck $initd"; fi
else
	note "no shellcheck: init script not linted"
fi
# The defaults file is shell: sourcing it sets nothing unexpected.
if sh -n "$dest$default"; then ok "sh -n $default"; else bad "sh -n $default"; fi

# A second install keeps the operator's configuration.
echo "# the operator's own" >>"$dest$conf"
cp "$dest$conf" "$tmp/conf.mine"
if mk install DESTDIR="$dest" >"$tmp/install2.log" 2>&1; then
	if cmp -s "$tmp/conf.mine" "$dest$conf"; then
		ok "a second install keeps the changed $conf"
	else
		bad "a second install overwrote the changed $conf"
	fi
else
	cat "$tmp/install2.log" >&2
	bad "second make install failed"
fi

# The shipped configuration parses, with the installed daemon.
vmhintd_bin=$dest$daemon
libdir=$(dirname "$(find "$dest" -name 'libvmhint.so.*' -type f | head -n1)" 2>/dev/null)
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
if [ ! -x "$vmhintd_bin" ]; then
	note "SKIP part: vmhintd is not installed yet: --check-config and start/stop not tried"
	[ "$fail" = 0 ] && exit 0
	exit 1
fi
# Without -c it reads the file make install put in place: configure's
# sysconfdir, not a path of its own.
if "$vmhintd_bin" --help 2>&1 | grep -qF "(default $conf)"; then
	ok "vmhintd reads $conf by default (--help)"
else
	bad "vmhintd --help does not name $conf as the default: $("$vmhintd_bin" --help 2>&1 | grep -e '--config')"
fi
if out=$("$vmhintd_bin" --check-config -c "$src/data/vmhintd.conf" 2>&1); then
	ok "vmhintd --check-config accepts data/vmhintd.conf"
else
	bad "vmhintd --check-config -c data/vmhintd.conf: $out"
fi
printf 'no_such_key = 1\n' >"$tmp/bad.conf"
if "$vmhintd_bin" --check-config -c "$tmp/bad.conf" >/dev/null 2>&1; then
	bad "vmhintd --check-config accepts an unknown key"
else
	ok "vmhintd --check-config refuses an unknown key"
fi

# The shipped file lists every key the daemon knows, each commented out
# with its default: uncommented, it sets exactly the defaults. And
# vmhintd.conf(5) documents each of those keys.
: >"$tmp/empty.conf"
sed 's/^#\([a-z_]* =\)/\1/' "$src/data/vmhintd.conf" >"$tmp/uncommented.conf"
if "$vmhintd_bin" --print-config -c "$tmp/empty.conf" >"$tmp/defaults" 2>&1 &&
	"$vmhintd_bin" --print-config -c "$tmp/uncommented.conf" >"$tmp/shipped" 2>&1; then
	if cmp -s "$tmp/defaults" "$tmp/shipped"; then
		ok "data/vmhintd.conf, uncommented, gives the defaults"
	else
		diff "$tmp/defaults" "$tmp/shipped" >&2
		bad "a commented value of data/vmhintd.conf is not the default"
	fi
	sed -n 's/^\([a-z_]*\) =.*/\1/p' "$tmp/defaults" | sort >"$tmp/keys"
	sed -n 's/^\([a-z_]*\) =.*/\1/p' "$tmp/uncommented.conf" | sort >"$tmp/keys.shipped"
	sed -n 's/^\.BR \([a-z_]*\) " (default.*/\1/p' "$src/man/vmhintd.conf.5" | sort >"$tmp/keys.man"
	if cmp -s "$tmp/keys" "$tmp/keys.shipped"; then
		ok "data/vmhintd.conf has every key ($(wc -l <"$tmp/keys"))"
	else
		bad "keys of --print-config and data/vmhintd.conf differ: $(comm -3 "$tmp/keys" "$tmp/keys.shipped" | tr -s '\t\n' '  ')"
	fi
	if cmp -s "$tmp/keys" "$tmp/keys.man"; then
		ok "vmhintd.conf(5) documents every key"
	else
		bad "keys of --print-config and vmhintd.conf(5) differ: $(comm -3 "$tmp/keys" "$tmp/keys.man" | tr -s '\t\n' '  ')"
	fi
else
	cat "$tmp/defaults" "$tmp/shipped" >&2
	bad "vmhintd --print-config failed"
fi

# The init script as installed, with DESTDIR in front of the paths it
# names (the only edit), on libvirt's test driver; every file the daemon
# writes in $tmp. Root only (the script is root's, and the daemon too).
if [ "$(id -u)" != 0 ]; then
	note "SKIP part: not root: the init script is not run"
	[ "$fail" = 0 ] && exit 0
	exit 1
fi
run=$tmp/run
mkdir -p "$run" "$tmp/state"
sed -e "s|^DAEMON=$daemon\$|DAEMON=$dest$daemon|" \
	-e "s|^DEFAULTS=$default\$|DEFAULTS=$dest$default|" \
	"$dest$initd" >"$tmp/vmhintd.init"
chmod 755 "$tmp/vmhintd.init"
cat >"$tmp/vmhintd.conf" <<EOC
uri = test:///default
socket = $run/vmhintd.sock
state_dir = $tmp/state
ksm = off
EOC
cat >>"$dest$default" <<EOC
VMHINTD_CONFIG=$tmp/vmhintd.conf
VMHINTD_PIDFILE=$run/vmhintd.pid
VMHINTD_OPTS="--log stderr"
VMHINTD_STOP_TIMEOUT=10
EOC
initd_run() { "$tmp/vmhintd.init" "$@" >"$tmp/out" 2>&1; rc=$?; cat "$tmp/out"; return "$rc"; }

initd_run status
[ $? = 3 ] || bad "status before start: want exit 3 (not running)"

# A daemon that cannot start is a failed start that says why.
cp "$tmp/vmhintd.conf" "$tmp/vmhintd.conf.good"
echo "poll_interval = 1ms" >>"$tmp/vmhintd.conf"
if initd_run start; then
	bad "start with a broken configuration succeeded"
elif ! grep -q "poll_interval" "$tmp/out"; then
	bad "a failed start does not say what is wrong"
else
	ok "start with a broken configuration fails and names the key"
fi
[ -e "$run/vmhintd.pid" ] && bad "a failed start left a pidfile"
cp "$tmp/vmhintd.conf.good" "$tmp/vmhintd.conf"

started=yes
if initd_run start; then ok "init script start"; else bad "init script start failed"; fi
if [ -s "$run/vmhintd.pid" ] && alive "$(cat "$run/vmhintd.pid")"; then
	pid=$(cat "$run/vmhintd.pid")
	ok "pidfile $run/vmhintd.pid names running pid $pid"
	exe=$(readlink "/proc/$pid/exe")
	[ "$exe" = "$dest$daemon" ] || bad "pid $pid runs $exe, not $dest$daemon"
else
	bad "no pidfile naming a running process after start"
	pid=
fi
if initd_run status && grep -q 'running' "$tmp/out"; then
	ok "status says running"
else
	bad "status does not say running"
fi
initd_run start >/dev/null
if [ -z "$pid" ] || [ "$(cat "$run/vmhintd.pid" 2>/dev/null)" != "$pid" ]; then
	bad "a second start did not leave the first daemon alone"
fi
if [ -n "$pid" ]; then
	if initd_run reload && alive "$pid"; then
		ok "reload (SIGHUP): pid $pid still runs"
	else
		bad "reload failed or the daemon died of it"
	fi
fi
if initd_run stop; then ok "init script stop"; else bad "init script stop failed"; fi
if [ -n "$pid" ] && alive "$pid"; then
	bad "pid $pid still runs after stop"
fi
[ -e "$run/vmhintd.pid" ] && bad "the pidfile is still there after stop"
initd_run status
[ $? = 3 ] || bad "status after stop: want exit 3 (not running)"
started=
initd_run stop >/dev/null || bad "stop of a stopped daemon is not a success"

[ "$fail" = 0 ] && echo "check-install: all good"
exit "$fail"
