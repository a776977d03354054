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

With encryption, some steps are key rotations done as the README tells users to: the writer is
stopped (the embedded shell exits, vsecretd gets SIGTERM), `vsecret-admin --root DIR rotate
--new-key FILE` runs with a fresh random key, and the writer is started again. The admin process
is often SIGKILLed at a random moment (measured from its start, or from the rotation journal's
appearance) and sometimes left to finish. After every run the store is checked offline
(`vsecret-admin status` and `verify`: it loads, every value decrypts with the keys then
configured, the configured key file holds the old or the new key and nothing else), then through
the restarted writer (every secret exactly as acknowledged, rotation never changes one). An
interrupted rotation is resumed at once or left pending while the other steps go on (both keys
are then loaded) and resumed by a later rotation step, with `rotate` alone or with the same
--new-key; a rotation to another key must then be refused. Once a rotation has completed, the
incoming key file is deleted, so the old key exists nowhere on disk, and every value must still
read back: values need the new key only.
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

from vstest import daemons, paths, process

UUIDS = ["%08x-1111-4222-8333-%012x" % (i, i) for i in range(1, 5)]
ABSENT = None
STEPS = int(os.environ.get("VSECRET_CRASH_STEPS", "200"))
KILL_EVERY = 10  # on average
ROTATE_EVERY = 12  # on average, with encryption
ADMIN = os.path.join(paths.BIN, "vsecret-admin")


