"""libvirt 12.x, the second reference: tools of the Debian testing root that
scripts/libvirt12-root.sh builds, run with chroot inside a private mount namespace.

Host directories a test shares with the root are bind-mounted at the same path inside it, so a
path means the same thing on both sides (an embed root, a socket, an image). The namespace dies
with the process, so nothing is left mounted and the host's /etc/libvirt and /run/libvirt are
never touched; `binds` can also put a scratch directory over a path of the root itself (e.g.
/run/libvirt or /etc/libvirt inside the root).
"""
import os
import shlex
import subprocess

from vstest import process
from vstest.paths import SOURCE_DIR

SCRIPT = os.path.join(SOURCE_DIR, "scripts", "libvirt12-root.sh")
_root = None


def root():
    """The prepared root's path (built on first use, cached across runs). Raises on failure:
    the reference is required, a test must not pass without it."""
    global _root
    if _root is None:
        p = subprocess.run(["bash", SCRIPT], capture_output=True, text=True, timeout=1800)
        if p.returncode != 0:
            raise RuntimeError("cannot prepare the libvirt 12.x root:\n" + p.stderr)
        _root = p.stdout.strip().splitlines()[-1]
    return _root


def wrap(argv, share=(), binds=(), cwd=None):
    """argv that runs `argv` inside the root. share: host paths visible at the same path;
    binds: (host_path, path_in_root) pairs; cwd: working directory inside the root."""
    r = root()
    script = ["set -e",
              "mount --make-rprivate /",
              "mount --rbind /dev %s/dev" % shlex.quote(r),
              "mount -t proc proc %s/proc" % shlex.quote(r),
              "mount -t sysfs sysfs %s/sys" % shlex.quote(r)]
    pairs = [(p, p) for p in share] + list(binds)
    for host, inside in pairs:
        target = r + inside
        kind = "-d" if os.path.isdir(host) else "-f"
        make = "mkdir -p %s" % shlex.quote(target) if kind == "-d" else \
            "mkdir -p %s && touch %s" % (shlex.quote(os.path.dirname(target)), shlex.quote(target))
        script.append("[ %s %s ] || %s" % (kind, shlex.quote(target), make))
        script.append("mount --bind %s %s" % (shlex.quote(host), shlex.quote(target)))
    inner = " ".join(shlex.quote(a) for a in argv)
    if cwd:
        inner = "cd %s && exec %s" % (shlex.quote(cwd), inner)
    else:
        inner = "exec " + inner
    script.append("exec chroot %s /bin/sh -c %s" % (shlex.quote(r), shlex.quote(inner)))
    return ["unshare", "-m", "/bin/sh", "-c", "\n".join(script)]


def run(argv, share=(), binds=(), cwd=None, timeout=120, **kw):
    """process.run of argv inside the root (the same Result, env, input, text and check options);
    share, binds and cwd as for wrap()."""
    return process.run(wrap(argv, share, binds, cwd), timeout=timeout, **kw)


def popen(argv, share=(), binds=(), env=None, **kw):
    """A long-running process inside the root (a daemon) with process.clean_env(env); stop it by
    its PID (the chroot'ed process replaces the shell: the PID is the daemon's)."""
    return subprocess.Popen(wrap(argv, share, binds), env=process.clean_env(env), **kw)


def version():
    """libvirt's version in the root, e.g. '12.8.0'."""
    return run(["virsh", "--version"], check=True).out.strip()


def prefix(share=(), binds=()):
    """An argv prefix: prefix(...) + [cmd, arg...] runs cmd with its arguments inside the root,
    with share and binds as for wrap(). Meant for shell scripts that run several of the root's
    tools (`sh -c '"$@"'`-style), where wrap()'s fixed argv does not fit; like wrap(), the
    command replaces the shell (exec), so a daemon's PID is the one the caller started."""
    r = shlex.quote(root())
    script = ["set -e",
              "mount --make-rprivate /",
              "mount --rbind /dev %s/dev" % r,
              "mount -t proc proc %s/proc" % r,
              "mount -t sysfs sysfs %s/sys" % r]
    for host, inside in [(p, p) for p in share] + list(binds):
        target = shlex.quote(root() + inside)
        if os.path.isdir(host):
            script.append("[ -d %s ] || mkdir -p %s" % (target, target))
        else:
            script.append("[ -f %s ] || { mkdir -p \"$(dirname %s)\" && touch %s; }" % (target, target, target))
        script.append("mount --bind %s %s" % (shlex.quote(host), target))
    script.append('exec chroot %s "$@"' % r)
    return ["unshare", "-m", "/bin/sh", "-c", "\n".join(script), "libvirt12"]


SECRET_DRIVER = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_secret.so"


def secret_only_libvirtd(scratch):
    """Starts the root's libvirtd loading only its secret driver, the 12.x counterpart of the
    host's secret-only libvirtd of vstest.daemons. scratch (a host directory)
    holds its config, log and sockets (scratch/sock/libvirt-sock and libvirt-sock-ro); private
    directories of scratch are mounted over the root's /etc/libvirt, /run/libvirt,
    /var/lib/libvirt and /var/cache/libvirt, so nothing of the root or the host is touched.
    Returns (Popen, rw socket path, ro socket path); stop it by its PID."""
    for sub in ("drv", "sock", "etc", "run", "lib", "cache"):
        os.makedirs(os.path.join(scratch, sub), exist_ok=True)
    link = os.path.join(scratch, "drv", os.path.basename(SECRET_DRIVER))
    if not os.path.lexists(link):
        os.symlink(SECRET_DRIVER, link)  # resolved inside the root
    conf = os.path.join(scratch, "libvirtd.conf")
    with open(conf, "w") as f:
        f.write('unix_sock_dir = "%s/sock"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                'unix_sock_rw_perms = "0700"\nlog_outputs = "1:file:%s/libvirtd.log"\n' % (scratch, scratch))
    binds = [(os.path.join(scratch, "etc"), "/etc/libvirt"), (os.path.join(scratch, "run"), "/run/libvirt"),
             (os.path.join(scratch, "lib"), "/var/lib/libvirt"), (os.path.join(scratch, "cache"), "/var/cache/libvirt")]
    proc = popen(["/usr/sbin/libvirtd", "--config", conf, "--pid-file", os.path.join(scratch, "libvirtd.pid")],
                 share=[scratch], binds=binds, env={"LIBVIRT_DRIVER_DIR": os.path.join(scratch, "drv")},
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, os.path.join(scratch, "sock", "libvirt-sock"), os.path.join(scratch, "sock", "libvirt-sock-ro")
