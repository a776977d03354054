// Constants of libvirt's RPC protocol as far as a secret-only daemon and its client need them
// (framing, errors, connect sequence, secret procedures). Every number here travels on the wire and was
// checked against libvirt 9.0.0; none of them may change.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vsecret::rpc {

// Programs.
inline constexpr std::uint32_t kRemoteProgram = 0x20008086;
inline constexpr std::uint32_t kRemoteVersion = 1;
inline constexpr std::uint32_t kKeepAliveProgram = 0x6b656570;  // "keep"
inline constexpr std::uint32_t kKeepAliveVersion = 1;

// Keepalive procedures.
inline constexpr std::int32_t kProcPing = 1;
inline constexpr std::int32_t kProcPong = 2;

// Message types and statuses.
enum class MessageType : std::int32_t {
  kCall = 0,
  kReply = 1,
  kMessage = 2,
  kStream = 3,
  kCallWithFds = 4,
  kReplyWithFds = 5,
  kStreamHole = 6,
};
enum class MessageStatus : std::int32_t { kOk = 0, kError = 1, kContinue = 2 };

// Size limits (libvirt 9.0's values). The length word counts itself, so the largest legal word is
// kMaxMessage + 4 and the smallest a full header, 28.
inline constexpr std::size_t kLengthWordSize = 4;
inline constexpr std::size_t kHeaderSize = 24;
inline constexpr std::size_t kMinFrame = kLengthWordSize + kHeaderSize;
inline constexpr std::size_t kMaxMessage = 33554432;  // header + payload
inline constexpr std::size_t kMaxFrame = kMaxMessage + kLengthWordSize;
inline constexpr std::size_t kMaxPayload = kMaxMessage - kHeaderSize;
inline constexpr std::size_t kStringMax = 4194304;
inline constexpr std::size_t kSecretValueMax = 65536;
inline constexpr std::size_t kSecretListMax = 16384;
inline constexpr std::size_t kAuthTypeListMax = 20;

// Authentication types offered by AUTH_LIST.
inline constexpr std::int32_t kAuthTypeNone = 0;
inline constexpr std::int32_t kAuthTypeSasl = 1;
inline constexpr std::int32_t kAuthTypePolkit = 2;

// VIR_DRV_FEATURE_* values asked through CONNECT_SUPPORTS_FEATURE.
inline constexpr std::int32_t kFeatureProgramKeepAlive = 10;
inline constexpr std::int32_t kFeatureRemoteEventCallback = 14;
inline constexpr std::int32_t kFeatureRemoteCloseCallback = 15;

// REMOTE program procedures used by secrets (connection-level and secret procedures).
enum class Proc : std::int32_t {
  kConnectOpen = 1,
  kConnectClose = 2,
  kConnectGetType = 3,
  kConnectGetVersion = 4,
  kConnectGetCapabilities = 7,
  kConnectGetHostname = 59,
  kConnectSupportsFeature = 60,
  kAuthList = 66,
  kAuthSaslInit = 67,
  kAuthSaslStart = 68,
  kAuthSaslStep = 69,
  kAuthPolkit = 70,
  kConnectGetUri = 110,
  kConnectNumOfSecrets = 139,
  kConnectListSecrets = 140,
  kSecretLookupByUuid = 141,
  kSecretDefineXml = 142,
  kSecretGetXmlDesc = 143,
  kSecretSetValue = 144,
  kSecretGetValue = 145,
  kSecretUndefine = 146,
  kSecretLookupByUsage = 147,
  kConnectIsSecure = 149,
  kConnectGetLibVersion = 157,
  kConnectListAllSecrets = 287,
  kConnectRegisterCloseCallback = 360,
  kConnectUnregisterCloseCallback = 361,
  kConnectEventConnectionClosed = 362,
  kConnectSecretEventRegisterAny = 380,
  kConnectSecretEventDeregisterAny = 381,
  kConnectSetIdentity = 419,
  kSecretEventLifecycle = 382,
  kSecretEventValueChanged = 383,
};

// CONNECT_OPEN flags: bit 0 asks for a read-only connection.
inline constexpr std::uint32_t kConnectReadOnly = 1;

// What CONNECT_GET_LIB_VERSION reports: the libvirt release whose protocol is spoken (12.8.0).
inline constexpr std::uint64_t kLibVersion = 12008000;

}  // namespace vsecret::rpc
