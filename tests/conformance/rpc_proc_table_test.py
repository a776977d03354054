#!/usr/bin/env python3
"""Conformance of vsecretd's REMOTE procedure table with libvirt 12.x: the same raw frames to
vsecretd and to the 12.x root's libvirtd loading only its secret driver, before and after
CONNECT_OPEN, and the answers compared (code, domain, message, or the reply payload).

Covered: every procedure from 444 (the first after 9.0) to 470 (libvirt 12.8's last is 456; 446 and 453-455 are event
messages) with empty, all-zero and well-formed arguments; the older procedures whose arguments
12.x checks before NO_SUPPORT (63, 109, 217) or whose answer changed since 9.0 (278); and
CONNECT_GET_LIB_VERSION (157) and CONNECT_GET_VERSION (4).

libvirtd 12.8 crashes on 444 and 445 (NETWORK_SET/GET_METADATA) once the connection is open and
the arguments pass the API's checks; there vsecretd is checked to answer NO_SUPPORT instead
(README, deliberate differences), and to give libvirtd's errors for the arguments it refuses.
"""
import shutil
import struct
import tempfile
import time
import unittest

from vstest import daemons, libvirt12, process, rpc, sockets

S = rpc.xdr_string


def ints(*values):
    return b"".join(struct.pack(">i", v) for v in values)


def opt(s):
    return ints(1) + S(s)


UUID = bytes(range(16))
DOM = S("dom1") + UUID + ints(7)
NET = S("net1") + UUID


def param(name, type_, value):
    return S(name) + ints(type_) + value


INT_PARAM = param("total_bytes_sec", 1, ints(5))

# proc -> well-formed argument payloads (each also sent shortened by one word).
WELL_FORMED = {
    4: [b""],
    157: [b""],
    63: [S("") + S("") + S("") + bytes(8), S("d") + S("cookie") + S("uri") + bytes(8)],
    109: [S("") + S("") + S("") + bytes(8) + ints(0), S("d") + S("c") + S("u") + bytes(8) + ints(0)],
    217: [S("") + S("") + ints(0, 0) + bytes(8) + ints(0), S("d") + S("c") + opt("x") + opt("u") + bytes(8) + ints(1)],
    278: [DOM],
    444: [NET + ints(1) + opt("<m/>") + opt("key") + opt("http://x") + ints(0)],
    445: [NET + ints(1) + opt("http://x") + ints(0)],
    447: [S("dev") + S("<device/>") + ints(0)],
    448: [DOM + ints(0, 0)],
    449: [DOM],
    450: [DOM + ints(1)],
    451: [DOM + S("grp") + ints(1) + INT_PARAM + ints(0),
          DOM + S("grp") + ints(2) + INT_PARAM + param("s", 7, S("v")) + ints(0),
          DOM + S("grp") + ints(1) + param("a" * 80, 1, ints(1)) + ints(0),
          DOM + S("grp") + ints(1) + param("x", 9, ints(1)) + ints(0),
          DOM + S("grp") + ints(32) + INT_PARAM * 32 + ints(0),
          DOM + S("grp") + ints(33) + INT_PARAM * 33 + ints(0),
          DOM + S("") + ints(0) + ints(0)],
    452: [DOM + opt("grp") + ints(0), DOM + opt("") + ints(0), DOM + ints(0) + ints(0)],
    456: [DOM + opt("eth0") + ints(0, 0), DOM + ints(0) + ints(0, 0)],
}
CRASHES_LIBVIRTD_WHEN_OPEN = {444, 445}
NULL = ints(0)
METADATA_ARGS = [
    (444, NET + ints(0) + NULL + NULL + opt("u") + ints(0)),
    (444, NET + ints(0) + NULL + opt("k") + NULL + ints(0)),
    (444, NET + ints(0) + opt("m") + opt("k") + opt("u") + ints(0)),
    (444, NET + ints(1) + opt("a\nb") + NULL + opt("u") + ints(0)),
    (444, NET + ints(1) + opt("title") + NULL + NULL + ints(0)),
    (444, NET + ints(2) + opt("m") + opt("k") + NULL + ints(0)),
    (444, NET + ints(2) + opt("m") + NULL + opt("u") + ints(0)),
    (444, NET + ints(2) + NULL + NULL + opt("u") + ints(0)),
    (444, NET + ints(7) + opt("m") + opt("k") + opt("u") + ints(0)),
    (444, bytes(4096)),
    (444, b""),
    (445, NET + ints(0) + opt("u") + ints(0)),
    (445, NET + ints(1) + NULL + ints(0)),
    (445, NET + ints(2) + NULL + ints(0)),
    (445, NET + ints(2) + opt("u") + ints(0)),
    (445, NET + ints(-1) + NULL + ints(0)),
    (445, bytes(4096)),
]


