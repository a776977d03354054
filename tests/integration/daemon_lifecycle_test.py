"""vsecretd as a process: signals, instance lock, config file, socket permissions and peer
credentials, idle timeout, systemd socket activation and readiness, the --system instance found
by a plain `virsh -c secret:///system`, and the --session instance started on demand."""
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from vstest import cli, daemons, paths, process, sockets

U1 = "11111111-2222-3333-4444-555555555555"
XML1 = ("<secret ephemeral='no' private='no'>\n  <uuid>%s</uuid>\n  <usage type='ceph'>\n    <name>one</name>\n"
        "  </usage>\n</secret>\n" % U1)
SOURCE = os.environ.get("VSECRET_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def is_root():
    return os.geteuid() == 0


class SignalsAndLockTest(unittest.TestCase):
    def setUp(self):
        self.daemon = daemons.Vsecretd()

    def tearDown(self):
        self.daemon.cleanup()

    def test_sighup_reloads_and_sigterm_exits_cleanly(self):
        store = os.path.join(self.daemon.root, "etc", "secrets")
        with open(os.path.join(store, U1 + ".xml"), "w") as f:
            f.write(XML1)
        rc, out, _ = cli.virsh(self.daemon.uri(), "secret-list")
        self.assertNotIn(U1, out)
        os.kill(self.daemon.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        while U1 not in out and time.monotonic() < deadline:
            time.sleep(0.05)
            rc, out, _ = cli.virsh(self.daemon.uri(), "secret-list")
        self.assertIn(U1, out)
        self.assertEqual(self.daemon.stop(), 0)
        for path in (self.daemon.rw, self.daemon.ro, os.path.join(self.daemon.root, "run", "secrets", "driver.pid")):
            self.assertFalse(os.path.exists(path), path)

    def test_signals_during_start_up_are_not_fatal(self):
        # A daemon still starting (here: reading its configuration from a FIFO, so the test
        # knows it is in start-up) must not die by a signal's default action. SIGTERM is kept
        # and honoured once the server runs (exit 0, sockets removed); SIGHUP is ignored. The
        # CI once saw -15 from a daemon stopped right after its socket appeared.
        work = tempfile.mkdtemp(prefix="vsecretd-sig-")
        self.addCleanup(shutil.rmtree, work, True)
        for sig, keeps_running in ((signal.SIGTERM, False), (signal.SIGHUP, True)):
            root = os.path.join(work, "root-%d" % sig)
            fifo = os.path.join(work, "conf-%d" % sig)
            os.mkfifo(fifo)
            proc = subprocess.Popen([paths.VSECRETD, "--root", root, "--config", fifo], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, env=process.clean_env())
            try:
                with open(fifo, "w") as conf:  # returns once the daemon opened it for reading
                    os.kill(proc.pid, sig)
                    time.sleep(0.3)
                    self.assertIsNone(proc.poll(), "vsecretd died by signal %d during start-up" % sig)
                    conf.write("log_level = 3\n")
                rw = os.path.join(root, "run", "virtsecretd-sock")
                if keeps_running:
                    sockets.wait_for_socket(rw, proc)
                    self.assertEqual(cli.virsh("secret+unix:///system?socket=" + rw, "secret-list").rc, 0)
                    os.kill(proc.pid, signal.SIGTERM)
                self.assertEqual(proc.wait(timeout=20), 0, proc.stderr.read())
                self.assertFalse(os.path.exists(rw))
            finally:
                process.stop_process(proc)

    def test_second_instance_on_the_same_root_is_refused(self):
        p = subprocess.run([paths.VSECRETD, "--root", self.daemon.root], capture_output=True, timeout=10,
                           env=process.clean_env())
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"Failed to acquire pid file '%s/run/secrets/driver.pid': Resource temporarily unavailable"
                      % self.daemon.root.encode(), p.stderr)
        # The first instance is untouched.
        self.assertEqual(cli.virsh(self.daemon.uri(), "secret-list")[0], 0)

    def test_usage_errors(self):
        for argv, text in (([paths.VSECRETD, "--bogus"], b"unknown option '--bogus'"),
                           ([paths.VSECRETD, "--root", "relative"], b"--root needs an absolute path"),
                           ([paths.VSECRETD, "--system", "--session"], b"mutually exclusive"),
                           ([paths.VSECRETD, "--timeout", "x"], b"Invalid value for timeout")):
            p = subprocess.run(argv, capture_output=True, timeout=10, env=process.clean_env())
            self.assertEqual(p.returncode, 1, argv)
            self.assertIn(text, p.stderr)
        p = subprocess.run([paths.VSECRETD, "--help"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"--root DIR", p.stdout)


class ConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vsecretd-conf-")
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, text):
        path = os.path.join(self.dir, "vsecretd.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_sample_config_is_valid(self):
        d = daemons.Vsecretd(args=["--config", os.path.join(SOURCE, "packaging", "vsecretd.conf")])
        self.daemons.append(d)
        self.assertEqual(stat.S_IMODE(os.stat(d.rw).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(d.ro).st_mode), 0o777)

    def test_socket_dir_and_perms(self):
        sockdir = os.path.join(self.dir, "sockets")
        conf = self.write('unix_sock_dir = "%s"\nunix_sock_rw_perms = "0770"\nunix_sock_ro_perms = "0755"\n'
                          'max_clients = 10 # comment\nunix_sock_rw_allowed_users = [ "nobody", ]\n' % sockdir)
        root = tempfile.mkdtemp(prefix="vsecretd-it-")
        proc = subprocess.Popen([paths.VSECRETD, "--root", root, "--config", conf], stderr=subprocess.PIPE,
                                env=process.clean_env())
        try:
            rw = os.path.join(sockdir, "virtsecretd-sock")
            sockets.wait_for_socket(rw, proc)
            self.assertEqual(stat.S_IMODE(os.stat(rw).st_mode), 0o770)
            self.assertEqual(stat.S_IMODE(os.stat(rw + "-ro").st_mode), 0o755)
            self.assertFalse(os.path.exists(os.path.join(root, "run", "virtsecretd-sock")))
            self.assertEqual(cli.virsh("secret+unix:///system?socket=" + rw, "secret-list")[0], 0)
        finally:
            process.stop_process(proc)
            proc.stderr.close()
            shutil.rmtree(root, ignore_errors=True)

    def test_live_socket_is_never_stolen(self):
        first = daemons.Vsecretd()
        self.daemons.append(first)
        conf = self.write('unix_sock_dir = "%s"\n' % os.path.dirname(first.rw))
        other_root = os.path.join(self.dir, "other")
        p = subprocess.run([paths.VSECRETD, "--root", other_root, "--config", conf], capture_output=True, timeout=10,
                           env=process.clean_env())
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"Failed to bind socket to '%s': Address already in use" % first.rw.encode(), p.stderr)
        self.assertEqual(cli.virsh(first.uri(), "secret-list")[0], 0)

    def test_bad_configs_are_reported(self):
        for text, want in (('max_clients = "many"\n', b"internal error: %s: expected an unsigned integer for 'max_clients' parameter"),
                           ('unix_sock_dir = "unterminated\n', b"configuration file syntax error: %s:1: unterminated"),
                           ('= 3\n', b"expecting a name"),
                           ('auth_unix_rw = "polkit"\n', b"vsecretd supports only \"none\" and \"sasl\""),
                           ('unix_sock_rw_perms = "0999"\n', b"Failed to parse mode '0999'"),
                           ('unix_sock_rw_allowed_users = [ "no-such-user-x" ]\n', b"unknown user 'no-such-user-x'")):
            conf = self.write(text)
            p = subprocess.run([paths.VSECRETD, "--root", self.dir, "--config", conf], capture_output=True, timeout=10,
                               env=process.clean_env())
            self.assertEqual(p.returncode, 1, text)
            self.assertIn(want.replace(b"%s", conf.encode()), p.stderr)
        p = subprocess.run([paths.VSECRETD, "--root", self.dir, "--config", "/nonexistent.conf"], capture_output=True,
                           timeout=10, env=process.clean_env())
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"Failed to open file '/nonexistent.conf'", p.stderr)


