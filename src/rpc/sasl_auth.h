// SaslAuthenticator: the server side of libvirt's SASL authentication for one connection
// (AUTH_SASL_INIT, AUTH_SASL_START, AUTH_SASL_STEP), with libvirtd 9.0's rules
// (remote_daemon_dispatch.c):
//  * INIT creates the Cyrus session and lists mechanisms; a second INIT while one is in progress
//    fails. START/STEP without INIT fail.
//  * On completion: on a transport that is not secure (plain TCP) the negotiated SSF must reach
//    tcp_min_ssf ("negotiated SSF %d was not strong enough", logged); the user name must match
//    sasl_allowed_username_list (fnmatch patterns; no list = everyone, an empty list = nobody;
//    "SASL client identity '%s' not allowed by ACL", logged).
//  * Every failure answers VIR_ERR_AUTH_FAILED "authentication failed: authentication failed"
//    (the client learns nothing more) and drops the session, so the client may start over.
//  * vsecretd adds a bound: after max_failures failed attempts exhausted() is true and the
//    connection is closed after the reply.
// Log lines name the user and the peer address, never tokens or credentials.
//
// Thread-safety: none; used from the server loop thread that owns the connection.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rpc/sasl_messages.h"
#include "rpc/sasl_session.h"

namespace vsecret::rpc {

struct SaslPolicy {
  SaslEndpoint endpoint;
  SaslSecurity security;
  // sasl_allowed_username_list: null = everyone, empty = nobody.
  std::optional<std::vector<std::string>> allowed_usernames;
  int max_failures = 5;
};

// fnmatch(3) of each pattern against the name, as libvirt's virNetSASLContextCheckIdentity.
bool SaslUserNameAllowed(const std::optional<std::vector<std::string>>& patterns, const std::string& user);

class SaslAuthenticator {
 public:
  explicit SaslAuthenticator(SaslPolicy policy) : policy_(std::move(policy)) {}

  // The TLS key size in bits, once the TLS handshake is done (the external SSF).
  void SetExternalSsf(unsigned bits) { policy_.security.external_ssf = bits; }

  Result<SaslInitRet> Init();
  Result<SaslStepRet> Start(const SaslStartArgs& args);
  Result<SaslStepRet> Step(const SaslStepArgs& args);

  bool authenticated() const { return user_.has_value(); }
  const std::optional<std::string>& user_name() const { return user_; }
  bool exhausted() const { return failures_ >= policy_.max_failures; }
  // After completion with a security layer (SSF > 0 on a transport that is not secure): the
  // session, to encode and decode every later byte. Null otherwise or once taken.
  std::unique_ptr<SaslSession> TakeLayer() { return std::move(layer_); }

 private:
  Result<SaslStepRet> After(Result<SaslStepResult> step);
  // The refusal every failure gets; counts it and drops the session.
  std::unexpected<Error> Refuse(const std::string& why);

  SaslPolicy policy_;
  std::unique_ptr<SaslServerSession> session_;  // between INIT and completion
  std::unique_ptr<SaslSession> layer_;
  std::optional<std::string> user_;
  int failures_ = 0;
};

}  // namespace vsecret::rpc
