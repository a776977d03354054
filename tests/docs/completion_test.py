"""Shell completion: bash's completion functions from completion/*.bash driven as bash drives
them (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT), against an embedded store with known
secrets, a pool and volumes; and TAB in vsecret's interactive shell through a pseudo-terminal.
The fixed option lists of the vsecretd and vsecret-admin scripts are checked against --help."""
import os
import pty
import re
import select
import shutil
import signal
import tempfile
import time
import unittest

from vstest import process
from vstest.paths import BIN, SOURCE_DIR as SOURCE, VSECRET, VSECRETD

BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
UUID_A = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"
UUID_B = "1b81f5b2-8403-7b23-c8d6-21ccc2f80d6f"
VALUE = "correct horse battery staple"
WORDBREAKS = "\"'><=;|&(:"


def bash_words(line):
    """COMP_WORDS as bash builds them from line: blanks separate words and every run of
    COMP_WORDBREAKS characters is a word of its own. A trailing blank starts an empty word."""
    words = []
    for chunk in re.split(r"[ \t]+", line):
        words += [w for w in re.split("([" + re.escape(WORDBREAKS) + "]+)", chunk) if w != ""]
    if line == "" or line[-1] in " \t":
        words.append("")
    return words


def shell_quote(word):
    return "'" + word.replace("'", "'\\''") + "'"


