#!/bin/bash
# Build the libFuzzer target for the wire parser with clang, compiling the
# library sources directly (no libtool): fuzz/build.sh [output-dir]
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
