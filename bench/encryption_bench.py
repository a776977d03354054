#!/usr/bin/env python3
"""Encryption-at-rest benchmark (issue 4): load cost of sealed values and key rotation time.

    python3 bench/encryption_bench.py [--bin BUILD/bin] [--count 10000] [--runs 5] [--workdir DIR]

Builds two stores with the same COUNT secrets (definition + value each): one with libvirt's
plain .base64 values, one with vsecret's .vsenc values (made from the first by `vsecret-admin
migrate --format vsenc`). "Load" is `vsecret-admin verify`, which reads and parses every definition and reads
and decodes every value through the same SecretStore code the driver uses; its wall time is
taken best-of-RUNS with a warm page cache, the two stores alternating. Then the encrypted store
is rotated to a new key with `vsecret-admin rotate` (every value re-sealed, each file fsynced,
directory fsyncs batched), best of three (each run rotates to a fresh key).

Targets: load(vsenc) <= 1.3 x load(base64); rotation of 10 000 secrets < 10 s. Prints one JSON
object and exits 1 if a target is missed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid


def make_key(path):
    with open(path, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(path, 0o600)


def populate(root, count):
    secrets = os.path.join(root, "etc", "secrets")
    os.makedirs(secrets, mode=0o700)
    import base64

    for i in range(count):
        u = str(uuid.UUID(int=(0x5EC0 << 112) | i, version=4))
        with open(os.path.join(secrets, u + ".xml"), "w") as f:
            f.write("<secret ephemeral='no' private='no'>\n  <uuid>%s</uuid>\n"
                    "  <usage type='ceph'>\n    <name>bench-%d</name>\n  </usage>\n</secret>\n" % (u, i))
        with open(os.path.join(secrets, u + ".base64"), "w") as f:
            f.write(base64.b64encode(b"value-%08d-%s" % (i, os.urandom(16).hex().encode())).decode())


def timed_admin(admin, root, *args):
    """(wall seconds, stdout) of one `vsecret-admin --root ROOT --quiet ARGS...`; exits on failure."""
    t0 = time.perf_counter()
    p = subprocess.run([admin, "--root", root, "--quiet", *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("%s %s failed:\n%s%s" % (admin, " ".join(args), p.stdout, p.stderr))
    return elapsed, p.stdout


def best_of(runs, fn):
    return min(fn() for _ in range(runs))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(here, "..", "build", "bin"))
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--workdir", default=None, help="where to build the stores (default: a temp dir)")
    args = ap.parse_args()
    admin = os.path.join(args.bin, "vsecret-admin")
    if not os.access(admin, os.X_OK):
        sys.exit("no vsecret-admin in %s (build the vsecret-admin target, or pass --bin)" % args.bin)

    work = tempfile.mkdtemp(prefix="vsecret-encbench-", dir=args.workdir)
    try:
        plain = os.path.join(work, "plain")
        sealed = os.path.join(work, "sealed")
        populate(plain, args.count)
        shutil.copytree(plain, sealed)
        key = os.path.join(work, "key")
        make_key(key)
        with open(os.path.join(sealed, "etc", "secret.conf"), "w") as f:
            f.write('secrets_encryption_key = "%s"\n' % key)
        timed_admin(admin, sealed, "migrate", "--format", "vsenc")

        # Warm the page cache once for each store, then measure.
        timed_admin(admin, plain, "verify")
        timed_admin(admin, sealed, "verify")
        # Interleaved, so that load from other processes hits both alike.
        plain_times, sealed_times = [], []
        for _ in range(args.runs):
            plain_times.append(timed_admin(admin, plain, "verify")[0])
            sealed_times.append(timed_admin(admin, sealed, "verify")[0])
        load_plain, load_sealed = min(plain_times), min(sealed_times)
        median_ratio = sorted(sealed_times)[args.runs // 2] / sorted(plain_times)[args.runs // 2]

        def rotate_once():
            fresh = os.path.join(work, "key-%d" % time.monotonic_ns())
            make_key(fresh)
            return timed_admin(admin, sealed, "rotate", "--new-key", fresh)[0]

        rotation = best_of(min(args.runs, 3), rotate_once)
        _, status = timed_admin(admin, sealed, "status")
        result = {
            "count": args.count,
            "runs": args.runs,
            "load_base64_s": round(load_plain, 4),
            "load_vsenc_s": round(load_sealed, 4),
            "load_ratio": round(load_sealed / load_plain, 3),
            "load_ratio_median": round(median_ratio, 3),
            "rotate_s": round(rotation, 3),
            "cpus": os.cpu_count(),
            "ok": load_sealed <= 1.3 * load_plain and rotation < 10.0,
        }
        if "vsenc" not in status:
            sys.exit("rotation did not leave a sealed store:\n" + status)
        print(json.dumps(result))
        return 0 if result["ok"] else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
