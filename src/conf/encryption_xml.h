// The <encryption> element of storage volumes and disks: parse and format, with the rules and
// error messages of libvirt's storage_encryption_conf.c.
//
// Parsing follows libvirt 9.0's virStorageEncryptionParseNode check by check, so that the first
// error reported is the one libvirt reports, with its exact message. Formatting is byte-identical
// to virStorageEncryptionFormat. Values are kept as written (cipher and ivgen names are not
// validated here): whether a volume can be created with them is the volume code's decision.
#pragma once

#include <libxml/tree.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vsecret/error.h"
#include "vsecret/uuid.h"

namespace vsecret {

// Numeric values are libvirt's virStorageEncryptionFormatType. luks-any ("whichever LUKS
// version the image has") is newer than libvirt 9.0, which rejects it; it is accepted here as
// the newest libvirt accepts it. New volumes are still created as luks only.
enum class EncryptionFormat : int { kDefault = 0, kQcow = 1, kLuks = 2, kLuks2 = 3, kLuksAny = 4 };
enum class EncryptionEngine : int { kDefault = 0, kQemu = 1, kLibrbd = 2 };

std::string_view EncryptionFormatName(EncryptionFormat format);

// <secret type='passphrase' uuid='…'/> or usage='…': exactly one of the two is set.
struct EncryptionSecret {
  std::optional<Uuid> uuid;
  std::optional<std::string> usage;
  bool operator==(const EncryptionSecret&) const = default;
};

// <cipher name size [mode] [hash]/>. size is per key: aes 256 in xts mode means a 64-byte
// LUKS master key.
struct EncryptionCipher {
  std::string name;
  unsigned size = 0;
  std::optional<std::string> mode;
  std::optional<std::string> hash;
  bool operator==(const EncryptionCipher&) const = default;
};

struct EncryptionIvgen {
  std::string name;
  std::optional<std::string> hash;
  bool operator==(const EncryptionIvgen&) const = default;
};

struct EncryptionDef {
  EncryptionFormat format = EncryptionFormat::kLuks;
  EncryptionEngine engine = EncryptionEngine::kDefault;
  std::vector<EncryptionSecret> secrets;
  // Only ever set for format luks; an ivgen implies a cipher.
  std::optional<EncryptionCipher> cipher;
  std::optional<EncryptionIvgen> ivgen;
  bool operator==(const EncryptionDef&) const = default;
};

// Parses an <encryption> element (the node itself, any name) with libvirt's rules.
Result<EncryptionDef> ParseEncryptionNode(const xmlNode* node);
// Parses a document whose root is <encryption> (tests and tools).
Result<EncryptionDef> ParseEncryptionXml(std::string_view xml);
// Appends the element, each line prefixed by indent spaces and ending in '\n'.
void FormatEncryptionXml(std::string& out, const EncryptionDef& def, int indent);

}  // namespace vsecret
