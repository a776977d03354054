#include "rpc/sasl_auth.h"

#include <fnmatch.h>

#include <utility>

#include "base/log.h"

namespace vsecret::rpc {
namespace {

constexpr char kWhere[] = "rpc.sasl";

std::string Peer(const SaslPolicy& p) { return p.endpoint.remote_addr.value_or("local socket"); }

}  // namespace

bool SaslUserNameAllowed(const std::optional<std::vector<std::string>>& patterns, const std::string& user) {
  if (!patterns) return true;
  for (const std::string& p : *patterns) {
    if (::fnmatch(p.c_str(), user.c_str(), 0) == 0) return true;
  }
  return false;
}

std::unexpected<Error> SaslAuthenticator::Refuse(const std::string& why) {
  ++failures_;
  session_.reset();
  Log(LogLevel::kWarning, kWhere, "SASL authentication of " + Peer(policy_) + " failed: " + why);
  return Fail(ErrorCode::kAuthFailed, ErrorDomain::kRpc, "authentication failed: authentication failed");
}

Result<SaslInitRet> SaslAuthenticator::Init() {
  if (session_ || authenticated()) return Refuse("client tried invalid SASL init request");
  auto created = SaslServerSession::Create(policy_.endpoint, policy_.security);
  if (!created) return Refuse(created.error().message());
  auto mechs = (*created)->ListMechanisms();
  if (!mechs) return Refuse(mechs.error().message());
  session_ = std::move(*created);
  return SaslInitRet{std::move(*mechs)};
}

Result<SaslStepRet> SaslAuthenticator::Start(const SaslStartArgs& args) {
  if (!session_ || authenticated()) return Refuse("client tried invalid SASL start request");
  return After(session_->Start(args.mech, args.token));
}

Result<SaslStepRet> SaslAuthenticator::Step(const SaslStepArgs& args) {
  if (!session_ || authenticated()) return Refuse("client tried invalid SASL step request");
  return After(session_->Step(args.token));
}

Result<SaslStepRet> SaslAuthenticator::After(Result<SaslStepResult> step) {
  if (!step) return Refuse(step.error().message());
  SaslStepRet ret;
  ret.complete = step->complete;
  ret.token = std::move(step->token);
  if (!step->complete) return ret;

  auto ssf = session_->Ssf();
  if (!ssf) return Refuse(ssf.error().message());
  if (!policy_.security.secure_transport && *ssf < policy_.security.tcp_min_ssf) {
    return Refuse("negotiated SSF " + std::to_string(*ssf) + " was not strong enough");
  }
  auto user = session_->UserName();
  if (!user) return Refuse(user.error().message());
  if (!SaslUserNameAllowed(policy_.allowed_usernames, *user)) {
    return Refuse("SASL client identity '" + *user + "' not allowed by ACL");
  }
  Log(LogLevel::kInfo, kWhere,
      "SASL client " + Peer(policy_) + " authenticated as '" + *user + "' (SSF " + std::to_string(*ssf) +
          ")");
  user_ = std::move(*user);
  if (*ssf > 0 && !policy_.security.secure_transport) {
    layer_ = std::move(session_);
  } else {
    session_.reset();
  }
  return ret;
}

}  // namespace vsecret::rpc
