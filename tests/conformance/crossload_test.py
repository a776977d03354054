#!/usr/bin/env python3
"""Cross-loading: a root written by vsecret loads in libvirt 9.0 unchanged, and a root written
by libvirt loads in vsecret unchanged (same list, same XML, same values, same files)."""
import os
import shutil
import unittest

from vstest import cli

SECRETS = [
    ("0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f", "<usage type='volume'><volume>/img/a.img</volume></usage>", "no",
     "<description>disk &amp; more</description>", "b3BlbiBzZXNhbWU="),
    ("6dac920f-4046-4dd6-8a47-a35db53cc035", "<usage type='ceph'><name>client.admin secret</name></usage>", "no",
     "", "AAECA/7/"),
    ("11111111-2222-3333-4444-555555555555", "<usage type='iscsi'><target>iqn.x</target></usage>", "yes", "", "cA=="),
    ("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "<usage type='tls'><name>t</name></usage>", "no", "", None),
    ("bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee", "<usage type='vtpm'><name>v</name></usage>", "no", "", "dnRwbQ=="),
    ("cccccccc-bbbb-4ccc-8ddd-eeeeeeeeeeee", "", "no", "<description>  ws  </description>", "bm9uZQ=="),
]


class CrossLoad(unittest.TestCase):
    maxDiff = None

    def populate(self, side, pair):
        for uuid, usage, priv, desc, value in SECRETS:
            path = pair.write(uuid + ".xml", "<secret private='%s'><uuid>%s</uuid>%s%s</secret>" % (priv, uuid, desc, usage))
            r = side.cmd(["secret-define", path])
            self.assertEqual(r.rc, 0, r)
            if value:
                r = side.cmd(["secret-set-value", uuid, value])
                self.assertEqual(r.rc, 0, r)

    def observe(self, side):
        """Everything a user can see of the root, through the given tool."""
        seen = [side.cmd(["secret-list"]).out]
        for uuid, _, priv, _, _ in SECRETS:
            seen.append(side.cmd(["secret-dumpxml", uuid]).out)
            if priv == "yes":
                continue  # embedded libvirt 9.0 reports "No current identity" for private values
            r = side.cmd(["secret-get-value", uuid])
            seen.append((r.rc, r.out, r.err))
        return seen

    def files(self, root):
        d = os.path.join(root, "etc", "secrets")
        out = {}
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                out[name] = (oct(os.stat(os.path.join(d, name)).st_mode & 0o777), f.read())
        return out

    def roundtrip(self, writer_is_vsecret):
        pair = cli.Pair()
        self.addCleanup(pair.close)
        writer = pair.vsecret if writer_is_vsecret else pair.libvirt
        reader = pair.libvirt if writer_is_vsecret else pair.vsecret
        self.populate(writer, pair)
        written = self.observe(writer)
        shutil.rmtree(reader.root, ignore_errors=True)
        shutil.copytree(writer.root, reader.root)
        os.unlink(os.path.join(reader.root, "run", "secrets", "driver.pid")) if os.path.exists(
            os.path.join(reader.root, "run", "secrets", "driver.pid")) else None
        before = self.files(reader.root)
        self.assertEqual(self.observe(reader), written)
        self.assertEqual(self.files(reader.root), before, "reading must not rewrite anything")

    def test_vsecret_root_loads_in_libvirt(self):
        self.roundtrip(writer_is_vsecret=True)

    def test_libvirt_root_loads_in_vsecret(self):
        self.roundtrip(writer_is_vsecret=False)

    def test_both_tools_write_identical_files(self):
        pair = cli.Pair()
        self.addCleanup(pair.close)
        self.populate(pair.libvirt, pair)
        self.populate(pair.vsecret, pair)
        self.assertEqual(self.files(pair.vsecret.root), self.files(pair.libvirt.root))


if __name__ == "__main__":
    unittest.main(verbosity=2)
