// The two halves of ParseSecretXml (conf/secret_xml.h), for secret_xml.cc and its differential unit
// test only: the strict recogniser of documents FormatSecretXml wrote, and the libxml2 parser that
// takes everything else. Nothing outside those two includes this header.
#pragma once

#include <optional>
#include <string_view>

#include "conf/secret_xml.h"

namespace vsecret::secret_xml_internal {

// The definition when XML is byte for byte what FormatSecretXml writes; nullopt when it cannot be
// certain (the caller then asks libxml2), never a different verdict.
std::optional<SecretDef> ParseCanonicalSecretXml(std::string_view xml);

// libxml2 with libvirt's parser options and look-up rules; SOURCE_NAME names the document in errors.
Result<SecretDef> ParseSecretXmlWithLibxml(std::string_view xml, unsigned flags,
                                           std::string_view source_name);

}  // namespace vsecret::secret_xml_internal
