#include "rpc/xdr.h"

#include <cstring>

namespace vsecret::rpc {
namespace {

constexpr std::size_t PadOf(std::size_t n) { return (4 - (n & 3)) & 3; }

}  // namespace

void XdrEncoder::U32(std::uint32_t v) {
  const std::uint8_t b[4] = {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                             static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  out_.insert(out_.end(), b, b + 4);
}

void XdrEncoder::U64(std::uint64_t v) {
  U32(static_cast<std::uint32_t>(v >> 32));
  U32(static_cast<std::uint32_t>(v));
}

void XdrEncoder::Pad(std::size_t n) { out_.insert(out_.end(), PadOf(n), 0); }

void XdrEncoder::FixedOpaque(std::span<const std::uint8_t> bytes) {
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  Pad(bytes.size());
}

void XdrEncoder::Opaque(std::span<const std::uint8_t> bytes) {
  U32(static_cast<std::uint32_t>(bytes.size()));
  FixedOpaque(bytes);
}

void XdrEncoder::String(std::string_view s) {
  Opaque({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

void XdrEncoder::OptionalString(const std::optional<std::string>& s) {
  Present(s.has_value());
  if (s) String(*s);
}

const std::uint8_t* XdrDecoder::Take(std::size_t n, bool padded) {
  if (!ok_) return nullptr;
  std::size_t total = n + (padded ? PadOf(n) : 0);
  if (total < n || total > remaining()) {
    Fail();
    return nullptr;
  }
  const std::uint8_t* p = data_.data() + pos_;
  pos_ += total;
  return p;
}

bool XdrDecoder::U32(std::uint32_t* v) {
  const std::uint8_t* p = Take(4, false);
  if (p == nullptr) return false;
  *v = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
  return true;
}

bool XdrDecoder::I32(std::int32_t* v) {
  std::uint32_t u;
  if (!U32(&u)) return false;
  *v = static_cast<std::int32_t>(u);
  return true;
}

bool XdrDecoder::U64(std::uint64_t* v) {
  std::uint32_t hi, lo;
  if (!U32(&hi) || !U32(&lo)) return false;
  *v = (std::uint64_t{hi} << 32) | lo;
  return true;
}

bool XdrDecoder::FixedOpaque(std::span<std::uint8_t> out) {
  const std::uint8_t* p = Take(out.size(), true);
  if (p == nullptr) return false;
  std::memcpy(out.data(), p, out.size());
  return true;
}

bool XdrDecoder::Opaque(std::size_t max, SecretBytes* out) {
  std::uint32_t len;
  if (!U32(&len)) return false;
  if (len > max) return Fail();
  const std::uint8_t* p = Take(len, true);
  if (p == nullptr) return false;
  *out = SecretBytes(std::span<const std::uint8_t>(p, len));
  return true;
}

bool XdrDecoder::String(std::size_t max, std::string* out) {
  std::uint32_t len;
  if (!U32(&len)) return false;
  if (len > max) return Fail();
  const std::uint8_t* p = Take(len, true);
  if (p == nullptr) return false;
  out->assign(reinterpret_cast<const char*>(p), len);
  return true;
}

bool XdrDecoder::Present(bool* present) {
  std::uint32_t d;
  if (!U32(&d)) return false;
  if (d > 1) return Fail();
  *present = d == 1;
  return true;
}

bool XdrDecoder::OptionalString(std::size_t max, std::optional<std::string>* out) {
  bool present;
  if (!Present(&present)) return false;
  if (!present) {
    out->reset();
    return true;
  }
  std::string s;
  if (!String(max, &s)) return false;
  *out = std::move(s);
  return true;
}

bool XdrDecoder::Count(std::size_t max, std::uint32_t* count) {
  if (!U32(count)) return false;
  if (*count > max) return Fail();
  return true;
}

}  // namespace vsecret::rpc
