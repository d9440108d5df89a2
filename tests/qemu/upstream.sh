#!/bin/bash
# tests/qemu/upstream.sh - QEMU's own qtests that walk every type, property
# and command of a binary (qom-test, device-introspect-test, qmp-cmd-test,
# test-hmp), built from the patched tree by `scripts/build-qemu --qtests`,
# run on the patched QEMU and on Debian's stock one, and compared:
#
#   table    per program, the pass/fail/skip counts of each binary's test
#            cases (TAP), then every case whose result differs
#   fail     a case the patched binary does not pass where the stock one
#            passes, or a patched-only case (ours) that fails; a case that
#            fails on both is shown, not counted
#   walked   the patched run walked our types: device-introspect-test
#            tested the devices virtio-hint-pci and virtio-hint-device and
#            qmp-cmd-test ran query-vmhint, all passing; the stock run has
#            none of them (so the stock binary really is stock)
#   live     what the qtests do not reach, done their way: a PC machine with
#            a vmhint object and a virtio-hint-pci device; qom-list and
#            qom-get on every property of both (as qom-test does for
#            /machine), qom-list-properties on vmhint (instantiates and
#            finalizes an unconfigured object), QEMU alive afterwards
#
# A program that crashes (a failed g_assert aborts it) is run again
# without the cases already reported: the case it died in counts as
# failed, the others still run.
#
# How each binary runs them (libqtest starts QTEST_QEMU_BINARY with
# -accel qtest and the test's arguments, no -L):
#   patched  through a wrapper named qemu-system-x86_64 that adds -L for
#            Debian's firmware directories (the ones the installed binary
#            is configured with): run from its build tree, QEMU looks for
#            firmware in the tree's qemu-bundle/, which has none
#   stock    unchanged, with QEMU_MODULE_DIR naming the qtest accelerator
#            module that Debian builds but does not ship, made from the same
#            Debian source by `scripts/build-qemu --stock-qtest-accel`:
#            without it the stock binary answers "-accel qtest: invalid
#            accelerator qtest" and no qtest can run
#
# QEMU: $VMHINT_QEMU, else what scripts/build-qemu prints (it builds on
# first use); its libvmhint as tests/qemu/lib.sh picks it. Stock:
# $VMHINT_STOCK_QEMU (/usr/bin/qemu-system-x86_64, package qemu-system-x86).
# The qtests: $VMHINT_QTESTS (a directory), else `scripts/build-qemu
# --qtests`; the stock binary's qtest module: $VMHINT_STOCK_MODULES (a
# directory), else `scripts/build-qemu --stock-qtest-accel`. $VMHINT_QTEST_MODE: quick (default) or slow (every machine
# type, much longer); $VMHINT_QTEST_TIMEOUT: seconds per program run (900);
# $VMHINT_QTEST_PROGRAMS: some of the four only (the checks on our types
# that need a program left out are left out too).
#
# Exit 0 pass, 1 fail, 77 skip (with the reason).
set -u

# The stock binary runs with the caller's environment, not lib.sh's
# LD_LIBRARY_PATH for the patched one.
stock_ld_path=${LD_LIBRARY_PATH-}
stock_ld_set=${LD_LIBRARY_PATH+1}

. "$(dirname "$0")/lib.sh"

stock=${VMHINT_STOCK_QEMU:-/usr/bin/qemu-system-x86_64}
[ -x "$stock" ] || skip "no stock QEMU at $stock (apt-get install qemu-system-x86)"

qtests=${VMHINT_QTESTS:-}
if [ -z "$qtests" ]; then
	qtests=$("$top/scripts/build-qemu" --qtests) ||
		{ echo "FAIL: scripts/build-qemu --qtests failed"; exit 1; }
fi
modules=${VMHINT_STOCK_MODULES:-}
if [ -z "$modules" ]; then
	modules=$("$top/scripts/build-qemu" --stock-qtest-accel) ||
		{ echo "FAIL: scripts/build-qemu --stock-qtest-accel failed"; exit 1; }
