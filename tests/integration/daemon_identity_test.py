"""Identity delegation (CONNECT_SET_IDENTITY) and private values, as libvirt's QEMU and storage
drivers use them: python3-libvirt's setIdentity from libvirt 9.0 (host) and 12.8 (the reference
root) against vsecretd, with libvirtd 9.0's answers side by side for the error cases."""
import json
import os
import struct
import subprocess
import unittest

from vstest import daemons, libvirt12, paths, process, rpc

UUID = "6a2f7c3e-5b1d-4e8a-9c0f-1d2e3f4a5b6c"
PUBLIC_UUID = "6a2f7c3e-5b1d-4e8a-9c0f-1d2e3f4a5b6d"

# One JSON document of what each identity gets; run by the python3-libvirt under test.
CLIENT = r'''
import json, sys
import libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
rw, ro, token, uuid, public = sys.argv[1:6]
out = {}
def rec(name, fn):
    try:
        v = fn()
        out[name] = ["ok", v.decode() if isinstance(v, bytes) else v]
    except libvirt.libvirtError as e:
        out[name] = ["err", e.get_error_code(), e.get_error_domain(), e.get_error_message()]
def value(uri, ident, which=uuid):
    c = libvirt.open(uri)
    try:
        if ident is not None:
            c.setIdentity(ident)
        return c.secretLookupByUUIDString(which).value()
    finally:
        c.close()
hyp = {"user-name": "root", "unix-user-id": 0, "group-name": "root", "unix-group-id": 0,
       "process-id": 1, "process-time": 12345}
rec("no-identity", lambda: value(rw, None))
rec("ordinary-identity", lambda: value(rw, dict(hyp)))
rec("wrong-token", lambda: value(rw, dict(hyp, **{"system.token": "0" * 32})))
if token:
    rec("host-token", lambda: value(rw, dict(hyp, **{"system.token": token})))
    rec("host-token-ro", lambda: value(ro, dict(hyp, **{"system.token": token})))
rec("public-no-identity", lambda: value(rw, None, public))
def set_only(ident):
    c = libvirt.open(rw)
    try:
        return c.setIdentity(ident)
    finally:
        c.close()
rec("unknown-field", lambda: set_only({"favourite-colour": "blue"}))
rec("empty-identity", lambda: set_only({}))
print(json.dumps(out))
'''

DEFINE = ("<secret ephemeral='no' private='%s'><uuid>%s</uuid>"
          "<usage type='volume'><volume>/var/lib/images/%s.img</volume></usage></secret>")


def prepare(uri):
    import libvirt
    c = libvirt.open(uri)
    try:
        c.secretDefineXML(DEFINE % ("yes", UUID, "private")).setValue(b"private-passphrase-1")
        c.secretDefineXML(DEFINE % ("no", PUBLIC_UUID, "public")).setValue(b"public-passphrase-1")
    finally:
        c.close()


def run_client(argv, env=None):
    p = subprocess.run(argv, capture_output=True, timeout=60, env=env)
    if p.returncode != 0:
        raise AssertionError("client failed: %s" % p.stderr.decode(errors="replace"))
    return json.loads(p.stdout)


PRIVATE = ["err", 65, 30, "Invalid secret: secret is private"]

# Raw CONNECT_SET_IDENTITY arguments (python3-libvirt cannot send a wrong type or a duplicate:
# it builds the parameters from a dict with the types libvirt declares).
SET_IDENTITY = 419
T_INT, T_UINT, T_LLONG, T_ULLONG, T_DOUBLE, T_BOOLEAN, T_STRING = range(1, 8)


def tparam(name, kind, value):
    body = {T_INT: ">i", T_UINT: ">I", T_LLONG: ">q", T_ULLONG: ">Q", T_DOUBLE: ">d", T_BOOLEAN: ">i"}
    out = rpc.xdr_string(name) + struct.pack(">i", kind)
    return out + (rpc.xdr_string(value) if kind == T_STRING else struct.pack(body[kind], value))


def identity_args(params, flags=0, count=None):
    n = len(params) if count is None else count
    return struct.pack(">I", n) + b"".join(params) + struct.pack(">I", flags)


def identity_probes():
    """(name, socket, open first?, payload): the raw cases whose replies are compared."""
    uid = tparam("unix-user-id", T_ULLONG, 0)
    many = [tparam("user-name", T_STRING, "u%d" % i) for i in range(21)]
    return [
        ("valid", "rw", True, identity_args([tparam("user-name", T_STRING, "root"), uid,
                                              tparam("process-id", T_LLONG, 1)])),
        ("empty", "rw", True, identity_args([])),
        ("before open", "rw", False, identity_args([uid])),
        ("read-only socket", "ro", True, identity_args([uid])),
        ("unknown field", "rw", True, identity_args([tparam("colour", T_STRING, "x")])),
        ("string as uint64", "rw", True, identity_args([tparam("unix-user-id", T_STRING, "0")])),
        ("uint as uint64", "rw", True, identity_args([tparam("unix-user-id", T_UINT, 0)])),
        ("uint64 as string", "rw", True, identity_args([tparam("user-name", T_ULLONG, 0)])),
        ("llong as ullong", "rw", True, identity_args([tparam("process-time", T_LLONG, 5)])),
        ("ullong as llong", "rw", True, identity_args([tparam("process-id", T_ULLONG, 5)])),
        ("duplicate", "rw", True, identity_args([uid, tparam("user-name", T_STRING, "a"), uid])),
        ("unknown and duplicate", "rw", True, identity_args([uid, uid, tparam("zzz", T_INT, 1)])),
        ("21 parameters", "rw", True, identity_args(many)),
        ("count lies", "rw", True, identity_args([uid], count=3)),
        ("bad union arm", "rw", True, identity_args([rpc.xdr_string("user-name") + struct.pack(">i", 9)])),
        ("name too long", "rw", True, identity_args([tparam("x" * 80, T_STRING, "v")])),
        ("flags set", "rw", True, identity_args([uid], flags=0x80)),
    ]


