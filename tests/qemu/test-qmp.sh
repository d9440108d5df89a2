#!/bin/bash
# tests/qemu/test-qmp.sh - the patched QEMU starts (paused) with a vmhint
# object and a virtio-hint-pci device, and QMP shows what libvmhint saw:
#
#   ram      memory-backend-ram 512M: one region, gpa 0, 512M, backing anon;
#            the device is on the PCI bus with the virtio-hint device ID;
#            vmhint-set-mode and vmhint-flush work, a bad id is an error
#   memfd    memory-backend-memfd,share=on: backing shmem
#   split    4G on a PC machine: two regions, below 4G and above 4G
#   numa     two memdevs on two guest nodes (memdev=m0,memdev=m1, and the
#            JSON -object form with a list): one region each; numa-policy
#            (HostMemPolicy) and host-nodes (a list) read back with qom-get
#   numa     residency per host node only on request (host-nodes=true),
#            within its time budget; vmhint-numa-move returns at once and
#            VMHINT_NUMA_MOVE_DONE carries the pages per outcome
#   move     a move over 1G in the background: query-vmhint answers (round
#            trip measured) and shows progress while it runs, a second
#            move is refused, a cancelled move says so in its event
#   dedupe   query-vmhint reports dedupe off by default; test-dedupe.sh
#            tests it switched on
#   refuse   a missing memdev, a ':'-list, bad numa-policy/host-nodes and
#            a memdev named by two objects are refused at startup
#   abi      the binary imports no VMHINT_HOST_* symbol (host-wide KSM API)
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


