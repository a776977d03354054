#include "store/value_codec.h"

#include "base/base64.h"

namespace vsecret {
namespace {

class Base64ValueCodec final : public ValueCodec {
 public:
  std::string_view extension() const override { return kBase64Extension; }

  Result<SecretBytes> Encode(const SecretBytes& value) const override {
    return Base64EncodeSecret(value.AsStringView());
  }

  Result<SecretBytes> Decode(const SecretBytes& content, const std::string& /*path*/) const override {
    return Base64DecodeLenient(content.AsStringView());
  }
};

}  // namespace

std::unique_ptr<ValueCodec> MakeBase64ValueCodec() { return std::make_unique<Base64ValueCodec>(); }

}  // namespace vsecret
