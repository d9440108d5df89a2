# SPDX-License-Identifier: GPL-2.0-or-later
"""What the patched-QEMU tests share: one result line per check, the QMP
client (the only one of the tests), stopping QEMU, and QEMU under the
qtest accelerator (the test reads and writes guest memory itself).

Imported by the Python parts of tests/qemu/test-*.sh (through PYTHONPATH,
set by tests/qemu/lib.sh). Run as a command, for the shell VM tests
(tests/vm/e2e.sh):

  python3 tests/qemu/qmptest.py SOCKET [ID]

runs query-vmhint for object ID (vh0) on QEMU's QMP socket and prints its
first entry flattened, one "key value" a line, so bash can compare
counters:
  mode sync
  counters.requests-unused 12
  counters.rejected.outside 2        (statuses seen so far)
  counters.bytes-dropped.madv_dontneed 1073741824
  regions.0.backing anon
Exit 0; 1 when QEMU does not answer (connection, timeout, QMP error).
"""
import ctypes
import json
import os
import socket
import struct
import subprocess
import sys
import time

failures = []


def check(cond, what, detail=None):
    """Print one result; the detail only when it failed."""
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        if detail is not None:
            print('     got: %s' % (detail,))
        failures.append(what)
    return cond


def finish():
    """End the test: the closing line, exit status 1 if a check failed."""
    if failures:
        print('%d check(s) failed' % len(failures))
        sys.exit(1)
    print('all checks passed')


class Qmp:
    """A QMP connection, capabilities negotiated."""

    def __init__(self, sock):
        sock.settimeout(30)
        self.sock = sock
        self.events = []                            # kept for event()
        self.f = sock.makefile('rw')
        json.loads(self.f.readline())               # greeting
        self.cmd('qmp_capabilities')

    def cmd(self, name, **args):
        """Run one command; return its 'return' or 'error' reply."""
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.f.write(json.dumps(msg) + '\n')
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if 'return' in r or 'error' in r:
                return r
            if 'event' in r:
                self.events.append(r)

    def event(self, name, timeout=30):
        """The first event @name QEMU sent, taken off the queue, waiting
        up to @timeout seconds for it; None if none came. Waits by
        polling with a cheap command: cmd() keeps the events it reads."""
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e['event'] == name:
                    return self.events.pop(i)
            if time.time() > deadline:
                return None
            time.sleep(0.02)
            self.cmd('query-version')


def qmp_open(path, timeout=10):
    """A QMP connection to the socket at @path, which must listen already."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    return Qmp(s)


def flatten(v, prefix='', out=None):
    """(key, value) pairs of a QMP answer, keys joined with dots. The
    lists of {status|method, count|bytes} (rejected, bytes-dropped) are
    keyed by the status or method."""
    out = [] if out is None else out
    if isinstance(v, dict):
        for k, x in v.items():
            flatten(x, '%s%s.' % (prefix, k), out)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            if isinstance(x, dict) and ('status' in x or 'method' in x):
                key = x.get('status', x.get('method'))
                out.append((prefix + str(key), x.get('count', x.get('bytes'))))
            else:
                flatten(x, '%s%d.' % (prefix, i), out)
    else:
        if isinstance(v, bool):
            v = 'true' if v else 'false'
        out.append((prefix[:-1], v))
    return out


def qmp_connect(path, proc, timeout=30):
    """Connect to QEMU's QMP socket at @path once it listens. None if QEMU
    (@proc) exits first or does not listen within @timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
        except OSError:
            s.close()
            time.sleep(0.1)
            continue
        try:
            return Qmp(s)
        except (OSError, ValueError):               # QEMU exited meanwhile
            return None
    return None


def stop_qemu(proc, qmp, log):
    """Ask QEMU to quit (if QMP is up), wait, kill if it hangs."""
    if qmp is not None:
        try:
            qmp.cmd('quit')
        except (OSError, ValueError):
            pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


class QemuDidNotStart(RuntimeError):
    """QEMU exited or hung at startup; @output is what it printed."""

    def __init__(self, what, output):
        super().__init__(what)
        self.output = output


