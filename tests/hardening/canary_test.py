"""Secret values never leak (issue 7, memory hygiene).

Sets distinctive canary values through the embedded store (vsecret -c secret:///embed?root=DIR)
and through vsecretd, runs every secret command at the most verbose log level
(VSECRET_LOG_LEVEL=1, vsecretd --verbose), and searches every stdout, stderr and daemon log for
the canary in raw, base64 (at each of the three alignments) and hex form. The only place allowed
to show a value is the stdout of secret-get-value. With encryption at rest on (secret.conf plus
a key file), the store directory must not hold the value in any of those forms either.

Also checks that vsecretd is not dumpable (prctl(PR_SET_DUMPABLE, 0)): /proc/PID/status.
"""
import base64
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import daemon_harness as h  # noqa: E402

UUIDS = ["5f0c2a3e-3c6b-4d1f-9a0e-7b1d2c3e4f51", "0b6e2f9a-1d3c-4e5f-8a7b-9c0d1e2f3a4b"]


def needles(value):
    """Byte strings any encoding of value that we know of would contain."""
    out = {value, value.hex().encode(), value.hex().upper().encode()}
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + value)
        # Drop the characters that depend on the neighbouring bytes.
        out.add(enc[4:-4])
    return out


class CanaryTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-canary-")
        # Raw canary (binary-safe through --plain) and one set through base64; both distinctive.
        self.canaries = [b"CANARY-" + secrets.token_hex(12).encode() + b"-VALUE-ONE",
                         b"CNRY2:" + secrets.token_bytes(24).hex().encode()]
        self.outputs = []  # (description, bytes, allowed_canaries)

    def tearDown(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def enable_encryption(self, root):
        key = os.path.join(self.work, "key-" + os.path.basename(root))
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(secrets.token_bytes(32))
        os.makedirs(os.path.join(root, "etc"), exist_ok=True)
        with open(os.path.join(root, "etc", "secret.conf"), "w") as f:
            f.write('encrypt_data = 1\nsecrets_encryption_key = "%s"\n' % key)

    def vsecret(self, uri, *args, allowed=False):
        env = h.clean_env({"VSECRET_LOG_LEVEL": "1"})
        r = subprocess.run([h.VSECRET, "-c", uri] + list(args), env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=h.TIMEOUT)
        name = " ".join(args)
        self.outputs.append(("stdout of " + name, r.stdout, allowed))
        self.outputs.append(("stderr of " + name, r.stderr, False))
        return r

    def exercise(self, uri, label):
        """Every secret command, values set by file (base64 and --plain) and on the command line."""
        for i, uuid in enumerate(UUIDS):
            xml = os.path.join(self.work, "%s-%d.xml" % (label, i))
            with open(xml, "w") as f:
                f.write("<secret ephemeral='no' private='%s'><uuid>%s</uuid><usage type='ceph'>"
                        "<name>canary-%s-%d</name></usage></secret>" % ("yes" if i else "no", uuid, label, i))
            self.assertEqual(self.vsecret(uri, "secret-define", xml).returncode, 0)
        raw = os.path.join(self.work, label + "-raw")
        with open(raw, "wb") as f:
            f.write(self.canaries[0])
        b64 = os.path.join(self.work, label + "-b64")
        with open(b64, "wb") as f:
            f.write(base64.b64encode(self.canaries[1]))
        self.assertEqual(self.vsecret(uri, "secret-set-value", UUIDS[0], "--file", raw, "--plain").returncode, 0)
        self.assertEqual(self.vsecret(uri, "secret-set-value", UUIDS[1], "--file", b64).returncode, 0)
        # Setting the same value again and reading values must not log them either.
        self.vsecret(uri, "secret-set-value", UUIDS[0], "--file", raw, "--plain")
        for args in (["secret-list"], ["secret-list", "--all"], ["secret-dumpxml", UUIDS[0]],
                     ["secret-dumpxml", UUIDS[1]], ["secret-set-value", "no-such-uuid", "--file", raw, "--plain"],
                     ["secret-get-value", "no-such-uuid"]):
            self.vsecret(uri, *args)
        got = self.vsecret(uri, "secret-get-value", UUIDS[0], allowed=True)
        self.assertEqual(got.returncode, 0)
        self.assertIn(base64.b64encode(self.canaries[0]), got.stdout)
        # The private secret refuses get-value; its error must not carry the value.
        self.vsecret(uri, "secret-get-value", UUIDS[1])

    def check_outputs(self):
        for what, data, allowed in self.outputs:
            if allowed:
                continue
            for canary in self.canaries:
                for needle in needles(canary):
                    self.assertNotIn(needle, data, "canary found in %s" % what)

    def check_store(self, root):
        found = 0
        for dirpath, _, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                found += 1
                for canary in self.canaries:
                    for needle in needles(canary):
                        self.assertNotIn(needle, data, "canary found in %s" % path)
        self.assertGreater(found, 0)

    def test_embedded(self):
        root = os.path.join(self.work, "embedded")
        os.makedirs(root)
        self.enable_encryption(root)
        self.exercise("secret:///embed?root=" + root, "embedded")
        self.check_outputs()
        self.check_store(root)

    def test_daemon(self):
        root = os.path.join(self.work, "daemon")
        os.makedirs(root)
        self.enable_encryption(root)
        daemon = h.Vsecretd(root=root, args=["--verbose"], env={"VSECRET_LOG_LEVEL": "1"})
        try:
            self.exercise(daemon.uri(), "daemon")
            # A read-only connection is refused the value; that error must be clean too.
            self.vsecret(daemon.uri(ro=True), "secret-get-value", UUIDS[0])
        finally:
            daemon.stop()
        log = daemon.stderr().encode()
        daemon.cleanup()
        self.assertTrue(log, "vsecretd logged nothing at level 1")
        self.outputs.append(("vsecretd log", log, False))
        self.check_outputs()
        self.check_store(root)

    def owner_of_proc_entry(self, argv, root):
        """Starts argv (as nobody when we are root, so ownership tells), returns the uid owning
        /proc/PID/status and the process's core-size limit line."""
        pre = []
        if os.geteuid() == 0:
            self.assertIsNotNone(shutil.which("setpriv"), "setpriv (util-linux) is needed as root")
            os.chown(root, 65534, 65534)
            os.chmod(self.work, 0o711)  # mkdtemp's 0700 would keep nobody out of root
            pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        proc = subprocess.Popen(pre + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=h.clean_env())
        try:
            if "--root" in argv:
                h.wait_for_socket(os.path.join(root, "run", "virtsecretd-sock"), proc)
            else:
                # Until setpriv has exec'd argv, /proc/PID is setpriv's (still root's).
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    with open("/proc/%d/comm" % proc.pid) as f:
                        if f.read().strip() == os.path.basename(argv[0]):
                            break
                    time.sleep(0.01)
            # The files, not the directory: the kernel keeps /proc/PID itself with the owner it
            # had when first looked up, before the daemon called prctl.
            uid = os.stat("/proc/%d/status" % proc.pid).st_uid
            with open("/proc/%d/limits" % proc.pid) as f:
                core = [line for line in f.read().splitlines() if line.startswith("Max core file size")]
        finally:
            h.stop_process(proc)
        return uid, core

    def test_daemon_not_dumpable(self):
        # /proc/PID/* of a process that called prctl(PR_SET_DUMPABLE, 0) belong to root instead
        # of the process's owner (proc(5)). As root, the daemon runs as nobody so this shows.
        root = os.path.join(self.work, "dumpable")
        os.makedirs(root)
        expected_owner = 65534 if os.geteuid() == 0 else os.geteuid()
        # Control: an ordinary process run the same way is owned by its user.
        control_uid, _ = self.owner_of_proc_entry(["sleep", "5"], root)
        self.assertEqual(control_uid, expected_owner)
        uid, core = self.owner_of_proc_entry([h.VSECRETD, "--root", root], root)
        self.assertEqual(uid, 0, "vsecretd is dumpable (/proc/PID/status owned by %d)" % uid)
        self.assertEqual(len(core), 1)
        self.assertEqual(core[0].split()[4], "0", "vsecretd allows core files: " + core[0])

if __name__ == "__main__":
    unittest.main()
