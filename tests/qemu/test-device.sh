#!/bin/bash
# tests/qemu/test-device.sh - drive the virtio-hint-pci device of the patched
# QEMU from outside, through QEMU's qtest protocol (no guest kernel): this
# test is the driver. It brings the device up as virtio 1, fills guest RAM,
# sends requests and checks what happened to the host memory behind it:
#
#   config    the config space is the library's (version 1, max_ranges)
#   unused    an UNUSED hint on 8M: status ok, the pages read back as zeroes,
#             the process RSS (anon or shmem) fell by about 8M, the pages
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
import json, os, socket, struct, subprocess, sys, time

from qmptest import check, failures, qmp_connect, stop_qemu

QEMU = os.environ['QEMU']
VIRTIO_ID = int(os.environ['VIRTIO_ID'])
TMP = os.environ['TMP']
M = 1 << 20

# virtio 1 (modern PCI) constants, from the virtio specification
S_ACK, S_DRIVER, S_DRIVER_OK, S_FEATURES_OK, S_NEEDS_RESET = 1, 2, 4, 8, 0x40
CAP_COMMON, CAP_NOTIFY, CAP_DEVICE = 1, 2, 4
F_VERSION_1 = 32
D_NEXT, D_WRITE = 1, 2
QSIZE = 8

# Guest-physical layout (guest RAM is 512M)
DESC, AVAIL, USED = 0x10000, 0x11000, 0x12000
REQ, RESP, BIG = 0x20000, 0x21000, 0x40000
TARGET, TARGET_LEN = 16 * M, 8 * M
BAR = 0xe0000000


class Qtest:
    """QEMU under the qtest accelerator, plus its QMP socket."""

    def __init__(self, name, memdev):
        qtest_path = os.path.join(TMP, name + '.qtest')
        qmp_path = os.path.join(TMP, name + '.qmp')
        self.log_path = os.path.join(TMP, name + '.log')
        lsock = socket.socket(socket.AF_UNIX)
        lsock.bind(qtest_path)
        lsock.listen(1)
        lsock.settimeout(30)
        cmd = [QEMU, '-L', '/usr/share/seabios', '-L', '/usr/share/qemu',
               '-nodefaults', '-nographic', '-machine', 'pc,memory-backend=m0',
               '-accel', 'qtest', '-qtest', 'unix:' + qtest_path, '-m', '512M',
               '-object', memdev,
               '-object', 'vmhint,id=vh0,memdev=m0',
               '-device', 'virtio-hint-pci,vmhint=vh0,addr=04.0',
               '-qmp', 'unix:%s,server=on,wait=off' % qmp_path]
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.q, _ = lsock.accept()
        lsock.close()
        self.q.settimeout(30)
        self.qf = self.q.makefile('rw')
        self.m = qmp_connect(qmp_path, self.proc)
        if self.m is None:
            raise RuntimeError('QEMU did not answer on QMP: see ' + self.log_path)

    def qt(self, line):
        self.qf.write(line + '\n')
        self.qf.flush()
        while True:
            r = self.qf.readline().strip()
            if r.startswith('OK') or r.startswith('FAIL') or r.startswith('ERR'):
                break
        if not r.startswith('OK'):
            raise RuntimeError('qtest %r: %r' % (line, r))
        parts = r.split()
        return int(parts[1], 16) if len(parts) > 1 else None

    def qmp(self, name, **args):
        return self.m.cmd(name, **args)

    # memory and I/O
    def rd(self, size, addr):
        return self.qt('read%s 0x%x' % (size, addr))

    def wr(self, size, addr, val):
        self.qt('write%s 0x%x 0x%x' % (size, addr, val))

    def read(self, addr, n):
        self.qf.write('read 0x%x 0x%x\n' % (addr, n))
        self.qf.flush()
        r = self.qf.readline().split()
        return bytes.fromhex(r[1][2:])

    def write(self, addr, data):
        self.qt('write 0x%x 0x%x 0x%s' % (addr, len(data), data.hex()))

    def memset(self, addr, n, val):
        self.qt('memset 0x%x 0x%x 0x%x' % (addr, n, val))

    # PCI configuration space through ports 0xcf8/0xcfc
    def cfg_addr(self, dev, off):
        self.qt('outl 0xcf8 0x%x' % (0x80000000 | dev << 11 | (off & ~3)))

    def cfg_rd(self, dev, off, size=4):
        self.cfg_addr(dev, off)
        v = self.qt('inl 0xcfc')
        return (v >> (8 * (off & 3))) & ((1 << (8 * size)) - 1)

    def cfg_wr32(self, dev, off, val):
        self.cfg_addr(dev, off)
        self.qt('outl 0xcfc 0x%x' % val)

    def rss(self):
        """(anon, shmem) resident bytes of the QEMU process."""
        vals = {}
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(':')
                if k in ('RssAnon', 'RssShmem'):
                    vals[k] = int(v.split()[0]) * 1024
        return vals.get('RssAnon', 0), vals.get('RssShmem', 0)

    def stop(self):
        stop_qemu(self.proc, self.m, self.log)
        with open(self.log_path) as f:
            return f.read()


