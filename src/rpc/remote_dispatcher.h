// RemoteSession: the REMOTE program (0x20008086 v1) for one client connection of vsecretd. It
// turns each CALL into a SecretDriver call and the result into exactly one REPLY frame, and
// forwards driver events to the client as MESSAGE frames.
//
// Dispatch mirrors libvirtd 12.x (and 9.0): arguments are decoded before the open check; only
// AUTH_LIST, CONNECT_SUPPORTS_FEATURE(10), CONNECT_OPEN and CONNECT_CLOSE work before open;
// with SASL configured (SessionPolicy::sasl) every procedure other than AUTH_LIST and
// AUTH_SASL_INIT/START/STEP/AUTH_POLKIT is refused with VIR_ERR_RPC "authentication required"
// until the handshake completes (libvirt's virNetServerProgramDispatchCall, checked right
// after the procedure lookup, before the arguments are decoded);
// procedures vsecretd does not serve are answered from remote_proc_table.h. Read-only
// sessions (the -ro socket, or CONNECT_OPEN flag 1) get the driver's "operation forbidden"
// errors; remote callers are never trusted, so private values are never sent.
//
// Thread-safety: HandleCall must be called from one thread at a time (the server's loop).
// Event delivery may happen on any thread that changes the driver; it only touches the sink.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "driver/secret_driver.h"
#include "rpc/frame.h"
#include "rpc/sasl_auth.h"

namespace vsecret::rpc {

// Where a session's outgoing frames go. Implementations must accept frames from any thread and
// keep each frame whole on the wire.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual void SendFrame(WireBuffer frame) = 0;
};

struct PeerCredentials {
  pid_t pid = -1;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};

struct SessionPolicy {
  // The only URI path CONNECT_OPEN accepts: "/system" or "/session".
  std::string uri_path = "/system";
  // The connection came in on the read-only socket: read-only whatever the open flags say.
  bool socket_read_only = false;
  // Event callbacks one connection may hold at once; more are refused.
  std::size_t max_event_callbacks = 256;
  // Set when the peer may not use this socket: every call is refused with this text
  // (an "authentication failed" error) and the connection never opens.
  std::optional<std::string> denied_reason;
  // The host's system token (rpc/identity.h). A connection whose delegated identity
  // (CONNECT_SET_IDENTITY) carries it may read private values; null means no token is known
  // and no connection is ever elevated.
  std::shared_ptr<const SecretBytes> system_token;
  // The listener asks for SASL authentication (auth_* = "sasl"); null: none.
  std::optional<SaslPolicy> sasl;
};

class RemoteSession {
 public:
  // driver must outlive the session; sink is held weakly by event registrations.
  RemoteSession(SecretDriver& driver, SessionPolicy policy, std::weak_ptr<FrameSink> sink);
  ~RemoteSession();  // drops every event registration of this connection

  RemoteSession(const RemoteSession&) = delete;
  RemoteSession& operator=(const RemoteSession&) = delete;

  // Handles one CALL of the REMOTE program (the caller has checked prog, vers, type and
  // status) and returns its reply frame.
  WireBuffer HandleCall(const Header& call, std::span<const std::uint8_t> payload);

  bool is_open() const { return open_; }
  bool read_only() const { return caller_.read_only; }
  // CONNECT_CLOSE was answered: flush the reply, then close the socket.
  bool close_requested() const { return close_requested_; }
  // The client asked about feature 10: the server may now ping it.
  bool keepalive_requested() const { return keepalive_requested_; }
  // SASL is required and not completed yet (the server's handshake deadline applies).
  bool auth_pending() const { return sasl_ && !sasl_->authenticated(); }
  // The SASL user name once authenticated (the connection's identity, sasl-user-name).
  std::optional<std::string> sasl_user_name() const { return sasl_ ? sasl_->user_name() : std::nullopt; }
  // The TLS key size in bits, for SASL's external SSF; call when the TLS handshake is done.
  void SetTlsKeyBits(unsigned bits) {
    if (sasl_) sasl_->SetExternalSsf(bits);
  }
  // Right after the reply that completed SASL with a security layer: the session that must
  // encode and decode every later byte. Null otherwise.
  std::unique_ptr<SaslSession> TakeSecurityLayer() { return sasl_ ? sasl_->TakeLayer() : nullptr; }

 private:
  struct Registration {
    int event_id;
    std::optional<Uuid> filter;
    int callback_id;
  };

  Result<WireBuffer> Dispatch(const Header& call, std::span<const std::uint8_t> payload);
  Result<WireBuffer> Open(const Header& call, std::span<const std::uint8_t> payload);
  Result<WireBuffer> SetIdentity(const Header& call, std::span<const std::uint8_t> payload);
  Result<WireBuffer> RegisterEvent(const Header& call, std::span<const std::uint8_t> payload);
  Result<WireBuffer> DeregisterEvent(const Header& call, std::span<const std::uint8_t> payload);
  Result<WireBuffer> ListAll(const Header& call, std::span<const std::uint8_t> payload);
  Result<WireBuffer> ListUuids(const Header& call, std::span<const std::uint8_t> payload);
  Result<WireBuffer> SaslCall(const Header& call, std::span<const std::uint8_t> payload);

  SecretDriver& driver_;
  SessionPolicy policy_;
  std::weak_ptr<FrameSink> sink_;
  Caller caller_;
  bool open_ = false;
  bool close_requested_ = false;
  bool keepalive_requested_ = false;
  std::vector<Registration> registrations_;  // touched only by HandleCall's thread
  std::unique_ptr<SaslAuthenticator> sasl_;  // null unless the listener asks for SASL
};

}  // namespace vsecret::rpc
