"""The hypervisor's secret connection, end to end, with libvirt's own drivers as the clients of
vsecretd: the QEMU driver fetching LUKS passphrases at guest start, the storage driver creating
a LUKS volume, and a guest opening a volume made by `vsecret vol-create`.

The same cases run against two libvirt installations: Chain90 (the host's libvirt 9.0 and
QEMU) and Chain12 (libvirt 12.x, its QEMU and qemu-io from the Debian testing root, chrooted;
vsecretd stays on the host and its socket directory is the root's /run/libvirt). The machinery,
the namespace and the daemons' lifecycle are in tests/vstest/hypervisor.py.

What a libvirtd loading only one driver module does depends on whether it believes it is
monolithic: made per-driver by the shim, its remote driver opens secret:///system in direct
mode on virtsecretd-sock and delegates the caller's identity (SET_IDENTITY with the system
token, which is what lets a private secret's value out); left monolithic, the remote driver
declines secret:///system inside the daemon (libvirt's documented behaviour: a monolithic
libvirtd serves secrets with its own secret driver), so the guest does not start and nothing is
delegated."""
import os
import unittest

from vstest import hypervisor as hv


class ChainCases:
    """The cases; a subclass names the flavor."""

    flavor = None

    @classmethod
    def setUpClass(cls):
        cls.chain = hv.ChainRun(cls.flavor()).execute()
        cls.parts = cls.chain.parts
        cls.out = cls.chain.out

    @classmethod
    def tearDownClass(cls):
        cls.chain.cleanup()

    def part(self, name):
        return self.parts.get(name, "")

    def test_run_completes(self):
        self.assertEqual(self.chain.rc, 0, self.out)
        self.assertIn("end", self.parts, self.out)

    def test_the_flavors_own_daemon_and_qemu_run_the_guests(self):
        version = self.chain.flavor.version()
        for phase in ("qemu", "mono", "storage"):
            self.assertIn("libvirt version: %s," % version, self.chain.logs[phase])
        versions = self.part("versions")
        self.assertIn("Using library: libvirt %s" % version, versions, self.out)
        emulator = versions.strip().splitlines()[-1] if versions.strip() else ""
        self.assertRegex(emulator, r"^QEMU emulator version \d+\.\d+\.\d+", self.out)
        # The daemon's driver probed, and the guest reports, the flavor's QEMU (7.2 on the host,
        # 11.x in the root), not the other installation's.
        number = emulator.split()[3]
        self.assertIn("Running hypervisor: QEMU %s" % number, versions, self.out)
        self.assertIn(number, self.part("qemu version gp"), self.out)

    def test_qemu_driver_runs_per_driver_and_delegates(self):
        self.assertIn("per_driver_shim: virStateInitialize monolithic=1 -> 0", self.chain.stderr["qemu"])
        log = self.chain.logs["qemu"]
        self.assertIn("mode=direct", log)
        self.assertIn("virtsecretd-sock", log)
        self.assertIn("Attempting to delegate current identity", log)

    def test_private_secret_reaches_qemu(self):
        self.assertIn("Domain 'gp' started", self.part("start gp"), self.out)
        self.assertIn("(luks, encrypted)", self.part("block gp"), self.out)

    def test_public_secret_reaches_qemu(self):
        self.assertIn("Domain 'gq' started", self.part("start gq"), self.out)
        self.assertIn("(luks, encrypted)", self.part("block gq"), self.out)

    def test_other_passphrase_is_refused_by_qemu(self):
        self.assertIn("Invalid password, cannot unlock any keyslot", self.part("start gw"), self.out)
        self.assertNotIn("(luks, encrypted)", self.part("block gw"))

    def test_missing_secret_gives_libvirts_error(self):
        self.assertIn("Secret not found: no secret with matching uuid '%s'" % hv.MISSING_UUID,
                      self.part("start gm"), self.out)
        self.assertNotIn("(luks, encrypted)", self.part("block gm"))

    def test_vsecret_volume_opens_in_guest(self):
        self.assertIn("Vol vs.img created", self.part("vsecret vol-create"), self.out)
        self.assertIn("Domain 'gv' started", self.part("start gv"), self.out)
        self.assertIn("(luks, encrypted)", self.part("block gv"), self.out)

    def test_ordinary_client_still_refused(self):
        self.assertIn("secret is private", self.part("private value over an ordinary connection"), self.out)

    def test_monolithic_control_does_not_delegate(self):
        self.assertNotIn("per_driver_shim", self.chain.stderr["mono"])
        log = self.chain.logs["mono"]
        self.assertNotIn("Attempting to delegate current identity", log)
        self.assertNotIn("mode=direct", log)
        self.assertNotIn("Domain 'gp' started", self.part("start mono"), self.out)
        self.assertIn("no connection driver available for secret:///system", self.part("start mono"), self.out)

    def test_storage_driver_creates_luks_volume(self):
        self.assertIn("per_driver_shim: virStateInitialize monolithic=1 -> 0", self.chain.stderr["storage"])
        log = self.chain.logs["storage"]
        self.assertIn("mode=direct", log)
        self.assertIn("Attempting to delegate current identity", log)
        self.assertIn("Vol enc.img created", self.part("vol-create"), self.out)
        self.assertIn("<encryption format='luks'>", self.part("vol-dumpxml"), self.out)
        self.assertIn(hv.STORAGE_UUID, self.part("vol-dumpxml"), self.out)

    def test_storage_volume_opens_with_the_passphrase(self):
        self.assertIn("read 512/512 bytes", self.part("qemu-io right"), self.out)

    def test_storage_volume_refuses_another_passphrase(self):
        self.assertIn("Invalid password, cannot unlock any keyslot", self.part("qemu-io wrong"), self.out)

    def test_nothing_leaks_to_logs(self):
        for log in [self.chain.vsecretd_log] + list(self.chain.logs.values()):
            self.assertNotIn(hv.PASSPHRASE, log)


@unittest.skipUnless(os.geteuid() == 0, "needs root (mount namespaces, libvirtd)")
class Chain90(ChainCases, unittest.TestCase):
    flavor = staticmethod(hv.host_flavor)


@unittest.skipUnless(os.geteuid() == 0, "needs root (mount namespaces, chroot, libvirtd)")
class Chain12(ChainCases, unittest.TestCase):
    flavor = staticmethod(hv.root_flavor)


if __name__ == "__main__":
    unittest.main()
