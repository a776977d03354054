#!/usr/bin/env python3
"""Crash safety of vol-rekey (issue 13 item 5).

`vsecret vol-rekey` is killed with SIGKILL at every step of the re-key (the compiled-in test hook
VSECRET_TEST_CRASH_AT=<step> makes the process kill itself right after that step's writes):
after the journal, after the new slot's material, after the header enabling it, after the
check, after the secret's new value (the commit point), after disabling the old slot, after
wiping it. After each kill, before anything else touches the volume, cryptsetup --test-passphrase
must accept the value the secret holds at that moment (and qemu-io must open the volume with it);
then a following vol-rekey must complete and leave exactly one key slot, holding the secret's
value, and the data untouched. The same with --old-value-file (the secret was changed by
secret-set-value first), where the volume must open with the secret's value from the moment the
new slot is enabled and with the old passphrase before. Values are read back through
vol-qemu-args (which reads the secret and writes nothing into the volume)."""
import functools
import os
import re
import shutil
import signal
import tempfile
import unittest

from vstest import process
from vstest.paths import VSECRET

QEMU_IO = shutil.which("qemu-io")
CRYPTSETUP = shutil.which("cryptsetup")
UUID = "0d0d0d0d-1111-2222-3333-444444444444"
# In the order vol-rekey reaches them; keyslot-* are inside the key-slot library.
STEPS = ["rekey-journal", "keyslot-add-material", "rekey-slot-added", "rekey-verified", "rekey-secret-set",
         "keyslot-remove-header", "rekey-old-removed"]
DATA = b"the guest's data must survive every crash " * 10


# Binary data in and out, and room for slow PBKDF on a busy host.
run = functools.partial(process.run, text=False, timeout=120)


