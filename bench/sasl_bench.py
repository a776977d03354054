#!/usr/bin/env python3
"""SASL connections: vsecretd against a stock libvirtd 9.0, same realm, same client, one run
(issue 14; target: vsecretd no slower than libvirtd on any line).

    sudo python3 bench/sasl_bench.py                      # default: 40 opens, 3 s of calls, 3 rounds
    sudo python3 bench/sasl_bench.py --opens 10 --seconds 1 --rounds 1

Two set-ups, each daemon configured identically:
  * tcp+gssapi: auth_tcp = "sasl" on 127.0.0.1, Cyrus's mech_list gssapi with a keytab, a
    throw-away MIT KDC (tests/vstest/kerberos.py) and a ticket for the client. GSSAPI gives a
    security layer, so every frame after the handshake is SASL-wrapped.
  * tls+scram: listen_tls with auth_tls = "sasl" (certificate and SASL), mech_list
    scram-sha-256 from a saslpasswd2 database; TLS encrypts, SASL only authenticates.

For each, one stock python3-libvirt client in a fresh interpreter measures
  * set-up: --opens times open (openAuth with the credentials for SCRAM) -> first call answered
    (secretLookupByUUIDString) -> close; the median per open in milliseconds;
  * calls: secret.value() back to back for --seconds on one connection; calls per second.
Rounds alternate between the daemons so that drift of the machine affects both; each figure is
the median over rounds, and the ratios say how vsecretd compares (set-up: libvirtd / vsecretd,
calls: vsecretd / libvirtd; above 1.0 means vsecretd is faster). Every process started here is
stopped by its PID.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import vstest_path  # noqa: F401  (tests/ on sys.path)
from vstest import daemons, kerberos, paths, process  # noqa: E402
from vstest.remote import ListeningVsecretd, make_certs, tls_listen_config  # noqa: E402
from vstest.sockets import free_port, wait_port  # noqa: E402

UUID = "8e4f3a51-ad97-4f61-8254-3d4e5f607182"
USER = "bench"

CLIENT = r'''
import json, statistics, sys, time
import libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
uri, opens, seconds, uuid = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
password = sys.stdin.read()

def creds(cred_list, opaque):
    for c in cred_list:
        if c[0] == libvirt.VIR_CRED_AUTHNAME:
            c[4] = "%s"
        elif c[0] == libvirt.VIR_CRED_PASSPHRASE:
            c[4] = password
    return 0

auth = [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE], creds, None]
conn = libvirt.openAuth(uri, auth, 0)
try:
    s = conn.secretLookupByUUIDString(uuid)
except libvirt.libvirtError:
    s = conn.secretDefineXML("<secret ephemeral='no' private='no'><uuid>%%s</uuid><usage type='ceph'>"
                             "<name>sasl-bench</name></usage></secret>" %% uuid)
    s.setValue(bytes(range(32)))
encrypted = conn.isEncrypted()
conn.close()
times = []
for _ in range(opens):
    t0 = time.perf_counter()
    c = libvirt.openAuth(uri, auth, 0)
    c.secretLookupByUUIDString(uuid)
    times.append(time.perf_counter() - t0)
    c.close()
conn = libvirt.openAuth(uri, auth, 0)
s = conn.secretLookupByUUIDString(uuid)
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
conn.close()
print(json.dumps({"setup_ms": statistics.median(times) * 1000, "rate": n / (now - t0),
                  "encrypted": encrypted}))
''' % USER


class Setup:
    """One transport: both daemons started with the same configuration; uri(name) for each."""

    def __init__(self, name, work):
        self.name, self.work, self.started, self.ports, self.client_env = name, work, [], {}, {}
        self.password = ""
        self.uris = {}

    def start(self, config_for_port, server_env, uri_for_port):
        self.ports = {"vsecretd": free_port(), "libvirtd": free_port()}
        self.started.append(ListeningVsecretd(config_for_port(self.ports["vsecretd"]), port=self.ports["vsecretd"],
                                              env=server_env))
        d = daemons.StockLibvirtd(extra_config=config_for_port(self.ports["libvirtd"]), args=["--listen"],
                                  env=server_env)
        self.started.append(d)
        wait_port(self.ports["libvirtd"], d.proc, timeout=20)
        self.uris = {k: uri_for_port(p) for k, p in self.ports.items()}

    def stop(self):
        for d in self.started:
            d.cleanup()


def gssapi_setup(work, kdc, setups):
    s = Setup("tcp+gssapi", work)
    setups.append(s)  # stopped by main() even if a daemon fails to start
    kdc.add_service("libvirt/localhost")
    kdc.add_user(USER)
    sasl_dir = os.path.join(work, "sasl-gssapi")
    os.makedirs(sasl_dir)
    with open(os.path.join(sasl_dir, "libvirt.conf"), "w") as f:
        f.write("mech_list: gssapi\nkeytab: %s\n" % kdc.service_keytab)
    s.client_env = kdc.env(kdc.kinit(USER))
    s.start(lambda port: 'listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\ntcp_port = "%d"\n'
                         'auth_tcp = "sasl"\n' % port,
            dict(kdc.env(keytab=kdc.service_keytab), SASL_CONF_PATH=sasl_dir),
            lambda port: "secret+tcp://localhost:%d/system" % port)
    return s


def scram_setup(work, setups):
    s = Setup("tls+scram", work)
    setups.append(s)
    sasl_dir = os.path.join(work, "sasl-scram")
    os.makedirs(sasl_dir)
    db = os.path.join(sasl_dir, "passwd.db")
    with open(os.path.join(sasl_dir, "libvirt.conf"), "w") as f:
        f.write("mech_list: scram-sha-256\nsasldb_path: %s\n" % db)
    s.password = os.urandom(12).hex()
    subprocess.run(["saslpasswd2", "-f", db, "-p", "-a", "libvirt", "-c", USER], input=s.password.encode(),
                   check=True, timeout=30, env=process.clean_env())
    pki = os.path.join(work, "pki")
    make_certs("all", pki)
    server_pki, client_pki = os.path.join(pki, "server"), os.path.join(pki, "client")
    s.start(lambda port: tls_listen_config(port, server_pki) + 'listen_tcp = 0\nauth_tls = "sasl"\n',
            {"SASL_CONF_PATH": sasl_dir},
            lambda port: "secret+tls://127.0.0.1:%d/system?pkipath=%s" % (port, client_pki))
    return s


def measure(setup, name, opens, seconds):
    p = subprocess.run([paths.PYTHON, "-c", CLIENT, setup.uris[name], str(opens), str(seconds), UUID],
                       input=setup.password.encode(), capture_output=True,
                       env=process.clean_env(setup.client_env), timeout=seconds + opens * 5 + 120)
    if p.returncode != 0:
        raise RuntimeError("%s client against %s failed: %s" % (setup.name, name, p.stderr.decode(errors="replace")))
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--opens", type=int, default=40, help="connections opened per round (default 40)")
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds of calls per round (default 3)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per daemon (default 3)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    if not daemons.libvirtd_available() or not kerberos.available():
        sys.exit("sasl_bench.py: needs root, unshare, the stock libvirtd and the MIT KDC (scripts/install-deps.sh)")

    work = tempfile.mkdtemp(prefix="vsecret-sasl-bench-")
    kdc = kerberos.Kdc()
    setups = []
    results = {}
    try:
        gssapi_setup(work, kdc, setups)
        scram_setup(work, setups)
        for setup in setups:
            figures = {"vsecretd": {"setup_ms": [], "rate": []}, "libvirtd": {"setup_ms": [], "rate": []}}
            encrypted = {}
            for r in range(args.rounds):
                for name in ("vsecretd", "libvirtd"):
                    res = measure(setup, name, args.opens, args.seconds)
                    figures[name]["setup_ms"].append(res["setup_ms"])
                    figures[name]["rate"].append(res["rate"])
                    encrypted[name] = res["encrypted"]
                    print("%-10s round %d %-8s open->first call %6.2f ms, %7.0f get-value/s"
                          % (setup.name, r + 1, name, res["setup_ms"], res["rate"]), flush=True)
            med = {n: {k: statistics.median(v) for k, v in f.items()} for n, f in figures.items()}
            results[setup.name] = {
                "median": med, "rounds": figures, "encrypted": encrypted,
                "setup_ratio": med["libvirtd"]["setup_ms"] / med["vsecretd"]["setup_ms"],
                "rate_ratio": med["vsecretd"]["rate"] / med["libvirtd"]["rate"]}
        if args.json:
            print(json.dumps({"opens": args.opens, "seconds": args.seconds, "rounds": args.rounds,
                              "results": results}, indent=2))
        else:
            for name, res in results.items():
                med = res["median"]
                print("%-10s set-up: vsecretd %.2f ms, libvirtd %.2f ms (%.2fx); calls: vsecretd %.0f/s, "
                      "libvirtd %.0f/s (%.2fx); target >= 1.0x: %s"
                      % (name, med["vsecretd"]["setup_ms"], med["libvirtd"]["setup_ms"], res["setup_ratio"],
                         med["vsecretd"]["rate"], med["libvirtd"]["rate"], res["rate_ratio"],
                         "met" if min(res["setup_ratio"], res["rate_ratio"]) >= 1.0 else "NOT met"))
    finally:
        for setup in setups:
            setup.stop()
        kdc.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
