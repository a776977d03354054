"""Raw libvirt RPC: XDR strings, frames, a blocking connection with bounded waits, and reading a
reply's remote_error. Header layout and numbers as libvirt's virnetprotocol.x."""
import socket
import struct

REMOTE = 0x20008086
KEEPALIVE = 0x6B656570


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

    @classmethod
    def tcp(cls, host, port, timeout=5.0):
        """The same over TCP (loopback only in the tests)."""
        self = cls.__new__(cls)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.serial = 0
        return self

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