def identity_answers(daemon):
    out = []
    for name, sock, do_open, payload in identity_probes():
        c = rpc.RawConn(daemon.rw if sock == "rw" else daemon.ro)
        try:
            if do_open:
                c.open()
            else:
                c.call(66)
            out.append((name, rpc.describe(c.call(SET_IDENTITY, payload))))
        finally:
            c.close()
    return out


class IdentityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = daemons.Vsecretd(args=["-v"])
        prepare(cls.d.uri())
        cls.token_path = os.path.join(cls.d.root, "run", "common", "system.token")
        with open(cls.token_path) as f:
            cls.token = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def check(self, out):
        self.assertEqual(out["no-identity"], PRIVATE)
        self.assertEqual(out["ordinary-identity"], PRIVATE)  # uid 0 and user root do not count
        self.assertEqual(out["wrong-token"], PRIVATE)
        self.assertEqual(out["host-token"], ["ok", "private-passphrase-1"])
        self.assertEqual(out["host-token-ro"],
                         ["err", 29, 30, "operation forbidden: read only access prevents virSecretGetValue"])
        self.assertEqual(out["public-no-identity"], ["ok", "public-passphrase-1"])
        self.assertEqual(out["unknown-field"],
                         ["err", 74, 0, "argument unsupported: parameter 'favourite-colour' not supported"])
        self.assertEqual(out["empty-identity"], ["ok", 0])

    def test_token_file(self):
        st = os.stat(self.token_path)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertRegex(self.token, r"^[0-9a-f]{32}$")

    def test_python_libvirt_9(self):
        self.check(run_client(["/usr/bin/python3", "-c", CLIENT, self.d.uri(), self.d.uri(ro=True),
                               self.token, UUID, PUBLIC_UUID], env=process.clean_env()))

    def test_python_libvirt_12(self):
        argv = ["python3", "-c", CLIENT, self.d.uri(), self.d.uri(ro=True), self.token, UUID, PUBLIC_UUID]
        p = libvirt12.run(argv, share=[self.d.root], timeout=90)
        self.assertEqual(p.rc, 0, p.err)
        self.check(json.loads(p.out))

    def test_token_never_logged(self):
        run_client(["/usr/bin/python3", "-c", CLIENT, self.d.uri(), self.d.uri(ro=True),
                    self.token, UUID, PUBLIC_UUID], env=process.clean_env())
        log = self.d.stderr()
        self.assertNotIn(self.token, log)
        self.assertNotIn("private-passphrase-1", log)

    def test_corrupt_token_stops_startup(self):
        import tempfile
        root = tempfile.mkdtemp(prefix="vsecretd-tok-")
        os.makedirs(os.path.join(root, "run", "common"))
        path = os.path.join(root, "run", "common", "system.token")
        with open(path, "w") as f:
            f.write("not-a-token\n")
        p = subprocess.run([paths.VSECRETD, "--root", root], capture_output=True, timeout=30, env=process.clean_env())
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(("System token in %s was corrupt" % path).encode(), p.stderr)
        self.assertFalse(os.path.exists(os.path.join(root, "run", "virtsecretd-sock")))

    def test_raw_identity_errors(self):
        got = dict(identity_answers(self.d))
        self.assertEqual(got["valid"], ("ok", ""))
        self.assertEqual(got["empty"], ("ok", ""))
        self.assertEqual(got["read-only socket"], ("ok", ""))
        self.assertEqual(got["unknown field"], ("err", 74, 0, "argument unsupported: parameter 'colour' not supported"))
        self.assertEqual(got["string as uint64"],
                         ("err", 8, 0, "invalid argument: invalid type 'string' for parameter 'unix-user-id', expected 'ullong'"))
        self.assertEqual(got["duplicate"],
                         ("err", 8, 0, "invalid argument: parameter 'unix-user-id' occurs multiple times"))
        self.assertEqual(got["21 parameters"][0], "err")
        self.assertEqual(got["count lies"][0], "err")

    @unittest.skipUnless(daemons.libvirtd_available(), "needs root and libvirtd 9.0's secret driver")
    def test_raw_identity_answers_match_libvirtd(self):
        ours = identity_answers(self.d)
        ref = daemons.StockLibvirtd()
        try:
            theirs = identity_answers(ref)
        finally:
            ref.cleanup()
        for (name, got), (_, want) in zip(ours, theirs):
            with self.subTest(probe=name):
                self.assertEqual(got, want)

    @unittest.skipUnless(daemons.libvirtd_available(), "needs root and libvirtd 9.0's secret driver")
    def test_same_answers_as_libvirtd(self):
        # libvirtd keeps its token in its private /run/libvirt: only the token-less cases compare.
        ref = daemons.StockLibvirtd()
        try:
            prepare(ref.uri())
            theirs = run_client(["/usr/bin/python3", "-c", CLIENT, ref.uri(), ref.uri(ro=True), "",
                                 UUID, PUBLIC_UUID], env=process.clean_env())
        finally:
            ref.cleanup()
        ours = run_client(["/usr/bin/python3", "-c", CLIENT, self.d.uri(), self.d.uri(ro=True), "",
                           UUID, PUBLIC_UUID], env=process.clean_env())
        self.assertEqual(ours, theirs)


if __name__ == "__main__":
    unittest.main()
