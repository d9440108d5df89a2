# SPDX-License-Identifier: GPL-2.0
# Helpers for the guest-driver VM tests: sourced, not run.
#   vh_mkinitramfs OUT INIT [FILE...]   cpio.gz with busybox, the virtio
#       modules, virtio_hint.ko, INIT as /init and FILEs in /bin
#   vh_boot INITRD LOG [QEMU ARGS...]   boot the Debian kernel under TCG,
#       serial console to LOG; returns QEMU's exit status
# Environment: KVER (newest /boot/vmlinuz-*-amd64), QEMU (qemu-system-x86_64), MEM (1G),
# VH_TIMEOUT (seconds, 300), VH_KO (path of virtio_hint.ko), VH_EXTRA_MODULES
# (more kernel modules for /lib/modules, e.g. virtio_balloon).

# Newest Debian amd64 kernel installed; the module Makefile picks the
# newest headers, which linux-image-amd64/linux-headers-amd64 keep in step.
vh_newest_kernel() {
	local f
	f=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1)
	f=${f#/boot/vmlinuz-}
	echo "${f:-6.1.0-56-amd64}"
}
KVER=${KVER:-$(vh_newest_kernel)}
QEMU=${QEMU:-qemu-system-x86_64}
MEM=${MEM:-1G}
VH_TIMEOUT=${VH_TIMEOUT:-300}
vh_dir=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
vh_top=$(cd "$vh_dir/../../.." && pwd)
VH_KO=${VH_KO:-$vh_top/src/guest/virtio_hint/virtio_hint.ko}

# Modules the initramfs loads, in dependency order (see modules.dep).
VH_MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci"

vh_skip() { echo "SKIP: $*"; exit 77; }

# Prints the patched QEMU: $VMHINT_QEMU, else the binary scripts/build-qemu
# has built already for the current patches (building is not a test's job).
vh_patched_qemu() {
	local key f
	if [ -n "${VMHINT_QEMU:-}" ]; then
		echo "$VMHINT_QEMU"
		return
	fi
	[ -x "$vh_top/scripts/build-qemu" ] || return 1
	key=$("$vh_top/scripts/build-qemu" --print-key 2>/dev/null) || return 1
	f=${VMHINT_CACHE:-/var/cache/vmhint}/qemu/$key/src/build/qemu-system-x86_64
	[ -x "$f" ] && echo "$f"
}

# QEMU arguments for a virtio-hint device over all of guest RAM ($MEM).
vh_device_args() {
	echo "-object memory-backend-ram,id=m0,size=$MEM -machine memory-backend=m0" \
		"-object vmhint,id=vh0,memdev=m0 -device virtio-hint-pci,vmhint=vh0"
}

vh_need() {
	[ -r "/boot/vmlinuz-$KVER" ] || vh_skip "no /boot/vmlinuz-$KVER (linux-image-amd64)"
	[ -x /bin/busybox ] || vh_skip "no /bin/busybox (busybox-static)"
	command -v cpio >/dev/null || vh_skip "no cpio"
	command -v "$QEMU" >/dev/null || vh_skip "no $QEMU"
	[ -r "$VH_KO" ] || { echo "FAIL: $VH_KO not built (make -C src/guest/virtio_hint)"; exit 1; }
	case $(modinfo -F vermagic "$VH_KO") in
	"$KVER "*) ;;
	*) echo "FAIL: $VH_KO is not built for $KVER (make -C src/guest/virtio_hint KDIR=/usr/src/linux-headers-$KVER)"; exit 1 ;;
	esac
}

vh_mkinitramfs() {
	local out=$1 init=$2 root m f
	shift 2
	root=$(mktemp -d)
	mkdir -p "$root"/bin "$root"/lib/modules "$root"/proc "$root"/sys "$root"/dev
	cp /bin/busybox "$root"/bin/busybox
	ln -s busybox "$root"/bin/sh
	for m in $VH_MODULES ${VH_EXTRA_MODULES:-}; do
		f=$(modinfo -k "$KVER" -n "$m") || return 1
		case $f in
		*.ko.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
		*.ko.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
		*) cp "$f" "$root/lib/modules/$m.ko" ;;
		esac
	done
	cp "$VH_KO" "$root"/lib/modules/
	for f in "$@"; do cp "$f" "$root"/bin/; done
	cp "$vh_dir/init-common.sh" "$root"/lib/vhtest.sh
	cp "$init" "$root"/init
	chmod 755 "$root"/init
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
	rm -rf "$root"
}

vh_boot() {
	local initrd=$1 log=$2
	shift 2
	timeout "$VH_TIMEOUT" "$QEMU" -accel tcg -cpu max -m "$MEM" -smp 1 \
		-nographic -nodefaults -serial stdio -no-reboot \
		-L /usr/share/seabios -L /usr/share/qemu \
		-kernel "/boot/vmlinuz-$KVER" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 loglevel=4 ${VH_APPEND:-}" \
		"$@" </dev/null >"$log" 2>&1
}
