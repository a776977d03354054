"""Helpers shared by vsecret's Python test suites and benchmarks, one module per concern.

ctest (tests/CMakeLists.txt) and scripts/sanitize.sh put tests/ on PYTHONPATH, so a test says
`from vstest import process, daemons` and never touches sys.path; a benchmark in bench/ imports
bench/vstest_path.py first, which does the same for a script started by hand.

  paths      where the built tools (VSECRET_BIN), the source tree and the host's libvirt are
  process    clean_env() (the one environment policy), run() (one Result shape), stop_process()
  sockets    waiting for a UNIX socket or a loopback port; free loopback ports
  rpc        raw libvirt RPC frames and a blocking raw connection
  daemons    vsecretd, the host's secret-only libvirtd 9.0 and the 12.x root's libvirtd
  cli        virsh against a daemon; virsh and vsecret side by side on two embedded roots
  remote     the test PKI, TLS listener configuration, `vsecretd --listen`
  hardening  encodings a leaked value would show up in; encryption at rest for a root
  journal    a fake journald socket for a daemon in a private mount namespace
  libvirt12  tools of the libvirt 12.x root (chroot in a private mount namespace)
  hypervisor the hypervisor chain (libvirtd made per-driver by tests/shim, QEMU, LUKS images)
"""