@unittest.skipUnless(is_root(), "needs root to act as another user")
class PeerCredentialsTest(unittest.TestCase):
    def run_as_nobody(self, argv):
        p = subprocess.run(["runuser", "-u", "nobody", "--"] + argv, capture_output=True, timeout=30,
                           env=process.clean_env())
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_rw_socket_refuses_other_users_unless_allowed(self):
        conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        conf.write('unix_sock_rw_perms = "0777"\n')
        conf.close()
        root = tempfile.mkdtemp(prefix="vsecretd-it-")
        os.chmod(root, 0o755)
        d = daemons.Vsecretd(root=root, args=["--config", conf.name])
        try:
            os.chmod(os.path.join(root, "run"), 0o755)
            rc, out, err = self.run_as_nobody([paths.VIRSH, "-c", d.uri(), "secret-list"])
            self.assertEqual(rc, 1)
            self.assertEqual(err, "error: failed to connect to the hypervisor\nerror: authentication failed: "
                                  "uid 65534 is not allowed to use the read-write socket\n")
            rc, out, err = self.run_as_nobody([paths.VIRSH, "-c", d.uri(ro=True), "secret-list"])
            self.assertEqual(rc, 0, err)
            d.cleanup()
            with open(conf.name, "w") as f:
                f.write('unix_sock_rw_perms = "0777"\nunix_sock_rw_allowed_users = [ "nobody" ]\n')
            d = daemons.Vsecretd(root=root, args=["--config", conf.name])
            os.chmod(os.path.join(root, "run"), 0o755)
            rc, out, err = self.run_as_nobody([paths.VIRSH, "-c", d.uri(), "secret-list"])
            self.assertEqual(rc, 0, err)
        finally:
            d.cleanup()
            os.unlink(conf.name)
            shutil.rmtree(root, ignore_errors=True)


