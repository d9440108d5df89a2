#!/bin/bash
# tests/qemu/test-stable-hints.sh - lazy mode under the explicit STABLE-hint
# contract, through the virtio-hint-pci device (driven over qtest as in
# test-device.sh), for anonymous and shared memfd guest RAM:
#
#   negotiate  a driver that accepts VMHINT_F_STABLE_HINTS and VMHINT_F_LAZY
#              gets guest-stable-hints in query-vmhint
#   pending    in lazy mode an UNUSED hint on 8M completes with nothing
#              dropped yet: pending-bytes 8M, RSS unchanged, content intact
#              (shared memory too: the guest promised STABLE before reuse)
#   cancel     a STABLE hint on 1M of it takes those pages back
#              (pending-cancelled); they are never dropped
#   flush      vmhint-flush drops the other 7M: bytes-dropped; shmem: those
#              pages are no longer mapped (pagemap) and read as zeroes; anon:
#              lazy drops are MADV_FREE, which cleans pages at once (smaps
#              Private_Clean grows: by at least a huge page, as MADV_FREE
#              may pass over huge pages); the STABLE 1M keeps its content
#   reset      a device reset withdraws the promise: what is pending is
#              dropped at once and guest-stable-hints turns false
#
# QEMU and libvmhint are found as in test-qmp.sh.
# Exit 0 pass, 1 fail, 77 skip (with the reason).
set -u

. "$(dirname "$0")/lib.sh"

QEMU=$qemu VIRTIO_ID=$virtio_id TMP=$tmp python3 - <<'EOF'
import os, sys

from hintdev import (BACKINGS, F_LAZY, F_STABLE_HINTS, M, RAM_SIZE, OP_STABLE, OP_UNUSED, TARGET,
                     TARGET_LEN, Device, counters, find_device, qemu_args)
from qmptest import finish, Qtest, check, failures

QEMU = os.environ['QEMU']
TMP = os.environ['TMP']
PATTERN = b'\x5a' * 4096
# MADV_FREE is advice: the kernel passes over a huge page it cannot split
# or take at that moment (khugepaged, a reference held elsewhere), and
# guest RAM is THP-backed. One huge page cleaned shows the drop reached the
# kernel; the library's counters show it asked for all of it.
MADV_FREE_AT_LEAST = 2 * M


def run(name, memdev, shared):
    # flush-interval=0: no timer flushes behind the test's back.
    qt = Qtest(QEMU, TMP, name, qemu_args(memdev, ',mode=lazy,flush-interval=0'))

    def gone(gpa):
        """Bytes of the 8M at @gpa the host took back (shmem: no longer
        mapped) or may take back at once (anon: lazy drops are MADV_FREE,
        which cleans the pages)."""
        if shared:
            return TARGET_LEN - qt.resident(RAM_SIZE, gpa, TARGET_LEN)
        return qt.clean(RAM_SIZE)

    try:
        dev = find_device(qt)
        if not check(dev is not None, '%s: virtio-hint PCI device found' % name):
            return
        d = Device(qt, dev)
        d.init(1 << F_LAZY | 1 << F_STABLE_HINTS)
        check(qt.vmhint()['guest-stable-hints'],
              '%s: STABLE hints negotiated: guest-stable-hints true' % name)

        qt.memset(TARGET, 2 * TARGET_LEN, 0x5a)
        qt.drain_lru(RAM_SIZE)
        g0 = gone(TARGET)
        _, status, _ = d.request(OP_UNUSED, [(TARGET, TARGET_LEN)])
        c = counters(qt)
        check(status == 0 and c['pending-bytes'] == TARGET_LEN and
              c['bytes-dropped-total'] == 0,
              '%s: lazy UNUSED 8M: completed, 8M pending, nothing dropped' % name,
              (status, c['pending-bytes'], c['bytes-dropped-total'], c['lazy-fallbacks']))
        g = gone(TARGET)
        check(g - g0 < M and qt.read(TARGET + 4 * M, 4096) == PATTERN,
              '%s: nothing taken back and content intact while pending' % name, (g0, g))

        _, status, _ = d.request(OP_STABLE, [(TARGET, M)])
        c = counters(qt)
        check(status == 0 and c['pending-cancelled'] == M // 4096 and
              c['pending-bytes'] == TARGET_LEN - M,
              '%s: STABLE on 1M of it: 256 pages taken back, 7M pending' % name,
              (status, c['pending-cancelled'], c['pending-bytes']))

        r = qt.qmp('vmhint-flush', id='vh0')
        check(r.get('return', {}).get('bytes-dropped') == TARGET_LEN - M,
              '%s: vmhint-flush drops the 7M still pending' % name, r)
        by = {m['method']: m['bytes'] for m in counters(qt)['bytes-dropped']}
        how = 'punch_hole' if shared else 'madv_free'
        check(by.get(how, 0) == TARGET_LEN - M, '%s: the 7M went by %s' % (name, how), by)
        g = gone(TARGET)
        check(g - g0 >= (TARGET_LEN - M if shared else MADV_FREE_AT_LEAST),
              '%s: the kernel took the 7M back (shmem) or cleaned them (anon)' % name,
              (g0, g))
        if shared:
            check(qt.read(TARGET + M, 4096) == bytes(4096) and
                  qt.read(TARGET + TARGET_LEN - 4096, 4096) == bytes(4096),
                  '%s: the flushed pages read as zeroes' % name)
        check(qt.read(TARGET, 4096) == PATTERN and qt.read(TARGET + M - 4096, 4096) == PATTERN,
              '%s: the 1M hinted STABLE kept its content' % name)

        # A reset ends the promise: pending drops cannot wait any longer.
        second = TARGET + TARGET_LEN
        g1 = gone(second)
        _, status, _ = d.request(OP_UNUSED, [(second, TARGET_LEN)])
        check(status == 0 and counters(qt)['pending-bytes'] == TARGET_LEN,
              '%s: another 8M pending' % name)
        d.set_status(0)
        i = qt.vmhint()
        check(not i['guest-stable-hints'] and i['counters']['pending-bytes'] == 0,
              '%s: device reset: promise withdrawn, nothing left pending' % name,
              (i['guest-stable-hints'], i['counters']['pending-bytes']))
        g = gone(second)
        check(g - g1 >= (TARGET_LEN if shared else MADV_FREE_AT_LEAST) and
              (not shared or qt.read(second, 4096) == bytes(4096)),
              '%s: the pending 8M were dropped on reset' % name, (g1, g))
    finally:
        qt.close(name)


for backing in BACKINGS:
    run(*backing)

finish()
EOF
