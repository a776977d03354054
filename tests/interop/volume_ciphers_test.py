#!/usr/bin/env python3
"""Every cipher, mode, IV generator and hash qemu's LUKS driver supports, both ways with qemu:
vsecret creates and uploads a pattern, qemu-io reads it back (`read -P`); qemu-img creates with
the same options, qemu-io writes a pattern, vsecret downloads it. cryptsetup checks the headers
(luksDump) of all and the passphrase of those its kernel crypto API can run here (AES only: no
twofish, serpent or cast5 without device-mapper), and a whirlpool volume cryptsetup formats opens
in vsecret. Volumes are 1 MiB with 1000 PBKDF2 iterations (VSECRET_LUKS_ITERATIONS) and qemu's
iter-time=10, so the whole matrix stays well under a minute."""
import functools
import os
import shutil
import tempfile
import unittest

from vstest import process
from vstest.paths import VSECRET

QEMU_IMG = shutil.which("qemu-img")
QEMU_IO = shutil.which("qemu-io")
CRYPTSETUP = shutil.which("cryptsetup")
UUID = "0c0c0c0c-1111-2222-3333-444444444444"
UUID_Q = "0d0d0d0d-1111-2222-3333-444444444444"
SIZE = 1 << 20

# (cipher, size, mode, ivgen, ivgen hash, hash): every cipher family and key size qemu accepts,
# every mode, every ivgen and every PBKDF2/AF hash at least once. 192-bit keys only in xts (qemu
# aborts on 96000 bytes of key material in the other modes); cast5 has no xts; essiv needs a
# hash whose digest is a key size of the family (sha256).
COMBOS = [
    ("twofish", 256, "cbc", "plain64", "sha256", "sha256"),  # libvirt's documentation example
    ("twofish", 128, "xts", "plain64", None, "sha1"),
    ("twofish", 192, "xts", "plain", None, "sha512"),
    ("twofish", 256, "xts", "essiv", "sha256", "sha224"),
    ("twofish", 128, "cbc", "essiv", "sha256", "sha384"),
    ("twofish", 256, "ecb", None, None, "ripemd160"),
    ("twofish", 128, "ctr", "plain64", None, "sha256"),
    ("serpent", 256, "xts", "plain64", None, "sha256"),
    ("serpent", 192, "xts", "essiv", "sha256", "sha1"),
    ("serpent", 128, "xts", "plain", None, "sha384"),
    ("serpent", 256, "cbc", "plain", None, "sha512"),
    ("serpent", 128, "cbc", "essiv", "sha256", "ripemd160"),
    ("serpent", 128, "ecb", None, None, "sha224"),
    ("serpent", 256, "ctr", "plain", None, "sha256"),
    ("cast5", 128, "cbc", "plain64", None, "sha256"),
    ("cast5", 128, "cbc", "plain", None, "sha1"),
    ("cast5", 128, "ecb", None, None, "sha512"),
    ("cast5", 128, "ctr", "plain64", None, "ripemd160"),
    ("aes", 192, "xts", "plain64", None, "sha256"),
    ("aes", 192, "xts", "essiv", "sha256", "sha224"),
    ("aes", 256, "ecb", None, None, "sha384"),
    ("aes", 128, "ctr", "plain64", None, "ripemd160"),
    ("aes", 128, "cbc", "essiv", "sha256", "sha384"),
]


# Binary output (the assertions compare bytes), in process.clean_env(); check=True raises
# process.CommandFailed, an AssertionError.
run = functools.partial(process.run, text=False, timeout=120)


def read(path):
    with open(path, "rb") as f:
        return f.read()


