#include "conf/encryption_xml.h"

#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "conf/xml_escape.h"
#include "conf/xml_util.h"

namespace vsecret {
namespace {

using xml_util::AttrText;
using xml_util::Prop;

constexpr std::array<std::string_view, 5> kFormatNames = {"default", "qcow", "luks", "luks2", "luks-any"};
constexpr std::array<std::string_view, 3> kEngineNames = {"default", "qemu", "librbd"};

std::string ElementName(const xmlNode* node) { return reinterpret_cast<const char*>(node->name); }

// virXMLPropUInt(..., base 10, VIR_XML_PROP_REQUIRED): strtoul rules (leading blanks and '+'
// allowed), but no '-' anywhere, no trailing garbage, and it must fit in 32 bits.
Result<unsigned> RequiredUnsigned(const xmlNode* node, const char* name) {
  const std::optional<std::string> text = Prop(node, name);
  if (!text) {
    return XmlError(ErrorDomain::kStorage, std::string("Missing required attribute '") + name +
                                               "' in element '" + ElementName(node) + "'");
  }
  const char* s = text->c_str();
  char* end = nullptr;
  errno = 0;
  const unsigned long value = std::strtoul(s, &end, 10);
  const bool bad =
      end == s || *end != '\0' || errno != 0 || std::memchr(s, '-', end - s) != nullptr || value > UINT_MAX;
  if (bad) {
    return XmlError(ErrorDomain::kStorage, std::string("Invalid value for attribute '") + name +
                                               "' in element '" + ElementName(node) + "': '" + *text +
                                               "'. Expected non-negative integer value");
  }
  return static_cast<unsigned>(value);
}

Result<EncryptionSecret> ParseSecret(const xmlNode* node) {
  const std::optional<std::string> type = AttrText(node, "type");
  if (!type) return XmlError(ErrorDomain::kStorage, "unknown volume encryption secret type");
  if (*type != "passphrase") {
    return ConfigUnsupported(ErrorDomain::kStorage, "unknown volume encryption secret type " + *type);
  }
  // virSecretLookupParseSecret: present-but-empty attributes count as given.
  std::optional<std::string> uuid = Prop(node, "uuid");
  std::optional<std::string> usage = Prop(node, "usage");
  if (!uuid && !usage) return XmlError(ErrorDomain::kStorage, "missing secret uuid or usage attribute");
  if (uuid && usage) return XmlError(ErrorDomain::kStorage, "either secret uuid or usage expected");
  EncryptionSecret secret;
  if (uuid) {
    secret.uuid = Uuid::Parse(*uuid);
    if (!secret.uuid) return XmlError(ErrorDomain::kStorage, "invalid secret uuid '" + *uuid + "'");
  } else {
    secret.usage = std::move(usage);
  }
  return secret;
}

Result<EncryptionCipher> ParseCipher(const xmlNode* node) {
  EncryptionCipher cipher;
  std::optional<std::string> name = Prop(node, "name");
  if (!name) return XmlError(ErrorDomain::kStorage, "cipher info missing 'name' attribute");
  cipher.name = std::move(*name);
  Result<unsigned> size = RequiredUnsigned(node, "size");
  if (!size) return std::unexpected(size.error());
  cipher.size = *size;
  cipher.mode = Prop(node, "mode");
  cipher.hash = Prop(node, "hash");
  return cipher;
}

void AppendAttr(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "='";
  AppendXmlEscaped(out, value);
  out += '\'';
}

}  // namespace

std::string_view EncryptionFormatName(EncryptionFormat format) {
  return kFormatNames[static_cast<std::size_t>(format)];
}

Result<EncryptionDef> ParseEncryptionNode(const xmlNode* node) {
  EncryptionDef def;
  const std::optional<std::string> format = AttrText(node, "format");
  if (!format) return XmlError(ErrorDomain::kStorage, "unknown volume encryption format");
  bool known = false;
  for (std::size_t i = 0; i < kFormatNames.size(); ++i) {
    if (*format == kFormatNames[i]) {
      def.format = static_cast<EncryptionFormat>(i);
      known = true;
    }
  }
  if (!known)
    return ConfigUnsupported(ErrorDomain::kStorage, "unknown volume encryption format type " + *format);

  // virXMLPropEnum with VIR_XML_PROP_NONZERO: "default" is as invalid as an unknown word.
  if (const std::optional<std::string> engine = Prop(node, "engine")) {
    bool valid = false;
    for (std::size_t i = 1; i < kEngineNames.size(); ++i) {
      if (*engine == kEngineNames[i]) {
        def.engine = static_cast<EncryptionEngine>(i);
        valid = true;
      }
    }
    if (!valid) {
      return XmlError(ErrorDomain::kStorage, "Invalid value for attribute 'engine' in element '" +
                                                 ElementName(node) + "': '" + *engine + "'.");
    }
  }

  for (const xmlNode* secret_node : xml_util::Children(node, "secret")) {
    Result<EncryptionSecret> secret = ParseSecret(secret_node);
    if (!secret) return std::unexpected(secret.error());
    def.secrets.push_back(std::move(*secret));
  }

  // Cipher and ivgen only mean something for luks; for other formats libvirt drops them unread.
  if (def.format != EncryptionFormat::kLuks) return def;
  if (const xmlNode* cipher_node = xml_util::FirstChild(node, "cipher")) {
    Result<EncryptionCipher> cipher = ParseCipher(cipher_node);
    if (!cipher) return std::unexpected(cipher.error());
    def.cipher = std::move(*cipher);
  }
  if (const xmlNode* ivgen_node = xml_util::FirstChild(node, "ivgen")) {
    if (!def.cipher) return XmlError(ErrorDomain::kStorage, "ivgen element found, but cipher is missing");
    std::optional<std::string> name = Prop(ivgen_node, "name");
    if (!name) return XmlError(ErrorDomain::kStorage, "missing ivgen info name string");
    def.ivgen = EncryptionIvgen{std::move(*name), Prop(ivgen_node, "hash")};
  }
  return def;
}

Result<EncryptionDef> ParseEncryptionXml(std::string_view xml) {
  Result<xml_util::DocPtr> doc = xml_util::ParseDocument(xml, {.name = "(encryption)"}, "encryption");
  if (!doc) return std::unexpected(doc.error());
  return ParseEncryptionNode(xmlDocGetRootElement(doc->get()));
}

void FormatEncryptionXml(std::string& out, const EncryptionDef& def, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  const std::string inner = pad + "  ";
  out += pad;
  out += "<encryption format='";
  out += EncryptionFormatName(def.format);
  out += '\'';
  if (def.engine != EncryptionEngine::kDefault) {
    out += " engine='";
    out += kEngineNames[static_cast<std::size_t>(def.engine)];
    out += '\'';
  }
  out += ">\n";
  for (const EncryptionSecret& secret : def.secrets) {
    out += inner;
    out += "<secret type='passphrase'";
    if (secret.uuid) {
      out += " uuid='" + secret.uuid->ToString() + "'";
    } else if (secret.usage) {
      AppendAttr(out, "usage", *secret.usage);
    }
    out += "/>\n";
  }
  if (def.format == EncryptionFormat::kLuks && def.cipher) {
    out += inner;
    out += "<cipher";
    AppendAttr(out, "name", def.cipher->name);
    out += " size='" + std::to_string(def.cipher->size) + "'";
    if (def.cipher->mode) AppendAttr(out, "mode", *def.cipher->mode);
    if (def.cipher->hash) AppendAttr(out, "hash", *def.cipher->hash);
    out += "/>\n";
    if (def.ivgen) {
      out += inner;
      out += "<ivgen";
      AppendAttr(out, "name", def.ivgen->name);
      if (def.ivgen->hash) AppendAttr(out, "hash", *def.ivgen->hash);
      out += "/>\n";
    }
  }
  out += pad;
  out += "</encryption>\n";
}

}  // namespace vsecret
