#!/usr/bin/python3
"""The guest-start secret connection, timed (issue 11): what libvirt's QEMU driver does for each
encrypted disk when a guest starts (virGetConnectSecret, then virSecretGetSecretString):

    open secret:///system on the secret daemon's UNIX socket
    CONNECT_SET_IDENTITY  the driver's elevated identity (user/group names and ids, process id
                          and start time, system.token)
    SECRET_LOOKUP_BY_UUID
    SECRET_GET_VALUE      of a private secret (allowed only because of the system token)
    close

against three daemons, same machine, one run, same client (the host's python3-libvirt 9.0):

    vsecretd     build/bin/vsecretd --system
    libvirt-9.0  libvirt 9.0's secret driver (host)
    libvirt-12   libvirt 12.x's secret driver (the Debian testing root, chrooted)

Debian ships no virtsecretd (neither 12's libvirt 9.0 nor testing's 12.x: both build only the
monolithic libvirtd), so libvirt's side is libvirtd loading only libvirt_driver_secret.so
(LIBVIRT_DRIVER_DIR): the same daemon code, RPC dispatcher and secret driver that virtsecretd is
built from, serving the same calls.

Each daemon runs as root in a private mount namespace whose /run/libvirt, /etc/libvirt,
/var/lib/libvirt and /var/log/libvirt are directories of this run's work directory (so the
host's libvirt is untouched and the client, on the host, reaches each socket by path:
secret:///system?socket=PATH). The three are measured in interleaved rounds so that load drifting
on the machine affects all alike. Daemons are stopped by PID.

    sudo /usr/bin/python3 bench/hypervisor_secret_bench.py                 # 500 iterations each
    sudo /usr/bin/python3 bench/hypervisor_secret_bench.py --iterations 100
    sudo /usr/bin/python3 bench/hypervisor_secret_bench.py --results bench/RESULTS-issue11.txt
"""
import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)

import vstest_path  # noqa: E402,F401  (tests/ on sys.path)
from vstest import libvirt12  # noqa: E402
from vstest.sockets import wait_for_socket  # noqa: E402

BIN = os.environ.get("VSECRET_BIN") or os.path.join(SOURCE_DIR, "build", "bin")
SECRET_MODULE = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_secret.so"
UUID = "bbbbbbbb-cccc-dddd-eeee-000000000001"
VALUE = b"a passphrase of 32 bytes, please"
DIRS = {"run": "/run/libvirt", "etc": "/etc/libvirt", "lib": "/var/lib/libvirt", "log": "/var/log/libvirt"}

# The client: one process for the whole run, measuring the three daemons in turn.
CLIENT = r'''
import json, os, sys, time
import libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
targets, uuid, value, rounds, per_round, warmup = json.loads(sys.argv[1])

def start_time():
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])

def identity(token):
    # What virIdentityGetParameters gives the QEMU driver's elevated identity as root.
    return {"user-name": "root", "unix-user-id": 0, "group-name": "root", "unix-group-id": 0,
            "process-id": os.getpid(), "process-time": start_time(), "system.token": token}

def guest_start_connection(uri, ident):
    c = libvirt.open(uri)
    try:
        c.setIdentity(ident)
        v = c.secretLookupByUUIDString(uuid).value()
    finally:
        c.close()
    return v

samples = {}
for name, uri, token_path in targets:
    c = libvirt.open(uri)
    s = c.secretDefineXML("<secret ephemeral='no' private='yes'><uuid>%s</uuid>"
                          "<usage type='volume'><volume>/var/lib/images/bench.img</volume></usage>"
                          "</secret>" % uuid)
    s.setValue(value.encode())
    try:
        s.value()
        raise SystemExit("%s: the private value came out without an identity" % name)
    except libvirt.libvirtError:
        pass
    c.close()
    with open(token_path) as f:
        ident = identity(f.read().strip())
    for _ in range(warmup):
        if guest_start_connection(uri, ident) != value.encode():
            raise SystemExit("%s: wrong value" % name)
    samples[name] = []
for r in range(rounds):
    for name, uri, _ in targets:
        ident = identity(open(dict((t[0], t[2]) for t in targets)[name]).read().strip())
        lat = samples[name]
        for _ in range(per_round):
            t0 = time.perf_counter()
            guest_start_connection(uri, ident)
            lat.append(time.perf_counter() - t0)
print(json.dumps(samples))
'''


