"""Shared helpers for the vsecretd integration tests.

Starts `vsecretd --root DIR` and a stock libvirtd 9.0 that loads only its secret driver, runs
the stock virsh and python3-libvirt against either, and talks raw RPC frames.

The stock libvirtd runs as root inside a private mount namespace (`unshare -m`) with tmpfs over
/etc/libvirt and /run/libvirt, so its system-mode secret store and lock never touch the host; its
config points unix_sock_dir at a private directory and sets auth_unix_rw="none";
LIBVIRT_DRIVER_DIR names a directory holding only libvirt_driver_secret.so.

Every process started here is stopped by its PID (SIGTERM, then SIGKILL after a bounded wait).
"""
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

BIN = os.environ.get("VSECRET_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin"))
VSECRETD = os.path.join(BIN, "vsecretd")
VSECRET = os.path.join(BIN, "vsecret")
LIBVIRTD = "/usr/sbin/libvirtd"
VIRSH = "/usr/bin/virsh"
SECRET_DRIVER = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_secret.so"
PYTHON = "/usr/bin/python3"
TIMEOUT = 30

REMOTE = 0x20008086
KEEPALIVE = 0x6B656570


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIBVIRT_", "VIRSH_", "VSECRET_"))}
    env["LC_ALL"] = "C"
    env["LIBVIRT_AUTOSTART"] = "0"
    if extra:
        env.update(extra)
    return env


def wait_for_socket(path, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("daemon exited early with %s" % proc.returncode)
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                return
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.02)
    raise RuntimeError("socket %s did not appear" % path)


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    """Stops one process we started, by PID. Returns its exit status."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
    return proc.returncode


class Daemon:
    """Common shape of both daemons: rw/ro socket paths, URIs, stop()."""

    rw = ro = None
    proc = None

    def uri(self, ro=False):
        return "secret+unix:///system?socket=" + (self.ro if ro else self.rw)

    def stop(self):
        if self.proc is not None:
            status = stop_process(self.proc)
            self.proc = None
            return status
        return None


class Vsecretd(Daemon):
    def __init__(self, root=None, args=(), env=None):
        self.owned_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="vsecretd-it-")
        self.rw = os.path.join(self.root, "run", "virtsecretd-sock")
        self.ro = self.rw + "-ro"
        self.log_path = os.path.join(tempfile.gettempdir(), "vsecretd-%d-%d.log" % (os.getpid(), id(self)))
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([VSECRETD, "--root", self.root] + list(args), stdout=self.log,
                                     stderr=subprocess.STDOUT, env=clean_env(env))
        wait_for_socket(self.rw, self.proc)

    def stderr(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        status = super().stop()
        self.log.close()
        return status

    def cleanup(self):
        self.stop()
        if os.path.exists(self.log_path):
            os.unlink(self.log_path)
        if self.owned_root:
            shutil.rmtree(self.root, ignore_errors=True)


def libvirtd_available():
    return (os.geteuid() == 0 and os.path.exists(LIBVIRTD) and os.path.exists(SECRET_DRIVER)
            and shutil.which("unshare") is not None)


class StockLibvirtd(Daemon):
    """store_dir: a host directory bind-mounted over /etc/libvirt (so the store lives on a chosen
    filesystem, e.g. for benchmarks); by default /etc/libvirt is a private tmpfs. extra_config is
    appended to libvirtd.conf and args to the command line (e.g. a TLS listener and --listen)."""

    def __init__(self, store_dir=None, extra_config="", args=()):
        self.dir = tempfile.mkdtemp(prefix="libvirtd-it-")
        drv = os.path.join(self.dir, "drv")
        sock = os.path.join(self.dir, "sock")
        os.makedirs(drv)
        os.makedirs(sock)
        os.symlink(SECRET_DRIVER, os.path.join(drv, os.path.basename(SECRET_DRIVER)))
        conf = os.path.join(self.dir, "libvirtd.conf")
        with open(conf, "w") as f:
            f.write('unix_sock_dir = "%s"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                    'unix_sock_rw_perms = "0700"\nlog_outputs = "1:file:%s/libvirtd.log"\n' % (sock, self.dir))
            f.write(extra_config)
        mounts = " ".join('[ -d %s ] && { mount -t tmpfs tmpfs %s || exit 1; };' % (d, d)
                          for d in ("/etc/libvirt", "/run/libvirt", "/var/lib/libvirt", "/var/cache/libvirt"))
        if store_dir is not None:
            mounts += " mount --bind %s /etc/libvirt || exit 1;" % store_dir
        argv = [LIBVIRTD] + list(args) + ["--config", conf, "--pid-file", os.path.join(self.dir, "libvirtd.pid")]
        script = '%s exec %s' % (mounts, " ".join(shlex.quote(a) for a in argv))
        env = clean_env({"LIBVIRT_DRIVER_DIR": drv})
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.rw = os.path.join(sock, "libvirt-sock")
        self.ro = os.path.join(sock, "libvirt-sock-ro")
        try:
            wait_for_socket(self.rw, self.proc, timeout=20)
        except Exception:
            self.cleanup()
            raise

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(argv, stdin=None, env=None, timeout=TIMEOUT):
    p = subprocess.run(argv, input=stdin, capture_output=True, env=clean_env(env), timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def virsh(uri, *args, stdin=None, readonly=False):
    argv = [VIRSH]
    if readonly:
        argv.append("-r")
    return run(argv + ["-c", uri] + list(args), stdin=stdin)


# --- raw RPC frames -------------------------------------------------------------------------

def xdr_string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)


def frame(proc, serial, payload=b"", prog=REMOTE, vers=1, mtype=0, status=0, length=None):
    body = struct.pack(">IIiiIi", prog, vers, proc, mtype, serial, status) + payload
    return struct.pack(">I", length if length is not None else len(body) + 4) + body


class RawConn:
    """A blocking raw RPC connection with bounded waits."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.serial = 0

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def recv(self):
        """(header tuple, payload) of the next frame, or None on EOF."""
        head = self._exact(4)
        if head is None:
            return None
        n = struct.unpack(">I", head)[0]
        body = self._exact(n - 4)
        if body is None:
            return None
        return struct.unpack(">IIiiIi", body[:24]), body[24:]

    def call(self, proc, payload=b"", **kw):
        self.send(frame(proc, self.serial, payload, **kw))
        self.serial += 1
        while True:
            r = self.recv()
            if r is None or r[0][3] == 1:
                return r

    def open(self, flags=0, name="secret:///system"):
        self.call(66)
        return self.call(1, struct.pack(">I", 1) + xdr_string(name) + struct.pack(">I", flags))

    def eof(self):
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def decode_error(payload):
    """(code, domain, message) of a remote_error payload."""
    code, domain, present = struct.unpack(">iiI", payload[:12])
    if not present:
        return code, domain, None
    n = struct.unpack(">I", payload[12:16])[0]
    return code, domain, payload[16:16 + n].decode()


def describe(reply):
    """A comparable summary of a reply: ('closed',) / ('ok', hex) / ('err', code, domain, msg)."""
    if reply is None:
        return ("closed",)
    header, payload = reply
    if header[5] == 1:
        return ("err",) + decode_error(payload)
    return ("ok", payload.hex())
