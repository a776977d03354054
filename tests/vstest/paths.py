"""Where things are: the source tree, the built executables and the host's libvirt 9.0.

VSECRET_BIN and VSECRET_SOURCE_DIR (set by ctest for every Python test) override the defaults,
which are the checkout this package lives in and its build/bin.
"""
import os

SOURCE_DIR = os.environ.get("VSECRET_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("VSECRET_BIN") or os.path.join(SOURCE_DIR, "build", "bin")
VSECRETD = os.path.join(BIN, "vsecretd")
VSECRET = os.path.join(BIN, "vsecret")

# The host's libvirt 9.0 and Python.
LIBVIRTD = "/usr/sbin/libvirtd"
VIRSH = "/usr/bin/virsh"
SECRET_DRIVER = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_secret.so"
PYTHON = "/usr/bin/python3"
