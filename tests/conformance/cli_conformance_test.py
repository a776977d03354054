#!/usr/bin/env python3
"""Conformance: the same command sequences through a reference `virsh` (root A) and `vsecret`
(root B). stdout, stderr, exit codes and the files on disk must match after normalising root
paths, random UUIDs and log-line timestamps.

Every scenario runs twice: against libvirt 12.x's virsh (the default expectation; vsecret as it
is) and against the host's libvirt 9.0 virsh (vsecret with VSECRET_COMPAT=9.0).

libvirt 9.0's embedded driver crashes on secret-undefine and on defining an ephemeral secret;
12.x's does not, so those operations are compared with 12.x only (SCENARIOS_12) and checked
against the specification in cli_spec_test.py for both.
"""
import os
import sys
import unittest

from vstest import cli, paths

U1 = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"
U2 = "6dac920f-4046-4dd6-8a47-a35db53cc035"
U3 = "11111111-2222-3333-4444-555555555555"
U4 = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


def sx(uuid=None, usage="", priv="no", eph="no", desc=None, extra=""):
    parts = ["<secret ephemeral='%s' private='%s'>" % (eph, priv)]
    if uuid:
        parts.append("<uuid>%s</uuid>" % uuid)
    if desc is not None:
        parts.append("<description>%s</description>" % desc)
    parts.append(usage + extra + "</secret>")
    return "".join(parts)


def canon(uuid, usage_type=None, usage_child=None, usage_id=None, priv="no", eph="no", desc=None):
    s = "<secret ephemeral='%s' private='%s'>\n  <uuid>%s</uuid>\n" % (eph, priv, uuid)
    if desc is not None:
        s += "  <description>%s</description>\n" % desc
    if usage_type:
        s += "  <usage type='%s'>\n    <%s>%s</%s>\n  </usage>\n" % (usage_type, usage_child, usage_id, usage_child)
    return s + "</secret>\n"


def ceph(n):
    return "<usage type='ceph'><name>%s</name></usage>" % n


def iscsi(t):
    return "<usage type='iscsi'><target>%s</target></usage>" % t


def vol(p):
    return "<usage type='volume'><volume>%s</volume></usage>" % p


def tls(n):
    return "<usage type='tls'><name>%s</name></usage>" % n


def vtpm(n):
    return "<usage type='vtpm'><name>%s</name></usage>" % n


