#!/bin/bash
# Write the seed corpus of fuzz_wire: well-formed requests for the target's
# guest RAM layout (see fuzz_wire.c) and one of each kind of bad request.
# Usage: fuzz/gen-seeds.sh DIR
set -euo pipefail
dir=${1:?usage: gen-seeds.sh DIR}
mkdir -p "$dir"

# Little-endian bytes of $1, $2 bytes wide.
le() {
	local v=$1 n=$2 i
	for ((i = 0; i < n; i++)); do
		# shellcheck disable=SC2059 # the format is the escape \xNN being built
		printf "\\x$(printf %02x $(((v >> (8 * i)) & 255)))"
	done
}
req() { le "$1" 2; le "$2" 2; le "$3" 4; }      # op flags nr_ranges
range() { le "$1" 8; le "$2" 8; }                # gpa len
A=0x100000 B=0x110000 C=0x200000 P=0x1000

{ req 1 0 1; range $A $P; } >"$dir/unused-one"
{ req 2 0 1; range $B 0x10000; } >"$dir/stable-region"
{ req 1 0 3; range $A $P; range $((B + 4 * P)) $((2 * P)); range $((C + 15 * P)) $P; } \
	>"$dir/unused-three"
{ req 1 0 16; for i in $(seq 0 15); do range $((C + i * P)) $P; done; } >"$dir/unused-sixteen"
{ req 1 0 17; for i in $(seq 0 16); do range $((A + i * P)) $P; done; } >"$dir/unused-seventeen"
{ req 1 0 1; range $((B - P)) $((2 * P)); } >"$dir/cross"
{ req 1 0 1; range 0x180000 $P; } >"$dir/hole"
{ req 1 0 1; range 0xfffffffffffff000 0x2000; } >"$dir/overflow"
{ req 1 0 1; range $((A + 8)) $P; } >"$dir/misaligned"
{ req 1 0 1; range $A 0; } >"$dir/zero-len"
{ le 1 2; le 0 2; } >"$dir/short"
{ req 1 0 2; range $A $P; } >"$dir/length"
{ req 9 0 1; range $A $P; } >"$dir/bad-op"
{ req 1 1 1; range $A $P; } >"$dir/bad-flags"
req 1 0 0 >"$dir/no-ranges"
{ req 1 0 1; range $C 0x11000; } >"$dir/past-end"
