#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# man/check-coverage.sh [TOP_SRCDIR] - every exported function has a manual
# page, and every function a page names is exported.
#
# The exports are the global: entries of src/lib/libvmhint.map. For each one:
#   - man/NAME.3 exists: the page itself, or a link ".so man3/PAGE.3" to an
#     existing page;
#   - the page it resolves to names it in its NAME section and shows it in
#     its SYNOPSIS ("NAME(").
# For each section 3 page: every vmhint_* word of its NAME section is an
# export. Overview pages name no function (libvmhint, vmhint-wire).
# Every page under man/ is installed (listed in man/Makemodule.am's man_MANS)
# and every listed page exists. Every .TH line says "vmhint VERSION", with
# VERSION from include/vmhint/version.h when that header exists.
#
# TOP_SRCDIR defaults to $top_srcdir or $srcdir (the test harness sets them), else ".":
# everything read is source, so a VPATH build works. Prints one line per
# problem; exits 1 if there is any, 0 otherwise.

top=${1:-${top_srcdir:-${srcdir:-.}}}
map=$top/src/lib/libvmhint.map
mandir=$top/man
mk=$mandir/Makemodule.am
fail=0

problem() {
	echo "check-coverage: $*"
	fail=1
}

for f in "$map" "$mk"; do
	if [ ! -r "$f" ]; then
		echo "check-coverage: cannot read $f (pass the top source directory)" >&2
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmhint-mancov.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# The global: entries of every version node (comments removed first).
sed -e 's:/\*.*\*/::g' "$map" | awk '
	/\/\*/ { incomment = 1 }
	incomment { if (/\*\//) incomment = 0; next }
	/global:/ { inglobal = 1; sub(/.*global:/, "") }
	/local:/ || /}/ { inglobal = 0 }
	inglobal {
		gsub(/;/, " ")
		for (i = 1; i <= NF; i++)
			print $i
	}' | sort -u >"$tmp/exports"

if [ ! -s "$tmp/exports" ]; then
	echo "check-coverage: no global: entries in $map" >&2
	exit 1
fi

# The target of a ".so man3/x.3" link, or the file itself.
resolve() {
	first=$(sed -n '1p' "$1")
	case $first in
	.so\ *)
		echo "$mandir/${first#.so man3/}"
		;;
	*)
		echo "$1"
		;;
	esac
}

# The text of one section (.SH TITLE up to the next .SH) of page $1.
section() {
	awk -v want="$2" '
		/^\.SH/ {
			title = $0
			sub(/^\.SH[ \t]*/, "", title)
			gsub(/"/, "", title)
			on = (title == want)
			next
		}
		on' "$1"
}

# The vmhint_* words of a NAME section: before the "\-" that ends the list.
name_words() {
	section "$1" NAME | tr '\n' ' ' | sed -e 's/\\-.*//' -e 's/\\f[BIRP]//g' \
		-e 's/\\//g' | tr -s ', ' '\n' | grep '^vmhint_[a-z0-9_]*$'
}

while read -r fn; do
	page=$mandir/$fn.3
	if [ ! -f "$page" ]; then
		problem "$fn is exported but has no page (man/$fn.3)"
		continue
	fi
	target=$(resolve "$page")
	if [ ! -f "$target" ]; then
		problem "man/$fn.3 links to ${target#"$mandir"/}, which does not exist"
		continue
	fi
	if ! name_words "$target" | grep -qx "$fn"; then
		problem "$fn: man/${target#"$mandir"/} does not name it in NAME"
	fi
	if ! section "$target" SYNOPSIS | sed 's/\\//g' | grep -Eq "(^|[^a-z0-9_])$fn\"? ?\("; then
		problem "$fn: man/${target#"$mandir"/} has no prototype of it in SYNOPSIS"
	fi
done <"$tmp/exports"

for page in "$mandir"/*.3; do
	[ -f "$page" ] || continue
	[ "$(resolve "$page")" = "$page" ] || continue
	for w in $(name_words "$page"); do
		grep -qx "$w" "$tmp/exports" ||
			problem "man/${page##*/} names $w, which libvmhint does not export"
	done
done

# Installed pages: man_MANS (continuation lines included) against the files.
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$mk" | awk '/^man_MANS[ \t]*\+?=/ {
		sub(/^[^=]*=/, "")
		for (i = 1; i <= NF; i++)
			print $i
	}' | sed 's:^man/::' | sort -u >"$tmp/installed"
(cd "$mandir" && ls -- *.[1-8]) | sort -u >"$tmp/present"
comm -23 "$tmp/present" "$tmp/installed" | while read -r p; do
	echo "check-coverage: man/$p is not in man_MANS of man/Makemodule.am"
done | tee "$tmp/uninstalled"
comm -13 "$tmp/present" "$tmp/installed" | while read -r p; do
	echo "check-coverage: man_MANS lists man/$p, which does not exist"
done | tee "$tmp/missing"
[ -s "$tmp/uninstalled" ] || [ -s "$tmp/missing" ] && fail=1

# One version in every page.
vh=$top/include/vmhint/version.h
if [ -r "$vh" ]; then
	version=$(sed -n 's/^#define VMHINT_VERSION "\(.*\)"$/\1/p' "$vh")
	for page in "$mandir"/*.[1-8]; do
		[ "$(resolve "$page")" = "$page" ] || continue
		grep '^\.TH' "$page" | grep -q "\"vmhint $version\"" ||
			problem "man/${page##*/}: .TH does not say \"vmhint $version\""
	done
fi

if [ "$fail" = 0 ]; then
	echo "check-coverage: $(wc -l <"$tmp/exports") exports, each in a page; every page name exported"
fi
exit "$fail"
