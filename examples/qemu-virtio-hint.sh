#!/bin/sh
# examples/qemu-virtio-hint.sh - a plain QEMU command line with guest page
# hinting: guest RAM in a memory backend, the vmhint object on it, the
# virtio-hint-pci device, and a QMP socket to watch it with query-vmhint.
#
#   examples/qemu-virtio-hint.sh [extra QEMU arguments...]
#
# Environment (all optional):
#   QEMU     the patched qemu-system-x86_64 (default: what scripts/build-qemu
#            prints; it builds QEMU on first use)
#   MEM      guest RAM (default 512M)
#   BACKEND  ram (private anonymous memory) or memfd (shared; default ram)
#   MODE     sync or lazy (default sync)
#   DEDUPE   off (default), on (this VM only: scan and reclaim zero pages),
#            or a table name, e.g. /vmhint-tenant1: share fingerprints with
#            the other VMs of that table and let KSM merge across them
#            (QEMU's mem-merge is turned off, so only what vmhint marks merges)
#   QMP      QMP socket path (default /tmp/vmhint-example.qmp)
#   KERNEL, INITRD, APPEND   direct kernel boot; without KERNEL the guest
#            starts paused (-S), which is enough to look at it over QMP
#
# Then, for example:
#   printf '%s\n' '{"execute":"qmp_capabilities"}' \
#       '{"execute":"query-vmhint"}' | socat - UNIX-CONNECT:/tmp/vmhint-example.qmp
set -eu

here=$(cd "$(dirname "$0")" && pwd)
QEMU=${QEMU:-$("$here/../scripts/build-qemu")}
MEM=${MEM:-512M}
BACKEND=${BACKEND:-ram}
MODE=${MODE:-sync}
QMP=${QMP:-/tmp/vmhint-example.qmp}
DEDUPE=${DEDUPE:-off}

case $BACKEND in
ram)   memdev="memory-backend-ram,id=m0,size=$MEM" ;;
memfd) memdev="memory-backend-memfd,id=m0,size=$MEM,share=on" ;;
*)     echo "BACKEND must be ram or memfd" >&2; exit 2 ;;
esac

vmhint="vmhint,id=vh0,memdev=m0,mode=$MODE"
machine=memory-backend=m0
case $DEDUPE in
off) ;;
on)  vmhint="$vmhint,dedupe=on,dedupe-zero-reclaim=on" ;;
/*)  vmhint="$vmhint,dedupe=on,dedupe-zero-reclaim=on,dedupe-table=$DEDUPE"
     machine="$machine,mem-merge=off" ;;
*)   echo "DEDUPE must be off, on or a table name (/vmhint-...)" >&2; exit 2 ;;
esac

if [ -n "${KERNEL:-}" ]; then
	set -- -kernel "$KERNEL" ${INITRD:+-initrd "$INITRD"} \
		-append "${APPEND:-console=ttyS0}" "$@"
else
	set -- -S "$@"
fi

# The build finds no firmware by itself (-L); -nodefaults avoids NIC ROMs.
# The memory backend must come before the vmhint object that names it.
exec "$QEMU" -L /usr/share/seabios -L /usr/share/qemu \
	-nodefaults -nographic -serial mon:stdio \
	-accel tcg -cpu max -m "$MEM" \
	-object "$memdev" -machine "$machine" \
	-object "$vmhint" \
	-device virtio-hint-pci,vmhint=vh0 \
	-qmp "unix:$QMP,server=on,wait=off" \
	"$@"