# name -> (input files, seeded config-dir files, commands). "{F}" is the input-file directory.
SCENARIOS = {
    "define_all_usage_types": ({
        "v.xml": sx(U1, vol("/var/lib/libvirt/images/a.img"), desc="LUKS a"),
        "c.xml": sx(U2, ceph("client.admin secret"), priv="yes", desc="a &amp; b &lt;c&gt; \"q\" 'a'"),
        "i.xml": sx(U3, iscsi("iqn.2026-01.org:t"), desc="  spaced\ttab  "),
        "t.xml": sx(U4, tls("mumblyfratz")),
    }, {}, ["secret-define {F}/v.xml", "secret-define {F}/c.xml", "secret-define {F}/i.xml",
            "secret-define {F}/t.xml", "secret-list", "secret-dumpxml %s" % U1, "secret-dumpxml %s" % U2,
            "secret-dumpxml %s" % U3, "secret-dumpxml %s" % U4, "secret-list --private",
            "secret-list --no-private", "secret-list --ephemeral", "secret-list --no-ephemeral",
            "secret-list --private --no-private", "secret-list --no-ephemeral --private"]),
    "define_vtpm_and_none": ({
        "vt.xml": sx(U1, vtpm("vTPMvTPM")),
        "none.xml": sx(U2, "<usage type='none'/>"),
    }, {}, ["secret-define {F}/vt.xml", "secret-define {F}/none.xml", "secret-dumpxml %s" % U2, "secret-list"]),
    # A generated UUID sorts anywhere among fixed ones, so each of these lists only itself.
    "generated_uuid": ({"bare.xml": "<secret/>"}, {}, ["secret-define {F}/bare.xml", "secret-list"]),
    "empty_uuid_element": ({"e.xml": "<secret><uuid></uuid><description></description></secret>"}, {},
                           ["secret-define {F}/e.xml", "secret-list", "secret-list --no-private"]),
    "lenient_parsing": ({
        "dups.xml": ("<secret foo='bar' private=''><uuid>%s</uuid><uuid>%s</uuid><bogus/>"
                     "<description>a <b>b</b> c<!-- x --><![CDATA[ <d> ]]></description><description>2</description>"
                     "<usage type='iscsi'><name>n</name><target>t1</target><target>t2</target></usage>"
                     "<usage type='ceph'><name>z</name></usage></secret>") % (U1, U2),
        "upper.xml": sx(U2.upper(), ceph("x")),
        "dashless.xml": sx("  -" + U3.replace("-", "") + "  \n", ceph("y")),
        "spaces.xml": sx("aaaaaaaa bbbb 4ccc 8ddd-ee-ee-ee-ee-ee-ee", ceph("w")),
        "nonascii.xml": sx("12345678-1234-4234-8234-123456789abc", ceph("ünïcødé €"), desc="tab\there\nnewline"),
    }, {}, ["secret-define {F}/dups.xml", "secret-dumpxml %s" % U1, "secret-define {F}/upper.xml",
            "secret-dumpxml %s" % U2.upper(), "secret-define {F}/dashless.xml", "secret-dumpxml %s" % U3,
            "secret-define {F}/spaces.xml", "secret-dumpxml %s" % U4,
            "secret-define {F}/nonascii.xml", "secret-dumpxml 12345678-1234-4234-8234-123456789abc",
            "secret-list"]),
    "namespaced_root_gets_random_uuid": ({
        "ns.xml": "<secret xmlns='urn:x'><uuid>%s</uuid></secret>" % U1,
    }, {}, ["secret-define {F}/ns.xml", "secret-list"]),
    "parse_errors": ({
        "malformed.xml": "<secret>\n  <uuid>%s</uuid>\n  <description>oops</descr>\n</secret>\n" % U1,
        "empty.xml": "",
        "root.xml": "<secrets/>",
        "eph.xml": "<secret ephemeral='maybe'/>",
        "priv.xml": "<secret private='YES'/>",
        "uuid31.xml": sx("f52a81b2-424e-490c-823d-6bd4235bc57"),
        "uuid33.xml": sx(U1 + "0"),
        "uuidtrail.xml": sx(U1 + "-"),
        "uuidhex.xml": sx(U1[:-1] + "g"),
        "notype.xml": "<secret><usage><name>x</name></usage></secret>",
        "emptytype.xml": "<secret><usage type=''><name>x</name></usage></secret>",
        "badtype.xml": "<secret><usage type='Volume'><volume>/x</volume></usage></secret>",
        "passphrase.xml": "<secret><usage type='passphrase'><name>x</name></usage></secret>",
        "novol.xml": "<secret><usage type='volume'><volume></volume></usage></secret>",
        "noceph.xml": "<secret><usage type='ceph'/></secret>",
        "noiscsi.xml": "<secret><usage type='iscsi'><name>x</name></usage></secret>",
        "notls.xml": "<secret><usage type='tls'><name/></usage></secret>",
        "novtpm.xml": "<secret><usage type='vtpm'></usage></secret>",
        "notxml.xml": "hello world",
        "unclosed.xml": "<secret><uuid>%s</uuid>" % U1,
    }, {}, ["secret-define {F}/%s" % n for n in (
        "malformed.xml", "empty.xml", "root.xml", "eph.xml", "priv.xml", "uuid31.xml", "uuid33.xml",
        "uuidtrail.xml", "uuidhex.xml", "notype.xml", "emptytype.xml", "badtype.xml", "passphrase.xml",
        "novol.xml", "noceph.xml", "noiscsi.xml", "notls.xml", "novtpm.xml", "notxml.xml", "unclosed.xml",
        "missing.xml")] + ["secret-define", "secret-list"]),
    "validate_flag": ({
        "good.xml": sx(U1, vol("/var/lib/x.img")),
        "extra.xml": sx(U2, ceph("a"), extra="<bogus/>"),
        "attr.xml": "<secret foo='bar'><uuid>%s</uuid></secret>" % U3,
        "rel.xml": sx(U3, vol("relative/path")),
        "dashed.xml": sx("0a81-f5b2-8403-7b23-c8d6-21cc-c2f8-0d6f"),
        "none.xml": sx(U4, "<usage type='none'/>"),
        "slash.xml": sx(U4, ceph("a/b")),
    }, {}, ["secret-define --validate {F}/%s" % n for n in (
        "good.xml", "extra.xml", "attr.xml", "rel.xml", "dashed.xml", "none.xml", "slash.xml")]
        + ["secret-define {F}/extra.xml", "secret-list"]),
    "usage_uniqueness_and_redefine": ({
        "a.xml": sx(U1, ceph("shared")),
        "b.xml": sx(U2, ceph("shared")),
        "b_iscsi.xml": sx(U2, iscsi("shared")),
        "c_case.xml": sx(U3, ceph("Shared")),
        "a_other.xml": sx(U1, ceph("other")),
        "a_nousage.xml": sx(U1),
        "a_priv.xml": sx(U1, ceph("shared"), priv="yes", desc="now private"),
        "a_unpriv.xml": sx(U1, ceph("shared"), priv="no"),
        "d_none.xml": sx(U4),
        "d_add.xml": sx(U4, tls("x")),
    }, {}, ["secret-define {F}/a.xml", "secret-set-value %s --base64 c2VjcmV0" % U1, "secret-define {F}/b.xml",
            "secret-define {F}/b_iscsi.xml", "secret-define {F}/c_case.xml", "secret-define {F}/a_other.xml",
            "secret-define {F}/a_nousage.xml", "secret-define {F}/a.xml", "secret-define {F}/a_priv.xml",
            "secret-define {F}/a_unpriv.xml", "secret-define {F}/d_none.xml", "secret-define {F}/d_add.xml",
            "secret-dumpxml %s" % U1, "secret-list"]),
    "values": ({
        "s.xml": sx(U1, ceph("v")),
        "p.xml": sx(U2, ceph("p"), priv="yes"),
        "n.xml": sx(U3),
        "val.b64": "b3BlbiBzZXNhbWU=\n",
        "garbage.b64": "b3Bl\nbiBz!!ZXNh bWU=",
        "plain.txt": "plain text\n",
        "binary.bin": bytes(range(256)),
        "big.txt": "x" * 1025,
        "exact.txt": "y" * 1024,
        "empty.txt": "",
    }, {}, ["secret-define {F}/s.xml", "secret-define {F}/p.xml", "secret-define {F}/n.xml",
            "secret-get-value %s" % U1,
            "secret-set-value %s --file {F}/val.b64" % U1, "secret-get-value %s" % U1,
            "secret-get-value --plain %s" % U1,
            "secret-set-value %s --file {F}/garbage.b64" % U1, "secret-get-value %s" % U1,
            "secret-set-value %s --file {F}/plain.txt --plain" % U1, "secret-get-value %s" % U1,
            "secret-set-value %s --file {F}/binary.bin --plain" % U1, "secret-get-value %s" % U1,
            "secret-set-value %s --file {F}/big.txt --plain" % U1,
            "secret-set-value %s --file {F}/exact.txt --plain" % U1, "secret-get-value %s" % U1,
            "secret-set-value %s --file {F}/nope.txt" % U1,
            "secret-set-value %s --base64 aGVsbG8=" % U1, "secret-get-value --plain %s" % U1,
            "secret-set-value %s aGk=" % U1, "secret-get-value %s" % U1,
            "secret-set-value %s --base64 ''" % U1,
            "secret-set-value %s" % U1,
            "secret-set-value %s --file {F}/plain.txt --base64 aGk=" % U1,
            "secret-set-value %s --plain --base64 aGk=" % U1,
            "secret-set-value %s --interactive --base64 aGk=" % U1,
            "secret-set-value %s --interactive --plain" % U1,
            "secret-set-value %s --interactive --file {F}/plain.txt" % U1,
            # Private get-value is in cli_spec_test.py: libvirt 9.0's embedded mode fails it with
            # "No current identity" instead of "secret is private".
            "secret-set-value %s --base64 cHJpdg==" % U2,
            "secret-get-value %s" % U3,
            "secret-set-value %s --base64 aGk=" % U4, "secret-get-value %s" % U4,
            "secret-get-value not-a-uuid", "secret-set-value not-a-uuid aGk=",
            "secret-get-value", "secret-get-value %s extra" % U1]),
    "lookups_and_dumpxml": ({
        "s.xml": sx(U1, vol("/img/a b.img"), desc="d"),
    }, {}, ["secret-define {F}/s.xml", "secret-dumpxml %s" % U1, "secret-dumpxml ' %s '" % U1.upper(),
            "secret-dumpxml %s" % U2, "secret-dumpxml garbage", "secret-dumpxml",
            "secret-dumpxml %s --xpath '//uuid/text()' --wrap" % U1,
            "secret-dumpxml %s --xpath '//uuid'" % U1,
            "secret-dumpxml %s --xpath '/secret/@private'" % U1,
            "secret-dumpxml %s --xpath '//nothing'" % U1,
            "secret-dumpxml %s --xpath '//nothing' --wrap" % U1,
            "secret-dumpxml %s --xpath '//usage | //uuid' --wrap" % U1,
            "secret-dumpxml --secret %s --xpath=//description" % U1,
            "secret-dumpxml %s --wrap" % U1]),
    "list_layout": ({}, {
        # Seeded straight into the config dir: covers on-disk ephemeral, sorting and escaping.
        "ffffffff-0000-4000-8000-000000000001.xml": canon("ffffffff-0000-4000-8000-000000000001", "ceph", "name", "z"),
        "00000000-0000-4000-8000-000000000002.xml": canon("00000000-0000-4000-8000-000000000002", "volume", "volume",
                                                          "/a/very/long/path/to/a/volume/image.qcow2"),
        "abcdef00-0000-4000-8000-000000000003.xml": canon("abcdef00-0000-4000-8000-000000000003", eph="yes"),
        "abcdef00-0000-4000-8000-000000000004.xml": canon("abcdef00-0000-4000-8000-000000000004", "tls", "name",
                                                          "ctl\x01char", priv="yes"),
        "12345678-0000-4000-8000-000000000005.xml": canon("12345678-0000-4000-8000-000000000005", "iscsi", "target",
                                                          "ünïcødé"),
        "12345678-0000-4000-8000-000000000005.base64": "b3BlbiBzZXNhbWU=",
    }, ["secret-list", "secret-list --ephemeral", "secret-list --no-ephemeral --no-private",
        "secret-list --private", "secret-list --bogus", "secret-list extra",
        "secret-get-value 12345678-0000-4000-8000-000000000005"]),
    # libvirt 9.0 logs a stale earlier error instead of a broken file's own parse error when
    # both kinds occur in one load (vsecret logs the right one), so they are kept apart here.
    "load_broken_xml": ({}, {
        "%s.xml" % U1: canon(U1, "ceph", "name", "ok"),
        "%s.base64" % U1: "b2s=",
        "%s.xml" % U2: "garbage",
    }, ["secret-list"]),
    "load_invalid_definition": ({}, {
        "%s.xml" % U1: canon(U1, "ceph", "name", "ok"),
        "%s.xml" % U3: "<secret><uuid>%s</uuid><usage type='ceph'/></secret>" % U3,
    }, ["secret-list"]),
    "load_errors": ({}, {
        "%s.xml" % U1: canon(U1, "ceph", "name", "ok"),
        "%s.base64" % U1: "b2s=",
        "not-a-uuid.xml": canon(U3),
        "%s.xml" % U4: canon(U4, "ceph", "name", "ok2"),
        "%s.base64" % U4: "",
        "%s.xml.new" % U3: canon(U3),
        "%s.base64" % U3: "b3JwaGFu",
    }, ["secret-list", "secret-get-value %s" % U1]),
    "readonly": ({
        "s.xml": sx(U1, ceph("ro")),
        "t.xml": sx(U2),
    }, {}, ["secret-define {F}/s.xml", "secret-set-value %s aGk=" % U1,
            ("-r", "secret-define", "{F}/t.xml"), ("-r", "secret-set-value", U1, "aGk="),
            ("-r", "secret-get-value", U1), ("-r", "secret-list"), ("-r", "secret-dumpxml", U1),
            ("-r", "secret-undefine", U1)]),
    "quiet_and_multiple_commands": ({
        "s.xml": sx(U1, ceph("q")),
    }, {}, [("-q", "secret-define", "{F}/s.xml"), ("-q", "secret-list"),
            ("-q", "secret-set-value", U1, "--base64", "aGk="), ("-q", "secret-get-value", U1),
            ("secret-list; secret-get-value %s; secret-dumpxml %s" % (U1, U1),),
            ("-q", "secret-list ; secret-list --private ;secret-get-value --plain %s" % U1),
            ("secret-get-value %s; secret-list" % U2,),
            ("secret-list", ";", "secret-list"),
            ("bogus-command",), ("secret-list --no-such",), ("secret-define",),
            ("-q", "secret-event", "--list")]),
    "event_cli_errors": ({}, {}, ["secret-event", "secret-event --event nope", "secret-event --list",
                                  "secret-event --event lifecycle --timeout 0",
                                  "secret-event --event lifecycle --timeout abc",
                                  "secret-event --event lifecycle --timeout 1",
                                  "secret-event --event value-changed --timeout 1 --loop"]),
}


