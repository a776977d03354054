"""python3-libvirt 9.0 against `vsecretd --root` and against a stock libvirtd: every secret API,
events, read-only connections and the 64 KiB value limit give the same results on both."""
import json
import subprocess
import unittest

from vstest import daemons, paths, process

# Runs in its own interpreter (python3-libvirt is process-global) and prints one JSON document.
CLIENT = r'''
import json, sys, threading, time
import libvirt

libvirt.registerErrorHandler(lambda ctx, err: None, None)
libvirt.virEventRegisterDefaultImpl()
rw_uri, ro_uri = sys.argv[1], sys.argv[2]
out = []

def rec(name, fn):
    try:
        v = fn()
        out.append([name, "ok", v])
    except libvirt.libvirtError as e:
        out.append([name, "err", e.get_error_code(), e.get_error_domain(), e.get_error_message()])

def ref(s):
    return [s.UUIDString(), s.usageType(), s.usageID()]

conn = libvirt.open(rw_uri)
events = []
def life(c, s, ev, detail, opaque):
    events.append(["life", opaque] + ref(s) + [ev, detail])
def value(c, s, opaque):
    events.append(["value", opaque] + ref(s))
stop = False
def loop():
    while not stop:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()

U1 = "11111111-2222-3333-4444-555555555555"
rec("register-all", lambda: conn.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_LIFECYCLE, life, "all") >= 0)
rec("register-value", lambda: conn.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_VALUE_CHANGED, value, "v") >= 0)
rec("type", conn.getType)
rec("libversion", conn.getLibVersion)
rec("secure", conn.isSecure)
rec("encrypted", conn.isEncrypted)
rec("hostname", conn.getHostname)
rec("num-empty", conn.numOfSecrets)
rec("define-volume", lambda: ref(conn.secretDefineXML(
    "<secret><uuid>%s</uuid><usage type='volume'><volume>/v/a.img</volume></usage></secret>" % U1)))
rec("define-ceph", lambda: ref(conn.secretDefineXML(
    "<secret ephemeral='yes'><uuid>aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</uuid>"
    "<usage type='ceph'><name>c</name></usage></secret>")))
rec("define-private", lambda: ref(conn.secretDefineXML(
    "<secret private='yes'><uuid>bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee</uuid>"
    "<usage type='iscsi'><target>t</target></usage></secret>")))
rec("define-bad", lambda: conn.secretDefineXML("<secret>"))
rec("define-flags", lambda: conn.secretDefineXML("<secret/>", 4))
rec("num", conn.numOfSecrets)
rec("list-uuids", lambda: sorted(conn.listSecrets()))
rec("list-all", lambda: sorted(ref(s) for s in conn.listAllSecrets(0)))
for flags in (1, 2, 4, 8, 5, 10, 15):
    rec("list-all-%d" % flags, lambda: sorted(ref(s) for s in conn.listAllSecrets(flags)))
rec("list-all-bad-flags", lambda: conn.listAllSecrets(16))
rec("lookup-uuid", lambda: ref(conn.secretLookupByUUIDString(U1)))
rec("lookup-missing", lambda: conn.secretLookupByUUIDString("99999999-2222-3333-4444-555555555555"))
rec("lookup-usage", lambda: ref(conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, "c")))
rec("lookup-usage-wrong-type", lambda: conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, "c"))
s = conn.secretLookupByUUIDString(U1)
rec("xml", lambda: s.XMLDesc(0))
rec("xml-flags", lambda: s.XMLDesc(1))
rec("no-value", lambda: s.value())
rec("set", lambda: s.setValue(b"\x00\x01binary\xff"))
rec("get", lambda: list(s.value()))
rec("get-flags", lambda: s.value(1))
rec("set-max", lambda: s.setValue(b"m" * 65536))
rec("get-max", lambda: len(s.value()))
rec("set-over", lambda: s.setValue(b"o" * 65537))
rec("get-after-over", lambda: len(s.value()))
rec("set-flags", lambda: s.setValue(b"x", 1))
p = conn.secretLookupByUUIDString("bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee")
rec("set-private", lambda: p.setValue(b"hidden"))
rec("get-private", lambda: p.value())
rec("register-dup", lambda: conn.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_LIFECYCLE, life, "dup"))
rec("register-filtered", lambda: conn.secretEventRegisterAny(s, libvirt.VIR_SECRET_EVENT_ID_LIFECYCLE, life, "one") >= 0)

ro = libvirt.openReadOnly(ro_uri)
rs = ro.secretLookupByUUIDString(U1)
rec("ro-list", lambda: sorted(ref(x) for x in ro.listAllSecrets(0)))
rec("ro-xml", lambda: rs.XMLDesc(0))
rec("ro-get", lambda: rs.value())
rec("ro-set", lambda: rs.setValue(b"no"))
rec("ro-define", lambda: ro.secretDefineXML("<secret/>"))
rec("ro-undefine", lambda: rs.undefine())
ro.close()

rec("undefine", lambda: s.undefine())
rec("undefine-again", lambda: s.undefine())
rec("undefine-ceph", lambda: conn.secretLookupByUUIDString("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee").undefine())
deadline = time.time() + 5
while len(events) < 10 and time.time() < deadline:
    time.sleep(0.05)
time.sleep(0.3)
out.append(["events", sorted(events)])
stop = True
print(json.dumps(out))
'''


def run_client(daemon):
    p = subprocess.run([paths.PYTHON, "-c", CLIENT, daemon.uri(), daemon.uri(ro=True)], capture_output=True,
                       env=process.clean_env(), timeout=60)
    if p.returncode != 0:
        raise AssertionError("client failed: %s" % p.stderr.decode(errors="replace"))
    return json.loads(p.stdout)


@unittest.skipUnless(daemons.libvirtd_available(), "needs root, unshare and the stock libvirtd")
class PythonLibvirtSameAsLibvirtdTest(unittest.TestCase):
    def setUp(self):
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()

    def test_same_results(self):
        # python3-libvirt 9.0 against vsecretd and against libvirtd 12.x, the primary reference.
        ours = daemons.Vsecretd()
        self.daemons.append(ours)
        theirs = daemons.StockLibvirtd12()
        self.daemons.append(theirs)
        got, want = run_client(ours), run_client(theirs)
        self.assertEqual([g[0] for g in got], [w[0] for w in want])
        for g, w in zip(got, want):
            with self.subTest(step=g[0]):
                self.assertEqual(g, w)
        events = got[-1][1]
        self.assertTrue(any(e[0] == "value" for e in events))


class PythonLibvirtAgainstVsecretdTest(unittest.TestCase):
    def test_private_values_never_leave(self):
        d = daemons.Vsecretd()
        try:
            results = {r[0]: r[1:] for r in run_client(d)}
            self.assertEqual(results["get-private"], ["err", 65, 30, "Invalid secret: secret is private"])
            self.assertEqual(results["get-max"], ["ok", 65536])
            self.assertEqual(results["ro-get"][0], "err")
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
