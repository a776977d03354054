"""Slow and misbehaving TLS clients must not stall other clients of `vsecretd --listen`.

Each case runs one hostile client that has completed the TLS handshake (with a good certificate, so
it gets past the allow-list and the 0x01 confirmation) and then:
  * drips an RPC frame one byte every 0.5 s;
  * sends only a length word announcing a frame and then stays silent;
  * pipelines thousands of requests and never reads a single reply, so the daemon's writes towards
    it fill the socket buffers.
While the hostile client is in that state a stock virsh on the same daemon must define, set, get
and list within 15 s; a daemon that blocked on the hostile client would need well over 20 s (the
hostile client is kept busy for at least that long), so the margin is wide enough for a loaded
machine. Everything stays on 127.0.0.1 and every process and socket is closed by the test."""
import os
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
import unittest

from vstest import cli, rpc
from vstest.remote import ListeningVsecretd, make_pki, tls_config
from vstest.sockets import free_port

UUID = "8c3a0b64-1e2f-4d5a-8b6c-0fedcba98765"
SECRET_XML = ("<secret ephemeral='no' private='no'><uuid>%s</uuid>"
              "<usage type='ceph'><name>slow-test</name></usage></secret>" % UUID)
LIMIT = 15.0       # what another client may take at most
HOSTILE_FOR = 25.0  # how long the hostile client keeps misbehaving (longer than a blocked server would need)


class SlowClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vsecret-slow-")
        try:
            cls.pki = os.path.join(cls.tmp, "pki")
            make_pki(cls.pki)
            cls.port = free_port()
            cls.d = ListeningVsecretd(tls_config(cls.pki, cls.port), port=cls.port)
        except Exception:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def uri(self):
        return "secret+tls://127.0.0.1:%d/system?pkipath=%s" % (self.port, os.path.join(self.pki, "client"))

    def tls_client(self):
        """A TLS connection with the good client certificate, past the one-byte confirmation."""
        client = os.path.join(self.pki, "client")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(client, "cacert.pem"))
        ctx.load_cert_chain(os.path.join(client, "clientcert.pem"), os.path.join(client, "clientkey.pem"))
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            conn = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        except Exception:
            raw.close()
            raise
        self.addCleanup(conn.close)
        self.assertEqual(conn.recv(1), b"\x01")
        return conn

    def other_client_is_served(self):
        """A full define/set/get/list cycle of a stock virsh, timed."""
        start = time.monotonic()
        rc, out, err = cli.virsh(self.uri(), "secret-define", "/dev/stdin", input=SECRET_XML.encode())
        self.assertEqual(rc, 0, err)
        rc, _, err = cli.virsh(self.uri(), "secret-set-value", UUID, "--base64", "c2xvdw==")
        self.assertEqual(rc, 0, err)
        rc, out, err = cli.virsh(self.uri(), "secret-get-value", UUID)
        self.assertEqual((rc, out.strip()), (0, "c2xvdw=="), err)
        rc, out, err = cli.virsh(self.uri(), "secret-list")
        self.assertEqual(rc, 0, err)
        self.assertIn(UUID, out)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, LIMIT)
        return elapsed

    def run_beside(self, hostile):
        """Runs hostile(stop_event) in a thread and checks that virsh is served meanwhile."""
        stop = threading.Event()
        errors = []

        def body():
            try:
                hostile(stop)
            except (OSError, ssl.SSLError) as e:  # the daemon may drop a peer it considers abusive
                errors.append(e)

        t = threading.Thread(target=body, daemon=True)
        t.start()
        try:
            time.sleep(1.0)  # let the hostile client get into its state first
            self.assertTrue(t.is_alive() or errors, "hostile client ended early")
            self.other_client_is_served()
            # And again, later, while it is still misbehaving.
            time.sleep(2.0)
            self.other_client_is_served()
        finally:
            stop.set()
            t.join(timeout=HOSTILE_FOR + 10)
        self.assertFalse(t.is_alive())

    def test_byte_drip(self):
        conn = self.tls_client()
        data = rpc.frame(66, 0)  # REMOTE_PROC_AUTH_LIST

        def drip(stop):
            deadline = time.monotonic() + HOSTILE_FOR
            i = 0
            while not stop.is_set() and time.monotonic() < deadline:
                conn.sendall(data[i % len(data):i % len(data) + 1])
                i += 1
                stop.wait(0.5)

        self.run_beside(drip)

    def test_length_word_then_silence(self):
        conn = self.tls_client()

        def stall(stop):
            conn.sendall(struct.pack(">I", 4096))  # announces a 4 KiB frame, sends none of it
            stop.wait(HOSTILE_FOR)

        self.run_beside(stall)

    def test_never_reads_replies(self):
        conn = self.tls_client()
        conn.settimeout(2.0)
        batch = b"".join(rpc.frame(66, serial) for serial in range(256))

        def flood(stop):
            # Requests go out until the daemon stops reading them (its replies fill our receive
            # buffer and its send buffer); we never read. Timeouts on send are expected then.
            deadline = time.monotonic() + HOSTILE_FOR
            sent = 0
            while not stop.is_set() and time.monotonic() < deadline and sent < 64 * 1024 * 1024:
                try:
                    conn.sendall(batch)
                    sent += len(batch)
                except (socket.timeout, ssl.SSLWantWriteError):
                    stop.wait(0.2)

        self.run_beside(flood)

    def test_daemon_still_healthy_afterwards(self):
        self.test_length_word_then_silence()
        rc, out, err = cli.virsh(self.uri(), "secret-list")
        self.assertEqual(rc, 0, err)
        self.assertIsNone(self.d.proc.poll())


if __name__ == "__main__":
    unittest.main()
