# Sourced by the test /init scripts inside the guest (busybox sh).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci; do
	insmod /lib/modules/$m.ko || echo "VHTEST: FAIL insmod $m"
done

vh_fail() { echo "VHTEST: FAIL $*"; FAILED=1; }
vh_done() {
	# Anything the kernel flagged is a failure, whatever the test saw.
	if dmesg | grep -E "WARNING:|BUG:|Oops|Call Trace|general protection|refcount_t"; then
		vh_fail "kernel log has warnings"
	fi
	[ -z "$FAILED" ] && echo "VHTEST: PASS" || echo "VHTEST: FAILED"
	poweroff -f
}