fi
echo "stock: $stock ($("$stock" --version | head -n1))"
echo "stock qtest accelerator: $modules"
echo "qtests: $qtests"

# qtest_get_arch() reads the target from the binary's name.
mkdir "$tmp/bin"
cat >"$tmp/bin/qemu-system-x86_64" <<WRAPPER
#!/bin/sh
exec '$qemu' -L /usr/share/seabios -L /usr/share/qemu -L /usr/lib/ipxe/qemu "\$@"
WRAPPER
chmod +x "$tmp/bin/qemu-system-x86_64"

QTESTS=$qtests PATCHED=$tmp/bin/qemu-system-x86_64 STOCK=$stock TMP=$tmp \
STOCK_MODULES=$modules \
STOCK_LD_PATH=$stock_ld_path STOCK_LD_SET=${stock_ld_set:-} \
MODE=${VMHINT_QTEST_MODE:-quick} TIMEOUT=${VMHINT_QTEST_TIMEOUT:-900} \
PROGRAMS=${VMHINT_QTEST_PROGRAMS:-qom-test device-introspect-test qmp-cmd-test test-hmp} \
python3 - <<'EOF'
import os, re, signal, subprocess, time

from qmptest import check, finish, qmp_connect, stop_qemu

PROGRAMS = os.environ['PROGRAMS'].split()
QTESTS, TMP = os.environ['QTESTS'], os.environ['TMP']
MODE, TIMEOUT = os.environ['MODE'], int(os.environ['TIMEOUT'])
ARCH = '/x86_64/'

patched_env = dict(os.environ, QTEST_QEMU_BINARY=os.environ['PATCHED'])
stock_env = dict(os.environ, QTEST_QEMU_BINARY=os.environ['STOCK'],
                 QEMU_MODULE_DIR=os.environ['STOCK_MODULES'])
if os.environ['STOCK_LD_SET']:
    stock_env['LD_LIBRARY_PATH'] = os.environ['STOCK_LD_PATH']
else:
    stock_env.pop('LD_LIBRARY_PATH', None)
BINARIES = [('patched', patched_env), ('stock', stock_env)]

# glib's TAP: "ok 3 /x86_64/qom/pc", "not ok 4 /x86_64/...",
# "ok 5 /x86_64/... # SKIP reason".
TAP = re.compile(r'^(not ok|ok) \d+ (/\S+)(?:\s+#\s*(SKIP|TODO)\b\s*(.*))?$')


def run_group(args, env):
    """Run @args in a process group of its own, TIMEOUT seconds at most;
    on timeout the whole group goes (the QEMUs it started too). Returns
    (output, exit status or a 'timeout' string)."""
    p = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=TIMEOUT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        rc = 'timeout after %d s' % TIMEOUT
    return out.decode(errors='replace'), rc


def run_program(prog, name, env, log):
    """Run one qtest program against one binary. Returns ({case: result},
    order, output): result 'pass', 'fail' or 'skip'; order is the cases
    as the program lists them."""
    path = os.path.join(QTESTS, prog)
    mode = ['-m', MODE]
    out_all = []
    listing, rc = run_group([path, '-l'] + mode, env)
    log.write('$ %s -l %s\n%s' % (prog, ' '.join(mode), listing))
    order = [l.strip() for l in listing.splitlines() if l.startswith('/')]
    if rc != 0 or not order:
        # Registration itself failed (it asks QEMU for its machines or
        # its QMP schema): one failed case stands for the program.
        return {'(%s -l)' % prog: 'fail'}, ['(%s -l)' % prog], listing
    results = {}
    for _ in range(len(order) + 1):
        args = [path, '--tap', '-k'] + mode
        for case in results:
            args += ['-s', case]
        log.write('$ %s\n' % ' '.join(args))
        out, rc = run_group(args, env)
        log.write(out)
        out_all.append(out)
        for line in out.splitlines():
            m = TAP.match(line)
            if not m or m.group(2) in results:
                continue
            if m.group(3) == 'SKIP':
                results[m.group(2)] = 'skip'
            elif m.group(1) == 'ok':
                results[m.group(2)] = 'pass'
            else:
                results[m.group(2)] = 'fail'
        left = [c for c in order if c not in results]
        if not left:
            break
        # It stopped before its last case: the first unreported one is
        # the case it died in.
        why = [l for l in out.splitlines() if l.startswith('Bail out!')]
        why = why[-1] if why else (out.splitlines() or ['no output'])[-1]
        log.write('# %s stopped (exit %s) in %s\n' % (prog, rc, left[0]))
        print('  %s on %s died (exit %s) in %s: %s'
              % (prog, name, rc, left[0], why))
        results[left[0]] = 'fail'
    return results, order, '\n'.join(out_all)