def probes():
    """(name, proc, payload) of every frame sent."""
    out = []
    procs = sorted(set(range(444, 471)) | set(WELL_FORMED))
    for p in procs:
        out.append(("%d empty" % p, p, b""))
        out.append(("%d zeros" % p, p, bytes(4096)))
        for i, payload in enumerate(WELL_FORMED.get(p, [])):
            out.append(("%d args%d" % (p, i), p, payload))
            if payload:
                out.append(("%d args%d-short" % (p, i), p, payload[:-4]))
    return out


class Libvirtd12:
    def __init__(self):
        self.scratch = tempfile.mkdtemp(prefix="vsecret-lv12-")
        self.proc, self.rw, _ = libvirt12.secret_only_libvirtd(self.scratch)
        sockets.wait_for_socket(self.rw, self.proc, timeout=30)

    def alive(self):
        time.sleep(0.3)
        return self.proc.poll() is None

    def cleanup(self):
        process.stop_process(self.proc)
        shutil.rmtree(self.scratch, ignore_errors=True)


def connect(path, opened):
    for _ in range(50):
        try:
            c = rpc.RawConn(path)
            break
        except ConnectionRefusedError:
            time.sleep(0.1)
    else:
        raise RuntimeError("cannot connect to " + path)
    if opened:
        c.open()
    return c


def answers(path, opened, frames):
    c = connect(path, opened)
    out = {}
    for name, proc, payload in frames:
        r = c.call(proc, payload)
        out[name] = rpc.describe(r)
        if r is None:
            c.close()
            c = connect(path, opened)
    c.close()
    return out


@unittest.skipUnless(daemons.libvirtd_available(), "needs root, unshare and the libvirt 12.x root")
class RpcProcTable12(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.vs = daemons.Vsecretd()
        cls.lv = Libvirtd12()

    @classmethod
    def tearDownClass(cls):
        cls.vs.cleanup()
        cls.lv.cleanup()

    def compare(self, opened):
        frames = [f for f in probes() if not (opened and f[1] in CRASHES_LIBVIRTD_WHEN_OPEN)]
        want = answers(self.lv.rw, opened, frames)
        got = answers(self.vs.rw, opened, frames)
        self.assertTrue(self.lv.alive(), "libvirtd 12 died")
        for name, _, _ in frames:
            with self.subTest(probe=name, opened=opened):
                self.assertEqual(got[name], want[name])

    def test_before_open(self):
        self.compare(opened=False)

    def test_after_open(self):
        self.compare(opened=True)

    def test_library_version_is_12_8(self):
        c = connect(self.vs.rw, True)
        self.assertEqual(rpc.describe(c.call(157)), ("ok", struct.pack(">Q", 12008000).hex()))
        c.close()

    def test_network_metadata_after_open(self):
        # On a libvirtd of its own, restarted whenever a call kills it: where it dies, vsecretd
        # says NO_SUPPORT; elsewhere both give the same error.
        apis = {444: "virNetworkSetMetadata", 445: "virNetworkGetMetadata"}
        lv = Libvirtd12()
        died = 0
        try:
            for i, (proc, payload) in enumerate(METADATA_ARGS):
                c = connect(lv.rw, True)
                want = rpc.describe(c.call(proc, payload))
                c.close()
                if not lv.alive():
                    died += 1
                    want = ("err", 3, 19, "this function is not supported by the connection driver: " + apis[proc])
                    lv.cleanup()
                    lv = Libvirtd12()
                c = connect(self.vs.rw, True)
                got = rpc.describe(c.call(proc, payload))
                c.close()
                with self.subTest(case=i, proc=proc):
                    self.assertEqual(got, want)
        finally:
            lv.cleanup()
        self.assertGreater(died, 0, "libvirtd 12 no longer crashes: drop the README note")


if __name__ == "__main__":
    unittest.main(verbosity=2)
