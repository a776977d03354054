"""The hypervisor chain: a stock libvirtd made to act as a per-driver daemon (virtqemud,
virtstoraged) by the LD_PRELOAD shim in tests/shim, reaching vsecretd --system on
/run/libvirt/virtsecretd-sock for LUKS passphrases, as libvirt's own drivers reach virtsecretd.

Two flavors run the same scenario:
  host   libvirt 9.0 of the host (libvirtd, its driver modules, virsh, QEMU, qemu-io);
  root   libvirt 12.x of the Debian testing root (tests/vstest/libvirt12.py): its libvirtd, driver
         modules, virsh, QEMU and qemu-io run chrooted, each in a mount namespace of its own,
         while vsecretd runs on the host. The root sees the host's (private) /run/libvirt,
         /etc/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt and the work
         directory at the same paths, so both daemons share the socket directory and the
         system token, and image paths mean the same on both sides.

One run (ChainRun.execute) is one private mount namespace with tmpfs over those five
directories, so the host's libvirt is never touched. Inside it vsecretd starts once, then three
libvirtd phases follow one another, each libvirtd started and stopped by its PID:
  qemu     only libvirt_driver_qemu.so, with the shim: guests whose disks are LUKS images
  mono     the same module without the shim (monolithic): the control, which must not delegate
  storage  only libvirt_driver_storage.so (+ the fs/dir backend), with the shim: vol-create of
           a LUKS volume, opened afterwards with qemu-io
Guests are TCG, started paused, and destroyed; whatever QEMU is left is killed by the PID file
libvirt wrote, and the namespace's process group is killed at the end.

The script prints sections "== NAME" (see sections()); each libvirtd phase logs to
WORKDIR/libvirtd-PHASE.log.
"""
import atexit
import os
import shlex
import shutil
import signal
import subprocess
import tempfile

from vstest import libvirt12, process
from vstest.paths import BIN, VSECRET, VSECRETD

SHIM = os.path.normpath(os.path.join(BIN, "..", "lib", "per_driver_shim.so"))

STATE_DIRS = ("/run/libvirt", "/etc/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt")
LIBDIR = "/usr/lib/x86_64-linux-gnu/libvirt"
QEMU_MODULE = LIBDIR + "/connection-driver/libvirt_driver_qemu.so"
STORAGE_MODULE = LIBDIR + "/connection-driver/libvirt_driver_storage.so"
# The dir pool backend lives in the fs backend module in both versions; 9.0 also has a separate
# storage-file module for local files (12.x has none: it is built in).
FS_BACKEND = LIBDIR + "/storage-backend/libvirt_storage_backend_fs.so"
FS_STORAGE_FILE = LIBDIR + "/storage-file/libvirt_storage_file_fs.so"
EMULATOR = "/usr/bin/qemu-system-x86_64"

PASSPHRASE = "correct horse battery"
OTHER_PASSPHRASE = "another passphrase"
PRIVATE_UUID = "aaaaaaaa-bbbb-cccc-dddd-000000000001"
PUBLIC_UUID = "aaaaaaaa-bbbb-cccc-dddd-000000000002"
WRONG_UUID = "aaaaaaaa-bbbb-cccc-dddd-000000000003"
MISSING_UUID = "aaaaaaaa-bbbb-cccc-dddd-000000000004"
VSECRET_VOL_UUID = "aaaaaaaa-bbbb-cccc-dddd-000000000005"
STORAGE_UUID = "aaaaaaaa-bbbb-cccc-dddd-000000000006"

# One whole run (a class) at most, in seconds: two classes and the images fit in ctest's 600.
RUN_TIMEOUT = 240


class Flavor:
    """Where one libvirt installation's tools are. root is None for the host's libvirt 9.0."""

    def __init__(self, name, root=None):
        self.name = name
        self.root = root

    def host_path(self, path):
        """Where a path of this installation is, seen from the host."""
        return path if self.root is None else self.root + path

    def prefix(self, share):
        """argv prefix running a tool of this installation (empty for the host)."""
        if self.root is None:
            return []
        return libvirt12.prefix(share=tuple(share))

    def version(self):
        """libvirt's version, e.g. '9.0.0'."""
        if self.root is None:
            return process.run(["virsh", "--version"]).out.strip()
        return libvirt12.version()

    def missing(self):
        """Paths the chain needs that this installation lacks."""
        need = [QEMU_MODULE, STORAGE_MODULE, FS_BACKEND, EMULATOR, "/usr/sbin/libvirtd", "/usr/bin/virsh",
                "/usr/bin/qemu-io"]
        return [p for p in need if not os.path.exists(self.host_path(p))]