def counts(results):
    return tuple(sum(1 for r in results.values() if r == k)
                 for k in ('pass', 'fail', 'skip'))


res, outs, secs = {}, {}, {}
for prog in PROGRAMS:
    for name, env in BINARIES:
        t0 = time.time()
        with open(os.path.join(TMP, '%s.%s.log' % (prog, name)), 'w') as log:
            r, order, out = run_program(prog, name, env, log)
        secs[prog, name] = time.time() - t0
        res[prog, name], outs[prog, name] = r, out
        print('%s on %s: %d passed, %d failed, %d skipped in %.0f s'
              % ((prog, name) + counts(r) + (secs[prog, name],)))

print()
ROW = '%-24s | %4s %4s %4s %6s | %4s %4s %4s %6s'
print('%-24s | %-21s | %s' % ('', 'patched', 'stock'))
print(ROW % (('test',) + ('pass', 'fail', 'skip', 'time') * 2))
for prog in PROGRAMS:
    row = [prog]
    for name, _ in BINARIES:
        row += list(counts(res[prog, name])) + ['%.0fs' % secs[prog, name]]
    print(ROW % tuple(row))
print()

for prog in PROGRAMS:
    p, s = res[prog, 'patched'], res[prog, 'stock']
    for case in sorted(set(p) | set(s)):
        rp, rs = p.get(case, 'absent'), s.get(case, 'absent')
        if rp == rs and rp != 'fail':
            continue
        short = case[len(ARCH):] if case.startswith(ARCH) else case
        what = '%s %s: patched %s, stock %s' % (prog, short, rp, rs)
        if rs == 'pass' and rp != 'pass':
            check(False, what + ' (worse than stock)')
        elif rs == 'absent' and rp == 'fail':
            check(False, what + ' (a case of ours fails)')
        else:
            print('note %s' % what)

# The patched run walked our types and commands; the stock one has none.
intro, qmpcmd = ('device-introspect-test', 'qmp-cmd-test')
if intro in PROGRAMS:
    for dev in ('virtio-hint-pci', 'virtio-hint-device'):
        msg = "Testing device '%s'" % dev
        check(msg in outs[intro, 'patched'],
              '%s tested %s on the patched binary' % (intro, dev))
        check(msg not in outs[intro, 'stock'],
              'the stock binary has no %s' % dev)
    # What else differs is Debian's build against ours (scripts/build-qemu
    # mirrors Debian's configure): shown, not judged.
    devs = {name: set(re.findall(r"^# Testing device '([^']*)'$", outs[intro, name], re.M))
            for name, _ in BINARIES}
    print('  devices introspected: patched %d, stock %d; only patched: %s; only stock: %s'
          % (len(devs['patched']), len(devs['stock']),
             ' '.join(sorted(devs['patched'] - devs['stock'])) or 'none',
             ' '.join(sorted(devs['stock'] - devs['patched'])) or 'none'))
    case = ARCH + 'device/introspect/concrete/defaults/none'
    check(res[intro, 'patched'].get(case) == 'pass',
          '%s: the concrete devices (ours among them) pass on the patched binary' % intro)
