"""A throw-away MIT Kerberos realm for the SASL/GSSAPI tests (issue 14).

Kdc() creates a realm in a temporary directory (its own krb5.conf, kdc.conf, database and stash;
nothing of the host's /etc/krb5* is read or changed), starts `krb5kdc -n` on a free 127.0.0.1
port (UDP and TCP) and stops it by PID in stop(). Principals get random keys and live in keytabs,
so no password is ever passed on a command line:

    with Kdc() as kdc:
        kdc.add_service("libvirt/localhost")           # into kdc.service_keytab
        kdc.add_user("alice")                           # into kdc.user_keytab
        ccache = kdc.kinit("alice")                     # a private FILE: ticket cache
        env = kdc.env(ccache)                           # KRB5_CONFIG, KRB5CCNAME (and for the
                                                        # server KRB5_KTNAME) for the processes

Host names: the client asks for `libvirt/<host in the URI>`. krb5.conf turns off reverse DNS and
canonicalization, so `localhost` stays `localhost` and matches the service principal.
"""
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

from vstest.process import clean_env, run, stop_process
from vstest.sockets import free_port

REALM = "VSECRET.TEST"
KRB5KDC = "/usr/sbin/krb5kdc"
KDB5_UTIL = "/usr/sbin/kdb5_util"
KADMIN_LOCAL = "/usr/sbin/kadmin.local"
KINIT = "/usr/bin/kinit"
KLIST = "/usr/bin/klist"


def available():
    """Whether the MIT KDC and its tools are installed (scripts/install-deps.sh installs them)."""
    return all(os.access(p, os.X_OK) for p in (KRB5KDC, KDB5_UTIL, KADMIN_LOCAL, KINIT, KLIST))


class Kdc:
    """One realm and its running KDC; see the module's docstring."""

    def __init__(self, realm=REALM, timeout=20.0):
        self.realm = realm
        self.dir = tempfile.mkdtemp(prefix="vsecret-kdc-")
        self.port = free_port()
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.service_keytab = os.path.join(self.dir, "service.keytab")
        self.user_keytab = os.path.join(self.dir, "user.keytab")
        self.proc = None
        try:
            self._write_config()
            self._create_database()
            self._start(timeout)
        except Exception:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def _write_config(self):
        with open(self.krb5_conf, "w") as f:
            f.write("[libdefaults]\n"
                    "  default_realm = %(realm)s\n"
                    "  dns_lookup_kdc = false\n"
                    "  dns_lookup_realm = false\n"
                    "  rdns = false\n"
                    "  dns_canonicalize_hostname = false\n"
                    "  ignore_acceptor_hostname = true\n"
                    "  udp_preference_limit = 1\n"
                    "[realms]\n"
                    "  %(realm)s = {\n    kdc = 127.0.0.1:%(port)d\n  }\n"
                    "[domain_realm]\n"
                    "  localhost = %(realm)s\n"
                    "  .localhost = %(realm)s\n" % {"realm": self.realm, "port": self.port})
        with open(self.kdc_conf, "w") as f:
            f.write("[kdcdefaults]\n"
                    "  kdc_listen = 127.0.0.1:%(port)d\n"
                    "  kdc_tcp_listen = 127.0.0.1:%(port)d\n"
                    "[realms]\n"
                    "  %(realm)s = {\n"
                    "    database_name = %(dir)s/principal\n"
                    "    key_stash_file = %(dir)s/stash\n"
                    "    acl_file = %(dir)s/kadm5.acl\n"
                    "    kdc_listen = 127.0.0.1:%(port)d\n"
                    "    kdc_tcp_listen = 127.0.0.1:%(port)d\n"
                    "    max_life = 1h\n"
                    "  }\n"
                    "[logging]\n"
                    "  kdc = FILE:%(dir)s/kdc.log\n" % {"realm": self.realm, "port": self.port, "dir": self.dir})
        open(os.path.join(self.dir, "kadm5.acl"), "w").close()

    def _tool_env(self):
        return {"KRB5_CONFIG": self.krb5_conf, "KRB5_KDC_PROFILE": self.kdc_conf}

    def _create_database(self):
        # The master password of a database that is deleted with the directory: it protects
        # nothing, and kdb5_util reads it from a terminal only otherwise.
        run([KDB5_UTIL, "create", "-s", "-r", self.realm, "-P", secrets.token_hex(16)],
            env=self._tool_env(), check=True)

    def _start(self, timeout):
        log = open(os.path.join(self.dir, "krb5kdc.stderr"), "wb")
        try:
            self.proc = subprocess.Popen([KRB5KDC, "-n", "-r", self.realm], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, env=clean_env(self._tool_env()))
        finally:
            log.close()
        # The KDC answers on UDP and TCP; a TCP connect shows it has bound its sockets.
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("krb5kdc exited with %s: %s" % (self.proc.returncode, self.log()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("krb5kdc did not listen on 127.0.0.1:%d" % self.port)
                time.sleep(0.05)

    def log(self):
        """The KDC's own log and stderr (for failure messages)."""
        out = []
        for name in ("kdc.log", "krb5kdc.stderr"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out.append(f.read())
            except OSError:
                pass
        return "\n".join(out)

    def _kadmin(self, query):
        r = run([KADMIN_LOCAL, "-r", self.realm, "-q", query], env=self._tool_env(), check=True)
        # kadmin.local exits 0 even when a query fails; it then prints the reason on stderr.
        if "error" in r.err.lower() or "while" in r.err.lower():
            raise RuntimeError("kadmin.local %r: %s" % (query, r.err))
        return r

    def add_service(self, name):
        """Adds the service principal `name` (e.g. "libvirt/localhost") with a random key and
        exports it into self.service_keytab. Returns the full principal name."""
        principal = "%s@%s" % (name, self.realm)
        self._kadmin("addprinc -randkey %s" % principal)
        self._kadmin("ktadd -k %s %s" % (self.service_keytab, principal))
        return principal

    def add_user(self, name):
        """Adds the user principal `name` with a random key, exported into self.user_keytab (kinit
        then needs no password). Returns the full principal name."""
        principal = "%s@%s" % (name, self.realm)
        self._kadmin("addprinc -randkey %s" % principal)
        self._kadmin("ktadd -k %s %s" % (self.user_keytab, principal))
        return principal

    def kinit(self, name):
        """Gets a ticket for the user `name` into a new ticket cache; returns the cache's
        KRB5CCNAME value ("FILE:...")."""
        ccache = "FILE:" + os.path.join(self.dir, "cc-%s-%s" % (name, secrets.token_hex(4)))
        env = dict(self._tool_env(), KRB5CCNAME=ccache)
        run([KINIT, "-k", "-t", self.user_keytab, "%s@%s" % (name, self.realm)], env=env, check=True)
        return ccache

    def env(self, ccache=None, keytab=None):
        """Variables for a client (ccache: its ticket cache; None: a cache that does not exist,
        i.e. no ticket) or a server (keytab: e.g. self.service_keytab, as KRB5_KTNAME)."""
        env = {"KRB5_CONFIG": self.krb5_conf,
               "KRB5CCNAME": ccache or "FILE:" + os.path.join(self.dir, "no-ticket")}
        if keytab is not None:
            env["KRB5_KTNAME"] = "FILE:" + keytab
        return env

    def stop(self):
        """Stops the KDC by PID and removes the realm's directory."""
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
