# SPDX-License-Identifier: GPL-2.0-or-later
"""What the patched-QEMU tests share: one result line per check, a QMP
client that waits for QEMU's socket, and stopping QEMU.

Imported by the Python parts of tests/qemu/test-*.sh (through PYTHONPATH,
set by tests/qemu/lib.sh).
"""
import json
import socket
import subprocess
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


class Qmp:
    """A QMP connection, capabilities negotiated."""

    def __init__(self, sock):
        sock.settimeout(30)
        self.sock = sock
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
            if 'return' in r or 'error' in r:       # skip events
                return r


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