def host_flavor():
    return Flavor("9.0")


def root_flavor():
    return Flavor("12.x", libvirt12.root())


def create_luks_image(path, passphrase_file, size="8M"):
    """A LUKS image made by the host's qemu-img. A short iter-time keeps unlocking quick; on a
    loaded machine qemu-img's PBKDF calibration can fail ("Unable to get accurate CPU usage"),
    so it is retried."""
    err = b""
    for _ in range(3):
        p = subprocess.run(["qemu-img", "create", "-q", "-f", "luks", "--object",
                            "secret,id=s0,file=" + passphrase_file, "-o", "key-secret=s0,iter-time=300",
                            path, size], capture_output=True, timeout=120)
        if p.returncode == 0:
            return
        err = p.stderr
    raise AssertionError("qemu-img create failed: " + err.decode(errors="replace"))


_image_cache = {}


def luks_image_copy(path, passphrase):
    """A LUKS image for passphrase at path: a copy of one made once per process (making one
    takes seconds of PBKDF on a loaded machine; the guests and both flavors can share its
    header, since each copy is a file of its own)."""
    if passphrase not in _image_cache:
        d = tempfile.mkdtemp(prefix="vsecret-luks-")
        atexit.register(shutil.rmtree, d, True)
        key = os.path.join(d, "key")
        with open(key, "w") as f:
            f.write(passphrase)
        create_luks_image(os.path.join(d, "image"), key)
        _image_cache[passphrase] = os.path.join(d, "image")
    shutil.copyfile(_image_cache[passphrase], path)


def secret_xml(uuid, private, volume):
    return ("<secret ephemeral='no' private='%s'><uuid>%s</uuid><usage type='volume'><volume>%s</volume>"
            "</usage></secret>" % ("yes" if private else "no", uuid, volume))


def domain_xml(name, image, uuid):
    return ("<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory>"
            "<os><type arch='x86_64' machine='pc'>hvm</type></os>"
            "<devices><emulator>%s</emulator>"
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            "<source file='%s'><encryption format='luks'><secret type='passphrase' uuid='%s'/>"
            "</encryption></source><target dev='vda' bus='virtio'/></disk></devices></domain>"
            % (name, EMULATOR, image, uuid))


def luks_volume_xml(name, uuid, capacity_mib=8):
    return ("<volume><name>%s</name><capacity unit='MiB'>%d</capacity><target><format type='raw'/>"
            "<encryption format='luks'><secret type='passphrase' uuid='%s'/></encryption></target></volume>"
            % (name, capacity_mib, uuid))


def sections(text):
    """Splits the run's output at its "== NAME" lines: {NAME: text up to the next one}."""
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            cur = line[3:]
            out[cur] = ""
        elif cur is not None:
            out[cur] += line + "\n"
    return out


