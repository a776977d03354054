#include "rpc/remote_dispatcher.h"

#include <string>
#include <utility>

#include "base/uri.h"
#include "rpc/identity.h"
#include "rpc/remote_messages.h"
#include "rpc/remote_proc_table.h"

namespace vsecret::rpc {
namespace {

// libvirtd 9.0 puts serial 1 in every event MESSAGE (libvirt's rpc.rst says 0); clients ignore it.
constexpr std::uint32_t kEventSerial = 1;

std::unexpected<Error> RpcError(std::string message) {
  return Fail(ErrorCode::kRpc, ErrorDomain::kRpc, std::move(message));
}

Result<WireBuffer> VoidReply(const Header& call) { return EmptyFrame(ReplyHeader(call, MessageStatus::kOk)); }

template <typename T>
Result<WireBuffer> Reply(const Header& call, const T& ret) {
  return EncodeFrame(ReplyHeader(call, MessageStatus::kOk), ret);
}

// The reply a procedure served from the recorded table gets once the connection is open.
Error TableAnswer(const RemoteProcInfo& info, std::span<const std::uint8_t> payload) {
  auto code = static_cast<ErrorCode>(info.code);
  auto domain = static_cast<ErrorDomain>(info.domain);
  switch (info.answer) {
    case ProcAnswer::kNoSupport:
      return Error(code, domain,
                   std::string("this function is not supported by the connection driver: ") + info.text);
    case ProcAnswer::kCallbackNotRegistered: {
      XdrDecoder dec(payload);
      std::int32_t id = 0;
      if (!dec.I32(&id)) id = 0;
      std::string text = info.text;
      text.replace(text.find("%d"), 2, std::to_string(id));
      return Error(code, domain, std::move(text));
    }
    default:
      return Error(code, domain, info.text);
  }
}

SecretEventId ToEventId(int id) { return static_cast<SecretEventId>(id); }

}  // namespace

RemoteSession::RemoteSession(SecretDriver& driver, SessionPolicy policy, std::weak_ptr<FrameSink> sink)
    : driver_(driver), policy_(std::move(policy)), sink_(std::move(sink)) {
  caller_.read_only = policy_.socket_read_only;
  // Remote callers see private values only once they delegate an identity carrying the host's
  // system token (SetIdentity below).
  caller_.trusted = false;
  if (policy_.sasl) sasl_ = std::make_unique<SaslAuthenticator>(*policy_.sasl);
}

RemoteSession::~RemoteSession() {
  for (const Registration& r : registrations_) (void)driver_.events().Deregister(r.callback_id);
}

WireBuffer RemoteSession::HandleCall(const Header& call, std::span<const std::uint8_t> payload) {
  auto reply = Dispatch(call, payload);
  if (reply) return std::move(*reply);
  return ErrorReplyFrame(call, reply.error());
}

Result<WireBuffer> RemoteSession::Dispatch(const Header& call, std::span<const std::uint8_t> payload) {
  const RemoteProcInfo* info = FindRemoteProc(call.proc);
  if (info == nullptr || info->answer == ProcAnswer::kUnmodelled) {
    return RpcError("unknown procedure: " + std::to_string(call.proc));
  }
  if (policy_.denied_reason) {
    return Fail(ErrorCode::kAuthFailed, ErrorDomain::kRpc,
                "authentication failed: " + *policy_.denied_reason);
  }
  auto proc = static_cast<Proc>(call.proc);
  const bool auth_proc = proc == Proc::kAuthList || proc == Proc::kAuthSaslInit ||
                         proc == Proc::kAuthSaslStart || proc == Proc::kAuthSaslStep ||
                         proc == Proc::kAuthPolkit;
  if (sasl_ && !sasl_->authenticated() && !auth_proc) {
    // Deliberately not AUTH_FAILED, as libvirtd: older clients did not know that code.
    return RpcError("authentication required");
  }
  if (sasl_ && (proc == Proc::kAuthSaslInit || proc == Proc::kAuthSaslStart || proc == Proc::kAuthSaslStep)) {
    return SaslCall(call, payload);
  }
  if (info->answer == ProcAnswer::kLiteral && info->code == static_cast<int>(ErrorCode::kAuthFailed)) {
    return std::unexpected(TableAnswer(*info, payload));  // not offered on this listener (or polkit)
  }
  auto not_open = [&]() -> std::unexpected<Error> {
    return InternalError(ErrorDomain::kRpc,
                         info->hypervisor ? "hypervisor connection not open" : "connection not open");
  };

  if (info->answer != ProcAnswer::kImplemented) {
    // libvirtd decodes the arguments before it looks at the connection (remote_proc_table.h).
    std::optional<Error> argument_error;
    if (info->check != nullptr) {
      auto checked = info->check(payload);
      if (!checked) return std::unexpected(checked.error());
      argument_error = std::move(*checked);
    }
    if (!open_) return not_open();
    if (argument_error) return std::unexpected(std::move(*argument_error));
    return std::unexpected(TableAnswer(*info, payload));
  }

  // Implemented procedures: decode, then the open check, then the call (libvirtd's order).
  switch (proc) {
    case Proc::kAuthList:
      return Reply(call, AuthListRet{{sasl_ ? kAuthTypeSasl : kAuthTypeNone}});
    case Proc::kConnectSupportsFeature: {
      auto args = DecodePayload<IntValue>(payload);
      if (!args) return std::unexpected(args.error());
      if (args->value == kFeatureProgramKeepAlive) {
        keepalive_requested_ = true;
        return Reply(call, IntValue{1});
      }
      if (!open_) return not_open();
      bool yes = args->value == kFeatureRemoteEventCallback || args->value == kFeatureRemoteCloseCallback;
      return Reply(call, IntValue{yes ? 1 : 0});
    }
    case Proc::kConnectOpen:
      return Open(call, payload);
    case Proc::kConnectClose:
      close_requested_ = true;
      return VoidReply(call);
    case Proc::kConnectSetIdentity:
      return SetIdentity(call, payload);
    default:
      break;
  }

  switch (proc) {
    case Proc::kConnectGetType:
    case Proc::kConnectGetUri:
    case Proc::kConnectIsSecure:
    case Proc::kConnectGetLibVersion:
    case Proc::kConnectRegisterCloseCallback:
    case Proc::kConnectUnregisterCloseCallback:
    case Proc::kConnectNumOfSecrets:
      if (!open_) return not_open();
      break;
    default:
      break;
  }
  switch (proc) {
    case Proc::kConnectGetType:
      return Reply(call, StringValue{"secret"});
    case Proc::kConnectGetUri:
      return Reply(call, StringValue{"secret://" + policy_.uri_path});
    case Proc::kConnectIsSecure:
      return Reply(call, IntValue{1});  // a local UNIX socket
    case Proc::kConnectGetLibVersion:
      return Reply(call, HyperValue{kLibVersion});
    case Proc::kConnectRegisterCloseCallback:
    case Proc::kConnectUnregisterCloseCallback:
      // The close callback is fired by the client itself when the socket goes away.
      return VoidReply(call);
    case Proc::kConnectNumOfSecrets:
      return Reply(call, IntValue{driver_.NumOfSecrets()});
    case Proc::kConnectListSecrets:
      return ListUuids(call, payload);
    case Proc::kConnectListAllSecrets:
      return ListAll(call, payload);
    case Proc::kConnectSecretEventRegisterAny:
      return RegisterEvent(call, payload);
    case Proc::kConnectSecretEventDeregisterAny:
      return DeregisterEvent(call, payload);
    default:
      break;
  }

  // The per-secret procedures.
  switch (proc) {
    case Proc::kSecretLookupByUuid: {
      auto args = DecodePayload<LookupByUuidArgs>(payload);
      if (!args) return std::unexpected(args.error());
      if (!open_) return not_open();
      auto ref = driver_.LookupByUuid(args->uuid);
      if (!ref) return std::unexpected(ref.error());
      return Reply(call, SecretHandle{*ref});
    }
    case Proc::kSecretLookupByUsage: {
      auto args = DecodePayload<LookupByUsageArgs>(payload);
      if (!args) return std::unexpected(args.error());
      if (!open_) return not_open();
      auto ref = driver_.LookupByUsage(args->usage_type, args->usage_id);
      if (!ref) return std::unexpected(ref.error());
      return Reply(call, SecretHandle{*ref});
    }
    case Proc::kSecretDefineXml: {
      auto args = DecodePayload<DefineXmlArgs>(payload);
      if (!args) return std::unexpected(args.error());
      if (!open_) return not_open();
      auto ref = driver_.DefineXml(caller_, args->xml, args->flags);
      if (!ref) return std::unexpected(ref.error());
      return Reply(call, SecretHandle{*ref});
    }
    case Proc::kSecretGetXmlDesc: {
      auto args = DecodePayload<SecretFlagsArgs>(payload);
      if (!args) return std::unexpected(args.error());
      if (!open_) return not_open();
      auto xml = driver_.GetXmlDesc(caller_, args->secret.uuid, args->flags);
      if (!xml) return std::unexpected(xml.error());
      return Reply(call, StringValue{std::move(*xml)});
    }
    case Proc::kSecretSetValue: {
      auto args = DecodePayload<SetValueArgs>(payload);
      if (!args) return std::unexpected(args.error());
      if (!open_) return not_open();
      auto done = driver_.SetValue(caller_, args->secret.uuid, args->value, args->flags);
      if (!done) return std::unexpected(done.error());
      return VoidReply(call);
    }
    case Proc::kSecretGetValue: {
      auto args = DecodePayload<SecretFlagsArgs>(payload);
      if (!args) return std::unexpected(args.error());
      if (!open_) return not_open();
      auto value = driver_.GetValue(caller_, args->secret.uuid, args->flags);
      if (!value) return std::unexpected(value.error());
      return Reply(call, GetValueRet{std::move(*value)});
    }
    case Proc::kSecretUndefine: {
      auto args = DecodePayload<SecretHandle>(payload);
      if (!args) return std::unexpected(args.error());
      if (!open_) return not_open();
      auto done = driver_.Undefine(caller_, args->secret.uuid);
      if (!done) return std::unexpected(done.error());
      return VoidReply(call);
    }
    default:
      return RpcError("unknown procedure: " + std::to_string(call.proc));
  }
}

Result<WireBuffer> RemoteSession::SaslCall(const Header& call, std::span<const std::uint8_t> payload) {
  auto after = [&](auto result) -> Result<WireBuffer> {
    if (sasl_->exhausted()) close_requested_ = true;  // bounded retries: the reply, then EOF
    if (!result) return std::unexpected(result.error());
    return Reply(call, *result);
  };
  switch (static_cast<Proc>(call.proc)) {
    case Proc::kAuthSaslInit:
      return after(sasl_->Init());
    case Proc::kAuthSaslStart: {
      auto args = DecodePayload<SaslStartArgs>(payload);
      if (!args) return std::unexpected(args.error());
      return after(sasl_->Start(*args));
    }
    default: {
      auto args = DecodePayload<SaslStepArgs>(payload);
      if (!args) return std::unexpected(args.error());
      return after(sasl_->Step(*args));
    }
  }
}

Result<WireBuffer> RemoteSession::Open(const Header& call, std::span<const std::uint8_t> payload) {
  auto args = DecodePayload<OpenArgs>(payload);
  if (!args) return std::unexpected(args.error());
  if (open_) return InternalError(ErrorDomain::kRpc, "connection already open");
  // What a secret-only libvirtd answers for names it cannot serve (a NULL name asks it to
  // probe for a driver, which fails; observed against libvirtd).
  if (!args->name) return InternalError(ErrorDomain::kRpc, "connection not open");
  const std::string& name = *args->name;
  auto no_driver = [](const std::string& shown) {
    return Fail(ErrorCode::kNoConnect, ErrorDomain::kNone, "no connection driver available for " + shown);
  };
  if (name.empty()) return no_driver("<null>");
  auto uri = ParseConnectionUri(name);
  if (!uri || uri->scheme != "secret" || !uri->transport.empty() || !uri->host.empty())
    return no_driver(name);
  if (uri->path == "/embed")
    return InternalError(ErrorDomain::kNone, "A secret driver is already registered");
  if (uri->path != policy_.uri_path) {
    return InternalError(ErrorDomain::kNone,
                         "unexpected secret URI path '" + uri->path + "', try secret://" + policy_.uri_path);
  }
  open_ = true;
  if (args->flags & kConnectReadOnly) caller_.read_only = true;
  return VoidReply(call);
}

Result<WireBuffer> RemoteSession::SetIdentity(const Header& call, std::span<const std::uint8_t> payload) {
  auto args = DecodePayload<SetIdentityArgs>(payload);
  if (!args) return std::unexpected(args.error());
  if (!open_) return InternalError(ErrorDomain::kRpc, "hypervisor connection not open");
  // libvirtd neither checks the flags nor refuses the call on a read-only socket; read-only
  // connections are still refused every value by the driver.
  auto identity = ValidateIdentityParams(args->params);
  if (!identity) return std::unexpected(identity.error());
  // The new identity replaces the previous one entirely: a later call without the token drops
  // the elevation.
  caller_.trusted = identity->has_system_token && policy_.system_token != nullptr &&
                    SystemTokenMatches(*policy_.system_token, identity->system_token);
  return VoidReply(call);
}

Result<WireBuffer> RemoteSession::ListUuids(const Header& call, std::span<const std::uint8_t> payload) {
  auto args = DecodePayload<IntValue>(payload);
  if (!args) return std::unexpected(args.error());
  if (!open_) return InternalError(ErrorDomain::kRpc, "connection not open");
  if (args->value < 0) return RpcError("maxuuids must be non-negative");
  if (static_cast<std::size_t>(args->value) > kSecretListMax)
    return RpcError("maxuuids > REMOTE_SECRET_LIST_MAX");
  auto uuids = driver_.ListUuids(args->value);
  if (!uuids) return std::unexpected(uuids.error());
  return Reply(call, ListSecretsRet{std::move(*uuids)});
}

Result<WireBuffer> RemoteSession::ListAll(const Header& call, std::span<const std::uint8_t> payload) {
  auto args = DecodePayload<ListAllArgs>(payload);
  if (!args) return std::unexpected(args.error());
  if (!open_) return InternalError(ErrorDomain::kRpc, "connection not open");
  auto list = driver_.ListAll(args->flags);
  if (!list) return std::unexpected(list.error());
  ListAllRet ret;
  ret.ret = static_cast<std::uint32_t>(list->size());
  if (args->need_results != 0) {
    if (list->size() > kSecretListMax) {
      return RpcError("Too many secrets '" + std::to_string(list->size()) + "' for limit '" +
                      std::to_string(kSecretListMax) + "'");
    }
    ret.secrets = std::move(*list);
  }
  return Reply(call, ret);
}

Result<WireBuffer> RemoteSession::RegisterEvent(const Header& call, std::span<const std::uint8_t> payload) {
  auto args = DecodePayload<EventRegisterArgs>(payload);
  if (!args) return std::unexpected(args.error());
  if (!open_) return InternalError(ErrorDomain::kRpc, "connection not open");
  if (args->event_id != static_cast<int>(SecretEventId::kLifecycle) &&
      args->event_id != static_cast<int>(SecretEventId::kValueChanged)) {
    return InternalError(ErrorDomain::kRpc, "unsupported secret event ID " + std::to_string(args->event_id));
  }
  std::optional<Uuid> filter;
  if (args->secret) filter = args->secret->uuid;
  for (const Registration& r : registrations_) {
    if (r.event_id == args->event_id && r.filter == filter) {
      return InvalidArg(ErrorDomain::kNone, "invalid argument: event callback already tracked");
    }
  }
  if (registrations_.size() >= policy_.max_event_callbacks) {
    return Fail(
        ErrorCode::kOperationFailed, ErrorDomain::kRpc,
        "operation failed: too many secret event callbacks on this connection (max_client_event_callbacks " +
            std::to_string(policy_.max_event_callbacks) + ")");
  }

  // The bus hands out the id only after registering, so the callback reads it from a shared
  // cell; until the cell is set no reply has told the client the id, so nothing is lost.
  auto id_cell = std::make_shared<std::atomic<int>>(-1);
  std::weak_ptr<FrameSink> sink = sink_;
  int event_id = args->event_id;
  int callback_id = driver_.events().Register(
      ToEventId(event_id), filter, [sink, id_cell, event_id](const SecretEvent& event) {
        int cid = id_cell->load();
        auto target = sink.lock();
        if (cid < 0 || !target) return;
        Header h;
        h.type = MessageType::kMessage;
        h.serial = kEventSerial;
        Result<WireBuffer> frame;
        if (event_id == static_cast<int>(SecretEventId::kLifecycle)) {
          h.proc = static_cast<std::int32_t>(Proc::kSecretEventLifecycle);
          frame = EncodeFrame(
              h, LifecycleMsg{cid, event.secret, static_cast<std::int32_t>(event.lifecycle), event.detail});
        } else {
          h.proc = static_cast<std::int32_t>(Proc::kSecretEventValueChanged);
          frame = EncodeFrame(h, ValueChangedMsg{cid, event.secret});
        }
        if (frame) target->SendFrame(std::move(*frame));
      });
  id_cell->store(callback_id);
  registrations_.push_back(Registration{event_id, filter, callback_id});
  return Reply(call, IntValue{callback_id});
}

Result<WireBuffer> RemoteSession::DeregisterEvent(const Header& call, std::span<const std::uint8_t> payload) {
  auto args = DecodePayload<IntValue>(payload);
  if (!args) return std::unexpected(args.error());
  if (!open_) return InternalError(ErrorDomain::kRpc, "connection not open");
  for (auto it = registrations_.begin(); it != registrations_.end(); ++it) {
    if (it->callback_id == args->value) {
      (void)driver_.events().Deregister(it->callback_id);
      registrations_.erase(it);
      return VoidReply(call);
    }
  }
  // libvirtd 9.0 says "node device event callback" here (a copy-paste slip); the object is named
  // correctly instead. The code and domain are libvirtd's.
  return InternalError(ErrorDomain::kRpc,
                       "secret event callback " + std::to_string(args->value) + " not registered");
}

}  // namespace vsecret::rpc
