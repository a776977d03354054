"""The vsecret CLI over RemoteConnection (secret+unix:///system?socket=PATH) against vsecretd and
against a stock libvirtd: the secret-* command sequence gives what the stock virsh gives against
the same kind of daemon, events (--loop, --timeout, --timestamp) included."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from vstest import daemons, paths, process
import daemon_virsh_test as scenario

SECRET_COMMANDS = [(mode, argv) for mode, argv in scenario.SCENARIO if argv[0].startswith("secret-")]


def transcript(tool, daemon):
    # Compared with the stock virsh 9.0, vsecret prints what 9.0 prints (VSECRET_COMPAT=9.0).
    env = {"VSECRET_COMPAT": "9.0"} if tool == paths.VSECRET else None
    out = []
    for mode, argv in SECRET_COMMANDS:
        cmd = [tool] + (["-r"] if mode == "RO" else []) + ["-c", daemon.uri(ro=(mode == "ROSOCK"))] + argv
        rc, stdout, stderr = process.run(cmd, env=env)
        out.append((mode + " " + " ".join(argv), rc, scenario.normalise(stdout, daemon),
                    scenario.normalise(stderr, daemon)))
    return out


def event_run(tool, daemon):
    uri = daemon.uri()
    watcher = subprocess.Popen([tool, "-c", uri, "secret-event", "--event", "lifecycle", "--loop", "--timeout", "3",
                                "--timestamp"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=process.clean_env())
    try:
        time.sleep(0.8)
        for argv in (["secret-define", "sec1.xml"], ["secret-undefine", scenario.U1]):
            rc, _, err = process.run([paths.VIRSH, "-c", uri] + argv)
            assert rc == 0, err
        out, err = watcher.communicate(timeout=20)
    finally:
        process.stop_process(watcher)
    out = re.sub(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: ", b"<ts>: ", out, flags=re.M)
    return watcher.returncode, out, err


class VsecretCliOverRpcTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="vsecret-cli-it-")
        for name, content in scenario.FILES.items():
            with open(os.path.join(self.work, name), "w") as f:
                f.write(content)
        self.cwd = os.getcwd()
        os.chdir(self.work)

    def tearDown(self):
        os.chdir(self.cwd)
        shutil.rmtree(self.work, ignore_errors=True)

    def compare(self, make_daemon):
        results = []
        for tool in (paths.VIRSH, paths.VSECRET):
            daemon = make_daemon()
            try:
                results.append(transcript(tool, daemon))
            finally:
                daemon.cleanup()
        for want, got in zip(*results):
            with self.subTest(command=want[0]):
                self.assertEqual(got, want)
        events = []
        for tool in (paths.VIRSH, paths.VSECRET):
            daemon = make_daemon()
            try:
                events.append(event_run(tool, daemon))
            finally:
                daemon.cleanup()
        self.assertEqual(events[1], events[0])
        self.assertIn(b"<ts>: event 'lifecycle' for secret %s: Undefined" % scenario.U1.encode(), events[1][1])

    def test_against_vsecretd(self):
        self.compare(daemons.Vsecretd)

    @unittest.skipUnless(daemons.libvirtd_available(), "needs root, unshare and the stock libvirtd")
    def test_against_stock_libvirtd(self):
        self.compare(daemons.StockLibvirtd)


if __name__ == "__main__":
    unittest.main()
