#!/usr/bin/env python3
"""LUKS2 volumes made by the installed cryptsetup, used through vsecret's vol-* commands (issue 13
item 4). The payload is checked against an independent decryptor: the volume key comes from
`cryptsetup luksDump --dump-volume-key` and AES-XTS runs in python3-cryptography, one cipher run
per LUKS2 sector with IV = 512-byte sector number (dm-crypt's convention for LUKS2). The header
statements (checksums, JSON rules, keyslots) are in tests/unit/volume/volume_luks2_test.cc."""
import functools
import os
import shutil
import tempfile
import unittest

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
except ImportError:  # pragma: no cover - python3-cryptography is in scripts/install-deps.sh
    Cipher = None

from vstest import process
from vstest.paths import VSECRET

CRYPTSETUP = shutil.which("cryptsetup")
UUID = "0c0c0c0c-1111-2222-3333-444444444444"
DATA_OFFSET = 16 << 20  # cryptsetup's default data offset for LUKS2
FAST = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"]


# Binary output (the assertions compare bytes), in process.clean_env(); check=True raises
# process.CommandFailed, an AssertionError.
run = functools.partial(process.run, text=False, timeout=300)


def read(path, offset=0, size=-1):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def xts(key, data, sector_size, encrypt, first_iv=0):
    """AES-XTS over LUKS2 sectors: sector k of the segment has IV first_iv + k * sector_size / 512."""
    out = bytearray()
    for k in range(len(data) // sector_size):
        iv = first_iv + k * (sector_size // 512)
        c = Cipher(algorithms.AES(key), modes.XTS(iv.to_bytes(16, "little")))
        op = c.encryptor() if encrypt else c.decryptor()
        out += op.update(data[k * sector_size:(k + 1) * sector_size]) + op.finalize()
    return bytes(out)


@unittest.skipUnless(CRYPTSETUP and Cipher, "needs cryptsetup and python3-cryptography")
class VolumeLuks2(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-luks2-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.pool = os.path.join(self.work, "pool")
        self.root = os.path.join(self.work, "root")
        # On top of process.clean_env(), which drops the caller's LIBVIRT_*/VSECRET_* settings
        # and sets LC_ALL=C.
        self.env = {"VSECRET_LUKS_ITERATIONS": "1000", "XDG_RUNTIME_DIR": os.path.join(self.work, "xdg")}
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700)
        self.key = self.write("secret.key", b"letmein")
        self.vs(["pool-define-as", "p1", "dir", "--target", self.pool], ok=True)
        self.vs(["pool-build", "p1"], ok=True)
        self.vs(["pool-start", "p1"], ok=True)

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    def vs(self, args, ok=None):
        r = run([VSECRET, "-c", "secret:///embed?root=" + self.root] + args, env=self.env)
        if ok is True:
            self.assertEqual(r.rc, 0, (args, r.out, r.err))
        return r

    def secret(self, usage, value=b"letmein"):
        xml = ("<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='volume'><volume>%s</volume>"
               "</usage></secret>" % (UUID, usage))
        self.vs(["secret-define", self.write("s.xml", xml)], ok=True)
        self.vs(["secret-set-value", UUID, "--file", self.write("v", value), "--plain"], ok=True)

    def luks2(self, name, extra, size="18M"):
        """A cryptsetup LUKS2 volume in the pool, keyed by the secret (usage = its path)."""
        path = os.path.join(self.pool, name)
        run(["truncate", "-s", size, path], check=True)
        run([CRYPTSETUP, "luksFormat", "--type", "luks2", "--batch-mode", "--key-file", self.key] + extra + [path],
            check=True)
        self.secret(path)
        self.vs(["pool-refresh", "p1"], ok=True)
        return path

    def volume_key(self, path):
        out = os.path.join(self.work, "vk")
        if os.path.exists(out):
            os.unlink(out)  # cryptsetup does not overwrite it
        run([CRYPTSETUP, "luksDump", "--batch-mode", "--dump-volume-key", "--volume-key-file", out,
             "--key-file", self.key, path], check=True)
        return read(out)

    def test_upload_download_wipe_info_against_independent_decryptor(self):
        for sector in (512, 4096):
            with self.subTest(sector=sector):
                name = "s%d.img" % sector
                path = self.luks2(name, FAST + ["--sector-size", str(sector)])
                capacity = 2 << 20
                xml = self.vs(["vol-dumpxml", "--pool", "p1", name], ok=True).out.decode()
                self.assertIn("<capacity unit='bytes'>%d</capacity>" % capacity, xml)
                self.assertIn("<encryption format='luks2'>", xml)
                self.assertIn(UUID, xml)
                info = self.vs(["vol-info", "--pool", "p1", name, "--bytes"], ok=True).out.decode()
                self.assertIn("%d bytes" % capacity, info)
                key = self.volume_key(path)
                header = read(path, 0, DATA_OFFSET)

                # vsecret encrypts what an independent AES-XTS decrypts...
                data = os.urandom(capacity)
                self.vs(["vol-upload", "--pool", "p1", name, self.write("in", data)], ok=True)
                self.assertEqual(xts(key, read(path, DATA_OFFSET), sector, False), data)
                self.assertEqual(read(path, 0, DATA_OFFSET), header)  # metadata untouched
                # ...and decrypts what it encrypts, at any offset.
                other = os.urandom(capacity)
                with open(path, "r+b") as f:
                    f.seek(DATA_OFFSET)
                    f.write(xts(key, other, sector, True))
                out = os.path.join(self.work, "out")
                self.vs(["vol-download", "--pool", "p1", name, out], ok=True)
                self.assertEqual(read(out), other)
                self.vs(["vol-download", "--pool", "p1", name, out, "--offset", "1000", "--length", "7777"], ok=True)
                self.assertEqual(read(out), other[1000:8777])
                self.vs(["vol-upload", "--pool", "p1", name, self.write("p", b"z" * 5000), "--offset", "4095"], ok=True)
                expect = other[:4095] + b"z" * 5000 + other[9095:]
                self.assertEqual(xts(key, read(path, DATA_OFFSET), sector, False), expect)

                self.vs(["vol-wipe", "--pool", "p1", name], ok=True)
                self.assertEqual(xts(key, read(path, DATA_OFFSET), sector, False), bytes(capacity))
                # The volume still opens in cryptsetup with the same passphrase.
                run([CRYPTSETUP, "open", "--test-passphrase", "--key-file", self.key, path], check=True)
                self.vs(["secret-undefine", UUID], ok=True)

    def test_argon2id_keyslot_and_wrong_passphrase(self):
        path = self.luks2("a.img", ["--pbkdf", "argon2id", "--pbkdf-memory", "32768", "--iter-time", "100"])
        dump = run([CRYPTSETUP, "luksDump", path], check=True).out.decode()
        self.assertIn("argon2id", dump)
        data = os.urandom(1 << 20)
        self.vs(["vol-upload", "--pool", "p1", "a.img", self.write("in", data)], ok=True)
        out = os.path.join(self.work, "out")
        self.vs(["vol-download", "--pool", "p1", "a.img", out, "--length", str(len(data))], ok=True)
        self.assertEqual(read(out), data)
        before = read(path)
        self.vs(["secret-set-value", UUID, "--file", self.write("bad", b"wrong"), "--plain"], ok=True)
        for args in (["vol-download", "--pool", "p1", "a.img", out],
                     ["vol-upload", "--pool", "p1", "a.img", self.write("x", b"x" * 4096)],
                     ["vol-wipe", "--pool", "p1", "a.img"]):
            r = self.vs(args)
            self.assertNotEqual(r.rc, 0, args)
            self.assertIn(b"Invalid password, cannot unlock any keyslot", r.err, args)
        self.assertEqual(read(path), before)

    def test_cryptsetup_added_keyslot_opens(self):
        path = self.luks2("k.img", FAST)
        second = self.write("second.key", b"another passphrase")
        run([CRYPTSETUP, "luksAddKey", "--batch-mode", "--key-file", self.key] + FAST + [path, second], check=True)
        self.vs(["secret-set-value", UUID, "--file", second, "--plain"], ok=True)
        data = os.urandom(4096)
        self.vs(["vol-upload", "--pool", "p1", "k.img", self.write("in", data)], ok=True)
        self.assertEqual(xts(self.volume_key(path), read(path, DATA_OFFSET, 4096), 4096, False)[:4096], data)

    def test_damaged_header_is_refused_and_never_written(self):
        path = self.luks2("d.img", FAST)
        with open(path, "r+b") as f:
            for at in (4096 + 10, 16384 + 4096 + 10):  # the JSON of both copies
                f.seek(at)
                f.write(b"#")
        before = read(path)
        out = os.path.join(self.work, "out")
        for args in (["vol-upload", "--pool", "p1", "d.img", self.write("x", b"x" * 4096)],
                     ["vol-download", "--pool", "p1", "d.img", out],
                     ["vol-wipe", "--pool", "p1", "d.img"]):
            r = self.vs(args)
            self.assertNotEqual(r.rc, 0, args)
            self.assertIn(b"damaged LUKS2 header", r.err, args)
            self.assertIn(b"bad checksum", r.err, args)
        self.assertEqual(read(path), before)
        self.assertFalse(os.path.exists(out) and os.path.getsize(out) > 0)

    def test_damaged_primary_still_opens_from_secondary(self):
        path = self.luks2("p.img", FAST)
        with open(path, "r+b") as f:
            f.seek(4096 + 10)
            f.write(b"#")
        data = os.urandom(8192)
        self.vs(["vol-upload", "--pool", "p1", "p.img", self.write("in", data)], ok=True)
        out = os.path.join(self.work, "out")
        self.vs(["vol-download", "--pool", "p1", "p.img", out, "--length", "8192"], ok=True)
        self.assertEqual(read(out), data)

    def create(self, name, fmt):
        path = os.path.join(self.pool, name)
        self.secret(path)
        xml = ("<volume><name>%s</name><capacity unit='bytes'>1048576</capacity><target><format type='raw'/>"
               "<encryption format='%s'><secret type='passphrase' uuid='%s'/></encryption></target></volume>"
               % (name, fmt, UUID))
        self.vs(["vol-create", "p1", self.write(name + ".xml", xml)], ok=True)
        return path

    def test_create_luks2_on_request(self):
        self.env["VSECRET_LUKS2_ARGON2"] = "1,32768,1"  # cryptsetup's defaults are 4 passes of 1 GiB
        path = self.create("new.img", "luks2")
        dump = run([CRYPTSETUP, "luksDump", path], check=True).out.decode()
        for text in ("Version:       \t2", "argon2id", "Memory:     32768", "aes-xts-plain64", "offset: 16777216"):
            self.assertIn(text, dump)
        run([CRYPTSETUP, "open", "--test-passphrase", "--key-file", self.key, path], check=True)
        wrong = self.write("wrong", b"nope")
        self.assertNotEqual(run([CRYPTSETUP, "open", "--test-passphrase", "--key-file", wrong, path]).rc, 0)
        xml = self.vs(["vol-dumpxml", "--pool", "p1", "new.img"], ok=True).out.decode()
        self.assertIn("<encryption format='luks2'>", xml)
        self.assertIn("<capacity unit='bytes'>1048576</capacity>", xml)
        data = os.urandom(1 << 20)
        self.vs(["vol-upload", "--pool", "p1", "new.img", self.write("in", data)], ok=True)
        self.assertEqual(xts(self.volume_key(path), read(path, DATA_OFFSET), 512, False), data)
        # A keyslot cryptsetup adds opens in vsecret.
        second = self.write("second.key", b"second")
        run([CRYPTSETUP, "luksAddKey", "--batch-mode", "--key-file", self.key] + FAST + [path, second], check=True)
        self.vs(["secret-set-value", UUID, "--file", second, "--plain"], ok=True)
        out = os.path.join(self.work, "out")
        self.vs(["vol-download", "--pool", "p1", "new.img", out], ok=True)
        self.assertEqual(read(out), data)

    def test_luks1_stays_the_default(self):
        path = self.create("old.img", "luks")
        dump = run([CRYPTSETUP, "luksDump", path], check=True).out.decode()
        self.assertIn("Version:       \t1", dump)


if __name__ == "__main__":
    unittest.main()
