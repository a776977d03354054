#!/usr/bin/env python3
"""Side-by-side daemon benchmark: the same stock python3-libvirt client against `vsecretd --root`
and against a stock libvirtd 9.0 (secret driver only), in one run on one machine (issue 3).

    sudo python3 bench/daemon_compare.py                    # the issue's figures (10 000 secrets)
    sudo python3 bench/daemon_compare.py --secrets 2000     # a quicker look

For each daemon, on a fresh store, one client connection performs in order:
  define        --secrets  secretDefineXML (persistent, ceph usage "bench-<i>")
  set-value     --secrets  secret.setValue
  get-value     --secrets  secret.value            (per-call latency: p50/p99 with 1 client)
  lookup-usage  --secrets  secretLookupByUsage
  get-value x64 --concurrent-calls spread over --clients connections, each on its own thread
                (libvirt releases the GIL during calls): aggregate rate and p50/p99 latency
  undefine      --secrets  secret.undefine
Rates are calls per second of wall time; ratios are vsecretd / libvirtd.

Both stores live on the same filesystem (--store-fs disk: a directory under --workdir, default
$TMPDIR; tmpfs: /dev/shm). The stock libvirtd runs as root in a private mount namespace with that
directory bind-mounted over /etc/libvirt, so it needs root and unshare; see
tests/vstest/daemons.py.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

import vstest_path  # noqa: E402,F401  (tests/ on sys.path)
from vstest import daemons, paths, process  # noqa: E402

# The client, run in a fresh interpreter per daemon. Prints one JSON document.
CLIENT = r'''
import json, random, sys, threading, time
import libvirt

uri, n, clients, concurrent_calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
conn = libvirt.open(uri)
results = {}

def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]

def timed(name, fn, items, keep_latency=False):
    lat = []
    t0 = time.perf_counter()
    for it in items:
        if keep_latency:
            a = time.perf_counter()
            fn(it)
            lat.append(time.perf_counter() - a)
        else:
            fn(it)
    wall = time.perf_counter() - t0
    results[name] = {"calls": len(items), "seconds": wall, "rate": len(items) / wall}
    if lat:
        results[name]["p50_us"] = pct(lat, 50) * 1e6
        results[name]["p99_us"] = pct(lat, 99) * 1e6

uuids = ["%08x-0000-4000-8000-%012x" % (i, i) for i in range(n)]
secrets = [None] * n
def define(i):
    secrets[i] = conn.secretDefineXML(
        "<secret ephemeral='no' private='no'><uuid>%s</uuid><usage type='ceph'><name>bench-%d</name></usage>"
        "</secret>" % (uuids[i], i))
timed("define", define, range(n))
timed("set-value", lambda i: secrets[i].setValue(("value-%d" % i).encode()), range(n))
order = list(range(n))
random.Random(1).shuffle(order)
timed("get-value", lambda i: secrets[i].value(), order, keep_latency=True)
timed("lookup-usage", lambda i: conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, "bench-%d" % i), order)

# 64 connections, each on its own thread, all reading values at once.
per_client = max(1, concurrent_calls // clients)
lats = [[] for _ in range(clients)]
conns = [libvirt.open(uri) for _ in range(clients)]
barrier = threading.Barrier(clients + 1)
def reader(k):
    c = conns[k]
    rng = random.Random(k)
    handles = [c.secretLookupByUUIDString(uuids[rng.randrange(n)]) for _ in range(per_client)]
    barrier.wait()
    for s in handles:
        a = time.perf_counter()
        s.value()
        lats[k].append(time.perf_counter() - a)
threads = [threading.Thread(target=reader, args=(k,)) for k in range(clients)]
for t in threads: t.start()
barrier.wait()
t0 = time.perf_counter()
for t in threads: t.join()
wall = time.perf_counter() - t0
flat = [x for l in lats for x in l]
results["get-value-x%d" % clients] = {"calls": len(flat), "seconds": wall, "rate": len(flat) / wall,
                                      "p50_us": pct(flat, 50) * 1e6, "p99_us": pct(flat, 99) * 1e6}
for c in conns: c.close()

timed("undefine", lambda i: secrets[i].undefine(), range(n))
print(json.dumps(results))
'''

TARGETS = {"define": 10.0, "set-value": 1.5, "get-value": 1.5, "lookup-usage": 10.0, "undefine": 1.5}


def run_client(daemon, args):
    p = subprocess.run([paths.PYTHON, "-c", CLIENT, daemon.uri(), str(args.secrets), str(args.clients),
                        str(args.concurrent_calls)], capture_output=True, text=True, env=process.clean_env(),
                       timeout=args.timeout)
    if p.returncode != 0:
        sys.exit("benchmark client failed against %s:\n%s" % (type(daemon).__name__, p.stderr[-3000:]))
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("VSECRET_BIN", os.path.join(ROOT, "build", "bin")))
    ap.add_argument("--secrets", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--concurrent-calls", type=int, default=64 * 200)
    ap.add_argument("--store-fs", choices=("disk", "tmpfs"), default="disk")
    ap.add_argument("--workdir", default=None, help="parent of the stores for --store-fs disk")
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    paths.VSECRETD = os.path.join(args.bin, "vsecretd")
    if not os.access(paths.VSECRETD, os.X_OK):
        sys.exit("missing %s: build first" % paths.VSECRETD)
    if not daemons.libvirtd_available():
        sys.exit("needs root, unshare and the stock libvirtd (libvirt-daemon) with its secret driver")

    parent = "/dev/shm" if args.store_fs == "tmpfs" else args.workdir
    work = tempfile.mkdtemp(prefix="vsecret-daemon-bench-", dir=parent)
    results = {}
    try:
        for name in ("libvirtd", "vsecretd"):
            store = os.path.join(work, name)
            os.makedirs(store)
            print("running against %s (%d secrets)..." % (name, args.secrets), flush=True)
            daemon = daemons.StockLibvirtd(store_dir=store) if name == "libvirtd" else daemons.Vsecretd(root=store)
            try:
                results[name] = run_client(daemon, args)
            finally:
                daemon.cleanup()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lv, vs = results["libvirtd"], results["vsecretd"]
    print()
    print("%-16s %14s %14s %8s %8s" % ("operation", "libvirtd/s", "vsecretd/s", "ratio", "target"))
    verdict = True
    for op in lv:
        ratio = vs[op]["rate"] / lv[op]["rate"]
        target = TARGETS.get(op)
        ok = target is None or ratio >= target
        verdict &= ok
        print("%-16s %14.0f %14.0f %7.1fx %8s%s" % (op, lv[op]["rate"], vs[op]["rate"], ratio,
                                                    "%.1fx" % target if target else "-", "" if ok else "  MISSED"))
    print()
    print("get-value latency        libvirtd p50/p99 us      vsecretd p50/p99 us")
    for op in ("get-value", "get-value-x%d" % args.clients):
        print("  %-20s %9.0f / %-9.0f      %9.0f / %-9.0f" % (op, lv[op]["p50_us"], lv[op]["p99_us"],
                                                            vs[op]["p50_us"], vs[op]["p99_us"]))
    print()
    print("all targets met" if verdict else "some targets missed")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
