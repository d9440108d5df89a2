#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The driver reports at the host's backing page size: a guest on 2 MiB
# hugetlbfs reports at order 9, one on 1 GiB pages at order 10 (the
# buddy allocator's largest, MAX_ORDER - 1), and the host accepts them.
# Grows the host's hugepage pools by what it needs and shrinks them back.
# Env: tests/vm/lib.sh's. Exit: 0 pass, 1 fail, 77 skip.
set -u
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || vm_skip "needs root for the hugepage pools"
hp=/sys/kernel/mm/hugepages
if [ ! -d $hp/hugepages-2048kB ] || [ ! -d $hp/hugepages-1048576kB ]; then
	vm_skip "no 2M/1G hugepages"
fi
vm_setup_patched
# Pools are shared with whatever else runs on the host: add what we need
# on top of the current size and take exactly that back.
added=0 pool=
pool_add() {
	local f=$hp/hugepages-$1/nr_hugepages
	echo $(($(cat "$f") + $2)) >"$f"
	pool=$f added=$2
}
pool_undo() {
	[ -n "$pool" ] || return 0
	local n=$(($(cat "$pool") - added))
	echo $((n < 0 ? 0 : n)) >"$pool"
	pool='' added=0
}
trap 'pool_undo; rm -rf "$work"' EXIT

failed=0
for size in 2M 1G; do
	case $size in
	2M) order=9 kb=2048 pages=512 ;;
	1G) order=10 kb=1048576 pages=1 ;;
	esac
	cat >"$work/hugetlb-$size" <<GUEST
#!/bin/sh
. /lib/vmtest.sh
insmod /lib/modules/virtio_hint.ko active=1 || vm_fail insmod
d=\$(ls -d /sys/bus/virtio/drivers/virtio_hint/virtio* | head -1)
memhog 256 0 0 >/dev/null
echo 1 >\$d/hint/hint_now; sleep 3
for f in config_page_size report_order active_order status_ok err_proto; do
	vm_info "\$f \$(cat \$d/hint/\$f)"
done
[ "\$(cat \$d/hint/report_order)" = $order ] || vm_fail "report_order"
[ "\$(cat \$d/hint/status_ok)" -gt 0 ] || vm_fail "no OK answer"
rmmod virtio_hint || vm_fail rmmod
vm_end
GUEST
	chmod +x "$work/hugetlb-$size"
	vm_initramfs "$work/initrd" --driver --bin "$vm_top/src/guest/tools/memhog" \
		-- "$work/hugetlb-$size" || { echo "FAIL: initramfs"; exit 1; }
	pool_add "${kb}kB" "$pages"
	[ "$(cat "$hp/hugepages-${kb}kB/free_hugepages")" -ge "$pages" ] ||
		{ pool_undo; echo "SKIP: $size: could not get $pages huge pages"; continue; }
	vm_run "$work/initrd" "$work/log" --qemu "$vm_patched" --mem 1024 --smp 1 -- \
		-object memory-backend-memfd,id=m0,size=1G,hugetlb=on,hugetlbsize=$size \
		-machine memory-backend=m0 -object vmhint,id=vh0,memdev=m0 \
		-device virtio-hint-pci,vmhint=vh0
	pool_undo
	_vm_marks "$work/log" INFO | sed 's/^@@VMTEST INFO /  /'
	if vm_results "$work/log" "hugetlb-$size"; then
		echo "PASS: hugetlb $size"
	else
		echo "FAIL: hugetlb $size"
		tail -n 20 "$work/log"
		failed=1
	fi
done
exit $failed
