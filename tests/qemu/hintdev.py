# SPDX-License-Identifier: GPL-2.0-or-later
"""A minimal virtio 1 PCI driver for the virtio-hint device, run from the
test over QEMU's qtest protocol (no guest kernel): the tests of
tests/qemu/test-*.sh that send requests themselves import it.

Guest-physical layout it uses (the guest needs 512M of RAM): rings at
DESC/AVAIL/USED, requests at REQ, responses at RESP, a large buffer at
BIG; TARGET is 8M of RAM the tests hint about.
"""
import os
import struct
import time

M = 1 << 20
RAM_SIZE = 512 * M                         # guest RAM of qemu_args()

# virtio 1 (modern PCI) constants, from the virtio specification
S_ACK, S_DRIVER, S_DRIVER_OK, S_FEATURES_OK, S_NEEDS_RESET = 1, 2, 4, 8, 0x40
CAP_COMMON, CAP_NOTIFY, CAP_DEVICE = 1, 2, 4
F_VERSION_1 = 32
D_NEXT, D_WRITE = 1, 2
QSIZE = 8

# virtio-hint (include/vmhint/wire.h)
OP_UNUSED, OP_STABLE = 1, 2
F_LAZY, F_STABLE_HINTS = 0, 1
VIRTIO_ID = int(os.environ['VIRTIO_ID'])

DESC, AVAIL, USED = 0x10000, 0x11000, 0x12000
REQ, RESP, BIG = 0x20000, 0x21000, 0x40000
TARGET, TARGET_LEN = 16 * M, 8 * M
BAR = 0xe0000000
SLOT = 4                                   # PCI slot of the device


# (name, memdev, shared) of the guest RAM backings the tests run on.
BACKINGS = (('anon', 'memory-backend-ram,id=m0,size=512M', False),
            ('shmem', 'memory-backend-memfd,id=m0,size=512M,share=on', True))


def qemu_args(memdev, vmhint_opts=''):
    """A PC guest of 512M on @memdev (id m0) with vmhint and the device."""
    return ['-machine', 'pc,memory-backend=m0', '-m', '512M',
            '-object', memdev,
            '-object', 'vmhint,id=vh0,memdev=m0' + vmhint_opts,
            '-device', 'virtio-hint-pci,vmhint=vh0,addr=%02x.0' % SLOT]


def cfg_addr(qt, dev, off):
    """PCI configuration space through ports 0xcf8/0xcfc."""
    qt.qt('outl 0xcf8 0x%x' % (0x80000000 | dev << 11 | (off & ~3)))


def cfg_rd(qt, dev, off, size=4):
    cfg_addr(qt, dev, off)
    v = qt.qt('inl 0xcfc')
    return (v >> (8 * (off & 3))) & ((1 << (8 * size)) - 1)


def cfg_wr32(qt, dev, off, val):
    cfg_addr(qt, dev, off)
    qt.qt('outl 0xcfc 0x%x' % val)


class Device:
    """A minimal virtio 1 PCI driver for one virtqueue."""

    def __init__(self, qt, dev):
        self.qt = qt
        cfg_wr32(qt, dev, 0x20, BAR)            # BAR4, 64-bit memory
        cfg_wr32(qt, dev, 0x24, 0)
        cmd = cfg_rd(qt, dev, 0x04, 2)
        cfg_wr32(qt, dev, 0x04, cmd | 0x6)      # memory space, bus master
        self.caps = {}
        cap = cfg_rd(qt, dev, 0x34, 1)
        while cap:
            if cfg_rd(qt, dev, cap, 1) == 0x09:  # vendor-specific: virtio
                typ = cfg_rd(qt, dev, cap + 3, 1)
                bar = cfg_rd(qt, dev, cap + 4, 1)
                off = cfg_rd(qt, dev, cap + 8)
                if bar == 4 and typ not in self.caps:
                    self.caps[typ] = BAR + off
                    if typ == CAP_NOTIFY:
                        self.notify_mult = cfg_rd(qt, dev, cap + 16)
            cap = cfg_rd(qt, dev, cap + 1, 1)
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

    def resume(self, other):
        """Carry on where driver @other was (this device was migrated
        from its device): same ring positions, no reset."""
        self.qt.wr('w', self.common + 0x16, 0)     # queue_select
        self.notify_off = self.qt.rd('w', self.common + 0x1e)
        self.avail_idx, self.used_idx = other.avail_idx, other.used_idx

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
    return qt.vmhint()['counters']


def find_device(qt):
    for dev in range(32):
        if cfg_rd(qt, dev, 0) == 0x1af4 | (0x1040 + VIRTIO_ID) << 16:
            return dev
    return None
