#!/bin/bash
# tests/qemu/test-migration.sh - virtio-hint-pci and the vmhint object across
# migration, driven over qtest as in test-device.sh, for anonymous and shared
# memfd guest RAM:
#
#   snapshot  during a background snapshot (migration capability
#             background-snapshot, which write-protects guest RAM with
#             userfaultfd) discards are inhibited: an UNUSED hint completes,
#             is counted in inhibited-pages, and nothing is dropped (RSS,
#             content); once the snapshot is cancelled, hints drop again
#   migrate   live migration to a second QEMU: the content arrives (pages
#             dropped before read as zeroes, the rest as written), the
#             destination's vmhint starts afresh (same regions, no page
#             states, counters at zero) and the migrated device answers a
#             request there, which drops the pages on the destination
#
# QEMU and libvmhint are found as in test-qmp.sh.
# Exit 0 pass, 1 fail, 77 skip (with the reason).
set -u

. "$(dirname "$0")/lib.sh"

QEMU=$qemu VIRTIO_ID=$virtio_id TMP=$tmp python3 - <<'EOF'
import os, sys, time

from hintdev import (BACKINGS, M, RAM_SIZE, OP_UNUSED, TARGET, TARGET_LEN, Device, counters,
                     find_device, qemu_args)
from qmptest import finish, Qtest, check, failures

QEMU = os.environ['QEMU']
TMP = os.environ['TMP']
PATTERN = b'\x5a' * 4096
SECOND = TARGET + TARGET_LEN             # another 8M the tests hint about


def migration_status(qt):
    return qt.qmp('query-migrate')['return'].get('status')


def wait_migration(qt, want, timeout=60):
    deadline = time.time() + timeout
    st = None
    while time.time() < deadline:
        st = migration_status(qt)
        if st in want:
            return st
        time.sleep(0.05)
    return st


def up(qt, name):
    dev = find_device(qt)
    if not check(dev is not None, '%s: virtio-hint PCI device found' % name):
        return None
    d = Device(qt, dev)
    d.init()
    return d


def snapshot(name, memdev, shared):
    qt = Qtest(QEMU, TMP, name, qemu_args(memdev))
    resident = lambda gpa, want: qt.resident(RAM_SIZE, gpa, TARGET_LEN, want)
    try:
        d = up(qt, name)
        if not d:
            return
        qt.memset(TARGET, 2 * TARGET_LEN, 0x5a)
        r = qt.qmp('migrate-set-capabilities', capabilities=[
            {'capability': 'background-snapshot', 'state': True}])
        check('return' in r, '%s: background-snapshot capability set' % name, r)
        # Slow enough that the snapshot is still running when we hint.
        qt.qmp('migrate-set-parameters', **{'max-bandwidth': 1 * M})
        r = qt.qmp('migrate', uri='exec:cat >/dev/null')
        st = wait_migration(qt, ('active', 'failed', 'completed'))
        if not check(st == 'active', '%s: background snapshot running' % name,
                     qt.qmp('query-migrate')):
            return
        i = qt.vmhint()
        check(i['discard-inhibited'], '%s: discards inhibited during the snapshot' % name)
        _, status, _ = d.request(OP_UNUSED, [(TARGET, TARGET_LEN)])
        c = counters(qt)
        check(status == 0 and c['inhibited-pages'] == TARGET_LEN // 4096 and
              c['bytes-dropped-total'] == 0,
              '%s: UNUSED 8M completes, 2048 pages inhibited, nothing dropped' % name,
              (status, c['inhibited-pages'], c['bytes-dropped-total']))
        left = resident(TARGET, TARGET_LEN)
        check(left == TARGET_LEN and qt.read(TARGET + 4 * M, 4096) == PATTERN,
              '%s: the 8M stay resident with their content' % name, left)
        qt.qmp('migrate_cancel')
        st = wait_migration(qt, ('cancelled', 'failed', 'completed'))
        check(st == 'cancelled', '%s: snapshot cancelled' % name, st)
        check(not qt.vmhint()['discard-inhibited'], '%s: discards allowed again' % name)
        _, status, _ = d.request(OP_UNUSED, [(SECOND, TARGET_LEN)])
        left = resident(SECOND, 0)
        check(status == 0 and left == 0 and qt.read(SECOND, 4096) == bytes(4096),
              '%s: after it, an UNUSED hint drops again' % name, (status, left))
    finally:
        qt.close(name)


def migrate(name, memdev, shared):
    incoming = os.path.join(TMP, name + '.mig')
    src = Qtest(QEMU, TMP, name + '-src', qemu_args(memdev))
    dst = None
    try:
        d = up(src, name)
        if not d:
            return
        src.memset(TARGET - M, 2 * TARGET_LEN + 2 * M, 0x5a)
        _, status, _ = d.request(OP_UNUSED, [(TARGET, TARGET_LEN)])
        check(status == 0, '%s: UNUSED 8M on the source' % name, status)
        src_regions = src.vmhint()['regions']

        dst = Qtest(QEMU, TMP, name + '-dst',
                    qemu_args(memdev) + ['-incoming', 'unix:' + incoming])
        r = src.qmp('migrate', uri='unix:' + incoming)
        st = wait_migration(src, ('completed', 'failed', 'cancelled'))
        if not check(st == 'completed', '%s: migration completed' % name,
                     src.qmp('query-migrate')):
            return
        wait_migration(dst, ('completed',), timeout=10)
        check(dst.read(TARGET, 4096) == bytes(4096) and
              dst.read(TARGET + TARGET_LEN - 4096, 4096) == bytes(4096),
              '%s: destination: the dropped pages read as zeroes' % name)
        check(dst.read(TARGET - 4096, 4096) == PATTERN and
              dst.read(SECOND + 4 * M, 4096) == PATTERN,
              '%s: destination: the kept pages arrived intact' % name)
        i = dst.vmhint()
        check([(r['gpa'], r['size'], r['backing']) for r in i['regions']] ==
              [(r['gpa'], r['size'], r['backing']) for r in src_regions] and
              all(r['unused-bytes'] == 0 for r in i['regions']) and
              i['counters']['requests-unused'] == 0,
              '%s: destination vmhint: same regions, no page states, fresh counters' % name,
              i)

        # The device state came along: the driver carries on where it was.
        dd = Device(dst, find_device(dst))
        dd.resume(d)
        before = dst.resident(RAM_SIZE, SECOND, TARGET_LEN, want=TARGET_LEN)
        _, status, done = dd.request(OP_UNUSED, [(SECOND, TARGET_LEN)])
        left = dst.resident(RAM_SIZE, SECOND, TARGET_LEN, want=0)
        c = counters(dst)
        check(status == 0 and done == 1 and c['requests-unused'] == 1 and
              before == TARGET_LEN and left == 0 and dst.read(SECOND, 4096) == bytes(4096),
              '%s: destination: the migrated device drops 8M on request' % name,
              (status, done, c['requests-unused'], before, left))
    finally:
        src.close(name + '-src')
        if dst:
            dst.close(name + '-dst')


for name, memdev, shared in BACKINGS:
    snapshot('snapshot-' + name, memdev, shared)
    migrate('migrate-' + name, memdev, shared)

finish()
EOF
