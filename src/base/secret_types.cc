#include <array>

#include "vsecret/secret.h"

namespace vsecret {
namespace {
constexpr std::array<std::string_view, kUsageTypeLast> kNames = {"none",  "volume", "ceph",
                                                                 "iscsi", "tls",    "vtpm"};
}  // namespace

std::string_view UsageTypeName(UsageType type) {
  auto i = static_cast<std::size_t>(type);
  return i < kNames.size() ? kNames[i] : std::string_view("unknown");
}

std::optional<UsageType> UsageTypeFromName(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<UsageType>(i);
  }
  return std::nullopt;
}

}  // namespace vsecret