if qmpcmd in PROGRAMS:
    case = ARCH + 'qmp/query-vmhint'
    check(res[qmpcmd, 'patched'].get(case) == 'pass',
          '%s ran query-vmhint on the patched binary and it passed' % qmpcmd,
          res[qmpcmd, 'patched'].get(case, 'absent'))
    check(case not in res[qmpcmd, 'stock'], 'the stock binary has no query-vmhint')

# Our live objects, walked the way qom-test walks /machine.
vm_log = os.path.join(TMP, 'live.log')
sock = os.path.join(TMP, 'live.qmp')
cmd = [os.environ['PATCHED'], '-nodefaults', '-display', 'none',
       '-accel', 'qtest', '-S', '-m', '128M', '-M', 'pc,memory-backend=pc.ram',
       '-object', 'memory-backend-ram,id=pc.ram,size=128M',
       '-object', 'vmhint,id=vh0,memdev=pc.ram',
       '-device', 'virtio-hint-pci,id=hint0,vmhint=vh0',
       '-qmp', 'unix:%s,server=on,wait=off' % sock]
log = open(vm_log, 'w')
proc = subprocess.Popen(cmd, env=patched_env, stdin=subprocess.DEVNULL,
                        stdout=log, stderr=subprocess.STDOUT)
qmp = qmp_connect(sock, proc)
if not check(qmp is not None, 'QEMU starts with a vmhint object and a virtio-hint-pci device',
             open(vm_log).read()):
    stop_qemu(proc, qmp, log)
    finish()

walked, get_errors = {}, []


def walk(path):
    """qom-list @path, qom-get every plain property, recurse into children."""
    r = qmp.cmd('qom-list', path=path)
    if 'return' not in r:
        return False
    walked[path] = [p['name'] for p in r['return']]
    for prop in r['return']:
        if prop['type'].startswith('child<'):
            walk(path + '/' + prop['name'])
        elif not prop['type'].startswith('link<'):
            g = qmp.cmd('qom-get', path=path, property=prop['name'])
            if 'return' not in g:
                get_errors.append('%s.%s: %s' % (path, prop['name'], g['error']['desc']))
    return True


check(walk('/objects/vh0'), 'qom-list /objects/vh0')
want = {'memdev', 'mode', 'flush-interval', 'dedupe', 'numa-policy', 'host-nodes'}
check(want <= set(walked.get('/objects/vh0', [])),
      'the vmhint object lists its properties', walked.get('/objects/vh0'))
check(walk('/machine/peripheral/hint0'), 'qom-list /machine/peripheral/hint0 and its children')
vdev = [p for p in walked if p.startswith('/machine/peripheral/hint0/')
        and {'vmhint', 'lazy', 'stable-hints'} <= set(walked[p])]
check(len(vdev) == 1, 'the virtio-hint-device inside virtio-hint-pci lists vmhint, lazy, stable-hints',
      sorted(walked))
print('  walked %d objects, %d properties; qom-get refused: %s'
      % (len(walked), sum(len(v) for v in walked.values()), get_errors or 'none'))
r = qmp.cmd('qom-list-properties', typename='vmhint')
check('return' in r and want <= {p['name'] for p in r['return']},
      'qom-list-properties vmhint (an unconfigured object made and freed)', r)
r = qmp.cmd('device-list-properties', typename='virtio-hint-pci')
check('return' in r and 'vmhint' in {p['name'] for p in r['return']},
      'device-list-properties virtio-hint-pci shows the vmhint link', r)
r = qmp.cmd('query-vmhint')
check('return' in r and [v['id'] for v in r['return']] == ['vh0'],
      'QEMU is alive after the walk: query-vmhint answers for vh0', r)
stop_qemu(proc, qmp, log)
check(proc.returncode == 0, 'QEMU quits cleanly', (proc.returncode, open(vm_log).read()))

finish()
EOF
