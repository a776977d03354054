#!/usr/bin/env bash
# Creates a certificate authority and server/client certificates for vsecretd's TLS listener
# (and libvirtd's), with the file names libvirt expects, using the openssl command line.
#
#   make-certs.sh ca     CADIR                       -> CADIR/cacert.pem, CADIR/cakey.pem
#   make-certs.sh server CADIR OUTDIR [options]      -> OUTDIR/servercert.pem, OUTDIR/serverkey.pem,
#                                                       OUTDIR/cacert.pem
#   make-certs.sh client CADIR OUTDIR [options]      -> OUTDIR/clientcert.pem, OUTDIR/clientkey.pem,
#                                                       OUTDIR/cacert.pem  (a ?pkipath= directory)
#   make-certs.sh all    DIR                         -> DIR/ca, DIR/server, DIR/client
#
# Options for server/client:
#   --cn NAME            subject common name (default: the host name, or "client")
#   --org NAME           subject organisation (default: vsecret)
#   --san LIST           subjectAltName (server default: DNS:localhost,DNS:<host>,IP:127.0.0.1,IP:::1)
#   --days N             validity in days (default 365)
#   --expired            issue a certificate whose validity ended in the past (for tests)
#
# For a libvirt-style installation copy the files to:
#   /etc/pki/CA/cacert.pem, /etc/pki/libvirt/servercert.pem, /etc/pki/libvirt/private/serverkey.pem,
#   /etc/pki/libvirt/clientcert.pem, /etc/pki/libvirt/private/clientkey.pem
# (or, for a non-root client, $HOME/.pki/libvirt/{cacert,clientcert,clientkey}.pem).
# Private keys are created mode 0600. The CA key never leaves CADIR.
set -euo pipefail

die() { echo "make-certs.sh: $*" >&2; exit 1; }

host_name() { hostname -f 2>/dev/null || hostname; }

make_ca() {
  local dir=$1
  mkdir -p "$dir"
  (umask 077 && openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/cakey.pem")
  openssl req -x509 -new -key "$dir/cakey.pem" -sha256 -days 3650 -subj "/O=vsecret/CN=vsecret test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/cacert.pem"
}

# sign CADIR OUTDIR ROLE(server|client) then options
sign() {
  local cadir=$1 out=$2 role=$3
  shift 3
  local cn="" org="vsecret" san="" days=365 expired=0
  while [ $# -gt 0 ]; do
    case $1 in
      --cn) cn=$2; shift 2 ;;
      --org) org=$2; shift 2 ;;
      --san) san=$2; shift 2 ;;
      --days) days=$2; shift 2 ;;
      --expired) expired=1; shift ;;
      *) die "unknown option '$1'" ;;
    esac
  done
  [ -f "$cadir/cacert.pem" ] && [ -f "$cadir/cakey.pem" ] || die "no CA in '$cadir' (run: make-certs.sh ca $cadir)"
  if [ "$role" = server ]; then
    [ -n "$cn" ] || cn=$(host_name)
    [ -n "$san" ] || san="DNS:localhost,DNS:$(host_name),IP:127.0.0.1,IP:::1"
  else
    [ -n "$cn" ] || cn=client
  fi
  mkdir -p "$out"
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  # `openssl ca` is used rather than `x509 -req` because it accepts explicit validity dates.
  mkdir -p "$work/new"
  : > "$work/index.txt"
  cat > "$work/ca.cnf" <<CNF
[ca]
default_ca = local
[local]
dir = $work
database = $work/index.txt
new_certs_dir = $work/new
certificate = $cadir/cacert.pem
private_key = $cadir/cakey.pem
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
rand_serial = yes
[anything]
organizationName = optional
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = $( [ "$role" = server ] && echo serverAuth || echo clientAuth )
$( [ -n "$san" ] && echo "subjectAltName = $san" )
CNF
  (umask 077 && openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/${role}key.pem")
  openssl req -new -key "$out/${role}key.pem" -subj "/O=$org/CN=$cn" -out "$work/req.pem"
  local dates=(-days "$days")
  if [ "$expired" = 1 ]; then dates=(-startdate 20200101000000Z -enddate 20200102000000Z); fi
  openssl ca -batch -notext -config "$work/ca.cnf" -extensions ext "${dates[@]}" \
    -in "$work/req.pem" -out "$out/${role}cert.pem" 2>"$work/ca.log" || { cat "$work/ca.log" >&2; die "signing failed"; }
  cp "$cadir/cacert.pem" "$out/cacert.pem"
}

[ $# -ge 2 ] || die "usage: make-certs.sh ca|server|client|all DIR ..."
command -v openssl >/dev/null || die "the openssl command is required"
case $1 in
  ca) make_ca "$2" ;;
  server|client)
    [ $# -ge 3 ] || die "usage: make-certs.sh $1 CADIR OUTDIR [options]"
    role=$1 cadir=$2 out=$3
    shift 3
    sign "$cadir" "$out" "$role" "$@" ;;
  all)
    make_ca "$2/ca"
    sign "$2/ca" "$2/server" server
    sign "$2/ca" "$2/client" client ;;
  *) die "unknown action '$1'" ;;
esac
