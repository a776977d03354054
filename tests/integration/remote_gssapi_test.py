"""Kerberos (SASL GSSAPI) on the plain TCP listener, `secret+tcp://localhost:PORT/system`: what
libvirt's documentation promises for TCP ("remote access, SASL/Kerberos").

A real MIT KDC (vstest.kerberos) with a throw-away realm, the service principal
libvirt/localhost in a keytab and user principals whose tickets come from keytabs (no password
anywhere). vsecretd and a stock libvirtd 9.0 (its secret driver only) are configured the same
way: auth_tcp = "sasl", Cyrus's libvirt.conf with mech_list gssapi and the keytab through
SASL_CONF_PATH, the same sasl_allowed_username_list. The stock virsh, python3-libvirt and vsecret
then run the same transcript against both, and the outcomes and error texts must be the same.

GSSAPI negotiates a confidentiality layer (SSF 56 or more), so after the handshake the daemon's
socket traffic must hold neither XML nor the value: the test reads it with strace.
Loopback only; the KDC and both daemons are stopped by PID."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from vstest import cli, daemons, kerberos, paths, process
from vstest.remote import ListeningVsecretd, wait_port
from vstest.sockets import free_port

UUID = "7d3e2f40-9c86-4e50-b143-2c3d4e5f6071"
CANARY = b"gssapi-canary-3f9a1c"
SECRET_XML = ("<secret ephemeral='no' private='no'><uuid>%s</uuid>"
              "<usage type='iscsi'><target>gssapi-test</target></usage></secret>" % UUID)

PY_CLIENT = r'''
import sys, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
try:
    c = libvirt.open(sys.argv[1])
except libvirt.libvirtError as e:
    print("error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
    sys.exit(0)
s = c.secretLookupByUUIDString(sys.argv[2])
print(s.UUIDString(), s.value().decode(), c.isEncrypted(), len(c.listAllSecrets()))
c.close()
'''


def _tcp_config(port):
    return ('listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\ntcp_port = "%d"\n'
            'auth_tcp = "sasl"\nsasl_allowed_username_list = ["ali*"]\n' % port)


class GssapiTcpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kdc = kerberos.Kdc()
        try:
            cls.kdc.add_service("libvirt/localhost")
            cls.kdc.add_user("alice")
            cls.kdc.add_user("bob")
            cls.alice = cls.kdc.kinit("alice")
            cls.bob = cls.kdc.kinit("bob")
            cls.dir = tempfile.mkdtemp(prefix="vsecret-gssapi-")
            with open(os.path.join(cls.dir, "libvirt.conf"), "w") as f:
                f.write("mech_list: gssapi\nkeytab: %s\n" % cls.kdc.service_keytab)
            server_env = dict(cls.kdc.env(keytab=cls.kdc.service_keytab), SASL_CONF_PATH=cls.dir)
            cls.port = free_port()
            cls.vsecretd = ListeningVsecretd(_tcp_config(cls.port), port=cls.port, env=server_env)
            cls.lport = free_port()
            cls.libvirtd = daemons.StockLibvirtd(extra_config=_tcp_config(cls.lport), args=["--listen"],
                                                 env=server_env)
            wait_port(cls.lport, cls.libvirtd.proc)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for name in ("vsecretd", "libvirtd"):
            d = getattr(cls, name, None)
            if d is not None:
                d.cleanup()
        if getattr(cls, "dir", None):
            shutil.rmtree(cls.dir, ignore_errors=True)
        cls.kdc.stop()

    def uri(self, port):
        return "secret+tcp://localhost:%d/system" % port

    def run_virsh(self, port, ccache, *args):
        return cli.run([cli.VIRSH, "-c", self.uri(port)] + list(args), env=self.kdc.env(ccache))

    def both(self, ccache, *args):
        """The same virsh command against vsecretd and libvirtd: both results."""
        return self.run_virsh(self.port, ccache, *args), self.run_virsh(self.lport, ccache, *args)

    def test_1_virsh_defines_sets_and_gets_with_a_ticket(self):
        xml = os.path.join(self.dir, "secret.xml")
        with open(xml, "w") as f:
            f.write(SECRET_XML)
        value = os.path.join(self.dir, "value")
        with open(value, "wb") as f:
            f.write(CANARY)
        for args in (("secret-define", xml), ("secret-set-value", UUID, "--file", value, "--plain"),
                     ("secret-get-value", UUID), ("secret-list",), ("secret-dumpxml", UUID)):
            ours, theirs = self.both(self.alice, *args)
            self.assertEqual(ours.rc, 0, ours)
            self.assertEqual((ours.rc, ours.out, ours.err), (theirs.rc, theirs.out, theirs.err), args)
        self.assertEqual(ours.rc, 0)
        r = self.run_virsh(self.port, self.alice, "secret-get-value", UUID)
        self.assertEqual(r.out.strip(), "Z3NzYXBpLWNhbmFyeS0zZjlhMWM=")  # base64 of CANARY

    def test_2_python_libvirt_with_a_ticket(self):
        for port in (self.port, self.lport):
            r = cli.run(["/usr/bin/python3", "-c", PY_CLIENT, self.uri(port), UUID], env=self.kdc.env(self.alice))
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(r.out.split(), [UUID, CANARY.decode(), "1", "1"], port)

    def test_3_vsecret_cli_with_a_ticket(self):
        env = self.kdc.env(self.alice)
        r = cli.run([paths.VSECRET, "-c", self.uri(self.port), "secret-get-value", UUID], env=env)
        self.assertEqual((r.rc, r.out.strip()), (0, "Z3NzYXBpLWNhbmFyeS0zZjlhMWM="), r)
        r = cli.run([paths.VSECRET, "-c", self.uri(self.lport), "secret-get-value", UUID], env=env)
        self.assertEqual((r.rc, r.out.strip()), (0, "Z3NzYXBpLWNhbmFyeS0zZjlhMWM="), r)
        r = cli.run([paths.VSECRET, "-c", self.uri(self.port), "secret-list"], env=env)
        self.assertEqual(r.rc, 0, r)
        self.assertIn(UUID, r.out)

    def test_4_without_a_ticket_refused(self):
        ours, theirs = self.both(None, "secret-list")
        self.assertEqual(ours.rc, 1, ours)
        # The client's GSSAPI library refuses before anything is sent: the same text both ways,
        # naming the missing credentials cache.
        self.assertEqual(ours.err, theirs.err)
        self.assertIn("error: authentication failed: Failed to start SASL negotiation", ours.err)
        self.assertIn("No Kerberos credentials available", ours.err)
        # vsecret, like virsh: the same two lines.
        r = cli.run([paths.VSECRET, "-c", self.uri(self.port), "secret-list"], env=self.kdc.env(None))
        self.assertEqual((r.rc, r.out, r.err), (1, "", ours.err))

    def test_5_user_outside_the_allow_list_refused_and_learns_nothing(self):
        ours, theirs = self.both(self.bob, "secret-list")
        self.assertEqual(ours.rc, 1, ours)
        self.assertEqual((ours.rc, ours.out, ours.err), (theirs.rc, theirs.out, theirs.err))
        self.assertIn("error: authentication failed: authentication failed", ours.err)
        self.assertNotIn(UUID, ours.out + ours.err)
        r = cli.run(["/usr/bin/python3", "-c", PY_CLIENT, self.uri(self.port), UUID], env=self.kdc.env(self.bob))
        self.assertEqual(r.out.split()[:3], ["error", "45", "7"], r)  # VIR_ERR_AUTH_FAILED, VIR_FROM_RPC

    def test_6_traffic_after_authentication_is_not_in_the_clear(self):
        # strace of the daemon's socket reads and writes while virsh sets and reads the value.
        log = os.path.join(self.dir, "strace.log")
        tracer = subprocess.Popen(["strace", "-f", "-qq", "-yy", "-xx", "-s", "1048576", "-o", log,
                                   "-e", "trace=read,write,readv,writev,recvfrom,sendto,recvmsg,sendmsg",
                                   "-p", str(self.vsecretd.proc.pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)  # strace attaches to every thread before the client connects
            value = os.path.join(self.dir, "value2")
            with open(value, "wb") as f:
                f.write(CANARY)
            r = self.run_virsh(self.port, self.alice, "secret-set-value", UUID, "--file", value, "--plain")
            self.assertEqual(r.rc, 0, r)
            r = self.run_virsh(self.port, self.alice, "secret-dumpxml", UUID)
            self.assertEqual(r.rc, 0, r)
            self.assertIn("<secret", r.out)
            time.sleep(0.3)
        finally:
            process.stop_process(tracer, sig=signal.SIGINT)
        # Only the calls on TCP sockets (-yy names each descriptor): the daemon's own files (the
        # store, its log) are not the wire.
        with open(log) as f:
            wire = [line for line in f if "<TCP:" in line or "<TCPv6:" in line]
        data = bytes.fromhex("".join(re.findall(r'\\x([0-9a-f]{2})', "".join(wire))))
        # The trace did see the connection: the AUTH_SASL_INIT call names the remote program.
        self.assertGreater(len(data), 1000, "strace saw no traffic")
        self.assertIn(b"GSSAPI", data)
        for needle in (CANARY, b"<secret", b"<uuid>", b"gssapi-test", UUID.encode()):
            self.assertNotIn(needle, data)


if __name__ == "__main__":
    unittest.main()
