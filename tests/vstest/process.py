"""Running the tools under test: one environment policy and one result shape.

clean_env() is the environment every process a test starts gets (unless the test builds its own
on top of it):
  * dropped: every LIBVIRT_*, VIRSH_* and VSECRET_* variable of the caller (a developer's
    LIBVIRT_DEFAULT_URI or VSECRET_COMPAT must not change what a test sees), systemd's
    CREDENTIALS_DIRECTORY, NOTIFY_SOCKET, LISTEN_* and JOURNAL_STREAM (a test run from a
    service must not hand the daemon the service's sockets, credentials or journal);
  * set: LC_ALL=C (messages as the references print them) and LIBVIRT_AUTOSTART=0 (no client
    spawns a session daemon behind the test's back);
  * then the caller's extras, applied last, so a test can set any of the above on purpose;
    an extra whose value is None removes that variable.

run() returns Result(rc, out, err) for every caller: out and err are str (decoded, undecodable
bytes replaced) by default, bytes with text=False.
"""
import collections
import os
import signal
import subprocess

TIMEOUT = 30

_DROPPED_PREFIXES = ("LIBVIRT_", "VIRSH_", "VSECRET_", "LISTEN_")
_DROPPED = ("CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET", "JOURNAL_STREAM")
_SET = {"LC_ALL": "C", "LIBVIRT_AUTOSTART": "0"}


def clean_env(extra=None):
    """The environment for a process a test starts (see the module's policy); extra: a dict of
    variables set last, a value of None removing the variable."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_DROPPED_PREFIXES) and k not in _DROPPED}
    env.update(_SET)
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class Result(collections.namedtuple("Result", "rc out err")):
    """What run() returns; unpacks as `rc, out, err = run(...)`."""

    __slots__ = ()

    def __str__(self):
        return "rc=%r\nstdout=%r\nstderr=%r" % self


class CommandFailed(AssertionError):
    """run(check=True) of a command whose exit status is not 0."""

    def __init__(self, argv, result):
        super().__init__("%r exited with %d\n%s" % (list(argv), result.rc, result))
        self.argv, self.result = argv, result


def run(argv, input=None, env=None, timeout=TIMEOUT, text=True, check=False, cwd=None):
    """Runs argv to completion with clean_env(env), stdin from `input` (str or bytes; none if
    None), within `timeout` seconds (subprocess.TimeoutExpired after killing it). check=True
    raises CommandFailed when the exit status is not 0."""
    if isinstance(input, str):
        input = input.encode()
    p = subprocess.run(list(argv), input=input, stdin=None if input is not None else subprocess.DEVNULL,
                       capture_output=True, env=clean_env(env), timeout=timeout, cwd=cwd)
    out, err = p.stdout, p.stderr
    if text:
        out, err = out.decode(errors="replace"), err.decode(errors="replace")
    result = Result(p.returncode, out, err)
    if check and result.rc != 0:
        raise CommandFailed(argv, result)
    return result


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    """Stops one process we started (a Popen), by its PID: sig, then SIGKILL if it has not
    exited within timeout seconds. Returns its exit status."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
    return proc.returncode
