#!/usr/bin/env python3
"""Regenerates the expectation files of this corpus from a reference libvirt.

For every cases/NAME.xml it writes NAME.expect (plain define) and NAME.vexpect (define with
VIR_SECRET_DEFINE_VALIDATE); for every roundtrip/NAME.xml it checks that libvirt formats the
document back byte for byte. Expectation format: a first line "ok" followed by the exact
secret-dumpxml text (a generated UUID replaced by @UUID@), or "error CODE DOMAIN" followed by
the exact error message bytes (no newline added).

The C API is called through ctypes so that documents travel as raw bytes. It talks to a session
daemon, because 9.0's embedded driver crashes on ephemeral secrets; run it as an unprivileged
user with a scratch HOME / XDG_RUNTIME_DIR, e.g.
  su nobody -s /bin/sh -c 'HOME=/tmp/h XDG_RUNTIME_DIR=/tmp/h/run python3 regen_expected.py'

libvirt 12.x's verdicts (NAME.expect12, NAME.vexpect12) come from the root that
scripts/libvirt12-root.sh builds, whose embedded driver does not crash:
  REGEN_URI='secret:///embed?root=/tmp/r12' REGEN_SUFFIX=12 python3 regen_expected.py
run inside that root with this directory shared (tests/vstest/libvirt12.py), e.g.
  PYTHONPATH=tests python3 -c 'from vstest import libvirt12 as l; import os;
    d = os.path.abspath("tests/data/secretxml"); print(l.run(["env",
    "REGEN_URI=secret:///embed?root=/tmp/r12", "REGEN_SUFFIX=12", "python3", d + "/regen_expected.py"],
    share=[d]))'
"""
import os
import ctypes
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
VALIDATE = 1

lib = ctypes.CDLL("libvirt.so.0")
libc = ctypes.CDLL(None)


class VirError(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("domain", ctypes.c_int), ("message", ctypes.c_char_p)]


lib.virConnectOpen.restype = ctypes.c_void_p
lib.virConnectOpen.argtypes = [ctypes.c_char_p]
lib.virSecretDefineXML.restype = ctypes.c_void_p
lib.virSecretDefineXML.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint]
lib.virSecretGetXMLDesc.restype = ctypes.c_void_p
lib.virSecretGetXMLDesc.argtypes = [ctypes.c_void_p, ctypes.c_uint]
lib.virSecretUndefine.argtypes = [ctypes.c_void_p]
lib.virSecretFree.argtypes = [ctypes.c_void_p]
lib.virGetLastError.restype = ctypes.POINTER(VirError)
lib.virResetLastError.restype = None
lib.virSetErrorFunc.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
libc.free.argtypes = [ctypes.c_void_p]

QUIET = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(lambda a, b: None)
lib.virSetErrorFunc(None, ctypes.cast(QUIET, ctypes.c_void_p))
URI = os.environ.get("REGEN_URI", "secret:///session")
SUFFIX = os.environ.get("REGEN_SUFFIX", "")
if "/embed" in URI:
    lib.virEventRegisterDefaultImpl()  # the embedded driver needs an event loop implementation
conn = lib.virConnectOpen(URI.encode())
if not conn:
    sys.exit("cannot open " + URI)


def define(xml: bytes, flags: int) -> bytes:
    lib.virResetLastError()
    sec = lib.virSecretDefineXML(conn, xml, flags)
    if not sec:
        err = lib.virGetLastError().contents
        return b"error %d %d\n" % (err.code, err.domain) + (err.message or b"")
    raw = lib.virSecretGetXMLDesc(sec, 0)
    out = ctypes.string_at(raw)
    libc.free(raw)
    lib.virSecretUndefine(sec)
    lib.virSecretFree(sec)
    return b"ok\n" + out


def recorded(xml: bytes, flags: int) -> bytes:
    """define() with a generated UUID replaced by @UUID@ (it differs between two defines)."""
    first, second = define(xml, flags), define(xml, flags)
    uuid = re.compile(rb"<uuid>([0-9a-f-]{36})</uuid>")
    if first.startswith(b"ok\n") and first != second:
        first = uuid.sub(b"<uuid>@UUID@</uuid>", first, count=1)
    return first


failures = 0
for path in sorted((HERE / "cases").glob("*.xml")):
    xml = path.read_bytes()
    path.with_suffix(".expect" + SUFFIX).write_bytes(recorded(xml, 0))
    path.with_suffix(".vexpect" + SUFFIX).write_bytes(recorded(xml, VALIDATE))
for path in sorted((HERE / "roundtrip").glob("*.xml")):
    xml = path.read_bytes()
    got = define(xml, 0)
    if got != b"ok\n" + xml:
        failures += 1
        print(f"{path.name}: libvirt does not format it back identically:\n{got!r}", file=sys.stderr)
sys.exit(1 if failures else 0)
