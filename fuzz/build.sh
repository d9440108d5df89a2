#!/bin/bash
# Build the libFuzzer targets with clang, compiling the sources directly (no
# libtool): fuzz_wire (the wire parser of libvmhint) and, when libxml2 and
# json-c are there, fuzz_daemon (vmhintd's and vmhintctl's parsers).
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

# The policy metadata, vmhintd.conf and control request parsers.
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
else
	rm -f "$out/fuzz_daemon"
	echo "fuzz/build.sh: no libxml2/json-c (scripts/install-deps libvirt): fuzz_daemon not built"
fi
