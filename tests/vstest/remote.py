"""The remote transports' fixtures (TLS, TCP, SSH tests and bench/remote_tls_compare.py): the test
PKI made with scripts/make-certs.sh, the TLS listener configuration, and `vsecretd --listen` with
a throw-away configuration file. Everything listens on 127.0.0.1 only; every process started here
is stopped by its PID (through vstest.daemons)."""
import os
import shutil
import subprocess
import tempfile

from vstest.daemons import Vsecretd
from vstest.paths import SOURCE_DIR
from vstest.sockets import wait_port

MAKE_CERTS = os.path.join(SOURCE_DIR, "scripts", "make-certs.sh")


def make_certs(*args):
    """Runs scripts/make-certs.sh with these arguments (e.g. "all", DIR: ca/, server/, client/)."""
    subprocess.run([MAKE_CERTS] + list(args), check=True, capture_output=True, timeout=60)


def make_pki(base):
    """ca/, server/, client/ (good), nocert/, foreign/ (unknown CA), expired/, intruder/ (DN)."""
    make_certs("all", base)
    make_certs("ca", os.path.join(base, "ca2"))
    make_certs("client", os.path.join(base, "ca2"), os.path.join(base, "foreign"))
    shutil.copy(os.path.join(base, "ca", "cacert.pem"), os.path.join(base, "foreign", "cacert.pem"))
    make_certs("client", os.path.join(base, "ca"), os.path.join(base, "expired"), "--expired")
    make_certs("client", os.path.join(base, "ca"), os.path.join(base, "intruder"), "--cn", "intruder")
    os.makedirs(os.path.join(base, "nocert"))
    shutil.copy(os.path.join(base, "ca", "cacert.pem"), os.path.join(base, "nocert", "cacert.pem"))


def tls_listen_config(port, server_dir):
    """The daemon.conf lines (libvirtd's names) of a TLS listener on 127.0.0.1:port whose
    certificate, key and CA are server_dir/servercert.pem, serverkey.pem and cacert.pem."""
    return ('listen_tls = 1\nlisten_addr = "127.0.0.1"\ntls_port = "%d"\n'
            'cert_file = "%s/servercert.pem"\nkey_file = "%s/serverkey.pem"\nca_file = "%s/cacert.pem"\n'
            % (port, server_dir, server_dir, server_dir))


def tls_config(pki, port, extra=""):
    """The TLS tests' listener: make_pki's server certificate, only the good client's DN allowed."""
    return (tls_listen_config(port, os.path.join(pki, "server"))
            + 'tls_allowed_dn_list = ["O=vsecret,CN=client"]\ntls_handshake_timeout = 20\n' + extra)


class ListeningVsecretd(Vsecretd):
    """`vsecretd --listen --config FILE`, FILE a temporary file holding config_text. With port, waits
    until the daemon accepts connections there (and stops it if it does not). cleanup() also
    removes FILE."""

    def __init__(self, config_text, port=None, root=None, env=None):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as conf:
            conf.write(config_text)
        self.conf_path = conf.name
        try:
            super().__init__(root=root, args=["--listen", "--config", conf.name], env=env)
        except Exception:
            os.unlink(conf.name)
            raise
        if port is not None:
            try:
                wait_port(port, self.proc)
            except Exception:
                self.cleanup()
                raise

    def cleanup(self):
        super().cleanup()
        if os.path.exists(self.conf_path):
            os.unlink(self.conf_path)