def stop(proc, timeout=15):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


class Target:
    def __init__(self, name, work):
        self.name = name
        self.base = os.path.join(work, name)
        self.proc = None
        for d in DIRS:
            os.makedirs(os.path.join(self.base, d), mode=0o755)
        # The token both sides use, made before the daemon starts (libvirt and vsecretd both
        # keep an existing one), so the client knows it whatever the daemon does at start-up.
        common = os.path.join(self.base, "run", "common")
        os.makedirs(common, mode=0o700)
        with open(os.path.join(common, "system.token"), "w") as f:
            f.write(secrets.token_hex(16))
        os.chmod(os.path.join(common, "system.token"), 0o600)

    def path(self, d, *names):
        return os.path.join(self.base, d, *names)

    def binds_script(self):
        return "\n".join("mkdir -p %s && mount --bind %s %s" % (inside, shlex.quote(self.path(d)), inside)
                         for d, inside in DIRS.items())

    def write_libvirtd_conf(self):
        with open(self.path("etc", "libvirtd.conf"), "w") as f:
            f.write('auth_unix_rw = "none"\nauth_unix_ro = "none"\nlog_outputs = "3:file:%s"\n'
                    % self.path("log", "libvirtd.log"))
        drv = os.path.join(self.base, "drv")
        os.makedirs(drv)
        os.symlink(SECRET_MODULE, os.path.join(drv, os.path.basename(SECRET_MODULE)))
        return drv

    def start(self, env):
        log = open(self.path("log", "daemon.out"), "w")
        if self.name == "vsecretd":
            script = "set -e\n%s\nexec %s --system" % (self.binds_script(), shlex.quote(os.path.join(BIN, "vsecretd")))
            argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
            self.socket = self.path("run", "virtsecretd-sock")
        elif self.name == "libvirt-9.0":
            drv = self.write_libvirtd_conf()
            script = "set -e\n%s\nexec env LIBVIRT_DRIVER_DIR=%s /usr/sbin/libvirtd --pid-file %s" % (
                self.binds_script(), shlex.quote(drv), shlex.quote(self.path("run", "bench.pid")))
            argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
            self.socket = self.path("run", "libvirt-sock")
        else:
            drv = self.write_libvirtd_conf()
            binds = [(self.path(d), inside) for d, inside in DIRS.items()] + [(self.base, self.base)]
            argv = libvirt12.prefix(binds=binds) + [
                "env", "LIBVIRT_DRIVER_DIR=" + drv, "/usr/sbin/libvirtd", "--pid-file", self.path("run", "bench.pid")]
            self.socket = self.path("run", "libvirt-sock")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        wait_for_socket(self.socket, self.proc, timeout=60)

    def uri(self):
        return "secret:///system?socket=" + self.socket


