#!/bin/bash
# tests/qemu/test-qmp.sh - the patched QEMU starts (paused) with a vmhint
# object and a virtio-hint-pci device, and QMP shows what libvmhint saw:
#
#   ram      memory-backend-ram 512M: one region, gpa 0, 512M, backing anon;
#            the device is on the PCI bus with the virtio-hint device ID;
#            vmhint-set-mode and vmhint-flush work, a bad id is an error
#   memfd    memory-backend-memfd,share=on: backing shmem
#   split    4G on a PC machine: two regions, below 4G and above 4G
#   numa     two memdevs on two guest nodes: one region each
#   numa     (if built with libvmhint NUMA support) residency per host node,
#            vmhint-numa-move
#   dedupe   (if built with libvmhint dedupe support) query-vmhint reports
#            dedupe off by default; test-dedupe.sh tests it switched on
#   refuse   a missing memdev, bad numa-policy/host-nodes and a memdev
#            named by two objects are refused at startup
#
# QEMU: $VMHINT_QEMU, else the path scripts/build-qemu prints (it builds on
# first use). libvmhint: $VMHINT_LIBDIR, else this tree's src/lib/.libs if
# built, else the copy the QEMU build linked against.
#
# Exit 0 pass, 1 fail, 77 skip (with the reason).
set -u

. "$(dirname "$0")/lib.sh"

QEMU=$qemu VIRTIO_ID=$virtio_id TMP=$tmp python3 - <<'EOF'
import json, os, socket, subprocess, sys, time

from qmptest import finish, check, failures, qmp_connect, stop_qemu

QEMU = os.environ['QEMU']
VIRTIO_ID = int(os.environ['VIRTIO_ID'])
TMP = os.environ['TMP']
M = 1 << 20
G = 1 << 30


class Vm:
    """A paused QEMU with a QMP socket; stderr is kept for the report."""

    def __init__(self, name, args):
        self.sock_path = os.path.join(TMP, name + '.qmp')
        self.log_path = os.path.join(TMP, name + '.log')
        cmd = [QEMU, '-L', '/usr/share/seabios', '-L', '/usr/share/qemu',
               '-nodefaults', '-nographic', '-accel', 'tcg', '-cpu', 'max',
               '-S', '-qmp', 'unix:%s,server=on,wait=off' % self.sock_path] + args
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.qmp = qmp_connect(self.sock_path, self.proc)

    def cmd(self, name, **args):
        return self.qmp.cmd(name, **args)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        stop_qemu(self.proc, self.qmp, self.log)


def start(name, args):
    vm = Vm(name, args)
    if vm.qmp is None:
        vm.stop()
        check(False, '%s: QEMU started; its output:\n%s' % (name, vm.output()))
        return None
    return vm


def vmhint(vm, vid='vh0'):
    r = vm.cmd('query-vmhint', id=vid)
    if not check('return' in r and len(r['return']) == 1,
                 'query-vmhint id=%s answers one object' % vid, r):
        return None
    return r['return'][0]


def regions(info):
    return [(r['memdev'], r['gpa'], r['size'], r['backing']) for r in info['regions']]


def device_args(memdevs):
    return ['-object', 'vmhint,id=vh0,memdev=' + ':'.join(memdevs),
            '-device', 'virtio-hint-pci,vmhint=vh0,id=hint0']


def test_ram():
    vm = start('ram', ['-m', '512M',
                       '-object', 'memory-backend-ram,id=m0,size=512M',
                       '-machine', 'memory-backend=m0'] + device_args(['m0']))
    if not vm:
        return
    try:
        info = vmhint(vm)
        if info:
            check(regions(info) == [('m0', 0, 512 * M, 'anon')],
                  'ram: one region m0 at gpa 0, 512M, anon', regions(info))
            c = info['counters']
            check(c['nr-regions'] == 1 and c['guest-ram-bytes'] == 512 * M,
                  'ram: counters nr-regions 1, guest-ram-bytes 512M')
            check(info['mode'] == 'sync' and not info['discard-inhibited'],
                  'ram: mode sync, discards allowed')
            check(c['requests-unused'] == 0 and c['rejected-total'] == 0,
                  'ram: no requests before the guest runs')
            check(len(c['latency-us-hist']) == 20, 'ram: latency histogram has 20 buckets')
        # The device sits on the bus with the modern virtio PCI device ID.
        r = vm.cmd('query-pci')
        devs = [d for bus in r.get('return', []) for d in bus['devices']]
        check(any(d['id']['vendor'] == 0x1af4 and d['id']['device'] == 0x1040 + VIRTIO_ID
                  for d in devs),
              'ram: PCI device 1af4:%04x present' % (0x1040 + VIRTIO_ID),
              [(hex(d['id']['vendor']), hex(d['id']['device'])) for d in devs])
        r = vm.cmd('vmhint-set-mode', id='vh0', mode='lazy')
        check('return' in r, 'ram: vmhint-set-mode lazy', r)
        info = vmhint(vm)
        check(info is not None and info['mode'] == 'lazy', 'ram: mode is lazy now')
        r = vm.cmd('qom-get', path='/objects/vh0', property='mode')
        check(r.get('return') == 'lazy', 'ram: qom-get mode says lazy', r)
        r = vm.cmd('vmhint-flush', id='vh0')
        check('return' in r and r['return']['bytes-dropped'] == 0,
              'ram: vmhint-flush drops nothing on a fresh guest', r)
        r = vm.cmd('vmhint-set-mode', id='vh0', mode='sync')
        check('return' in r, 'ram: back to sync')
        r = vm.cmd('query-vmhint', id='nope')
        check('error' in r, 'ram: query-vmhint with an unknown id is an error')
        r = vm.cmd('vmhint-flush', id='m0')
        check('error' in r, 'ram: vmhint-flush on a memdev is an error')
        r = vm.cmd('query-vmhint')
        check('return' in r and [i['id'] for i in r['return']] == ['vh0'],
              'ram: query-vmhint without id lists vh0')
        r = vm.cmd('object-del', id='vh0')
        check('error' in r, 'ram: object-del refuses an object in use by the device')
        cmds = [c['name'] for c in vm.cmd('query-commands').get('return', [])]
        if 'vmhint-numa-move' in cmds:
            numa_checks(vm)
        else:
            print('note: QEMU built without libvmhint NUMA support: NUMA checks skipped')
        if 'vmhint-dedupe' in cmds:
            info = vmhint(vm)
            check(info is not None and info.get('dedupe') == {'enabled': False} and
                  all('dedupe' not in r for r in info['regions']),
                  'dedupe: off by default, no region counters',
                  info and info.get('dedupe'))
        else:
            print('note: QEMU built without libvmhint dedupe support: dedupe checks skipped')
    finally:
        vm.stop()


