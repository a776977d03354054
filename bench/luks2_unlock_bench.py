#!/usr/bin/env python3
"""LUKS2 unlock benchmark (issue 13 item 4): vsecret against cryptsetup on the same volume.

    python3 bench/luks2_unlock_bench.py [--bin BUILD/bin] [--runs 5] [--memory KIB] [--time T]
                                        [--cpus P] [--workdir DIR]

One LUKS2 volume is made by `cryptsetup luksFormat --type luks2 --pbkdf argon2id` with fixed
argon2id parameters (--pbkdf-memory, --pbkdf-force-iterations, --pbkdf-parallel; defaults
1 GiB / 4 / 4, cryptsetup's memory and parallelism ceiling) so both tools do exactly the same
key derivation. Timed, alternating, medians reported:
  * `cryptsetup open --test-passphrase --key-file K VOL`
  * `vsecret vol-download --length 4096` of the same volume (header, unlock, one 4 KiB read,
    process start included), minus nothing: the figure is what a user waits for.
  * `vsecret vol-info` of the same volume (no unlock), to show the fixed CLI cost.
Prints one JSON object with the medians in seconds and the ratio vsecret / cryptsetup.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

UUID = "5ec00000-0000-4000-8000-0000000000a2"


def sh(argv, env=None, check=True):
    p = subprocess.run(argv, capture_output=True, env=env)
    if check and p.returncode != 0:
        sys.exit("%r failed: %s" % (argv, p.stderr.decode(errors="replace")))
    return p


def timed(argv, env=None):
    start = time.monotonic()
    sh(argv, env=env)
    return time.monotonic() - start


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(here, "build", "bin"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--memory", type=int, default=1048576, help="argon2id memory in KiB")
    ap.add_argument("--time", type=int, default=4, help="argon2id iterations")
    ap.add_argument("--cpus", type=int, default=4, help="argon2id parallelism")
    ap.add_argument("--workdir")
    args = ap.parse_args()
    cryptsetup = shutil.which("cryptsetup") or sys.exit("cryptsetup is not installed")
    vsecret = os.path.join(args.bin, "vsecret")
    work = tempfile.mkdtemp(prefix="vsecret-luks2-bench-", dir=args.workdir)
    try:
        pool = os.path.join(work, "pool")
        env = dict(os.environ, LC_ALL="C")
        uri = ["-c", "secret:///embed?root=" + os.path.join(work, "root")]
        key = os.path.join(work, "key")
        with open(key, "wb") as f:
            f.write(b"benchmark passphrase")
        for cmd in (["pool-define-as", "p1", "dir", "--target", pool], ["pool-build", "p1"], ["pool-start", "p1"]):
            sh([vsecret] + uri + cmd, env=env)
        vol = os.path.join(pool, "v.img")
        sh(["truncate", "-s", "20M", vol])
        sh([cryptsetup, "luksFormat", "--type", "luks2", "--batch-mode", "--key-file", key, "--pbkdf", "argon2id",
            "--pbkdf-memory", str(args.memory), "--pbkdf-force-iterations", str(args.time), "--pbkdf-parallel",
            str(args.cpus), vol])
        xml = os.path.join(work, "s.xml")
        with open(xml, "w") as f:
            f.write("<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='volume'><volume>%s</volume>"
                    "</usage></secret>" % (UUID, vol))
        sh([vsecret] + uri + ["secret-define", xml], env=env)
        sh([vsecret] + uri + ["secret-set-value", UUID, "--file", key, "--plain"], env=env)
        sh([vsecret] + uri + ["pool-refresh", "p1"], env=env)
        out = os.path.join(work, "out")
        commands = {
            "cryptsetup_test_passphrase": [cryptsetup, "open", "--test-passphrase", "--key-file", key, vol],
            "vsecret_vol_download_4k": [vsecret] + uri + ["vol-download", "--pool", "p1", "v.img", out, "--length",
                                                          "4096"],
            "vsecret_vol_info": [vsecret] + uri + ["vol-info", "--pool", "p1", "v.img"],
        }
        times = {name: [] for name in commands}
        for name, argv in commands.items():
            timed(argv, env)  # warm-up
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(timed(argv, env))
        med = {name: round(statistics.median(t), 4) for name, t in times.items()}
        result = {
            "kdf": {"type": "argon2id", "memory_kib": args.memory, "time": args.time, "cpus": args.cpus},
            "runs": args.runs,
            "median_seconds": med,
            "unlock_ratio_vsecret_over_cryptsetup": round(med["vsecret_vol_download_4k"] /
                                                           med["cryptsetup_test_passphrase"], 3),
        }
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
