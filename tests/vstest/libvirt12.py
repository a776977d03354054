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

SOURCE_DIR = os.environ.get("VSECRET_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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


def run(argv, share=(), binds=(), env=None, timeout=120, input=None, cwd=None):
    """subprocess.run of argv inside the root; returns the CompletedProcess (bytes)."""
    return subprocess.run(wrap(argv, share, binds, cwd), capture_output=True, env=env,
                          timeout=timeout, input=input)


def popen(argv, share=(), binds=(), env=None, **kw):
    """A long-running process inside the root (a daemon); stop it by killing its process group
    or PID (the chroot'ed process replaces the shell: the PID is the daemon's)."""
    return subprocess.Popen(wrap(argv, share, binds), env=env, **kw)


def version():
    """libvirt's version in the root, e.g. '12.8.0'."""
    p = run(["virsh", "--version"])
    return p.stdout.decode().strip()
