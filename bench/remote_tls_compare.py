#!/usr/bin/env python3
"""Get-value over TLS: `vsecretd --listen` against a stock libvirtd 9.0, same certificates, one run
(issue 6; target: vsecretd at least 1.5x the rate of libvirtd).

    sudo python3 bench/remote_tls_compare.py                  # default: 5 s per round, 3 rounds
    sudo python3 bench/remote_tls_compare.py --seconds 2 --rounds 1

One CA, one server certificate (SAN IP:127.0.0.1) and one client certificate are made with
scripts/make-certs.sh. Both daemons listen for TLS on their own free port of 127.0.0.1 with those
files and no DN allow-list. The stock libvirtd is set up as in tests/vstest/daemons.py
(root, private mount namespace with tmpfs over /etc/libvirt and /run/libvirt, only the secret
driver loaded) plus listen_tls = 1, tls_port, the certificate paths and --listen.

For each daemon, one stock python3-libvirt client in a fresh interpreter opens
secret+tls://127.0.0.1:PORT/system?pkipath=..., defines one secret (a new UUID and usage name per round) with a 32-byte value, warms up
with 200 calls, then calls secret.value() back to back for --seconds and reports calls/s. Rounds
alternate between the daemons (vsecretd, libvirtd, vsecretd, ...) so that drift of the machine
affects both; the reported figure per daemon is the median over rounds, and the ratio is
vsecretd / libvirtd. Every process started here is stopped by its PID.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

import vstest_path  # noqa: E402,F401  (tests/ on sys.path)
from vstest import daemons, paths, process  # noqa: E402
from vstest.remote import ListeningVsecretd, make_certs, tls_listen_config  # noqa: E402
from vstest.sockets import free_port, wait_port  # noqa: E402

CLIENT = r'''
import json, sys, time
import libvirt
uri, seconds = sys.argv[1], float(sys.argv[2])
conn = libvirt.open(uri)
xml = ("<secret ephemeral='no' private='no'><uuid>%s</uuid><usage type='ceph'><name>tls-bench-%s</name>"
       "</usage></secret>" % (sys.argv[3], sys.argv[3]))
s = conn.secretDefineXML(xml)
s.setValue(bytes(range(32)))
for _ in range(200):
    s.value()
n = 0
t0 = time.perf_counter()
end = t0 + seconds
while True:
    for _ in range(50):
        s.value()
    n += 50
    now = time.perf_counter()
    if now >= end:
        break
print(json.dumps({"calls": n, "seconds": now - t0, "rate": n / (now - t0), "secure": conn.isSecure(),
                  "encrypted": conn.isEncrypted()}))
conn.close()
'''


def start_libvirtd(port, server_pki):
    """vstest.daemons.StockLibvirtd with a TLS listener on 127.0.0.1:port and no client auth."""
    d = daemons.StockLibvirtd(extra_config=tls_listen_config(port, server_pki) + 'listen_tcp = 0\nauth_tls = "none"\n',
                              args=["--listen"])
    try:
        wait_port(port, d.proc, timeout=20)
    except Exception:
        d.cleanup()
        raise
    return d


def measure(port, client_pki, seconds, uuid):
    uri = "secret+tls://127.0.0.1:%d/system?pkipath=%s" % (port, client_pki)
    p = subprocess.run([paths.PYTHON, "-c", CLIENT, uri, str(seconds), uuid], capture_output=True,
                       env=process.clean_env(), timeout=seconds + 120)
    if p.returncode != 0:
        raise RuntimeError("client against %s failed: %s" % (uri, p.stderr.decode(errors="replace")))
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="measured seconds per round (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per daemon (default 3)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    if not daemons.libvirtd_available():
        sys.exit("remote_tls_compare.py: needs root, unshare, %s and %s" % (paths.LIBVIRTD, paths.SECRET_DRIVER))

    work = tempfile.mkdtemp(prefix="vsecret-tls-bench-")
    started = []
    try:
        pki = os.path.join(work, "pki")
        make_certs("all", pki)
        server_pki, client_pki = os.path.join(pki, "server"), os.path.join(pki, "client")
        ports = {"vsecretd": free_port(), "libvirtd": free_port()}
        started.append(ListeningVsecretd(tls_listen_config(ports["vsecretd"], server_pki), port=ports["vsecretd"]))
        started.append(start_libvirtd(ports["libvirtd"], server_pki))
        rates = {"vsecretd": [], "libvirtd": []}
        info = {}
        for r in range(args.rounds):
            for name in ("vsecretd", "libvirtd"):
                res = measure(ports[name], client_pki, args.seconds, "9d4b1c75-2f3a-4e6b-9c7d-%012d" % r)
                rates[name].append(res["rate"])
                info[name] = (res["secure"], res["encrypted"])
                print("round %d %-8s %9.0f get-value/s (%d calls in %.2f s)"
                      % (r + 1, name, res["rate"], res["calls"], res["seconds"]), flush=True)
        med = {k: statistics.median(v) for k, v in rates.items()}
        ratio = med["vsecretd"] / med["libvirtd"]
        summary = {"transport": "tls", "client": "python3-libvirt %s, 1 connection" % _libvirt_version(),
                   "seconds_per_round": args.seconds, "rounds": args.rounds, "rates": rates,
                   "median": med, "ratio": ratio, "target": 1.5, "secure_encrypted": info}
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            print("median: vsecretd %.0f/s, libvirtd %.0f/s, ratio %.2fx (target 1.5x: %s)"
                  % (med["vsecretd"], med["libvirtd"], ratio, "met" if ratio >= 1.5 else "NOT met"))
    finally:
        for d in started:
            d.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def _libvirt_version():
    p = subprocess.run([paths.PYTHON, "-c", "import libvirt; print(libvirt.getVersion())"], capture_output=True,
                       timeout=30, env=process.clean_env())
    v = int(p.stdout.decode().strip() or 0)
    return "%d.%d.%d" % (v // 1000000, v // 1000 % 1000, v % 1000)


if __name__ == "__main__":
    main()