class Shell:
    """A vsecret shell on uri with commands fed through a pipe."""

    def __init__(self, uri):
        self.proc = subprocess.Popen([paths.VSECRET, "-c", uri], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=process.clean_env())
        self.buf = b""
        self.marker = 0

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def sync(self, timeout=process.TIMEOUT):
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

    def close(self):
        """Ends the shell as a user would (end of input); returns its exit status."""
        self.proc.stdin.close()
        status = self.proc.wait(timeout=process.TIMEOUT)
        self.proc.stdout.close()
        return status

    def kill(self):
        process.stop_process(self.proc, signal.SIGKILL)
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
        self.key_path = None  # the configured key file, with encryption

    def tearDown(self):
        if self.daemon is not None:
            self.daemon.cleanup()
        shutil.rmtree(self.work, ignore_errors=True)

    def enable_encryption(self):
        key = os.path.join(self.work, "key")
        self.key_bytes = self.write_key(key)
        os.makedirs(os.path.join(self.root, "etc"), exist_ok=True)
        with open(os.path.join(self.root, "etc", "secret.conf"), "w") as f:
            f.write('encrypt_data = 1\nsecrets_encryption_key = "%s"\n' % key)
        self.key_path = key
        self.key_id = None  # learnt from the first `vsecret-admin status`
        self.pending = None  # (path, bytes) of an interrupted rotation's new key
        self.key_serial = 0
        self.rotation_span = 0.05  # how long an uninterrupted rotation takes here (seconds)
        # What the rotation runs came to; "killed <state>" is where a SIGKILL left the store.
        self.rotation_stats = {"steps": 0, "runs": 0, "killed": 0, "finished": 0, "killed old": 0,
                               "killed pending": 0, "killed installed": 0, "killed done": 0,
                               "left pending": 0, "completed": 0, "refused other": 0}

    @staticmethod
    def write_key(path):
        data = secrets.token_bytes(32)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(data)
        return data

    # A secret's state: ABSENT, or (description, value or None).
    def observe(self, uri):
        env = process.clean_env()
        listed = subprocess.run([paths.VSECRET, "-c", uri, "secret-list"], capture_output=True, env=env,
                                timeout=process.TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertEqual(listed.stderr, b"", "store loaded with errors")
        state = {}
        for uuid in UUIDS:
            if uuid.encode() not in listed.stdout:
                state[uuid] = ABSENT
                continue
            xml = subprocess.run([paths.VSECRET, "-c", uri, "secret-dumpxml", uuid], capture_output=True, env=env,
                                 timeout=process.TIMEOUT, stdin=subprocess.DEVNULL)
            self.assertEqual(xml.returncode, 0, xml.stderr)
            m = re.search(rb"<description>(.*?)</description>", xml.stdout)
            value = subprocess.run([paths.VSECRET, "-c", uri, "secret-get-value", uuid], capture_output=True,
                                   env=env, timeout=process.TIMEOUT, stdin=subprocess.DEVNULL)
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
                if self.key_path is not None and self.rng.randrange(ROTATE_EVERY) == 0:
                    shell.sync()
                    self.stop_writer(shell)
                    self.rotation_step(step, committed, history)
                    uri = restart()
                    self.check_restarted(uri, committed, "after rotation step %d" % step, history)
                    shell = Shell(uri)
                    continue
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
            if self.key_path is not None:
                # A rotation still pending at the end is completed, which must leave every value
                # readable with the new key alone.
                self.stop_writer(shell)
                # Random kill moments can all miss (a run may finish first): make sure at least
                # one run of this test was killed mid-rotation, as soon as its journal appeared.
                for _ in range(5):
                    if self.rotation_stats["killed"] > 0:
                        break
                    self.rotation_step(STEPS, committed, history, force_kill=True)
                if self.pending is not None:
                    self.rotation_step(STEPS, committed, history, finish=True)
                    self.assertIsNone(self.pending)
                uri = restart()
                shell = Shell(uri)
        finally:
            shell.kill()
        self.assertEqual(self.observe(uri), committed)
        self.assertGreater(kills, 0)
        if self.key_path is not None:
            print("\n  rotation (seed %d): %s" % (self.seed, self.rotation_stats), file=sys.stderr)
            # Steps are random; with the default count there are always several.
            if STEPS >= 100:
                self.assertGreater(self.rotation_stats["steps"], 0)
                self.assertGreater(self.rotation_stats["killed"], 0)
                self.assertGreater(self.rotation_stats["completed"], 0)

    # -- key rotation --------------------------------------------------------------------------

    def stop_writer(self, shell):
        """Stops whatever uses the store, cleanly: vsecret-admin needs the store to itself."""
        self.assertEqual(shell.close(), 0)
        if self.daemon is not None:
            self.assertEqual(self.daemon.stop(), 0, "vsecretd did not stop cleanly")

    def admin(self, *args):
        return subprocess.run([ADMIN, "--root", self.root, "--quiet"] + list(args), capture_output=True,
                              env=process.clean_env(), timeout=process.TIMEOUT, stdin=subprocess.DEVNULL)

    def run_rotate(self, args, kill, at_journal=False):
        """One `vsecret-admin rotate` run, SIGKILLed at a random moment when kill is set (at
        the moment its journal appears with at_journal)."""
        journal = os.path.join(self.root, "etc", "secrets", "vsecret-rotation.conf")
        started = time.monotonic()
        proc = subprocess.Popen([ADMIN, "--root", self.root, "--quiet"] + args, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=process.clean_env(), stdin=subprocess.DEVNULL)
        how = "finished"
        if kill:
            if at_journal or self.rng.randrange(3) == 0:
                # From the journal's appearance: lands among the value re-seals, the key install
                # and the journal's removal.
                while not os.path.exists(journal) and proc.poll() is None and \
                        time.monotonic() - started < process.TIMEOUT:
                    time.sleep(0.0002)
                delay = 0 if at_journal else self.rng.uniform(0, self.rotation_span * 0.8)
            else:
                delay = self.rng.uniform(0, self.rotation_span * 1.2)
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)  # our unreaped child: never another process
            how = "kill after %.1f ms" % ((time.monotonic() - started) * 1000)
        out, err = proc.communicate(timeout=process.TIMEOUT)
        if proc.returncode == -signal.SIGKILL:
            self.rotation_stats["killed"] += 1
            how += ": killed"
        else:
            self.assertEqual(proc.returncode, 0, "vsecret-admin %s: %r %r" % (" ".join(args), out, err))
            self.rotation_stats["finished"] += 1
            if not kill:
                took = time.monotonic() - started
                self.rotation_span = (self.rotation_span + took) / 2
            how += ": finished"
        self.rotation_stats["runs"] += 1
        return how

    def check_offline(self, target, committed, what):
        """The store with nothing running: loads, every value decrypts with the configured keys,
        the configured key file holds the old or the new key. Returns "old", "pending" or "done"."""
        status = self.admin("status")
        self.assertEqual(status.returncode, 0, "%s: vsecret-admin status: %r" % (what, status.stderr))
        key_id = re.search(rb"^key id:\s+([0-9a-f]+)$", status.stdout, re.M).group(1).decode()
        journal = re.search(rb"^rotation:\s+pending to (\S+) \(key id ([0-9a-f]+)\)$", status.stdout, re.M)
        verify = self.admin("verify")
        self.assertEqual(verify.returncode, 0, "%s: vsecret-admin verify: %r %r" % (what, verify.stdout, verify.stderr))
        self.assertIn(b" 0 failures", verify.stdout)
        found = {}
        for m in re.finditer(rb"^  (\S+(?: [0-9a-f]+)?)\s+(\d+)$", verify.stdout, re.M):
            found[m.group(1).decode()] = int(m.group(2))
        # Every acknowledged value has a value file (orphans of interrupted undefines may add more).
        self.assertGreaterEqual(sum(found.values()), sum(1 for s in committed.values() if s and s[1]),
                                "%s: %r" % (what, verify.stdout))
        with open(self.key_path, "rb") as f:
            configured = f.read()
        self.assertIn(configured, (self.key_bytes, target[1]),
                      "%s: the configured key file holds neither the old nor the new key" % what)
        old_id = self.key_id
        if journal:
            self.assertEqual(journal.group(1).decode(), target[0], what)
            new_id = journal.group(2).decode()
            self.assertNotEqual(new_id, old_id)
            # libvirt-format files are all under the configured (old) key; vsecret-format ones name
            # theirs: the new key once re-sealed, or still the old one, when an earlier rotation
            # left them under the key this one replaces and the kill came before their turn.
            self.assertTrue(set(found) <= {"aes256cbc", "vsenc " + new_id, "vsenc " + old_id},
                            "%s: %r" % (what, found))
            return "pending"
        self.assertFalse(os.path.exists(os.path.join(self.root, "etc", "secrets", "vsecret-rotation.conf")), what)
        if configured == target[1]:
            # Only the configured key is loaded now: verify read every value with the new key.
            self.assertNotEqual(key_id, old_id, what)
            self.assertTrue(set(found) <= {"aes256cbc", "vsenc " + key_id}, "%s: %r" % (what, found))
            self.key_bytes, self.key_id = configured, key_id
            return "done"
        self.assertEqual(key_id, old_id, what)
        self.assertTrue(set(found) <= {"aes256cbc", "vsenc " + old_id}, "%s: %r" % (what, found))
        return "old"

    def rotation_step(self, step, committed, history, finish=False, force_kill=False):
        """Rotates (or resumes a pending rotation) with the writer stopped; kills it at random
        (force_kill: its first run, when its journal appears)."""
        self.rotation_stats["steps"] += 1
        what = "rotation at step %d; seed %d" % (step, self.seed)
        if self.key_id is None:
            status = self.admin("status")
            self.assertEqual(status.returncode, 0, status.stderr)
            self.key_id = re.search(rb"^key id:\s+([0-9a-f]+)$", status.stdout, re.M).group(1).decode()
        if self.pending is None:
            self.key_serial += 1
            path = os.path.join(self.work, "new-key-%d" % self.key_serial)
            target = (path, self.write_key(path))
        else:
            target = self.pending
            if self.rng.randrange(3) == 0:
                # A rotation to another key is refused while this one is pending.
                other = os.path.join(self.work, "other-key")
                self.write_key(other)
                r = self.admin("rotate", "--new-key", other)
                os.unlink(other)
                self.assertEqual(r.returncode, 1, "%s: %r" % (what, r.stdout))
                self.assertIn(b"is pending; complete it first", r.stderr)
                self.assertEqual(self.check_offline(target, committed, what), "pending")
                self.rotation_stats["refused other"] += 1
        for attempt in range(8):
            resume_alone = self.pending is not None and self.rng.randrange(2) == 0
            args = ["rotate"] if resume_alone else ["rotate", "--new-key", target[0]]
            early = force_kill and attempt == 0
            kill = early or (attempt < 7 and self.rng.random() < 0.7)
            how = self.run_rotate(args, kill, at_journal=early)
            state = self.check_offline(target, committed, "%s, run %d (%s)" % (what, attempt, how))
            history.append("step %d: vsecret-admin %s: %s -> %s" % (step, " ".join(args), how, state))
            if how.endswith("killed"):
                with open(self.key_path, "rb") as f:
                    installed = state == "pending" and f.read() == target[1]
                self.rotation_stats["killed " + ("installed" if installed else state)] += 1
            if state == "done":
                self.pending = None
                self.rotation_stats["completed"] += 1
                # The incoming key file is no longer needed: with it gone the old key exists nowhere,
                # and the restarted writer must still read every value.
                os.unlink(target[0])
                return
            self.pending = target if state == "pending" else None
            if not finish and self.rng.randrange(3) == 0:
                break  # leave it: the other steps go on (with both keys loaded when pending)
        if self.pending is None:
            os.unlink(target[0])  # never started: dropped
        else:
            self.rotation_stats["left pending"] += 1

    def check_restarted(self, uri, committed, what, history):
        seen = self.observe(uri)
        self.assertEqual(seen, committed, "%s; seed %d; history:\n%s" % (what, self.seed, "\n".join(history[-30:])))
        if self.daemon is not None:
            self.assertNotIn("error", self.daemon.stderr().lower(), what)

    def kill_writer(self, shell):
        """SIGKILLs the process that writes the store; True when it must be restarted."""
        if self.daemon is None:
            shell.kill()
            return False
        os.kill(self.daemon.proc.pid, signal.SIGKILL)
        self.daemon.proc.wait(timeout=process.TIMEOUT)
        shell.kill()
        self.daemon.log.close()
        return True

    def embedded(self):
        return "secret:///embed?root=" + self.root

    def start_daemon(self):
        if self.daemon is not None:
            self.daemon.cleanup()
        self.daemon = daemons.Vsecretd(root=self.root)
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
        env = process.clean_env()
        for args in (["secret-define", xml], ["secret-set-value", uuid, "--base64", "T0xE"]):
            r = subprocess.run([paths.VSECRET, "-c", uri] + args, capture_output=True, env=env, timeout=process.TIMEOUT)
            self.assertEqual(r.returncode, 0, r.stderr)
        # The state a SIGKILL between the two unlinks of an undefine leaves.
        os.unlink(os.path.join(self.root, "etc", "secrets", uuid + ".xml"))
        self.assertEqual(self.observe(uri)[uuid], ABSENT)
        r = subprocess.run([paths.VSECRET, "-c", uri, "secret-define", xml], capture_output=True, env=env,
                           timeout=process.TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.observe(uri)[uuid], (None, None))


if __name__ == "__main__":
    unittest.main()
