"""64 simultaneous python3-libvirt clients mixing writes and reads against `vsecretd --root`:
no lost update, no torn or stale read, and the same consistent store after a restart."""
import json
import os
import subprocess
import unittest

from vstest import daemons, paths, process

CLIENTS = 64
ROUNDS = 30

# One interpreter, 64 threads, one connection each (libvirt calls release the GIL, so the calls
# really are concurrent on the daemon's socket). Prints "OK" or the first violation.
WORKLOAD = r'''
import sys, threading, random
import libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
uri, clients, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
SHARED = "ffffffff-0000-0000-0000-000000000000"
def own(i): return "%08x-1111-2222-3333-444444444444" % i
failures = []
barrier = threading.Barrier(clients)

def worker(i):
    try:
        conn = libvirt.open(uri)
        s = conn.secretDefineXML("<secret><uuid>%s</uuid><usage type='ceph'><name>client-%d</name></usage></secret>"
                                 % (own(i), i))
        shared = conn.secretDefineXML("<secret><uuid>%s</uuid><usage type='ceph'><name>shared</name></usage>"
                                      "</secret>" % SHARED)
        barrier.wait()
        rng = random.Random(i)
        for k in range(rounds):
            value = ("%d-%d" % (i, k)).encode()
            s.setValue(value)
            got = s.value()
            if got != value:
                failures.append("client %d read %r after writing %r" % (i, got, value))
            shared.setValue(("shared-%d-%d" % (i, k)).encode() * 8)
            v = shared.value()
            if not (v.startswith(b"shared-") and v == v[:len(v) // 8] * 8):
                failures.append("torn shared value %r" % v[:40])
            other = rng.randrange(clients)
            try:
                ov = conn.secretLookupByUUIDString(own(other)).value().decode()
                oi, ok = ov.split("-")
                if int(oi) != other or not 0 <= int(ok) < rounds:
                    failures.append("client %d saw foreign value %r in %d" % (i, ov, other))
            except libvirt.libvirtError as e:
                if e.get_error_code() != libvirt.VIR_ERR_NO_SECRET:
                    failures.append("lookup error %s" % e)
            if k % 5 == 0:
                tmp = conn.secretDefineXML("<secret ephemeral='yes'><usage type='volume'><volume>/tmp/%d-%d"
                                           "</volume></usage></secret>" % (i, k))
                tmp.setValue(b"t")
                tmp.undefine()
            if k % 7 == 0:
                conn.listAllSecrets(0)
        conn.close()
    except Exception as e:
        failures.append("client %d: %r" % (i, e))

threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
for t in threads: t.start()
for t in threads: t.join(120)
print("OK" if not failures else failures[0])
print(len(failures))
'''

SNAPSHOT = r'''
import sys, json, libvirt
libvirt.registerErrorHandler(lambda ctx, err: None, None)
conn = libvirt.open(sys.argv[1])
out = {}
for s in conn.listAllSecrets(0):
    try:
        out[s.UUIDString()] = [s.usageID(), s.value().decode()]
    except libvirt.libvirtError as e:
        out[s.UUIDString()] = [s.usageID(), None]
print(json.dumps(out, sort_keys=True))
'''


class ConcurrencyTest(unittest.TestCase):
    def setUp(self):
        self.daemon = daemons.Vsecretd()

    def tearDown(self):
        self.daemon.cleanup()

    def snapshot(self):
        p = subprocess.run([paths.PYTHON, "-c", SNAPSHOT, self.daemon.uri()], capture_output=True, timeout=60,
                           env=process.clean_env())
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_64_clients_no_lost_update_consistent_store(self):
        p = subprocess.run([paths.PYTHON, "-c", WORKLOAD, self.daemon.uri(), str(CLIENTS), str(ROUNDS)],
                           capture_output=True, timeout=300, env=process.clean_env())
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace")[-2000:])
        lines = p.stdout.decode().splitlines()
        self.assertEqual(lines[0], "OK", lines)

        before = json.loads(self.snapshot())
        self.assertEqual(len(before), CLIENTS + 1)  # the ephemeral ones are all gone
        for i in range(CLIENTS):
            self.assertEqual(before["%08x-1111-2222-3333-444444444444" % i], ["client-%d" % i, "%d-%d" % (i, ROUNDS - 1)])
        shared = before["ffffffff-0000-0000-0000-000000000000"][1]
        self.assertTrue(shared.startswith("shared-") and shared.endswith("-%d" % (ROUNDS - 1)))

        # Nothing half-written on disk, and a restarted daemon loads exactly the same store.
        store = os.path.join(self.daemon.root, "etc", "secrets")
        self.assertEqual([n for n in os.listdir(store) if n.endswith(".new")], [])
        self.assertEqual(len([n for n in os.listdir(store) if n.endswith(".xml")]), CLIENTS + 1)
        old = self.daemon
        self.assertEqual(old.stop(), 0)
        old.owned_root = False
        old.cleanup()
        self.daemon = daemons.Vsecretd(root=old.root)
        self.daemon.owned_root = True
        self.assertEqual(json.loads(self.snapshot()), before)


if __name__ == "__main__":
    unittest.main()
