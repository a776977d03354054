#!/usr/bin/env python3
"""Damaged LUKS volumes through the CLI (issue 13 item 1). LUKS1 images made by cryptsetup and
qemu-img are damaged the way cryptsetup's evil_hdr test images are (overlapping key slots, key
material into the payload or the header, wrong stripes, zero iterations, unterminated names, a
LUKS version vsecret does not read, truncation). Each must be listed and described as a LUKS
volume, every data command must fail naming the defect (in qemu's words: qemu-img is asked about
the same file and must give the same reason where it checks it), and the file must stay as it was."""
import functools
import hashlib
import os
import shutil
import struct
import tempfile
import unittest

from vstest import process
from vstest.paths import VSECRET

QEMU_IMG = shutil.which("qemu-img")
CRYPTSETUP = shutil.which("cryptsetup")
UUID = "0e0e0e0e-1111-2222-3333-444444444444"


# Binary data in and out, and room for slow PBKDF on a busy host.
run = functools.partial(process.run, text=False, timeout=300)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def slot(i):
    return 208 + 48 * i


def be32(value):
    return struct.pack(">I", value)


# name -> (patches [(offset, bytes)] or a truncation length, reason, does qemu-img check it too).
# The images have 64-byte keys: slot i at 8 + 504 i (qemu) or 8 + 504 i rounded (cryptsetup), payload
# after slot 7.
DEFECTS = {
    "slots_overlap": (lambda h: [(slot(2) + 40, h[slot(1) + 40:slot(1) + 44])],
                      "Keyslots 1 and 2 are overlapping in the header", True),
    "slot_into_payload": (lambda h: [(slot(7) + 40, be32(struct.unpack(">I", h[104:108])[0] - 100))],
                          "Keyslot 7 is overlapping with the encrypted payload", True),
    "slot_into_header": (lambda h: [(slot(0) + 40, be32(2))], "Keyslot 0 is overlapping with the LUKS header", True),
    "payload_into_header": (lambda h: [(104, be32(2))], "LUKS payload is overlapping with the header", True),
    "stripes": (lambda h: [(slot(0) + 44, be32(3999))], "Keyslot 0 is corrupted (stripes 3999 != 4000)", True),
    "slot_state": (lambda h: [(slot(4), be32(0x12345678))], "Keyslot 4 state (active/disable) is corrupted", True),
    "slot_iterations": (lambda h: [(slot(0) + 4, be32(0))], "Keyslot 0 iteration count is zero", True),
    "mk_iterations": (lambda h: [(164, be32(0))], "LUKS key iteration count is zero", True),
    "cipher_name": (lambda h: [(8, b"a" * 32)], "LUKS header cipher name is not NUL terminated", True),
    "cipher_mode": (lambda h: [(40, b"x" * 32)], "LUKS header cipher mode is not NUL terminated", True),
    "hash_spec": (lambda h: [(72, b"s" * 32)], "LUKS header hash spec is not NUL terminated", True),
    "version3": (lambda h: [(6, b"\x00\x03")], "LUKS version 3 is not supported", True),
    "truncated_header": (300, "LUKS header is truncated (300 of 592 bytes)", False),
    "truncated_key_material": (65536, "LUKS volume is truncated: the file has 65536 bytes", False),
}


