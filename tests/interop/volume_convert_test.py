#!/usr/bin/env python3
"""vol-convert (issue 13 item 4, conversion) against qemu 7.2 and cryptsetup 2.6: a LUKS1 volume
qemu-img made, converted to LUKS2, passes `cryptsetup luksDump` and `--test-passphrase` and its
payload reads back identical; converted back to LUKS1 it opens with qemu-io and qemu-img reads
the same payload. A file `cryptsetup convert --type luks2` made opens with vsecret and converts
back; a file vsecret converted is accepted by `cryptsetup convert --type luks1`. Refusals
(argon2id keyslot to LUKS1, the format the volume has) leave the file's bytes unchanged. Keys go
through files (--key-file, secret objects), never argv."""
import functools
import os
import re
import shutil
import tempfile
import unittest

from vstest import process
from vstest.paths import VSECRET

QEMU_IMG = shutil.which("qemu-img")
QEMU_IO = shutil.which("qemu-io")
CRYPTSETUP = shutil.which("cryptsetup")
UUID = "0c0c0c0c-1111-2222-3333-444444444444"
FAST = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"]
PASS = b"convert-pass"

# Binary data in and out, and room for slow KDFs on a busy host.
run = functools.partial(process.run, text=False, timeout=300)


@unittest.skipUnless(QEMU_IMG and QEMU_IO and CRYPTSETUP, "needs qemu-img, qemu-io and cryptsetup")
class VolumeConvert(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-convert-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.pool = os.path.join(self.work, "pool")
        self.root = os.path.join(self.work, "root")
        os.makedirs(self.pool)
        self.path = os.path.join(self.pool, "v.img")
        self.key = self.write("key", PASS)
        self.env = {"VSECRET_LUKS_ITERATIONS": "1000", "VSECRET_LUKS2_ARGON2": "1,32768,1"}
        self.vs(["pool-define-as", "p1", "dir", "--target", self.pool], ok=True)
        self.vs(["pool-start", "p1"], ok=True)
        self.vs(["secret-define", self.write("s.xml", (
            "<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='volume'><volume>%s</volume>"
            "</usage></secret>" % (UUID, self.path)).encode())], ok=True)
        self.vs(["secret-set-value", UUID, "--file", self.key, "--plain"], ok=True)
        self.payload = bytes((i * 131 + i // 4096) % 251 for i in range(256 * 1024))

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def vs(self, args, ok=None):
        r = run([VSECRET, "-c", "secret:///embed?root=" + self.root] + args, env=self.env)
        if ok is True:
            self.assertEqual(r.rc, 0, (args, r.out, r.err))
        if ok is False:
            self.assertNotEqual(r.rc, 0, (args, r.out, r.err))
        return r

    def convert(self, fmt, ok=True):
        return self.vs(["vol-convert", "v.img", "--pool", "p1", "--format", fmt], ok=ok)

    def upload(self):
        self.vs(["vol-upload", "v.img", self.write("data", self.payload), "--pool", "p1"], ok=True)

    def downloaded(self):
        out = os.path.join(self.work, "out")
        self.vs(["vol-download", "v.img", out, "--pool", "p1", "--length", str(len(self.payload))], ok=True)
        return self.read(out)

    def xml_format(self):
        xml = self.vs(["vol-dumpxml", "v.img", "--pool", "p1"], ok=True).out.decode()
        return re.search(r"<encryption format='([^']+)'", xml).group(1)

    def cryptsetup_version(self):
        r = run([CRYPTSETUP, "luksDump", self.path])
        self.assertEqual(r.rc, 0, r.err)
        return int(re.search(r"^Version:\s+(\d)", r.out.decode(), re.M).group(1))

    def cryptsetup_accepts(self, passphrase=PASS):
        key = self.write("cs.key", passphrase)
        return run([CRYPTSETUP, "open", "--test-passphrase", "--key-file", key, self.path]).rc == 0

    def qemu_reads(self):
        """The payload as qemu-img reads it through its LUKS1 driver (qemu-io opens it first)."""
        opts = "driver=luks,key-secret=s0,file.filename=" + self.path
        obj = "secret,id=s0,file=" + self.key
        r = run([QEMU_IO, "--object", obj, "--image-opts", opts, "-c", "read 0 4096"])
        self.assertEqual(r.rc, 0, r.err)
        self.assertIn(b"read 4096/4096 bytes", r.out)
        out = os.path.join(self.work, "qemu.raw")
        r = run([QEMU_IMG, "convert", "--object", obj, "--image-opts", opts, "-O", "raw", out])
        self.assertEqual(r.rc, 0, r.err)
        return self.read(out)[:len(self.payload)]

    def qemu_img_luks1(self):
        for _ in range(20):  # qemu's PBKDF2 calibration flakes on busy hosts
            p = run([QEMU_IMG, "create", "-q", "-f", "luks", "--object", "secret,id=s,file=" + self.key,
                     "-o", "key-secret=s,iter-time=10", self.path, "1M"])
            if p.rc == 0 or b"Unable to get accurate CPU usage" not in p.err:
                break
        self.assertEqual(p.rc, 0, p.err)
        self.vs(["pool-refresh", "p1"], ok=True)

    def cryptsetup_format(self, luks_type, kdf_args):
        run(["truncate", "-s", "20M", self.path], check=True)
        r = run([CRYPTSETUP, "luksFormat", "-q", "--type", luks_type, "--key-file", self.key] + kdf_args +
                [self.path])
        self.assertEqual(r.rc, 0, r.err)
        self.vs(["pool-refresh", "p1"], ok=True)

    def test_qemu_img_luks1_to_luks2_and_back(self):
        self.qemu_img_luks1()
        self.upload()
        size = os.path.getsize(self.path)
        r = self.convert("luks2")
        self.assertEqual(r.out, b"Vol v.img converted to luks2\n\n")
        self.assertEqual(os.path.getsize(self.path), size)
        self.assertEqual(self.cryptsetup_version(), 2)
        self.assertTrue(self.cryptsetup_accepts())
        self.assertFalse(self.cryptsetup_accepts(b"wrong"))
        self.assertEqual(self.xml_format(), "luks2")
        self.assertEqual(self.downloaded(), self.payload)

        self.convert("luks1")
        self.assertEqual(self.cryptsetup_version(), 1)
        self.assertEqual(self.xml_format(), "luks")
        self.assertEqual(self.qemu_reads(), self.payload)
        self.assertEqual(self.downloaded(), self.payload)

    def test_cryptsetup_converted_volume_opens_and_converts_back(self):
        self.cryptsetup_format("luks1", FAST)
        self.upload()
        r = run([CRYPTSETUP, "convert", "-q", "--type", "luks2", self.path])
        self.assertEqual(r.rc, 0, r.err)
        self.vs(["pool-refresh", "p1"], ok=True)
        self.assertEqual(self.xml_format(), "luks2")
        self.assertEqual(self.downloaded(), self.payload)
        self.convert("luks1")
        self.assertEqual(self.cryptsetup_version(), 1)
        self.assertTrue(self.cryptsetup_accepts())
        self.assertEqual(self.qemu_reads(), self.payload)

    def test_vsecret_converted_volume_is_accepted_by_cryptsetup_convert(self):
        self.cryptsetup_format("luks1", FAST)
        self.upload()
        self.convert("luks2")
        self.assertTrue(self.cryptsetup_accepts())
        r = run([CRYPTSETUP, "convert", "-q", "--type", "luks1", self.path])
        self.assertEqual(r.rc, 0, r.err)
        self.assertEqual(self.cryptsetup_version(), 1)
        self.assertTrue(self.cryptsetup_accepts())
        self.vs(["pool-refresh", "p1"], ok=True)
        self.assertEqual(self.downloaded(), self.payload)

    def test_refusals_change_nothing(self):
        self.cryptsetup_format("luks2", ["--sector-size", "512", "--pbkdf", "argon2id", "--pbkdf-force-iterations", "4",
                                         "--pbkdf-memory", "32768", "--pbkdf-parallel", "1"])
        before = self.read(self.path)
        r = self.convert("luks1", ok=False)
        self.assertIn(("cannot convert '%s' to LUKS1: keyslot 0 uses argon2id; LUKS1 keyslots are pbkdf2 only"
                       % self.path).encode(), r.err)
        r = self.convert("luks2", ok=False)
        self.assertIn(("storage volume '%s' is in LUKS2 format already" % self.path).encode(), r.err)
        r = self.convert("luks3", ok=False)
        self.assertIn(b"unsupported format 'luks3': luks2 or luks1", r.err)
        self.assertEqual(self.read(self.path), before)


if __name__ == "__main__":
    unittest.main()
