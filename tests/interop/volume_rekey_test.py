#!/usr/bin/env python3
"""vol-rekey, vol-key-add and vol-key-remove (issue 13 item 5) against qemu-io and cryptsetup:
after a re-key qemu-io opens the volume with the new value only; after key-add cryptsetup
accepts both passphrases, after key-remove only the one left. Fixtures use 1000 PBKDF2
iterations (VSECRET_LUKS_ITERATIONS)."""
import functools
import os
import shutil
import tempfile
import unittest

from vstest import process
from vstest.paths import VSECRET

QEMU_IO = shutil.which("qemu-io")
CRYPTSETUP = shutil.which("cryptsetup")
UUID = "0c0c0c0c-1111-2222-3333-444444444444"


# Binary data in and out, and room for slow PBKDF on a busy host.
run = functools.partial(process.run, text=False, timeout=300)


@unittest.skipUnless(QEMU_IO and CRYPTSETUP, "needs qemu-io and cryptsetup")
class VolumeRekey(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-rekey-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.pool = os.path.join(self.work, "pool")
        self.root = os.path.join(self.work, "root")
        # On top of process.clean_env(), which drops the caller's LIBVIRT_*/VSECRET_* settings.
        self.env = {"VSECRET_LUKS_ITERATIONS": "1000"}
        self.vs(["pool-define-as", "p1", "dir", "--target", self.pool], ok=True)
        self.vs(["pool-build", "p1"], ok=True)
        self.vs(["pool-start", "p1"], ok=True)

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def vs(self, args, ok=None, input=None):
        r = run([VSECRET, "-c", "secret:///embed?root=" + self.root] + args, env=self.env, input=input)
        if ok is True:
            self.assertEqual(r.rc, 0, (args, r.out, r.err))
        if ok is False:
            self.assertNotEqual(r.rc, 0, (args, r.out, r.err))
        return r

    def make_volume(self, name="v.img", fmt="raw", value=b"old-pass"):
        path = os.path.join(self.pool, name)
        self.vs(["secret-define", self.write("s.xml", (
            "<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='volume'><volume>%s</volume>"
            "</usage></secret>" % (UUID, path)).encode())], ok=True)
        self.vs(["secret-set-value", UUID, "--file", self.write("v0", value), "--plain"], ok=True)
        xml = ("<volume><name>%s</name><capacity unit='M'>1</capacity><target><format type='%s'/>"
               "<encryption format='luks'><secret type='passphrase' uuid='%s'/></encryption></target></volume>"
               % (name, fmt, UUID))
        self.vs(["vol-create", "p1", self.write("vol.xml", xml.encode())], ok=True)
        return path

    def secret_value(self):
        # The secret is private: its value is read back through the volume's qemu hand-over.
        key = os.path.join(self.work, "handover.key")
        if os.path.exists(key):
            os.unlink(key)
        self.vs(["vol-qemu-args", "v.img", "--pool", "p1", "--secret-file", key], ok=True)
        with open(key, "rb") as f:
            return f.read()

    def qemu_opens(self, path, passphrase, fmt="raw"):
        key = self.write("qemu.key", passphrase)
        if fmt == "qcow2":
            opts = "driver=qcow2,encrypt.key-secret=s0,file.filename=%s" % path
        else:
            opts = "driver=luks,key-secret=s0,file.filename=%s" % path
        r = run([QEMU_IO, "--object", "secret,id=s0,file=" + key, "--image-opts", opts, "-c", "read -v 0 16"])
        return r.rc == 0 and b"read 16/16 bytes" in r.out

    def cryptsetup_accepts(self, path, passphrase):
        key = self.write("cs.key", passphrase)
        return run([CRYPTSETUP, "luksOpen", "--test-passphrase", "--key-file", key, path]).rc == 0

    def test_rekey_from_file_then_qemu_opens_with_the_new_value_only(self):
        path = self.make_volume()
        self.vs(["vol-upload", "v.img", self.write("data", b"guest data 12345"), "--pool", "p1"], ok=True)
        self.assertTrue(self.qemu_opens(path, b"old-pass"))
        r = self.vs(["vol-rekey", "v.img", "--pool", "p1", "--new-value-file", self.write("new", b"new-pass")],
                    ok=True)
        self.assertEqual(r.out, b"Vol v.img re-keyed: keyslot 1 holds the secret's value, keyslot 0 removed\n\n")
        self.assertNotIn(b"new-pass", r.out + r.err)
        self.assertEqual(self.secret_value(), b"new-pass")
        self.assertTrue(self.qemu_opens(path, b"new-pass"))
        self.assertFalse(self.qemu_opens(path, b"old-pass"))
        self.assertTrue(self.cryptsetup_accepts(path, b"new-pass"))
        self.assertFalse(self.cryptsetup_accepts(path, b"old-pass"))
        out = os.path.join(self.work, "out")
        self.vs(["vol-download", "v.img", out, "--pool", "p1", "--length", "16"], ok=True)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"guest data 12345")

    def test_rekey_generated_and_from_stdin(self):
        path = self.make_volume()
        self.vs(["vol-rekey", "v.img", "--pool", "p1", "--generate"], ok=True)
        generated = self.secret_value()
        self.assertEqual(len(generated), 64)  # volume_secret_gen: 32 random bytes as hex
        self.assertTrue(self.qemu_opens(path, generated))
        self.assertFalse(self.qemu_opens(path, b"old-pass"))
        self.vs(["vol-rekey", "v.img", "--pool", "p1", "--new-value-file", "-"], ok=True, input=b"from-stdin")
        self.assertEqual(self.secret_value(), b"from-stdin")
        self.assertTrue(self.qemu_opens(path, b"from-stdin"))
        self.assertFalse(self.qemu_opens(path, generated))

    def test_rekey_qcow2(self):
        path = self.make_volume(fmt="qcow2")
        self.vs(["vol-rekey", "v.img", "--pool", "p1", "--new-value-file", self.write("new", b"new-pass")],
                ok=True)
        self.assertTrue(self.qemu_opens(path, b"new-pass", fmt="qcow2"))
        self.assertFalse(self.qemu_opens(path, b"old-pass", fmt="qcow2"))

    def test_secret_set_value_then_rekey_with_old_value(self):
        path = self.make_volume()
        self.vs(["secret-set-value", UUID, "--file", self.write("v1", b"changed"), "--plain"], ok=True)
        self.assertFalse(self.qemu_opens(path, b"changed"))  # the guest is locked out
        r = self.vs(["vol-rekey", "v.img", "--pool", "p1", "--new-value-file", self.write("n", b"x")], ok=False)
        self.assertIn(b"--old-value-file", r.err)
        self.vs(["vol-rekey", "v.img", "--pool", "p1", "--old-value-file", self.write("old", b"old-pass")], ok=True)
        self.assertTrue(self.qemu_opens(path, b"changed"))
        self.assertFalse(self.qemu_opens(path, b"old-pass"))

    def test_key_add_and_remove_with_cryptsetup(self):
        path = self.make_volume()
        r = self.vs(["vol-key-add", "v.img", "--pool", "p1", "--value-file", self.write("extra", b"extra-pass")],
                    ok=True)
        self.assertEqual(r.out, b"Key added to vol v.img in keyslot 1\n\n")
        self.assertTrue(self.cryptsetup_accepts(path, b"old-pass"))
        self.assertTrue(self.cryptsetup_accepts(path, b"extra-pass"))
        self.assertTrue(self.qemu_opens(path, b"extra-pass"))
        # A key cryptsetup added is seen and removable too.
        add = run([CRYPTSETUP, "luksAddKey", "--batch-mode", "--pbkdf-force-iterations", "1000", "--key-file",
                   self.write("k0", b"old-pass"), path, self.write("k2", b"cs-pass")])
        self.assertEqual(add.rc, 0, add.err)
        r = self.vs(["vol-key-remove", "v.img", "--pool", "p1", "--value-file", self.write("rm", b"cs-pass")],
                    ok=True)
        self.assertEqual(r.out, b"Keyslot 2 of vol v.img removed\n\n")
        self.assertFalse(self.cryptsetup_accepts(path, b"cs-pass"))
        # The secret's slot is protected without --force.
        r = self.vs(["vol-key-remove", "v.img", "--pool", "p1", "--slot", "0"], ok=False)
        self.assertIn(b"holds the value of secret " + UUID.encode(), r.err)
        self.assertTrue(self.cryptsetup_accepts(path, b"old-pass"))
        self.vs(["vol-key-remove", "v.img", "--pool", "p1", "--slot", "1"], ok=True)
        self.assertTrue(self.cryptsetup_accepts(path, b"old-pass"))
        self.assertFalse(self.cryptsetup_accepts(path, b"extra-pass"))
        # The last slot stays, even with --force.
        r = self.vs(["vol-key-remove", "v.img", "--pool", "p1", "--slot", "0", "--force"], ok=False)
        self.assertIn(b"is the last active keyslot", r.err)
        self.assertTrue(self.qemu_opens(path, b"old-pass"))

    def test_usage_errors(self):
        self.make_volume()
        r = self.vs(["vol-rekey", "v.img", "--pool", "p1"], ok=False)
        self.assertIn(b"one of --new-value-file, --generate or --old-value-file is required", r.err)
        r = self.vs(["vol-rekey", "v.img", "--pool", "p1", "--generate", "--new-value-file", "x"], ok=False)
        self.assertIn(b"mutually exclusive", r.err)
        r = self.vs(["vol-key-remove", "v.img", "--pool", "p1"], ok=False)
        self.assertIn(b"one of --slot or --value-file is required", r.err)
        r = self.vs(["vol-key-remove", "v.img", "--pool", "p1", "--slot", "32"], ok=False)
        self.assertIn(b"malformed or out of range", r.err)
        help_text = self.vs(["help", "vol-rekey"], ok=True).out
        for word in (b"--new-value-file", b"--generate", b"--old-value-file"):
            self.assertIn(word, help_text)


if __name__ == "__main__":
    unittest.main()