LATIN1 = ("<?xml version='1.0' encoding='ISO-8859-1'?>\n<secret><uuid>%s</uuid><description>caf\xe9</description>"
          "<usage type='ceph'><name>n\xe9</name></usage></secret>\n" % U1).encode("latin-1")

# Scenarios only libvirt 12.x can run (9.0's embedded driver crashes on them), and inputs whose
# handling differs between 9.0 and 12.x in ways 12.x defines (encoding declarations).
SCENARIOS_12 = {
    "undefine": ({
        "a.xml": sx(U1, ceph("c")),
        "b.xml": sx(U2, ceph("c")),
    }, {}, ["secret-define {F}/a.xml", "secret-set-value %s --base64 aGk=" % U1, "secret-list",
            ("secret-undefine", " " + U1.upper().replace("-", "") + " "), "secret-undefine %s" % U1,
            "secret-define {F}/b.xml", ("-q", "secret-undefine", U2), "secret-undefine", "secret-undefine nope",
            ("-r", "secret-undefine", U1), "secret-list"]),
    "ephemeral_lifecycle": ({
        "e.xml": sx(U1, vol("/e.img"), eph="yes"),
        "ep.xml": sx(U2, eph="yes", priv="yes"),
    }, {}, [("secret-define {F}/e.xml; secret-set-value %s aGk=; secret-list --ephemeral; secret-list --no-ephemeral; "
             "secret-get-value %s; secret-dumpxml %s; secret-undefine %s; secret-list --ephemeral" % (U1, U1, U1, U1),),
            ("secret-define {F}/ep.xml; secret-list --ephemeral --private; secret-undefine %s" % U2,),
            "secret-define {F}/e.xml", "secret-list"]),
    "encoding_declarations": ({
        "latin1.xml": LATIN1,
        "utf8decl.xml": "<?xml version='1.0' encoding='UTF-8'?><secret><uuid>%s</uuid></secret>" % U2,
        "bogus.xml": "<?xml version='1.0' encoding='bogus'?><secret/>",
        "badutf8.xml": b"<secret><description>\xff\xfe</description></secret>",
        "mislabelled.xml": b"<?xml version='1.0' encoding='UTF-8'?>\n<secret><description>caf\xe9</description></secret>",
    }, {}, ["secret-define {F}/latin1.xml", "secret-dumpxml %s" % U1, "secret-list",
            "secret-define {F}/utf8decl.xml", "secret-define {F}/bogus.xml", "secret-define {F}/badutf8.xml",
            "secret-define {F}/mislabelled.xml"]),
    "syntax_error_context": ({
        "empty.xml": "", "newlines.xml": "\n\n", "spaces.xml": "   ", "blank.xml": "   \n\n",
        "open.xml": "<secret>\n\n", "open_crlf.xml": "<secret>\r\n", "open_tab.xml": "<secret>\n\t\n",
        "child.xml": "\n\n<secret>\n  <uuid>\n", "tabs.xml": "<secret>\n\t<uuid>x</uuid>\n\t\t<bad attr=></bad>\n</secret>",
        "nul.xml": "<secret>\n<description>a\x00b</description></secret>", "entity.xml": "<secret><description>&foo;</description></secret>",
        "two.xml": "<secret/>\n<other/>", "decl.xml": "<?xml version='1.0'?>\n",
    }, {}, ["secret-define {F}/%s" % n for n in (
        "empty.xml", "newlines.xml", "spaces.xml", "blank.xml", "open.xml", "open_crlf.xml", "open_tab.xml",
        "child.xml", "tabs.xml", "nul.xml", "entity.xml", "two.xml", "decl.xml")]),
    "usage_type_errors": ({
        "second_has_id.xml": "<secret><uuid>%s</uuid><usage type='ceph'/><usage><name>x</name></usage></secret>" % U1,
        "second_has_type.xml": "<secret><uuid>%s</uuid><usage/><usage type='ceph'><name>n</name></usage></secret>" % U1,
        "ns_type.xml": "<secret xmlns:p='urn:x'><uuid>%s</uuid><usage p:type='ceph'><name>n</name></usage></secret>" % U1,
        "spaces.xml": "<secret><usage type=' ceph '><name>n</name></usage></secret>",
    }, {}, ["secret-define {F}/second_has_id.xml", "secret-define {F}/second_has_type.xml",
            "secret-define {F}/ns_type.xml", "secret-dumpxml %s" % U1, "secret-define {F}/spaces.xml",
            "secret-define --validate {F}/spaces.xml"]),
}


