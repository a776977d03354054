#include "rpc/sasl_messages.h"

#include "rpc/protocol.h"

namespace vsecret::rpc {
namespace {

// One XDR int per byte, sign-extended as libtirpc's xdr_char does for a signed char.
void EncodeToken(XdrEncoder& enc, const SaslToken& t) {
  enc.I32(t.nil ? 1 : 0);
  const std::size_t n = t.nil ? 0 : t.data.size();
  enc.U32(static_cast<std::uint32_t>(n));
  for (std::size_t i = 0; i < n; ++i) enc.I32(static_cast<std::int8_t>(t.data.data()[i]));
}

bool DecodeToken(XdrDecoder& dec, SaslToken* t) {
  std::int32_t nil = 0;
  std::uint32_t n = 0;
  if (!dec.I32(&nil) || !dec.Count(kSaslDataMax, &n)) return false;
  // Each element takes 4 bytes: refuse a count the payload cannot hold before allocating.
  if (dec.remaining() / 4 < n) {
    std::uint32_t sink = 0;
    while (dec.U32(&sink)) {
    }
    return false;
  }
  t->nil = nil != 0;
  t->data.Resize(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t v = 0;
    if (!dec.U32(&v)) return false;
    t->data.data()[i] = static_cast<std::uint8_t>(v & 0xff);
  }
  return true;
}

}  // namespace

void Encode(XdrEncoder& enc, const SaslInitRet& v) { enc.String(v.mechlist); }
bool Decode(XdrDecoder& dec, SaslInitRet* v) { return dec.String(kStringMax, &v->mechlist); }

void Encode(XdrEncoder& enc, const SaslStartArgs& v) {
  enc.String(v.mech);
  EncodeToken(enc, v.token);
}
bool Decode(XdrDecoder& dec, SaslStartArgs* v) {
  return dec.String(kStringMax, &v->mech) && DecodeToken(dec, &v->token);
}

void Encode(XdrEncoder& enc, const SaslStepArgs& v) { EncodeToken(enc, v.token); }
bool Decode(XdrDecoder& dec, SaslStepArgs* v) { return DecodeToken(dec, &v->token); }

void Encode(XdrEncoder& enc, const SaslStepRet& v) {
  enc.I32(v.complete ? 1 : 0);
  EncodeToken(enc, v.token);
}
bool Decode(XdrDecoder& dec, SaslStepRet* v) {
  std::int32_t complete = 0;
  if (!dec.I32(&complete)) return false;
  v->complete = complete != 0;
  return DecodeToken(dec, &v->token);
}

}  // namespace vsecret::rpc
