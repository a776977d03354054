#!/usr/bin/env python3
"""Side-by-side benchmark: vsecret against the installed libvirt 9.0 embedded secret driver.

Every figure is measured in the same run on the same machine and reported as a ratio
(libvirt time / vsecret time). Run after building:

    python3 bench/compare_libvirt.py                 # the README figures
    python3 bench/compare_libvirt.py --secrets 2000 --big 20000   # a quicker look

Scenarios (issue 2):
  open+list   `secret-list` on a root holding --secrets persistent secrets, CLI vs CLI
  defines     --defines further `secret-define` commands in one CLI invocation on that root
  lookups     --lookups lookups by usage, in-process: python3-libvirt vs vsecret-api-bench
  big         `vsecret secret-list` on --big secrets: wall time and peak RSS (libvirt needs
              minutes at that size, so it is not run there)
"""
import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def canonical_xml(u, name, private=False):
    return ("<secret ephemeral='no' private='%s'>\n  <uuid>%s</uuid>\n"
            "  <usage type='ceph'>\n    <name>%s</name>\n  </usage>\n</secret>\n"
            % ("yes" if private else "no", u, name))


def make_root(path, count, prefix="bench"):
    cfg = os.path.join(path, "etc", "secrets")
    os.makedirs(cfg, mode=0o700)
    for i in range(count):
        u = str(uuid.uuid4())
        with open(os.path.join(cfg, u + ".xml"), "w") as f:
            f.write(canonical_xml(u, "%s-%d" % (prefix, i), private=(i % 7 == 0)))
        with open(os.path.join(cfg, u + ".base64"), "w") as f:
            f.write(base64.b64encode(("value-%d" % i).encode()).decode())
    return path


def run_timed(argv, stdin=None):
    """Runs argv, returns (seconds, peak RSS in MiB). Fails loudly on a non-zero exit."""
    infile = None
    if stdin is not None:
        infile = tempfile.TemporaryFile()
        infile.write(stdin)
        infile.seek(0)
    t = time.monotonic()
    p = subprocess.Popen(argv, stdin=infile, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.monotonic() - t
    if infile:
        infile.close()
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("command failed (%s): %s\n%s" % (status, " ".join(argv[:4]), err[-2000:]))
    return elapsed, usage.ru_maxrss / 1024.0


def median_time(argv, repeats):
    # One untimed warm-up: this VM reclaims cold page cache proactively (kdamond), and both
    # tools must be measured with the same, warm, cache.
    run_timed(argv)
    return statistics.median(run_timed(argv)[0] for _ in range(repeats))


def uri(path):
    return "secret:///embed?root=" + path


def libvirt_lookups(root, n):
    code = r"""
import libvirt, sys, time, json
libvirt.virEventRegisterDefaultImpl()
conn = libvirt.open(sys.argv[1])
refs = [(s.usageType(), s.usageID()) for s in conn.listAllSecrets(0)]
n = int(sys.argv[2])
t = time.monotonic()
for i in range(n):
    ty, ident = refs[i % len(refs)]
    conn.secretLookupByUsage(ty, ident)
print(json.dumps({"seconds": time.monotonic() - t, "count": n}))
"""
    out = subprocess.run(["/usr/bin/python3", "-c", code, uri(root), str(n)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["seconds"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--secrets", type=int, default=10000)
    ap.add_argument("--defines", type=int, default=2000)
    ap.add_argument("--lookups", type=int, default=100000)
    ap.add_argument("--big", type=int, default=100000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    vsecret = os.path.join(args.bin, "vsecret")
    api = os.path.join(args.bin, "vsecret-api-bench")
    for exe in (vsecret, api, shutil.which("virsh")):
        if not exe or not os.access(exe, os.X_OK):
            sys.exit("missing executable: %s (build first; install libvirt-clients)" % exe)

    work = tempfile.mkdtemp(prefix="vsecret-bench-")
    results = {}
    try:
        print("generating %d secrets..." % args.secrets, flush=True)
        base = make_root(os.path.join(work, "base"), args.secrets)
        lv = os.path.join(work, "libvirt")
        vs = os.path.join(work, "vsecret")
        shutil.copytree(base, lv)
        shutil.copytree(base, vs)

        # 1. open the root and list everything, through each CLI.
        t_lv = median_time(["virsh", "-q", "-c", uri(lv), "secret-list"], args.repeats)
        t_vs = median_time([vsecret, "-q", "-c", uri(vs), "secret-list"], args.repeats)
        results["open_list"] = {"libvirt_s": t_lv, "vsecret_s": t_vs, "ratio": t_lv / t_vs}

        # 2. further defines in one invocation.
        ddir = os.path.join(work, "defs")
        os.makedirs(ddir)
        files = []
        for i in range(args.defines):
            u = str(uuid.uuid4())
            fn = os.path.join(ddir, u + ".xml")
            with open(fn, "w") as f:
                f.write(canonical_xml(u, "new-%d" % i))
            files.append(fn)
        # One process each, reading the commands from stdin (too long for one argv word).
        script = "".join("secret-define %s\n" % f for f in files).encode()
        t_lv = run_timed(["virsh", "-q", "-c", uri(lv)], stdin=script)[0]
        t_vs = run_timed([vsecret, "-q", "-c", uri(vs)], stdin=script)[0]
        results["defines"] = {"count": args.defines, "libvirt_s": t_lv, "vsecret_s": t_vs, "ratio": t_lv / t_vs}

        # 3. lookups by usage, in-process on both sides.
        t_lv = libvirt_lookups(lv, args.lookups)
        out = subprocess.run([api, "lookups", uri(vs), str(args.lookups)], check=True, capture_output=True,
                             text=True).stdout
        t_vs = json.loads(out)["seconds"]
        results["lookups"] = {"count": args.lookups, "libvirt_s": t_lv, "vsecret_s": t_vs, "ratio": t_lv / t_vs}

        # 4. a very large root, vsecret only.
        shutil.rmtree(lv)
        shutil.rmtree(base)
        if args.big:
            print("generating %d secrets..." % args.big, flush=True)
            bigroot = make_root(os.path.join(work, "big"), args.big, prefix="big")
            times, rss = [], 0.0
            run_timed([vsecret, "-q", "-c", uri(bigroot), "secret-list"])  # warm-up, untimed
            for _ in range(args.repeats):
                t, r = run_timed([vsecret, "-q", "-c", uri(bigroot), "secret-list"])
                times.append(t)
                rss = max(rss, r)
            results["big_list"] = {"count": args.big, "vsecret_s": statistics.median(times), "peak_rss_mib": rss}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("%-10s %10s %12s %12s %8s" % ("scenario", "n", "libvirt s", "vsecret s", "ratio"))
    for key, n in (("open_list", args.secrets), ("defines", args.defines), ("lookups", args.lookups)):
        r = results[key]
        print("%-10s %10d %12.3f %12.4f %7.1fx" % (key, n, r["libvirt_s"], r["vsecret_s"], r["ratio"]))
    if "big_list" in results:
        r = results["big_list"]
        print("%-10s %10d %12s %12.4f   peak RSS %.1f MiB" % ("big_list", r["count"], "-", r["vsecret_s"],
                                                               r["peak_rss_mib"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
