#!/usr/bin/env python3
"""vsecret's pool-*/vol-* commands against the installed qemu-img and cryptsetup (volumes made
by one must open in the others). Every volume is keyed by a libvirt-style secret whose value is
`letmein`; fixtures use 1000 PBKDF2 iterations (VSECRET_LUKS_ITERATIONS) so each test is fast.
The library-level statements (key slots, header corruption, ESSIV, qcow2 IVs) are covered by
tests/unit/volume/volume_interop_test.cc."""
import functools
import hashlib
import os
import shutil
import stat
import tempfile
import time
import unittest

from vstest import process
from vstest.paths import VSECRET

QEMU_IMG = shutil.which("qemu-img")
CRYPTSETUP = shutil.which("cryptsetup")
UUID = "0a0a0a0a-1111-2222-3333-444444444444"
UUID2 = "0b0b0b0b-1111-2222-3333-444444444444"


# Every tool here reads and writes binary data: bytes out, and room for slow PBKDF on a busy host.
run = functools.partial(process.run, text=False, timeout=300)


def qemu_img_create(args):
    """qemu-img create, retried while qemu's PBKDF2 calibration hits its known flake on busy hosts."""
    for _ in range(20):
        p = run([QEMU_IMG, "create", "-q"] + args)
        if p.rc == 0 or b"Unable to get accurate CPU usage" not in p.err:
            break
    if p.rc != 0:
        raise AssertionError("qemu-img create %r failed: %r" % (args, p.err))


def read(path, size=-1):
    with open(path, "rb") as f:
        return f.read(size)


def sha256(path):
    return hashlib.sha256(read(path)).hexdigest()