@unittest.skipUnless(QEMU_IMG and CRYPTSETUP, "needs qemu-img and cryptsetup")
class DamagedVolumeCli(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        # The two pristine LUKS1 images, made once: by cryptsetup and by qemu-img.
        cls.images = tempfile.mkdtemp(prefix="vsecret-evil-")
        cls.key = os.path.join(cls.images, "key")
        with open(cls.key, "wb") as f:
            f.write(b"letmein")
        cls.made = {}
        c = os.path.join(cls.images, "cryptsetup.img")
        run(["truncate", "-s", "4M", c], check=True)
        run([CRYPTSETUP, "luksFormat", "--type", "luks1", "--batch-mode", "--pbkdf-force-iterations", "1000",
             "--key-file", cls.key, c], check=True)
        cls.made["cryptsetup"] = c
        q = os.path.join(cls.images, "qemu.img")
        for _ in range(20):  # qemu's PBKDF2 calibration flakes on busy hosts
            p = run([QEMU_IMG, "create", "-q", "-f", "luks", "--object", "secret,id=s,file=" + cls.key,
                     "-o", "key-secret=s,iter-time=10", q, "1M"])
            if p.rc == 0 or b"Unable to get accurate CPU usage" not in p.err:
                break
        if p.rc != 0:
            raise AssertionError(p.err)
        cls.made["qemu"] = q

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.images, True)

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-dmg-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.pool = os.path.join(self.work, "pool")
        self.root = os.path.join(self.work, "root")
        # On top of process.clean_env(), which drops the caller's LIBVIRT_*/VSECRET_* settings.
        self.env = {"VSECRET_LUKS_ITERATIONS": "1000", "XDG_RUNTIME_DIR": os.path.join(self.work, "xdg")}
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700)
        self.vs(["pool-define-as", "p1", "dir", "--target", self.pool], ok=True)
        self.vs(["pool-build", "p1"], ok=True)
        self.vs(["pool-start", "p1"], ok=True)

    def vs(self, args, ok=None):
        r = run([VSECRET, "-c", "secret:///embed?root=" + self.root] + args, env=self.env)
        if ok is True:
            self.assertEqual(r.rc, 0, (args, r.out, r.err))
        return r

    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def damaged(self, origin, name, defect):
        """A copy of the origin image in the pool, damaged; its usage secret holds the right passphrase."""
        change, _, _ = DEFECTS[defect]
        with open(self.made[origin], "rb") as f:
            data = bytearray(f.read())
        if isinstance(change, int):
            del data[change:]
        else:
            for offset, patch in change(bytes(data[:592])):
                data[offset:offset + len(patch)] = patch
        path = os.path.join(self.pool, name)
        with open(path, "wb") as f:
            f.write(bytes(data))
        return path

    def check_refused(self, path, name, reason):
        before = sha256(path)
        want = "cannot open LUKS volume '%s': %s" % (path, reason)
        down = os.path.join(self.work, "down.raw")
        up = self.write("up.raw", b"plaintext that must never land in the volume\n" * 100)
        commands = {
            "vol-download": ["vol-download", "--pool", "p1", name, down],
            "vol-upload": ["vol-upload", "--pool", "p1", name, up],
            "vol-wipe": ["vol-wipe", "--pool", "p1", name],
            "vol-resize": ["vol-resize", "--pool", "p1", name, "8M"],
            "vol-qemu-args": ["vol-qemu-args", "--pool", "p1", name],
            "vol-qemu-exec": ["vol-qemu-exec", "--pool", "p1", name, "--", "true", "{secret}", "{image}"],
        }
        for command, argv in commands.items():
            r = self.vs(argv)
            self.assertEqual(r.rc, 1, (command, r.out, r.err))
            self.assertIn(want, r.err.decode(), command)
            self.assertNotIn(b"letmein", r.out + r.err)
            self.assertEqual(sha256(path), before, command)
        self.assertFalse(os.path.exists(down) and os.path.getsize(down) > 0)
        self.assertEqual(os.listdir(self.env["XDG_RUNTIME_DIR"]) in ([], ["vsecret"]), True)
        if os.path.isdir(os.path.join(self.env["XDG_RUNTIME_DIR"], "vsecret")):
            self.assertEqual(os.listdir(os.path.join(self.env["XDG_RUNTIME_DIR"], "vsecret")), [])

    def test_every_defect_on_cryptsetup_and_qemu_images(self):
        xml = ("<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='volume'><volume>%s</volume>"
               "</usage></secret>")
        expected_names = []
        for i, (origin, defect) in enumerate((o, d) for o in sorted(self.made) for d in sorted(DEFECTS)):
            name = "%s-%s.img" % (origin, defect)
            path = self.damaged(origin, name, defect)
            uuid = UUID[:-3] + "%03d" % i
            self.vs(["secret-define", self.write("s%d.xml" % i, (xml % (uuid, path)).encode())], ok=True)
            self.vs(["secret-set-value", uuid, "--file", self.key, "--plain"], ok=True)
            expected_names.append(name)
        self.vs(["pool-refresh", "p1"], ok=True)
        listed = self.vs(["vol-list", "p1", "--details"], ok=True).out.decode()
        for name in expected_names:
            self.assertIn(name, listed)
        for origin in sorted(self.made):
            for defect in sorted(DEFECTS):
                with self.subTest(origin=origin, defect=defect):
                    name = "%s-%s.img" % (origin, defect)
                    path = os.path.join(self.pool, name)
                    _, reason, qemu_checks = DEFECTS[defect]
                    dump = self.vs(["vol-dumpxml", "--pool", "p1", name], ok=True).out.decode()
                    self.assertIn("<capacity unit='bytes'>0</capacity>", dump)
                    self.assertIn("<format type='raw'/>", dump)
                    self.assertIn("<encryption format='luks'>", dump)
                    info = self.vs(["vol-info", "--pool", "p1", name, "--bytes"], ok=True).out.decode()
                    self.assertIn("Capacity:       0 bytes", info)
                    self.check_refused(path, name, reason)
                    if qemu_checks:
                        # qemu refuses the same file for the same reason.
                        q = run([QEMU_IMG, "info", "--object", "secret,id=s,file=" + self.key, "--image-opts",
                                 "driver=luks,key-secret=s,file.filename=" + path])
                        self.assertNotEqual(q.rc, 0)
                        self.assertIn(reason, q.err.decode())

    def test_pristine_images_still_open(self):
        for origin, image in sorted(self.made.items()):
            path = os.path.join(self.pool, origin + ".img")
            shutil.copyfile(image, path)
            xml = ("<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='volume'><volume>%s"
                   "</volume></usage></secret>") % (UUID if origin == "qemu" else UUID[:-1] + "f", path)
            self.vs(["secret-define", self.write(origin + ".xml", xml.encode())], ok=True)
            self.vs(["secret-set-value", UUID if origin == "qemu" else UUID[:-1] + "f", "--file", self.key,
                     "--plain"], ok=True)
        self.vs(["pool-refresh", "p1"], ok=True)
        for origin in sorted(self.made):
            out = os.path.join(self.work, origin + ".raw")
            self.vs(["vol-download", "--pool", "p1", origin + ".img", out], ok=True)
            self.assertGreater(os.path.getsize(out), 0)


if __name__ == "__main__":
    unittest.main()