# The namespace script: state directories, configuration, helpers, vsecretd, then steps.sh.
# Tools of the flavor run through $W/in.sh (the flavor's prefix, then the command).
NAMESPACE = r'''
set -e
W="$1"
for d in ''' + " ".join(STATE_DIRS) + r'''; do
  mkdir -p "$d"; mount -t tmpfs -o mode=0755 tmpfs "$d"
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
virsh() { sh "$W/in.sh" virsh "$@"; }
in_flavor() { sh "$W/in.sh" "$@"; }
vsecret() { "$VSECRET" "$@"; }

wait_socket() {  # path, pid: until the socket exists (at most 60 s) while pid lives
  i=0
  while [ ! -S "$1" ]; do
    kill -0 "$2" 2>/dev/null || { echo "daemon $2 exited before creating $1" >&2; return 1; }
    i=$((i + 1)); [ $i -lt 300 ] || { echo "$1 did not appear" >&2; return 1; }
    sleep 0.2
  done
}

stop_pid() {  # pid: SIGTERM, SIGKILL after 15 s; reaps it
  ( sleep 15; kill -9 "$1" 2>/dev/null ) &
  killer=$!
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  kill "$killer" 2>/dev/null || true
  wait "$killer" 2>/dev/null || true
}

# libvirtd_start PHASE DRIVER_DIR shim|noshim [ENV...]: one libvirtd, logging to libvirtd-PHASE.log
libvirtd_start() {
  phase="$1"; drv="$2"; shim="$3"; shift 3
  cat > /etc/libvirt/libvirtd.conf <<Q
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "1:file:$W/libvirtd-$phase.log"
log_filters = "1:remote 1:rpc.remote 1:driver 3:rpc 3:util 3:object 3:event"
Q
  rm -f /run/libvirt/libvirt-sock /run/libvirt/libvirt-sock-ro
  pre=""
  [ "$shim" = shim ] && pre="LD_PRELOAD=$SHIM"
  in_flavor env $pre LIBVIRT_DRIVER_DIR="$drv" "$@" /usr/sbin/libvirtd --pid-file "$W/libvirtd-$phase.pidfile" \
    > "$W/libvirtd-$phase.out" 2>&1 &
  LIBVIRTD_PID=$!
  echo "$LIBVIRTD_PID" >> "$W/pids"
  wait_socket /run/libvirt/libvirt-sock "$LIBVIRTD_PID"
}

libvirtd_stop() {
  for f in /run/libvirt/qemu/*.pid; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
  done
  stop_pid "$LIBVIRTD_PID"
}

[ -f "$W/pre.sh" ] && . "$W/pre.sh"
"$VSECRETD" --system > "$W/vsecretd.log" 2>&1 &
VSECRETD_PID=$!
echo "$VSECRETD_PID" >> "$W/pids"
wait_socket /run/libvirt/virtsecretd-sock "$VSECRETD_PID"
set +e
. "$W/steps.sh"
rc=$?
stop_pid "$VSECRETD_PID"
exit $rc
'''


