#include "rpc/remote_messages.h"

#include <array>
#include <bit>
#include <string_view>
#include <utility>

#include "rpc/protocol.h"

namespace vsecret::rpc {
namespace {

void EncodeSecret(XdrEncoder& enc, const SecretRef& s) {
  enc.FixedOpaque(s.uuid.bytes());
  enc.I32(static_cast<std::int32_t>(s.usage_type));
  enc.String(s.usage_id);
}

bool DecodeUuid(XdrDecoder& dec, Uuid* uuid) {
  std::array<std::uint8_t, Uuid::kSize> raw{};
  if (!dec.FixedOpaque(raw)) return false;
  *uuid = Uuid(raw);
  return true;
}

bool DecodeSecret(XdrDecoder& dec, SecretRef* s) {
  std::int32_t type = 0;
  if (!DecodeUuid(dec, &s->uuid) || !dec.I32(&type) || !dec.String(kStringMax, &s->usage_id)) return false;
  // Any int is representable: the wire may carry usage types this build does not name.
  s->usage_type = static_cast<UsageType>(type);
  return true;
}

}  // namespace

RemoteError RemoteError::FromError(const Error& error) {
  RemoteError e;
  e.code = static_cast<std::int32_t>(error.code());
  e.domain = static_cast<std::int32_t>(error.domain());
  e.message = error.message();
  std::string_view msg = error.message();
  // The sent message is libvirt's template filled with the detail: str1 is the template (the
  // code's prefix and "%s"), str2 the detail; codes without a prefix use the bare "%s".
  e.str1 = "%s";
  e.str2 = error.message();
  if (const std::string_view prefix = LibvirtMessagePrefix(error.code());
      !prefix.empty() && msg.starts_with(prefix)) {
    e.str1 = std::string(prefix) + "%s";
    e.str2 = std::string(msg.substr(prefix.size()));
  }
  return e;
}

Error RemoteError::ToError() const {
  std::string text = message.value_or("An error occurred, but the cause is unknown");
  auto error_domain = static_cast<ErrorDomain>(domain);
  // libvirt's client turns an "unknown procedure" RPC error into NO_SUPPORT so that callers
  // can fall back to older procedures.
  if (code == static_cast<std::int32_t>(ErrorCode::kRpc) && level == 2 &&
      (error_domain == ErrorDomain::kRpc || error_domain == ErrorDomain::kRemote) &&
      text.starts_with("unknown procedure")) {
    return Error(ErrorCode::kNoSupport, error_domain, std::move(text));
  }
  return Error(static_cast<ErrorCode>(code), error_domain, std::move(text));
}

void Encode(XdrEncoder& enc, const RemoteError& v) {
  enc.I32(v.code);
  enc.I32(v.domain);
  enc.OptionalString(v.message);
  enc.I32(v.level);
  enc.Present(false);  // dom
  enc.OptionalString(v.str1);
  enc.OptionalString(v.str2);
  enc.OptionalString(v.str3);
  enc.I32(v.int1);
  enc.I32(v.int2);
  enc.Present(false);  // net
}

bool Decode(XdrDecoder& dec, RemoteError* v) {
  dec.I32(&v->code);
  dec.I32(&v->domain);
  dec.OptionalString(kStringMax, &v->message);
  dec.I32(&v->level);
  bool dom = false;
  if (dec.Present(&dom) && dom) {
    // remote_nonnull_domain: name, uuid, id. Never sent for secrets; skipped when present.
    std::string name;
    Uuid uuid;
    std::int32_t id;
    dec.String(kStringMax, &name);
    DecodeUuid(dec, &uuid);
    dec.I32(&id);
  }
  dec.OptionalString(kStringMax, &v->str1);
  dec.OptionalString(kStringMax, &v->str2);
  dec.OptionalString(kStringMax, &v->str3);
  dec.I32(&v->int1);
  dec.I32(&v->int2);
  // The trailing optional network handle is not needed; a short error body still decodes.
  return dec.ok();
}

void Encode(XdrEncoder& enc, const IntValue& v) { enc.I32(v.value); }
bool Decode(XdrDecoder& dec, IntValue* v) { return dec.I32(&v->value); }

void Encode(XdrEncoder& enc, const HyperValue& v) { enc.U64(v.value); }
bool Decode(XdrDecoder& dec, HyperValue* v) { return dec.U64(&v->value); }

void Encode(XdrEncoder& enc, const StringValue& v) { enc.String(v.value); }
bool Decode(XdrDecoder& dec, StringValue* v) { return dec.String(kStringMax, &v->value); }

void Encode(XdrEncoder& enc, const AuthListRet& v) {
  enc.U32(static_cast<std::uint32_t>(v.types.size()));
  for (std::int32_t t : v.types) enc.I32(t);
}
bool Decode(XdrDecoder& dec, AuthListRet* v) {
  std::uint32_t n;
  if (!dec.Count(kAuthTypeListMax, &n)) return false;
  v->types.resize(n);
  for (auto& t : v->types) dec.I32(&t);
  return dec.ok();
}

void Encode(XdrEncoder& enc, const OpenArgs& v) {
  enc.OptionalString(v.name);
  enc.U32(v.flags);
}
bool Decode(XdrDecoder& dec, OpenArgs* v) {
  dec.OptionalString(kStringMax, &v->name);
  return dec.U32(&v->flags);
}

void Encode(XdrEncoder& enc, const ListSecretsRet& v) {
  enc.U32(static_cast<std::uint32_t>(v.uuids.size()));
  for (const auto& u : v.uuids) enc.String(u);
}
bool Decode(XdrDecoder& dec, ListSecretsRet* v) {
  std::uint32_t n;
  if (!dec.Count(kSecretListMax, &n)) return false;
  v->uuids.resize(n);
  for (auto& u : v->uuids) dec.String(kStringMax, &u);
  return dec.ok();
}

void Encode(XdrEncoder& enc, const LookupByUuidArgs& v) { enc.FixedOpaque(v.uuid.bytes()); }
bool Decode(XdrDecoder& dec, LookupByUuidArgs* v) { return DecodeUuid(dec, &v->uuid); }

void Encode(XdrEncoder& enc, const SecretHandle& v) { EncodeSecret(enc, v.secret); }
bool Decode(XdrDecoder& dec, SecretHandle* v) { return DecodeSecret(dec, &v->secret); }

void Encode(XdrEncoder& enc, const DefineXmlArgs& v) {
  enc.String(v.xml);
  enc.U32(v.flags);
}
bool Decode(XdrDecoder& dec, DefineXmlArgs* v) {
  dec.String(kStringMax, &v->xml);
  return dec.U32(&v->flags);
}

void Encode(XdrEncoder& enc, const SecretFlagsArgs& v) {
  EncodeSecret(enc, v.secret);
  enc.U32(v.flags);
}
bool Decode(XdrDecoder& dec, SecretFlagsArgs* v) {
  DecodeSecret(dec, &v->secret);
  return dec.U32(&v->flags);
}

void Encode(XdrEncoder& enc, const SetValueArgs& v) {
  EncodeSecret(enc, v.secret);
  enc.Opaque(v.value.span());
  enc.U32(v.flags);
}
bool Decode(XdrDecoder& dec, SetValueArgs* v) {
  DecodeSecret(dec, &v->secret);
  dec.Opaque(kSecretValueMax, &v->value);
  return dec.U32(&v->flags);
}

void Encode(XdrEncoder& enc, const GetValueRet& v) { enc.Opaque(v.value.span()); }
bool Decode(XdrDecoder& dec, GetValueRet* v) { return dec.Opaque(kSecretValueMax, &v->value); }

void Encode(XdrEncoder& enc, const LookupByUsageArgs& v) {
  enc.I32(v.usage_type);
  enc.String(v.usage_id);
}
bool Decode(XdrDecoder& dec, LookupByUsageArgs* v) {
  dec.I32(&v->usage_type);
  return dec.String(kStringMax, &v->usage_id);
}

void Encode(XdrEncoder& enc, const ListAllArgs& v) {
  enc.I32(v.need_results);
  enc.U32(v.flags);
}
bool Decode(XdrDecoder& dec, ListAllArgs* v) {
  dec.I32(&v->need_results);
  return dec.U32(&v->flags);
}

void Encode(XdrEncoder& enc, const ListAllRet& v) {
  enc.U32(static_cast<std::uint32_t>(v.secrets.size()));
  for (const auto& s : v.secrets) EncodeSecret(enc, s);
  enc.U32(v.ret);
}
bool Decode(XdrDecoder& dec, ListAllRet* v) {
  std::uint32_t n;
  if (!dec.Count(kSecretListMax, &n)) return false;
  // Each entry is at least 24 bytes: refuse a count the payload cannot hold before allocating.
  if (std::size_t{n} * 24 > dec.remaining()) return false;
  v->secrets.resize(n);
  for (auto& s : v->secrets) DecodeSecret(dec, &s);
  return dec.U32(&v->ret);
}

void Encode(XdrEncoder& enc, const EventRegisterArgs& v) {
  enc.I32(v.event_id);
  enc.Present(v.secret.has_value());
  if (v.secret) EncodeSecret(enc, *v.secret);
}
bool Decode(XdrDecoder& dec, EventRegisterArgs* v) {
  bool present = false;
  dec.I32(&v->event_id);
  if (!dec.Present(&present)) return false;
  if (present) {
    SecretRef s;
    if (!DecodeSecret(dec, &s)) return false;
    v->secret = std::move(s);
  }
  return dec.ok();
}

void Encode(XdrEncoder& enc, const LifecycleMsg& v) {
  enc.I32(v.callback_id);
  EncodeSecret(enc, v.secret);
  enc.I32(v.event);
  enc.I32(v.detail);
}
bool Decode(XdrDecoder& dec, LifecycleMsg* v) {
  dec.I32(&v->callback_id);
  DecodeSecret(dec, &v->secret);
  dec.I32(&v->event);
  return dec.I32(&v->detail);
}

void Encode(XdrEncoder& enc, const ValueChangedMsg& v) {
  enc.I32(v.callback_id);
  EncodeSecret(enc, v.secret);
}
bool Decode(XdrDecoder& dec, ValueChangedMsg* v) {
  dec.I32(&v->callback_id);
  return DecodeSecret(dec, &v->secret);
}

Error DecodePayloadError() {
  return Error(ErrorCode::kRpc, ErrorDomain::kRpc, "Unable to decode message payload");
}

WireBuffer ErrorReplyFrame(const Header& call, const Error& error) {
  auto frame = EncodeFrame(ReplyHeader(call, MessageStatus::kError), RemoteError::FromError(error));
  if (frame) return std::move(*frame);
  // Only a message of megabytes could overflow a frame; the short form always fits.
  Error shorter(error.code(), error.domain(), error.message().substr(0, 4096));
  return *EncodeFrame(ReplyHeader(call, MessageStatus::kError), RemoteError::FromError(shorter));
}

void Encode(XdrEncoder& enc, const SetIdentityArgs& v) {
  enc.U32(static_cast<std::uint32_t>(v.params.size()));
  for (const TypedParam& p : v.params) {
    enc.String(p.field);
    enc.I32(static_cast<std::int32_t>(p.type));
    switch (p.type) {
      case TypedParamType::kInt:
      case TypedParamType::kBoolean:
        enc.I32(static_cast<std::int32_t>(p.i));
        break;
      case TypedParamType::kUInt:
        enc.U32(static_cast<std::uint32_t>(p.u));
        break;
      case TypedParamType::kLLong:
        enc.U64(static_cast<std::uint64_t>(p.i));
        break;
      case TypedParamType::kULLong:
        enc.U64(p.u);
        break;
      case TypedParamType::kDouble:
        enc.U64(std::bit_cast<std::uint64_t>(p.d));
        break;
      case TypedParamType::kString:
        enc.Opaque(p.s.span());
        break;
    }
  }
  enc.U32(v.flags);
}

bool Decode(XdrDecoder& dec, SetIdentityArgs* v) {
  std::uint32_t n = 0;
  if (!dec.Count(kIdentityParamsMax, &n)) return false;
  v->params.clear();
  v->params.reserve(n);
  for (std::uint32_t k = 0; k < n; ++k) {
    TypedParam p;
    std::int32_t type = 0;
    if (!dec.String(kStringMax, &p.field) || !dec.I32(&type)) return false;
    switch (type) {
      case 1:
      case 6: {
        std::int32_t x = 0;
        if (!dec.I32(&x)) return false;
        p.i = x;
        break;
      }
      case 2: {
        std::uint32_t x = 0;
        if (!dec.U32(&x)) return false;
        p.u = x;
        break;
      }
      case 3: {
        std::uint64_t x = 0;
        if (!dec.U64(&x)) return false;
        p.i = static_cast<std::int64_t>(x);
        break;
      }
      case 4:
        if (!dec.U64(&p.u)) return false;
        break;
      case 5: {
        std::uint64_t x = 0;
        if (!dec.U64(&x)) return false;
        p.d = std::bit_cast<double>(x);
        break;
      }
      case 7:
        // A string value is read into a wiping buffer: system.token is one.
        if (!dec.Opaque(kStringMax, &p.s)) return false;
        break;
      default:
        return false;  // a union arm XDR does not know: the payload is undecodable
    }
    p.type = static_cast<TypedParamType>(type);
    v->params.push_back(std::move(p));
  }
  return dec.U32(&v->flags);
}

}  // namespace vsecret::rpc
