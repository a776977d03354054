#!/usr/bin/env python3
"""The test helper package itself (tests/vstest): clean_env()'s policy, run()'s one result shape
and options, stopping a process by its PID, the socket waits and the raw RPC framing. Every
child process here is a short /bin/sh or python3 one-liner, bounded by a timeout."""
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
from unittest import mock

from vstest import paths, process, rpc, sockets

CALLER_ENV = {
    "LIBVIRT_DEFAULT_URI": "qemu:///system", "LIBVIRT_DEBUG": "1", "VIRSH_DEFAULT_CONNECT_URI": "test:///default",
    "VSECRET_COMPAT": "9.0", "VSECRET_DEFAULT_URI": "secret:///session", "CREDENTIALS_DIRECTORY": "/run/creds",
    "NOTIFY_SOCKET": "/run/systemd/notify", "LISTEN_FDS": "2", "LISTEN_PID": "1", "LISTEN_FDNAMES": "a:b",
    "JOURNAL_STREAM": "8:1234", "LC_ALL": "de_DE.UTF-8", "VSTEST_KEPT": "yes",
}


class CleanEnvTest(unittest.TestCase):
    def setUp(self):
        patcher = mock.patch.dict(os.environ, CALLER_ENV)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_drops_the_callers_libvirt_and_systemd_settings(self):
        env = process.clean_env()
        for name in CALLER_ENV:
            if name not in ("LC_ALL", "VSTEST_KEPT"):
                self.assertNotIn(name, env)
        self.assertEqual(env["VSTEST_KEPT"], "yes")
        self.assertEqual(env["PATH"], os.environ["PATH"])

    def test_sets_the_locale_and_no_autostart(self):
        env = process.clean_env()
        self.assertEqual(env["LC_ALL"], "C")
        self.assertEqual(env["LIBVIRT_AUTOSTART"], "0")

    def test_extras_come_last_and_none_removes(self):
        env = process.clean_env({"NOTIFY_SOCKET": "/tmp/n", "LC_ALL": "C.UTF-8", "VSTEST_KEPT": None,
                                 "LIBVIRT_AUTOSTART": None, "VSTEST_ABSENT": None})
        self.assertEqual(env["NOTIFY_SOCKET"], "/tmp/n")
        self.assertEqual(env["LC_ALL"], "C.UTF-8")
        self.assertNotIn("VSTEST_KEPT", env)
        self.assertNotIn("LIBVIRT_AUTOSTART", env)
        self.assertNotIn("VSTEST_ABSENT", env)

    def test_the_callers_environment_is_not_changed(self):
        before = dict(os.environ)
        process.clean_env({"VSTEST_KEPT": None, "X": "1"})
        self.assertEqual(dict(os.environ), before)

    def test_run_gives_the_child_the_clean_environment(self):
        r = process.run(["/bin/sh", "-c", 'echo "${LIBVIRT_DEFAULT_URI-unset} $LC_ALL ${EXTRA-unset}"'],
                        env={"EXTRA": "x"})
        self.assertEqual(r, (0, "unset C x\n", ""))


class RunTest(unittest.TestCase):
    def test_result_shape(self):
        r = process.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
        self.assertIsInstance(r, process.Result)
        self.assertEqual((r.rc, r.out, r.err), (3, "out\n", "err\n"))
        rc, out, err = r
        self.assertEqual((rc, out, err), (3, "out\n", "err\n"))
        self.assertIn("rc=3", str(r))

    def test_text_false_gives_bytes_and_text_replaces_bad_bytes(self):
        script = "printf '\\377ok'"
        self.assertEqual(process.run(["/bin/sh", "-c", script], text=False).out, b"\xffok")
        self.assertEqual(process.run(["/bin/sh", "-c", script]).out, "\ufffdok")

    def test_input_str_and_bytes_and_no_inherited_stdin(self):
        self.assertEqual(process.run(["cat"], input="abc").out, "abc")
        self.assertEqual(process.run(["cat"], input=b"\x00\x01", text=False).out, b"\x00\x01")
        # Without input the child reads end-of-file, never the test runner's terminal.
        self.assertEqual(process.run(["cat"], timeout=10), (0, "", ""))

    def test_check_raises_with_the_result(self):
        self.assertEqual(process.run(["true"], check=True).rc, 0)
        with self.assertRaises(process.CommandFailed) as cm:
            process.run(["/bin/sh", "-c", "echo why >&2; exit 4"], check=True)
        self.assertIsInstance(cm.exception, AssertionError)
        self.assertEqual(cm.exception.result, (4, "", "why\n"))
        self.assertIn("why", str(cm.exception))

    def test_timeout_kills_the_child(self):
        start = time.monotonic()
        with self.assertRaises(subprocess.TimeoutExpired):
            process.run(["sleep", "30"], timeout=0.5)
        self.assertLess(time.monotonic() - start, 10)

    def test_cwd(self):
        d = tempfile.mkdtemp(prefix="vstest-")
        self.addCleanup(os.rmdir, d)
        self.assertEqual(process.run(["pwd"], cwd=d).out, os.path.realpath(d) + "\n")