class ChainRun:
    """One run of the whole chain for a flavor. After execute(): rc, out, parts (sections),
    logs and stderr {phase: libvirtd's log, its output}, vsecretd_log."""

    def __init__(self, flavor, prefix="vsecret-chain-"):
        self.flavor = flavor
        self.w = tempfile.mkdtemp(prefix=prefix)
        self.rc = None
        self.out = ""
        self.parts = {}
        self.logs = {}  # phase: libvirtd's log file
        self.stderr = {}  # phase: libvirtd's stdout and stderr (the shim reports there)
        self.vsecretd_log = ""

    def path(self, *names):
        return os.path.join(self.w, *names)

    def write(self, name, text, mode=0o644):
        with open(self.path(name), "w") as f:
            f.write(text)
        os.chmod(self.path(name), mode)

    def module_dir(self, name, *modules):
        """A directory holding only the given modules (symlinks to the flavor's own files; the
        links resolve inside the root for the 12.x flavor)."""
        d = self.path(name)
        os.makedirs(d)
        for m in modules:
            os.symlink(m, os.path.join(d, os.path.basename(m)))
        return d

    def prepare(self):
        missing = self.flavor.missing()
        for p in (VSECRETD, VSECRET, SHIM):
            if not os.path.exists(p):
                missing.append(p)
        if missing:
            raise AssertionError("libvirt %s chain: missing %s" % (self.flavor.name, ", ".join(missing)))
        w = self.w
        os.chmod(w, 0o755)
        self.write("pass.txt", PASSPHRASE, 0o600)
        self.write("other.txt", OTHER_PASSPHRASE, 0o600)
        for img, passphrase in (("private.img", PASSPHRASE), ("public.img", PASSPHRASE),
                                ("wrong.img", OTHER_PASSPHRASE), ("missing.img", PASSPHRASE)):
            luks_image_copy(self.path(img), passphrase)
        qemu_dir = self.module_dir("drv-qemu", QEMU_MODULE)
        storage_dir = self.module_dir("drv-storage", STORAGE_MODULE)
        backend_dir = self.module_dir("backend", FS_BACKEND)
        storage_env = ["LIBVIRT_STORAGE_BACKEND_DIR=" + backend_dir]
        if os.path.exists(self.flavor.host_path(FS_STORAGE_FILE)):
            storage_env.append("LIBVIRT_STORAGE_FILE_DIR=" + self.module_dir("storage-file", FS_STORAGE_FILE))
        share = (w, os.path.dirname(SHIM)) + STATE_DIRS
        self.write("in.sh", 'exec %s "$@"\n' % " ".join(shlex.quote(a) for a in self.flavor.prefix(share)))
        for name, (uuid, private, image) in {
                "s-private.xml": (PRIVATE_UUID, True, "private.img"),
                "s-public.xml": (PUBLIC_UUID, False, "public.img"),
                "s-wrong.xml": (WRONG_UUID, True, "wrong.img"),
                "s-storage.xml": (STORAGE_UUID, True, "pool/enc.img"),
                "s-vsecret.xml": (VSECRET_VOL_UUID, True, "vpool/vs.img")}.items():
            self.write(name, secret_xml(uuid, private, self.path(image)))
        for name, image, uuid in (("gp", "private.img", PRIVATE_UUID), ("gq", "public.img", PUBLIC_UUID),
                                  ("gw", "wrong.img", WRONG_UUID), ("gm", "missing.img", MISSING_UUID),
                                  ("gv", "vpool/vs.img", VSECRET_VOL_UUID)):
            self.write(name + ".xml", domain_xml(name, self.path(image), uuid))
        self.write("v-storage.xml", luks_volume_xml("enc.img", STORAGE_UUID))
        self.write("v-vsecret.xml", luks_volume_xml("vs.img", VSECRET_VOL_UUID))
        q = shlex.quote
        embed = q("secret:///embed?root=" + self.path("embed"))
        # Before vsecretd starts: vsecret's embedded driver, whose store is the system store
        # (bind-mounted), defines the secret and makes a LUKS volume in a dir pool.
        self.write("pre.sh", "\n".join([
            'mkdir -p -m 0700 /etc/libvirt/secrets "$W/embed/etc/secrets"',
            'mount --bind /etc/libvirt/secrets "$W/embed/etc/secrets"',
            'echo "== vsecret vol-create" >> "$W/pre.out"',
            "{",
            "vsecret -c %s secret-define %s" % (embed, q(self.path("s-vsecret.xml"))),
            "vsecret -c %s secret-set-value %s --file %s --plain" % (embed, VSECRET_VOL_UUID,
                                                                     q(self.path("pass.txt"))),
            "vsecret -c %s pool-define-as vpool dir --target %s" % (embed, q(self.path("vpool"))),
            "vsecret -c %s pool-build vpool" % embed,
            "vsecret -c %s pool-start vpool" % embed,
            # A fixed PBKDF2 count (vsecret's knob for fixtures): quick to make and to unlock
            # in the guest however loaded the machine is.
            "VSECRET_LUKS_ITERATIONS=20000 vsecret -c %s vol-create vpool %s" % (embed, q(self.path("v-vsecret.xml"))),
            '} >> "$W/pre.out" 2>&1 || true',
            'umount "$W/embed/etc/secrets"',
            ""]))
        steps = [
            'cd "$W"',
            "export LC_ALL=C",
            'cat "$W/pre.out"',
            'ls -l "$W/vpool"',
        ]
        # Every secret gets the right passphrase: wrong.img is locked with another one.
        for xml, uuid in (("s-private.xml", PRIVATE_UUID), ("s-public.xml", PUBLIC_UUID),
                          ("s-wrong.xml", WRONG_UUID), ("s-storage.xml", STORAGE_UUID)):
            steps += ['echo "== define %s"' % xml,
                      'virsh -c secret:///system secret-define "$W/%s" 2>&1' % xml,
                      'virsh -c secret:///system secret-set-value %s --file "$W/pass.txt" --plain 2>&1' % uuid]
        guests = ("gp", "gq", "gw", "gm", "gv")
        steps += ['echo "== phase qemu"', 'libvirtd_start qemu %s shim || exit 20' % q(qemu_dir),
                  'echo "== versions"',
                  "virsh -c qemu:///system version 2>&1",
                  "in_flavor qemu-system-x86_64 --version 2>&1 | head -1"]
        for g in guests:
            steps += ['virsh -c qemu:///system define "$W/%s.xml" >/dev/null 2>&1' % g,
                      'echo "== start %s"' % g,
                      "virsh -c qemu:///system start %s --paused 2>&1" % g,
                      'echo "== block %s"' % g,
                      "virsh -c qemu:///system qemu-monitor-command --hmp %s 'info block' 2>&1" % g,
                      'echo "== qemu version %s"' % g,
                      "virsh -c qemu:///system qemu-monitor-command --hmp %s 'info version' 2>&1" % g,
                      "virsh -c qemu:///system destroy %s >/dev/null 2>&1" % g]
        steps += ['echo "== private value over an ordinary connection"',
                  "virsh -c secret:///system secret-get-value %s 2>&1" % PRIVATE_UUID,
                  "libvirtd_stop",
                  'echo "== phase mono"',
                  'libvirtd_start mono %s noshim || exit 21' % q(qemu_dir),
                  'echo "== start mono"',
                  "virsh -c qemu:///system start gp --paused 2>&1",
                  'echo "== block mono"',
                  "virsh -c qemu:///system qemu-monitor-command --hmp gp 'info block' 2>&1",
                  "virsh -c qemu:///system destroy gp >/dev/null 2>&1",
                  "libvirtd_stop",
                  'echo "== phase storage"',
                  'mkdir -p "$W/pool"',
                  'libvirtd_start storage %s shim %s || exit 22' % (q(storage_dir), " ".join(q(e) for e in storage_env)),
                  'echo "== pool"',
                  'virsh -c storage:///system pool-create-as sp dir --target "$W/pool" 2>&1',
                  'echo "== vol-create"',
                  # libvirt runs qemu-img, whose PBKDF calibration can fail on a loaded machine
                  # ("Unable to get accurate CPU usage"): only that failure is retried.
                  'for i in 1 2 3; do',
                  '  o=$(virsh -c storage:///system vol-create sp "$W/v-storage.xml" 2>&1)',
                  '  echo "$o"',
                  '  case "$o" in *"Unable to get accurate CPU usage"*) ;; *) break ;; esac',
                  '  virsh -c storage:///system vol-delete enc.img --pool sp >/dev/null 2>&1',
                  'done',
                  'echo "== vol-dumpxml"',
                  'virsh -c storage:///system vol-dumpxml enc.img --pool sp 2>&1',
                  "libvirtd_stop"]
        io = "in_flavor qemu-io --object secret,id=s0,file=%s --image-opts " \
             "driver=luks,key-secret=s0,file.filename=%s -c 'read -v 0 512' 2>&1"
        steps += ['echo "== qemu-io right"', io % (q(self.path("pass.txt")), q(self.path("pool", "enc.img"))),
                  'echo "== qemu-io wrong"', io % (q(self.path("other.txt")), q(self.path("pool", "enc.img"))),
                  'echo "== end"',
                  "true"]
        self.write("steps.sh", "\n".join(steps) + "\n")

    def execute(self, timeout=RUN_TIMEOUT):
        self.prepare()
        env = process.clean_env({"VSECRETD": VSECRETD, "VSECRET": VSECRET, "SHIM": SHIM})
        proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", NAMESPACE, "sh", self.w],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_recorded()
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            out += b"\n== timeout\nthe run did not finish within %d s\n" % timeout
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # anything left in the session dies with it
            except ProcessLookupError:
                pass
        self.rc = proc.returncode
        self.out = out.decode(errors="replace")
        self.parts = sections(self.out)
        for phase in ("qemu", "mono", "storage"):
            self.logs[phase] = self._read("libvirtd-%s.log" % phase)
            self.stderr[phase] = self._read("libvirtd-%s.out" % phase)
        self.vsecretd_log = self._read("vsecretd.log")
        return self

    def _kill_recorded(self):
        """After a timeout: the daemons the namespace script started, by the PIDs it recorded,
        each only while that PID still runs libvirtd or vsecretd (a PID is not reused while
        the script, their parent, has not reaped it; the check covers a reaped one)."""
        try:
            with open(self.path("pids")) as f:
                pids = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return
        for pid in pids:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv0 = f.read().split(b"\0")[0]
                if os.path.basename(argv0) in (b"libvirtd", b"vsecretd"):
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass

    def _read(self, name):
        try:
            with open(self.path(name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        """Removes the work directory, unless VSECRET_KEEP_CHAIN is set (for a post-mortem)."""
        if os.environ.get("VSECRET_KEEP_CHAIN"):
            print("chain work directory kept:", self.w)
            return
        shutil.rmtree(self.w, ignore_errors=True)
        if self.flavor.root is not None:
            # The empty mount points libvirt12.prefix() made in the root for the work directory.
            for dirpath, _, _ in sorted(os.walk(self.flavor.root + self.w), key=lambda e: -len(e[0])):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
