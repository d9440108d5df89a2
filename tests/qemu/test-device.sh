#!/bin/bash
# tests/qemu/test-device.sh - drive the virtio-hint-pci device of the patched
# QEMU from outside, through QEMU's qtest protocol (no guest kernel): this
# test is the driver. It brings the device up as virtio 1, fills guest RAM,
# sends requests and checks what happened to the host memory behind it:
#
#   config    the config space is the library's (version 1, max_ranges)
#   unused    an UNUSED hint on 8M: status ok, the pages read back as zeroes,
#             none of the 8M is mapped in QEMU any more (pagemap), the pages
#             next to the range kept their content, counters agree
#   hostile   bad op, a range outside guest RAM, an over-long element:
#             each rejected with its status and counted, nothing dropped
#   broken    an element without room for the response marks the device
#             broken (NEEDS_RESET) instead of being answered
#
# for memory-backend-ram (anon) and memory-backend-memfd,share=on (shmem).
# QEMU and libvmhint are found as in test-qmp.sh.
# Exit 0 pass, 1 fail, 77 skip (with the reason).
set -u

. "$(dirname "$0")/lib.sh"

QEMU=$qemu VIRTIO_ID=$virtio_id TMP=$tmp python3 - <<'EOF'
import os, struct, sys

from hintdev import (BACKINGS, BIG, M, RAM_SIZE, REQ, RESP, S_NEEDS_RESET, TARGET, TARGET_LEN,
                     Device, counters, find_device, qemu_args)
from qmptest import finish, Qtest, check, failures

QEMU = os.environ['QEMU']
TMP = os.environ['TMP']


def start(name, memdev):
    return Qtest(QEMU, TMP, name, qemu_args(memdev))


def run(name, memdev, shared):
    qt = start(name, memdev)
    try:
        dev = find_device(qt)
        if not check(dev is not None, '%s: virtio-hint PCI device found' % name):
            return
        d = Device(qt, dev)
        d.init()
        ver, page_size, max_ranges, _ = d.config()
        check(ver == 1 and page_size == 4096 and max_ranges == 256,
              '%s: config space: version 1, page size 4K, 256 ranges' % name,
              (ver, page_size, max_ranges))

        # Fill guest RAM around and in the target range with a pattern.
        qt.memset(TARGET - M, TARGET_LEN + 2 * M, 0x5a)
        before = qt.resident(RAM_SIZE, TARGET, TARGET_LEN, want=TARGET_LEN)
        used, status, done = d.request(1, [(TARGET, TARGET_LEN)])
        check(used == 8 and status == 0 and done == 1,
              '%s: UNUSED 8M at 16M: used 8, status ok, 1 range done' % name,
              (used, status, done))
        after = qt.resident(RAM_SIZE, TARGET, TARGET_LEN, want=0)
        check(before == TARGET_LEN and after == 0,
              '%s: the 8M were resident and are not any more' % name,
              (before, after))
        check(qt.read(TARGET, 4096) == bytes(4096) and
              qt.read(TARGET + TARGET_LEN - 4096, 4096) == bytes(4096),
              '%s: the hinted pages read back as zeroes' % name)
        check(qt.read(TARGET - 4096, 4096) == b'\x5a' * 4096 and
              qt.read(TARGET + TARGET_LEN, 4096) == b'\x5a' * 4096,
              '%s: the pages next to the range kept their content' % name)
        c = counters(qt)
        check(c['requests-unused'] == 1 and c['pages-unused'] == TARGET_LEN // 4096 and
              c['bytes-dropped-total'] >= TARGET_LEN,
              '%s: counters: 1 request, 2048 pages, 8M dropped' % name,
              {k: c[k] for k in ('requests-unused', 'pages-unused', 'bytes-dropped-total')})
        by = {m['method']: m['bytes'] for m in c['bytes-dropped']}
        if shared:
            check(by.get('punch_hole', 0) >= TARGET_LEN,
                  '%s: dropped by punching a hole' % name, by)
        else:
            check(by.get('madv_dontneed', 0) + by.get('process_madvise', 0) >= TARGET_LEN,
                  '%s: dropped by MADV_DONTNEED' % name, by)

        # Hostile requests: each gets its status, nothing is dropped.
        qt.memset(TARGET, TARGET_LEN, 0x5a)
        _, status, done = d.request(9, [(TARGET, TARGET_LEN)])
        check(status == 3 and done == 0, '%s: unknown op: status op (3)' % name, status)
        _, status, _ = d.request(1, [(1 << 40, 1 << 20)])
        check(status == 10, '%s: range outside guest RAM: status outside (10)' % name, status)
        # An element far longer than any request: copied only in part,
        # handed over with its true length, rejected by the library.
        qt.write(BIG, struct.pack('<HHIQQ', 1, 0, 1, TARGET, TARGET_LEN))
        qt.memset(RESP, 8, 0xff)
        used = d.submit([(BIG, 1 * M, False), (RESP, 8, True)])
        status, _ = struct.unpack('<II', qt.read(RESP, 8))
        check(used == 8 and status == 2,
              '%s: 1M element with a valid header: status length (2)' % name, (used, status))
        _, status, _ = d.request(1, [(TARGET, TARGET_LEN)] * 2, nr=5000)
        check(status in (2, 6), '%s: nr_ranges 5000: rejected' % name, status)
        check(qt.read(TARGET, 4096) == b'\x5a' * 4096,
              '%s: nothing dropped by rejected requests' % name)
        c = counters(qt)
        check(c['rejected-total'] == 4, '%s: 4 rejections counted' % name,
              (c['rejected-total'], c['rejected']))

        # No room for the response: a protocol violation.
        used = d.submit([(REQ, 24, False)])
        check(used is None and d.status() & S_NEEDS_RESET,
              '%s: element without a response buffer: device needs reset' % name,
              (used, d.status()))
        # A reset device works again.
        d.used_idx = d.avail_idx = 0
        d.init()
        _, status, _ = d.request(1, [(TARGET, 4096)])
        check(status == 0, '%s: after a reset the device answers again' % name, status)
    finally:
        qt.close(name)


for backing in BACKINGS:
    run(*backing)

finish()
EOF
