#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs every guest-driver VM test (each builds the module and the guest
# tools for the guest kernel first); tests needing the patched QEMU skip
# without it. One alone: tests/vm/guest/NAME.sh.
# Usage: tests/vm/guest/run-all.sh [TEST...]   Exit: 0 no failure, 1 failure.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
tests=${*:-load-unload device alloc-pressure coexist hugetlb-order numa}
failed=0
for t in $tests; do
	start=$(date +%s)
	"$dir/$t.sh" >"/tmp/vm-guest-$t.out" 2>&1
	rc=$?
	case $rc in
	0) r=PASS ;;
	77) r="SKIP ($(grep -m1 SKIP "/tmp/vm-guest-$t.out"))" ;;
	*) r=FAIL failed=1 ;;
	esac
	echo "$r: $t ($(($(date +%s) - start)) s, output in /tmp/vm-guest-$t.out)"
done
exit $failed
