// The XDR payloads of the REMOTE program procedures a secret daemon speaks (the connection-level
// and the secret procedures), plus remote_error. Each struct names its procedure and direction; each
// has an Encode (append to an encoder) and a Decode (sticky-failure read) overload, so a
// payload is read with DecodePayload<T>() and written into a FrameBuilder.
//
// Limits are enforced while decoding, exactly where libvirt's decoder enforces them: strings
// at 4 MiB, secret values at 64 KiB, secret lists at 16 384 entries, auth lists at 20.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rpc/frame.h"
#include "rpc/identity.h"
#include "rpc/xdr.h"
#include "vsecret/error.h"
#include "vsecret/secret.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::rpc {

// remote_error: the payload of every REPLY with status ERROR.
struct RemoteError {
  std::int32_t code = 0;
  std::int32_t domain = 0;
  std::optional<std::string> message;
  std::int32_t level = 2;  // VIR_ERR_ERROR
  std::optional<std::string> str1, str2, str3;
  std::int32_t int1 = -1;
  std::int32_t int2 = -1;

  // Fills str1/str2 the way libvirt's error reporting does: the format template of the code
  // ("Secret not found: %s") and the detail the template was filled with.
  static RemoteError FromError(const Error& error);
  // The error as the client reports it, with libvirt's client-side rules: a missing message
  // becomes a generic text, and "unknown procedure" RPC errors become NO_SUPPORT.
  Error ToError() const;
};

// Single-value payloads shared by many procedures.
struct IntValue {
  std::int32_t value = 0;
};
struct HyperValue {
  std::uint64_t value = 0;
};
struct StringValue {
  std::string value;
};

// 66 AUTH_LIST ret.
struct AuthListRet {
  std::vector<std::int32_t> types;
};
// 1 CONNECT_OPEN args.
struct OpenArgs {
  std::optional<std::string> name;
  std::uint32_t flags = 0;
};
// 140 CONNECT_LIST_SECRETS ret.
struct ListSecretsRet {
  std::vector<std::string> uuids;
};
// 141 SECRET_LOOKUP_BY_UUID args.
struct LookupByUuidArgs {
  Uuid uuid;
};
// remote_nonnull_secret: every reply and event that carries a secret handle.
struct SecretHandle {
  SecretRef secret;
};
// 142 SECRET_DEFINE_XML args.
struct DefineXmlArgs {
  std::string xml;
  std::uint32_t flags = 0;
};
// 143 SECRET_GET_XML_DESC and 145 SECRET_GET_VALUE args.
struct SecretFlagsArgs {
  SecretRef secret;
  std::uint32_t flags = 0;
};
// 144 SECRET_SET_VALUE args.
struct SetValueArgs {
  SecretRef secret;
  SecretBytes value;
  std::uint32_t flags = 0;
};
// 145 SECRET_GET_VALUE ret.
struct GetValueRet {
  SecretBytes value;
};
// 147 SECRET_LOOKUP_BY_USAGE args.
struct LookupByUsageArgs {
  std::int32_t usage_type = 0;
  std::string usage_id;
};
// 287 CONNECT_LIST_ALL_SECRETS args and ret.
struct ListAllArgs {
  std::int32_t need_results = 1;
  std::uint32_t flags = 0;
};
struct ListAllRet {
  std::vector<SecretRef> secrets;
  std::uint32_t ret = 0;
};
// 380 CONNECT_SECRET_EVENT_REGISTER_ANY args (ret is IntValue callbackID; 381 args too).
struct EventRegisterArgs {
  std::int32_t event_id = 0;
  std::optional<SecretRef> secret;
};
// 382 SECRET_EVENT_LIFECYCLE message.
struct LifecycleMsg {
  std::int32_t callback_id = 0;
  SecretRef secret;
  std::int32_t event = 0;
  std::int32_t detail = 0;
};
// 383 SECRET_EVENT_VALUE_CHANGED message.
struct ValueChangedMsg {
  std::int32_t callback_id = 0;
  SecretRef secret;
};