def numa_checks(vm):
    """The host has node 0 at least; guest RAM is only partly resident."""
    r = vm.cmd('query-vmhint', id='vh0', **{'host-nodes': True})
    nodes = r.get('return', [{}])[0].get('host-nodes')
    check(nodes is not None and all(n['bytes'] <= 512 * M for n in nodes),
          'numa: query-vmhint host-nodes=true reports residency per node', r)
    r = vm.cmd('vmhint-numa-move', id='vh0', **{'host-node': 0})
    check('return' in r and r['return']['pages-total'] == 512 * M // 4096,
          'numa: vmhint-numa-move to node 0 looks at all 131072 pages', r)
    r = vm.cmd('vmhint-numa-move', id='vh0', **{'host-node': 63})
    check('error' in r, 'numa: vmhint-numa-move to a node without memory is an error', r)


def test_memfd():
    vm = start('memfd', ['-m', '512M',
                         '-object', 'memory-backend-memfd,id=m0,size=512M,share=on',
                         '-machine', 'memory-backend=m0'] + device_args(['m0']))
    if not vm:
        return
    try:
        info = vmhint(vm)
        if info:
            check(regions(info) == [('m0', 0, 512 * M, 'shmem')],
                  'memfd: one region m0 at gpa 0, 512M, shmem', regions(info))
    finally:
        vm.stop()


def test_split():
    # PC machines map RAM beyond 3G (i440fx) above 4G: two linear mappings.
    vm = start('split', ['-m', '4G',
                         '-object', 'memory-backend-ram,id=m0,size=4G',
                         '-machine', 'pc,memory-backend=m0'] + device_args(['m0']))
    if not vm:
        return
    try:
        info = vmhint(vm)
        if info:
            rs = regions(info)
            ok = (len(rs) == 2 and rs[0][1] == 0 and rs[1][1] == 4 * G and
                  rs[0][2] + rs[1][2] == 4 * G and all(r[3] == 'anon' for r in rs))
            check(ok, 'split: a region below 4G at 0 and one at 4G, 4G in all', rs)
    finally:
        vm.stop()


def test_numa():
    vm = start('numa', ['-m', '512M',
                        '-object', 'memory-backend-ram,id=m0,size=256M',
                        '-object', 'memory-backend-memfd,id=m1,size=256M,share=on',
                        '-numa', 'node,nodeid=0,memdev=m0',
                        '-numa', 'node,nodeid=1,memdev=m1'] + device_args(['m0', 'm1']))
    if not vm:
        return
    try:
        info = vmhint(vm)
        if info:
            check(regions(info) == [('m0', 0, 256 * M, 'anon'),
                                    ('m1', 256 * M, 256 * M, 'shmem')],
                  'numa: m0 anon at 0, m1 shmem at 256M', regions(info))
    finally:
        vm.stop()


def refused(name, args, needle):
    vm = Vm(name, ['-m', '256M', '-object', 'memory-backend-ram,id=m0,size=256M',
                   '-machine', 'memory-backend=m0'] + args)
    vm.stop()
    out = vm.output()
    check(vm.proc.returncode not in (0, None) and needle in out,
          '%s: QEMU refuses to start, saying "%s"' % (name, needle), out.strip()[:300])


def test_refuse():
    refused('preferred2', ['-object', 'vmhint,id=vh0,memdev=m0,numa-policy=preferred,'
                           'host-nodes=0-1'], 'host-nodes')
    refused('nodespolicy', ['-object', 'vmhint,id=vh0,memdev=m0,host-nodes=0'],
            'host-nodes')
    refused('badnodes', ['-object', 'vmhint,id=vh0,memdev=m0,numa-policy=bind,'
                         'host-nodes=0-x'], 'host-nodes')
    refused('twice', ['-object', 'vmhint,id=vh0,memdev=m0',
                      '-object', 'vmhint,id=vh1,memdev=m0'], 'already used')
    refused('nomemdev', ['-object', 'vmhint,id=vh0,memdev=m9'], "'m9'")
    refused('nodevobj', ['-device', 'virtio-hint-pci'], 'vmhint')


for t in (test_ram, test_memfd, test_split, test_numa, test_refuse):
    t()

finish()
EOF