class StopProcessTest(unittest.TestCase):
    def test_sigterm_then_sigkill(self):
        polite = subprocess.Popen(["sleep", "30"])
        self.assertEqual(process.stop_process(polite, timeout=5), -signal.SIGTERM)
        stubborn = subprocess.Popen([paths.PYTHON, "-c", "import signal, sys, time\n"
                                     "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                     "print('ready', flush=True)\ntime.sleep(30)"], stdout=subprocess.PIPE)
        self.assertEqual(stubborn.stdout.readline(), b"ready\n")
        stubborn.stdout.close()
        self.assertEqual(process.stop_process(stubborn, timeout=0.5), -signal.SIGKILL)
        # Already stopped: the status again, nothing sent.
        self.assertEqual(process.stop_process(stubborn), -signal.SIGKILL)


class SocketsTest(unittest.TestCase):
    def test_wait_for_socket(self):
        d = tempfile.mkdtemp(prefix="vstest-")
        path = os.path.join(d, "sock")
        listener = socket.socket(socket.AF_UNIX)
        self.addCleanup(listener.close)
        listener.bind(path)
        listener.listen(1)
        sockets.wait_for_socket(path, None, timeout=5)
        os.unlink(path)
        os.rmdir(d)
        with self.assertRaisesRegex(RuntimeError, "did not appear"):
            sockets.wait_for_socket(path, None, timeout=0.2)
        dead = subprocess.Popen(["true"])
        dead.wait()
        with self.assertRaisesRegex(RuntimeError, "exited early with 0"):
            sockets.wait_for_socket(path, dead, timeout=5)

    def test_free_port_and_wait_port(self):
        port = sockets.free_port()
        listener = socket.create_server(("127.0.0.1", port))
        self.addCleanup(listener.close)
        alive = subprocess.Popen(["sleep", "30"])
        self.addCleanup(process.stop_process, alive)
        sockets.wait_port(port, alive, timeout=5)
        listener.close()
        with self.assertRaisesRegex(RuntimeError, "did not open"):
            sockets.wait_port(port, alive, timeout=0.2)


class RpcTest(unittest.TestCase):
    def test_xdr_string_is_padded_to_four(self):
        self.assertEqual(rpc.xdr_string("abcde"), b"\0\0\0\x05abcde\0\0\0")
        self.assertEqual(rpc.xdr_string(b"abcd"), b"\0\0\0\x04abcd")

    def test_frame_header(self):
        f = rpc.frame(66, 7, b"\0\0\0\x01")
        self.assertEqual(struct.unpack(">IIIiiIi", f[:28]), (32, rpc.REMOTE, 1, 66, 0, 7, 0))
        self.assertEqual(struct.unpack(">I", rpc.frame(1, 0, length=99)[:4]), (99,))

    def test_describe_an_error_reply(self):
        payload = struct.pack(">iiI", 42, 7, 1) + rpc.xdr_string("no such secret")
        self.assertEqual(rpc.describe(((0, 0, 0, 1, 0, 1), payload)), ("err", 42, 7, "no such secret"))
        self.assertEqual(rpc.describe(None), ("closed",))
        self.assertEqual(rpc.describe(((0, 0, 0, 1, 0, 0), b"\x01")), ("ok", "01"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
