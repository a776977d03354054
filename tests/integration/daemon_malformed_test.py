"""Hostile input against the real `vsecretd --root` binary: truncated frames, oversize length
words, wrong program or version, garbage XDR, clients that vanish mid-call or never read. Each
gets libvirt's error or a closed connection; the daemon never crashes, keeps serving other
clients, and the store is unchanged. Where a stock libvirtd is available the protocol-level
answers are compared with its answers."""
import os
import socket
import struct
import time
import unittest

from vstest import cli, daemons, rpc

U1 = "11111111-2222-3333-4444-555555555555"
UUID1 = bytes.fromhex(U1.replace("-", ""))
HANDLE = UUID1 + struct.pack(">i", 1) + rpc.xdr_string("/v/a.img")


def probes():
    """(name, list of frames to send after opening) whose replies are compared."""
    return [
        ("unknown proc", [rpc.frame(9999, 10)]),
        ("negative proc", [rpc.frame(-5, 10)]),
        ("known but unsupported", [rpc.frame(4, 10)]),
        ("wrong program", [rpc.frame(66, 10, prog=0x12345678)]),
        ("wrong version", [rpc.frame(66, 10, vers=7)]),
        ("status in a call", [rpc.frame(66, 10, status=1)]),
        ("keepalive as call", [rpc.frame(1, 10, prog=rpc.KEEPALIVE)]),
        ("short uuid", [rpc.frame(141, 10, UUID1[:8])]),
        ("string longer than payload", [rpc.frame(142, 10, struct.pack(">I", 0x7FFFFFFF) + b"abcd")]),
        ("string over 4 MiB", [rpc.frame(142, 10, struct.pack(">I", 4194305) + b"x" * 4194308 + b"\0" * 4)]),
        ("value over 64 KiB", [rpc.frame(144, 10, HANDLE + struct.pack(">I", 65537) + b"v" * 65540 + b"\0" * 4)]),
        ("bad pointer discriminant", [rpc.frame(380, 10, struct.pack(">iI", 0, 2))]),
        ("list count garbage", [rpc.frame(287, 10, b"\xff\xff")]),
        ("reply-type frame then call", [rpc.frame(66, 9, mtype=1), rpc.frame(66, 10)]),
        ("message-type frame then call", [rpc.frame(66, 9, mtype=2), rpc.frame(66, 10)]),
        ("stream-type frame then call", [rpc.frame(66, 9, mtype=3), rpc.frame(66, 10)]),
        ("unknown type then call", [rpc.frame(66, 9, mtype=77), rpc.frame(66, 10)]),
        ("trailing junk", [rpc.frame(66, 10, b"\x01" * 100)]),
        ("ping", [rpc.frame(1, 0, prog=rpc.KEEPALIVE, mtype=2)]),
    ]


def answers(daemon):
    out = []
    for name, frames in probes():
        c = rpc.RawConn(daemon.rw)
        try:
            c.open()
            for f in frames:
                c.send(f)
            out.append((name, rpc.describe(c.recv())))
        finally:
            c.close()
    return out


class MalformedFramesTest(unittest.TestCase):
    def setUp(self):
        self.daemon = daemons.Vsecretd()
        rc, _, err = cli.virsh(self.daemon.uri(), "secret-define", "/dev/stdin",
                               input=("<secret><uuid>%s</uuid><usage type='volume'><volume>/v/a.img</volume></usage>"
                                      "</secret>" % U1).encode())
        self.assertEqual(rc, 0, err)
        self.store = os.path.join(self.daemon.root, "etc", "secrets")
        self.before = self.store_state()

    def tearDown(self):
        self.daemon.cleanup()

    def store_state(self):
        state = {}
        for name in sorted(os.listdir(self.store)):
            with open(os.path.join(self.store, name), "rb") as f:
                state[name] = f.read()
        return state

    def assert_healthy(self):
        self.assertIsNone(self.daemon.proc.poll(), "daemon died")
        rc, out, err = cli.virsh(self.daemon.uri(), "secret-list")
        self.assertEqual(rc, 0, err)
        self.assertIn(U1, out)
        self.assertEqual(self.store_state(), self.before)

    def test_bad_length_words_close_the_connection(self):
        for word in (0, 4, 8, 27, 33554437, 0x7FFFFFFF, 0xFFFFFFFF):
            c = rpc.RawConn(self.daemon.rw)
            c.send(struct.pack(">I", word) + b"\0" * 24)
            self.assertTrue(c.eof(), word)
            c.close()
        self.assert_healthy()

    def test_largest_legal_frame_is_read_and_answered(self):
        c = rpc.RawConn(self.daemon.rw, timeout=30)
        c.open()
        payload = struct.pack(">I", 33554408 - 8) + b"x" * (33554408 - 8) + b"\0" * 4
        c.send(rpc.frame(142, 7, payload))
        self.assertEqual(rpc.describe(c.recv()), ("err", 39, 7, "Unable to decode message payload"))
        c.close()
        self.assert_healthy()

    def test_truncated_and_vanishing_clients(self):
        for data in (b"\x00\x00", rpc.frame(66, 0)[:20], rpc.frame(142, 5, rpc.xdr_string("<secret/>") + b"\0\0\0\0")[:-3]):
            c = rpc.RawConn(self.daemon.rw)
            c.send(data)
            c.close()
        # A define whose reply nobody reads: the connection goes away mid-call.
        c = rpc.RawConn(self.daemon.rw)
        c.open()
        c.send(rpc.frame(142, 5, rpc.xdr_string("<secret><uuid>%s</uuid><usage type='volume'><volume>/v/a.img</volume>"
                                             "</usage></secret>" % U1) + b"\0\0\0\0"))
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
        time.sleep(0.2)
        self.assert_healthy()

    def test_client_that_never_reads_does_not_block_others(self):
        hog = rpc.RawConn(self.daemon.rw)
        hog.open()
        hog.sock.setblocking(False)
        call = rpc.frame(143, 3, HANDLE + b"\0\0\0\0")
        sent = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sent < 20000:
            try:
                hog.sock.send(call)
                sent += 1
            except BlockingIOError:
                break
        started = time.monotonic()
        self.assert_healthy()
        self.assertLess(time.monotonic() - started, 5)
        hog.close()

    def test_garbage_payload_for_every_secret_procedure(self):
        c = rpc.RawConn(self.daemon.rw)
        c.open()
        for proc in (139, 140, 141, 142, 143, 144, 145, 146, 147, 287, 380, 381):
            for junk in (b"", b"\xff", b"\xff" * 7, b"\x7f\xff\xff\xff" * 3, os.urandom(64)):
                c.send(rpc.frame(proc, 99, junk))
                reply = c.recv()
                self.assertIsNotNone(reply, (proc, junk))
        c.close()
        self.assertEqual(self.store_state(), self.before)
        self.assert_healthy()

    def test_answers_match_libvirtd(self):
        ours = answers(self.daemon)
        for name, got in ours:
            self.assertNotEqual(got, ("closed",), name)
        if not daemons.libvirtd_available():
            self.skipTest("needs root, unshare and the stock libvirtd for the comparison")
        stock = daemons.StockLibvirtd()
        try:
            theirs = answers(stock)
        finally:
            stock.cleanup()
        for (name, got), (_, want) in zip(ours, theirs):
            with self.subTest(probe=name):
                self.assertEqual(got, want)
        self.assert_healthy()


if __name__ == "__main__":
    unittest.main()