class Device:
    """A minimal virtio 1 PCI driver for one virtqueue."""

    def __init__(self, qt, dev):
        self.qt = qt
        qt.cfg_wr32(dev, 0x20, BAR)            # BAR4, 64-bit memory
        qt.cfg_wr32(dev, 0x24, 0)
        cmd = qt.cfg_rd(dev, 0x04, 2)
        qt.cfg_wr32(dev, 0x04, cmd | 0x6)      # memory space, bus master
        self.caps = {}
        cap = qt.cfg_rd(dev, 0x34, 1)
        while cap:
            if qt.cfg_rd(dev, cap, 1) == 0x09:  # vendor-specific: virtio
                typ = qt.cfg_rd(dev, cap + 3, 1)
                bar = qt.cfg_rd(dev, cap + 4, 1)
                off = qt.cfg_rd(dev, cap + 8)
                if bar == 4 and typ not in self.caps:
                    self.caps[typ] = BAR + off
                    if typ == CAP_NOTIFY:
                        self.notify_mult = qt.cfg_rd(dev, cap + 16)
            cap = qt.cfg_rd(dev, cap + 1, 1)
        self.common = self.caps[CAP_COMMON]
        self.avail_idx = 0
        self.used_idx = 0

    def status(self):
        return self.qt.rd('b', self.common + 0x14)

    def set_status(self, s):
        self.qt.wr('b', self.common + 0x14, s)

    def init(self, driver_features=0):
        qt, c = self.qt, self.common
        self.set_status(0)
        self.set_status(S_ACK | S_DRIVER)
        qt.wr('l', c + 0x00, 0)
        self.device_features = qt.rd('l', c + 0x04)
        qt.wr('l', c + 0x00, 1)
        self.device_features |= qt.rd('l', c + 0x04) << 32
        feats = driver_features | 1 << F_VERSION_1
        qt.wr('l', c + 0x08, 0)
        qt.wr('l', c + 0x0c, feats & 0xffffffff)
        qt.wr('l', c + 0x08, 1)
        qt.wr('l', c + 0x0c, feats >> 32)
        self.set_status(S_ACK | S_DRIVER | S_FEATURES_OK)
        if not self.status() & S_FEATURES_OK:
            raise RuntimeError('FEATURES_OK not accepted')
        qt.wr('w', c + 0x16, 0)                # queue_select
        qt.wr('w', c + 0x18, QSIZE)            # queue_size
        qt.wr('q', c + 0x20, DESC)
        qt.wr('q', c + 0x28, AVAIL)
        qt.wr('q', c + 0x30, USED)
        self.notify_off = qt.rd('w', c + 0x1e)
        qt.wr('w', c + 0x1c, 1)                # queue_enable
        qt.memset(DESC, 0x3000, 0)
        self.set_status(S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK)

    def config(self):
        return struct.unpack('<IIII', self.qt.read(self.caps[CAP_DEVICE], 16))

    def submit(self, bufs):
        """bufs: [(gpa, len, writable)]; returns (used len) or None."""
        qt = self.qt
        for i, (addr, n, w) in enumerate(bufs):
            flags = (D_NEXT if i + 1 < len(bufs) else 0) | (D_WRITE if w else 0)
            qt.write(DESC + 16 * i, struct.pack('<QIHH', addr, n, flags, i + 1))
        qt.wr('w', AVAIL + 4 + 2 * (self.avail_idx % QSIZE), 0)
        self.avail_idx = (self.avail_idx + 1) & 0xffff
        qt.wr('w', AVAIL + 2, self.avail_idx)
        qt.wr('w', self.caps[CAP_NOTIFY] + self.notify_off * self.notify_mult, 0)
        deadline = time.time() + 20
        while time.time() < deadline:
            if qt.rd('w', USED + 2) != self.used_idx:
                slot = USED + 4 + 8 * (self.used_idx % QSIZE)
                self.used_idx = (self.used_idx + 1) & 0xffff
                return qt.rd('l', slot + 4)
            if self.status() & S_NEEDS_RESET:
                return None
            time.sleep(0.01)
        return None

    def request(self, op, ranges, flags=0, nr=None):
        body = struct.pack('<HHI', op, flags, len(ranges) if nr is None else nr)
        body += b''.join(struct.pack('<QQ', g, n) for g, n in ranges)
        self.qt.write(REQ, body)
        self.qt.memset(RESP, 8, 0xff)
        used = self.submit([(REQ, len(body), False), (RESP, 8, True)])
        status, done = struct.unpack('<II', self.qt.read(RESP, 8))
        return used, status, done


def counters(qt):
    return qt.qmp('query-vmhint', id='vh0')['return'][0]['counters']


def find_device(qt):
    for dev in range(32):
        if qt.cfg_rd(dev, 0) == 0x1af4 | (0x1040 + VIRTIO_ID) << 16:
            return dev
    return None


def run(name, memdev, shared):
    qt = Qtest(name, memdev)
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
        rss_before = qt.rss()[1 if shared else 0]
        used, status, done = d.request(1, [(TARGET, TARGET_LEN)])
        check(used == 8 and status == 0 and done == 1,
              '%s: UNUSED 8M at 16M: used 8, status ok, 1 range done' % name,
              (used, status, done))
        rss_after = qt.rss()[1 if shared else 0]
        check(rss_before - rss_after >= TARGET_LEN - M,
              '%s: %s RSS fell by about 8M' % (name, 'shmem' if shared else 'anon'),
              (rss_before, rss_after))
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
        out = qt.stop()
        if failures:
            print('--- QEMU output (%s) ---\n%s' % (name, out.strip()))


run('anon', 'memory-backend-ram,id=m0,size=512M', False)
run('shmem', 'memory-backend-memfd,id=m0,size=512M,share=on', True)

if failures:
    print('%d check(s) failed' % len(failures))
    sys.exit(1)
print('all checks passed')
EOF
rc=$?
[ "$rc" = 0 ] && exit 0
exit 1
