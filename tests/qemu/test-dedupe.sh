#!/bin/bash
# tests/qemu/test-dedupe.sh - dedupe in the patched QEMU. Guest RAM is
# written through qtest (no guest kernel); the effects are read on the host:
#
#   scan     a memfd guest with 32M of zero pages and 32M of one repeated
#            pattern, no table: after a pass query-vmhint counts both
#            (zero-pages, dup-pages), untouched RAM is skipped, nothing is
#            published or marked
#   zero     dedupe-zero-reclaim=on, memfd and anonymous (2M granules)
#            guests: the zero pages leave the host (not mapped any more, by
#            pagemap, and the memfd's blocks fall by 32M), the pattern
#            pages keep their content, a write after the reclaim lands; a
#            hugetlb memfd guest
#            (as root: the test raises nr_hugepages and restores it) gives
#            its 16 zero huge pages back to the pool
#   private  an anonymous guest with mem-merge=off and no table: no VMA of
#            QEMU becomes mergeable
#   cross    two anonymous guests with mem-merge=off share a dedupe-table and
#            hold the same 32M: each counts the other's pages as candidates,
#            vmhint marks the dense chunks mergeable (smaps VmFlags "mg"),
#            and as root, with KSM running for the test (knobs restored),
#            ksmd merges them: merged-pages, content intact, a write to a
#            merged page stays in its VM
#   off/on   vmhint-dedupe enable=false: marks undone, the other guest's
#            candidates fall to 0, enabled false; enable=true scans again
#   refuse   a bad table name and dedupe-scan-rate=0 are refused
#
# QEMU and libvmhint are found as in test-qmp.sh.
# Exit 0 pass, 1 fail, 77 skip (with the reason).
set -u

. "$(dirname "$0")/lib.sh"

table=/vmhint-test-dedupe-$$
trap 'rm -rf "$tmp" "/dev/shm$table"' EXIT

QEMU=$qemu TMP=$tmp TABLE=$table python3 - <<'EOF'
import fcntl, os, signal, sys, time

from qmptest import finish, QemuDidNotStart, Qtest, check, failures

QEMU = os.environ['QEMU']
TMP = os.environ['TMP']
TABLE = os.environ['TABLE']
M = 1 << 20
PAGES_32M = 32 * M // 4096
ZERO, PATTERN = 64 * M, 128 * M          # guest-physical, 2M aligned
KSM = '/sys/kernel/mm/ksm/'
NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages'
FREE_HUGEPAGES = '/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages'


def start(name, memdev, vmhint_opts, machine_opts=''):
    return Qtest(QEMU, TMP, name,
                 ['-machine', 'pc,memory-backend=m0' + machine_opts, '-m', '256M',
                  '-object', memdev,
                  '-object', 'vmhint,id=vh0,memdev=m0,dedupe=on,'
                             'dedupe-scan-rate=4G' + vmhint_opts])


def low_region(qt):
    """Dedupe counters of the region at gpa 0 (all of a 256M guest)."""
    return qt.vmhint()['regions'][0].get('dedupe')


def wait_for(qt, what, cond, timeout=60):
    """Poll the gpa-0 region's dedupe counters until cond(counters)."""
    t0 = time.time()
    d = None
    while time.time() < t0 + timeout:
        d = low_region(qt)
        if d is not None and cond(d):
            check(True, '%s (%.1f s)' % (what, time.time() - t0))
            return d
        time.sleep(0.1)
    check(False, what, d)
    return None


def fresh_passes(qt, what):
    """Wait for two more passes: the second one saw memory as it is now."""
    p0 = low_region(qt)['passes']
    return wait_for(qt, what + ': two more scan passes', lambda d: d['passes'] >= p0 + 2)


def poll(cond, timeout):
    """Whether cond() came true within timeout seconds."""
    t0 = time.time()
    while not cond():
        if time.time() > t0 + timeout:
            return False
        time.sleep(0.1)
    return True


