// 16-byte UUIDs with libvirt's lenient parsing rules.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace vsecret {

class Uuid {
 public:
  static constexpr std::size_t kSize = 16;

  Uuid() = default;
  explicit Uuid(const std::array<std::uint8_t, kSize>& bytes) : bytes_(bytes) {}

  // Accepts leading whitespace, then 32 hex digits where '-' and ' ' may appear between byte
  // pairs (never inside one), then only whitespace. Returns nullopt for anything else.
  static std::optional<Uuid> Parse(std::string_view text);
  // A random RFC 4122 version-4 UUID from the OS CSPRNG.
  static Uuid Random();
  // Builds from exactly 16 raw bytes (the wire form); nullopt for another length.
  static std::optional<Uuid> FromBytes(std::string_view raw);

  // Lowercase 8-4-4-4-12.
  std::string ToString() const;
  const std::array<std::uint8_t, kSize>& bytes() const { return bytes_; }

  auto operator<=>(const Uuid&) const = default;

 private:
  std::array<std::uint8_t, kSize> bytes_{};
};

struct UuidHash {
  std::size_t operator()(const Uuid& u) const noexcept {
    std::uint64_t a, b;
    std::memcpy(&a, u.bytes().data(), 8);
    std::memcpy(&b, u.bytes().data() + 8, 8);
    return static_cast<std::size_t>(a ^ (b * 0x9e3779b97f4a7c15ULL));
  }
};

}  // namespace vsecret
