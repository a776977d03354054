"""Shared helpers for the conformance suites: run virsh and vsecret side by side on two
embedded roots and compare what a user (or a script) would see.

Normalisation is limited to what legitimately differs between two runs: the root paths, UUIDs
that are generated at random, and the timestamp/pid/function of libvirt-format log lines (plus
the two "info" banner lines libvirt prints before its first log line).
"""
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile

VSECRET_BIN = os.environ.get("VSECRET_BIN") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "bin")
VSECRET = os.path.join(VSECRET_BIN, "vsecret")
VIRSH = shutil.which("virsh")
TIMEOUT = 60

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LOG_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: \d+: (\w+) : \S+ : ", re.M)
SCHEMA_RE = re.compile(r"/\S*/schemas/secret\.rng")
BANNER_RE = re.compile(r"^.*: info : (libvirt version|hostname): .*\n", re.M)


def clean_env():
    env = dict(os.environ)
    for var in ("LIBVIRT_DEFAULT_URI", "VSECRET_DEFAULT_URI", "VIRSH_DEFAULT_CONNECT_URI"):
        env.pop(var, None)
    env["LC_ALL"] = "C"
    return env


class Run:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def __repr__(self):
        return "rc=%r\nstdout=%r\nstderr=%r" % (self.rc, self.out, self.err)


def run(argv, stdin=None):
    p = subprocess.run(argv, input=stdin, capture_output=True, timeout=TIMEOUT, env=clean_env())
    return Run(argv, p.returncode, p.stdout, p.stderr)


class Side:
    """One tool (virsh or vsecret) on its own scratch root."""

    def __init__(self, exe, root):
        self.exe, self.root = exe, root

    @property
    def uri(self):
        return "secret:///embed?root=" + self.root

    def cmd(self, command, extra=(), stdin=None):
        return run([self.exe, *extra, "-c", self.uri, *command], stdin=stdin)

    @property
    def config_dir(self):
        return os.path.join(self.root, "etc", "secrets")


class Pair:
    """virsh on root A and vsecret on root B, plus a shared directory of input files."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-conf-")
        self.files = os.path.join(self.work, "files")
        os.makedirs(self.files)
        self.libvirt = Side(VIRSH, os.path.join(self.work, "A"))
        self.vsecret = Side(VSECRET, os.path.join(self.work, "B"))
        self.uuid_map = {}

    def close(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def write(self, name, content, mode=0o644):
        path = os.path.join(self.files, name)
        with open(path, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        os.chmod(path, mode)
        return path

    def normalise(self, side, data, known_uuids):
        text = data.decode("utf-8", errors="surrogateescape")
        text = BANNER_RE.sub("", text)
        text = LOG_RE.sub(lambda m: "<LOG %s> " % m.group(1), text)
        text = text.replace(side.root, "<ROOT>").replace(self.files, "<FILES>")
        # The schema file lives where each tool installs it; the rest of the message must match.
        text = SCHEMA_RE.sub("<SCHEMA>/secret.rng", text)
        per_side = self.uuid_map.setdefault(side.exe, {})

        def repl(m):
            u = m.group(0)
            if u in known_uuids:
                return u
            if u not in per_side:
                per_side[u] = "<UUID%d>" % (len(per_side) + 1)
            return per_side[u]

        return sort_log_entries(UUID_RE.sub(repl, text))

    def disk_state(self, side, known_uuids):
        """{normalised file name: (mode, normalised content)} of the config dir."""
        state = {}
        d = side.config_dir
        if not os.path.isdir(d):
            return state
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = self.normalise(side, f.read(), known_uuids)
            else:
                content = "<not a regular file>"
            state[self.normalise(side, name.encode(), known_uuids)] = (oct(st.st_mode & 0o7777), content)
        return state


def sort_log_entries(text):
    """Load errors are logged in readdir order, which differs between two directories holding
    the same files; so consecutive log entries (with their continuation lines) are compared as
    a sorted block."""
    lines = text.split("\n")
    out, block = [], []

    def flush():
        out.extend(line for entry in sorted(block) for line in entry)
        block.clear()

    for line in lines:
        if line.startswith("<LOG "):
            block.append([line])
        elif block and line and not line.startswith("error: ") and not line.startswith(" "):
            block[-1].append(line)
        else:
            flush()
            out.append(line)
    flush()
    return "\n".join(out)


def split(command):
    return shlex.split(command) if isinstance(command, str) else list(command)
