"""Stock virsh and python3-libvirt 9.0 against `vsecretd --listen` over TLS on 127.0.0.1.

Good client certificates work with both URI forms; a client without a certificate, one signed by
an unknown CA, an expired one and one whose DN is outside tls_allowed_dn_list are each refused
before they learn anything; a read-only listener refuses writes; a client that stalls in the
handshake neither blocks others nor keeps its slot past tls_handshake_timeout.
Every certificate and key is created for the run in a temporary directory by scripts/make-certs.sh."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from vstest import cli, paths, process
from vstest.remote import ListeningVsecretd, make_pki, tls_config
from vstest.sockets import free_port

UUID = "6a1f6e53-0d2b-4c3c-9a55-0123456789ab"
SECRET_XML = ("<secret ephemeral='no' private='no'><uuid>%s</uuid>"
              "<usage type='ceph'><name>remote-test</name></usage></secret>" % UUID)


PY_CLIENT = r'''
import sys, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
c = libvirt.open(sys.argv[1])
s = c.secretDefineXML(sys.argv[2])
s.setValue(b"py-value")
print(c.isSecure(), c.isEncrypted(), s.value().decode(), len(c.listAllSecrets()))
c.close()
'''


PY_REFUSED = r'''
import sys, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
try:
    c = libvirt.open(sys.argv[1])
    names = [s.UUIDString() for s in c.listAllSecrets()]
except libvirt.libvirtError as e:
    print("refused:", e.get_error_message())
    sys.exit(3)
print("NOT REFUSED", names)
sys.exit(0)
'''


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vsecret-tls-")
        cls.pki = os.path.join(cls.tmp, "pki")
        make_pki(cls.pki)
        cls.port = free_port()
        cls.d = ListeningVsecretd(tls_config(cls.pki, cls.port), port=cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def uri(self, who="client", scheme="secret+tls"):
        return "%s://127.0.0.1:%d/system?pkipath=%s" % (scheme, self.port, os.path.join(self.pki, who))

    def test_virsh_define_set_get_list(self):
        rc, out, err = cli.virsh(self.uri(), "secret-define", "/dev/stdin", input=SECRET_XML.encode())
        self.assertEqual(rc, 0, err)
        self.assertIn(UUID, out)
        rc, _, err = cli.virsh(self.uri(), "secret-set-value", UUID, "--base64", "dGxzLXZhbHVl")
        self.assertEqual(rc, 0, err)
        rc, out, err = cli.virsh(self.uri(scheme="secret"), "secret-get-value", UUID)
        self.assertEqual((rc, out.strip()), (0, "dGxzLXZhbHVl"), err)
        rc, out, err = cli.virsh(self.uri(), "secret-list")
        self.assertEqual(rc, 0, err)
        self.assertIn("ceph remote-test", out)

    def test_python_libvirt(self):
        xml = SECRET_XML.replace(UUID, "7b2f6e53-0d2b-4c3c-9a55-0123456789ab").replace("remote-test", "py")
        p = subprocess.run([paths.PYTHON, "-c", PY_CLIENT, self.uri(), xml], capture_output=True, timeout=process.TIMEOUT,
                           env=process.clean_env())
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        secure, encrypted, value, _ = p.stdout.decode().split()
        self.assertEqual((secure, encrypted, value), ("1", "1", "py-value"))

    def test_vsecret_cli(self):
        rc, out, err = process.run([paths.VSECRET, "-c", self.uri(), "secret-list"])
        self.assertEqual(rc, 0, err)
        self.assertIn("UUID", out)

    def refused(self, who):
        rc, out, err = cli.virsh(self.uri(who), "secret-list")
        self.assertEqual(rc, 1, out)
        self.assertNotIn(UUID, out + err)
        self.assertIn("error", err)
        # The same client credentials through python3-libvirt: open (or the first call) raises
        # libvirtError, and nothing about the store comes back.
        p = subprocess.run([paths.PYTHON, "-c", PY_REFUSED, self.uri(who)], capture_output=True,
                           timeout=process.TIMEOUT, env=process.clean_env())
        py_out = p.stdout.decode() + p.stderr.decode()
        self.assertEqual(p.returncode, 3, py_out)
        self.assertIn("refused:", py_out)
        self.assertNotIn(UUID, py_out)
        return err

    def test_refuses_missing_certificate(self):
        self.refused("nocert")

    def test_refuses_unknown_ca(self):
        self.refused("foreign")

    def test_refuses_expired_certificate(self):
        self.refused("expired")

    def test_refuses_dn_outside_allow_list(self):
        self.refused("intruder")
        self.assertIn("not in tls_allowed_dn_list", self.d.stderr())

    def test_vsecret_cli_refused_without_certificate(self):
        rc, out, err = process.run([paths.VSECRET, "-c", self.uri("intruder"), "secret-list"])
        self.assertEqual(rc, 1, out)
        self.assertIn("TLS confirmation", err)

    def test_client_verifies_server_unless_no_verify(self):
        # A good client certificate, but a CA file that did not sign the server's certificate.
        wrong = os.path.join(self.tmp, "wrongca")
        shutil.copytree(os.path.join(self.pki, "client"), wrong, dirs_exist_ok=True)
        shutil.copy(os.path.join(self.pki, "ca2", "cacert.pem"), os.path.join(wrong, "cacert.pem"))
        uri = "secret+tls://127.0.0.1:%d/system?pkipath=%s" % (self.port, wrong)
        rc, _, err = process.run([paths.VSECRET, "-c", uri, "secret-list"])
        self.assertEqual(rc, 1)
        rc, _, err = process.run([paths.VSECRET, "-c", uri + "&no_verify=1", "secret-list"])
        self.assertEqual(rc, 0, err)

    def test_stalled_handshakes_do_not_block_others(self):
        idle = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(20)]
        partial = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        partial.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc")  # the start of a ClientHello, then silence
        try:
            # A server that waited for the stalled handshakes would answer only after they time out
            # (tls_handshake_timeout = 20 s), so finishing well before that shows it did not wait;
            # the margin is wide so that a loaded machine cannot make this flaky.
            start = time.monotonic()
            rc, out, err = cli.virsh(self.uri(), "secret-list")
            self.assertEqual(rc, 0, err)
            self.assertLess(time.monotonic() - start, 15)
            # The stalled peers are dropped once the handshake timeout has passed.
            partial.settimeout(40)
            self.assertEqual(partial.recv(1), b"")
            idle[0].settimeout(40)
            self.assertEqual(idle[0].recv(1), b"")
        finally:
            for s in idle + [partial]:
                s.close()


class ReadOnlyTlsTest(unittest.TestCase):
    def test_read_only_listener(self):
        tmp = tempfile.mkdtemp(prefix="vsecret-tls-ro-")
        try:
            pki = os.path.join(tmp, "pki")
            make_pki(pki)
            port = free_port()
            d = ListeningVsecretd(tls_config(pki, port, "tls_read_only = 1\n"), port=port)
            try:
                uri = "secret+tls://127.0.0.1:%d/system?pkipath=%s/client" % (port, pki)
                rc, out, err = cli.virsh(uri, "secret-list")
                self.assertEqual(rc, 0, err)
                rc, out, err = cli.virsh(uri, "secret-define", "/dev/stdin", input=SECRET_XML.encode())
                self.assertEqual(rc, 1, out)
                self.assertIn("read only", err)
            finally:
                d.cleanup()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
