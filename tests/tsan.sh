#!/bin/bash
# Build the threaded suites (stress, stats) and the library with clang's
# ThreadSanitizer and run them; any data race fails. Used by scripts/check.
# Usage: tests/tsan.sh [build-dir]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build-tsan}
mkdir -p "$out"

version=$(sed -n 's/^AC_INIT(\[vmhint\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
printf '#define _GNU_SOURCE 1\n#define PACKAGE_VERSION "%s"\n' "${version:-0}" >"$out/config.h"
libs="$(pkg-config --libs check) $(pkg-config --libs numa libxxhash 2>/dev/null || echo -lnuma -lxxhash)"

# The library's sources, wherever under src/lib they are. Its headers are
# included as "layer/file.h": -iquote, so <sys/...> never finds src/lib/sys/.
mapfile -t lib_src < <(find "$top/src/lib" -name '*.c' | sort)
for t in test_stress test_stats; do
	# shellcheck disable=SC2046,SC2086 # pkg-config's flags and $libs are lists of words
	clang -g -O1 -std=gnu11 -fsanitize=thread -DVMHINT_BUILDING_LIB \
		-I"$out" -I"$top/include" -iquote "$top/src/lib" -I"$top/tests/lib" \
		$(pkg-config --cflags check) \
		"${lib_src[@]}" "$top/tests/$t.c" "$top/tests/lib/testutil.c" \
		-o "$out/$t" $libs -lpthread
done

# No fork: ThreadSanitizer follows one process. Exit code 66 on a race.
export CK_FORK=no TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
for t in test_stress test_stats; do
	echo "tsan: $t"
	"$out/$t"
done
