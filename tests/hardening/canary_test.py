"""Secret values never leak (issue 7, memory hygiene).

Sets distinctive canary values through the embedded store (vsecret -c secret:///embed?root=DIR)
and through vsecretd, runs every secret command at the most verbose log level
(VSECRET_LOG_LEVEL=1, vsecretd --verbose; and vsecretd with log_level = 1 and a file, a journald
and a stderr output in vsecretd.conf), and searches every stdout, stderr and daemon log for
the canary in raw, base64 (at each of the three alignments) and hex form. The only place allowed
to show a value is the stdout of secret-get-value. With encryption at rest on (secret.conf plus
a key file), the store directory must not hold the value in any of those forms either.

Beyond the secret-* commands, the same search covers every other command that touches values or
keys: each vsecret-admin subcommand on an encrypted root (status, verify, migrate, rotate --new-key,
export; export --format base64 exists to write the values in the clear, so only the <uuid>.base64
files it writes may hold them afterwards), the pool and volume commands with a canary as the LUKS
passphrase (the image itself must not hold it; vol-qemu-args' 0600 key file is the one place meant
to, and vol-qemu-exec hands it on a pipe, never in argv), secret-event while values change, and
the shell reading commands (and secret-set-value --interactive) from stdin and on a terminal
(a pty: the value typed at the prompt must not be echoed). HOME and XDG_* point into the work
directory, and every file left there is searched too.

Also checks that vsecretd is not dumpable (prctl(PR_SET_DUMPABLE, 0)): /proc/PID/status.
"""
import base64
import fcntl
import os
import pty
import secrets
import select
import stat
import shutil
import subprocess
import tempfile
import termios
import time
import unittest

from vstest import daemons, journal, paths, process, sockets
from vstest.hardening import enable_encryption, needles

UUIDS = ["5f0c2a3e-3c6b-4d1f-9a0e-7b1d2c3e4f51", "0b6e2f9a-1d3c-4e5f-8a7b-9c0d1e2f3a4b"]
VOLUME_UUID = "7d3e1c2b-4a5f-4e6d-8c9b-0a1b2c3d4e5f"
ADMIN = os.path.join(paths.BIN, "vsecret-admin")


class CanaryTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-canary-")
        # Raw canary (binary-safe through --plain) and one set through base64; both distinctive.
        self.canaries = [b"CANARY-" + secrets.token_hex(12).encode() + b"-VALUE-ONE",
                         b"CNRY2:" + secrets.token_bytes(24).hex().encode()]
        self.outputs = []  # (description, bytes, allowed_canaries)

    def tearDown(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def enable_encryption(self, root):
        return enable_encryption(self.work, root)

    def env(self):
        # HOME, XDG_* inside the work directory: history, runtime files and caches get searched.
        home = os.path.join(self.work, "home")
        os.makedirs(home, exist_ok=True)
        run = os.path.join(self.work, "run")
        os.makedirs(run, mode=0o700, exist_ok=True)
        return process.clean_env({"VSECRET_LOG_LEVEL": "1", "HOME": home, "XDG_RUNTIME_DIR": run,
                                  "XDG_CONFIG_HOME": os.path.join(home, ".config"),
                                  "XDG_CACHE_HOME": os.path.join(home, ".cache"),
                                  "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
                                  "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
                                  "VSECRET_LUKS_ITERATIONS": "1000"})

    def run_tool(self, argv, name, allowed=False, stdin=None):
        r = subprocess.run(argv, env=self.env(), input=stdin if stdin is not None else b"",
                           capture_output=True, timeout=process.TIMEOUT)
        self.outputs.append(("stdout of " + name, r.stdout, allowed))
        self.outputs.append(("stderr of " + name, r.stderr, False))
        return r

    def admin(self, root, *args):
        return self.run_tool([ADMIN, "--root", root] + list(args), "vsecret-admin " + " ".join(args))

    def vsecret(self, uri, *args, allowed=False):
        r = subprocess.run([paths.VSECRET, "-c", uri] + list(args), env=self.env(), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=process.TIMEOUT)
        name = " ".join(args)
        self.outputs.append(("stdout of " + name, r.stdout, allowed))
        self.outputs.append(("stderr of " + name, r.stderr, False))
        return r

    def exercise(self, uri, label):
        """Every secret command, values set by file (base64 and --plain) and on the command line."""
        for i, uuid in enumerate(UUIDS):
            xml = os.path.join(self.work, "%s-%d.xml" % (label, i))
            with open(xml, "w") as f:
                f.write("<secret ephemeral='no' private='%s'><uuid>%s</uuid><usage type='ceph'>"
                        "<name>canary-%s-%d</name></usage></secret>" % ("yes" if i else "no", uuid, label, i))
            self.assertEqual(self.vsecret(uri, "secret-define", xml).returncode, 0)
        raw = os.path.join(self.work, label + "-raw")
        with open(raw, "wb") as f:
            f.write(self.canaries[0])
        b64 = os.path.join(self.work, label + "-b64")
        with open(b64, "wb") as f:
            f.write(base64.b64encode(self.canaries[1]))
        self.assertEqual(self.vsecret(uri, "secret-set-value", UUIDS[0], "--file", raw, "--plain").returncode, 0)
        self.assertEqual(self.vsecret(uri, "secret-set-value", UUIDS[1], "--file", b64).returncode, 0)
        # Setting the same value again and reading values must not log them either.
        self.vsecret(uri, "secret-set-value", UUIDS[0], "--file", raw, "--plain")
        for args in (["secret-list"], ["secret-list", "--all"], ["secret-dumpxml", UUIDS[0]],
                     ["secret-dumpxml", UUIDS[1]], ["secret-set-value", "no-such-uuid", "--file", raw, "--plain"],
                     ["secret-get-value", "no-such-uuid"]):
            self.vsecret(uri, *args)
        got = self.vsecret(uri, "secret-get-value", UUIDS[0], allowed=True)
        self.assertEqual(got.returncode, 0)
        self.assertIn(base64.b64encode(self.canaries[0]), got.stdout)
        # The private secret refuses get-value; its error must not carry the value.
        self.vsecret(uri, "secret-get-value", UUIDS[1])

    def check_outputs(self):
        for what, data, allowed in self.outputs:
            if allowed:
                continue
            for canary in self.canaries:
                for needle in needles(canary):
                    self.assertNotIn(needle, data, "canary found in %s" % what)

    def check_store(self, root, allowed=lambda path: False):
        """No file under root holds a canary, except those allowed(path) accepts."""
        found = 0
        for dirpath, _, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                found += 1
                if allowed(path):
                    continue
                for canary in self.canaries:
                    for needle in needles(canary):
                        self.assertNotIn(needle, data, "canary found in %s" % path)
        self.assertGreater(found, 0)

    def check_work(self, allowed=lambda path: False):
        """Every file left in the work directory (stores, pools, HOME, XDG_RUNTIME_DIR), but for the
        canary inputs the test wrote itself and the paths allowed(path) accepts."""
        inputs = {os.path.join(self.work, n) for n in os.listdir(self.work) if n.endswith(("-raw", "-b64"))}
        self.check_store(self.work, lambda path: path in inputs or allowed(path))

    def define(self, uri, uuid, usage, private="no"):
        xml = os.path.join(self.work, "def-%s.xml" % uuid)
        with open(xml, "w") as f:
            f.write("<secret ephemeral='no' private='%s'><uuid>%s</uuid>%s</secret>" % (private, uuid, usage))
        self.assertEqual(self.vsecret(uri, "secret-define", xml).returncode, 0)

    def write_input(self, name, data):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_embedded(self):
        root = os.path.join(self.work, "embedded")
        os.makedirs(root)
        self.enable_encryption(root)
        self.exercise("secret:///embed?root=" + root, "embedded")
        self.check_outputs()
        self.check_store(root)

    def test_daemon(self):
        root = os.path.join(self.work, "daemon")
        os.makedirs(root)
        self.enable_encryption(root)
        daemon = daemons.Vsecretd(root=root, args=["--verbose"], env={"VSECRET_LOG_LEVEL": "1"})
        try:
            self.exercise(daemon.uri(), "daemon")
            # A read-only connection is refused the value; that error must be clean too.
            self.vsecret(daemon.uri(ro=True), "secret-get-value", UUIDS[0])
        finally:
            daemon.stop()
        log = daemon.stderr().encode()
        daemon.cleanup()
        self.assertTrue(log, "vsecretd logged nothing at level 1")
        self.outputs.append(("vsecretd log", log, False))
        self.check_outputs()
        self.check_store(root)

    @unittest.skipUnless(journal.available(), "needs root and unshare for the fake journal")
    def test_daemon_log_outputs(self):
        """The same commands with vsecretd logging everything to a file, to journald (a fake
        journal socket, vstest.journal) and to stderr, through vsecretd.conf's log_outputs."""
        root = os.path.join(self.work, "daemon-outputs")
        os.makedirs(root)
        self.enable_encryption(root)
        log_file = os.path.join(self.work, "vsecretd-outputs.log")
        conf = self.write_input("vsecretd-outputs.conf", b'log_level = 1\nlog_outputs = "1:file:%s 1:journald 1:stderr"\n'
                                % log_file.encode())
        j = journal.FakeJournal()
        self.addCleanup(j.close)
        daemon = daemons.Vsecretd(root=root, args=["--config", conf], prefix=j.prefix())
        try:
            self.exercise(daemon.uri(), "outputs")
            self.vsecret(daemon.uri(ro=True), "secret-get-value", UUIDS[0])
        finally:
            daemon.stop()
        stderr = daemon.stderr().encode()
        daemon.cleanup()
        with open(log_file, "rb") as f:
            file_log = f.read()
        datagrams = j.datagrams()
        for what, data in (("stderr", stderr), ("file", file_log)):
            self.assertIn(b": debug : rpc.server : closing client fd", data, what)
        for what, data in (("stderr", stderr), ("file", file_log), ("journal", b"".join(datagrams))):
            self.outputs.append(("vsecretd %s output" % what, data, False))
        self.assertTrue(any(journal.decode(d).get("PRIORITY") == b"7" for d in datagrams), "no debug entry")
        self.check_outputs()
        self.check_store(root)

    def test_admin(self):
        """Every vsecret-admin command on an encrypted root holding the canaries."""
        root = os.path.join(self.work, "admin")
        os.makedirs(root)
        self.enable_encryption(root)
        uri = "secret:///embed?root=" + root
        self.exercise(uri, "admin")
        help_out = self.admin(root, "--help")
        self.assertEqual(help_out.returncode, 0)
        # The commands the usage text lists are the ones run here.
        listed = {line.split()[0] for line in help_out.stdout.decode().split("commands:")[1].split("options:")[0]
                  .splitlines() if line.startswith("  ") and not line.startswith("   ")}
        self.assertEqual(listed, {"status", "verify", "migrate", "rotate", "export"})
        for cmd in (["status"], ["verify"], ["migrate"], ["--quiet", "verify"]):
            self.assertEqual(self.admin(root, *cmd).returncode, 0, cmd)
        new_key = os.path.join(self.work, "key-admin-new")
        with open(os.open(new_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(secrets.token_bytes(32))
        self.assertEqual(self.admin(root, "rotate", "--new-key", new_key).returncode, 0)
        self.assertNotEqual(self.admin(root, "rotate").returncode, 0)  # nothing pending
        self.assertEqual(self.admin(root, "status").returncode, 0)
        # A wrong key: every value fails to decrypt, and the errors name files and key ids only.
        wrong_key = os.path.join(self.work, "key-admin-wrong")
        with open(os.open(wrong_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(secrets.token_bytes(32))
        self.assertNotEqual(self.admin(root, "--key", wrong_key, "verify").returncode, 0)
        self.admin(root, "--key", wrong_key, "status")
        self.admin(root, "--key", wrong_key, "migrate")
        self.admin(root, "export", "--format", "vsenc")
        self.assertEqual(self.admin(root, "export", "--format", "aes256cbc").returncode, 0)
        self.assertEqual(self.admin(root, "verify").returncode, 0)
        self.check_store(root)
        self.assertEqual(self.admin(root, "migrate").returncode, 0)
        self.check_store(root)
        # export --format base64 exists to write the values in the clear for libvirt < 12.1: its
        # <uuid>.base64 files are the only place they may be afterwards (not its output).
        self.assertEqual(self.admin(root, "export", "--format", "base64").returncode, 0)
        self.assertEqual(self.admin(root, "status").returncode, 0)
        exported = [os.path.join(d, n) for d, _, files in os.walk(root) for n in files if n.endswith(".base64")]
        self.assertEqual(len(exported), 2, exported)
        with open(os.path.join(os.path.dirname(exported[0]), UUIDS[0] + ".base64"), "rb") as f:
            self.assertEqual(f.read().strip(), base64.b64encode(self.canaries[0]))
        got = self.vsecret(uri, "secret-get-value", UUIDS[0], allowed=True)
        self.assertIn(base64.b64encode(self.canaries[0]), got.stdout)
        self.check_outputs()
        self.check_work(lambda path: path in exported)

    def test_volumes(self):
        """Pool and volume commands with a canary as the LUKS passphrase."""
        root = os.path.join(self.work, "volroot")
        pool_dir = os.path.join(self.work, "pool")
        os.makedirs(root)
        os.makedirs(pool_dir)
        self.enable_encryption(root)
        uri = "secret:///embed?root=" + root
        vol_path = os.path.join(pool_dir, "vol1")
        self.define(uri, VOLUME_UUID, "<usage type='volume'><volume>%s</volume></usage>" % vol_path, "yes")
        passphrase = self.write_input("vol-raw", self.canaries[0])
        self.assertEqual(self.vsecret(uri, "secret-set-value", VOLUME_UUID, "--file", passphrase, "--plain")
                         .returncode, 0)

        def ok(*args):
            r = self.vsecret(uri, *args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            return r

        ok("pool-define-as", "canary", "dir", "--target", pool_dir)
        ok("pool-start", "canary")
        ok("vol-create-as", "canary", "vol1", "1M", "--format", "raw", "--secret", VOLUME_UUID)
        ok("vol-create-as", "canary", "vol2", "1M", "--format", "qcow2", "--secret", VOLUME_UUID,
           "--allocation", "1M")
        xml = os.path.join(self.work, "vol3.xml")
        with open(xml, "w") as f:
            f.write("<volume><name>vol3</name><capacity unit='KiB'>512</capacity><target><format type='raw'/>"
                    "<encryption format='luks'><secret type='passphrase' uuid='%s'/></encryption></target>"
                    "</volume>" % VOLUME_UUID)
        ok("vol-create", "canary", xml)
        data = self.write_input("vol-data", secrets.token_bytes(65536))
        for vol in ("vol1", "vol2", "vol3"):
            ok("vol-upload", vol, data, "--pool", "canary")
            out = os.path.join(self.work, "download-" + vol)
            ok("vol-download", vol, out, "--pool", "canary", "--length", "65536")
            with open(out, "rb") as a, open(data, "rb") as b:
                self.assertEqual(a.read(), b.read())
            for args in (["vol-info", vol, "--pool", "canary"], ["vol-dumpxml", vol, "--pool", "canary"],
                         ["vol-path", vol, "--pool", "canary"], ["vol-key", vol, "--pool", "canary"]):
                ok(*args)
        for args in (["vol-list", "canary", "--details"], ["pool-info", "canary"], ["pool-dumpxml", "canary"],
                     ["pool-refresh", "canary"], ["pool-list", "--all"], ["vol-resize", "vol2", "2M", "--pool",
                                                                          "canary"]):
            ok(*args)

        # vol-qemu-args: the passphrase goes into a new 0600 file in a private directory, which is
        # its documented purpose (the caller removes it); never into the arguments it prints.
        for extra in ([], ["--secret-file", os.path.join(self.work, "qemu-key")]):
            r = ok("vol-qemu-args", "vol1", "--pool", "canary", *extra)
            key_file = r.stdout.decode().split("file=", 1)[1].split()[0].strip("'")
            st = os.stat(key_file)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, key_file)
            if not extra:
                self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(key_file)).st_mode), 0o700)
            with open(key_file, "rb") as f:
                self.assertEqual(f.read(), self.canaries[0])
            if shutil.which("qemu-img"):
                q = subprocess.run(["qemu-img", "info", "--object"] + r.stdout.decode().split()[1:],
                                   capture_output=True, timeout=process.TIMEOUT, env=self.env())
                self.assertEqual(q.returncode, 0, q.stderr)
            os.unlink(key_file)
        # vol-qemu-exec hands the passphrase on a pipe; the argv it builds (echoed here) is clean.
        ok("vol-qemu-exec", "vol1", "--pool", "canary", "--", "echo", "{secret}", "{image}")
        if shutil.which("qemu-img"):
            ok("vol-qemu-exec", "vol2", "--pool", "canary", "--", "qemu-img", "info", "--object", "{secret}",
               "--image-opts", "{image}")
        # Failing paths: a command that fails, and a wrong passphrase.
        self.assertNotEqual(self.vsecret(uri, "vol-qemu-exec", "vol1", "--pool", "canary", "--", "false",
                                         "{secret}").returncode, 0)
        ok("vol-wipe", "vol1", "--pool", "canary")
        ok("vol-wipe", "vol2", "--pool", "canary", "--algorithm", "random")
        # The images (LUKS headers, key slots, payload) never hold the passphrase.
        images = [os.path.join(pool_dir, v) for v in ("vol1", "vol2", "vol3")]
        for image in images:
            self.assertGreater(os.path.getsize(image), 4096)
        self.check_work()
        wrong = self.write_input("vol-wrong-raw", self.canaries[1])
        ok("secret-set-value", VOLUME_UUID, "--file", wrong, "--plain")
        for args in (["vol-download", "vol1", os.path.join(self.work, "fail"), "--pool", "canary"],
                     ["vol-upload", "vol3", data, "--pool", "canary"], ["vol-wipe", "vol2", "--pool", "canary"]):
            self.assertNotEqual(self.vsecret(uri, *args).returncode, 0, args)
        for vol in ("vol1", "vol2", "vol3"):
            ok("vol-delete", vol, "--pool", "canary")
        ok("pool-destroy", "canary")
        ok("pool-undefine", "canary")
        self.check_outputs()
        self.check_work()

    def test_secret_event(self):
        """secret-event (through vsecretd) while the values change."""
        root = os.path.join(self.work, "events")
        os.makedirs(root)
        self.enable_encryption(root)
        daemon = daemons.Vsecretd(root=root, args=["--verbose"], env={"VSECRET_LOG_LEVEL": "1"})
        try:
            uri = daemon.uri()
            self.define(uri, UUIDS[0], "<usage type='ceph'><name>event-0</name></usage>")
            events = subprocess.Popen([paths.VSECRET, "-c", uri, "secret-event", "--event", "value-changed", "--loop",
                                       "--timeout", "4", "--timestamp"], env=self.env(), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            one = subprocess.Popen([paths.VSECRET, "-c", uri, "secret-event", "--event", "lifecycle", "--secret",
                                    UUIDS[0], "--loop", "--timeout", "4"], env=self.env(), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # Values keep changing for 2.5 s, so the watchers see changes however late they register.
            inputs = [self.write_input("event-%d-raw" % i, c) for i, c in enumerate(self.canaries)]
            start = time.monotonic()
            i = 0
            while time.monotonic() - start < 2.5:
                self.vsecret(uri, "secret-set-value", UUIDS[0], "--file", inputs[i % 2], "--plain")
                i += 1
                time.sleep(0.1)
            self.vsecret(uri, "secret-undefine", UUIDS[0])
            for name, proc, seen in (("secret-event value-changed", events, b"value-changed"),
                                     ("secret-event lifecycle", one, b"Undefined")):
                out, err = proc.communicate(timeout=process.TIMEOUT)
                self.outputs.append(("stdout of " + name, out, False))
                self.outputs.append(("stderr of " + name, err, False))
                self.assertIn(seen, out, name)
        finally:
            daemon.stop()
        self.outputs.append(("vsecretd log", daemon.stderr().encode(), False))
        daemon.cleanup()
        self.check_outputs()
        self.check_work()

    def test_shell_stdin(self):
        """The shell reading commands, and secret-set-value --interactive its value, from stdin."""
        root = os.path.join(self.work, "shell")
        os.makedirs(root)
        self.enable_encryption(root)
        uri = "secret:///embed?root=" + root
        xml = os.path.join(self.work, "shell.xml")
        with open(xml, "w") as f:
            f.write("<secret ephemeral='no' private='no'><uuid>%s</uuid><usage type='ceph'><name>shell</name>"
                    "</usage></secret>" % UUIDS[0])
        raw = self.write_input("shell-raw", self.canaries[0])
        b64 = base64.b64encode(self.canaries[1])
        script = b"\n".join([
            b"secret-define " + xml.encode(),
            b"secret-set-value " + UUIDS[0].encode() + b" --file " + raw.encode() + b" --plain",
            b"secret-list",
            b"secret-set-value " + UUIDS[0].encode() + b" --base64 " + b64,
            b"secret-set-value no-such-uuid --base64 " + b64,
            b"secret-set-value " + UUIDS[0].encode() + b" --base64 " + b64 + b" --no-such-option",
            b"no-such-command " + self.canaries[0],
            b"echo done",
            b"secret-set-value " + UUIDS[0].encode() + b" --interactive",
            self.canaries[0],
            b"secret-dumpxml " + UUIDS[0].encode(),
            b"secret-list --all",
            b""])
        # A new session has no controlling terminal, so --interactive reads stdin as virsh does.
        r = subprocess.run([paths.VSECRET, "-c", uri], env=self.env(), input=script, capture_output=True,
                           timeout=process.TIMEOUT, start_new_session=True)
        # The shell shows each command line after its prompt, as virsh's readline does on a pipe; the
        # lines that carry a value themselves are the user's own input. Nothing else may show one
        # (the line answering --interactive is not echoed).
        shown = r.stdout
        for line in script.split(b"\n")[:-1]:
            if line.startswith((b"secret-set-value", b"no-such-command")) and b"--interactive" not in line:
                self.assertIn(b"vsecret # " + line + b"\n", shown)
                shown = shown.replace(b"vsecret # " + line + b"\n", b"vsecret # (a line with a value)\n")
        self.outputs.append(("stdout of the shell", shown, False))
        self.outputs.append(("stderr of the shell", r.stderr, False))
        self.assertIn(b"Enter new value for secret", r.stdout)
        got = self.vsecret(uri, "secret-get-value", UUIDS[0], allowed=True)
        self.assertEqual(base64.b64decode(got.stdout.strip()), self.canaries[0], r.stderr)
        self.check_outputs()
        self.check_work()

    def test_shell_terminal(self):
        """The interactive shell on a terminal (readline): secret-set-value --interactive reads the
        value from /dev/tty with echo off, so the terminal never shows it."""
        root = os.path.join(self.work, "tty")
        os.makedirs(root)
        self.enable_encryption(root)
        uri = "secret:///embed?root=" + root
        self.define(uri, UUIDS[0], "<usage type='ceph'><name>tty</name></usage>")
        master, slave = pty.openpty()

        def make_controlling():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        proc = subprocess.Popen([paths.VSECRET, "-c", uri], env=dict(self.env(), TERM="dumb"), stdin=slave,
                                stdout=slave, stderr=slave, start_new_session=True, preexec_fn=make_controlling)
        os.close(slave)
        transcript = b""

        def read_until(marker):
            nonlocal transcript
            deadline = time.monotonic() + process.TIMEOUT
            while marker not in transcript:
                self.assertLess(time.monotonic(), deadline, "no %r in %r" % (marker, transcript))
                if select.select([master], [], [], 0.5)[0]:
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:  # EIO: the child closed the terminal
                        chunk = b""
                    if not chunk:
                        self.fail("terminal closed before %r: %r" % (marker, transcript))
                    transcript += chunk

        try:
            read_until(b"vsecret # ")
            os.write(master, b"secret-set-value " + UUIDS[0].encode() + b" --interactive\n")
            read_until(b"Enter new value for secret:")
            # The reader switches echo (and signals) off with TCSAFLUSH, which drops anything typed
            # before: type once it has (the terminal's settings are shared by both ends).
            deadline = time.monotonic() + process.TIMEOUT
            while termios.tcgetattr(master)[3] & termios.ISIG:
                self.assertLess(time.monotonic(), deadline, "the password reader never took the terminal")
                time.sleep(0.01)
            os.write(master, self.canaries[0] + b"\n")
            read_until(b"Secret value set")
            os.write(master, b"secret-list\n")
            read_until(b"ceph tty")
            os.write(master, b"quit\n")
            proc.wait(timeout=process.TIMEOUT)
            while select.select([master], [], [], 0)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                transcript += chunk
        finally:
            process.stop_process(proc)
            os.close(master)
        self.outputs.append(("terminal of the shell", transcript, False))
        got = self.vsecret(uri, "secret-get-value", UUIDS[0], allowed=True)
        self.assertEqual(base64.b64decode(got.stdout.strip()), self.canaries[0])
        self.check_outputs()
        self.check_work()

    def owner_of_proc_entry(self, argv, root):
        """Starts argv (as nobody when we are root, so ownership tells), returns the uid owning
        /proc/PID/status and the process's core-size limit line."""
        pre = []
        if os.geteuid() == 0:
            self.assertIsNotNone(shutil.which("setpriv"), "setpriv (util-linux) is needed as root")
            os.chown(root, 65534, 65534)
            os.chmod(self.work, 0o711)  # mkdtemp's 0700 would keep nobody out of root
            pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        proc = subprocess.Popen(pre + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=process.clean_env())
        try:
            if "--root" in argv:
                sockets.wait_for_socket(os.path.join(root, "run", "virtsecretd-sock"), proc)
            else:
                # Until setpriv has exec'd argv, /proc/PID is setpriv's (still root's).
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    with open("/proc/%d/comm" % proc.pid) as f:
                        if f.read().strip() == os.path.basename(argv[0]):
                            break
                    time.sleep(0.01)
            # The files, not the directory: the kernel keeps /proc/PID itself with the owner it
            # had when first looked up, before the daemon called prctl.
            uid = os.stat("/proc/%d/status" % proc.pid).st_uid
            with open("/proc/%d/limits" % proc.pid) as f:
                core = [line for line in f.read().splitlines() if line.startswith("Max core file size")]
        finally:
            process.stop_process(proc)
        return uid, core

    def test_daemon_not_dumpable(self):
        # /proc/PID/* of a process that called prctl(PR_SET_DUMPABLE, 0) belong to root instead
        # of the process's owner (proc(5)). As root, the daemon runs as nobody so this shows.
        root = os.path.join(self.work, "dumpable")
        os.makedirs(root)
        expected_owner = 65534 if os.geteuid() == 0 else os.geteuid()
        # Control: an ordinary process run the same way is owned by its user.
        control_uid, _ = self.owner_of_proc_entry(["sleep", "5"], root)
        self.assertEqual(control_uid, expected_owner)
        uid, core = self.owner_of_proc_entry([paths.VSECRETD, "--root", root], root)
        self.assertEqual(uid, 0, "vsecretd is dumpable (/proc/PID/status owned by %d)" % uid)
        self.assertEqual(len(core), 1)
        self.assertEqual(core[0].split()[4], "0", "vsecretd allows core files: " + core[0])

if __name__ == "__main__":
    unittest.main()
