"""The daemons the integration tests talk to, each started in the foreground and stopped by its
PID (SIGTERM, then SIGKILL after a bounded wait):

  Vsecretd          `vsecretd --root DIR` (a scratch root unless one is given);
  StockLibvirtd     the host's libvirtd 9.0 loading only its secret driver;
  StockLibvirtd12   the libvirt 12.x root's libvirtd loading only its secret driver.

The stock libvirtd runs as root inside a private mount namespace (`unshare -m`) with tmpfs over
/etc/libvirt and /run/libvirt, so its system-mode secret store and lock never touch the host; its
config points unix_sock_dir at a private directory and sets auth_unix_rw="none";
LIBVIRT_DRIVER_DIR names a directory holding only libvirt_driver_secret.so.

The executables are looked up in vstest.paths when a daemon starts, so a benchmark can point
paths.VSECRETD at another build.
"""
import os
import shlex
import shutil
import subprocess
import tempfile

from vstest import libvirt12, paths
from vstest.process import clean_env, stop_process
from vstest.sockets import wait_for_socket


class Daemon:
    """Common shape of the daemons: rw/ro socket paths, URIs, stop()."""

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

    def cleanup(self):
        """Stops the daemon and removes its scratch directory (self.dir, when it has one)."""
        self.stop()
        if getattr(self, "dir", None):
            shutil.rmtree(self.dir, ignore_errors=True)


class Vsecretd(Daemon):
    """`vsecretd --root ROOT ARGS...` with clean_env(env); its stdout and stderr go to a log file
    (stderr() reads it). Waits until the read-write socket accepts connections. prefix: an argv
    that runs the daemon (e.g. vstest.journal's namespace), ending in an exec so the PID stays
    the daemon's."""

    def __init__(self, root=None, args=(), env=None, prefix=()):
        self.owned_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="vsecretd-it-")
        self.rw = os.path.join(self.root, "run", "virtsecretd-sock")
        self.ro = self.rw + "-ro"
        self.log_path = os.path.join(tempfile.gettempdir(), "vsecretd-%d-%d.log" % (os.getpid(), id(self)))
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(list(prefix) + [paths.VSECRETD, "--root", self.root] + list(args), stdout=self.log,
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
    """Whether StockLibvirtd can run here (root, the host's libvirtd and secret driver, unshare)."""
    return (os.geteuid() == 0 and os.path.exists(paths.LIBVIRTD) and os.path.exists(paths.SECRET_DRIVER)
            and shutil.which("unshare") is not None)


class StockLibvirtd(Daemon):
    """store_dir: a host directory bind-mounted over /etc/libvirt (so the store lives on a chosen
    filesystem, e.g. for benchmarks); by default /etc/libvirt is a private tmpfs. extra_config is
    appended to libvirtd.conf and args to the command line (e.g. a TLS listener and --listen);
    env is added to its environment (e.g. SASL_CONF_PATH)."""

    def __init__(self, store_dir=None, extra_config="", args=(), env=None):
        self.dir = tempfile.mkdtemp(prefix="libvirtd-it-")
        drv = os.path.join(self.dir, "drv")
        sock = os.path.join(self.dir, "sock")
        os.makedirs(drv)
        os.makedirs(sock)
        os.symlink(paths.SECRET_DRIVER, os.path.join(drv, os.path.basename(paths.SECRET_DRIVER)))
        conf = os.path.join(self.dir, "libvirtd.conf")
        with open(conf, "w") as f:
            f.write('unix_sock_dir = "%s"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                    'unix_sock_rw_perms = "0700"\nlog_outputs = "1:file:%s/libvirtd.log"\n' % (sock, self.dir))
            f.write(extra_config)
        mounts = " ".join('[ -d %s ] && { mount -t tmpfs tmpfs %s || exit 1; };' % (d, d)
                          for d in ("/etc/libvirt", "/run/libvirt", "/var/lib/libvirt", "/var/cache/libvirt"))
        if store_dir is not None:
            mounts += " mount --bind %s /etc/libvirt || exit 1;" % store_dir
        argv = [paths.LIBVIRTD] + list(args) + ["--config", conf, "--pid-file", os.path.join(self.dir, "libvirtd.pid")]
        script = '%s exec %s' % (mounts, " ".join(shlex.quote(a) for a in argv))
        env = clean_env(dict(env or {}, LIBVIRT_DRIVER_DIR=drv))
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.rw = os.path.join(sock, "libvirt-sock")
        self.ro = os.path.join(sock, "libvirt-sock-ro")
        try:
            wait_for_socket(self.rw, self.proc, timeout=20)
        except Exception:
            self.cleanup()
            raise


class StockLibvirtd12(Daemon):
    """The libvirt 12.x root's libvirtd with only its secret driver (vstest.libvirt12): the
    primary reference. Its sockets are in a host directory, so the host's virsh and
    python3-libvirt 9.0 reach it as they reach vsecretd."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="libvirtd12-it-")
        self.proc, self.rw, self.ro = libvirt12.secret_only_libvirtd(self.dir)
        try:
            wait_for_socket(self.rw, self.proc, timeout=30)
        except Exception:
            self.cleanup()
            raise
