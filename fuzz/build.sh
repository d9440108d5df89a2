#!/bin/bash
# Build the libFuzzer targets with clang, compiling the sources directly (no
# libtool): fuzz_wire (the wire parser of libvmhint), fuzz_table (the
# cross-VM dedupe table), fuzz_ksm_state (vmhintd's KSM state file) and,
# when libxml2 and json-c are there, fuzz_daemon (vmhintd's and
# vmhintctl's parsers), fuzz_ctl (vmhintctl's side of the socket) and,
# with libvirt too, fuzz_qmp (vmhintd's QMP client).
# fuzz/build.sh [output-dir]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build-fuzz}
cc=${CC_FUZZ:-clang}
mkdir -p "$out"

# The few config.h facts the library needs, without running configure.
version=$(sed -n 's/^AC_INIT(\[vmhint\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
cat >"$out/config.h" <<EOC
#define _GNU_SOURCE 1
#define PACKAGE_VERSION "${version:-0}"
EOC

flags=(-g -O1 -std=gnu11 '-fsanitize=fuzzer,address,undefined' -fno-sanitize-recover=all
	-fno-omit-frame-pointer -Wall -Wno-unused-parameter)
libs=$(pkg-config --libs numa libxxhash 2>/dev/null || echo "-lnuma -lxxhash")
# shellcheck disable=SC2086 # $libs is a list of linker flags
"$cc" "${flags[@]}" -DVMHINT_BUILDING_LIB -I"$out" -I"$top/include" -iquote "$top/src/lib" \
	"$top"/src/lib/*/*.c "$top/fuzz/fuzz_wire.c" -o "$out/fuzz_wire" $libs -lpthread
"$top/fuzz/gen-seeds.sh" "$out/seeds"
echo "fuzz/build.sh: $out/fuzz_wire, seeds in $out/seeds"
# The cross-VM dedupe table as another process may have written it.
# shellcheck disable=SC2086 # $libs is a list of linker flags
"$cc" "${flags[@]}" -DVMHINT_BUILDING_LIB -I"$out" -I"$top/include" -iquote "$top/src/lib" \
	"$top"/src/lib/*/*.c "$top/fuzz/fuzz_table.c" -o "$out/fuzz_table" $libs -lpthread
echo "fuzz/build.sh: $out/fuzz_table"

# vmhintd's KSM state file.
"$cc" "${flags[@]}" -I"$out" -I"$top/src" "$top/src/daemon/ksm-state.c" \
	"$top/fuzz/fuzz_ksm_state.c" -o "$out/fuzz_ksm_state"
echo "fuzz/build.sh: $out/fuzz_ksm_state"

# The policy metadata, vmhintd.conf and control request parsers; and
# vmhintctl's side of the control socket (POLL_MS 0: numa-move's
# progress loop does not sleep between the replies).
if dlibs=$(pkg-config --libs libxml-2.0 json-c 2>/dev/null); then
	dflags=$(pkg-config --cflags libxml-2.0 json-c)
	# shellcheck disable=SC2086 # pkg-config prints several flags: split them
	"$cc" "${flags[@]}" $dflags -I"$out" -I"$top/src" \
		"$top/src/policy/policy.c" "$top/src/daemon/conf.c" \
		"$top/src/daemon/request.c" "$top/src/daemon/log.c" \
		"$top/fuzz/fuzz_daemon.c" -o "$out/fuzz_daemon" $dlibs
	rm -rf "$out/seeds-daemon"
	cp -r "$top/fuzz/seeds-daemon" "$out/seeds-daemon"
	echo "fuzz/build.sh: $out/fuzz_daemon, seeds in $out/seeds-daemon"
	# shellcheck disable=SC2086 # pkg-config prints several flags: split them
	"$cc" "${flags[@]}" -DPOLL_MS=0 $dflags -I"$out" -I"$top/src" -I"$top/src/cli" \
		"$top/src/cli/client.c" "$top/src/cli/commands.c" "$top/src/cli/progress.c" \
		"$top/fuzz/fuzz_ctl.c" -o "$out/fuzz_ctl" $dlibs
	echo "fuzz/build.sh: $out/fuzz_ctl"
	# vmhintd's QMP client on libvirt's event loop.
	if vlibs=$(pkg-config --libs libvirt 2>/dev/null); then
		vflags=$(pkg-config --cflags libvirt)
		# shellcheck disable=SC2086 # pkg-config prints several flags: split them
		"$cc" "${flags[@]}" $dflags $vflags -I"$out" -I"$top/src" \
			"$top/src/daemon/qmp.c" "$top/src/daemon/log.c" "$top/fuzz/fuzz_qmp.c" \
			-o "$out/fuzz_qmp" $dlibs $vlibs
		echo "fuzz/build.sh: $out/fuzz_qmp"
	fi
else
	rm -f "$out/fuzz_daemon" "$out/fuzz_ctl" "$out/fuzz_qmp"
	echo "fuzz/build.sh: no libxml2/json-c (scripts/install-deps libvirt): fuzz_daemon and fuzz_ctl not built"
fi
