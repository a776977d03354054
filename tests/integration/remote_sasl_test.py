"""SASL authentication on vsecretd's plain TCP listener (auth_tcp = "sasl", the default), driven by
the stock virsh 9.0 and python3-libvirt: DIGEST-MD5 from a throw-away sasldb made by saslpasswd2
(password on stdin), the daemon's Cyrus configuration from a private libvirt.conf through
SASL_CONF_PATH, the clients' credentials from an auth.conf through LIBVIRT_AUTH_FILE.

DIGEST-MD5 negotiates a security layer (SSF 128 here), so everything after the handshake goes
through SASL encode/decode; the raw checks below show that calls before authentication are
refused with libvirt's "authentication required" and that the handshake deadline closes a silent
client. Loopback only; every daemon is stopped by its PID."""
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from vstest import cli, paths, process, rpc
from vstest import daemons
from vstest.remote import ListeningVsecretd, make_pki, tls_config, wait_port
from vstest.sockets import free_port

# Under ASan, the vsecretd and vsecret processes started here run Cyrus's DIGEST-MD5, whose leak
# scripts/lsan-suppressions.txt suppresses by module name: that needs whole allocation stacks.
if "address" in os.environ.get("VSECRET_SANITIZED", ""):
    os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":fast_unwind_on_malloc=0"

UUID = "5b1d0c2e-7a64-4c3e-9f21-0a1b2c3d4e5f"
SECRET_XML = ("<secret ephemeral='no' private='no'><uuid>%s</uuid>"
              "<usage type='ceph'><name>sasl-test</name></usage></secret>" % UUID)
USER, PASSWORD = "alice", "alice-sasl-pass-19"

PY_CLIENT = r'''
import sys, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
# The credentials come from LIBVIRT_AUTH_FILE; the callback only declares what may be asked and
# refuses if libvirt ever falls back to it.
auth = [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE], lambda creds, opaque: -1, None]
c = libvirt.openAuth(sys.argv[1], auth, 0)
s = c.secretLookupByUUIDString(sys.argv[2])
print(s.UUIDString(), s.value().decode(), c.isEncrypted(), len(c.listAllSecrets()))
c.close()
'''

# Events travel as unsolicited frames through the SASL layer: a value change made by another
# connection reaches this one.
PY_EVENTS = r'''
import sys, threading, time, libvirt, subprocess
libvirt.registerErrorHandler(lambda ctx, err: None, None)
libvirt.virEventRegisterDefaultImpl()
auth = [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE], lambda creds, opaque: -1, None]
c = libvirt.openAuth(sys.argv[1], auth, 0)
seen = []
c.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_VALUE_CHANGED, lambda conn, sec, opaque: seen.append(sec.UUIDString()), None)
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
s = libvirt.openAuth(sys.argv[1], auth, 0).secretLookupByUUIDString(sys.argv[2])
# Several events: the daemon's accounting of queued event bytes must follow their encoded size.
for i in range(3):
    s.setValue(b"sasl-canary-value")
    deadline = time.time() + 10
    while len(seen) <= i and time.time() < deadline:
        time.sleep(0.05)
print(" ".join(seen), c.isAlive())
'''


def add_user(db, user, password):
    subprocess.run(["saslpasswd2", "-f", db, "-p", "-a", "libvirt", "-c", user], input=password.encode(),
                   check=True, timeout=30, env=process.clean_env())


def write_auth_conf(path, user, password):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("[credentials-test]\nauthname=%s\nusername=%s\npassword=%s\n\n"
                "[auth-libvirt-default]\ncredentials=test\n" % (user, user, password))


class SaslTcpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="vsecret-sasl-")
        db = os.path.join(cls.dir, "passwd.db")
        with open(os.path.join(cls.dir, "libvirt.conf"), "w") as f:
            f.write("mech_list: digest-md5\nsasldb_path: %s\n" % db)
        add_user(db, USER, PASSWORD)
        add_user(db, "bob", "bob-sasl-pass-23")
        cls.good = os.path.join(cls.dir, "auth-good.conf")
        cls.bad = os.path.join(cls.dir, "auth-bad.conf")
        cls.bob = os.path.join(cls.dir, "auth-bob.conf")
        write_auth_conf(cls.good, USER, PASSWORD)
        write_auth_conf(cls.bad, USER, "not-the-password")
        write_auth_conf(cls.bob, "bob", "bob-sasl-pass-23")
        cls.port = free_port()
        config = ('listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\ntcp_port = "%d"\n'
                  'sasl_allowed_username_list = ["al*"]\nsasl_auth_timeout = 3\n' % cls.port)
        cls.d = ListeningVsecretd(config, port=cls.port, env={"SASL_CONF_PATH": cls.dir})

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def uri(self):
        return "secret+tcp://127.0.0.1:%d/system" % self.port

    def virsh(self, auth_file, *args):
        return cli.run([cli.VIRSH, "-c", self.uri()] + list(args), env={"LIBVIRT_AUTH_FILE": auth_file})

    def test_1_virsh_defines_sets_and_gets_over_sasl(self):
        xml = os.path.join(self.dir, "secret.xml")
        with open(xml, "w") as f:
            f.write(SECRET_XML)
        r = self.virsh(self.good, "secret-define", xml)
        self.assertEqual(r.rc, 0, r)
        self.assertIn(UUID, r.out)
        value = os.path.join(self.dir, "value")
        with open(value, "wb") as f:
            f.write(b"sasl-canary-value")
        r = self.virsh(self.good, "secret-set-value", UUID, "--file", value, "--plain")
        self.assertEqual(r.rc, 0, r)
        r = self.virsh(self.good, "secret-get-value", UUID)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out.strip(), "c2FzbC1jYW5hcnktdmFsdWU=")  # base64 of the value
        r = self.virsh(self.good, "secret-list")
        self.assertEqual(r.rc, 0, r)
        self.assertIn(UUID, r.out)

    def test_2_python_libvirt_over_sasl(self):
        r = cli.run(["/usr/bin/python3", "-c", PY_CLIENT, self.uri(), UUID], env={"LIBVIRT_AUTH_FILE": self.good})
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out.split(), [UUID, "sasl-canary-value", "1", "1"])

    def test_2_python_events_over_sasl(self):
        r = cli.run(["/usr/bin/python3", "-c", PY_EVENTS, self.uri(), UUID], env={"LIBVIRT_AUTH_FILE": self.good})
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out.split(), [UUID] * 3 + ["1"])

    def test_3_vsecret_cli_over_sasl(self):
        env = {"LIBVIRT_AUTH_FILE": self.good}
        r = cli.run([paths.VSECRET, "-c", self.uri(), "secret-get-value", UUID], env=env)
        self.assertEqual((r.rc, r.out.strip()), (0, "c2FzbC1jYW5hcnktdmFsdWU="), r)
        uuid = "6c2e1d3f-8b75-4d4f-a032-1b2c3d4e5f60"
        xml = SECRET_XML.replace(UUID, uuid).replace("sasl-test", "sasl-cli")
        r = cli.run([paths.VSECRET, "-c", self.uri(), "secret-define", "/dev/stdin"], input=xml, env=env)
        self.assertEqual(r.rc, 0, r)
        r = cli.run([paths.VSECRET, "-c", self.uri(), "secret-list"], env=env)
        self.assertEqual(r.rc, 0, r)
        self.assertIn(uuid, r.out)
        # Wrong password and a user outside the allow list: libvirtd's answer, nothing else.
        for auth in (self.bad, self.bob):
            r = cli.run([paths.VSECRET, "-c", self.uri(), "secret-list"], env={"LIBVIRT_AUTH_FILE": auth})
            self.assertNotEqual(r.rc, 0, r)
            self.assertIn("authentication failed: authentication failed", r.err)
            self.assertNotIn(uuid, r.out)
        # No credentials at all and no terminal to ask: refused by the client itself.
        empty = os.path.join(self.dir, "auth-empty.conf")
        write_auth_conf(empty, USER, PASSWORD)
        with open(empty, "w") as f:
            f.write("# nothing for this host\n")
        r = cli.run([paths.VSECRET, "-c", self.uri(), "secret-list"], env={"LIBVIRT_AUTH_FILE": empty})
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("authentication failed", r.err)

    def test_wrong_password_is_refused(self):
        r = self.virsh(self.bad, "secret-list")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: authentication failed: authentication failed", r.err)

    def test_user_outside_the_allow_list_is_refused(self):
        r = self.virsh(self.bob, "secret-list")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: authentication failed: authentication failed", r.err)
        self.assertNotIn(UUID, r.out)

    def test_calls_before_authentication_are_refused(self):
        c = rpc.RawConn.tcp("127.0.0.1", self.port)
        try:
            header, payload = c.call(66)  # AUTH_LIST
            self.assertEqual(payload, struct.pack(">Ii", 1, 1))  # [SASL]
            for proc, args in ((1, struct.pack(">I", 1) + rpc.xdr_string("secret:///system") + struct.pack(">I", 0)),
                               (60, struct.pack(">i", 10)), (287, struct.pack(">iI", 1, 0)), (2, b"")):
                self.assertEqual(rpc.describe(c.call(proc, args)), ("err", 39, 7, "authentication required"), proc)
            # START without INIT, then a token over 65536 bytes: libvirt's refusals.
            step = rpc.xdr_string("DIGEST-MD5") + struct.pack(">iI", 0, 0)
            self.assertEqual(rpc.describe(c.call(68, step)),
                             ("err", 45, 7, "authentication failed: authentication failed"))
            big = struct.pack(">iI", 0, 65537) + b"\0\0\0\x41" * 65537
            self.assertEqual(rpc.describe(c.call(69, big)), ("err", 39, 7, "Unable to decode message payload"))
            header, payload = c.call(67)  # INIT lists the mechanisms
            self.assertEqual(header[5], 0)
            self.assertIn(b"DIGEST-MD5", payload)
        finally:
            c.close()

    def test_credentials_typed_on_a_terminal_without_echo(self):
        # No auth.conf entry for the host: vsecret asks on its terminal, as virsh does, and the
        # password is not echoed back.
        empty = os.path.join(self.dir, "auth-none.conf")
        with open(empty, "w") as f:
            f.write("# nothing for this host\n")
        master, slave = os.openpty()
        p = subprocess.Popen([paths.VSECRET, "-c", self.uri(), "secret-get-value", UUID], stdin=slave,
                             stdout=subprocess.PIPE, stderr=slave,
                             env=process.clean_env({"LIBVIRT_AUTH_FILE": empty}))
        os.close(slave)
        seen = b""
        try:
            for prompt, answer in ((b"Please enter your authentication name: ", USER),
                                   (b"Please enter your password: ", PASSWORD)):
                deadline = time.monotonic() + 20
                while prompt not in seen:
                    self.assertLess(time.monotonic(), deadline, seen)
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:
                        chunk = b""
                    self.assertTrue(chunk, "terminal closed before %r: %r" % (prompt, seen))
                    seen += chunk
                time.sleep(0.2)  # echo is switched off before the prompt is printed
                os.write(master, answer.encode() + b"\n")
            out, _ = p.communicate(timeout=30)
            try:
                while True:
                    chunk = os.read(master, 4096)
                    if not chunk:
                        break
                    seen += chunk
            except OSError:
                pass
        finally:
            if p.poll() is None:
                process.stop_process(p)
            os.close(master)
        self.assertEqual((p.returncode, out.strip()), (0, b"c2FzbC1jYW5hcnktdmFsdWU="), seen)
        self.assertIn(USER.encode(), seen)  # the name is echoed
        self.assertNotIn(PASSWORD.encode(), seen)  # the password is not

    def test_garbage_steps_and_repeated_failures_leave_the_daemon_serving(self):
        init = lambda c: c.call(67)  # noqa: E731
        start = rpc.xdr_string("DIGEST-MD5") + struct.pack(">iI", 0, 0)
        garbage = struct.pack(">iI", 0, 5) + b"".join(struct.pack(">i", b) for b in b"\x00\xff=,\"")
        c = rpc.RawConn.tcp("127.0.0.1", self.port, timeout=10)
        try:
            # Five failed attempts with a garbage answer to the challenge, each restarting the
            # handshake as a client may; the fifth closes the connection.
            for attempt in range(5):
                header, _ = init(c)
                self.assertEqual(header[5], 0, attempt)
                header, _ = c.call(68, start)
                self.assertEqual(header[5], 0, attempt)  # the server's challenge
                self.assertEqual(rpc.describe(c.call(69, garbage)),
                                 ("err", 45, 7, "authentication failed: authentication failed"), attempt)
            self.assertEqual(c.sock.recv(1), b"")
        finally:
            c.close()
        # A truncated START is a decode error, not a crash.
        c = rpc.RawConn.tcp("127.0.0.1", self.port, timeout=10)
        try:
            init(c)
            self.assertEqual(rpc.describe(c.call(68, rpc.xdr_string("DIGEST-MD5")[:6])),
                             ("err", 39, 7, "Unable to decode message payload"))
        finally:
            c.close()
        r = self.virsh(self.good, "secret-list")
        self.assertEqual(r.rc, 0, r)
        self.assertIn(UUID, r.out)

    def test_silent_client_is_dropped_after_the_deadline(self):
        c = rpc.RawConn.tcp("127.0.0.1", self.port, timeout=10)
        try:
            start = time.monotonic()
            self.assertEqual(c.sock.recv(1), b"")  # closed by the daemon, not by the timeout
            self.assertLess(time.monotonic() - start, 9)
            self.assertGreaterEqual(time.monotonic() - start, 2)
        finally:
            c.close()
        # Others are unaffected.
        r = self.virsh(self.good, "secret-list")
        self.assertEqual(r.rc, 0, r)


