#!/usr/bin/env python3
"""vsecretd's log_level, log_filters and log_outputs (vsecretd.conf, libvirtd's syntax): what
reaches a file output and what does not, the journald output (through a fake journal socket in
a private mount namespace, vstest.journal), the journal as the default output when stderr is
systemd's journal stream (JOURNAL_STREAM), and libvirt's errors for bad values at start-up."""
import os
import shutil
import subprocess
import tempfile
import unittest

from vstest import cli, daemons, journal, paths, process

U1 = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
XML = ("<secret ephemeral='no' private='no'><uuid>%s</uuid><usage type='ceph'><name>logging</name></usage>"
       "</secret>" % U1)


class LoggingTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecretd-log-")
        self.addCleanup(shutil.rmtree, self.work, True)

    def conf(self, text):
        path = os.path.join(self.work, "vsecretd.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def read(self, name):
        path = os.path.join(self.work, name)
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()

    def start(self, text, **kw):
        d = daemons.Vsecretd(args=["--config", self.conf(text)], **kw)
        self.addCleanup(d.cleanup)
        return d

    def test_filters_and_output_levels(self):
        # daemon.* from debug up (the filter), everything else from warning up (log_level); the
        # second file takes errors only.
        d = self.start('log_level = 3\nlog_filters = "1:daemon"\n'
                       'log_outputs = "1:file:%s/all.log 4:file:%s/errors.log"\n' % (self.work, self.work))
        self.assertEqual(cli.virsh(d.uri(), "secret-define", "/dev/stdin", input=XML).rc, 0)
        self.assertEqual(d.stop(), 0)
        everything = self.read("all.log")
        self.assertRegex(everything, r"\d+: info : daemon : listening on %s\n" % d.rw)
        self.assertIn(": info : daemon : shutting down\n", everything)
        # rpc.server's informational lines (a client connecting) are below log_level.
        self.assertNotIn(" : rpc.", everything)
        self.assertEqual(self.read("errors.log"), "")
        self.assertEqual(os.stat(os.path.join(self.work, "all.log")).st_mode & 0o777, 0o600)
        # The outputs replace stderr.
        self.assertNotIn("listening on", d.stderr())

    def test_a_filter_lets_one_source_through(self):
        d = self.start('log_level = 4\nlog_filters = "1:rpc.server"\nlog_outputs = "1:file:%s/rpc.log"\n' % self.work)
        self.assertEqual(cli.virsh(d.uri(), "secret-list").rc, 0)
        d.stop()
        text = self.read("rpc.log")
        self.assertRegex(text, r": debug : rpc\.server : closing client fd \d+\n")
        self.assertNotIn(" : daemon : ", text)

    def test_bad_values_stop_start_up(self):
        root = os.path.join(self.work, "root")
        for text, message in (
                ('log_outputs = "1:bogus"\n', "invalid argument: Invalid log destination 'bogus' for log output '1:bogus'"),
                ('log_outputs = "1:file"\n', "invalid argument: Log output '1:file' does not meet the format "
                                             "requirements for destination type 'file'"),
                ('log_filters = "rpc"\n', "invalid argument: Malformed format for filter 'rpc'"),
                ('log_filters = "9:rpc"\n', "invalid argument: Invalid priority '9' for filter '9:rpc'"),
                ('log_outputs = "1:file:%s/no/such/dir/x.log"\n' % self.work,
                 "failed to open %s/no/such/dir/x.log: No such file or directory" % self.work),
                ("log_filters = 3\n", "internal error: %s/vsecretd.conf: expected a string for 'log_filters' "
                                       "parameter" % self.work)):
            r = process.run([paths.VSECRETD, "--root", root, "--config", self.conf(text)], timeout=20)
            self.assertEqual(r.rc, 1, text)
            self.assertIn(": error : daemon : " + message, r.err, text)
            self.assertFalse(os.path.exists(os.path.join(root, "run", "virtsecretd-sock")), text)

    @unittest.skipUnless(journal.available(), "needs root and unshare for the fake journal")
    def test_journald_output(self):
        j = journal.FakeJournal()
        self.addCleanup(j.close)
        d = self.start('log_level = 2\nlog_outputs = "2:journald 4:stderr"\n', prefix=j.prefix())
        self.assertEqual(d.stop(), 0)
        entries = j.entries()
        messages = [e.get("MESSAGE", b"").decode() for e in entries]
        self.assertIn("listening on %s" % d.rw, messages)
        ready = [e for e in entries if e.get("MESSAGE", b"").endswith(b"ready, store " + d.root.encode() +
                                                                      b"/etc/secrets")]
        self.assertEqual(len(ready), 1, messages)
        self.assertEqual(ready[0]["PRIORITY"], b"6")  # info
        self.assertEqual(ready[0]["SYSLOG_IDENTIFIER"], b"vsecretd")
        self.assertEqual(ready[0]["VSECRET_SOURCE"], b"daemon")
        self.assertEqual(d.stderr(), "")

    @unittest.skipUnless(journal.available(), "needs root and unshare for the fake journal")
    def test_journal_is_the_default_under_systemd(self):
        j = journal.FakeJournal()
        self.addCleanup(j.close)
        conf = self.conf("log_level = 2\n")
        for connected in (True, False):
            root = os.path.join(self.work, "root-%s" % connected)
            err_path = os.path.join(self.work, "stderr-%s" % connected)
            with open(err_path, "wb") as err:
                st = os.fstat(err.fileno())
                # systemd sets JOURNAL_STREAM to the device and inode of the stream it gave the
                # service as stdout/stderr; a stale value (another file) must not count.
                stream = "%d:%d" % (st.st_dev, st.st_ino if connected else st.st_ino + 1)
                proc = subprocess.Popen(j.prefix() + [paths.VSECRETD, "--root", root, "--config", conf, "--timeout",
                                                      "1"], stdout=err, stderr=err,
                                        env=process.clean_env({"JOURNAL_STREAM": stream}))
                try:
                    proc.wait(timeout=60)
                finally:
                    process.stop_process(proc)
            text = self.read(os.path.basename(err_path))
            journal_text = "\n".join(e.get("MESSAGE", b"").decode() for e in j.entries())
            if connected:
                self.assertEqual(text, "")
                self.assertIn("idle timeout reached, exiting", journal_text)
            else:
                self.assertIn(": info : daemon : idle timeout reached, exiting", text)
                self.assertEqual(journal_text.count("idle timeout reached"), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
