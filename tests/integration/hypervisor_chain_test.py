"""The hypervisor's secret connection, end to end with libvirt 9.0's own QEMU driver: libvirtd
loading only libvirt_driver_qemu.so, made to act as the per-driver daemon (virtqemud) by the
LD_PRELOAD shim in tests/shim, fetches LUKS passphrases from vsecretd on
/run/libvirt/virtsecretd-sock and hands them to a TCG guest started paused.

Everything runs in one private mount namespace with tmpfs over /run/libvirt, /etc/libvirt,
/var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt, so the host's libvirt is untouched;
both daemons are stopped by PID, and the namespace's process group is killed at the end."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_harness as h  # noqa: E402

LIBVIRTD = "/usr/sbin/libvirtd"
QEMU_DRIVER = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"
SHIM = os.path.join(os.path.dirname(h.VSECRETD), "..", "lib", "per_driver_shim.so")
QEMU = shutil.which("qemu-system-x86_64")

PRIVATE_UUID = "aaaaaaaa-bbbb-cccc-dddd-000000000001"
PUBLIC_UUID = "aaaaaaaa-bbbb-cccc-dddd-000000000002"
WRONG_UUID = "aaaaaaaa-bbbb-cccc-dddd-000000000003"

NAMESPACE = r'''
set -e
W="$1"
for d in /run/libvirt /etc/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
  mkdir -p "$d"; mount -t tmpfs tmpfs "$d"
done
cat > /etc/libvirt/qemu.conf <<Q
user = "root"
group = "root"
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
dynamic_ownership = 0
remember_owner = 0
Q
cat > /etc/libvirt/libvirtd.conf <<Q
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "1:file:$W/libvirtd.log"
log_filters = "1:remote 1:rpc.remote 3:rpc 3:util 3:object 3:event"
Q
"$VSECRETD" --system > "$W/vsecretd.log" 2>&1 &
echo $! > "$W/vsecretd.pid"
LIBVIRT_DRIVER_DIR="$W/drv" LD_PRELOAD="$SHIM" "$LIBVIRTD" --pid-file "$W/libvirtd.pidfile" \
  > "$W/libvirtd.out" 2>&1 &
echo $! > "$W/libvirtd.pid"
i=0
while [ ! -S /run/libvirt/libvirt-sock ] || [ ! -S /run/libvirt/virtsecretd-sock ]; do
  i=$((i + 1)); [ $i -lt 600 ] || { echo "daemons did not start" >&2; exit 1; }
  sleep 0.2
done
set +e
sh "$W/steps.sh"
rc=$?
kill "$(cat "$W/libvirtd.pid")" "$(cat "$W/vsecretd.pid")" 2>/dev/null
wait
exit $rc
'''

STEPS = r'''
cd "{w}"
export LC_ALL=C
define() {{
  virsh -c secret:///system secret-define /dev/stdin <<X >/dev/null || exit 10
<secret ephemeral='no' private='$2'><uuid>$1</uuid><usage type='volume'><volume>$3</volume></usage></secret>
X
  virsh -c secret:///system secret-set-value "$1" --file pass.txt --plain >/dev/null || exit 11
}}
domain() {{
  cat > "$1.xml" <<X
<domain type='qemu'><name>$1</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><emulator>{qemu}</emulator>
<disk type='file' device='disk'><driver name='qemu' type='raw'/>
<source file='{w}/$2'><encryption format='luks'><secret type='passphrase' uuid='$3'/></encryption></source>
<target dev='vda' bus='virtio'/></disk></devices></domain>
X
  virsh -c qemu:///system define "$1.xml" >/dev/null || exit 12
}}
define {private} yes {w}/private.img
define {public} no {w}/public.img
define {wrong} yes {w}/wrong.img
domain gp private.img {private}
domain gq public.img {public}
domain gw wrong.img {wrong}
for g in gp gq gw; do
  echo "== start $g"
  virsh -c qemu:///system start "$g" --paused 2>&1
  echo "== block $g"
  virsh -c qemu:///system qemu-monitor-command --hmp "$g" 'info block' 2>&1
  virsh -c qemu:///system destroy "$g" >/dev/null 2>&1
done
echo "== private value over an ordinary connection"
virsh -c secret:///system secret-get-value {private} 2>&1
echo "== end"
'''


def sections(text):
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            cur = line[3:]
            out[cur] = ""
        elif cur is not None:
            out[cur] += line + "\n"
    return out


@unittest.skipUnless(os.geteuid() == 0, "needs root (mount namespaces, libvirtd)")
class QemuDriverChainTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for path in (LIBVIRTD, QEMU_DRIVER, SHIM, h.VSECRETD):
            if not os.path.exists(path):
                raise AssertionError("missing " + path)
        if QEMU is None:
            raise AssertionError("qemu-system-x86_64 is not installed")
        cls.w = tempfile.mkdtemp(prefix="vsecret-chain-")
        w = cls.w
        os.makedirs(os.path.join(w, "drv"))
        os.symlink(QEMU_DRIVER, os.path.join(w, "drv", os.path.basename(QEMU_DRIVER)))
        with open(os.path.join(w, "pass.txt"), "w") as f:
            f.write("correct horse battery")
        with open(os.path.join(w, "other.txt"), "w") as f:
            f.write("another passphrase")
        for img, key in (("private.img", "pass.txt"), ("public.img", "pass.txt"), ("wrong.img", "other.txt")):
            # A short iter-time keeps unlocking quick; on a loaded machine qemu-img's PBKDF
            # calibration can fail ("Unable to get accurate CPU usage"), so it is retried.
            for attempt in range(3):
                p = subprocess.run(["qemu-img", "create", "-q", "-f", "luks", "--object",
                                    "secret,id=s0,file=" + os.path.join(w, key), "-o",
                                    "key-secret=s0,iter-time=300", os.path.join(w, img), "8M"],
                                   capture_output=True, timeout=60)
                if p.returncode == 0:
                    break
            else:
                raise AssertionError("qemu-img create failed: " + p.stderr.decode(errors="replace"))
        with open(os.path.join(w, "steps.sh"), "w") as f:
            f.write(STEPS.format(w=w, qemu=QEMU, private=PRIVATE_UUID, public=PUBLIC_UUID, wrong=WRONG_UUID))
        env = h.clean_env({"VSECRETD": h.VSECRETD, "SHIM": os.path.abspath(SHIM), "LIBVIRTD": LIBVIRTD})
        proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", NAMESPACE, "sh", w],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # anything left (QEMU, a daemon) dies with it
            except ProcessLookupError:
                pass
        cls.rc = proc.returncode
        cls.out = out.decode(errors="replace")
        cls.parts = sections(cls.out)
        with open(os.path.join(w, "libvirtd.log"), errors="replace") as f:
            cls.libvirtd_log = f.read()
        with open(os.path.join(w, "vsecretd.log"), errors="replace") as f:
            cls.vsecretd_log = f.read()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.w, ignore_errors=True)

    def test_runs_as_per_driver_daemon(self):
        self.assertEqual(self.rc, 0, self.out)
        self.assertIn("mode=direct", self.libvirtd_log)
        self.assertIn("virtsecretd-sock", self.libvirtd_log)

    def test_private_secret_reaches_qemu(self):
        self.assertIn("Domain 'gp' started", self.parts.get("start gp", ""), self.out)
        self.assertIn("(luks, encrypted)", self.parts.get("block gp", ""), self.out)

    def test_public_secret_reaches_qemu(self):
        self.assertIn("Domain 'gq' started", self.parts.get("start gq", ""), self.out)
        self.assertIn("(luks, encrypted)", self.parts.get("block gq", ""), self.out)

    def test_other_passphrase_is_refused_by_qemu(self):
        self.assertIn("Invalid password, cannot unlock any keyslot", self.parts.get("start gw", ""), self.out)
        self.assertNotIn("(luks, encrypted)", self.parts.get("block gw", ""))

    def test_ordinary_client_still_refused(self):
        self.assertIn("secret is private", self.parts.get("private value over an ordinary connection", ""),
                      self.out)

    def test_nothing_leaks_to_logs(self):
        for log in (self.vsecretd_log, self.libvirtd_log):
            self.assertNotIn("correct horse battery", log)


if __name__ == "__main__":
    unittest.main()