@unittest.skipUnless(QEMU_IMG and QEMU_IO and CRYPTSETUP, "needs qemu-img, qemu-io and cryptsetup")
class VolumeCiphers(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-ciphers-")
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
        self.secret(UUID, os.path.join(self.pool, "v.luks"))
        self.secret(UUID_Q, os.path.join(self.pool, "q.luks"))

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def vs(self, args, ok=None):
        r = run([VSECRET, "-c", "secret:///embed?root=" + self.root] + args, env=self.env)
        if ok is True:
            self.assertEqual(r.rc, 0, (args, r.out, r.err))
        return r

    def secret(self, uuid, usage):
        xml = ("<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='volume'><volume>%s</volume>"
               "</usage></secret>" % (uuid, usage))
        self.vs(["secret-define", self.write("s-%s.xml" % uuid, xml.encode())], ok=True)
        self.vs(["secret-set-value", uuid, "--file", self.key, "--plain"], ok=True)

    def qemu_io(self, vol, command):
        r = run([QEMU_IO, "--object", "secret,id=s,file=" + self.key, "--image-opts",
                 "driver=luks,key-secret=s,file.filename=" + vol, "-c", command])
        self.assertEqual(r.rc, 0, (command, r.out, r.err))
        self.assertNotIn(b"Pattern verification failed", r.out + r.err)
        self.assertNotIn(b"failed", r.out + r.err)
        return r.out.decode()

    def qemu_img_create(self, vol, combo):
        cipher, size, mode, ivgen, ivhash, hash_ = combo
        opts = ["key-secret=s", "cipher-alg=%s-%d" % (cipher, size), "cipher-mode=" + mode,
                "hash-alg=" + hash_, "iter-time=10"]
        if ivgen:
            opts.append("ivgen-alg=" + ivgen)
        if ivhash:
            opts.append("ivgen-hash-alg=" + ivhash)
        for _ in range(20):  # qemu's PBKDF2 calibration flakes on busy hosts
            p = run([QEMU_IMG, "create", "-q", "-f", "luks", "--object", "secret,id=s,file=" + self.key,
                     "-o", ",".join(opts), vol, str(SIZE)])
            if p.rc == 0 or b"Unable to get accurate CPU usage" not in p.err:
                break
        self.assertEqual(p.rc, 0, (combo, p.err))

    def enc_xml(self, combo):
        cipher, size, mode, ivgen, ivhash, hash_ = combo
        xml = ("<encryption format='luks'><secret type='passphrase' uuid='%s'/>"
               "<cipher name='%s' size='%d' mode='%s' hash='%s'/>" % (UUID, cipher, size, mode, hash_))
        if ivgen:
            xml += "<ivgen name='%s'%s/>" % (ivgen, " hash='%s'" % ivhash if ivhash else "")
        return xml + "</encryption>"

    def dump_fields(self, vol):
        dump = run([CRYPTSETUP, "luksDump", vol], check=True).out.decode()
        fields = {}
        for line in dump.splitlines():
            if ":" in line and not line.startswith(" "):
                k, v = line.split(":", 1)
                fields[k.strip()] = v.strip()
        return fields

    def test_every_combination_both_ways(self):
        families_seen = set()
        for combo in COMBOS:
            cipher, size, mode, ivgen, ivhash, hash_ = combo
            for name in ("v.luks", "q.luks"):  # what a failed combination left behind
                if os.path.exists(os.path.join(self.pool, name)):
                    os.unlink(os.path.join(self.pool, name))
                    self.vs(["pool-refresh", "p1"], ok=True)
            with self.subTest(combo=combo):
                # vsecret creates, qemu reads.
                xml = ("<volume><name>v.luks</name><capacity>%d</capacity><target><format type='raw'/>%s"
                       "</target></volume>" % (SIZE, self.enc_xml(combo)))
                self.vs(["vol-create", "p1", self.write("v.xml", xml.encode())], ok=True)
                vol = os.path.join(self.pool, "v.luks")
                fields = self.dump_fields(vol)
                self.assertEqual(fields["Cipher name"], cipher)
                expect_mode = mode + "-" + (ivgen or "plain64")
                if ivgen == "essiv":
                    expect_mode += ":" + ivhash
                self.assertEqual(fields["Cipher mode"], expect_mode)
                self.assertEqual(fields["Hash spec"], hash_)
                self.assertEqual(fields["MK bits"], str(size * (2 if mode == "xts" else 1)))
                if cipher == "aes" and size != 192 and mode != "ecb":
                    # cryptsetup without device-mapper runs only what the kernel's crypto API
                    # offers userspace here: AES-128/256, not AES-192-XTS nor ecb-plain64.
                    r = run([CRYPTSETUP, "luksOpen", "--test-passphrase", "--key-file", self.key, vol])
                    self.assertEqual(r.rc, 0, r.err)
                self.vs(["vol-upload", "--pool", "p1", "v.luks", self.write("ab.raw", b"\xab" * SIZE)], ok=True)
                self.assertIn("read %d/%d bytes" % (SIZE, SIZE), self.qemu_io(vol, "read -P 0xab 0 %d" % SIZE))
                if cipher not in families_seen:  # info and wipe once per family keep CI time down
                    families_seen.add(cipher)
                    info = self.vs(["vol-info", "--pool", "p1", "v.luks"], ok=True).out.decode()
                    self.assertIn("Capacity:       1.00 MiB", info)
                    # Wipe writes zeros through the cipher; qemu reads zeros.
                    self.vs(["vol-wipe", "--pool", "p1", "v.luks"], ok=True)
                    self.qemu_io(vol, "read -P 0 0 %d" % SIZE)
                self.vs(["vol-delete", "--pool", "p1", "v.luks"], ok=True)

                # qemu creates and writes, vsecret reads.
                q = os.path.join(self.pool, "q.luks")
                self.qemu_img_create(q, combo)
                self.qemu_io(q, "write -P 0xcd 0 %d" % SIZE)
                self.vs(["pool-refresh", "p1"], ok=True)
                down = os.path.join(self.work, "down.raw")
                self.vs(["vol-download", "--pool", "p1", "q.luks", down], ok=True)
                self.assertEqual(read(down), b"\xcd" * SIZE)
                # vsecret writes into qemu's volume, qemu reads.
                self.vs(["vol-upload", "--pool", "p1", "q.luks", self.write("ef.raw", b"\xef" * SIZE)], ok=True)
                self.qemu_io(q, "read -P 0xef 0 %d" % SIZE)
                os.unlink(q)
                self.vs(["pool-refresh", "p1"], ok=True)

    def test_refused_combinations_name_the_reason(self):
        cases = [
            (("cast5", 128, "xts", None, None, "sha256"), b"XTS needs a 128-bit block cipher"),
            (("serpent", 192, "cbc", None, None, "sha256"), b"is not a whole number of sectors"),
            (("twofish", 256, "xts", "essiv", "sha1", "sha256"), b"No Twofish cipher with key size 20 available"),
            (("cast5", 128, "cbc", "essiv", "sha256", "sha256"), b"Cipher cast5-128 not supported with essiv"),
            (("blowfish", 128, "cbc", None, None, "sha256"), b"cipher 'blowfish' is not supported"),
            (("aes", 256, "xts", None, None, "whirlpool"), b"hash 'whirlpool' is not supported"),
        ]
        for combo, message in cases:
            with self.subTest(combo=combo):
                xml = ("<volume><name>v.luks</name><capacity>%d</capacity><target><format type='raw'/>%s"
                       "</target></volume>" % (SIZE, self.enc_xml(combo)))
                r = self.vs(["vol-create", "p1", self.write("v.xml", xml.encode())])
                self.assertNotEqual(r.rc, 0)
                self.assertIn(b"unsupported configuration: ", r.err)
                self.assertIn(message, r.err)
                self.assertFalse(os.path.exists(os.path.join(self.pool, "v.luks")))

    def test_cryptsetup_whirlpool_volume_opens(self):
        vol = os.path.join(self.pool, "v.luks")
        with open(vol, "wb") as f:
            f.truncate(4 << 20)
        r = run([CRYPTSETUP, "luksFormat", "-q", "--type", "luks1", "--hash", "whirlpool", "--iter-time", "10",
                 "--key-file", self.key, vol])
        if r.rc != 0:
            self.skipTest("cryptsetup cannot format whirlpool here: %r" % r.err)
        self.vs(["pool-refresh", "p1"], ok=True)
        data = os.urandom(1 << 20)
        self.vs(["vol-upload", "--pool", "p1", "v.luks", self.write("in.raw", data)], ok=True)
        down = os.path.join(self.work, "down.raw")
        self.vs(["vol-download", "--pool", "p1", "v.luks", down, "--length", str(len(data))], ok=True)
        self.assertEqual(read(down), data)
        self.assertEqual(self.dump_fields(vol)["Hash spec"], "whirlpool")
        r = run([CRYPTSETUP, "luksOpen", "--test-passphrase", "--key-file", self.key, vol])
        self.assertEqual(r.rc, 0, r.err)


if __name__ == "__main__":
    unittest.main()
