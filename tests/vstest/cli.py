"""The command-line tools: virsh() against a daemon's URI, and (for the conformance suites) virsh
and vsecret side by side on two embedded roots, compared as a user (or a script) would see them.

There are two references. libvirt 12.x (the virsh of the Debian testing root that
scripts/libvirt12-root.sh builds, run through vstest.libvirt12 with the scratch directory shared
at the same path) is the default expectation: vsecret runs as it is. libvirt 9.0 (the host's
virsh) is compared with vsecret in its 9.0 compatibility mode (VSECRET_COMPAT=9.0).

Normalisation is limited to what legitimately differs between two runs: the root paths, UUIDs
that are generated at random, and the timestamp/pid/function of libvirt-format log lines (plus
the two "info" banner lines libvirt prints before its first log line).
"""

import os
import re
import shlex
import shutil
import stat
import tempfile

from vstest import libvirt12
from vstest.paths import VIRSH, VSECRET
from vstest.process import run

TIMEOUT = 60

# The references a suite runs against: name -> environment vsecret gets to match it.
REFERENCES = {"12": {}, "9.0": {"VSECRET_COMPAT": "9.0"}}

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LOG_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: \d+: (\w+) : \S+ : ", re.M)
SCHEMA_RE = re.compile(r"/\S*/schemas/secret\.rng")
BANNER_RE = re.compile(r"^.*: info : (libvirt version|hostname): .*\n", re.M)


def virsh(uri, *args, input=None, readonly=False):
    """The host's virsh (9.0) on uri: Result(rc, out, err) as str."""
    argv = [VIRSH]
    if readonly:
        argv.append("-r")
    return run(argv + ["-c", uri] + list(args), input=input)


class Side:
    """One tool (virsh or vsecret) on its own scratch root. `env` is added to the clean
    environment (vsecret's compatibility setting)."""

    def __init__(self, exe, root, env=None):
        self.exe, self.root, self.env = exe, root, dict(env or {})

    @property
    def uri(self):
        return "secret:///embed?root=" + self.root

    def cmd(self, command, extra=(), input=None):
        """Result(rc, out, err) as bytes of `exe [extra] -c URI command...`."""
        return run([self.exe, *extra, "-c", self.uri, *command], input=input, env=self.env, timeout=TIMEOUT,
                   text=False)

    @property
    def config_dir(self):
        return os.path.join(self.root, "etc", "secrets")


class Libvirt12Side(Side):
    """virsh of the libvirt 12.x root; `share` is visible at the same path inside the root."""

    def __init__(self, root, share):
        super().__init__("virsh-12", root)
        self.share = share

    def cmd(self, command, extra=(), input=None):
        return libvirt12.run(["virsh", *extra, "-c", self.uri, *command], share=[self.share], timeout=TIMEOUT,
                             input=input, text=False)


class Pair:
    """virsh on root A and vsecret on root B, plus a shared directory of input files.
    reference: "12" (virsh of the 12.x root, vsecret as it is) or "9.0" (the host's virsh,
    vsecret with VSECRET_COMPAT=9.0)."""

    def __init__(self, reference="12"):
        self.reference = reference
        self.work = tempfile.mkdtemp(prefix="vsecret-conf-")
        self.files = os.path.join(self.work, "files")
        os.makedirs(self.files)
        if reference == "12":
            self.libvirt = Libvirt12Side(os.path.join(self.work, "A"), self.work)
        else:
            self.libvirt = Side(VIRSH, os.path.join(self.work, "A"))
        self.vsecret = Side(VSECRET, os.path.join(self.work, "B"), REFERENCES[reference])
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
