"""A stand-in for journald in tests: a datagram socket of the test's own that a process started
through prefix() sees as /run/systemd/journal/socket, the fixed path sd_journal_send() writes to.

prefix() runs the command in a private mount namespace (`unshare -m`, so it needs root) with a
tmpfs over /run and the socket's directory bound at /run/systemd/journal; nothing of the host's
/run is touched or visible, and the namespace dies with the process. `exec` keeps the PID the
command's, so it is stopped by its PID like any other daemon of the tests.

entries() decodes journald's native protocol ("KEY=value" lines; "KEY\\n<le64 size><data>\\n"
for values holding a newline) into one dict per datagram; datagrams() gives the raw bytes.
"""
import os
import shlex
import shutil
import socket
import struct
import tempfile
import threading


def available():
    """Whether prefix() can work here (root and unshare)."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None


def decode(datagram):
    """One native-protocol datagram as {field: bytes}."""
    fields, i = {}, 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            key = line
            size = struct.unpack("<Q", datagram[nl + 1:nl + 9])[0]
            value = datagram[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[key.decode()] = value
    return fields


class FakeJournal:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vstest-journal-")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "socket")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.settimeout(0.2)
        self._received = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._received.append(data)

    def prefix(self):
        """argv prefix: prefix() + [cmd, args...] runs cmd with this journal."""
        script = ("set -e; mount --make-rprivate /; mount -t tmpfs -o mode=0755 tmpfs /run; "
                  "mkdir -p /run/systemd/journal; mount --bind %s /run/systemd/journal; exec \"$@\""
                  % shlex.quote(self.dir))
        return ["unshare", "-m", "/bin/sh", "-c", script, "sh"]

    def datagrams(self):
        with self._lock:
            return list(self._received)

    def entries(self):
        return [decode(d) for d in self.datagrams()]

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)
