#include "rpc/tls_stream.h"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/log.h"

namespace vsecret::rpc {
namespace {

constexpr char kWhere[] = "rpc.tls";

std::string DrainOpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::unexpected<Error> TlsError(const std::string& what) {
  std::string detail = DrainOpenSslErrors();
  return Fail(ErrorCode::kSystemError, ErrorDomain::kRpc, what + (detail.empty() ? "" : ": " + detail));
}

bool Readable(const std::string& path) { return !path.empty() && ::access(path.c_str(), R_OK) == 0; }

std::string NameToString(X509_NAME* name, unsigned long flags) {
  if (name == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  X509_NAME_print_ex(bio, name, 0, flags);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n > 0 ? n : 0));
  BIO_free(bio);
  return out;
}

constexpr unsigned long kRfc4514Flags = XN_FLAG_RFC2253;
constexpr unsigned long kX509OrderFlags = XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV;

// Server-side verification: OpenSSL's chain result, then the DN allow-list on the leaf. Every
// refusal is logged here, where the reason is known; the peer only sees a TLS alert.
int VerifyClient(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* self = static_cast<TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  std::string dn = cert != nullptr ? NameToString(X509_get_subject_name(cert), kX509OrderFlags) : "";
  if (!preverify_ok) {
    Log(LogLevel::kWarning, kWhere,
        std::string("refusing client certificate '") + dn +
            "': " + X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)));
    return 0;
  }
  if (X509_STORE_CTX_get_error_depth(store) == 0 && self != nullptr && !self->allowed_dns().empty()) {
    std::string rfc = NameToString(X509_get_subject_name(cert), kRfc4514Flags);
    if (!DnAllowed(self->allowed_dns(), dn, rfc)) {
      Log(LogLevel::kWarning, kWhere,
          "refusing client certificate: DN '" + dn + "' is not in tls_allowed_dn_list");
      X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
      return 0;
    }
  }
  return 1;
}

// Both sides: no resumption at all. The server must not send TLS 1.3 tickets: libvirt 9.0's
// client wakes up on them and fails to read the confirmation byte.
void CommonSetup(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

Result<void> LoadCa(SSL_CTX* ctx, const TlsFiles& files) {
  if (SSL_CTX_load_verify_locations(ctx, files.ca_file.c_str(), nullptr) != 1) {
    return TlsError("Unable to read CA certificate '" + files.ca_file + "'");
  }
  if (!Readable(files.crl_file)) return {};
  FILE* f = std::fopen(files.crl_file.c_str(), "r");
  if (f == nullptr)
    return SystemError(ErrorDomain::kRpc, errno, "Unable to open CRL '" + files.crl_file + "'");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509_CRL* crl = PEM_read_X509_CRL(f, nullptr, nullptr, nullptr)) {
    added += X509_STORE_add_crl(store, crl);
    X509_CRL_free(crl);
  }
  std::fclose(f);
  ERR_clear_error();  // the read loop ends on an expected "no start line"
  if (added == 0) return TlsError("Unable to read CRL '" + files.crl_file + "'");
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  return {};
}

Result<void> LoadIdentity(SSL_CTX* ctx, const TlsFiles& files) {
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    return TlsError("Unable to read certificate '" + files.cert_file + "'");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return TlsError("Unable to read private key '" + files.key_file + "'");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return TlsError("Private key '" + files.key_file + "' does not match certificate '" + files.cert_file +
                    "'");
  }
  return {};
}

}  // namespace

TlsFiles ClientFilesIn(const std::string& dir) {
  std::string d = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  return TlsFiles{d + "cacert.pem", d + "clientcert.pem", d + "clientkey.pem", d + "cacrl.pem"};
}

TlsFiles DefaultClientFiles() {
  if (::geteuid() != 0) {
    if (const char* home = std::getenv("HOME")) {
      TlsFiles user = ClientFilesIn(std::string(home) + "/.pki/libvirt");
      if (Readable(user.cert_file) && Readable(user.key_file)) {
        if (!Readable(user.ca_file)) user.ca_file = "/etc/pki/CA/cacert.pem";
        return user;
      }
    }
  }
  return TlsFiles{"/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/clientcert.pem",
                  "/etc/pki/libvirt/private/clientkey.pem", "/etc/pki/CA/cacrl.pem"};
}

TlsFiles DefaultServerFiles() {
  return TlsFiles{"/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/servercert.pem",
                  "/etc/pki/libvirt/private/serverkey.pem", "/etc/pki/CA/cacrl.pem"};
}

