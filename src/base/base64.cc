#include "base/base64.h"

#include <array>
#include <cstdint>

namespace vsecret {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> MakeDecodeTable() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kDecode = MakeDecodeTable();

template <typename Out>
void EncodeInto(std::string_view in, Out& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size();
  std::size_t i = 0;
  char quad[4];
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = p[i] << 16 | p[i + 1] << 8 | p[i + 2];
    quad[0] = kAlphabet[v >> 18];
    quad[1] = kAlphabet[(v >> 12) & 63];
    quad[2] = kAlphabet[(v >> 6) & 63];
    quad[3] = kAlphabet[v & 63];
    out.Append(std::string_view(quad, 4));
  }
  if (n - i == 1) {
    std::uint32_t v = p[i] << 16;
    quad[0] = kAlphabet[v >> 18];
    quad[1] = kAlphabet[(v >> 12) & 63];
    quad[2] = quad[3] = '=';
    out.Append(std::string_view(quad, 4));
  } else if (n - i == 2) {
    std::uint32_t v = p[i] << 16 | p[i + 1] << 8;
    quad[0] = kAlphabet[v >> 18];
    quad[1] = kAlphabet[(v >> 12) & 63];
    quad[2] = kAlphabet[(v >> 6) & 63];
    quad[3] = '=';
    out.Append(std::string_view(quad, 4));
  }
  SecureWipe(quad, sizeof quad);
}

struct StringSink {
  std::string& s;
  void Append(std::string_view v) { s.append(v); }
};

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  StringSink sink{out};
  EncodeInto(bytes, sink);
  return out;
}

SecretBytes Base64EncodeSecret(std::string_view bytes) {
  SecretBytes out;
  out.Resize(0);
  EncodeInto(bytes, out);
  return out;
}

SecretBytes Base64DecodeLenient(std::string_view text) {
  // Mirrors glib's g_base64_decode, which libvirt and virsh use: characters outside the
  // alphabet are skipped, '=' counts as a zero sextet that suppresses output bytes, and an
  // incomplete final group of fewer than four significant characters is dropped.
  SecretBytes out;
  std::uint32_t v = 0;
  int count = 0;
  char last0 = 0, last1 = 0;
  std::uint8_t group[3];
  for (unsigned char c : text) {
    int rank = c == '=' ? 0 : kDecode[c];
    if (rank < 0) continue;
    last1 = last0;
    last0 = static_cast<char>(c);
    v = (v << 6) | static_cast<std::uint32_t>(rank);
    if (++count == 4) {
      std::size_t n = 0;
      group[n++] = static_cast<std::uint8_t>(v >> 16);
      if (last1 != '=') group[n++] = static_cast<std::uint8_t>(v >> 8);
      if (last0 != '=') group[n++] = static_cast<std::uint8_t>(v);
      out.Append(std::span<const std::uint8_t>(group, n));
      count = 0;
    }
  }
  SecureWipe(group, sizeof group);
  v = 0;
  return out;
}

}  // namespace vsecret
