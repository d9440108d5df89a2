#!/bin/sh
# check-version.sh - the version is written once, in include/vmhint/version.h;
# check that everything that repeats it agrees: configure's PACKAGE_VERSION,
# the symbol map's node names, vmhint.pc, the library's file name and every
# manual's .TH line. Run by make check, with top_srcdir and top_builddir
# in the environment (AM_TESTS_ENVIRONMENT).
set -eu
src=${top_srcdir:-.}
build=${top_builddir:-.}
fail=0
bad() { echo "check-version: $*" >&2; fail=1; }

ver=$(sed -n 's/^#define VMHINT_VERSION "\(.*\)"$/\1/p' "$src/include/vmhint/version.h")
major=$(sed -n 's/^#define VMHINT_VERSION_MAJOR \([0-9]*\)$/\1/p' "$src/include/vmhint/version.h")
minor=$(sed -n 's/^#define VMHINT_VERSION_MINOR \([0-9]*\)$/\1/p' "$src/include/vmhint/version.h")
micro=$(sed -n 's/^#define VMHINT_VERSION_MICRO \([0-9]*\)$/\1/p' "$src/include/vmhint/version.h")
[ -n "$ver" ] || { bad "no VMHINT_VERSION in version.h"; exit 1; }
[ "$ver" = "$major.$minor.$micro" ] || bad "VMHINT_VERSION $ver != $major.$minor.$micro"

pkgver=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$build/config.h")
[ "$pkgver" = "$ver" ] || bad "configure's PACKAGE_VERSION $pkgver != $ver"

# The newest node of each API in the map is this version's.
map=$src/src/lib/libvmhint.map
for node in "VMHINT_$major.$minor" "VMHINT_HOST_$major.$minor"; do
	grep -q "^$node {" "$map" || bad "$map has no node $node"
done
grep -o '^VMHINT[A-Z_]*_[0-9]*\.[0-9]*' "$map" | while read -r node; do
	nv=${node##*_}
	# No node may be newer than the library.
	if [ "$(printf '%s\n%s\n' "$nv" "$major.$minor" | sort -V | tail -n1)" != "$major.$minor" ]; then
		echo "check-version: node $node is newer than $ver" >&2
		exit 1
	fi
done || fail=1

pcver=$(sed -n 's/^Version: //p' "$build/src/lib/vmhint.pc")
[ "$pcver" = "$ver" ] || bad "vmhint.pc says $pcver"

lib=$build/src/lib/.libs/libvmhint.so.$ver
[ -e "$lib" ] || bad "no $lib (libtool -version-number)"
soname=$(objdump -p "$lib" 2>/dev/null | sed -n 's/^ *SONAME *//p')
[ "$soname" = "libvmhint.so.$major" ] || bad "SONAME $soname, want libvmhint.so.$major"

for page in "$src"/man/*.[1-9]; do
	grep -q '^\.so ' "$page" && continue
	th=$(grep '^\.TH ' "$page" | head -n1)
	case $th in
	*"\"vmhint $ver\""*) ;;
	*) bad "$(basename "$page"): .TH does not say \"vmhint $ver\": $th" ;;
	esac
done
[ "$fail" = 0 ] && echo "check-version: $ver everywhere"
exit "$fail"