bool DnAllowed(const std::vector<std::string>& patterns, const std::string& x509_order_dn,
               const std::string& rfc4514_dn) {
  for (const std::string& p : patterns) {
    if (::fnmatch(p.c_str(), x509_order_dn.c_str(), 0) == 0) return true;
    if (::fnmatch(p.c_str(), rfc4514_dn.c_str(), 0) == 0) return true;
  }
  return false;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<TlsContext>> TlsContext::CreateServer(const TlsServerConfig& config) {
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (raw == nullptr) return TlsError("Unable to create TLS context");
  std::shared_ptr<TlsContext> self(new TlsContext(raw, true));
  self->allowed_dns_ = config.allowed_dn_patterns;
  CommonSetup(raw);
  if (auto ok = LoadIdentity(raw, config.files); !ok) return std::unexpected(ok.error());
  if (auto ok = LoadCa(raw, config.files); !ok) return std::unexpected(ok.error());
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.files.ca_file.c_str())) {
    SSL_CTX_set_client_CA_list(raw, names);
  }
  SSL_CTX_set_app_data(raw, self.get());
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, VerifyClient);
  return self;
}

Result<std::shared_ptr<TlsContext>> TlsContext::CreateClient(const TlsClientConfig& config) {
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (raw == nullptr) return TlsError("Unable to create TLS context");
  std::shared_ptr<TlsContext> self(new TlsContext(raw, false));
  self->client_ = config;
  CommonSetup(raw);
  // libvirt takes the client key and certificate only as a pair.
  if (Readable(config.files.cert_file) && Readable(config.files.key_file)) {
    if (auto ok = LoadIdentity(raw, config.files); !ok) return std::unexpected(ok.error());
  }
  if (config.verify) {
    if (auto ok = LoadCa(raw, config.files); !ok) return std::unexpected(ok.error());
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
  }
  return self;
}

Result<std::unique_ptr<TlsSession>> TlsSession::Create(std::shared_ptr<TlsContext> ctx, int fd) {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx->get());
  if (ssl == nullptr) return TlsError("Unable to create TLS session");
  std::unique_ptr<TlsSession> session(new TlsSession(ctx, ssl));
  if (SSL_set_fd(ssl, fd) != 1) return TlsError("Unable to attach TLS session to socket");
  if (ctx->is_server()) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    const std::string& host = ctx->client_config().host;
    if (!host.empty()) {
      unsigned char addr[16];
      bool is_ip =
          ::inet_pton(AF_INET, host.c_str(), addr) == 1 || ::inet_pton(AF_INET6, host.c_str(), addr) == 1;
      if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl, host.c_str());
        SSL_set1_host(ssl, host.c_str());
      }
    }
  }
  return session;
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

TlsSession::Status TlsSession::Classify(int rc, const char* what) {
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
      return Status::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Status::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Status::kClosed;
    case SSL_ERROR_SYSCALL: {
      int saved = errno;
      std::string queue = DrainOpenSslErrors();
      if (queue.empty() && saved == 0) return Status::kClosed;  // EOF without close_notify
      last_error_ = std::string(what) + ": " + (queue.empty() ? std::strerror(saved) : queue);
      return Status::kError;
    }
    default: {
      long verify = SSL_get_verify_result(ssl_);
      std::string queue = DrainOpenSslErrors();
      last_error_ = std::string(what) + ": " + (queue.empty() ? "TLS protocol error" : queue);
      if (verify != X509_V_OK) last_error_ += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      return Status::kError;
    }
  }
}

TlsSession::Status TlsSession::Handshake() {
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) return Status::kOk;
  Status s = Classify(rc, "TLS handshake failed");
  return s == Status::kClosed ? Status::kError : s;
}

TlsSession::IoResult TlsSession::Read(std::span<std::uint8_t> into) {
  ERR_clear_error();
  errno = 0;
  std::size_t n = 0;
  int rc = SSL_read_ex(ssl_, into.data(), into.size(), &n);
  if (rc == 1) return {Status::kOk, n};
  return {Classify(rc, "Cannot read TLS data"), 0};
}

TlsSession::IoResult TlsSession::Write(std::span<const std::uint8_t> from) {
  ERR_clear_error();
  errno = 0;
  std::size_t n = 0;
  int rc = SSL_write_ex(ssl_, from.data(), from.size(), &n);
  if (rc == 1) return {Status::kOk, n};
  return {Classify(rc, "Cannot write TLS data"), 0};
}

bool TlsSession::HasPending() const { return SSL_has_pending(ssl_) == 1; }

void TlsSession::Shutdown() {
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);
  ERR_clear_error();
}

unsigned TlsSession::CipherBits() const {
  int bits = SSL_get_cipher_bits(ssl_, nullptr);
  return bits > 0 ? static_cast<unsigned>(bits) : 0;
}

std::string TlsSession::PeerDn() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  return cert != nullptr ? NameToString(X509_get_subject_name(cert), kX509OrderFlags) : "";
}

}  // namespace vsecret::rpc
