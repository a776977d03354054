// The secret object model shared by the driver, the store, the wire and the CLI.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "vsecret/uuid.h"

namespace vsecret {

// Numeric values are libvirt's virSecretUsageType; they travel over the wire as they are.
enum class UsageType : int {
  kNone = 0,
  kVolume = 1,
  kCeph = 2,
  kIscsi = 3,
  kTls = 4,
  kVtpm = 5,
};
inline constexpr int kUsageTypeLast = 6;

// "none", "volume", "ceph", "iscsi", "tls", "vtpm".
std::string_view UsageTypeName(UsageType type);
// Exact, case-sensitive inverse of UsageTypeName.
std::optional<UsageType> UsageTypeFromName(std::string_view name);

// A parsed secret definition (the XML document), without its value.
struct SecretDef {
  Uuid uuid;
  bool ephemeral = false;
  bool is_private = false;
  std::optional<std::string> description;
  UsageType usage_type = UsageType::kNone;
  // The usage id; absent exactly when usage_type is kNone.
  std::optional<std::string> usage_id;

  bool operator==(const SecretDef&) const = default;
};

// What a lookup returns: libvirt's virSecretPtr contents.
struct SecretRef {
  Uuid uuid;
  UsageType usage_type = UsageType::kNone;
  std::string usage_id;  // "" for usage none

  bool operator==(const SecretRef&) const = default;
};

// virSecretDefineXML flags.
inline constexpr unsigned kDefineValidate = 1u << 0;

// virConnectListAllSecrets flags.
inline constexpr unsigned kListEphemeral = 1u << 0;
inline constexpr unsigned kListNoEphemeral = 1u << 1;
inline constexpr unsigned kListPrivate = 1u << 2;
inline constexpr unsigned kListNoPrivate = 1u << 3;
inline constexpr unsigned kListAllFlags = kListEphemeral | kListNoEphemeral | kListPrivate | kListNoPrivate;

// Event ids and lifecycle event kinds (libvirt-secret.h).
enum class SecretEventId : int { kLifecycle = 0, kValueChanged = 1 };
enum class LifecycleEvent : int { kDefined = 0, kUndefined = 1 };

struct SecretEvent {
  SecretEventId id = SecretEventId::kLifecycle;
  SecretRef secret;
  LifecycleEvent lifecycle = LifecycleEvent::kDefined;  // only for kLifecycle
  int detail = 0;
};

}  // namespace vsecret
