"""Stock virsh, python3-libvirt and `vsecret` against `vsecretd --listen` over plain TCP on 127.0.0.1.

The plain TCP listener is off by default; with listen_tcp = 1 it serves secret+tcp:// URIs exactly
as libvirtd's does. A non-loopback listen_addr is refused at start-up unless
tcp_allow_non_loopback = 1 says otherwise, and tcp_read_only = 1 makes the listener refuse every
write. Nothing here leaves the loopback interface; every daemon is stopped by its PID."""
import os
import shutil
import subprocess
import tempfile
import unittest

from vstest import cli, paths, process
from vstest.remote import ListeningVsecretd
from vstest.sockets import free_port

UUID = "3c0e7d21-5a4b-4f8e-8d6c-13579bdf2468"
SECRET_XML = ("<secret ephemeral='no' private='no'><uuid>%s</uuid>"
              "<usage type='ceph'><name>tcp-test</name></usage></secret>" % UUID)


def tcp_config(port, extra=""):
    # Unauthenticated TCP is what these tests exercise; SASL is tests/integration/remote_sasl_test.py.
    return 'listen_tls = 0\nlisten_tcp = 1\nauth_tcp = "none"\nlisten_addr = "127.0.0.1"\ntcp_port = "%d"\n%s' % (port, extra)


PY_CLIENT = r'''
import sys, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
c = libvirt.open(sys.argv[1])
s = c.secretDefineXML(sys.argv[2])
s.setValue(b"py-tcp-value")
print(s.UUIDString(), s.value().decode(), len(c.listAllSecrets()))
c.close()
'''


class TcpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = ListeningVsecretd(tcp_config(cls.port), port=cls.port)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def uri(self):
        return "secret+tcp://127.0.0.1:%d/system" % self.port

    def test_virsh_define_set_get_list(self):
        rc, out, err = cli.virsh(self.uri(), "secret-define", "/dev/stdin", input=SECRET_XML.encode())
        self.assertEqual(rc, 0, err)
        self.assertIn(UUID, out)
        rc, _, err = cli.virsh(self.uri(), "secret-set-value", UUID, "--base64", "dGNwLXZhbHVl")
        self.assertEqual(rc, 0, err)
        rc, out, err = cli.virsh(self.uri(), "secret-get-value", UUID)
        self.assertEqual((rc, out.strip()), (0, "dGNwLXZhbHVl"), err)
        rc, out, err = cli.virsh(self.uri(), "secret-list")
        self.assertEqual(rc, 0, err)
        self.assertIn("ceph tcp-test", out)

    def test_python_libvirt(self):
        uuid = "4d1f8e32-6b5c-4a9f-9e7d-2468ace13579"
        xml = SECRET_XML.replace(UUID, uuid).replace("tcp-test", "py-tcp")
        p = subprocess.run([paths.PYTHON, "-c", PY_CLIENT, self.uri(), xml], capture_output=True,
                           timeout=process.TIMEOUT, env=process.clean_env())
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        got_uuid, value, count = p.stdout.decode().split()
        self.assertEqual((got_uuid, value), (uuid, "py-tcp-value"))
        self.assertGreaterEqual(int(count), 1)

    def test_vsecret_cli(self):
        uuid = "5e2a9f43-7c6d-4b0a-8f8e-3579bdf02468"
        xml = SECRET_XML.replace(UUID, uuid).replace("tcp-test", "cli-tcp")
        rc, out, err = process.run([paths.VSECRET, "-c", self.uri(), "secret-define", "/dev/stdin"], input=xml.encode())
        self.assertEqual(rc, 0, err)
        self.assertIn(uuid, out)
        rc, _, err = process.run([paths.VSECRET, "-c", self.uri(), "secret-set-value", uuid, "--base64", "Y2xp"])
        self.assertEqual(rc, 0, err)
        rc, out, err = process.run([paths.VSECRET, "-c", self.uri(), "secret-get-value", uuid])
        self.assertEqual((rc, out.strip()), (0, "Y2xp"), err)
        rc, out, err = process.run([paths.VSECRET, "-c", self.uri(), "secret-list"])
        self.assertEqual(rc, 0, err)
        self.assertIn(uuid, out)


class TcpPolicyTest(unittest.TestCase):
    def run_daemon(self, config_text):
        """Runs vsecretd to completion (it is expected to refuse to start); returns (status, output)."""
        root = tempfile.mkdtemp(prefix="vsecretd-tcp-refuse-")
        conf = os.path.join(root, "vsecretd.conf")
        with open(conf, "w") as f:
            f.write(config_text)
        proc = subprocess.Popen([paths.VSECRETD, "--root", os.path.join(root, "root"), "--listen", "--config", conf],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=process.clean_env())
        try:
            out, _ = proc.communicate(timeout=15)
            return proc.returncode, out.decode(errors="replace")
        finally:
            process.stop_process(proc)
            shutil.rmtree(root, ignore_errors=True)

    def test_refuses_non_loopback_without_override(self):
        port = free_port()
        rc, out = self.run_daemon('listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "0.0.0.0"\ntcp_port = "%d"\n' % port)
        self.assertEqual(rc, 1, out)
        self.assertIn("refusing to listen for plain TCP on non-loopback address '0.0.0.0:%d'" % port, out)
        self.assertIn("tcp_allow_non_loopback = 1", out)

    def test_read_only_listener_refuses_writes(self):
        port = free_port()
        d = ListeningVsecretd(tcp_config(port, "tcp_read_only = 1\n"), port=port)
        try:
            uri = "secret+tcp://127.0.0.1:%d/system" % port
            rc, out, err = cli.virsh(uri, "secret-list")
            self.assertEqual(rc, 0, err)
            rc, out, err = cli.virsh(uri, "secret-define", "/dev/stdin", input=SECRET_XML.encode())
            self.assertEqual(rc, 1, out)
            self.assertIn("read only", err)
            rc, out, err = process.run([paths.VSECRET, "-c", uri, "secret-define", "/dev/stdin"], input=SECRET_XML.encode())
            self.assertNotEqual(rc, 0, out)
            rc, out, err = cli.virsh(uri, "secret-list")
            self.assertEqual(rc, 0, err)
            self.assertNotIn(UUID, out)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