def mergeable_bytes(pid):
    """Bytes of the process's VMAs marked MADV_MERGEABLE."""
    total = size = 0
    with open('/proc/%d/smaps' % pid) as f:
        for line in f:
            if line.startswith('Size:'):
                size = int(line.split()[1]) * 1024
            elif line.startswith('VmFlags:') and ' mg' in line:
                total += size
    return total


def memfd_blocks(pid):
    """Bytes allocated to QEMU's guest RAM memfd."""
    fds = '/proc/%d/fd' % pid
    for fd in os.listdir(fds):
        try:
            if os.readlink(os.path.join(fds, fd)).startswith('/memfd:'):
                return os.stat(os.path.join(fds, fd)).st_blocks * 512
        except OSError:
            pass
    return None


def fill(qt):
    qt.memset(ZERO, 32 * M, 0)
    qt.memset(PATTERN, 32 * M, 0x5a)


def test_scan():
    qt = start('scan', 'memory-backend-memfd,id=m0,size=256M,share=on', '')
    try:
        fill(qt)
        d = fresh_passes(qt, 'scan')
        if d:
            check(d['zero-pages'] >= PAGES_32M and d['dup-pages'] >= PAGES_32M - 1,
                  'scan: 8192 zero pages and 8191 duplicates of the pattern counted', d)
            check(d['pages-skipped'] > 0 and d['pages-scanned'] > 0,
                  'scan: untouched RAM is skipped, written RAM scanned', d)
            check(d['published'] == 0 and d['candidate-pages'] == 0 and d['ksm-ranges'] == 0,
                  'scan: without a table nothing is published or marked', d)
            check(d['zero-reclaimed'] == 0, 'scan: no reclaim unless asked for', d)
        s = qt.vmhint()['dedupe']
        check(s['enabled'] and 'table' not in s and not s['zero-reclaim'] and
              s['scan-rate'] == 4 << 30 and s['errors'] == 0,
              'scan: query-vmhint dedupe: enabled, no table, 4G/s, no errors', s)
    finally:
        qt.close('scan')


def test_zero(name, memdev, shared):
    qt = start(name, memdev, ',dedupe-zero-reclaim=on', ',mem-merge=off')
    try:
        # Resident first, then scanned once without zeroes to reclaim.
        qt.memset(ZERO, 32 * M, 0x11)
        qt.memset(PATTERN, 32 * M, 0x5a)
        fresh_passes(qt, name)
        before = qt.resident(256 * M, ZERO, 32 * M, want=32 * M)
        blocks0 = memfd_blocks(qt.proc.pid) if shared else None
        qt.memset(ZERO, 32 * M, 0)
        d = fresh_passes(qt, name)
        after = qt.resident(256 * M, ZERO, 32 * M, want=0)
        if d:
            check(d['zero-reclaimed'] >= PAGES_32M and d['bytes-saved'] >= 32 * M,
                  '%s: 8192 zero pages reclaimed, 32M saved' % name, d)
        check(before == 32 * M and after == 0,
              '%s: the 32M of zero pages are no longer mapped' % name, (before, after))
        if shared:
            blocks1 = memfd_blocks(qt.proc.pid)
            check(blocks0 is not None and blocks1 is not None and
                  blocks0 - blocks1 >= 30 * M,
                  '%s: the memfd gave back 32M of blocks' % name, (blocks0, blocks1))
        check(qt.read(PATTERN, 4096) == b'\x5a' * 4096 and
              qt.read(PATTERN + 32 * M - 4096, 4096) == b'\x5a' * 4096,
              '%s: pattern pages kept their content' % name)
        check(qt.read(ZERO + 5 * M, 4096) == bytes(4096),
              '%s: reclaimed pages read as zeroes' % name)
        qt.memset(ZERO + 5 * M, 4096, 0x33)
        check(qt.read(ZERO + 5 * M, 4096) == b'\x33' * 4096,
              '%s: a write after the reclaim lands' % name)
    finally:
        qt.close(name)