class BashCompletion(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vsecret-completion-")
        cls.root = os.path.join(cls.tmp, "root")
        cls.uri = "secret:///embed?root=" + cls.root
        os.makedirs(cls.root)
        for uuid, usage in ((UUID_A, "<usage type='volume'><volume>/var/lib/a.img</volume></usage>"),
                            (UUID_B, "<usage type='ceph'><name>client.admin</name></usage>")):
            path = os.path.join(cls.tmp, uuid + ".xml")
            with open(path, "w") as f:
                f.write("<secret ephemeral='no' private='no'><uuid>%s</uuid>%s</secret>" % (uuid, usage))
            cls.vsecret("secret-define", path)
        pool_dir = os.path.join(cls.tmp, "pool")
        cls.vsecret("pool-define-as", "images", "dir", "--target", pool_dir)
        cls.vsecret("pool-build", "images")
        cls.vsecret("pool-start", "images")
        cls.vsecret("vol-create-as", "images", "disk1.img", "1M")
        cls.vsecret("vol-create-as", "images", "data.img", "1M")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def vsecret(cls, *args):
        p = process.run([VSECRET, "-c", cls.uri] + list(args), timeout=60)
        if p.rc != 0:
            raise AssertionError("vsecret %s: %s" % (" ".join(args), p.err))
        return p.out

    def complete(self, script, function, line, with_bash_completion=True):
        """COMPREPLY of function for line (the cursor at its end)."""
        words = bash_words(line) if with_bash_completion else line.split(" ")
        program = ["source %s" % shell_quote(BASH_COMPLETION)] if with_bash_completion else []
        program += [
            "source %s" % shell_quote(os.path.join(SOURCE, "completion", script)),
            "COMP_WORDS=(%s)" % " ".join(shell_quote(w) for w in words),
            "COMP_CWORD=%d" % (len(words) - 1),
            "COMP_LINE=%s" % shell_quote(line),
            "COMP_POINT=%d" % len(line),
            "%s %s" % (function, shell_quote(words[0])),
            'printf "%s\\n" "${COMPREPLY[@]}"',
        ]
        env = {"PATH": os.path.abspath(BIN) + ":" + os.environ.get("PATH", "/usr/bin:/bin")}
        p = process.run(["bash", "--norc", "--noprofile", "-c", "\n".join(program)], timeout=60, env=env)
        self.assertEqual(p.rc, 0, p.err)
        self.assertEqual(p.err, "")
        return [w for w in p.out.split("\n") if w != ""]

    def vs(self, rest, **kw):
        return self.complete("vsecret.bash", "_vsecret", "vsecret -c %s %s" % (self.uri, rest), **kw)

    def test_command_names(self):
        self.assertEqual(self.vs("secret-get-v"), ["secret-get-value"])
        self.assertEqual(sorted(self.vs("pool-d")), ["pool-define", "pool-define-as", "pool-destroy",
                                                     "pool-dumpxml"])
        self.assertNotIn("complete", self.vs(""))

    def test_options(self):
        self.assertEqual(sorted(self.vs("secret-get-value ")), ["--plain", "--secret"])
        self.assertEqual(self.vs("secret-get-value --plain --"), ["--secret"])
        self.assertEqual(self.vs("vol-list images "), ["--details"])

    def test_secret_uuids_from_the_connection(self):
        self.assertEqual(sorted(self.vs("secret-get-value --secret ")), [UUID_A, UUID_B])
        self.assertEqual(self.vs("secret-undefine 1"), [UUID_B])
        self.assertEqual(sorted(self.vs("vol-create-as images new.img 1M --secret ")),
                         ["/var/lib/a.img", UUID_A, UUID_B])

    def test_pool_and_volume_names(self):
        self.assertEqual(self.vs("vol-list i"), ["images"])
        self.assertEqual(sorted(self.vs("vol-info --pool images ")), ["--bytes", "--physical", "--vol"])
        self.assertEqual(sorted(self.vs("vol-info --pool images d")), ["data.img", "disk1.img"])
        self.assertEqual(self.vs("vol-wipe --pool images --vol di"), ["disk1.img"])

    def test_read_only_and_connect_forms(self):
        line = "vsecret -r --connect %s secret-dumpxml 0" % self.uri
        self.assertEqual(self.complete("vsecret.bash", "_vsecret", line), [UUID_A])

    def test_global_options_before_the_command(self):
        self.assertEqual(sorted(self.complete("vsecret.bash", "_vsecret", "vsecret --re")), ["--readonly"])

    def test_without_bash_completion_loaded(self):
        # The script falls back to COMP_WORDS as they are when _get_comp_words_by_ref is missing.
        self.assertEqual(self.vs("secret-get-value 0", with_bash_completion=False), [UUID_A])

    def test_wrong_connection_offers_no_values(self):
        line = "vsecret -c secret+unix:///system?socket=%s/no-such-sock secret-get-value 0" % self.tmp
        self.assertEqual(self.complete("vsecret.bash", "_vsecret", line), [])

    def test_vsecretd_options_match_its_help(self):
        helptext = process.run([VSECRETD, "--help"], timeout=60).out
        documented = set(re.findall(r"^  (?:(-\w) \| )?(--[a-z-]+)", helptext, re.M))
        expected = sorted({o for pair in documented for o in pair if o})
        self.assertEqual(sorted(self.complete("vsecretd.bash", "_vsecretd", "vsecretd -")), expected)
        self.assertEqual(self.complete("vsecretd.bash", "_vsecretd", "vsecretd --ro"), ["--root"])

    def test_vsecret_admin_commands_and_options(self):
        helptext = process.run([os.path.join(BIN, "vsecret-admin"), "--help"], timeout=60).out
        commands = re.findall(r"^  ([a-z]+)(?: |$)", helptext.split("\noptions:")[0], re.M)
        admin = lambda line: sorted(self.complete("vsecret-admin.bash", "_vsecret_admin", line))
        self.assertEqual(admin("vsecret-admin "), sorted(commands))
        self.assertEqual(admin("vsecret-admin --system mi"), ["migrate"])
        self.assertEqual(admin("vsecret-admin migrate --format "), ["aes256cbc", "vsenc"])
        self.assertEqual(admin("vsecret-admin export --format "), ["aes256cbc", "base64"])
        self.assertIn("--new-key", admin("vsecret-admin rotate --"))
        globals_ = set(re.findall(r"^  (--[a-z-]+)", helptext.split("\noptions:")[1], re.M))
        self.assertTrue(globals_ <= set(admin("vsecret-admin --")), globals_)


class InteractiveTab(unittest.TestCase):
    """TAB in `vsecret`'s shell (GNU readline) on a pseudo-terminal."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vsecret-tab-")
        self.uri = "secret:///embed?root=" + os.path.join(self.tmp, "root")
        xml = os.path.join(self.tmp, "s.xml")
        with open(xml, "w") as f:
            f.write("<secret ephemeral='no' private='no'><uuid>%s</uuid></secret>" % UUID_A)
        value = os.path.join(self.tmp, "value")
        with open(value, "w") as f:
            f.write(VALUE)
        for args in (["secret-define", xml], ["secret-set-value", UUID_A, "--file", value, "--plain"]):
            p = process.run([VSECRET, "-c", self.uri] + args, timeout=60)
            self.assertEqual(p.rc, 0, p.err)
        self.pid = None

    def tearDown(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def read_until(self, fd, pattern, timeout=20):
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
                if re.search(pattern, out):
                    return out
        self.fail("no %r in the terminal output: %r" % (pattern, out))

    def test_tab_completes_command_and_secret_uuid(self):
        pid, fd = pty.fork()
        if pid == 0:
            env = process.clean_env({"TERM": "dumb", "INPUTRC": "/dev/null", "HOME": self.tmp})
            os.execve(VSECRET, ["vsecret", "-c", self.uri], env)
        self.pid = pid
        self.read_until(fd, rb"vsecret # ")
        os.write(fd, b"secret-get-v\t")
        self.read_until(fd, rb"secret-get-value ")
        os.write(fd, b"0a\t")
        self.read_until(fd, re.escape(UUID_A.encode()) + rb" ")
        os.write(fd, b"--pl\t")
        self.read_until(fd, rb"--plain ")
        os.write(fd, b"\n")
        self.read_until(fd, re.escape(VALUE.encode()))
        os.write(fd, b"quit\n")
        self.read_until(fd, rb"quit")
        _, status = os.waitpid(pid, 0)
        self.pid = None
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)


if __name__ == "__main__":
    unittest.main()
