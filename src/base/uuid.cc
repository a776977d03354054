#include "vsecret/uuid.h"

#include <openssl/rand.h>

#include <cstdlib>

namespace vsecret {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

std::optional<Uuid> Uuid::Parse(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && IsSpace(text[i])) ++i;
  std::array<std::uint8_t, kSize> out{};
  for (std::size_t n = 0; n < kSize; ++n) {
    while (i < text.size() && (text[i] == '-' || text[i] == ' ')) ++i;
    if (i + 1 >= text.size()) return std::nullopt;
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[n] = static_cast<std::uint8_t>(hi << 4 | lo);
    i += 2;
  }
  for (; i < text.size(); ++i) {
    if (!IsSpace(text[i])) return std::nullopt;
  }
  return Uuid(out);
}

Uuid Uuid::Random() {
  std::array<std::uint8_t, kSize> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) std::abort();
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  return Uuid(b);
}

std::optional<Uuid> Uuid::FromBytes(std::string_view raw) {
  if (raw.size() != kSize) return std::nullopt;
  std::array<std::uint8_t, kSize> b{};
  std::memcpy(b.data(), raw.data(), kSize);
  return Uuid(b);
}

std::string Uuid::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (std::size_t n = 0; n < kSize; ++n) {
    if (n == 4 || n == 6 || n == 8 || n == 10) s.push_back('-');
    s.push_back(kHex[bytes_[n] >> 4]);
    s.push_back(kHex[bytes_[n] & 0xf]);
  }
  return s;
}

}  // namespace vsecret
