"""The manual pages against the programs they describe, so that the two cannot drift:

* every command `vsecret help` lists has a section of its own in vsecret(1), and every option
  `vsecret help CMD` shows appears in that section; every global option of `vsecret --help`
  appears in OPTIONS;
* every command and option of `vsecret-admin --help` appears in vsecret-admin(8), and every
  option of `vsecretd --help` in vsecretd(8);
* the pages build (rst2man halts on any docutils warning) and render with `man --warnings`
  without a warning.

The configuration keys are checked from the readers' own key lists by the C++ unit test
tests/unit/daemon/config_keys_documented_test.cc.
"""
import functools
import os
import re
import unittest

from vstest import process
from vstest.paths import BIN, SOURCE_DIR as SOURCE, VSECRET, VSECRETD

MAN_DIR = os.environ.get("VSECRET_MAN_DIR") or os.path.join(os.path.dirname(BIN), "man")
PAGES = {"vsecret": "1", "vsecretd": "8", "vsecret-admin": "8", "vsecretd.conf": "5",
         "secret.conf": "5"}


# The programs' --help and help texts, as str; process.clean_env() drops the caller's
# VSECRET_COMPAT (the default output is documented) and LC_ALL is set for UTF-8 text.
run = functools.partial(process.run, timeout=60, env={"LC_ALL": "C.UTF-8"})


def page_source(name):
    with open(os.path.join(SOURCE, "docs", "man", name + ".rst"), encoding="utf-8") as f:
        return f.read()


def sections(rst, underline):
    """Title -> body of every section whose title is underlined with `underline`."""
    out = {}
    lines = rst.split("\n")
    starts = [i for i in range(len(lines) - 1)
              if lines[i].strip() and re.fullmatch(re.escape(underline) + "{2,}", lines[i + 1])
              and len(lines[i + 1]) >= len(lines[i])]
    for n, i in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        out[lines[i].strip()] = "\n".join(lines[i + 2:end])
    return out


def leading_options(text):
    """The options a --help text describes: those at the start of its lines, before the
    description (two blanks or more)."""
    opts = set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("-"):
            opts.update(re.findall(r"(?<![\w-])--?[A-Za-z][A-Za-z-]*", re.split(r"\s{2,}", line)[0]))
    return opts


def literal(rst, word):
    """Whether rst names word as a literal: ``word``."""
    return ("``" + word + "``") in rst


class VsecretPage(unittest.TestCase):
    def setUp(self):
        self.rst = page_source("vsecret")
        self.commands = sections(self.rst, "-")

    def listed_commands(self):
        p = run([VSECRET, "help"])
        self.assertEqual(p.rc, 0, p.err)
        names = re.findall(r"^    (\S+)\s", p.out, re.M)
        self.assertGreater(len(names), 40)
        return names

    def test_every_command_has_a_section_with_its_options(self):
        missing = []
        for cmd in self.listed_commands():
            p = run([VSECRET, "help", cmd])
            self.assertEqual(p.rc, 0, p.err)
            # exit and quit share one section, "exit, quit".
            body = next((b for t, b in self.commands.items()
                         if cmd in [w.strip() for w in t.split(",")]), None)
            if body is None:
                missing.append("command " + cmd)
                continue
            if not literal(body, cmd):
                missing.append("synopsis of " + cmd)
            options_part = p.out.split("  OPTIONS\n", 1)
            opts = []
            if len(options_part) == 2:
                for line in options_part[1].splitlines():
                    opts += re.findall(r"--([a-z0-9-]+)", re.split(r"\s{2,}", line.strip())[0])
            for opt in opts:
                if not literal(body, "--" + opt):
                    missing.append("%s --%s" % (cmd, opt))
        self.assertEqual(missing, [], "missing from docs/man/vsecret.rst")

    def test_the_hidden_command_is_not_a_section(self):
        self.assertNotIn("complete", self.commands)
        self.assertNotIn("complete", self.listed_commands())

    def test_every_global_option(self):
        p = run([VSECRET, "--help"])
        self.assertEqual(p.rc, 0, p.err)
        usage = p.out.split("  commands (non interactive mode):")[0]
        opts = leading_options(usage)
        self.assertIn("--connect", opts)
        self.assertIn("-K", opts)
        body = sections(self.rst, "=")["OPTIONS"]
        missing = sorted(o for o in opts if not literal(body, o))
        self.assertEqual(missing, [], "global options missing from OPTIONS in vsecret.rst")
        env = sections(self.rst, "=")["ENVIRONMENT"]
        for var in re.findall(r"\b(VSECRET_[A-Z_]+)=", usage):
            self.assertIn(var, env)


class AdminPage(unittest.TestCase):
    def test_every_command_and_option(self):
        p = run([os.path.join(BIN, "vsecret-admin"), "--help"])
        self.assertEqual(p.rc, 0, p.err)
        text = p.out
        commands = re.findall(r"^  ([a-z]+)(?: |$)", text.split("\noptions:")[0], re.M)
        self.assertEqual(sorted(commands), ["export", "migrate", "rotate", "status", "verify"])
        opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))
        self.assertIn("--new-key", opts)
        rst = page_source("vsecret-admin")
        titled = sections(rst, "-")
        missing = [c for c in commands if c not in titled]
        missing += sorted(o for o in opts if not literal(rst, o))
        self.assertEqual(missing, [], "missing from docs/man/vsecret-admin.rst")


class DaemonPage(unittest.TestCase):
    def test_every_option(self):
        p = run([VSECRETD, "--help"])
        self.assertEqual(p.rc, 0, p.err)
        opts = leading_options(p.out.split("\nOptions:")[1])
        self.assertIn("--root", opts)
        self.assertIn("-V", opts)
        body = sections(page_source("vsecretd"), "=")["OPTIONS"]
        missing = sorted(o for o in opts if not literal(body, o))
        self.assertEqual(missing, [], "options missing from OPTIONS in docs/man/vsecretd.rst")


class Rendering(unittest.TestCase):
    def test_pages_are_built_and_render_without_warnings(self):
        for name, section in PAGES.items():
            path = os.path.join(MAN_DIR, "%s.%s" % (name, section))
            self.assertTrue(os.path.exists(path), path + " was not built")
            self.assertGreaterEqual(os.path.getmtime(path),
                                    os.path.getmtime(os.path.join(SOURCE, "docs", "man", name + ".rst")),
                                    path + " is older than its source")
            p = process.run(["man", "--warnings", "-l", path], timeout=60,
                            env={"MANWIDTH": "80", "LC_ALL": "C.UTF-8", "MAN_KEEP_FORMATTING": "0"})
            self.assertEqual(p.rc, 0, p.err)
            self.assertEqual(p.err, "", "%s: %s" % (path, p.err))
            header = p.out.splitlines()[0]
            self.assertIn("%s(%s)" % (name.upper(), section), header)

    def test_a_page_with_a_warning_fails_the_build_tool(self):
        # The build runs rst2man with --halt=warning: a broken page stops it rather than rendering.
        bad = "=====\nbad\n=====\n\n:Manual section: 1\n\nText with `unterminated\n"
        p = process.run(["rst2man", "--halt=warning"], input=bad, timeout=60)
        self.assertNotEqual(p.rc, 0)


if __name__ == "__main__":
    unittest.main()