def expand(pair, command):
    if isinstance(command, tuple):
        parts = [c.replace("{F}", pair.files) for c in command]
    else:
        parts = cli.split(command.replace("{F}", pair.files))
    flags = []
    while parts and parts[0] in ("-q", "-r"):
        flags.append(parts.pop(0))
    return flags, parts


class Conformance(unittest.TestCase):
    """Runs one scenario against the REFERENCE virsh; subclasses add the test methods."""
    maxDiff = None
    REFERENCE = "12"

    def check_scenario(self, name):
        files, seed, commands = SCENARIOS[name] if name in SCENARIOS else SCENARIOS_12[name]
        pair = cli.Pair(self.REFERENCE)
        self.addCleanup(pair.close)
        for fname, content in files.items():
            pair.write(fname, content)
        for side in (pair.libvirt, pair.vsecret):
            if seed:
                os.makedirs(side.config_dir, mode=0o700)
                for fname, content in seed.items():
                    path = os.path.join(side.config_dir, fname)
                    with open(path, "w") as f:
                        f.write(content)
                    os.chmod(path, 0o600)
        known = set(cli.UUID_RE.findall(repr((files, seed, commands)).lower()))
        for command in commands:
            flags, parts = expand(pair, command)
            a = pair.libvirt.cmd(parts, flags)
            b = pair.vsecret.cmd(parts, flags)
            self.assertNotEqual(a.rc, -11, "libvirt crashed on %r; move this case to cli_spec_test.py" % (command,))
            with self.subTest(command=command):
                self.assertEqual(
                    (b.rc, pair.normalise(pair.vsecret, b.out, known), pair.normalise(pair.vsecret, b.err, known)),
                    (a.rc, pair.normalise(pair.libvirt, a.out, known), pair.normalise(pair.libvirt, a.err, known)),
                    "command %r differs (first vsecret, then virsh %s)" % (command, self.REFERENCE))
        self.assertEqual(pair.disk_state(pair.vsecret, known), pair.disk_state(pair.libvirt, known),
                         "files on disk differ after scenario %s" % name)


class CliConformance12(Conformance):
    """libvirt 12.x's virsh against vsecret with no compatibility setting."""


class CliConformance90(Conformance):
    """libvirt 9.0's virsh against vsecret with VSECRET_COMPAT=9.0."""
    REFERENCE = "9.0"


class CliConformance12Only(Conformance):
    """Scenarios libvirt 9.0 cannot run; vsecret with no compatibility setting."""


def _make(name):
    return lambda self: self.check_scenario(name)


for _name in SCENARIOS:
    setattr(CliConformance12, "test_" + _name, _make(_name))
    setattr(CliConformance90, "test_" + _name, _make(_name))
for _name in SCENARIOS_12:
    setattr(CliConformance12Only, "test_" + _name, _make(_name))


if __name__ == "__main__":
    if not os.path.exists(paths.VIRSH):
        sys.exit("virsh is not installed: run scripts/install-deps.sh")
    unittest.main(verbosity=2)
