#!/usr/bin/env python3
"""vol-rekey, vol-key-add and vol-key-remove on LUKS2 volumes (issue 13 items 4 and 5) against
cryptsetup 2.6: after a re-key `cryptsetup open --test-passphrase` accepts the new value only and
`luksDump` shows one keyslot; key-add/remove change what it accepts; cryptsetup luksAddKey works
on a volume vsecret re-keyed, and vsecret re-keys a volume cryptsetup formatted (pbkdf2 and
argon2id keyslots, with a token vsecret must keep). Fixtures use small argon2id parameters
(VSECRET_LUKS2_ARGON2) and 1000 PBKDF2 iterations."""
import functools
import os
import re
import shutil
import tempfile
import unittest

from vstest import process
from vstest.paths import VSECRET

CRYPTSETUP = shutil.which("cryptsetup")
UUID = "0e0e0e0e-1111-2222-3333-444444444444"
FAST = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"]


# Binary data in and out, and room for slow KDFs on a busy host.
run = functools.partial(process.run, text=False, timeout=300)


@unittest.skipUnless(CRYPTSETUP, "needs cryptsetup")
class VolumeLuks2Rekey(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-luks2-rekey-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.pool = os.path.join(self.work, "pool")
        self.root = os.path.join(self.work, "root")
        # On top of process.clean_env(), which drops the caller's LIBVIRT_*/VSECRET_* settings.
        self.env = {"VSECRET_LUKS_ITERATIONS": "1000", "VSECRET_LUKS2_ARGON2": "1,32768,1"}
        self.vs(["pool-define-as", "p1", "dir", "--target", self.pool], ok=True)
        self.vs(["pool-build", "p1"], ok=True)
        self.vs(["pool-start", "p1"], ok=True)
        self.path = os.path.join(self.pool, "v.img")

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def vs(self, args, ok=None, stdin=None):
        r = run([VSECRET, "-c", "secret:///embed?root=" + self.root] + args, env=self.env, input=stdin)
        if ok is True:
            self.assertEqual(r.rc, 0, (args, r.out, r.err))
        if ok is False:
            self.assertNotEqual(r.rc, 0, (args, r.out, r.err))
        return r

    def define_secret(self, value):
        self.vs(["secret-define", self.write("s.xml", (
            "<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='volume'><volume>%s</volume>"
            "</usage></secret>" % (UUID, self.path)).encode())], ok=True)
        self.vs(["secret-set-value", UUID, "--file", self.write("v0", value), "--plain"], ok=True)

    def make_volume(self, value=b"old-pass"):
        self.define_secret(value)
        xml = ("<volume><name>v.img</name><capacity unit='M'>1</capacity><target><format type='raw'/>"
               "<encryption format='luks2'><secret type='passphrase' uuid='%s'/></encryption></target></volume>"
               % UUID)
        self.vs(["vol-create", "p1", self.write("vol.xml", xml.encode())], ok=True)
        self.vs(["vol-upload", "v.img", self.write("data", b"guest data 12345"), "--pool", "p1"], ok=True)

    def secret_value(self):
        key = os.path.join(self.work, "handover.key")
        if os.path.exists(key):
            os.unlink(key)
        self.vs(["vol-qemu-args", "v.img", "--pool", "p1", "--secret-file", key], ok=True)
        with open(key, "rb") as f:
            return f.read()

    def accepts(self, passphrase):
        key = self.write("cs.key", passphrase)
        return run([CRYPTSETUP, "open", "--test-passphrase", "--key-file", key, self.path]).rc == 0

    def dump(self):
        r = run([CRYPTSETUP, "luksDump", self.path])
        self.assertEqual(r.rc, 0, r.err)
        return r.out.decode()

    def slots(self):
        return [int(n) for n in re.findall(r"^  (\d+): luks2$", self.dump(), re.M)]

    def data_intact(self):
        out = os.path.join(self.work, "out")
        self.vs(["vol-download", "v.img", out, "--pool", "p1", "--length", "16"], ok=True)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"guest data 12345")

    def test_rekey_then_cryptsetup_accepts_the_new_value_only_and_adds_keys(self):
        self.make_volume()
        self.assertEqual(self.slots(), [0])
        r = self.vs(["vol-rekey", "v.img", "--pool", "p1", "--new-value-file", self.write("new", b"new-pass")],
                    ok=True)
        self.assertEqual(r.out, b"Vol v.img re-keyed: keyslot 1 holds the secret's value, keyslot 0 removed\n\n")
        self.assertEqual(self.secret_value(), b"new-pass")
        self.assertTrue(self.accepts(b"new-pass"))
        self.assertFalse(self.accepts(b"old-pass"))
        self.assertEqual(self.slots(), [1])
        self.assertIn("argon2id", self.dump())
        self.assertIn("Memory:     32768", self.dump())
        self.data_intact()
        # cryptsetup keeps working on what vsecret wrote.
        r = run([CRYPTSETUP, "luksAddKey", "--batch-mode", "--key-file", self.write("k1", b"new-pass")] + FAST +
                [self.path, self.write("k2", b"cs-pass")])
        self.assertEqual(r.rc, 0, r.err)
        self.assertTrue(self.accepts(b"cs-pass"))
        self.assertEqual(self.slots(), [0, 1])
        # ... and vsecret on what cryptsetup wrote: the second re-key uses the freed id 2.
        self.vs(["vol-rekey", "v.img", "--pool", "p1", "--generate"], ok=True)
        generated = self.secret_value()
        self.assertTrue(self.accepts(generated))
        self.assertFalse(self.accepts(b"new-pass"))
        self.assertTrue(self.accepts(b"cs-pass"))
        self.assertEqual(self.slots(), [0, 2])
        self.data_intact()

    def test_key_add_and_remove(self):
        self.make_volume()
        r = self.vs(["vol-key-add", "v.img", "--pool", "p1", "--value-file", self.write("e", b"extra-pass")],
                    ok=True)
        self.assertEqual(r.out, b"Key added to vol v.img in keyslot 1\n\n")
        self.vs(["vol-key-add", "v.img", "--pool", "p1", "--slot", "20", "--value-file",
                 self.write("f", b"far-pass")], ok=True)
        self.assertEqual(self.slots(), [0, 1, 20])
        for p in (b"old-pass", b"extra-pass", b"far-pass"):
            self.assertTrue(self.accepts(p), p)
        r = self.vs(["vol-key-add", "v.img", "--pool", "p1", "--slot", "20", "--value-file",
                     self.write("g", b"again")], ok=False)
        self.assertIn(b"keyslot 20 is already active", r.err)
        r = self.vs(["vol-key-remove", "v.img", "--pool", "p1", "--slot", "0"], ok=False)
        self.assertIn(b"holds the value of secret", r.err)
        self.vs(["vol-key-remove", "v.img", "--pool", "p1", "--value-file", self.write("e2", b"extra-pass")], ok=True)
        self.vs(["vol-key-remove", "v.img", "--pool", "p1", "--slot", "20"], ok=True)
        self.assertEqual(self.slots(), [0])
        self.assertFalse(self.accepts(b"extra-pass"))
        self.assertFalse(self.accepts(b"far-pass"))
        self.assertTrue(self.accepts(b"old-pass"))
        r = self.vs(["vol-key-remove", "v.img", "--pool", "p1", "--slot", "0", "--force"], ok=False)
        self.assertIn(b"last active keyslot", r.err)
        self.data_intact()

    def cryptsetup_volume(self, kdf_args):
        os.makedirs(self.pool, exist_ok=True)
        run(["truncate", "-s", "17M", self.path])
        r = run([CRYPTSETUP, "luksFormat", "-q", "--type", "luks2", "--key-file", self.write("k", b"cs-old")] +
                kdf_args + [self.path])
        self.assertEqual(r.rc, 0, r.err)
        r = run([CRYPTSETUP, "token", "import", self.path, "--key-slot", "0"],
                input=b'{"type":"vsecret-test","keyslots":["0"],"note":"kept"}')
        self.assertEqual(r.rc, 0, r.err)
        self.define_secret(b"cs-old")
        self.vs(["pool-refresh", "p1"], ok=True)

    def test_rekey_cryptsetup_formatted_volumes(self):
        for name, kdf_args, kdf in (("pbkdf2", FAST, "pbkdf2"),
                                    ("argon2id", ["--pbkdf", "argon2id", "--pbkdf-force-iterations", "4",
                                                  "--pbkdf-memory", "32768", "--pbkdf-parallel", "1"],
                                     "argon2id")):
            with self.subTest(kdf=name):
                self.cryptsetup_volume(kdf_args)
                self.vs(["vol-rekey", "v.img", "--pool", "p1", "--new-value-file", self.write("n", b"vs-new")],
                        ok=True)
                self.assertTrue(self.accepts(b"vs-new"))
                self.assertFalse(self.accepts(b"cs-old"))
                self.assertEqual(self.slots(), [1])
                dump = self.dump()
                self.assertIn("PBKDF:      " + kdf, dump)
                self.assertIn("vsecret-test", dump)  # the token survived, no longer naming keyslot 0
                token = run([CRYPTSETUP, "token", "export", "--token-id", "0", self.path]).out
                self.assertIn(b'"note":"kept"', token)
                self.assertIn(b'"keyslots":[]', token)
                self.vs(["vol-delete", "v.img", "--pool", "p1"], ok=True)
                self.vs(["secret-undefine", UUID], ok=True)


if __name__ == "__main__":
    unittest.main()
