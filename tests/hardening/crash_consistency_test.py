"""Crash consistency of the store (issue 7).

Hundreds of random define / set-value / undefine steps run against the embedded store (one
long-running `vsecret` reading commands from a pipe) and against vsecretd (a `vsecret` shell
connected to it), with and without encryption at rest. At random points the process that writes
the store is killed with SIGKILL, sometimes mid-command; after each restart every secret must be
in its last acknowledged state or in the state the interrupted command was making (never
missing, half-written or holding another secret's value) and the store must load without error.

Each step is acknowledged by an `echo` marker after it, so "acknowledged" means the shell
finished it. Values are unique per secret and step, which makes a value from another secret or
an older step detectable.
"""
import base64
import os
import random
import re
import select
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import daemon_harness as h  # noqa: E402

UUIDS = ["%08x-1111-4222-8333-%012x" % (i, i) for i in range(1, 5)]
ABSENT = None
STEPS = int(os.environ.get("VSECRET_CRASH_STEPS", "200"))
KILL_EVERY = 10  # on average


class Shell:
    """A vsecret shell on uri with commands fed through a pipe."""

    def __init__(self, uri):
        self.proc = subprocess.Popen([h.VSECRET, "-c", uri], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=h.clean_env())
        self.buf = b""
        self.marker = 0

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def sync(self, timeout=h.TIMEOUT):
        """Waits until every command sent so far has finished."""
        self.marker += 1
        tag = b"SYNC-MARK-%d\n" % self.marker
        self.send("echo SYNC-MARK-%d" % self.marker)
        deadline = time.monotonic() + timeout
        while tag not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise AssertionError("vsecret shell did not answer within %ss" % timeout)
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError("vsecret shell exited (%s)" % self.proc.poll())
            self.buf += chunk
        self.buf = self.buf[self.buf.index(tag) + len(tag):]

    def kill(self):
        h.stop_process(self.proc, signal.SIGKILL)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class CrashConsistencyTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-crash-")
        self.root = os.path.join(self.work, "root")
        os.makedirs(self.root)
        self.seed = int(os.environ.get("VSECRET_CRASH_SEED", str(random.randrange(1 << 30))))
        self.rng = random.Random(self.seed)
        self.daemon = None

    def tearDown(self):
        if self.daemon is not None:
            self.daemon.cleanup()
        shutil.rmtree(self.work, ignore_errors=True)

    def enable_encryption(self):
        key = os.path.join(self.work, "key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(secrets.token_bytes(32))
        os.makedirs(os.path.join(self.root, "etc"), exist_ok=True)
        with open(os.path.join(self.root, "etc", "secret.conf"), "w") as f:
            f.write('encrypt_data = 1\nsecrets_encryption_key = "%s"\n' % key)

    # A secret's state: ABSENT, or (description, value or None).
    def observe(self, uri):
        env = h.clean_env()
        listed = subprocess.run([h.VSECRET, "-c", uri, "secret-list"], capture_output=True, env=env,
                                timeout=h.TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertEqual(listed.stderr, b"", "store loaded with errors")
        state = {}
        for uuid in UUIDS:
            if uuid.encode() not in listed.stdout:
                state[uuid] = ABSENT
                continue
            xml = subprocess.run([h.VSECRET, "-c", uri, "secret-dumpxml", uuid], capture_output=True, env=env,
                                 timeout=h.TIMEOUT, stdin=subprocess.DEVNULL)
            self.assertEqual(xml.returncode, 0, xml.stderr)
            m = re.search(rb"<description>(.*?)</description>", xml.stdout)
            value = subprocess.run([h.VSECRET, "-c", uri, "secret-get-value", uuid], capture_output=True,
                                   env=env, timeout=h.TIMEOUT, stdin=subprocess.DEVNULL)
            if value.returncode == 0:
                got = base64.b64decode(value.stdout.strip()).decode()
            else:
                self.assertIn(b"does not have a value", value.stderr, "unreadable value of %s: %r" % (uuid, value.stderr))
                got = None
            state[uuid] = (m.group(1).decode() if m else None, got)
        return state

    def run_steps(self, uri_of, restart):
        """restart() (re)starts whatever writes the store and returns the shell's URI."""
        committed = {u: ABSENT for u in UUIDS}
        xml_dir = os.path.join(self.work, "xml")
        os.makedirs(xml_dir)
        uri = restart()
        shell = Shell(uri)
        kills = 0
        history = []  # what happened, for the failure message
        try:
            for step in range(STEPS):
                uuid = self.rng.choice(UUIDS)
                old = committed[uuid]
                op = self.rng.choice(["define", "define", "set", "set", "set", "undefine"])
                if op == "define":
                    desc = "step %d" % step
                    path = os.path.join(xml_dir, "%d.xml" % step)
                    with open(path, "w") as f:
                        f.write("<secret ephemeral='no' private='no'><uuid>%s</uuid><description>%s</description>"
                                "<usage type='ceph'><name>crash %s</name></usage></secret>" % (uuid, desc, uuid))
                    new = (desc, None if old is ABSENT else old[1])
                    line = "secret-define " + path
                elif op == "set" and old is not ABSENT:
                    value = "value of %s at step %d" % (uuid, step)
                    new = (old[0], value)
                    line = "secret-set-value %s --base64 %s" % (uuid, base64.b64encode(value.encode()).decode())
                elif op == "undefine" and old is not ABSENT:
                    new = ABSENT
                    line = "secret-undefine " + uuid
                else:
                    continue
                shell.send(line)
                history.append("step %d [%s]: %s" % (step, uuid, line))
                if self.rng.randrange(KILL_EVERY) == 0:
                    # Mid-command (a few ms covers the write, fsync and rename of one step).
                    time.sleep(self.rng.uniform(0, 0.004))
                    restart_kill = self.kill_writer(shell)
                    kills += 1
                    history.append("  killed")
                    uri = restart() if restart_kill else uri
                    seen = self.observe(uri)
                    for u in UUIDS:
                        allowed = [committed[u]] + ([new] if u == uuid else [])
                        self.assertIn(seen[u], allowed, "secret %s after a kill at step %d (%s); seed %d; history:\n%s"
                                      % (u, step, line, self.seed, "\n".join(h for h in history if u in h or "kill" in h)))
                    committed = seen
                    shell = Shell(uri)
                else:
                    shell.sync()
                    committed[uuid] = new
            shell.sync()
        finally:
            shell.kill()
        self.assertEqual(self.observe(uri), committed)
        self.assertGreater(kills, 0)

    def kill_writer(self, shell):
        """SIGKILLs the process that writes the store; True when it must be restarted."""
        if self.daemon is None:
            shell.kill()
            return False
        os.kill(self.daemon.proc.pid, signal.SIGKILL)
        self.daemon.proc.wait(timeout=h.TIMEOUT)
        shell.kill()
        self.daemon.log.close()
        return True

    def embedded(self):
        return "secret:///embed?root=" + self.root

    def start_daemon(self):
        if self.daemon is not None:
            self.daemon.cleanup()
        self.daemon = h.Vsecretd(root=self.root)
        return self.daemon.uri()

    def test_embedded_plain(self):
        self.run_steps(None, self.embedded)

    def test_embedded_encrypted(self):
        self.enable_encryption()
        self.run_steps(None, self.embedded)

    def test_daemon_encrypted(self):
        self.enable_encryption()
        self.run_steps(None, self.start_daemon)

    # Undefine removes <uuid>.xml before the value file, so a kill between the two leaves an
    # orphaned value file; a later define of the same UUID must not adopt it (it did once, which
    # brought back the deleted secret's value). The state is made directly here, as a kill at
    # exactly that point is rare.
    def test_interrupted_undefine(self):
        uri = self.embedded()
        uuid = UUIDS[0]
        xml = os.path.join(self.work, "s.xml")
        with open(xml, "w") as f:
            f.write("<secret ephemeral='no' private='no'><uuid>%s</uuid><usage type='ceph'><name>orphan</name>"
                    "</usage></secret>" % uuid)
        env = h.clean_env()
        for args in (["secret-define", xml], ["secret-set-value", uuid, "--base64", "T0xE"]):
            r = subprocess.run([h.VSECRET, "-c", uri] + args, capture_output=True, env=env, timeout=h.TIMEOUT)
            self.assertEqual(r.returncode, 0, r.stderr)
        # The state a SIGKILL between the two unlinks of an undefine leaves.
        os.unlink(os.path.join(self.root, "etc", "secrets", uuid + ".xml"))
        self.assertEqual(self.observe(uri)[uuid], ABSENT)
        r = subprocess.run([h.VSECRET, "-c", uri, "secret-define", xml], capture_output=True, env=env,
                           timeout=h.TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.observe(uri)[uuid], (None, None))


if __name__ == "__main__":
    unittest.main()
