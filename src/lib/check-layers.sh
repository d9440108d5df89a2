#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fail when a file of libvmhint calls a layer above its own, or when files
# call each other in a circle (src/lib/README.md draws the layers). Reads
# the symbol tables of the built objects: run from the build directory
# after the library is built (make check does both).
# Usage: src/lib/check-layers.sh [dir-with-src/lib-objects]
set -eu
top=${1:-.}
lib=$top/src/lib
# layer: the layers it may call besides itself
allowed='util:
sys:
core:sys util
numa:core sys util
dedupe:core sys util
host:sys util'

objs=
for layer in util sys core numa dedupe host; do
	# libtool puts PIC objects in .libs/; a static-only build leaves them
	# beside. Only libvmhint.la's: other targets (the guest programs'
	# static copy) build the same sources under other names, maybe stale.
	for o in "$lib/$layer"/.libs/libvmhint_la-*.o "$lib/$layer"/libvmhint_la-*.o; do
		[ -f "$o" ] && objs="$objs $o"
	done
done
[ -n "$objs" ] || { echo "check-layers: no objects under $lib (build first)" >&2; exit 99; }

for o in $objs; do
	layer=${o#"$lib"/}
	layer=${layer%%/*}
	file=$(basename "$o" .o)
	file=${file#libvmhint_la-}
	nm "$o" | awk -v key="$layer/$file" '
		NF == 3 && $2 ~ /^[TDBRC]$/ { print "D", $3, key }
		NF == 2 && $1 == "U" { print "U", $2, key }'
done | sort -u | awk -v allowed="$allowed" '
	BEGIN {
		n = split(allowed, lines, "\n")
		for (i = 1; i <= n; i++) {
			split(lines[i], kv, ":")
			ok[kv[1] "/" kv[1]] = 1
			m = split(kv[2], below, " ")
			for (j = 1; j <= m; j++)
				ok[kv[1] "/" below[j]] = 1
		}
	}
	$1 == "D" { def[$2] = $3; next }
	{ use[++nu] = $3 " " $2 }
	END {
		bad = 0
		for (i = 1; i <= nu; i++) {
			split(use[i], p, " ")
			if (!(p[2] in def) || def[p[2]] == p[1])
				continue
			from = p[1]; to = def[p[2]]
			split(from, a, "/"); split(to, b, "/")
			if (!((a[1] "/" b[1]) in ok)) {
				printf "check-layers: %s calls %s (%s): %s may not call %s\n",
				       from, p[2], to, a[1], b[1]
				bad = 1
			}
			if (!((from SUBSEP to) in edge)) {
				edge[from, to] = 1
				out[from] = out[from] " " to
				node[from] = 1; node[to] = 1
			}
		}
		# Circles among files: repeatedly drop files that call no remaining file.
		do {
			removed = 0
			for (f in node) {
				k = split(out[f], t, " "); live = 0
				for (j = 1; j <= k; j++)
					if (t[j] in node)
						live = 1
				if (!live) { delete node[f]; removed = 1 }
			}
		} while (removed)
		for (f in node) {
			printf "check-layers: %s is on a circle of calls\n", f
			bad = 1
		}
		exit bad
	}'
echo "check-layers: layers call only downward"
