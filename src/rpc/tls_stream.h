// TLS for the RPC transports, on OpenSSL 3: a context per listener (server) or per connection
// attempt (client), and a session wrapping one non-blocking socket.
//
// Server contexts always demand and verify a client certificate against the CA (and CRL, when
// given), then match its subject DN against an optional allow-list, as libvirtd's
// tls_allowed_dn_list does. A refused peer is stopped inside the handshake with a TLS alert, so
// it never reaches the RPC layer and learns nothing about the store. TLS 1.3 session tickets
// are disabled: the libvirt 9.0 client mistakes them for the confirmation byte.
//
// After a successful server handshake the caller must send the one-byte confirmation
// kTlsConfirmation as application data before any RPC frame; without it libvirt's client waits
// forever.
//
// Thread-safety: a TlsContext is immutable once created and may be shared by any number of
// sessions on any threads. A TlsSession is not thread-safe: callers serialise every call on it
// (the server does so under the client's mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vsecret/error.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace vsecret::rpc {

constexpr std::uint8_t kTlsConfirmation = 0x01;

struct TlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string crl_file;  // optional: "" or a missing file means no CRL
};

struct TlsServerConfig {
  TlsFiles files;
  // Shell-style patterns (fnmatch) for the client's subject DN; empty admits every certificate
  // the CA signed. A DN is tried in both X.509 order ("C=GB,O=Acme,CN=c1") and RFC 4514 order
  // ("CN=c1,O=Acme,C=GB"), so patterns written for either libvirt/GnuTLS convention match.
  std::vector<std::string> allowed_dn_patterns;
};

struct TlsClientConfig {
  TlsFiles files;      // cert_file/key_file may be "" to present no client certificate
  bool verify = true;  // false = ?no_verify=1: accept any server certificate
  std::string host;    // checked against the server certificate's SAN/CN (DNS name or IP)
};

// libvirt's file names inside a pkipath directory (or /etc/pki for the system defaults).
TlsFiles ClientFilesIn(const std::string& dir);
// The client's default files: $HOME/.pki/libvirt/ for non-root when its key and cert exist,
// otherwise /etc/pki/CA/cacert.pem and /etc/pki/libvirt/{clientcert,private/clientkey}.pem.
TlsFiles DefaultClientFiles();
// libvirtd's server defaults (/etc/pki/libvirt/servercert.pem and so on).
TlsFiles DefaultServerFiles();

// Matches a DN against the allow-list rules described in TlsServerConfig.
bool DnAllowed(const std::vector<std::string>& patterns, const std::string& x509_order_dn,
               const std::string& rfc4514_dn);

class TlsContext {
 public:
  // Errors name the file that failed to load ("Unable to read certificate '<path>': ...").
  static Result<std::shared_ptr<TlsContext>> CreateServer(const TlsServerConfig& config);
  static Result<std::shared_ptr<TlsContext>> CreateClient(const TlsClientConfig& config);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  bool is_server() const { return server_; }
  const std::vector<std::string>& allowed_dns() const { return allowed_dns_; }
  const TlsClientConfig& client_config() const { return client_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
  std::vector<std::string> allowed_dns_;
  TlsClientConfig client_;
};

class TlsSession {
 public:
  enum class Status { kOk, kWantRead, kWantWrite, kClosed, kError };
  struct IoResult {
    Status status;
    std::size_t bytes = 0;
  };

  // Wraps fd (borrowed: the caller keeps it open for the session's lifetime). The context is
  // shared. For a client context the expected host name comes from the context's config.
  static Result<std::unique_ptr<TlsSession>> Create(std::shared_ptr<TlsContext> ctx, int fd);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Advances the handshake; kOk once complete. On kError, LastError() explains.
  Status Handshake();
  // Reads or writes application data; partial writes are reported in bytes.
  IoResult Read(std::span<std::uint8_t> into);
  IoResult Write(std::span<const std::uint8_t> from);
  // Decrypted bytes (or a whole record) are buffered inside OpenSSL: read again before polling.
  bool HasPending() const;
  // Sends close_notify, best effort, without waiting for the peer's.
  void Shutdown();
  // The peer certificate's subject in X.509 order, or "" without one.
  std::string PeerDn() const;
  // The negotiated cipher's secret bits (SASL's external SSF over TLS); 0 before the handshake.
  unsigned CipherBits() const;
  // What went wrong in the last failed call: the verification result and OpenSSL's queue.
  const std::string& LastError() const { return last_error_; }

 private:
  TlsSession(std::shared_ptr<TlsContext> ctx, SSL* ssl) : ctx_(std::move(ctx)), ssl_(ssl) {}
  Status Classify(int rc, const char* what);

  std::shared_ptr<TlsContext> ctx_;
  SSL* ssl_;
  std::string last_error_;
};

}  // namespace vsecret::rpc