// 419 CONNECT_SET_IDENTITY args (remote_typed_param params<20>; unsigned int flags).
inline constexpr std::size_t kIdentityParamsMax = 20;
struct SetIdentityArgs {
  std::vector<TypedParam> params;
  std::uint32_t flags = 0;
};

// Codecs: Encode appends; Decode reads with the decoder's sticky-failure rule.
void Encode(XdrEncoder& enc, const RemoteError& v);
bool Decode(XdrDecoder& dec, RemoteError* v);
void Encode(XdrEncoder& enc, const IntValue& v);
bool Decode(XdrDecoder& dec, IntValue* v);
void Encode(XdrEncoder& enc, const HyperValue& v);
bool Decode(XdrDecoder& dec, HyperValue* v);
void Encode(XdrEncoder& enc, const StringValue& v);
bool Decode(XdrDecoder& dec, StringValue* v);
void Encode(XdrEncoder& enc, const AuthListRet& v);
bool Decode(XdrDecoder& dec, AuthListRet* v);
void Encode(XdrEncoder& enc, const OpenArgs& v);
bool Decode(XdrDecoder& dec, OpenArgs* v);
void Encode(XdrEncoder& enc, const ListSecretsRet& v);
bool Decode(XdrDecoder& dec, ListSecretsRet* v);
void Encode(XdrEncoder& enc, const LookupByUuidArgs& v);
bool Decode(XdrDecoder& dec, LookupByUuidArgs* v);
void Encode(XdrEncoder& enc, const SecretHandle& v);
bool Decode(XdrDecoder& dec, SecretHandle* v);
void Encode(XdrEncoder& enc, const DefineXmlArgs& v);
bool Decode(XdrDecoder& dec, DefineXmlArgs* v);
void Encode(XdrEncoder& enc, const SecretFlagsArgs& v);
bool Decode(XdrDecoder& dec, SecretFlagsArgs* v);
void Encode(XdrEncoder& enc, const SetValueArgs& v);
bool Decode(XdrDecoder& dec, SetValueArgs* v);
void Encode(XdrEncoder& enc, const GetValueRet& v);
bool Decode(XdrDecoder& dec, GetValueRet* v);
void Encode(XdrEncoder& enc, const LookupByUsageArgs& v);
bool Decode(XdrDecoder& dec, LookupByUsageArgs* v);
void Encode(XdrEncoder& enc, const ListAllArgs& v);
bool Decode(XdrDecoder& dec, ListAllArgs* v);
void Encode(XdrEncoder& enc, const ListAllRet& v);
bool Decode(XdrDecoder& dec, ListAllRet* v);
void Encode(XdrEncoder& enc, const EventRegisterArgs& v);
bool Decode(XdrDecoder& dec, EventRegisterArgs* v);
void Encode(XdrEncoder& enc, const LifecycleMsg& v);
bool Decode(XdrDecoder& dec, LifecycleMsg* v);
void Encode(XdrEncoder& enc, const ValueChangedMsg& v);
bool Decode(XdrDecoder& dec, ValueChangedMsg* v);
void Encode(XdrEncoder& enc, const SetIdentityArgs& v);
bool Decode(XdrDecoder& dec, SetIdentityArgs* v);

// The error every undecodable payload gets: 39/7 "Unable to decode message payload".
Error DecodePayloadError();

// Decodes a whole payload. Trailing bytes are ignored, as libvirtd ignores them.
template <typename T>
Result<T> DecodePayload(std::span<const std::uint8_t> payload) {
  XdrDecoder dec(payload);
  T v{};
  if (!Decode(dec, &v) || !dec.ok()) return std::unexpected(DecodePayloadError());
  return v;
}

// A complete frame carrying header and the encoding of v.
template <typename T>
Result<WireBuffer> EncodeFrame(const Header& header, const T& v) {
  FrameBuilder b(header);
  Encode(b.payload(), v);
  return std::move(b).Finish();
}

// The ERROR reply to call carrying error.
WireBuffer ErrorReplyFrame(const Header& call, const Error& error);

}  // namespace vsecret::rpc