def device_args(memdevs, opts=''):
    """memdev is a list: one memdev=ID per backend on the command line."""
    return ['-object', 'vmhint,id=vh0,' + ','.join('memdev=' + m for m in memdevs) + opts,
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
        numa_checks(vm)
        info = vmhint(vm)
        check(info is not None and info.get('dedupe') == {'enabled': False} and
              all('dedupe' not in r for r in info['regions']),
              'dedupe: off by default, no region counters',
              info and info.get('dedupe'))
    finally:
        vm.stop()


def numa_checks(vm):
    """The host has node 0 at least; guest RAM is only partly resident."""
    info = vmhint(vm)
    check(info is not None and 'host-nodes' not in info and 'numa-move' not in info,
          'numa: query-vmhint scans no residency unless asked, no move yet', info)
    r = vm.cmd('query-vmhint', id='vh0', **{'host-nodes': True})
    info = r.get('return', [{}])[0]
    nodes = info.get('host-nodes')
    check(nodes is not None and all(n['bytes'] <= 512 * M for n in nodes),
          'numa: query-vmhint host-nodes=true reports residency per node', r)
    check(0 < info.get('host-nodes-scanned', 0) <= 512 * M and
          info['host-nodes-scanned'] % (64 * M) == 0,
          'numa: the residency scan covered whole 64M steps of the 512M', r)
    r = vm.cmd('query-vmhint', id='vh0', **{'host-nodes': True, 'host-nodes-budget-ms': 1000})
    info = r.get('return', [{}])[0]
    check(info.get('host-nodes-scanned') == 512 * M,
          'numa: with a 1 s budget the residency scan covers all 512M', r)
    r = vm.cmd('query-vmhint', id='vh0', **{'host-nodes': True, 'host-nodes-budget-ms': 0})
    check('error' in r and 'host-nodes-budget-ms' in r['error']['desc'],
          'numa: a residency budget of 0 ms is refused', r)
    r = vm.cmd('query-vmhint', id='vh0', **{'host-nodes-budget-ms': 10})
    check('error' in r, 'numa: host-nodes-budget-ms without host-nodes is refused', r)

    t0 = time.time()
    r = vm.cmd('vmhint-numa-move', id='vh0', **{'host-node': 0})
    check('return' in r and r['return'] == {} and time.time() - t0 < 1,
          'numa: vmhint-numa-move returns at once, with no result', r)
    ev = vm.qmp.event('VMHINT_NUMA_MOVE_DONE', timeout=60)
    d = ev['data'] if ev else {}
    check(d.get('id') == 'vh0' and d.get('status') == 'completed' and
          d.get('host-node') == 0,
          'numa: VMHINT_NUMA_MOVE_DONE says vh0 completed to node 0', ev)
    res = d.get('result', {})
    check(res.get('pages-total') == 512 * M // 4096,
          'numa: vmhint-numa-move to node 0 looks at all 131072 pages', res)
    check(sum(o['pages'] for o in res.get('outcomes', [])) == 512 * M // 4096 and
          all(o['outcome'] in ('already', 'not_present', 'moved', 'dropped')
              for o in res.get('outcomes', [])),
          'numa: the event counts every page under its outcome', res)
    info = vmhint(vm)
    mv = info and info.get('numa-move')
    check(mv is not None and mv['status'] == 'completed' and
          mv.get('result', {}).get('pages-total') == 512 * M // 4096,
          'numa: query-vmhint keeps the last move and its result', mv)
    r = vm.cmd('vmhint-numa-move', id='vh0', **{'host-node': 63})
    check('error' in r, 'numa: vmhint-numa-move to a node without memory is an error', r)
    r = vm.cmd('vmhint-numa-move-cancel', id='vh0')
    check('error' in r and 'no NUMA move' in r['error']['desc'],
          'numa: vmhint-numa-move-cancel without a move is an error', r)
    r = vm.cmd('vmhint-numa-move', id='nope', **{'host-node': 0})
    check('error' in r, 'numa: vmhint-numa-move with an unknown id is an error', r)


def test_move():
    """A move over 1G of resident RAM in the background: QMP stays
    responsive, progress shows, a second move is refused, cancel works."""
    vm = start('move', ['-m', '1G',
                        '-object', 'memory-backend-ram,id=m0,size=1G,prealloc=on',
                        '-machine', 'memory-backend=m0'] + device_args(['m0']))
    if not vm:
        return
    pages = G // 4096
    try:
        idle = []
        for _ in range(20):
            t0 = time.time()
            vm.cmd('query-vmhint', id='vh0')
            idle.append(time.time() - t0)
        r = vm.cmd('vmhint-numa-move', id='vh0', **{'host-node': 0})
        check('return' in r, 'move: vmhint-numa-move started', r)
        busy, seen = [], []
        while True:
            t0 = time.time()
            info = vmhint(vm)
            rtt = time.time() - t0
            mv = info and info.get('numa-move')
            if not mv or mv['status'] not in ('running', 'cancelling'):
                break
            busy.append(rtt)
            seen.append(mv)
            if len(seen) == 1:
                r2 = vm.cmd('vmhint-numa-move', id='vh0', **{'host-node': 0})
                check('error' in r2 and 'already running' in r2['error']['desc'],
                      'move: a second move while one runs is refused', r2)
        ev = vm.qmp.event('VMHINT_NUMA_MOVE_DONE', timeout=120)
        check(ev is not None and ev['data']['status'] == 'completed' and
              ev['data']['result']['pages-total'] == pages,
              'move: the 1G move completed, its event counts 262144 pages', ev)
        print('note: query-vmhint round trip idle: median %.2f ms, max %.2f ms; '
              'during the move: %d answered, median %.2f ms, max %.2f ms' %
              (1e3 * sorted(idle)[len(idle) // 2], 1e3 * max(idle), len(busy),
               1e3 * sorted(busy)[len(busy) // 2] if busy else 0,
               1e3 * max(busy) if busy else 0))
        check(len(busy) >= 1, 'move: query-vmhint answered while the move ran', len(busy))
        check(bool(busy) and max(busy) < 0.5,
              'move: every query-vmhint during the move answered within 500 ms',
              busy and max(busy))
        check(any(0 < m['pages-done'] < m['pages-total'] == pages for m in seen),
              'move: query-vmhint shows progress (pages-done of pages-total)', seen[-3:])

        # Cancel right after the start: the event says cancelled, with
        # fewer pages than the whole.
        vm.qmp.events.clear()
        r = vm.cmd('vmhint-numa-move', id='vh0', **{'host-node': 0})
        r2 = vm.cmd('vmhint-numa-move-cancel', id='vh0')
        check('return' in r and 'return' in r2, 'cancel: move started and cancelled', (r, r2))
        ev = vm.qmp.event('VMHINT_NUMA_MOVE_DONE', timeout=60)
        d = ev['data'] if ev else {}
        check(d.get('status') == 'cancelled' and d['result']['pages-total'] < pages,
              'cancel: VMHINT_NUMA_MOVE_DONE says cancelled, before all 262144 pages', ev)
        info = vmhint(vm)
        check(info is not None and info['numa-move']['status'] == 'cancelled',
              'cancel: query-vmhint says the last move was cancelled',
              info and info.get('numa-move'))
        r = vm.cmd('vmhint-numa-move', id='vh0', **{'host-node': 0})
        ev = vm.qmp.event('VMHINT_NUMA_MOVE_DONE', timeout=120)
        check('return' in r and ev is not None and ev['data']['status'] == 'completed',
              'cancel: a new move after the cancelled one runs to completion', ev)
    finally:
        vm.stop()


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


NUMA_ARGS = ['-m', '512M',
             '-object', 'memory-backend-ram,id=m0,size=256M',
             '-object', 'memory-backend-memfd,id=m1,size=256M,share=on',
             '-numa', 'node,nodeid=0,memdev=m0',
             '-numa', 'node,nodeid=1,memdev=m1']


def test_numa():
    vm = start('numa', NUMA_ARGS + device_args(['m0', 'm1'], ',numa-policy=bind,host-nodes=0'))
    if not vm:
        return
    try:
        info = vmhint(vm)
        if info:
            check(regions(info) == [('m0', 0, 256 * M, 'anon'),
                                    ('m1', 256 * M, 256 * M, 'shmem')],
                  'numa: m0 anon at 0, m1 shmem at 256M', regions(info))
        r = vm.cmd('qom-get', path='/objects/vh0', property='memdev')
        check(r.get('return') == ['m0', 'm1'], 'numa: qom-get memdev is the list [m0, m1]', r)
        r = vm.cmd('qom-get', path='/objects/vh0', property='numa-policy')
        check(r.get('return') == 'bind', 'numa: numa-policy=bind (HostMemPolicy) accepted', r)
        r = vm.cmd('qom-get', path='/objects/vh0', property='host-nodes')
        check(r.get('return') == [0], 'numa: qom-get host-nodes is the list [0]', r)
        r = vm.cmd('qom-set', path='/objects/vh0', property='host-nodes', value=[0])
        check('error' in r and 'cannot be changed' in r['error']['desc'],
              'numa: host-nodes cannot be changed after creation', r)
    finally:
        vm.stop()
    # The same object in JSON, as object-add takes it.
    obj = {'qom-type': 'vmhint', 'id': 'vh0', 'memdev': ['m0', 'm1'],
           'numa-policy': 'preferred', 'host-nodes': [0]}
    vm = start('numajson', NUMA_ARGS + ['-object', json.dumps(obj),
                                        '-device', 'virtio-hint-pci,vmhint=vh0'])
    if not vm:
        return
    try:
        info = vmhint(vm)
        check(info is not None and [r[0] for r in regions(info)] == ['m0', 'm1'],
              'numa: JSON -object with "memdev": ["m0", "m1"] registers both',
              info and regions(info))
        r = vm.cmd('qom-get', path='/objects/vh0', property='numa-policy')
        check(r.get('return') == 'preferred', 'numa: JSON numa-policy preferred accepted', r)
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
    refused('colonlist', ['-object', 'vmhint,id=vh0,memdev=m0:m1'],
            'memdev=m0,memdev=m1')
    refused('badpolicy', ['-object', 'vmhint,id=vh0,memdev=m0,numa-policy=near,'
                          'host-nodes=0'], 'numa-policy')
    refused('bignode', ['-object', 'vmhint,id=vh0,memdev=m0,numa-policy=bind,'
                        'host-nodes=64'], "beyond libvmhint's limit")
    refused('bindnonodes', ['-object', 'vmhint,id=vh0,memdev=m0,numa-policy=bind'],
            'at least one node')
    refused('nodevobj', ['-device', 'virtio-hint-pci'], 'vmhint')


for t in (test_ram, test_memfd, test_split, test_numa, test_move, test_refuse):
    t()

finish()
EOF
rc=$?

# QEMU links against the per-VM API only: the host-wide KSM API
# (<vmhint/ksm.h>, symbol node VMHINT_HOST_*) is for host daemons.
if command -v objdump >/dev/null; then
	host_syms=$(objdump -T "$qemu" | grep VMHINT_HOST)
	if [ -z "$host_syms" ] && objdump -T "$qemu" | grep -q 'VMHINT_0'; then
		echo "ok   abi: QEMU imports libvmhint symbols, none of node VMHINT_HOST_*"
	else
		echo "FAIL abi: QEMU imports libvmhint symbols, none of node VMHINT_HOST_*"
		echo "     got: ${host_syms:-no VMHINT_0.* symbol at all}"
		rc=1
	fi
else
	echo "note: objdump (binutils) missing: the VMHINT_HOST_* import check is skipped"
fi
exit $rc
