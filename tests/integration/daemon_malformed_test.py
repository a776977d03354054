"""Hostile input against the real `vsecretd --root` binary: truncated frames, oversize length
words, wrong program or version, garbage XDR, clients that vanish mid-call or never read. Each
gets libvirt's error or a closed connection; the daemon never crashes, keeps serving other
clients, and the store is unchanged. Where a stock libvirtd is available the protocol-level
answers are compared with its answers."""
import os
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_harness as h  # noqa: E402

U1 = "11111111-2222-3333-4444-555555555555"
UUID1 = bytes.fromhex(U1.replace("-", ""))
HANDLE = UUID1 + struct.pack(">i", 1) + h.xdr_string("/v/a.img")


def probes():
    """(name, list of frames to send after opening) whose replies are compared."""
    return [
        ("unknown proc", [h.frame(9999, 10)]),
        ("negative proc", [h.frame(-5, 10)]),
        ("known but unsupported", [h.frame(4, 10)]),
        ("wrong program", [h.frame(66, 10, prog=0x12345678)]),
        ("wrong version", [h.frame(66, 10, vers=7)]),
        ("status in a call", [h.frame(66, 10, status=1)]),
        ("keepalive as call", [h.frame(1, 10, prog=h.KEEPALIVE)]),
        ("short uuid", [h.frame(141, 10, UUID1[:8])]),
        ("string longer than payload", [h.frame(142, 10, struct.pack(">I", 0x7FFFFFFF) + b"abcd")]),
        ("string over 4 MiB", [h.frame(142, 10, struct.pack(">I", 4194305) + b"x" * 4194308 + b"\0" * 4)]),
        ("value over 64 KiB", [h.frame(144, 10, HANDLE + struct.pack(">I", 65537) + b"v" * 65540 + b"\0" * 4)]),
        ("bad pointer discriminant", [h.frame(380, 10, struct.pack(">iI", 0, 2))]),
        ("list count garbage", [h.frame(287, 10, b"\xff\xff")]),
        ("reply-type frame then call", [h.frame(66, 9, mtype=1), h.frame(66, 10)]),
        ("message-type frame then call", [h.frame(66, 9, mtype=2), h.frame(66, 10)]),
        ("stream-type frame then call", [h.frame(66, 9, mtype=3), h.frame(66, 10)]),
        ("unknown type then call", [h.frame(66, 9, mtype=77), h.frame(66, 10)]),
        ("trailing junk", [h.frame(66, 10, b"\x01" * 100)]),
        ("ping", [h.frame(1, 0, prog=h.KEEPALIVE, mtype=2)]),
    ]


def answers(daemon):
    out = []
    for name, frames in probes():
        c = h.RawConn(daemon.rw)
        try:
            c.open()
            for f in frames:
                c.send(f)
            out.append((name, h.describe(c.recv())))
        finally:
            c.close()
    return out


class MalformedFramesTest(unittest.TestCase):
    def setUp(self):
        self.daemon = h.Vsecretd()
        rc, _, err = h.virsh(self.daemon.uri(), "secret-define", "/dev/stdin",
                             stdin=("<secret><uuid>%s</uuid><usage type='volume'><volume>/v/a.img</volume></usage>"
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
        rc, out, err = h.virsh(self.daemon.uri(), "secret-list")
        self.assertEqual(rc, 0, err)
        self.assertIn(U1, out)
        self.assertEqual(self.store_state(), self.before)

    def test_bad_length_words_close_the_connection(self):
        for word in (0, 4, 8, 27, 33554437, 0x7FFFFFFF, 0xFFFFFFFF):
            c = h.RawConn(self.daemon.rw)
            c.send(struct.pack(">I", word) + b"\0" * 24)
            self.assertTrue(c.eof(), word)
            c.close()
        self.assert_healthy()

    def test_largest_legal_frame_is_read_and_answered(self):
        c = h.RawConn(self.daemon.rw, timeout=30)
        c.open()
        payload = struct.pack(">I", 33554408 - 8) + b"x" * (33554408 - 8) + b"\0" * 4
        c.send(h.frame(142, 7, payload))
        self.assertEqual(h.describe(c.recv()), ("err", 39, 7, "Unable to decode message payload"))
        c.close()
        self.assert_healthy()

    def test_truncated_and_vanishing_clients(self):
        for data in (b"\x00\x00", h.frame(66, 0)[:20], h.frame(142, 5, h.xdr_string("<secret/>") + b"\0\0\0\0")[:-3]):
            c = h.RawConn(self.daemon.rw)
            c.send(data)
            c.close()
        # A define whose reply nobody reads: the connection goes away mid-call.
        c = h.RawConn(self.daemon.rw)
        c.open()
        c.send(h.frame(142, 5, h.xdr_string("<secret><uuid>%s</uuid><usage type='volume'><volume>/v/a.img</volume>"
                                             "</usage></secret>" % U1) + b"\0\0\0\0"))
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
        time.sleep(0.2)
        self.assert_healthy()

    def test_client_that_never_reads_does_not_block_others(self):
        hog = h.RawConn(self.daemon.rw)
        hog.open()
        hog.sock.setblocking(False)
        call = h.frame(143, 3, HANDLE + b"\0\0\0\0")
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
        c = h.RawConn(self.daemon.rw)
        c.open()
        for proc in (139, 140, 141, 142, 143, 144, 145, 146, 147, 287, 380, 381):
            for junk in (b"", b"\xff", b"\xff" * 7, b"\x7f\xff\xff\xff" * 3, os.urandom(64)):
                c.send(h.frame(proc, 99, junk))
                reply = c.recv()
                self.assertIsNotNone(reply, (proc, junk))
        c.close()
        self.assertEqual(self.store_state(), self.before)
        self.assert_healthy()

    def test_answers_match_libvirtd(self):
        ours = answers(self.daemon)
        for name, got in ours:
            self.assertNotEqual(got, ("closed",), name)
        if not h.libvirtd_available():
            self.skipTest("needs root, unshare and the stock libvirtd for the comparison")
        stock = h.StockLibvirtd()
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
