#!/usr/bin/env python3
"""vsecret against the specification, for the operations libvirt 9.0's embedded driver crashes
on (undefine, ephemeral define) and for the documented deliberate differences (README). Runs as
vsecret is (libvirt 12.x's behaviour) and with VSECRET_COMPAT=9.0: the setting changes none of
this."""
import os
import unittest

from vstest import cli, paths, process

U1 = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"
U2 = "6dac920f-4046-4dd6-8a47-a35db53cc035"


class CliSpec12(unittest.TestCase):
    maxDiff = None
    REFERENCE = "12"

    def setUp(self):
        self.pair = cli.Pair(self.REFERENCE)
        self.addCleanup(self.pair.close)
        self.vs = self.pair.vsecret

    def define(self, name, xml):
        r = self.vs.cmd(["secret-define", self.pair.write(name, xml)])
        self.assertEqual(r.rc, 0, r)
        return r

    def files(self):
        d = self.vs.config_dir
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def test_undefine_prints_argument_as_typed_and_removes_files(self):
        self.define("a.xml", "<secret><uuid>%s</uuid><usage type='ceph'><name>c</name></usage></secret>" % U1)
        self.assertEqual(self.vs.cmd(["secret-set-value", U1, "aGk="]).rc, 0)
        self.assertEqual(self.files(), [U1 + ".base64", U1 + ".xml"])
        typed = " " + U1.upper().replace("-", "") + " "
        r = self.vs.cmd(["secret-undefine", typed])
        self.assertEqual((r.rc, r.out, r.err), (0, ("Secret %s deleted\n\n" % typed).encode(), b""))
        self.assertEqual(self.files(), [])
        r = self.vs.cmd(["secret-undefine", U1])
        self.assertEqual(r.rc, 1)
        self.assertEqual(r.out, b"\n")  # the handler ran, so the extra newline is printed
        self.assertEqual(r.err, ("error: failed to get secret '%s'\n"
                                 "error: Secret not found: no secret with matching uuid '%s'\n" % (U1, U1)).encode())
        # The usage is free again.
        self.define("b.xml", "<secret><uuid>%s</uuid><usage type='ceph'><name>c</name></usage></secret>" % U2)

    def test_undefine_quiet(self):
        self.define("a.xml", "<secret><uuid>%s</uuid></secret>" % U1)
        r = self.vs.cmd(["secret-undefine", U1], ["-q"])
        self.assertEqual((r.rc, r.out, r.err), (0, b"", b""))

    def test_ephemeral_define_writes_nothing(self):
        r = self.define("e.xml", "<secret ephemeral='yes'><uuid>%s</uuid></secret>" % U1)
        self.assertEqual(r.out, ("Secret %s created\n\n" % U1).encode())
        r = self.vs.cmd(["secret-list", "--ephemeral"])
        self.assertEqual(r.rc, 0)
        # Each vsecret invocation is its own process: an ephemeral secret dies with it.
        self.assertNotIn(U1.encode(), r.out)
        self.assertEqual(self.files(), [])

    def test_ephemeral_lifecycle_within_one_invocation(self):
        path = self.pair.write("e.xml", "<secret ephemeral='yes'><uuid>%s</uuid></secret>" % U1)
        r = self.vs.cmd(["secret-define %s; secret-set-value %s aGk=; secret-list --ephemeral; "
                         "secret-get-value %s; secret-undefine %s; secret-list --ephemeral" % (path, U1, U1, U1)])
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out.decode(), (
            "Secret %s created\n\nSecret value set\n\n"
            " UUID                                   Usage\n"
            "------------------------------------------------\n"
            " %s   Unused\n\n"
            "aGk=\nSecret %s deleted\n\n"
            " UUID   Usage\n---------------\n\n") % (U1, U1, U1))
        self.assertEqual(self.files(), [])

    def test_going_ephemeral_removes_stale_xml(self):
        # libvirt leaves <uuid>.xml behind and the secret comes back after a restart.
        self.define("p.xml", "<secret><uuid>%s</uuid></secret>" % U1)
        self.assertEqual(self.vs.cmd(["secret-set-value", U1, "aGk="]).rc, 0)
        path = self.pair.write("e.xml", "<secret ephemeral='yes'><uuid>%s</uuid></secret>" % U1)
        r = self.vs.cmd(["secret-define %s; secret-get-value %s" % (path, U1)])
        self.assertEqual(r.rc, 0, r)
        self.assertIn(b"aGk=", r.out)
        self.assertEqual(self.files(), [])
        r = self.vs.cmd(["secret-list"], ["-q"])
        self.assertEqual(r.out, b"")

    def test_ephemeral_to_persistent_writes_value_then_xml(self):
        e = self.pair.write("e.xml", "<secret ephemeral='yes'><uuid>%s</uuid></secret>" % U1)
        p = self.pair.write("p.xml", "<secret ephemeral='no'><uuid>%s</uuid></secret>" % U1)
        r = self.vs.cmd(["secret-define %s; secret-set-value %s aGk=; secret-define %s" % (e, U1, p)])
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.files(), [U1 + ".base64", U1 + ".xml"])
        with open(os.path.join(self.vs.config_dir, U1 + ".base64")) as f:
            self.assertEqual(f.read(), "aGk=")
        r = self.vs.cmd(["secret-get-value", U1])
        self.assertEqual(r.out, b"aGk=\n")

    def test_empty_value_rejected_and_old_value_kept(self):
        self.define("a.xml", "<secret><uuid>%s</uuid></secret>" % U1)
        self.assertEqual(self.vs.cmd(["secret-set-value", U1, "aGk="]).rc, 0)
        empty = self.pair.write("empty", "")
        r = self.vs.cmd(["secret-set-value", U1, "--file", empty, "--plain"])
        self.assertEqual((r.rc, r.out, r.err), (1, b"\n", b"error: Failed to set secret value\n"
                                                        b"error: value in virSecretSetValue must not be NULL\n"))
        r = self.vs.cmd(["secret-get-value", U1])
        self.assertEqual(r.out, b"aGk=\n")

    def test_private_value_never_readable(self):
        self.define("p.xml", "<secret private='yes'><uuid>%s</uuid></secret>" % U1)
        self.assertEqual(self.vs.cmd(["secret-set-value", U1, "cHJpdg=="]).rc, 0)
        r = self.vs.cmd(["secret-get-value", U1])
        self.assertEqual((r.rc, r.out, r.err), (1, b"\n", b"error: Invalid secret: secret is private\n"))
        r = self.vs.cmd(["secret-get-value", "--plain", U1], ["-r"])
        self.assertEqual(r.err, b"error: operation forbidden: read only access prevents virSecretGetValue\n")

    def test_retype_redefine_cannot_duplicate_usage(self):
        self.define("a.xml", "<secret><uuid>%s</uuid><usage type='ceph'><name>x</name></usage></secret>" % U1)
        self.define("b.xml", "<secret><uuid>%s</uuid><usage type='iscsi'><target>x</target></usage></secret>" % U2)
        path = self.pair.write("a2.xml",
                               "<secret><uuid>%s</uuid><usage type='iscsi'><target>x</target></usage></secret>" % U1)
        r = self.vs.cmd(["secret-define", path])
        self.assertEqual(r.rc, 1)
        self.assertEqual(r.err.decode(), "error: Failed to set attributes from %s\n"
                         "error: internal error: a secret with UUID %s already defined for use with x\n" % (path, U2))

    def test_second_process_on_same_root_is_locked_out(self):
        import subprocess
        import time
        # Hold the root open with an interactive shell waiting on stdin.
        p = subprocess.Popen([paths.VSECRET, "-c", self.vs.uri], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=dict(process.clean_env(), **self.vs.env))
        try:
            pidfile = os.path.join(self.vs.root, "run", "secrets", "driver.pid")
            deadline = time.monotonic() + 10
            # The file is created, locked, truncated and then written: wait for the pid itself.
            content = ""
            while time.monotonic() < deadline:
                if os.path.exists(pidfile):
                    with open(pidfile) as f:
                        content = f.read()
                    if content:
                        break
                time.sleep(0.05)
            self.assertEqual(content, str(p.pid))
            r = self.vs.cmd(["secret-list"])
            self.assertEqual(r.rc, 1)
            self.assertEqual(r.err.decode(), "error: failed to connect to the hypervisor\n"
                             "error: Failed to acquire pid file '%s': Resource temporarily unavailable\n" % pidfile)
        finally:
            p.stdin.close()
            p.wait(timeout=10)
        self.assertEqual(self.vs.cmd(["secret-list"]).rc, 0)


class CliSpec90(CliSpec12):
    REFERENCE = "9.0"


if __name__ == "__main__":
    unittest.main(verbosity=2)
