// The REMOTE program procedures libvirt 12.x knows, and how its secret-only libvirtd answers
// each one it does not serve. Recorded by probing a stock libvirtd 9.0.0, then 12.8.0, that
// loaded only the secret driver (every procedure, before and after CONNECT_OPEN, with empty,
// zero and well-formed arguments; tests/conformance/rpc_proc_table_test.py repeats the probe);
// procedure numbers, argument layouts and public API names are protocol facts.
#include "rpc/remote_proc_table.h"

#include <algorithm>
#include <array>
#include <span>
#include <string>

#include "rpc/protocol.h"
#include "rpc/remote_messages.h"

namespace vsecret::rpc {
namespace {

// ---------------------------------------------------------------------------------------------
// Argument layouts (remote_protocol.x) of the procedures whose arguments are decoded.

constexpr std::size_t kMigrateCookieMax = 4194304;
constexpr std::size_t kThrottleParamsMax = 32;      // REMOTE_DOMAIN_BLOCK_IO_TUNE_PARAMETERS_MAX
constexpr std::size_t kTypedParamFieldLength = 80;  // VIR_TYPED_PARAM_FIELD_LENGTH, with the NUL

constexpr std::int32_t kFromDomain = 20;  // VIR_FROM_DOMAIN

void SkipString(XdrDecoder& dec, std::string* out = nullptr) {
  std::string s;
  dec.String(kStringMax, out != nullptr ? out : &s);
}
void SkipOptionalString(XdrDecoder& dec, std::optional<std::string>* out = nullptr) {
  std::optional<std::string> s;
  dec.OptionalString(kStringMax, out != nullptr ? out : &s);
}
void SkipOpaque(XdrDecoder& dec, std::size_t max) {
  SecretBytes bytes;
  dec.Opaque(max, &bytes);
}
void SkipU32(XdrDecoder& dec) {
  std::uint32_t v = 0;
  dec.U32(&v);
}
void SkipU64(XdrDecoder& dec) {
  std::uint64_t v = 0;
  dec.U64(&v);
}
void SkipUuid(XdrDecoder& dec) {
  std::uint8_t uuid[16];
  dec.FixedOpaque(uuid);
}
// remote_nonnull_domain: name, uuid, id.
void SkipDomain(XdrDecoder& dec) {
  SkipString(dec);
  SkipUuid(dec);
  SkipU32(dec);
}
// remote_nonnull_network: name, uuid.
void SkipNetwork(XdrDecoder& dec) {
  SkipString(dec);
  SkipUuid(dec);
}

Error InvalidArgIn(std::string text) {
  return Error(ErrorCode::kInvalidArg, static_cast<ErrorDomain>(kFromDomain), std::move(text));
}

// 12.x's virDomainMigrateFinish* refuse an empty destination name before the driver is asked.
std::optional<Error> EmptyDname(const std::string& dname, const char* api) {
  if (!dname.empty()) return std::nullopt;
  return InvalidArgIn(std::string("string dname in ") + api + " must not be empty");
}

// 63 DOMAIN_MIGRATE_FINISH: dname, cookie, uri, flags (unsigned hyper).
std::optional<Error> CheckMigrateFinish(XdrDecoder& dec, bool& /*bad_union*/) {
  std::string dname;
  SkipString(dec, &dname);
  SkipOpaque(dec, kMigrateCookieMax);
  SkipString(dec);
  SkipU64(dec);
  return EmptyDname(dname, "virDomainMigrateFinish");
}

// 109 DOMAIN_MIGRATE_FINISH2: dname, cookie, uri, flags, retcode.
std::optional<Error> CheckMigrateFinish2(XdrDecoder& dec, bool& /*bad_union*/) {
  std::string dname;
  SkipString(dec, &dname);
  SkipOpaque(dec, kMigrateCookieMax);
  SkipString(dec);
  SkipU64(dec);
  SkipU32(dec);
  return EmptyDname(dname, "virDomainMigrateFinish2");
}

// 217 DOMAIN_MIGRATE_FINISH3: dname, cookie_in, dconnuri (optional), uri (optional), flags,
// cancelled.
std::optional<Error> CheckMigrateFinish3(XdrDecoder& dec, bool& /*bad_union*/) {
  std::string dname;
  SkipString(dec, &dname);
  SkipOpaque(dec, kMigrateCookieMax);
  SkipOptionalString(dec);
  SkipOptionalString(dec);
  SkipU64(dec);
  SkipU32(dec);
  return EmptyDname(dname, "virDomainMigrateFinish3");
}

// Procedures whose whole argument is one domain (278 DOMAIN_GET_SECURITY_LABEL_LIST, 449
// DOMAIN_GET_AUTOSTART_ONCE).
std::optional<Error> CheckDomainOnly(XdrDecoder& dec, bool& /*bad_union*/) {
  SkipDomain(dec);
  return std::nullopt;
}

constexpr std::int32_t kFromNetwork = 19;  // VIR_FROM_NETWORK
// virNetworkMetadataType
constexpr std::int32_t kMetadataDescription = 0;
constexpr std::int32_t kMetadataTitle = 1;
constexpr std::int32_t kMetadataElement = 2;

Error NetworkArgError(std::string text) {
  return Error(ErrorCode::kInvalidArg, static_cast<ErrorDomain>(kFromNetwork), std::move(text));
}

// 444 NETWORK_SET_METADATA: network, type, metadata, key, uri (optional strings), flags. The
// API's checks: a title has no newline; title and description take no uri or key; an element
// needs a uri, and a key when it sets metadata.
std::optional<Error> CheckNetworkSetMetadata(XdrDecoder& dec, bool& /*bad_union*/) {
  SkipNetwork(dec);
  std::int32_t type = 0;
  dec.I32(&type);
  std::optional<std::string> metadata, key, uri;
  SkipOptionalString(dec, &metadata);
  SkipOptionalString(dec, &key);
  SkipOptionalString(dec, &uri);
  SkipU32(dec);
  if (type == kMetadataTitle && metadata && metadata->find('\n') != std::string::npos) {
    return NetworkArgError("metadata title can't contain newlines");
  }
  if (type == kMetadataTitle || type == kMetadataDescription) {
    if (uri) return NetworkArgError("uri in virNetworkSetMetadata must be NULL");
    if (key) return NetworkArgError("key in virNetworkSetMetadata must be NULL");
  } else if (type == kMetadataElement) {
    if (!uri) return NetworkArgError("uri in virNetworkSetMetadata must not be NULL");
    if (metadata && !key) return NetworkArgError("key in virNetworkSetMetadata must not be NULL");
  }
  return std::nullopt;
}

// 445 NETWORK_GET_METADATA: network, type, uri (optional), flags. Title and description take no
// uri, an element needs one; other types pass.
std::optional<Error> CheckNetworkGetMetadata(XdrDecoder& dec, bool& /*bad_union*/) {
  SkipNetwork(dec);
  std::int32_t type = 0;
  dec.I32(&type);
  std::optional<std::string> uri;
  SkipOptionalString(dec, &uri);
  SkipU32(dec);
  if ((type == kMetadataTitle || type == kMetadataDescription) && uri) {
    return NetworkArgError("uri in virNetworkGetMetadata must be NULL");
  }
  if (type == kMetadataElement && !uri)
    return NetworkArgError("uri in virNetworkGetMetadata must not be NULL");
  return std::nullopt;
}

// 447 NODE_DEVICE_UPDATE: name, xml, flags.
std::optional<Error> CheckNodeDeviceUpdate(XdrDecoder& dec, bool& /*bad_union*/) {
  SkipString(dec);
  SkipString(dec);
  SkipU32(dec);
  return std::nullopt;
}

// 448 DOMAIN_GRAPHICS_RELOAD: domain, type, flags.
std::optional<Error> CheckGraphicsReload(XdrDecoder& dec, bool& /*bad_union*/) {
  SkipDomain(dec);
  SkipU32(dec);
  SkipU32(dec);
  return std::nullopt;
}

// 450 DOMAIN_SET_AUTOSTART_ONCE: domain, autostart.
std::optional<Error> CheckSetAutostartOnce(XdrDecoder& dec, bool& /*bad_union*/) {
  SkipDomain(dec);
  SkipU32(dec);
  return std::nullopt;
}

// 451 DOMAIN_SET_THROTTLE_GROUP: domain, group, params<32>, flags. libvirtd turns the parameters
// into virTypedParameters first (a field name must fit 79 bytes; string values are refused),
// then the API wants at least one.
std::optional<Error> CheckSetThrottleGroup(XdrDecoder& dec, bool& bad_union) {
  SkipDomain(dec);
  SkipString(dec);
  std::uint32_t n = 0;
  if (!dec.Count(kThrottleParamsMax, &n)) return std::nullopt;
  std::optional<Error> first;
  for (std::uint32_t k = 0; k < n; ++k) {
    std::string field;
    std::int32_t type = 0;
    if (!dec.String(kStringMax, &field) || !dec.I32(&type)) return std::nullopt;
    switch (type) {
      case 1:  // int
      case 2:  // uint
      case 6:  // boolean
        SkipU32(dec);
        break;
      case 3:  // llong
      case 4:  // ullong
      case 5:  // double
        SkipU64(dec);
        break;
      case 7:  // string
        SkipString(dec);
        break;
      default:
        bad_union = true;  // a union arm XDR does not know: undecodable
        return std::nullopt;
    }
    if (first) continue;
    if (field.size() >= kTypedParamFieldLength) {
      first = Error(ErrorCode::kInternalError, ErrorDomain::kNone,
                    "internal error: parameter " + field + " too big for destination");
    } else if (type == 7) {
      first =
          Error(ErrorCode::kInvalidArg, ErrorDomain::kNone, "string parameter '" + field + "' unsupported");
    }
  }
  SkipU32(dec);
  if (first) return first;
  if (n == 0) return InvalidArgIn("nparams in virDomainSetThrottleGroup must be greater than zero");
  return std::nullopt;
}

// 452 DOMAIN_DEL_THROTTLE_GROUP: domain, group (optional), flags.
std::optional<Error> CheckDelThrottleGroup(XdrDecoder& dec, bool& /*bad_union*/) {
  SkipDomain(dec);
  std::optional<std::string> group;
  SkipOptionalString(dec, &group);
  SkipU32(dec);
  if (!group) return InvalidArgIn("group in virDomainDelThrottleGroup must not be NULL");
  return std::nullopt;
}

// Runs one layout over a payload: an undecodable payload is libvirtd's decode error.
template <std::optional<Error> (*Layout)(XdrDecoder&, bool&)>
Result<std::optional<Error>> Decoded(std::span<const std::uint8_t> payload) {
  XdrDecoder dec(payload);
  bool bad_union = false;
  std::optional<Error> error = Layout(dec, bad_union);
  if (bad_union || !dec.ok()) return std::unexpected(DecodePayloadError());
  return error;
}

// 456 DOMAIN_ANNOUNCE_INTERFACE: domain, alias (optional), two unsigned ints.
std::optional<Error> CheckAnnounceInterface(XdrDecoder& dec, bool& /*bad_union*/) {
  SkipDomain(dec);
  SkipOptionalString(dec);
  SkipU32(dec);
  SkipU32(dec);
  return std::nullopt;
}

// clang-format off
constexpr std::array<RemoteProcInfo, 401> kProcs = {{
    {1, true, ProcAnswer::kImplemented, 0, 0, ""},
    {2, true, ProcAnswer::kImplemented, 0, 0, ""},
    {3, true, ProcAnswer::kImplemented, 0, 0, ""},
    {4, true, ProcAnswer::kNoSupport, 3, 20, "virConnectGetVersion"},
    {5, true, ProcAnswer::kNoSupport, 3, 20, "virConnectGetMaxVcpus"},
    {6, true, ProcAnswer::kNoSupport, 3, 20, "virNodeGetInfo"},
    {7, true, ProcAnswer::kNoSupport, 3, 20, "virConnectGetCapabilities"},
    {8, true, ProcAnswer::kNoSupport, 3, 20, "virDomainAttachDevice"},
    {9, true, ProcAnswer::kNoSupport, 3, 20, "virDomainCreate"},
    {10, true, ProcAnswer::kNoSupport, 3, 20, "virDomainCreateXML"},
    {11, true, ProcAnswer::kNoSupport, 3, 20, "virDomainDefineXML"},
    {12, true, ProcAnswer::kNoSupport, 3, 20, "virDomainDestroy"},
    {13, true, ProcAnswer::kNoSupport, 3, 20, "virDomainDetachDevice"},
    {14, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetXMLDesc"},
    {15, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetAutostart"},
    {16, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetInfo"},
    {17, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetMaxMemory"},
    {18, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetMaxVcpus"},
    {19, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetOSType"},
    {20, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetVcpus"},
    {21, true, ProcAnswer::kNoSupport, 3, 20, "virConnectListDefinedDomains"},
    {22, true, ProcAnswer::kNoSupport, 3, 20, "virDomainLookupByID"},
    {23, true, ProcAnswer::kNoSupport, 3, 20, "virDomainLookupByName"},
    {24, true, ProcAnswer::kNoSupport, 3, 20, "virDomainLookupByUUID"},
    {25, true, ProcAnswer::kNoSupport, 3, 20, "virConnectNumOfDefinedDomains"},
    {26, true, ProcAnswer::kNoSupport, 3, 20, "virDomainPinVcpu"},
    {27, true, ProcAnswer::kNoSupport, 3, 20, "virDomainReboot"},
    {28, true, ProcAnswer::kNoSupport, 3, 20, "virDomainResume"},
    {29, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetAutostart"},
    {30, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetMaxMemory"},
    {31, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetMemory"},
    {32, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetVcpus"},
    {33, true, ProcAnswer::kNoSupport, 3, 20, "virDomainShutdown"},
    {34, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSuspend"},
    {35, true, ProcAnswer::kNoSupport, 3, 20, "virDomainUndefine"},
    {36, false, ProcAnswer::kNoSupport, 3, 19, "virConnectListDefinedNetworks"},
    {37, true, ProcAnswer::kNoSupport, 3, 20, "virConnectListDomains"},
    {38, false, ProcAnswer::kNoSupport, 3, 19, "virConnectListNetworks"},
    {39, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkCreate"},
    {40, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkCreateXML"},
    {41, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkDefineXML"},
    {42, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkDestroy"},
    {43, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkGetXMLDesc"},
    {44, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkGetAutostart"},
    {45, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkGetBridgeName"},
    {46, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkLookupByName"},
    {47, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkLookupByUUID"},
    {48, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkSetAutostart"},
    {49, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkUndefine"},
    {50, false, ProcAnswer::kNoSupport, 3, 19, "virConnectNumOfDefinedNetworks"},
    {51, true, ProcAnswer::kNoSupport, 3, 20, "virConnectNumOfDomains"},
    {52, false, ProcAnswer::kNoSupport, 3, 19, "virConnectNumOfNetworks"},
    {53, true, ProcAnswer::kNoSupport, 3, 20, "virDomainCoreDump"},
    {54, true, ProcAnswer::kNoSupport, 3, 20, "virDomainRestore"},
    {55, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSave"},
    {56, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetSchedulerType"},
    {57, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetSchedulerParameters"},
    {58, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetSchedulerParameters"},
    {59, true, ProcAnswer::kNoSupport, 3, 20, "virConnectGetHostname"},
    {60, true, ProcAnswer::kImplemented, 0, 0, ""},
    {61, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigratePrepare"},
    {62, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigratePerform"},
    {63, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateFinish", Decoded<CheckMigrateFinish>},
    {64, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBlockStats"},
    {65, true, ProcAnswer::kNoSupport, 3, 20, "virDomainInterfaceStats"},
    {66, true, ProcAnswer::kImplemented, 0, 0, ""},
    {67, true, ProcAnswer::kLiteral, 45, 7, "authentication failed: authentication failed"},
    {68, true, ProcAnswer::kLiteral, 45, 7, "authentication failed: authentication failed"},
    {69, true, ProcAnswer::kLiteral, 45, 7, "authentication failed: authentication failed"},
    {70, true, ProcAnswer::kLiteral, 45, 7, "authentication failed: authentication failed"},
    {71, false, ProcAnswer::kNoSupport, 3, 18, "virConnectNumOfStoragePools"},
    {72, false, ProcAnswer::kNoSupport, 3, 18, "virConnectListStoragePools"},
    {73, false, ProcAnswer::kNoSupport, 3, 18, "virConnectNumOfDefinedStoragePools"},
    {74, false, ProcAnswer::kNoSupport, 3, 18, "virConnectListDefinedStoragePools"},
    {75, false, ProcAnswer::kNoSupport, 3, 18, "virConnectFindStoragePoolSources"},
    {76, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolCreateXML"},
    {77, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolDefineXML"},
    {78, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolCreate"},
    {79, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolBuild"},
    {80, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolDestroy"},
    {81, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolDelete"},
    {82, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolUndefine"},
    {83, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolRefresh"},
    {84, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolLookupByName"},
    {85, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolLookupByUUID"},
    {86, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolLookupByVolume"},
    {87, false, ProcAnswer::kUnmodelled, 0, 0, ""},
    {88, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolGetXMLDesc"},
    {89, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolGetAutostart"},
    {90, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolSetAutostart"},
    {91, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolNumOfVolumes"},
    {92, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolListVolumes"},
    {93, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolCreateXML"},
    {94, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolDelete"},
    {95, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolLookupByName"},
    {96, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolLookupByKey"},
    {97, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolLookupByPath"},
    {98, false, ProcAnswer::kUnmodelled, 0, 0, ""},
    {99, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolGetXMLDesc"},
    {100, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolGetPath"},
    {101, true, ProcAnswer::kNoSupport, 3, 20, "virNodeGetCellsFreeMemory"},
    {102, true, ProcAnswer::kNoSupport, 3, 20, "virNodeGetFreeMemory"},
    {103, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBlockPeek"},
    {104, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMemoryPeek"},
    {105, true, ProcAnswer::kNoSupport, 3, 20, "virConnectDomainEventRegisterAny"},
    {106, true, ProcAnswer::kCallbackNotRegistered, 1, 7, "internal error: domain event %d not registered"},
    {108, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigratePrepare2"},
    {109, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateFinish2", Decoded<CheckMigrateFinish2>},
    {110, true, ProcAnswer::kImplemented, 0, 0, ""},
    {111, false, ProcAnswer::kNoSupport, 3, 22, "virNodeNumOfDevices"},
    {112, false, ProcAnswer::kNoSupport, 3, 22, "virNodeListDevices"},
    {113, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceLookupByName"},
    {114, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceGetXMLDesc"},
    {115, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceLookupByName"},
    {116, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceNumOfCaps"},
    {117, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceListCaps"},
    {118, true, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceDettach"},
    {119, true, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceReAttach"},
    {120, true, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceReset"},
    {121, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetSecurityLabel"},
    {122, true, ProcAnswer::kNoSupport, 3, 20, "virNodeGetSecurityModel"},
    {123, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceCreateXML"},
    {124, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceDestroy"},
    {125, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolCreateXMLFrom"},
    {126, false, ProcAnswer::kNoSupport, 3, 26, "virConnectNumOfInterfaces"},
    {127, false, ProcAnswer::kNoSupport, 3, 26, "virConnectListInterfaces"},
    {128, false, ProcAnswer::kNoSupport, 3, 26, "virInterfaceLookupByName"},
    {129, false, ProcAnswer::kNoSupport, 3, 26, "virInterfaceLookupByMACString"},
    {130, false, ProcAnswer::kNoSupport, 3, 26, "virInterfaceGetXMLDesc"},
    {131, false, ProcAnswer::kNoSupport, 3, 26, "virInterfaceDefineXML"},
    {132, false, ProcAnswer::kNoSupport, 3, 26, "virInterfaceUndefine"},
    {133, false, ProcAnswer::kNoSupport, 3, 26, "virInterfaceCreate"},
    {134, false, ProcAnswer::kNoSupport, 3, 26, "virInterfaceDestroy"},
    {135, true, ProcAnswer::kNoSupport, 3, 20, "virConnectDomainXMLFromNative"},
    {136, true, ProcAnswer::kNoSupport, 3, 20, "virConnectDomainXMLToNative"},
    {137, false, ProcAnswer::kNoSupport, 3, 26, "virConnectNumOfDefinedInterfaces"},
    {138, false, ProcAnswer::kNoSupport, 3, 26, "virConnectListDefinedInterfaces"},
    {139, false, ProcAnswer::kImplemented, 0, 0, ""},
    {140, false, ProcAnswer::kImplemented, 0, 0, ""},
    {141, false, ProcAnswer::kImplemented, 0, 0, ""},
    {142, false, ProcAnswer::kImplemented, 0, 0, ""},
    {143, false, ProcAnswer::kImplemented, 0, 0, ""},
    {144, false, ProcAnswer::kImplemented, 0, 0, ""},
    {145, false, ProcAnswer::kImplemented, 0, 0, ""},
    {146, false, ProcAnswer::kImplemented, 0, 0, ""},
    {147, false, ProcAnswer::kImplemented, 0, 0, ""},
    {148, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigratePrepareTunnel"},
    {149, true, ProcAnswer::kImplemented, 0, 0, ""},
    {150, true, ProcAnswer::kNoSupport, 3, 20, "virDomainIsActive"},
    {151, true, ProcAnswer::kNoSupport, 3, 20, "virDomainIsPersistent"},
    {152, false, ProcAnswer::kUnmodelled, 0, 0, ""},
    {153, false, ProcAnswer::kUnmodelled, 0, 0, ""},
    {154, false, ProcAnswer::kUnmodelled, 0, 0, ""},
    {155, false, ProcAnswer::kUnmodelled, 0, 0, ""},
    {156, false, ProcAnswer::kUnmodelled, 0, 0, ""},
    {157, true, ProcAnswer::kImplemented, 0, 0, ""},
    {158, true, ProcAnswer::kNoSupport, 3, 20, "virConnectCompareCPU"},
    {159, true, ProcAnswer::kUnmodelled, 0, 0, ""},
    {160, true, ProcAnswer::kNoSupport, 3, 20, "virDomainAttachDeviceFlags"},
    {161, true, ProcAnswer::kNoSupport, 3, 20, "virDomainDetachDeviceFlags"},
    {162, true, ProcAnswer::kNoSupport, 3, 20, "virConnectBaselineCPU"},
    {163, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetJobInfo"},
    {164, true, ProcAnswer::kNoSupport, 3, 20, "virDomainAbortJob"},
    {165, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolWipe"},
    {166, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateSetMaxDowntime"},
    {167, true, ProcAnswer::kNoSupport, 3, 20, "virConnectDomainEventRegisterAny"},
    {168, true, ProcAnswer::kCallbackNotRegistered, 1, 7, "internal error: domain event %d not registered"},
    {174, true, ProcAnswer::kNoSupport, 3, 20, "virDomainUpdateDeviceFlags"},
    {175, false, ProcAnswer::kNoSupport, 3, 33, "virNWFilterLookupByName"},
    {176, false, ProcAnswer::kNoSupport, 3, 33, "virNWFilterLookupByUUID"},
    {177, false, ProcAnswer::kNoSupport, 3, 33, "virNWFilterGetXMLDesc"},
    {178, false, ProcAnswer::kNoSupport, 3, 33, "virConnectNumOfNWFilters"},
    {179, false, ProcAnswer::kNoSupport, 3, 33, "virConnectListNWFilters"},
    {180, false, ProcAnswer::kNoSupport, 3, 33, "virNWFilterDefineXML"},
    {181, false, ProcAnswer::kNoSupport, 3, 33, "virNWFilterUndefine"},
    {182, true, ProcAnswer::kNoSupport, 3, 20, "virDomainManagedSave"},
    {183, true, ProcAnswer::kNoSupport, 3, 20, "virDomainHasManagedSaveImage"},
    {184, true, ProcAnswer::kNoSupport, 3, 20, "virDomainManagedSaveRemove"},
    {185, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotCreateXML"},
    {186, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotGetXMLDesc"},
    {187, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotNum"},
    {188, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotListNames"},
    {189, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotLookupByName"},
    {190, true, ProcAnswer::kNoSupport, 3, 35, "virDomainHasCurrentSnapshot"},
    {191, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotCurrent"},
    {192, true, ProcAnswer::kNoSupport, 3, 35, "virDomainRevertToSnapshot"},
    {193, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotDelete"},
    {194, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetBlockInfo"},
    {196, true, ProcAnswer::kNoSupport, 3, 20, "virDomainCreateWithFlags"},
    {197, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetMemoryParameters"},
    {198, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetMemoryParameters"},
    {199, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetVcpusFlags"},
    {200, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetVcpusFlags"},
    {201, true, ProcAnswer::kNoSupport, 3, 20, "virDomainOpenConsole"},
    {202, true, ProcAnswer::kNoSupport, 3, 20, "virDomainIsUpdated"},
    {203, true, ProcAnswer::kNoSupport, 3, 20, "virConnectGetSysinfo"},
    {204, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetMemoryFlags"},
    {205, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetBlkioParameters"},
    {206, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetBlkioParameters"},
    {207, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateSetMaxSpeed"},
    {208, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolUpload"},
    {209, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolDownload"},
    {210, true, ProcAnswer::kNoSupport, 3, 20, "virDomainInjectNMI"},
    {211, true, ProcAnswer::kNoSupport, 3, 20, "virDomainScreenshot"},
    {212, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetState"},
    {213, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateBegin3"},
    {214, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigratePrepare3"},
    {215, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigratePrepareTunnel3"},
    {216, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigratePerform3"},
    {217, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateFinish3", Decoded<CheckMigrateFinish3>},
    {218, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateConfirm3"},
    {219, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetSchedulerParametersFlags"},
    {220, false, ProcAnswer::kNoSupport, 3, 26, "virInterfaceChangeBegin"},
    {221, false, ProcAnswer::kNoSupport, 3, 26, "virInterfaceChangeCommit"},
    {222, false, ProcAnswer::kNoSupport, 3, 26, "virInterfaceChangeRollback"},
    {223, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetSchedulerParametersFlags"},
    {225, true, ProcAnswer::kNoSupport, 3, 20, "virDomainPinVcpuFlags"},
    {226, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSendKey"},
    {227, true, ProcAnswer::kNoSupport, 3, 20, "virNodeGetCPUStats"},
    {228, true, ProcAnswer::kNoSupport, 3, 20, "virNodeGetMemoryStats"},
    {229, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetControlInfo"},
    {230, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetVcpuPinInfo"},
    {231, true, ProcAnswer::kNoSupport, 3, 20, "virDomainUndefineFlags"},
    {232, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSaveFlags"},
    {233, true, ProcAnswer::kNoSupport, 3, 20, "virDomainRestoreFlags"},
    {234, true, ProcAnswer::kNoSupport, 3, 20, "virDomainDestroyFlags"},
    {235, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSaveImageGetXMLDesc"},
    {236, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSaveImageDefineXML"},
    {237, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBlockJobAbort"},
    {238, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetBlockJobInfo"},
    {239, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBlockJobSetSpeed"},
    {240, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBlockPull"},
    {242, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateGetMaxSpeed"},
    {243, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBlockStatsFlags"},
    {244, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotGetParent"},
    {245, true, ProcAnswer::kNoSupport, 3, 20, "virDomainReset"},
    {246, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotNumChildren"},
    {247, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotListChildrenNames"},
    {249, true, ProcAnswer::kLiteral, 1, 7, "internal error: No FD available at slot 0"},
    {250, true, ProcAnswer::kNoSupport, 3, 20, "virNodeSuspendForDuration"},
    {251, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBlockResize"},
    {252, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetBlockIoTune"},
    {253, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetBlockIoTune"},
    {254, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetNumaParameters"},
    {255, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetNumaParameters"},
    {256, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetInterfaceParameters"},
    {257, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetInterfaceParameters"},
    {258, true, ProcAnswer::kNoSupport, 3, 20, "virDomainShutdownFlags"},
    {259, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolWipePattern"},
    {260, false, ProcAnswer::kNoSupport, 3, 18, "virStorageVolResize"},
    {261, true, ProcAnswer::kNoSupport, 3, 20, "virDomainPMSuspendForDuration"},
    {262, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetCPUStats"},
    {263, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetDiskErrors"},
    {264, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetMetadata"},
    {265, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetMetadata"},
    {266, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBlockRebase"},
    {267, true, ProcAnswer::kNoSupport, 3, 20, "virDomainPMWakeup"},
    {271, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotIsCurrent"},
    {272, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotHasMetadata"},
    {273, true, ProcAnswer::kNoSupport, 3, 20, "virConnectListAllDomains"},
    {274, true, ProcAnswer::kNoSupport, 3, 35, "virDomainListAllSnapshots"},
    {275, true, ProcAnswer::kNoSupport, 3, 35, "virDomainSnapshotListAllChildren"},
    {277, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetHostname"},
    {278, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetSecurityLabelList", Decoded<CheckDomainOnly>},
    {279, true, ProcAnswer::kNoSupport, 3, 20, "virDomainPinEmulator"},
    {280, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetEmulatorPinInfo"},
    {281, false, ProcAnswer::kNoSupport, 3, 18, "virConnectListAllStoragePools"},
    {282, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolListAllVolumes"},
    {283, false, ProcAnswer::kNoSupport, 3, 19, "virConnectListAllNetworks"},
    {284, false, ProcAnswer::kNoSupport, 3, 26, "virConnectListAllInterfaces"},
    {285, false, ProcAnswer::kNoSupport, 3, 22, "virConnectListAllNodeDevices"},
    {286, false, ProcAnswer::kNoSupport, 3, 33, "virConnectListAllNWFilters"},
    {287, false, ProcAnswer::kImplemented, 0, 0, ""},
    {288, true, ProcAnswer::kNoSupport, 3, 20, "virNodeSetMemoryParameters"},
    {289, true, ProcAnswer::kNoSupport, 3, 20, "virNodeGetMemoryParameters"},
    {290, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBlockCommit"},
    {291, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkUpdate"},
    {293, true, ProcAnswer::kNoSupport, 3, 20, "virNodeGetCPUMap"},
    {294, true, ProcAnswer::kNoSupport, 3, 20, "virDomainFSTrim"},
    {295, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSendProcessSignal"},
    {296, true, ProcAnswer::kNoSupport, 3, 20, "virDomainOpenChannel"},
    {297, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceLookupSCSIHostByWWN"},
    {298, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetJobStats"},
    {299, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateGetCompressionCache"},
    {300, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateSetCompressionCache"},
    {301, true, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceDetachFlags"},
    {302, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateBegin3Params"},
    {303, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigratePrepare3Params"},
    {304, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigratePrepareTunnel3Params"},
    {305, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigratePerform3Params"},
    {306, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateFinish3Params"},
    {307, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateConfirm3Params"},
    {308, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetMemoryStatsPeriod"},
    {309, true, ProcAnswer::kNoSupport, 3, 20, "virDomainCreateXMLWithFiles"},
    {310, true, ProcAnswer::kNoSupport, 3, 20, "virDomainCreateWithFiles"},
    {312, true, ProcAnswer::kNoSupport, 3, 20, "virConnectGetCPUModelNames"},
    {313, false, ProcAnswer::kNoSupport, 3, 19, "virConnectNetworkEventRegisterAny"},
    {314, false, ProcAnswer::kCallbackNotRegistered, 1, 7, "internal error: network event callback %d not registered"},
    {316, true, ProcAnswer::kNoSupport, 3, 20, "virConnectDomainEventRegisterAny"},
    {317, true, ProcAnswer::kCallbackNotRegistered, 1, 7, "internal error: domain event callback %d not registered"},
    {334, true, ProcAnswer::kNoSupport, 3, 20, "virDomainCoreDumpWithFormat"},
    {335, true, ProcAnswer::kNoSupport, 3, 20, "virDomainFSFreeze"},
    {336, true, ProcAnswer::kNoSupport, 3, 20, "virDomainFSThaw"},
    {337, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetTime"},
    {338, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetTime"},
    {340, true, ProcAnswer::kNoSupport, 3, 20, "virNodeGetFreePages"},
    {341, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkGetDHCPLeases"},
    {342, true, ProcAnswer::kNoSupport, 3, 20, "virConnectGetDomainCapabilities"},
    {343, true, ProcAnswer::kLiteral, 74, 20, "argument unsupported: fd passing is not supported by this connection"},
    {344, true, ProcAnswer::kNoSupport, 3, 20, "virConnectGetAllDomainStats"},
    {345, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBlockCopy"},
    {347, true, ProcAnswer::kNoSupport, 3, 20, "virNodeAllocPages"},
    {349, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetFSInfo"},
    {350, true, ProcAnswer::kNoSupport, 3, 20, "virDomainDefineXMLFlags"},
    {351, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetIOThreadInfo"},
    {352, true, ProcAnswer::kNoSupport, 3, 20, "virDomainPinIOThread"},
    {353, true, ProcAnswer::kNoSupport, 3, 20, "virDomainInterfaceAddresses"},
    {355, true, ProcAnswer::kNoSupport, 3, 20, "virDomainAddIOThread"},
    {356, true, ProcAnswer::kNoSupport, 3, 20, "virDomainDelIOThread"},
    {357, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetUserPassword"},
    {358, true, ProcAnswer::kNoSupport, 3, 20, "virDomainRename"},
    {360, true, ProcAnswer::kImplemented, 0, 0, ""},
    {361, true, ProcAnswer::kImplemented, 0, 0, ""},
    {364, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateStartPostCopy"},
    {365, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetPerfEvents"},
    {366, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetPerfEvents"},
    {368, false, ProcAnswer::kNoSupport, 3, 18, "virConnectStoragePoolEventRegisterAny"},
    {369, false, ProcAnswer::kCallbackNotRegistered, 1, 7, "internal error: storage pool event callback %d not registered"},
    {371, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetGuestVcpus"},
    {372, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetGuestVcpus"},
    {374, false, ProcAnswer::kNoSupport, 3, 22, "virConnectNodeDeviceEventRegisterAny"},
    {375, false, ProcAnswer::kCallbackNotRegistered, 1, 7, "internal error: node device event callback %d not registered"},
    {378, false, ProcAnswer::kUnmodelled, 0, 0, ""},
    {380, false, ProcAnswer::kImplemented, 0, 0, ""},
    {381, false, ProcAnswer::kImplemented, 0, 0, ""},
    {384, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetVcpu"},
    {386, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetBlockThreshold"},
    {387, true, ProcAnswer::kNoSupport, 3, 20, "virDomainMigrateGetMaxDowntime"},
    {388, true, ProcAnswer::kNoSupport, 3, 20, "virDomainManagedSaveGetXMLDesc"},
    {389, true, ProcAnswer::kNoSupport, 3, 20, "virDomainManagedSaveDefineXML"},
    {390, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetLifecycleAction"},
    {391, false, ProcAnswer::kNoSupport, 3, 18, "virStoragePoolLookupByTargetPath"},
    {392, true, ProcAnswer::kNoSupport, 3, 20, "virDomainDetachDeviceAlias"},
    {393, true, ProcAnswer::kNoSupport, 3, 20, "virConnectCompareHypervisorCPU"},
    {394, true, ProcAnswer::kNoSupport, 3, 20, "virConnectBaselineHypervisorCPU"},
    {395, true, ProcAnswer::kNoSupport, 3, 20, "virNodeGetSEVInfo"},
    {396, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetLaunchSecurityInfo"},
    {397, false, ProcAnswer::kNoSupport, 3, 33, "virNWFilterBindingLookupByPortDev"},
    {398, false, ProcAnswer::kNoSupport, 3, 33, "virNWFilterBindingGetXMLDesc"},
    {399, false, ProcAnswer::kNoSupport, 3, 33, "virNWFilterBindingCreateXML"},
    {400, false, ProcAnswer::kNoSupport, 3, 33, "virNWFilterBindingDelete"},
    {401, false, ProcAnswer::kNoSupport, 3, 33, "virConnectListAllNWFilterBindings"},
    {402, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetIOThreadParams"},
    {403, false, ProcAnswer::kNoSupport, 3, 18, "virConnectGetStoragePoolCapabilities"},
    {404, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkListAllPorts"},
    {405, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkPortLookupByUUID"},
    {406, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkPortCreateXML"},
    {407, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkPortGetParameters"},
    {408, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkPortSetParameters"},
    {409, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkPortGetXMLDesc"},
    {410, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkPortDelete"},
    {411, true, ProcAnswer::kNoSupport, 3, 69, "virDomainCheckpointCreateXML"},
    {412, true, ProcAnswer::kNoSupport, 3, 69, "virDomainCheckpointGetXMLDesc"},
    {413, true, ProcAnswer::kNoSupport, 3, 69, "virDomainListAllCheckpoints"},
    {414, true, ProcAnswer::kNoSupport, 3, 69, "virDomainCheckpointListAllChildren"},
    {415, true, ProcAnswer::kNoSupport, 3, 69, "virDomainCheckpointLookupByName"},
    {416, true, ProcAnswer::kNoSupport, 3, 69, "virDomainCheckpointGetParent"},
    {417, true, ProcAnswer::kNoSupport, 3, 69, "virDomainCheckpointDelete"},
    {418, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetGuestInfo"},
    {419, true, ProcAnswer::kImplemented, 0, 0, ""},
    {420, true, ProcAnswer::kNoSupport, 3, 20, "virDomainAgentSetResponseTimeout"},
    {421, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBackupBegin"},
    {422, true, ProcAnswer::kNoSupport, 3, 20, "virDomainBackupGetXMLDesc"},
    {424, true, ProcAnswer::kNoSupport, 3, 20, "virDomainAuthorizedSSHKeysGet"},
    {425, true, ProcAnswer::kNoSupport, 3, 20, "virDomainAuthorizedSSHKeysSet"},
    {426, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetMessages"},
    {427, true, ProcAnswer::kNoSupport, 3, 20, "virDomainStartDirtyRateCalc"},
    {428, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceDefineXML"},
    {429, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceUndefine"},
    {430, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceCreate"},
    {431, false, ProcAnswer::kNoSupport, 3, 33, "virNWFilterDefineXMLFlags"},
    {432, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkDefineXMLFlags"},
    {433, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceGetAutostart"},
    {434, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceSetAutostart"},
    {435, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceIsPersistent"},
    {436, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceIsActive"},
    {437, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkCreateXMLFlags"},
    {439, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetLaunchSecurityState"},
    {440, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSaveParams"},
    {441, true, ProcAnswer::kNoSupport, 3, 20, "virDomainRestoreParams"},
    {442, true, ProcAnswer::kNoSupport, 3, 20, "virDomainAbortJobFlags"},
    {443, true, ProcAnswer::kLiteral, 74, 20, "argument unsupported: fd passing is not supported by this connection"},
    // Added after 9.0. 446, 453, 454 and 455 are event messages, which libvirtd answers as unknown
    // procedures. libvirtd 12.8 itself crashes on 444 and 445 when their arguments pass the API's
    // checks (it has no network driver to ask); vsecretd answers NO_SUPPORT there (README).
    {444, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkSetMetadata", Decoded<CheckNetworkSetMetadata>},
    {445, false, ProcAnswer::kNoSupport, 3, 19, "virNetworkGetMetadata", Decoded<CheckNetworkGetMetadata>},
    {447, false, ProcAnswer::kNoSupport, 3, 22, "virNodeDeviceUpdate", Decoded<CheckNodeDeviceUpdate>},
    {448, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGraphicsReload", Decoded<CheckGraphicsReload>},
    {449, true, ProcAnswer::kNoSupport, 3, 20, "virDomainGetAutostartOnce", Decoded<CheckDomainOnly>},
    {450, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetAutostartOnce", Decoded<CheckSetAutostartOnce>},
    {451, true, ProcAnswer::kNoSupport, 3, 20, "virDomainSetThrottleGroup", Decoded<CheckSetThrottleGroup>},
    {452, true, ProcAnswer::kNoSupport, 3, 20, "virDomainDelThrottleGroup", Decoded<CheckDelThrottleGroup>},
    {456, true, ProcAnswer::kNoSupport, 3, 20, "virDomainAnnounceInterface", Decoded<CheckAnnounceInterface>},
}};
// clang-format on

}  // namespace

const RemoteProcInfo* FindRemoteProc(std::int32_t proc) {
  auto it = std::lower_bound(kProcs.begin(), kProcs.end(), proc,
                             [](const RemoteProcInfo& info, std::int32_t p) { return info.proc < p; });
  if (it == kProcs.end() || it->proc != proc) return nullptr;
  return &*it;
}

}  // namespace vsecret::rpc