class Qtest:
    """QEMU under the qtest accelerator with @args, plus its QMP socket.
    Files go to @tmp, named after @name. Raises QemuDidNotStart."""

    def __init__(self, qemu, tmp, name, args):
        qtest_path = os.path.join(tmp, name + '.qtest')
        qmp_path = os.path.join(tmp, name + '.qmp')
        self.log_path = os.path.join(tmp, name + '.log')
        lsock = socket.socket(socket.AF_UNIX)
        lsock.bind(qtest_path)
        lsock.listen(1)
        cmd = [qemu, '-L', '/usr/share/seabios', '-L', '/usr/share/qemu',
               '-nodefaults', '-nographic', '-accel', 'qtest',
               '-qtest', 'unix:' + qtest_path, '-qtest-log', '/dev/null',
               '-qmp', 'unix:%s,server=on,wait=off' % qmp_path] + args
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.m = None
        self.q = self._accept(lsock)
        lsock.close()
        if self.q is None:
            raise QemuDidNotStart('QEMU did not connect to qtest', self.stop())
        self.q.settimeout(60)
        self.qf = self.q.makefile('rw')
        self.m = qmp_connect(qmp_path, self.proc)
        if self.m is None:
            raise QemuDidNotStart('QEMU did not answer on QMP', self.stop())

    def _accept(self, lsock, timeout=30):
        """QEMU's qtest connection; None if QEMU exits or never connects."""
        lsock.settimeout(0.2)
        deadline = time.time() + timeout
        while time.time() < deadline and self.proc.poll() is None:
            try:
                return lsock.accept()[0]
            except socket.timeout:
                continue
        return None

    def qt(self, line):
        """One qtest command; its value, if it returns one."""
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

    def vmhint(self, vid='vh0'):
        """query-vmhint's answer for object @vid."""
        return self.qmp('query-vmhint', id=vid)['return'][0]

    # guest memory and I/O
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

    def ram_mapping(self, size):
        """Start address and smaps fields (bytes) of QEMU's mapping of guest
        RAM: the mapping of exactly @size bytes."""
        found, fields = None, {}
        with open('/proc/%d/smaps' % self.proc.pid) as f:
            for line in f:
                words = line.split()
                if not words[0].endswith(':'):      # a mapping's first line
                    if found is not None:
                        break
                    start, end = (int(x, 16) for x in words[0].split('-'))
                    if end - start == size:
                        found = start
                elif found is not None and len(words) == 3 and words[2] == 'kB':
                    fields[words[0][:-1]] = int(words[1]) * 1024
        if found is None:
            raise RuntimeError('no %d-byte guest RAM mapping in QEMU' % size)
        return found, fields

    def resident(self, size, gpa, length, want=None):
        """Bytes of guest-physical [gpa, gpa + length) that are mapped in
        QEMU (pagemap's present bit), for guest RAM of @size bytes at gpa 0.
        Exact for a range, unlike RSS (QEMU's heap moves, khugepaged fills
        huge pages elsewhere). khugepaged also unmaps a range for a moment
        while it collapses it: with @want, read again for up to 2 s until
        the answer is @want."""
        start, _ = self.ram_mapping(size)
        deadline = time.time() + 2
        while True:
            with open('/proc/%d/pagemap' % self.proc.pid, 'rb') as f:
                f.seek((start + gpa) // 4096 * 8)
                data = f.read(length // 4096 * 8)
            n = 4096 * sum(e >> 63 & 1 for (e,) in struct.iter_unpack('<Q', data))
            if want is None or n == want or time.time() > deadline:
                return n
            time.sleep(0.05)

    def drain_lru(self, size):
        """Have the kernel drain every CPU's LRU batches. Pages QEMU faulted
        in a moment ago sit there, holding a reference that keeps MADV_FREE
        from splitting or freeing a huge page; with time they leave anyway.
        move_pages(2) drains them first (asked here to move one page of
        guest RAM to node 0, where it is already)."""
        start, _ = self.ram_mapping(size)
        libc = ctypes.CDLL(None, use_errno=True)
        page = (ctypes.c_void_p * 1)(start)
        node, status = (ctypes.c_int * 1)(0), (ctypes.c_int * 1)(0)
        libc.syscall(279, self.proc.pid, 1, page, node, status, 0)  # SYS_move_pages

    def clean(self, size):
        """Resident bytes of guest RAM that are clean (smaps Private_Clean).
        Pages the guest wrote are dirty; MADV_FREE cleans them at once, and
        then the host may take them back without writing them anywhere.
        (smaps' LazyFree is no measure: it counts them only once the kernel
        drained its per-CPU LRU batches, which can take any time.)"""
        return self.ram_mapping(size)[1].get('Private_Clean', 0)

    def stop(self):
        """Stop QEMU; returns its output."""
        stop_qemu(self.proc, self.m, self.log)
        with open(self.log_path) as f:
            return f.read()

    def close(self, name):
        """Stop QEMU; show its output if a check has failed."""
        out = self.stop()
        if failures:
            print('--- QEMU output (%s) ---\n%s' % (name, out.strip()))


def main(argv):
    """The command: query-vmhint flattened (see the module's text)."""
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    oid = argv[2] if len(argv) > 2 else 'vh0'
    try:
        r = qmp_open(argv[1]).cmd('query-vmhint', id=oid)
    except (OSError, ValueError) as e:
        print('qmptest: %s' % e, file=sys.stderr)
        return 1
    if 'error' in r or not r['return']:
        print('qmptest: no vmhint object %s: %s' % (oid, r.get('error')), file=sys.stderr)
        return 1
    for k, v in flatten(r['return'][0]):
        print(k, v)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
