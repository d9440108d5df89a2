#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tiny QMP client for the VM tests.

Usage: vhqmp.py SOCKET [ID]
Runs query-vmhint (for object ID, default vh0) and prints its first entry
flattened, one "key value" per line, so bash can compare counters:
  mode sync
  counters.requests-unused 12
  counters.rejected.outside 2        (statuses seen so far)
  counters.bytes-dropped.madv_dontneed 1073741824
  regions.0.backing anon
Exit: 0, 1 when QEMU does not answer (connection, timeout, QMP error).
"""
import json
import socket
import sys


def flatten(prefix, v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            flatten(f"{prefix}{k}.", x, out)
    elif isinstance(v, list):
        # rejected / bytes-dropped are lists of {status|method, count|bytes}.
        for i, x in enumerate(v):
            if isinstance(x, dict) and ("status" in x or "method" in x):
                key = x.get("status", x.get("method"))
                out.append((f"{prefix}{key}", x.get("count", x.get("bytes"))))
            else:
                flatten(f"{prefix}{i}.", x, out)
    else:
        if isinstance(v, bool):
            v = "true" if v else "false"
        out.append((prefix[:-1], v))


def command(f, sock, name, args=None):
    msg = {"execute": name}
    if args:
        msg["arguments"] = args
    sock.sendall(json.dumps(msg).encode() + b"\n")
    while True:
        line = f.readline()
        if not line:
            raise OSError("QMP connection closed")
        r = json.loads(line)
        if "return" in r:
            return r["return"]
        if "error" in r:
            raise OSError(f"QMP error: {r['error']}")
        # anything else is an event: skip it


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    oid = sys.argv[2] if len(sys.argv) > 2 else "vh0"
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(sys.argv[1])
        f = s.makefile("r")
        json.loads(f.readline())  # greeting
        command(f, s, "qmp_capabilities")
        r = command(f, s, "query-vmhint", {"id": oid})
    except (OSError, ValueError) as e:
        print(f"vhqmp: {e}", file=sys.stderr)
        return 1
    if not r:
        print(f"vhqmp: no vmhint object {oid}", file=sys.stderr)
        return 1
    out = []
    flatten("", r[0], out)
    for k, v in out:
        print(k, v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
