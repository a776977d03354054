#!/usr/bin/env python3
"""Crash safety of vol-convert (issue 13 item 4, conversion).

`vsecret vol-convert` is killed with SIGKILL at every step (the compiled-in test hook
VSECRET_TEST_CRASH_AT=<step>) of a LUKS1 -> LUKS2 conversion of a volume in qemu's layout (whose
keyslot 0 must move out of the way of the LUKS2 headers, through a free slot's area) and of the
conversion back. After each kill, before vsecret touches the volume again, cryptsetup
--test-passphrase must accept the secret's value (and qemu-io must open the volume while it is
LUKS1); the header is LUKS2 exactly from the commit point on. Then the next command that opens
the volume (vol-download) finishes or undoes the conversion: the data is intact, the journal is
gone, vol-dumpxml names the format the header has, and a new vol-convert works."""
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
UUID = "0b0b0b0b-1111-2222-3333-444444444444"
PASS = b"convert-pass"
# In the order vol-convert reaches them; from "convert-secondary-written" on the volume is LUKS2.
TO_LUKS2 = ["convert-journal", "convert-material-copied", "convert-luks1-staged", "convert-material-placed",
            "convert-secondary-written", "convert-primary-written", "convert-wiped"]
TO_LUKS1 = ["convert-journal", "convert-material-copied", "convert-header-written", "convert-wiped"]
DATA = b"the guest's data must survive every crash " * 10

run = functools.partial(process.run, text=False, timeout=120)


@unittest.skipUnless(QEMU_IO and CRYPTSETUP, "needs qemu-io and cryptsetup")
class VolumeConvertCrash(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-convert-crash-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.pool = os.path.join(self.work, "pool")
        self.root = os.path.join(self.work, "root")
        self.key = os.path.join(self.work, "key")
        with open(self.key, "wb") as f:
            f.write(PASS)
        self.env = {"VSECRET_LUKS_ITERATIONS": "1000", "VSECRET_LUKS2_ARGON2": "1,32768,1"}
        self.vs(["pool-define-as", "p1", "dir", "--target", self.pool], ok=True)
        self.vs(["pool-build", "p1"], ok=True)
        self.vs(["pool-start", "p1"], ok=True)

    def write(self, name, data):
        path = os.path.join(self.work, name)
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

    def make_volume(self, name):
        path = os.path.join(self.pool, name)
        self.vs(["secret-define", self.write("s.xml", (
            "<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='volume'><volume>%s</volume>"
            "</usage></secret>" % (UUID, path)).encode())], ok=True)
        self.vs(["secret-set-value", UUID, "--file", self.key, "--plain"], ok=True)
        xml = ("<volume><name>%s</name><capacity unit='M'>1</capacity><target><format type='raw'/>"
               "<encryption format='luks'><secret type='passphrase' uuid='%s'/></encryption></target></volume>"
               % (name, UUID))
        self.vs(["vol-create", "p1", self.write("vol.xml", xml.encode())], ok=True)
        self.vs(["vol-upload", name, self.write("data", DATA), "--pool", "p1"], ok=True)
        return path

    def drop_volume(self, name):
        self.vs(["vol-delete", name, "--pool", "p1"], ok=True)
        self.vs(["secret-undefine", UUID], ok=True)

    def version(self, path):
        r = run([CRYPTSETUP, "luksDump", path])
        self.assertEqual(r.rc, 0, r.err)
        return int(re.search(r"^Version:\s+(\d)", r.out.decode(), re.M).group(1))

    def opens(self, path):
        """cryptsetup accepts the secret's value; qemu-io too while the volume is LUKS1."""
        cs = run([CRYPTSETUP, "open", "--test-passphrase", "--key-file", self.key, path]).rc == 0
        if self.version(path) == 2:  # qemu 7.2 has no LUKS2
            return cs
        opts = "driver=luks,key-secret=s0,file.filename=%s" % path
        r = run([QEMU_IO, "--object", "secret,id=s0,file=" + self.key, "--image-opts", opts, "-c",
                 "read -P 0x74 0 1"])  # 't', the first byte of DATA
        qemu = r.rc == 0 and b"read 1/1 bytes" in r.out and b"Pattern verification failed" not in r.out
        self.assertEqual(cs, qemu, "cryptsetup and qemu-io disagree")
        return cs

    def journal(self, name):
        return os.path.join(self.root, "run", "storage", "p1.vols", name + ".jnl")

    def finished(self, name, path, version):
        out = os.path.join(self.work, "out")
        self.vs(["vol-download", name, out, "--pool", "p1", "--length", str(len(DATA))], ok=True)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), DATA)
        self.assertFalse(os.path.exists(self.journal(name)))
        self.assertEqual(self.version(path), version)
        xml = self.vs(["vol-dumpxml", name, "--pool", "p1"], ok=True).out.decode()
        self.assertIn("<encryption format='%s'>" % ("luks2" if version == 2 else "luks"), xml)
        self.assertTrue(self.opens(path))

    def test_to_luks2_killed_at_every_step(self):
        for step in TO_LUKS2:
            with self.subTest(step=step):
                name = "v-%s.img" % step
                path = self.make_volume(name)
                r = self.vs(["vol-convert", name, "--pool", "p1", "--format", "luks2"], crash_at=step)
                self.assertEqual(r.rc, -signal.SIGKILL, (step, r.out, r.err))
                self.assertTrue(os.path.exists(self.journal(name)))
                committed = TO_LUKS2.index(step) >= TO_LUKS2.index("convert-primary-written")
                self.assertEqual(self.version(path), 2 if committed else 1, step)
                self.assertTrue(self.opens(path), step)
                # The secondary copy is the commit point even while the LUKS1 header is still at 0.
                done = TO_LUKS2.index(step) >= TO_LUKS2.index("convert-secondary-written")
                self.finished(name, path, 2 if done else 1)
                if not done:
                    self.vs(["vol-convert", name, "--pool", "p1", "--format", "luks2"], ok=True)
                    self.finished(name, path, 2)
                self.drop_volume(name)

    def test_to_luks1_killed_at_every_step(self):
        for step in TO_LUKS1:
            with self.subTest(step=step):
                name = "w-%s.img" % step
                path = self.make_volume(name)
                self.vs(["vol-convert", name, "--pool", "p1", "--format", "luks2"], ok=True)
                r = self.vs(["vol-convert", name, "--pool", "p1", "--format", "luks1"], crash_at=step)
                self.assertEqual(r.rc, -signal.SIGKILL, (step, r.out, r.err))
                done = TO_LUKS1.index(step) >= TO_LUKS1.index("convert-header-written")
                self.assertEqual(self.version(path), 1 if done else 2, step)
                self.assertTrue(self.opens(path), step)
                self.finished(name, path, 1 if done else 2)
                if not done:
                    self.vs(["vol-convert", name, "--pool", "p1", "--format", "luks1"], ok=True)
                    self.finished(name, path, 1)
                self.drop_volume(name)


if __name__ == "__main__":
    unittest.main()
