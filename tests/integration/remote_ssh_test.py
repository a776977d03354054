"""`vsecret` and stock virsh over secret+ssh:// to an sshd started by the test on 127.0.0.1.

Everything runs as root inside one private mount namespace (`unshare -m`), so nothing on the host
changes: a tmpfs over /run (holding /run/sshd for sshd's privilege separation and /run/libvirt for
the daemon's sockets) and a bind mount of a two-line wrapper over /usr/bin/virt-ssh-helper, which
makes the remote end `vsecret ssh-helper` (each run is noted in helper.log). In that namespace the test starts
  * `vsecretd --root DIR` with unix_sock_dir = "/run/libvirt", so the system sockets
    /run/libvirt/virtsecretd-sock(-ro) that a remote `virt-ssh-helper 'secret:///system'` looks
    for are the test daemon's, and
  * `/usr/sbin/sshd -D` on 127.0.0.1:PORT with a throw-away host key and a throw-away user key
    (AuthorizedKeysFile in the temporary directory, StrictModes no, UsePAM no).
The clients use the URI's ?command= to run ssh through a wrapper that ignores the user's ssh
configuration and keeps known hosts in the temporary directory (so ~/.ssh is never written);
the remote command itself is the one the client builds (spec section 5.4). Every process is
stopped by its PID, on failure too."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from vstest import cli, paths, process
from vstest.sockets import free_port, wait_port

SSHD = "/usr/sbin/sshd"
SSH = "/usr/bin/ssh"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
HELPER_PATH = "/usr/bin/virt-ssh-helper"
UUID = "2b7e4c18-9a3d-4f6e-b5c1-0a1b2c3d4e5f"
SECRET_XML = ("<secret ephemeral='no' private='no'><uuid>%s</uuid>"
              "<usage type='ceph'><name>ssh-test</name></usage></secret>" % UUID)


def available():
    return (os.geteuid() == 0 and all(os.path.exists(p) for p in (SSHD, SSH, SSH_KEYGEN, HELPER_PATH))
            and shutil.which("unshare") is not None)


@unittest.skipUnless(available(), "needs root, unshare, openssh-server/-client and %s" % HELPER_PATH)
class SshTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vsecret-ssh-")
        os.chmod(cls.tmp, 0o755)
        cls.proc = None
        cls.daemon_pid = None
        try:
            cls._start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls):
        t = cls.tmp
        keygen = lambda *a: subprocess.run([SSH_KEYGEN, "-q", "-N", ""] + list(a), check=True,  # noqa: E731
                                           capture_output=True, timeout=30)
        keygen("-t", "ed25519", "-f", os.path.join(t, "host_key"))
        keygen("-t", "ed25519", "-f", os.path.join(t, "user_key"), "-C", "vsecret-ssh-test")
        shutil.copy(os.path.join(t, "user_key.pub"), os.path.join(t, "authorized_keys"))
        cls.port = free_port()
        with open(os.path.join(t, "sshd_config"), "w") as f:
            f.write("ListenAddress 127.0.0.1:%d\nHostKey %s/host_key\nPidFile %s/sshd.pid\n"
                    "AuthorizedKeysFile %s/authorized_keys\nStrictModes no\nUsePAM no\n"
                    "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nX11Forwarding no\n"
                    "AllowTcpForwarding no\nPrintMotd no\nAcceptEnv none\nLogLevel VERBOSE\n" % (cls.port, t, t, t))
        with open(os.path.join(t, "vsecretd.conf"), "w") as f:
            f.write('unix_sock_dir = "/run/libvirt"\n')
        helper = os.path.join(t, "virt-ssh-helper")
        with open(helper, "w") as f:
            f.write('#!/bin/sh\necho "$@" >> %s/helper.log\nexec %s ssh-helper "$@"\n'
                    % (t, os.path.abspath(paths.VSECRET)))
        os.chmod(helper, 0o755)
        cls.ssh_wrapper = os.path.join(t, "ssh")
        with open(cls.ssh_wrapper, "w") as f:
            f.write('#!/bin/sh\nexec %s -F /dev/null -o UserKnownHostsFile=%s/known_hosts '
                    '-o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o ConnectTimeout=10 '
                    '-o LogLevel=ERROR "$@"\n' % (SSH, t))
        os.chmod(cls.ssh_wrapper, 0o755)
        script = ("mount -t tmpfs tmpfs /run || exit 1; mkdir -p /run/sshd /run/libvirt || exit 1; "
                  "mount --bind {t}/virt-ssh-helper {helper} || exit 1; "
                  "{vsecretd} --root {t}/root --config {t}/vsecretd.conf >{t}/vsecretd.log 2>&1 & "
                  "echo $! > {t}/vsecretd.pid; "
                  "i=0; while [ ! -S /run/libvirt/virtsecretd-sock ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
                  "exec {sshd} -D -e -f {t}/sshd_config").format(
                      t=t, helper=HELPER_PATH, vsecretd=os.path.abspath(paths.VSECRETD), sshd=SSHD)
        cls.log = open(os.path.join(t, "sshd.log"), "wb")
        cls.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                    stdout=cls.log, stderr=subprocess.STDOUT, env=process.clean_env())
        deadline = time.monotonic() + 10
        while cls.daemon_pid is None and time.monotonic() < deadline:
            try:
                with open(os.path.join(t, "vsecretd.pid")) as f:
                    cls.daemon_pid = int(f.read().strip() or 0) or None
            except (OSError, ValueError):
                time.sleep(0.02)
        wait_port(cls.port, cls.proc, timeout=20)

    @classmethod
    def tearDownClass(cls):
        if cls.proc is not None:
            process.stop_process(cls.proc)
        if cls.daemon_pid is not None:
            # vsecretd was started by the namespace's shell; stop it by its PID and wait for it.
            try:
                os.kill(cls.daemon_pid, 15)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    os.kill(cls.daemon_pid, 0)
                    if _is_zombie_or_gone(cls.daemon_pid):
                        break
                    time.sleep(0.05)
                else:
                    os.kill(cls.daemon_pid, 9)
            except ProcessLookupError:
                pass
        if getattr(cls, "log", None):
            cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def uri(self, extra=""):
        return ("secret+ssh://root@127.0.0.1:%d/system?keyfile=%s/user_key&no_verify=1&no_tty=1&command=%s%s"
                % (self.port, self.tmp, self.ssh_wrapper, extra))

    def diagnostics(self, err):
        logs = []
        for name in ("sshd.log", "vsecretd.log"):
            try:
                with open(os.path.join(self.tmp, name), errors="replace") as f:
                    logs.append("%s:\n%s" % (name, f.read()[-2000:]))
            except OSError:
                pass
        return err + "\n" + "\n".join(logs)

    def test_1_vsecret_define_set_get_list(self):
        rc, out, err = process.run([paths.VSECRET, "-c", self.uri(), "secret-list"])
        self.assertEqual(rc, 0, self.diagnostics(err))
        self.assertIn("UUID", out)
        with open(os.path.join(self.tmp, "helper.log")) as f:  # the remote end was `vsecret ssh-helper`
            self.assertIn("secret:///system", f.read())
        rc, out, err = process.run([paths.VSECRET, "-c", self.uri(), "secret-define", "/dev/stdin"], input=SECRET_XML.encode())
        self.assertEqual(rc, 0, self.diagnostics(err))
        self.assertIn(UUID, out)
        rc, _, err = process.run([paths.VSECRET, "-c", self.uri(), "secret-set-value", UUID, "--base64", "c3NoLXZhbHVl"])
        self.assertEqual(rc, 0, self.diagnostics(err))
        rc, out, err = process.run([paths.VSECRET, "-c", self.uri(), "secret-get-value", UUID])
        self.assertEqual((rc, out.strip()), (0, "c3NoLXZhbHVl"), self.diagnostics(err))
        rc, out, err = process.run([paths.VSECRET, "-c", self.uri(), "secret-list"])
        self.assertEqual(rc, 0, self.diagnostics(err))
        self.assertIn(UUID, out)

    def test_2_stock_virsh(self):
        uuid = "3c8f5d29-0b4e-4a7f-86d2-1b2c3d4e5f60"
        xml = SECRET_XML.replace(UUID, uuid).replace("ssh-test", "ssh-virsh")
        rc, out, err = cli.virsh(self.uri(), "secret-define", "/dev/stdin", input=xml.encode())
        self.assertEqual(rc, 0, self.diagnostics(err))
        self.assertIn(uuid, out)
        rc, _, err = cli.virsh(self.uri(), "secret-set-value", uuid, "--base64", "dmlyc2g=")
        self.assertEqual(rc, 0, self.diagnostics(err))
        rc, out, err = cli.virsh(self.uri(), "secret-get-value", uuid)
        self.assertEqual((rc, out.strip()), (0, "dmlyc2g="), self.diagnostics(err))
        rc, out, err = cli.virsh(self.uri(), "secret-list")
        self.assertEqual(rc, 0, self.diagnostics(err))
        self.assertIn("ceph ssh-virsh", out)

    def test_3_read_only_goes_to_the_read_only_socket(self):
        rc, out, err = cli.virsh(self.uri(), "secret-list", readonly=True)
        self.assertEqual(rc, 0, self.diagnostics(err))
        rc, out, err = cli.virsh(self.uri(), "secret-define", "/dev/stdin", readonly=True,
                                 input=SECRET_XML.replace("ssh-test", "ro").encode())
        self.assertEqual(rc, 1, out)
        self.assertIn("read only", err)

    def test_5_python_libvirt(self):
        uuid = "4d9e6e3a-1c5f-4b80-97e3-2c3d4e5f6a71"
        xml = SECRET_XML.replace(UUID, uuid).replace("ssh-test", "ssh-python")
        code = (
            "import sys, libvirt\n"
            "libvirt.registerErrorHandler(lambda ctx, err: None, None)\n"
            "c = libvirt.open(sys.argv[1])\n"
            "s = c.secretDefineXML(sys.argv[2])\n"
            "s.setValue(b'py-over-ssh')\n"
            "print(s.value().decode(), c.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH,"
            " 'ssh-python').UUIDString())\n")
        p = subprocess.run([paths.PYTHON, "-c", code, self.uri(), xml], capture_output=True, timeout=process.TIMEOUT,
                           env=process.clean_env())
        self.assertEqual(p.returncode, 0, self.diagnostics(p.stderr.decode()))
        self.assertEqual(p.stdout.decode().split(), ["py-over-ssh", uuid])

    def test_4_unknown_key_is_refused(self):
        other = os.path.join(self.tmp, "other_key")
        if not os.path.exists(other):
            subprocess.run([SSH_KEYGEN, "-q", "-N", "", "-t", "ed25519", "-f", other], check=True,
                           capture_output=True, timeout=30)
        uri = self.uri().replace("%s/user_key" % self.tmp, other)
        rc, out, err = process.run([paths.VSECRET, "-c", uri, "secret-list"])
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn(UUID, out)


def _is_zombie_or_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


if __name__ == "__main__":
    unittest.main()