def prune_root_mount_points(path):
    """The empty directories libvirt12.prefix() made in the root as mount points for path."""
    root = libvirt12.root()
    for dirpath, _, _ in sorted(os.walk(root + path), key=lambda e: -len(e[0])):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def pct(sorted_samples, p):
    return sorted_samples[min(len(sorted_samples) - 1, int(round(p / 100.0 * (len(sorted_samples) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=500, help="timed connections per daemon")
    ap.add_argument("--rounds", type=int, default=50, help="interleaved rounds the iterations are split into")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--results", help="also write the report to this file")
    ap.add_argument("--dump", help="write the raw samples (seconds, in order) as JSON to this file")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (mount namespaces, chroot, libvirtd)")
    version12 = libvirt12.version()
    work = tempfile.mkdtemp(prefix="vsecret-hvbench-")
    os.chmod(work, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIBVIRT_", "VIRSH_", "VSECRET_"))}
    env["LC_ALL"] = "C"
    targets = [Target(n, work) for n in ("vsecretd", "libvirt-9.0", "libvirt-12")]
    try:
        for t in targets:
            t.start(env)
        per_round = max(1, args.iterations // args.rounds)
        spec = [[t.name, t.uri(), t.path("run", "common", "system.token")] for t in targets]
        p = subprocess.run(["/usr/bin/python3", "-c", CLIENT,
                            json.dumps([spec, UUID, VALUE.decode(), args.rounds, per_round, args.warmup])],
                           capture_output=True, text=True, env=env, timeout=3600)
        if p.returncode != 0:
            sys.exit("client failed:\n" + p.stdout + p.stderr)
        samples = json.loads(p.stdout)
    finally:
        for t in targets:
            if t.proc is not None:
                stop(t.proc)
        shutil.rmtree(work, ignore_errors=True)
        prune_root_mount_points(work)

    if args.dump:
        with open(args.dump, "w") as f:
            json.dump(samples, f)
    stats = {}
    for name, lat in samples.items():
        s = sorted(lat)
        stats[name] = {"n": len(s), "median": pct(s, 50), "p99": pct(s, 99), "mean": sum(s) / len(s)}
    cmd = "sudo /usr/bin/python3 bench/hypervisor_secret_bench.py --iterations %d --rounds %d" % (
        args.iterations, args.rounds)
    lines = ["guest-start secret connection: open secret:///system + CONNECT_SET_IDENTITY (system.token)",
             "+ SECRET_LOOKUP_BY_UUID + SECRET_GET_VALUE (private) + close; client python3-libvirt %s"
             % subprocess.run(["/usr/bin/python3", "-c", "import libvirt; v = libvirt.getVersion(); "
                               "print('%d.%d.%d' % (v // 1000000, v // 1000 % 1000, v % 1000))"],
                              capture_output=True, text=True).stdout.strip(),
             "libvirt-9.0 / libvirt-12 (%s): libvirtd with only libvirt_driver_secret.so (Debian ships no "
             "virtsecretd)" % version12,
             "%d connections per daemon in %d interleaved rounds, after %d warm-up; %s, %d CPUs, load %s"
             % (stats["vsecretd"]["n"], args.rounds, args.warmup, time.strftime("%Y-%m-%d %H:%M"),
                os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg())),
             "",
             "%-12s %12s %12s %12s %12s" % ("daemon", "median ms", "p99 ms", "mean ms", "conn/s")]
    for name in ("vsecretd", "libvirt-9.0", "libvirt-12"):
        st = stats[name]
        lines.append("%-12s %12.3f %12.3f %12.3f %12.0f" % (name, st["median"] * 1e3, st["p99"] * 1e3,
                                                          st["mean"] * 1e3, 1.0 / st["mean"]))
    lines.append("")
    ok = True
    for ref in ("libvirt-9.0", "libvirt-12"):
        rm = stats[ref]["median"] / stats["vsecretd"]["median"]
        rp = stats[ref]["p99"] / stats["vsecretd"]["p99"]
        lines.append("%s / vsecretd: median %.2fx, p99 %.2fx (above 1: vsecretd is faster)" % (ref, rm, rp))
        ok = ok and rm >= 1.0
    lines.append("")
    lines.append("target (vsecretd not slower at the median): %s" % ("met" if ok else "NOT met"))
    lines.append("reproduce: " + cmd)
    report = "\n".join(lines) + "\n"
    sys.stdout.write(report)
    if args.results:
        with open(args.results, "w") as f:
            f.write(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