class IdleTimeoutTest(unittest.TestCase):
    def test_exits_when_idle_but_not_while_ephemeral_secrets_are_held(self):
        d = daemons.Vsecretd(args=["--timeout", "1"])
        try:
            d.proc.wait(timeout=10)
            self.assertEqual(d.proc.returncode, 0)
        finally:
            d.cleanup()
        d = daemons.Vsecretd(args=["--timeout=1"])
        try:
            rc, _, err = cli.virsh(d.uri(), "secret-define", "/dev/stdin", input=b"<secret ephemeral='yes'/>")
            self.assertEqual(rc, 0, err)
            time.sleep(2.5)
            self.assertIsNone(d.proc.poll())
            uuid = cli.virsh(d.uri(), "secret-list")[1].split("\n")[2].split()[0]
            self.assertEqual(cli.virsh(d.uri(), "secret-undefine", uuid)[0], 0)
            d.proc.wait(timeout=10)
            self.assertEqual(d.proc.returncode, 0)
        finally:
            d.cleanup()


class SocketActivationTest(unittest.TestCase):
    def test_listen_fds_and_notify(self):
        work = tempfile.mkdtemp(prefix="vsecretd-sd-")
        root = os.path.join(work, "root")
        rw_path, ro_path = os.path.join(work, "a-sock"), os.path.join(work, "a-sock-ro")
        listeners = []
        for path in (rw_path, ro_path):
            s = socket.socket(socket.AF_UNIX)
            s.bind(path)
            s.listen(16)
            listeners.append(s)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify_path = os.path.join(work, "notify")
        notify.bind(notify_path)
        notify.settimeout(10)
        fds = [s.fileno() for s in listeners]

        def place_fds():
            # systemd passes the listeners as descriptors 3 and 4 (whatever numbers they have here).
            copies = [os.dup(fd) for fd in fds]
            for target, fd in zip((3, 4), copies):
                os.dup2(fd, target)
                os.set_inheritable(target, True)

        env = process.clean_env({"NOTIFY_SOCKET": notify_path, "LISTEN_FDS": "2",
                                 "LISTEN_FDNAMES": "vsecretd.socket:vsecretd-ro.socket"})
        proc = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', paths.VSECRETD, "--root", root],
                                env=env, preexec_fn=place_fds, close_fds=False, stderr=subprocess.DEVNULL)
        try:
            self.assertIn(b"READY=1", notify.recv(4096))
            for s in listeners:
                s.close()
            uri = "secret+unix:///system?socket=" + rw_path
            rc, out, err = cli.virsh(uri, "secret-define", "/dev/stdin", input=XML1.encode())
            self.assertEqual(rc, 0, err)
            rc, out, err = cli.virsh("secret+unix:///system?socket=" + ro_path, "secret-define", "/dev/stdin",
                                     input=XML1.encode())
            self.assertIn("read only access prevents virSecretDefineXML", err)
            self.assertFalse(os.path.exists(os.path.join(root, "run", "virtsecretd-sock")))
            os.kill(proc.pid, signal.SIGTERM)
            self.assertIn(b"STOPPING=1", notify.recv(4096))
            self.assertEqual(proc.wait(timeout=10), 0)
        finally:
            process.stop_process(proc)
            notify.close()
            shutil.rmtree(work, ignore_errors=True)