@unittest.skipUnless(QEMU_IO and CRYPTSETUP, "needs qemu-io and cryptsetup")
class VolumeRekeyCrash(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-rekey-crash-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.pool = os.path.join(self.work, "pool")
        self.root = os.path.join(self.work, "root")
        # On top of process.clean_env(), which drops the caller's LIBVIRT_*/VSECRET_* settings.
        self.env = {"VSECRET_LUKS_ITERATIONS": "1000", "VSECRET_LUKS2_ARGON2": "1,32768,1"}
        self.vs(["pool-define-as", "p1", "dir", "--target", self.pool], ok=True)
        self.vs(["pool-build", "p1"], ok=True)
        self.vs(["pool-start", "p1"], ok=True)
        self.counter = 0

    def write(self, data):
        self.counter += 1
        path = os.path.join(self.work, "f%d" % self.counter)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def vs(self, args, ok=None, crash_at=None):
        env = dict(self.env)
        if crash_at:
            env["VSECRET_TEST_CRASH_AT"] = crash_at
        r = run([VSECRET, "-c", "secret:///embed?root=" + self.root] + args, env=env)
        if ok is True:
            self.assertEqual(r.rc, 0, (args, r.out, r.err))
        return r

    def make_volume(self, name, fmt):
        path = os.path.join(self.pool, name)
        self.vs(["secret-define", self.write((
            "<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='volume'><volume>%s</volume>"
            "</usage></secret>" % (UUID, path)).encode())], ok=True)
        self.vs(["secret-set-value", UUID, "--file", self.write(b"old-pass"), "--plain"], ok=True)
        # "luks2": a raw file in LUKS2 format.
        xml = ("<volume><name>%s</name><capacity unit='M'>1</capacity><target><format type='%s'/>"
               "<encryption format='%s'><secret type='passphrase' uuid='%s'/></encryption></target></volume>"
               % (name, "raw" if fmt == "luks2" else fmt, "luks2" if fmt == "luks2" else "luks", UUID))
        self.vs(["vol-create", "p1", self.write(xml.encode())], ok=True)
        self.vs(["vol-upload", name, self.write(DATA), "--pool", "p1"], ok=True)
        return path

    def drop_volume(self, name):
        self.vs(["vol-delete", name, "--pool", "p1"], ok=True)
        self.vs(["secret-undefine", UUID], ok=True)

    def secret_value(self, name):
        key = os.path.join(self.work, "handover.key")
        if os.path.exists(key):
            os.unlink(key)
        self.vs(["vol-qemu-args", name, "--pool", "p1", "--secret-file", key], ok=True)
        with open(key, "rb") as f:
            return f.read()

    def opens(self, path, fmt, passphrase):
        key = self.write(passphrase)
        if fmt == "luks2":  # qemu 7.2 has no LUKS2: cryptsetup alone
            return run([CRYPTSETUP, "luksOpen", "--test-passphrase", "--key-file", key, path]).rc == 0
        if fmt == "raw":
            cs = run([CRYPTSETUP, "luksOpen", "--test-passphrase", "--key-file", key, path]).rc == 0
            opts = "driver=luks,key-secret=s0,file.filename=%s" % path
        else:
            cs = None
            opts = "driver=qcow2,encrypt.key-secret=s0,file.filename=%s" % path
        r = run([QEMU_IO, "--object", "secret,id=s0,file=" + key, "--image-opts", opts, "-c",
                 "read -P 0x74 0 1"])  # 't', the first byte of DATA
        qemu = r.rc == 0 and b"read 1/1 bytes" in r.out and b"Pattern verification failed" not in r.out
        if cs is not None:
            self.assertEqual(cs, qemu, "cryptsetup and qemu-io disagree")
        return qemu

    def active_slots(self, path, fmt):
        if fmt not in ("raw", "luks2"):
            return None
        dump = run([CRYPTSETUP, "luksDump", path]).out.decode()
        if fmt == "luks2":
            return len(re.findall(r"^  \d+: luks2$", dump, re.M))
        return len(re.findall(r"Key Slot \d: ENABLED", dump))

    def check_after_complete(self, name, path, fmt):
        out = os.path.join(self.work, "out")
        self.vs(["vol-download", name, out, "--pool", "p1", "--length", str(len(DATA))], ok=True)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), DATA)
        value = self.secret_value(name)
        self.assertTrue(self.opens(path, fmt, value))
        self.assertFalse(self.opens(path, fmt, b"old-pass"))
        if fmt in ("raw", "luks2"):
            self.assertEqual(self.active_slots(path, fmt), 1)
        self.assertFalse(os.path.exists(os.path.join(self.root, "run", "storage", "p1.vols", name + ".jnl")))

    def crash_every_step(self, fmt, adopt):
        for step in STEPS:
            if adopt and step == "rekey-secret-set":
                continue  # no secret change with --old-value-file
            with self.subTest(fmt=fmt, adopt=adopt, step=step):
                name = "v-%s-%s.img" % (fmt, step)
                path = self.make_volume(name, fmt)
                if adopt:
                    self.vs(["secret-set-value", UUID, "--file", self.write(b"set-by-user"), "--plain"], ok=True)
                    args = ["--old-value-file", self.write(b"old-pass")]
                else:
                    args = ["--new-value-file", self.write(b"new-pass")]
                r = self.vs(["vol-rekey", name, "--pool", "p1"] + args, crash_at=step)
                self.assertEqual(r.rc, -signal.SIGKILL, (step, r.out, r.err))
                value = self.secret_value(name)
                if adopt:
                    self.assertEqual(value, b"set-by-user")
                    enabled = STEPS.index(step) >= STEPS.index("rekey-slot-added")
                    # Before the new slot is enabled the volume is as secret-set-value left it.
                    self.assertEqual(self.opens(path, fmt, value), enabled, step)
                    if not enabled:
                        self.assertTrue(self.opens(path, fmt, b"old-pass"))
                else:
                    committed = STEPS.index(step) >= STEPS.index("rekey-secret-set")
                    self.assertEqual(value, b"new-pass" if committed else b"old-pass")
                    self.assertTrue(self.opens(path, fmt, value), step)
                # The next re-key finishes or rolls back the interrupted one, then runs.
                if adopt and not enabled:
                    self.vs(["vol-rekey", name, "--pool", "p1", "--old-value-file", self.write(b"old-pass")],
                            ok=True)
                else:
                    self.vs(["vol-rekey", name, "--pool", "p1", "--generate"], ok=True)
                self.check_after_complete(name, path, fmt)
                self.drop_volume(name)

    def test_raw_rekey_killed_at_every_step(self):
        self.crash_every_step("raw", adopt=False)

    def test_raw_adopt_killed_at_every_step(self):
        self.crash_every_step("raw", adopt=True)

    def test_qcow2_rekey_killed_at_every_step(self):
        self.crash_every_step("qcow2", adopt=False)

    def test_luks2_rekey_killed_at_every_step(self):
        self.crash_every_step("luks2", adopt=False)

    def test_luks2_adopt_killed_at_every_step(self):
        self.crash_every_step("luks2", adopt=True)

    def test_recovery_by_opening_the_volume(self):
        # A pending re-key is also finished by any command that opens the volume (here vol-download).
        path = self.make_volume("v.img", "raw")
        r = self.vs(["vol-rekey", "v.img", "--pool", "p1", "--new-value-file", self.write(b"new-pass")],
                    crash_at="rekey-secret-set")
        self.assertEqual(r.rc, -signal.SIGKILL)
        self.assertEqual(self.active_slots(path, "raw"), 2)
        self.assertTrue(os.path.exists(os.path.join(self.root, "run", "storage", "p1.vols", "v.img.jnl")))
        self.check_after_complete("v.img", path, "raw")
        self.assertEqual(self.secret_value("v.img"), b"new-pass")


if __name__ == "__main__":
    unittest.main()