class HugePages:
    """@n more 2M huge pages in the pool while the test runs (serialised with
    the other tests that change the pool); put back by restore()."""

    def __init__(self, n):
        self.lock = open('/tmp/vmhint-tests-hugepages.lock', 'w')
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        with open(NR_HUGEPAGES) as f:
            self.saved = f.read().strip()
        with open(NR_HUGEPAGES, 'w') as f:
            f.write(str(int(self.saved) + n))
        self.ok = self.free() >= n

    @staticmethod
    def free():
        with open(FREE_HUGEPAGES) as f:
            return int(f.read())

    def restore(self):
        with open(NR_HUGEPAGES, 'w') as f:
            f.write(self.saved)
        self.lock.close()


def test_zero_hugetlb():
    name = 'zero-hugetlb'
    if os.geteuid() != 0 or not os.path.exists(FREE_HUGEPAGES):
        print('note: %s not run: needs root and 2M huge pages' % name)
        return
    pool = HugePages(256 * M // (2 * M) + 8)
    try:
        if not check(pool.ok, '%s: the pool has room for the guest' % name, pool.free()):
            return
        qt = start(name, 'memory-backend-memfd,id=m0,size=256M,share=on,hugetlb=on,'
                   'hugetlbsize=2M', ',dedupe-zero-reclaim=on')
        try:
            qt.memset(ZERO, 32 * M, 0x11)
            qt.memset(PATTERN, 32 * M, 0x5a)
            fresh_passes(qt, name)
            free0 = pool.free()
            qt.memset(ZERO, 32 * M, 0)
            d = fresh_passes(qt, name)
            free1 = pool.free()
            check(d is not None and d['zero-reclaimed'] >= PAGES_32M,
                  '%s: 32M of zero huge pages reclaimed' % name, d)
            check(free1 - free0 >= 16, '%s: 16 huge pages back in the pool' % name,
                  (free0, free1))
            check(qt.read(PATTERN, 4096) == b'\x5a' * 4096 and
                  qt.read(ZERO + 3 * M, 4096) == bytes(4096),
                  '%s: pattern kept, reclaimed pages read as zeroes' % name)
        finally:
            qt.close(name)
    finally:
        pool.restore()


def test_private():
    qt = start('private', 'memory-backend-ram,id=m0,size=256M', '', ',mem-merge=off')
    try:
        fill(qt)
        d = fresh_passes(qt, 'private')
        check(d is not None and d['ksm-ranges'] == 0 and d['published'] == 0,
              'private: nothing marked or published without a table', d)
        check(mergeable_bytes(qt.proc.pid) == 0,
              'private: no VMA of QEMU is mergeable', mergeable_bytes(qt.proc.pid))
    finally:
        qt.close('private')


class KsmRun:
    """KSM running fast for the test (the caller checked for root and KSM);
    every knob touched is put back. Two such tests at once would each
    restore what the other set: a lock file serialises them."""
    KNOBS = ('pages_to_scan', 'sleep_millisecs', 'run')

    def __init__(self):
        self.saved = {}
        self.lock = open('/tmp/vmhint-tests-ksm.lock', 'w')
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        for k in self.KNOBS:
            with open(KSM + k) as f:
                self.saved[k] = f.read().strip()
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
        for k, v in (('pages_to_scan', '4000'), ('sleep_millisecs', '10'), ('run', '1')):
            with open(KSM + k, 'w') as f:
                f.write(v)

    def restore(self):
        # run last on the way in, first on the way out: stop before retuning.
        for k in reversed(self.KNOBS):
            with open(KSM + k, 'w') as f:
                f.write(self.saved[k])
        self.lock.close()


def test_cross():
    opts = ',dedupe-table=' + TABLE
    vms = []
    try:
        for name in ('cross-a', 'cross-b'):
            vms.append(start(name, 'memory-backend-ram,id=m0,size=256M', opts,
                             ',mem-merge=off'))
        a, b = vms
        for qt in vms:
            qt.memset(PATTERN, 32 * M, 0x77)
        for qt in vms:
            d = wait_for(qt, 'cross: candidates seen',
                         lambda d: d['candidate-pages'] >= PAGES_32M and d['ksm-ranges'] > 0)
            if d:
                check(d['published'] >= 1 and d['dup-pages'] >= PAGES_32M - 1,
                      'cross: fingerprints published, 8191 duplicates in the VM', d)
        for qt in vms:
            # Marking follows the pass that saw the content, so poll.
            check(poll(lambda: mergeable_bytes(qt.proc.pid) >= 32 * M, 30),
                  'cross: at least the 32M marked mergeable', mergeable_bytes(qt.proc.pid))
        cross_ksm(a, b)
        cross_off_on(a, b)
    finally:
        for qt in vms:
            qt.close('cross')


def cross_ksm(a, b):
    if os.geteuid() != 0 or not os.path.exists(KSM + 'run'):
        print('note: KSM merging not checked: needs root and /sys/kernel/mm/ksm')
        return
    ksm = KsmRun()
    try:
        for qt in (a, b):
            wait_for(qt, 'cross: ksmd merged the 32M', lambda d: d['merged-pages'] >= PAGES_32M,
                     timeout=90)
    finally:
        ksm.restore()
    check(a.read(PATTERN + M, 4096) == b'\x77' * 4096, 'cross: merged pages read back intact')
    a.memset(PATTERN + M, 4096, 0x01)
    check(a.read(PATTERN + M, 4096) == b'\x01' * 4096 and
          b.read(PATTERN + M, 4096) == b'\x77' * 4096,
          'cross: a write to a merged page stays in its VM')


def cross_off_on(a, b):
    r = a.qmp('vmhint-dedupe', id='vh0', enable=False)
    check('return' in r, 'off: vmhint-dedupe enable=false', r)
    i = a.vmhint()
    check(not i['dedupe']['enabled'] and 'dedupe' not in i['regions'][0],
          'off: query-vmhint says disabled, no region counters', i['dedupe'])
    # Off returns at once; the worker undoes the marks once its pass ends.
    t0 = time.time()
    while mergeable_bytes(a.proc.pid) and time.time() < t0 + 20:
        time.sleep(0.1)
    check(mergeable_bytes(a.proc.pid) == 0, 'off: the mergeable marks are undone',
          mergeable_bytes(a.proc.pid))
    p0 = low_region(b)['passes']
    wait_for(b, 'off: the other guest no longer sees candidates',
             lambda d: d['passes'] >= p0 + 2 and d['candidate-pages'] == 0)
    r = a.qmp('vmhint-dedupe', id='vh0', enable=True)
    check('return' in r, 'on: vmhint-dedupe enable=true', r)
    r = a.qmp('vmhint-dedupe', id='vh0', enable=False)
    r2 = a.qmp('vmhint-dedupe', id='vh0', enable=True)
    check('return' in r and ('return' in r2 or 'still stopping' in r2['error']['desc']),
          'on: off then at once on again works, or says dedupe is still stopping', r2)
    t0 = time.time()
    while 'error' in r2 and time.time() < t0 + 20:
        time.sleep(0.1)
        r2 = a.qmp('vmhint-dedupe', id='vh0', enable=True)
    check('return' in r2, 'on: on again once the old worker exited', r2)
    wait_for(a, 'on: scanning again', lambda d: d['passes'] >= 1)
    r = a.qmp('vmhint-dedupe', id='nope', enable=True)
    check('error' in r, 'on: vmhint-dedupe with an unknown id is an error', r)


def refused(name, vmhint_opts, needle):
    try:
        start(name, 'memory-backend-ram,id=m0,size=256M', vmhint_opts).stop()
        check(False, '%s: QEMU refused to start' % name)
    except QemuDidNotStart as e:
        check(needle in e.output, '%s: QEMU refuses to start, saying "%s"' % (name, needle),
              e.output.strip()[:300])


try:
    test_scan()
    test_zero('zero-memfd', 'memory-backend-memfd,id=m0,size=256M,share=on', True)
    test_zero('zero-anon', 'memory-backend-ram,id=m0,size=256M', False)
    test_zero_hugetlb()
    test_private()
    test_cross()
except QemuDidNotStart as e:
    check(False, str(e), e.output.strip()[-600:])
refused('badtable', ',dedupe-table=notashmname', 'cannot open dedupe-table')
refused('rate0', ',dedupe-scan-rate=0', 'dedupe-scan-rate must be above 0')

finish()
EOF