@unittest.skipUnless(QEMU_IMG and CRYPTSETUP, "needs qemu-img and cryptsetup")
class VolumeCli(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-vol-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.pool = os.path.join(self.work, "pool")
        self.root = os.path.join(self.work, "root")
        # On top of process.clean_env(), which drops the caller's LIBVIRT_*/VSECRET_* settings.
        self.env = {"VSECRET_LUKS_ITERATIONS": "1000", "XDG_RUNTIME_DIR": os.path.join(self.work, "xdg")}
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700)
        self.key = self.write("secret.key", b"letmein")
        self.vs(["pool-define-as", "p1", "dir", "--target", self.pool], ok=True)
        self.vs(["pool-build", "p1"], ok=True)
        self.vs(["pool-start", "p1"], ok=True)

    # -- helpers ---------------------------------------------------------------------------------
    def write(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    def vs(self, args, ok=None, env=None):
        r = run([VSECRET, "-c", "secret:///embed?root=" + self.root] + args, env=env or self.env)
        if ok is True:
            self.assertEqual(r.rc, 0, (args, r.out, r.err))
        return r

    def secret(self, value=b"letmein", uuid=UUID, usage=None, private="yes"):
        usage = usage or os.path.join(self.pool, "v.luks")
        xml = ("<secret ephemeral='no' private='%s'><uuid>%s</uuid><usage type='volume'><volume>%s</volume>"
               "</usage></secret>" % (private, uuid, usage))
        self.vs(["secret-define", self.write("s-%s.xml" % uuid, xml)], ok=True)
        if value is not None:
            self.vs(["secret-set-value", uuid, "--file", self.write("v-%s" % uuid, value), "--plain"], ok=True)

    def vol_xml(self, name="v.luks", fmt="raw", capacity="1000000", enc=None, extra=""):
        if enc is None:
            enc = "<encryption format='luks'><secret type='passphrase' uuid='%s'/></encryption>" % UUID
        unit = capacity[-1] if capacity[-1].isalpha() else "bytes"
        number = capacity.rstrip("KMG")
        return self.write(name + ".xml", "<volume><name>%s</name><capacity unit='%s'>%s</capacity>%s<target>"
                          "<format type='%s'/>%s</target></volume>" % (name, unit, number, extra, fmt, enc))

    def create(self, name="v.luks", **kw):
        self.vs(["vol-create", "p1", self.vol_xml(name, **kw)], ok=True)
        return os.path.join(self.pool, name)

    def qemu_opts(self, vol, driver="luks"):
        key = "key-secret" if driver == "luks" else "encrypt.key-secret"
        return ["--object", "secret,id=s,file=" + self.key, "--image-opts",
                "driver=%s,%s=s,file.filename=%s" % (driver, key, vol)]

    def cryptsetup_test(self, vol, keyfile=None):
        return run([CRYPTSETUP, "luksOpen", "--test-passphrase", "--key-file", keyfile or self.key, vol]).rc

    # -- statements 1-7 --------------------------------------------------------------------------
    def test_default_volume_interoperates(self):
        self.secret()
        start = time.monotonic()
        vol = self.create()
        self.assertLess(time.monotonic() - start, 2.0)  # statement 33 (test mode), generous for CI
        dump = run([CRYPTSETUP, "luksDump", vol], check=True).out.decode()
        for line in ("Version:       \t1", "Cipher name:   \taes", "Cipher mode:   \txts-plain64",
                     "Hash spec:     \tsha256", "Payload offset:\t4040", "MK bits:       \t512",
                     "Key Slot 0: ENABLED", "Key Slot 1: DISABLED", "Key Slot 7: DISABLED"):
            self.assertIn(line, dump)
        self.assertEqual(self.cryptsetup_test(vol), 0)
        other = self.write("other.key", b"letmein2")
        r = run([CRYPTSETUP, "luksOpen", "--test-passphrase", "--key-file", other, vol])
        self.assertEqual(r.rc, 2)
        self.assertIn(b"No key available with this passphrase.", r.err)
        info = run([QEMU_IMG, "info"] + self.qemu_opts(vol), check=True).out.decode()
        self.assertIn("virtual size: 977 KiB (1000448 bytes)", info)
        self.assertEqual(os.path.getsize(vol), 1000448 + 4040 * 512)
        # The tool writes, qemu reads (6); qemu writes, the tool reads (7).
        data = os.urandom(1000448)
        self.vs(["vol-upload", "--pool", "p1", "v.luks", self.write("in.raw", data)], ok=True)
        out = os.path.join(self.work, "q.raw")
        run([QEMU_IMG, "convert"] + self.qemu_opts(vol) + ["-O", "raw", out], check=True)
        self.assertEqual(read(out), data)
        back = os.urandom(1000448)
        run([QEMU_IMG, "convert", "-n", "-f", "raw", self.write("in2.raw", back), "--object",
             "secret,id=s,file=" + self.key, "--target-image-opts",
             "driver=luks,key-secret=s,file.filename=" + vol], check=True)
        self.vs(["vol-download", "--pool", "p1", "v.luks", os.path.join(self.work, "down.raw")], ok=True)
        self.assertEqual(read(os.path.join(self.work, "down.raw")), back)

    def test_upload_download_ranges_and_streams(self):
        self.secret()
        self.create(capacity="3M")
        data = os.urandom(100000)
        self.vs(["vol-upload", "--pool", "p1", "v.luks", self.write("d", data), "--offset", "777",
                 "--length", "50000"], ok=True)
        out = os.path.join(self.work, "o")
        self.vs(["vol-download", "--pool", "p1", "v.luks", out, "--offset", "777", "--length", "50000"], ok=True)
        self.assertEqual(read(out), data[:50000])
        # Streams: a pipe in, a pipe out.
        p = run(["sh", "-c", "cat %s | %s -c 'secret:///embed?root=%s' vol-upload --pool p1 v.luks /dev/stdin"
                 % (self.work + "/d", VSECRET, self.root)], env=self.env)
        self.assertEqual(p.rc, 0, p.err)
        # -q: as with virsh, the blank line after each command would otherwise join the stream.
        p = run(["sh", "-c", "%s -q -c 'secret:///embed?root=%s' vol-download --pool p1 v.luks /dev/stdout "
                 "--length 100000 | cat > %s" % (VSECRET, self.root, out)], env=self.env)
        self.assertEqual(p.rc, 0, p.err)
        self.assertEqual(read(out), data)
        r = self.vs(["vol-upload", "--pool", "p1", "v.luks", self.write("big", os.urandom(4 << 20))])
        self.assertEqual(r.rc, 1)
        self.assertIn(b"error: cannot upload to volume v.luks\nerror: invalid argument: data goes beyond", r.err)
        self.assertEqual(self.vs(["vol-upload", "--pool", "p1", "v.luks", "/nonexistent"]).err,
                         b"error: cannot read /nonexistent\n")
        self.assertEqual(self.vs(["vol-upload", "--pool", "p1", "v.luks", out, "--offset", "-1"]).err,
                         b"error: Numeric value '-1' for <offset> option is malformed or out of range\n")

    # -- statement 11: a wrong secret changes nothing --------------------------------------------
    def test_wrong_secret_leaves_volume_byte_identical(self):
        self.secret()
        vol = self.create()
        before = sha256(vol)
        self.vs(["secret-set-value", UUID, "--file", self.write("wrong", b"letmein\n"), "--plain"], ok=True)
        for args in (["vol-upload", "--pool", "p1", "v.luks", self.write("x", b"x" * 4096)],
                     ["vol-wipe", "--pool", "p1", "v.luks"],
                     ["vol-resize", "--pool", "p1", "v.luks", "2M"]):
            r = self.vs(args)
            self.assertEqual(r.rc, 1, args)
            self.assertIn(b"Invalid password, cannot unlock any keyslot", r.err)
        self.assertEqual(sha256(vol), before)

    # -- statements 20-21 through the CLI ----------------------------------------------------------
    def test_qcow2_luks_volume(self):
        self.secret()
        vol = self.create("q.qcow2", fmt="qcow2", capacity="8M")
        opts = self.qemu_opts(vol, "qcow2")
        check = run([QEMU_IMG, "check"] + opts)
        self.assertEqual(check.rc, 0, check.out)
        self.assertIn(b"No errors were found on the image.", check.out)
        info = run([QEMU_IMG, "info"] + opts, check=True).out
        self.assertIn(b"encrypted: yes", info)
        self.assertIn(b"format: luks", info)
        self.assertIn(b"compat: 0.10", info)  # what libvirt 9.0 asks for without <compat>
        data = os.urandom(3 << 20)
        self.vs(["vol-upload", "--pool", "p1", "q.qcow2", self.write("d", data), "--offset", "65000"], ok=True)
        self.assertIn(b"No errors were found", run([QEMU_IMG, "check"] + opts).out)
        out = os.path.join(self.work, "o")
        run([QEMU_IMG, "convert"] + opts + ["-O", "raw", out], check=True)
        self.assertEqual(read(out)[65000:65000 + len(data)], data)
        self.vs(["vol-resize", "--pool", "p1", "q.qcow2", "16M"], ok=True)
        self.assertIn(b"virtual size: 16 MiB", run([QEMU_IMG, "info"] + opts, check=True).out)
        xml = self.vs(["vol-dumpxml", "--pool", "p1", "q.qcow2"], ok=True).out.decode()
        self.assertIn("<format type='qcow2'/>", xml)
        self.assertIn("<encryption format='luks'>\n      <secret type='passphrase' uuid='%s'/>" % UUID, xml)
        self.assertIn("<clusterSize unit='B'>65536</clusterSize>", xml)

    # -- statements 24-25: libvirt's messages -------------------------------------------------------
    def test_creation_errors_match_libvirt(self):
        self.secret(uuid=UUID2, value=None, usage=os.path.join(self.pool, "other"))
        cases = [
            # No <secret>, or a secret without a value, is no error since issue 13: the value is
            # generated (volume_autogen_cli_test.py). Two secrets still are.
            (self.vol_xml("a", enc="<encryption format='luks'><secret type='passphrase' uuid='%s'/><secret "
                                   "type='passphrase' uuid='%s'/></encryption>" % (UUID, UUID2)),
             "invalid argument: A single <secret type='passphrase'...> element is expected in encryption "
             "description"),
            (self.vol_xml("b", enc="<encryption format='luks'><secret type='passphrase' "
                                   "uuid='deadbeef-0000-0000-0000-000000000000'/></encryption>"),
             "Secret not found: no secret with matching uuid 'deadbeef-0000-0000-0000-000000000000'"),
            (self.vol_xml("d", fmt="qcow2", enc="<encryption format='qcow'><secret type='passphrase' "
                                                "uuid='%s'/></encryption>" % UUID2),
             "unsupported configuration: creation of qcow2 encrypted image is not supported"),
            (self.vol_xml("e", enc="<encryption format='luks-any'><secret type='passphrase' uuid='%s'/>"
                                   "</encryption>" % UUID2),
             "internal error: Only luks encryption is supported for raw files"),
            (self.vol_xml("f", enc="<encryption format='luks'><secret type='passphrase' usage='/nope'/>"
                                   "</encryption>"),
             "Secret not found: no secret with matching usage '/nope'"),
            (self.vol_xml("g", fmt="vmdk"), "unsupported configuration: volume encryption unsupported with format vmdk"),
            (self.vol_xml("h", enc="<encryption format='luks'><ivgen name='plain64'/></encryption>"),
             "XML error: ivgen element found, but cipher is missing"),
            (self.vol_xml("i", enc="<encryption format='luks'><cipher name='aes' mode='xts'/></encryption>"),
             "XML error: Missing required attribute 'size' in element 'cipher'"),
            (self.vol_xml("j", enc="<encryption format='luks'><secret type='passphrase'/></encryption>"),
             "XML error: missing secret uuid or usage attribute"),
            (self.vol_xml("k", enc="<encryption format='luks'><secret type='volume' uuid='%s'/></encryption>"
                                   % UUID), "unsupported configuration: unknown volume encryption secret type volume"),
            (self.vol_xml("l", enc="<encryption format='bogus'/>"),
             "unsupported configuration: unknown volume encryption format type bogus"),
            (self.write("m.xml", "<volume><name>a/b</name><capacity>1</capacity></volume>"),
             "Requested operation is not valid: volume name 'a/b' cannot contain '/'"),
            (self.write("n.xml", "<volume><name>n</name></volume>"), "XML error: missing capacity element"),
        ]
        for path, message in cases:
            r = self.vs(["vol-create", "p1", path])
            self.assertEqual((r.rc, r.err.decode()),
                             (1, "error: Failed to create vol from %s\nerror: %s\n" % (path, message)))
        self.assertEqual(os.listdir(self.pool), [])
        self.secret()
        self.create()
        r = self.vs(["vol-create", "p1", self.vol_xml()])
        self.assertEqual(r.err.decode().splitlines()[-1], "error: storage volume 'v.luks' exists already")

    # -- statements 27-28 -------------------------------------------------------------------------
    def test_passphrase_bytes(self):
        self.secret(value=b"let\xffme")
        r = self.vs(["vol-create", "p1", self.vol_xml()])
        self.assertEqual(r.rc, 1)
        self.assertIn(b"not valid UTF-8", r.err)
        self.secret(value=b"letmein\n")
        vol = self.create()
        self.assertEqual(self.cryptsetup_test(vol, self.write("nl.key", b"letmein\n")), 0)
        self.assertEqual(self.cryptsetup_test(vol), 2)

    # -- statement 29 and the fd hand-over -------------------------------------------------------------
    def test_qemu_handover_keeps_key_out_of_argv(self):
        self.secret()
        vol = self.create()
        r = self.vs(["vol-qemu-args", "--pool", "p1", "v.luks"], ok=True)
        words = r.out.decode().split()
        self.assertEqual(words[0], "--object")
        self.assertTrue(words[1].startswith("secret,id=v.luks_encrypt0,file="))
        secret_file = words[1].split("file=", 1)[1]
        self.assertEqual(stat.S_IMODE(os.stat(secret_file).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(secret_file)).st_mode), 0o700)
        self.assertEqual(read(secret_file), b"letmein")
        self.assertEqual(words[2:], ["--image-opts", "driver=luks,key-secret=v.luks_encrypt0,file.filename=" + vol])
        self.assertNotIn(b"letmein", r.out)
        run([QEMU_IMG, "info"] + words, check=True)
        os.unlink(secret_file)
        # Inherited descriptor: nothing on disk, nothing in argv, qemu opens the volume.
        out = os.path.join(self.work, "o.raw")
        r = self.vs(["vol-qemu-exec", "--pool", "p1", "v.luks", "--", QEMU_IMG, "convert", "--object", "{secret}",
                     "--image-opts", "{image}", "-O", "raw", out], ok=True)
        self.assertEqual(os.path.getsize(out), 1000448)
        self.assertEqual(os.listdir(os.path.dirname(secret_file)), [])
        r = self.vs(["vol-qemu-exec", "--pool", "p1", "v.luks", "--", "sh", "-c", "exit 3"])
        self.assertEqual(r.err, b"error: internal error: Child process (sh -c exit 3) unexpected exit status 3\n")
        # A chosen secret file must be new.
        chosen = self.write("exists", b"")
        self.assertEqual(self.vs(["vol-qemu-args", "--pool", "p1", "v.luks", "--secret-file", chosen]).rc, 1)

    # -- statements 31-32: probing what qemu and cryptsetup made -------------------------------------
    def test_refresh_probes_foreign_volumes(self):
        vol = os.path.join(self.pool, "qemu.luks")
        qemu_img_create(["-f", "luks", "--object", "secret,id=s,file=" + self.key, "-o", "key-secret=s,iter-time=10",
                         vol, "2M"])
        c1 = os.path.join(self.pool, "c1.luks1")
        run(["truncate", "-s", "4M", c1], check=True)
        run([CRYPTSETUP, "luksFormat", "--type", "luks1", "--batch-mode", "--pbkdf-force-iterations", "1000",
             "--key-file", self.key, c1], check=True)
        l2 = os.path.join(self.pool, "l2.img")
        run(["truncate", "-s", "20M", l2], check=True)
        run([CRYPTSETUP, "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2",
             "--pbkdf-force-iterations", "1000", "--key-file", self.key, l2], check=True)
        self.secret(usage=vol)
        # Without <cipher>, vsecret writes what qemu (and so libvirt 9.0) writes.
        mine = self.create("mine.luks", capacity="2M")
        fields = ("Version:", "Cipher name:", "Cipher mode:", "Hash spec:", "MK bits:", "Payload offset:")

        def dump_fields(path):
            out = run([CRYPTSETUP, "luksDump", path], check=True).out.decode().splitlines()
            return [line for line in out if line.startswith(fields)]
        self.assertEqual(dump_fields(mine), dump_fields(vol))
        self.vs(["pool-refresh", "p1"], ok=True)
        names = self.vs(["vol-list", "p1"], ok=True).out.decode()
        for name in ("qemu.luks", "c1.luks1", "l2.img"):
            self.assertIn(name, names)
        xml = self.vs(["vol-dumpxml", "--pool", "p1", "qemu.luks"], ok=True).out.decode()
        self.assertIn("<capacity unit='bytes'>2097152</capacity>", xml)
        self.assertIn("<format type='raw'/>", xml)
        self.assertIn("<encryption format='luks'>\n      <secret type='passphrase' uuid='%s'/>\n"
                      "    </encryption>" % UUID, xml)
        xml = self.vs(["vol-dumpxml", "--pool", "p1", "c1.luks1"], ok=True).out.decode()
        self.assertIn("<capacity unit='bytes'>%d</capacity>" % (4194304 - 4096 * 512), xml)
        self.assertIn("<encryption format='luks'>\n    </encryption>", xml)
        xml = self.vs(["vol-dumpxml", "--pool", "p1", "l2.img"], ok=True).out.decode()
        self.assertIn("<encryption format='luks2'>", xml)  # LUKS2 is detected (tests/interop/volume_luks2_test.py)
        before = read(l2)
        r = self.vs(["vol-upload", "--pool", "p1", "l2.img", self.write("x", b"x")])
        self.assertNotEqual(r.rc, 0)  # no secret for it: never written as plaintext
        self.assertEqual(read(l2), before)
        # The qemu-made volume opens through its usage secret; data round-trips through qemu.
        data = os.urandom(2097152)
        self.vs(["vol-upload", "--pool", "p1", "qemu.luks", self.write("d", data)], ok=True)
        out = os.path.join(self.work, "o")
        run([QEMU_IMG, "convert"] + self.qemu_opts(vol) + ["-O", "raw", out], check=True)
        self.assertEqual(read(out), data)

    # -- statements 36-37 -----------------------------------------------------------------------------
    def test_resize_and_zero_fill(self):
        self.secret()
        vol = self.create(capacity="1M")
        data = os.urandom(1 << 20)
        self.vs(["vol-upload", "--pool", "p1", "v.luks", self.write("d", data)], ok=True)
        head = read(vol, 4040 * 512)
        r = self.vs(["vol-resize", "--pool", "p1", "v.luks", "--delta", "1000"], ok=True)
        self.assertEqual(r.out, b"Size of volume 'v.luks' successfully changed by 1000\n\n")
        self.assertEqual(read(vol, 4040 * 512), head)
        self.assertIn(b"(1049600 bytes)", run([QEMU_IMG, "info"] + self.qemu_opts(vol), check=True).out)
        out = os.path.join(self.work, "o")
        run([QEMU_IMG, "convert"] + self.qemu_opts(vol) + ["-O", "raw", out], check=True)
        self.assertEqual(read(out)[:1 << 20], data)
        # Fresh payload is noise through qemu; a fully allocated volume reads as zeros.
        self.vs(["vol-create-as", "p1", "z.luks", "1M", "--secret", UUID], ok=True)
        z = os.path.join(self.pool, "z.luks")
        run([QEMU_IMG, "convert"] + self.qemu_opts(z) + ["-O", "raw", out], check=True)
        self.assertNotEqual(read(out), bytes(1 << 20))
        self.vs(["vol-create-as", "p1", "f.luks", "1M", "--allocation", "1M", "--secret", UUID], ok=True)
        f = os.path.join(self.pool, "f.luks")
        run([QEMU_IMG, "convert"] + self.qemu_opts(f) + ["-O", "raw", out], check=True)
        self.assertEqual(read(out), bytes(1 << 20))
        self.vs(["vol-wipe", "--pool", "p1", "z.luks"], ok=True)
        run([QEMU_IMG, "convert"] + self.qemu_opts(z) + ["-O", "raw", out], check=True)
        self.assertEqual(read(out), bytes(1 << 20))

    # -- the surrounding workflow -----------------------------------------------------------------------
    def test_cipher_from_xml(self):
        self.secret()
        enc = ("<encryption format='luks'><secret type='passphrase' uuid='%s'/>"
               "<cipher name='aes' size='128' mode='cbc' hash='sha1'/><ivgen name='essiv' hash='sha256'/>"
               "</encryption>" % UUID)
        vol = self.create(enc=enc)
        dump = run([CRYPTSETUP, "luksDump", vol], check=True).out.decode()
        self.assertIn("Cipher mode:   \tcbc-essiv:sha256", dump)
        self.assertIn("Hash spec:     \tsha1", dump)
        self.assertIn("MK bits:       \t128", dump)
        self.assertIn("Payload offset:\t1032", dump)
        self.assertEqual(self.cryptsetup_test(vol), 0)
        # <cipher size> is per key, so aes 256 in xts mode is a 64-byte (512-bit) master key.
        vol = self.create("x256.luks", enc="<encryption format='luks'><secret type='passphrase' uuid='%s'/>"
                                           "<cipher name='aes' size='256' mode='xts'/></encryption>" % UUID)
        self.assertIn("MK bits:       \t512", run([CRYPTSETUP, "luksDump", vol], check=True).out.decode())
        # plain64 with a hash writes no ":hash", and cryptsetup accepts it.
        enc = enc.replace("essiv", "plain64")
        vol = self.create("p64.luks", enc=enc)
        self.assertIn("Cipher mode:   \tcbc-plain64\n", run([CRYPTSETUP, "luksDump", vol], check=True).out.decode())
        self.assertEqual(self.cryptsetup_test(vol), 0)
        r = self.vs(["vol-create", "p1", self.vol_xml("s.luks", enc=enc.replace("'aes'", "'blowfish'"))])
        self.assertIn(b"cipher 'blowfish' is not supported", r.err)

    def test_pool_lifecycle_messages(self):
        r = self.vs(["pool-list", "--all"], ok=True)
        self.assertEqual(r.out, b" Name   State    Autostart\n----------------------------\n p1     active   no\n\n")
        r = self.vs(["pool-start", "p1"])
        self.assertEqual(r.err, b"error: Failed to start pool p1\n"
                                   b"error: Requested operation is not valid: storage pool 'p1' is already active\n")
        r = self.vs(["pool-define-as", "p1", "dir", "--target", "/elsewhere"])
        self.assertIn(b"error: operation failed: pool 'p1' already exists with uuid", r.err)
        r = self.vs(["pool-define-as", "p2", "logical", "--target", "/x"])
        self.assertEqual(r.err, b"error: Failed to define pool p2\n"
                                   b"error: internal error: missing backend for pool type 3 (logical)\n")
        r = self.vs(["vol-list", "nope"])
        self.assertEqual(r.err, b"error: failed to get pool 'nope'\n"
                                   b"error: Storage pool not found: no storage pool with matching name 'nope'\n")
        r = self.vs(["vol-info", "--pool", "p1", "nope"])
        self.assertEqual(r.err, b"error: failed to get vol 'nope'\n"
                                   b"error: Storage volume not found: no storage vol with matching path 'nope'\n")
        self.assertEqual(self.vs(["pool-destroy", "p1"], ok=True).out, b"Pool p1 destroyed\n\n")
        self.assertEqual(self.vs(["vol-list", "p1"]).err,
                         b"error: Failed to list volumes\n"
                         b"error: Requested operation is not valid: storage pool 'p1' is not active\n")
        self.assertEqual(self.vs(["pool-autostart", "p1"], ok=True).out, b"Pool p1 marked as autostarted\n\n")
        self.assertEqual(self.vs(["pool-undefine", "p1"], ok=True).out, b"Pool p1 has been undefined\n\n")

    def test_private_secret_and_remote_refusal(self):
        self.secret(private="yes")
        self.create()
        r = self.vs(["secret-get-value", UUID])
        self.assertIn(b"private", r.err)  # private to clients, readable by the storage driver
        r = run([VSECRET, "-c", "secret+unix:///session?socket=" + os.path.join(self.work, "none"),
                 "vol-list", "p1"], env=self.env)
        self.assertEqual(r.rc, 1)

    def test_progress_bar_only_when_asked(self):
        self.secret()
        self.create(capacity="8M")
        data = self.write("d", os.urandom(8 << 20))
        self.assertEqual(self.vs(["vol-upload", "--pool", "p1", "v.luks", data], ok=True).err, b"")
        env = dict(self.env, VSECRET_PROGRESS="1")
        r = self.vs(["vol-upload", "--pool", "p1", "v.luks", data], env=env, ok=True)
        self.assertIn(b"\rUploading: [100 %]", r.err)
        self.assertTrue(r.err.endswith(b"8.00 MiB / 8.00 MiB\n"))


if __name__ == "__main__":
    unittest.main()