@unittest.skipUnless(is_root() and shutil.which("unshare"), "needs root and unshare for a private /run/libvirt")
class SystemInstanceTest(unittest.TestCase):
    def test_plain_system_uri_finds_the_daemon(self):
        """In a private mount namespace (tmpfs over /etc/libvirt and /run/libvirt), `vsecretd
        --system` serves `virsh -c secret:///system` and `vsecret -c secret:///system` as they are."""
        script = r'''
set -e
mount -t tmpfs tmpfs /etc/libvirt
mkdir -p /run/libvirt && mount -t tmpfs tmpfs /run/libvirt
"$VSECRETD" --system 2>/dev/null &
pid=$!
trap 'kill $pid; wait $pid' EXIT
for i in $(seq 100); do [ -S /run/libvirt/virtsecretd-sock-ro ] && break; sleep 0.05; done
printf '%s' "$XML" | virsh -c secret:///system secret-define /dev/stdin
virsh -r -c secret:///system secret-list
"$VSECRET" -c secret:///system secret-get-value 11111111-2222-3333-4444-555555555555 || true
ls /etc/libvirt/secrets
'''
        env = process.clean_env({"VSECRETD": paths.VSECRETD, "VSECRET": paths.VSECRET, "XML": XML1})
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True,
                           timeout=60, env=env)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn("Secret %s created" % U1, out)
        self.assertIn(" %s   ceph one" % U1, out)
        self.assertIn("%s.xml" % U1, out)
        self.assertIn("Secret not found: secret '%s' does not have a value" % U1, p.stderr.decode())

    @unittest.skipUnless(daemons.libvirtd_available(), "needs the stock libvirtd")
    def test_vsecret_finds_a_stock_libvirtd_on_the_legacy_socket(self):
        """With no virtsecretd-sock, `vsecret -c secret:///system` uses libvirt-sock (and -ro with
        -r), as libvirt's client does in its default "auto" mode."""
        work = tempfile.mkdtemp(prefix="vsecret-legacy-")
        drv = os.path.join(work, "drv")
        os.makedirs(drv)
        os.symlink(paths.SECRET_DRIVER, os.path.join(drv, os.path.basename(paths.SECRET_DRIVER)))
        conf = os.path.join(work, "libvirtd.conf")
        with open(conf, "w") as f:
            f.write('auth_unix_rw = "none"\nauth_unix_ro = "none"\n')
        script = r'''
set -e
mount -t tmpfs tmpfs /etc/libvirt
mount -t tmpfs tmpfs /run/libvirt
LIBVIRT_DRIVER_DIR="$DRV" /usr/sbin/libvirtd --config "$CONF" --pid-file "$WORK/pid" 2>/dev/null &
pid=$!
trap 'kill $pid; wait $pid' EXIT
for i in $(seq 200); do [ -S /run/libvirt/libvirt-sock-ro ] && break; sleep 0.05; done
printf '%s' "$XML" > "$WORK/one.xml"
"$VSECRET" -c secret:///system secret-define "$WORK/one.xml"
"$VSECRET" -r -c secret:///system secret-list
'''
        env = process.clean_env({"VSECRET": paths.VSECRET, "XML": XML1, "DRV": drv, "CONF": conf, "WORK": work})
        try:
            p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                               capture_output=True, timeout=60, env=env)
            self.assertEqual(p.returncode, 0, p.stderr.decode())
            self.assertIn("Secret %s created" % U1, p.stdout.decode())
            self.assertIn(" %s   ceph one" % U1, p.stdout.decode())
        finally:
            shutil.rmtree(work, ignore_errors=True)


@unittest.skipUnless(is_root(), "needs root to run a session as another user")
class SessionAutostartTest(unittest.TestCase):
    def test_vsecret_starts_the_session_daemon_on_demand(self):
        work = tempfile.mkdtemp(prefix="vsecretd-session-")
        nobody = pwd.getpwnam("nobody")
        os.chown(work, nobody.pw_uid, nobody.pw_gid)
        runtime = os.path.join(work, "run")
        env = process.clean_env({"HOME": work, "XDG_RUNTIME_DIR": runtime, "XDG_CONFIG_HOME": os.path.join(work, "cfg")})
        env.pop("LIBVIRT_AUTOSTART")
        os.makedirs(runtime, 0o700)
        os.chown(runtime, nobody.pw_uid, nobody.pw_gid)
        pidfile = os.path.join(runtime, "libvirt", "secrets", "run", "driver.pid")
        xml = os.path.join(work, "one.xml")
        with open(xml, "w") as f:
            f.write(XML1)
        try:
            p = subprocess.run(["runuser", "-u", "nobody", "--", paths.VSECRET, "-c", "secret:///session",
                                "secret-define", xml], capture_output=True, timeout=60, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"Secret %s created" % U1.encode(), p.stdout)
            self.assertTrue(os.path.exists(os.path.join(runtime, "libvirt", "virtsecretd-sock")))
            # The stock client finds the same per-user daemon, and the definition is the user's.
            p = subprocess.run(["runuser", "-u", "nobody", "--", paths.VIRSH, "-c", "secret:///session", "secret-list"],
                               capture_output=True, timeout=30, env=dict(env, LIBVIRT_AUTOSTART="0"))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(U1.encode(), p.stdout)
            self.assertTrue(os.path.exists(os.path.join(work, "cfg", "libvirt", "secrets", U1 + ".xml")))
        finally:
            if os.path.exists(pidfile):
                with open(pidfile) as f:
                    pid = int(f.read().strip() or "0")
                if pid > 0:
                    os.kill(pid, signal.SIGTERM)
                    for _ in range(100):
                        if not os.path.exists(pidfile):
                            break
                        time.sleep(0.05)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