class SaslTlsAndUnixTest(unittest.TestCase):
    """auth_tls = "sasl" (certificate and SASL) and auth_unix_rw = "sasl" with SCRAM-SHA-256: both
    transports are secure, so a mechanism without a security layer is offered and accepted
    there, and nothing is wrapped."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="vsecret-sasl-tls-")
        db = os.path.join(cls.dir, "passwd.db")
        with open(os.path.join(cls.dir, "libvirt.conf"), "w") as f:
            f.write("mech_list: scram-sha-256\nsasldb_path: %s\n" % db)
        add_user(db, USER, PASSWORD)
        cls.good = os.path.join(cls.dir, "auth-good.conf")
        cls.bad = os.path.join(cls.dir, "auth-bad.conf")
        write_auth_conf(cls.good, USER, PASSWORD)
        write_auth_conf(cls.bad, USER, "not-the-password")
        cls.pki = os.path.join(cls.dir, "pki")
        make_pki(cls.pki)
        cls.port = free_port()
        config = tls_config(cls.pki, cls.port, 'listen_tcp = 0\nauth_tls = "sasl"\nauth_unix_rw = "sasl"\n')
        cls.d = ListeningVsecretd(config, port=cls.port, env={"SASL_CONF_PATH": cls.dir})

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def uris(self):
        return ("secret+tls://127.0.0.1:%d/system?pkipath=%s" % (self.port, os.path.join(self.pki, "client")),
                "secret:///system?socket=%s" % self.d.rw)

    def test_scram_on_tls_and_unix(self):
        for uri in self.uris():
            for tool in (cli.VIRSH, paths.VSECRET):
                r = cli.run([tool, "-c", uri, "secret-list"], env={"LIBVIRT_AUTH_FILE": self.good})
                self.assertEqual(r.rc, 0, (uri, tool, r))
                r = cli.run([tool, "-c", uri, "secret-list"], env={"LIBVIRT_AUTH_FILE": self.bad})
                self.assertNotEqual(r.rc, 0, (uri, tool, r))
                self.assertIn("authentication failed: authentication failed", r.err, (uri, tool))


class SaslStockLibvirtdTest(unittest.TestCase):
    """vsecret's SASL client against the stock libvirtd 9.0 (secret driver only) with
    auth_tcp = "sasl" and the same Cyrus set-up: same outcomes as against vsecretd."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="libvirtd-sasl-")
        db = os.path.join(cls.dir, "passwd.db")
        with open(os.path.join(cls.dir, "libvirt.conf"), "w") as f:
            f.write("mech_list: digest-md5\nsasldb_path: %s\n" % db)
        add_user(db, USER, PASSWORD)
        cls.good = os.path.join(cls.dir, "auth-good.conf")
        cls.bad = os.path.join(cls.dir, "auth-bad.conf")
        write_auth_conf(cls.good, USER, PASSWORD)
        write_auth_conf(cls.bad, USER, "not-the-password")
        cls.port = free_port()
        config = ('listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\ntcp_port = "%d"\n'
                  'auth_tcp = "sasl"\n' % cls.port)
        cls.d = daemons.StockLibvirtd(extra_config=config, args=["--listen"], env={"SASL_CONF_PATH": cls.dir})
        try:
            wait_port(cls.port, cls.d.proc)
        except Exception:
            cls.d.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_vsecret_against_libvirtd(self):
        uri = "secret+tcp://127.0.0.1:%d/system" % self.port
        uuid = "7d3f2e40-9c86-4e50-b143-2c3d4e5f6071"
        xml = SECRET_XML.replace(UUID, uuid)
        env = {"LIBVIRT_AUTH_FILE": self.good}
        r = cli.run([paths.VSECRET, "-c", uri, "secret-define", "/dev/stdin"], input=xml, env=env)
        self.assertEqual(r.rc, 0, r)
        r = cli.run([paths.VSECRET, "-c", uri, "secret-set-value", uuid, "--base64", "bGlidmlydGQ="], env=env)
        self.assertEqual(r.rc, 0, r)
        r = cli.run([paths.VSECRET, "-c", uri, "secret-list"], env=env)
        self.assertEqual(r.rc, 0, r)
        self.assertIn(uuid, r.out)
        r = cli.run([paths.VSECRET, "-c", uri, "secret-list"], env={"LIBVIRT_AUTH_FILE": self.bad})
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("authentication failed: authentication failed", r.err)
        # The stock virsh gets the same answer from libvirtd as from vsecretd.
        r = cli.run([cli.VIRSH, "-c", uri, "secret-list"], env={"LIBVIRT_AUTH_FILE": self.bad})
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: authentication failed: authentication failed", r.err)


if __name__ == "__main__":
    unittest.main()
