"""Stock virsh 9.0 against `vsecretd --root` and against a stock libvirtd: the same command
sequence must give the same stdout, stderr and exit status on both (issue 3)."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from vstest import cli, daemons, paths, process

U1 = "11111111-2222-3333-4444-555555555555"
U_PRIV = "22222222-2222-3333-4444-555555555555"
U_EPH = "33333333-2222-3333-4444-555555555555"
U_CEPH = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
U_NONE = "00000000-0000-0000-0000-00000000abcd"
U_MISSING = "99999999-2222-3333-4444-555555555555"

FILES = {
    "sec1.xml": "<secret ephemeral='no' private='no'>\n  <uuid>%s</uuid>\n  <description>test volume secret"
                "</description>\n  <usage type='volume'>\n    <volume>/var/lib/images/a.img</volume>\n  </usage>\n"
                "</secret>\n" % U1,
    "priv.xml": "<secret ephemeral='no' private='yes'><uuid>%s</uuid><usage type='tls'><name>web</name>"
                "</usage></secret>" % U_PRIV,
    "eph.xml": "<secret ephemeral='yes' private='no'><uuid>%s</uuid><usage type='iscsi'><target>iqn.x</target>"
               "</usage></secret>" % U_EPH,
    "ceph.xml": "<secret><uuid>%s</uuid><usage type='ceph'><name>client.admin secret</name></usage></secret>"
                % U_CEPH,
    "none.xml": "<secret><uuid>%s</uuid></secret>" % U_NONE,
    "vtpm.xml": "<secret><usage type='vtpm'><name>tpm-1</name></usage></secret>",
    "bad.xml": "<secret><uuid>%s</uuid>" % U1,
    "wrongroot.xml": "<notsecret/>",
    "collision.xml": "<secret><uuid>44444444-2222-3333-4444-555555555555</uuid><usage type='volume'>"
                     "<volume>/var/lib/images/a.img</volume></usage></secret>",
    "usage-change.xml": "<secret><uuid>%s</uuid><usage type='volume'><volume>/other</volume></usage></secret>" % U1,
    "bogus-usage.xml": "<secret><usage type='bogus'><name>x</name></usage></secret>",
    "private-flip.xml": "<secret private='no'><uuid>%s</uuid><usage type='tls'><name>web</name></usage></secret>"
                        % U_PRIV,
    "invalid-schema.xml": "<secret><uuid>%s</uuid><bogus/></secret>" % U_MISSING,
    "value.txt": "c2VjcmV0MTIz",
    "plain.bin": "plain value\n",
    "max.bin": "v" * 65536,
    "over.bin": "w" * 65537,
    "empty.bin": "",
}

# (readonly flag, argv) in order; "RO" runs with virsh -r, "ROSOCK" on the read-only socket.
SCENARIO = [
    ("", ["secret-list"]),
    ("", ["secret-define", "sec1.xml"]),
    ("", ["secret-define", "priv.xml"]),
    ("", ["secret-define", "eph.xml"]),
    ("", ["secret-define", "ceph.xml"]),
    ("", ["secret-define", "none.xml"]),
    ("", ["secret-define", "--validate", "ceph.xml"]),
    ("", ["secret-define", "bad.xml"]),
    ("", ["secret-define", "wrongroot.xml"]),
    ("", ["secret-define", "collision.xml"]),
    ("", ["secret-define", "usage-change.xml"]),
    ("", ["secret-define", "bogus-usage.xml"]),
    ("", ["secret-define", "private-flip.xml"]),
    ("", ["secret-define", "--validate", "invalid-schema.xml"]),
    ("", ["secret-define", "missing-file.xml"]),
    ("", ["secret-list"]),
    ("", ["secret-list", "--ephemeral"]),
    ("", ["secret-list", "--no-ephemeral"]),
    ("", ["secret-list", "--private"]),
    ("", ["secret-list", "--no-private"]),
    ("", ["secret-list", "--ephemeral", "--no-private"]),
    ("", ["secret-dumpxml", U1]),
    ("", ["secret-dumpxml", U_EPH]),
    ("", ["secret-dumpxml", "--xpath", "//usage/@type", U_CEPH]),
    ("", ["secret-dumpxml", U_MISSING]),
    ("", ["secret-dumpxml", "notauuid"]),
    ("", ["secret-get-value", U1]),
    ("", ["secret-set-value", U1, "c2VjcmV0MTIz"]),
    ("", ["secret-get-value", U1]),
    ("", ["secret-get-value", "--plain", U1]),
    ("", ["secret-set-value", "--file", "value.txt", U_CEPH]),
    ("", ["secret-get-value", U_CEPH]),
    ("", ["secret-set-value", "--plain", "--file", "plain.bin", U_NONE]),
    ("", ["secret-get-value", U_NONE]),
    ("", ["secret-set-value", "--plain", "--file", "max.bin", U_EPH]),
    ("", ["secret-get-value", "--plain", U_EPH]),
    ("", ["secret-set-value", "--plain", "--file", "over.bin", U_EPH]),
    ("", ["secret-set-value", "--plain", "--file", "empty.bin", U_EPH]),
    ("", ["secret-set-value", "--plain", "--file", "plain.bin", U_PRIV]),
    ("", ["secret-get-value", U_PRIV]),
    ("", ["secret-get-value", U_MISSING]),
    ("RO", ["secret-list"]),
    ("RO", ["secret-dumpxml", U1]),
    ("RO", ["secret-get-value", U1]),
    ("RO", ["secret-define", "ceph.xml"]),
    ("RO", ["secret-undefine", U1]),
    ("ROSOCK", ["secret-list", "--no-private"]),
    ("ROSOCK", ["secret-dumpxml", U_CEPH]),
    ("ROSOCK", ["secret-get-value", U1]),
    ("ROSOCK", ["secret-define", "ceph.xml"]),
    ("ROSOCK", ["secret-set-value", U1, "c2VjcmV0MTIz"]),
    ("ROSOCK", ["secret-undefine", U1]),
    ("", ["secret-event", "--event", "lifecycle", "--timeout", "1"]),
    ("", ["secret-event", "--list"]),
    ("", ["secret-undefine", U1]),
    ("", ["secret-undefine", U1]),
    ("", ["secret-undefine", U_EPH]),
    ("", ["secret-list"]),
    ("", ["hostname"]),
    ("", ["version"]),
    ("", ["list", "--all"]),
    ("", ["net-list"]),
    ("", ["nodeinfo"]),
]


def run_scenario(daemon, workdir):
    transcript = []
    for mode, argv in SCENARIO:
        uri = daemon.uri(ro=(mode == "ROSOCK"))
        rc, out, err = process.run([paths.VIRSH] + (["-r"] if mode == "RO" else []) + ["-c", uri] + argv, env=None)
        transcript.append((mode, " ".join(argv), rc, out, err))
    return transcript


def normalise(text, daemon):
    # What legitimately differs: the socket path, generated UUIDs, and where each implementation
    # installs its RelaxNG schemas (named in --validate errors).
    text = text.replace(daemon.ro, "<ro-socket>").replace(daemon.rw, "<socket>")
    text = re.sub(r"/[\w/.-]*/schemas/secret\.rng", "<schemas>/secret.rng", text)
    return re.sub(r"\b(?!%s)[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\b" % "|".join(
        [U1, U_PRIV, U_EPH, U_CEPH, U_NONE, U_MISSING]), "<random-uuid>", text)


@unittest.skipUnless(daemons.libvirtd_available(), "needs root, unshare and the stock libvirtd")
class VirshTranscriptTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="virsh-it-")
        for name, content in FILES.items():
            with open(os.path.join(self.work, name), "w") as f:
                f.write(content)
        self.cwd = os.getcwd()
        os.chdir(self.work)
        self.daemons = []

    def tearDown(self):
        os.chdir(self.cwd)
        for d in self.daemons:
            d.cleanup()
        shutil.rmtree(self.work, ignore_errors=True)

    def test_same_transcript_as_libvirtd(self):
        # The stock virsh 9.0 against vsecretd and against libvirtd 12.x, the primary reference
        # (its messages, e.g. XML errors, are 12.x's whatever the client's version).
        ours = daemons.Vsecretd()
        self.daemons.append(ours)
        theirs = daemons.StockLibvirtd12()
        self.daemons.append(theirs)
        got = run_scenario(ours, self.work)
        want = run_scenario(theirs, self.work)
        self.assertEqual(len(got), len(want))
        for g, w in zip(got, want):
            with self.subTest(command=g[0] + " " + g[1]):
                self.assertEqual((g[2], normalise(g[3], ours), normalise(g[4], ours)),
                                 (w[2], normalise(w[3], theirs), normalise(w[4], theirs)))
        self.assertNotIn(" error ", ours.stderr().replace("error : rpc", ""))

    def test_events_transcript(self):
        """secret-event --loop --timestamp prints the same lines for the same changes."""
        outputs = []
        for daemon in (daemons.Vsecretd(), daemons.StockLibvirtd()):
            self.daemons.append(daemon)
            uri = daemon.uri()
            for argv in (["secret-define", "sec1.xml"], ["secret-define", "none.xml"]):
                self.assertEqual(process.run([paths.VIRSH, "-c", uri] + argv)[0], 0, argv)
            watchers = [subprocess.Popen([paths.VIRSH, "-c", uri, "secret-event", "--event", ev, "--loop", "--timeout",
                                          "4", "--timestamp"] + extra, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=process.clean_env())
                        for ev, extra in (("lifecycle", []), ("value-changed", ["--secret", U1]))]
            try:
                time.sleep(1.0)
                for argv in (["secret-set-value", U_NONE, "c2VjcmV0MTIz"], ["secret-set-value", U1, "c2VjcmV0MTIz"],
                             ["secret-define", "sec1.xml"], ["secret-undefine", U1], ["secret-undefine", U_NONE]):
                    self.assertEqual(process.run([paths.VIRSH, "-c", uri] + argv)[0], 0, argv)
                results = []
                for w in watchers:
                    out, err = w.communicate(timeout=15)
                    results.append((w.returncode, re.sub(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: ", b"<ts>: ",
                                                         out, flags=re.M), err))
                outputs.append(results)
            finally:
                for w in watchers:
                    process.stop_process(w)
        self.assertEqual(outputs[0], outputs[1])
        self.assertIn(b"<ts>: event 'lifecycle' for secret %s: Defined" % U1.encode(), outputs[0][0][1])
        self.assertIn(b"events received: 3", outputs[0][0][1])
        self.assertIn(b"events received: 1", outputs[0][1][1])  # --secret filters the other value change


class VirshAgainstVsecretdTest(unittest.TestCase):
    """What holds even where no stock libvirtd can run (no root / no unshare)."""

    def setUp(self):
        self.daemon = daemons.Vsecretd()

    def tearDown(self):
        self.daemon.cleanup()

    def test_define_list_value_roundtrip(self):
        uri = self.daemon.uri()
        path = os.path.join(self.daemon.root, "sec1.xml")
        with open(path, "w") as f:
            f.write(FILES["sec1.xml"])
        self.assertEqual(cli.virsh(uri, "secret-define", path), (0, "Secret %s created\n\n" % U1, ""))
        rc, out, _ = cli.virsh(uri, "secret-list")
        self.assertEqual(rc, 0)
        self.assertIn(" %s   volume /var/lib/images/a.img" % U1, out)
        self.assertEqual(cli.virsh(uri, "secret-set-value", U1, "c2VjcmV0MTIz")[0], 0)
        self.assertEqual(cli.virsh(uri, "secret-get-value", "--plain", U1), (0, "secret123\n", ""))
        # Private values never leave the daemon, and the read-only socket cannot read values.
        rc, out, err = cli.virsh(self.daemon.uri(ro=True), "secret-get-value", U1)
        self.assertEqual(rc, 1)
        self.assertIn("operation forbidden: read only access prevents virSecretGetValue", err)


if __name__ == "__main__":
    unittest.main()
