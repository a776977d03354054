// Cyrus SASL (libsasl2) sessions for libvirt's SASL authentication, server and client side.
//
// Both sides use the application name "libvirt", so Cyrus reads /etc/sasl2/libvirt.conf
// (mech_list, keytab, sasldb_path) exactly as for libvirtd; SASL_CONF_PATH in the environment
// points Cyrus at another directory (its own rule, used by the tests). The library is
// initialised once per process on first use.
//
// Security properties follow libvirt 9.0 (virNetSASLSessionSecProps): on a transport that is
// already secure (TLS, a UNIX socket) min and max SSF are 0 and anonymous mechanisms are allowed;
// on plain TCP the minimum is tcp_min_ssf (56 by default: Kerberos' single DES), the maximum
// 100 000, and anonymous and plaintext mechanisms are refused. Over TLS the TLS key size (in
// bits) is given as the external SSF. The receive buffer limit (maxbufsize) is 100 000.
//
// After a successful handshake with SSF > 0 both directions carry the byte stream through
// Encode/Decode (libvirt's virNetSocket does the same: it encodes the stream, not messages;
// each sasl_encode output already carries the mechanism's own 4-byte length prefix).
//
// Errors: every failure is an Error with Cyrus' detail text; the texts never contain tokens
// or credentials.
//
// Thread-safety: a session is not synchronised; its owner serialises calls.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "rpc/sasl_messages.h"
#include "rpc/xdr.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

struct sasl_conn;

namespace vsecret::rpc {

// libvirt's SSF floor for plain TCP (libvirtd's tcp_min_ssf default).
inline constexpr unsigned kSaslDefaultTcpMinSsf = 56;

struct SaslSecurity {
  bool secure_transport = false;  // TLS or a UNIX socket: no security layer is asked for
  unsigned tcp_min_ssf = kSaslDefaultTcpMinSsf;
  unsigned external_ssf = 0;  // TLS key size in bits; 0 without TLS
};

struct SaslEndpoint {
  std::string service = "libvirt";
  std::optional<std::string> fqdn;         // server FQDN; null: the host name
  std::optional<std::string> local_addr;   // "ip;port", null on UNIX sockets
  std::optional<std::string> remote_addr;  // "ip;port", null on UNIX sockets
};

struct SaslStepResult {
  bool complete = false;
  SaslToken token;  // what goes back to the peer
};

// The part shared by both sides: the negotiated layer and stream encoding.
class SaslSession {
 public:
  virtual ~SaslSession();
  SaslSession(const SaslSession&) = delete;
  SaslSession& operator=(const SaslSession&) = delete;

  // Security strength factor negotiated (0: no security layer). Valid once complete.
  Result<unsigned> Ssf() const;
  // The largest plaintext chunk one sasl_encode takes.
  Result<std::size_t> MaxOutBuf() const;
  // Appends the wire form of `plain` to out, in chunks of at most MaxOutBuf() bytes.
  Result<void> Encode(std::span<const std::uint8_t> plain, WireBuffer* out);
  // Appends the plaintext `wire` yields to out. Partial packets stay buffered in Cyrus (bounded
  // by maxbufsize); a packet that fails its integrity check is an error.
  Result<void> Decode(std::span<const std::uint8_t> wire, WireBuffer* out);

 protected:
  explicit SaslSession(sasl_conn* conn) : conn_(conn) {}
  std::unexpected<Error> CyrusError(const std::string& what, int rc) const;
  sasl_conn* conn_;
};

class SaslServerSession final : public SaslSession {
 public:
  static Result<std::unique_ptr<SaslServerSession>> Create(const SaslEndpoint& endpoint,
                                                           const SaslSecurity& security);

  // The mechanisms offered under the security properties, comma separated (AUTH_SASL_INIT).
  Result<std::string> ListMechanisms();
  // AUTH_SASL_START and AUTH_SASL_STEP. An output over kSaslDataMax is an error.
  Result<SaslStepResult> Start(const std::string& mech, const SaslToken& in);
  Result<SaslStepResult> Step(const SaslToken& in);
  // The authenticated (authorization) user name; valid once complete.
  Result<std::string> UserName() const;

 private:
  using SaslSession::SaslSession;
  Result<SaslStepResult> Finish(int rc, const char* out, unsigned outlen, const char* what);
};

// Supplies credentials for mechanisms that need them (DIGEST-MD5, SCRAM, PLAIN). Either may
// fail, which aborts the handshake; GSSAPI asks for neither (it uses the ticket cache).
struct SaslCredentials {
  std::function<Result<std::string>()> username;
  std::function<Result<SecretBytes>()> password;
};

class SaslClientSession final : public SaslSession {
 public:
  static Result<std::unique_ptr<SaslClientSession>> Create(const SaslEndpoint& endpoint,
                                                           const SaslSecurity& security,
                                                           SaslCredentials credentials);
  ~SaslClientSession() override;

  // Picks a mechanism from the server's list and produces the first token.
  struct StartResult {
    std::string mech;
    SaslStepResult step;
  };
  Result<StartResult> Start(const std::string& mechlist);
  Result<SaslStepResult> Step(const SaslToken& in);

 private:
  struct Callbacks;
  SaslClientSession(sasl_conn* conn, std::unique_ptr<Callbacks> callbacks);
  std::unique_ptr<Callbacks> callbacks_;
};

}  // namespace vsecret::rpc
