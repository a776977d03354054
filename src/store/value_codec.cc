#include "store/value_codec.h"

#include "base/base64.h"
#include "store/aes256cbc_format.h"
#include "store/sealed_format.h"

namespace vsecret {
namespace {

std::unexpected<Error> NoWriteKey(ValueFormat format) {
  return InternalError(ErrorDomain::kSecret, "cannot write a " + std::string(FormatName(format)) +
                                                 " value without an encryption key");
}

class Base64ValueCodec final : public ValueCodec {
 public:
  ValueFormat format() const override { return ValueFormat::kBase64; }

  Result<SecretBytes> Encode(const Uuid& /*uuid*/, const SecretBytes& value) const override {
    return Base64EncodeSecret(value.AsStringView());
  }

  DecodeResult Decode(const Uuid& /*uuid*/, const SecretBytes& content,
                      const std::string& /*path*/) const override {
    return Base64DecodeLenient(content.AsStringView());
  }
};

class Aes256CbcValueCodec final : public ValueCodec {
 public:
  explicit Aes256CbcValueCodec(std::shared_ptr<const Keyring> keyring) : keyring_(std::move(keyring)) {}

  ValueFormat format() const override { return ValueFormat::kAes256Cbc; }

  Result<SecretBytes> Encode(const Uuid& /*uuid*/, const SecretBytes& value) const override {
    if (!keyring_) return NoWriteKey(format());
    return EncodeAes256CbcValue(keyring_->keys().front(), value);
  }

  DecodeResult Decode(const Uuid& /*uuid*/, const SecretBytes& content,
                      const std::string& path) const override {
    return DecodeAes256CbcValue(keyring_.get(), content, path);
  }

 private:
  std::shared_ptr<const Keyring> keyring_;
};

class SealedValueCodec final : public ValueCodec {
 public:
  explicit SealedValueCodec(std::shared_ptr<const Keyring> keyring) : keyring_(std::move(keyring)) {}

  ValueFormat format() const override { return ValueFormat::kSealed; }

  Result<SecretBytes> Encode(const Uuid& uuid, const SecretBytes& value) const override {
    if (!keyring_) return NoWriteKey(format());
    return SealValue(keyring_->write_key(), uuid, value);
  }

  DecodeResult Decode(const Uuid& uuid, const SecretBytes& content, const std::string& path) const override {
    return OpenSealedValue(keyring_.get(), uuid, content, path);
  }

 private:
  std::shared_ptr<const Keyring> keyring_;
};

}  // namespace

std::string_view ExtensionOf(ValueFormat format) {
  switch (format) {
    case ValueFormat::kSealed:
      return kSealedExtension;
    case ValueFormat::kAes256Cbc:
      return kAes256CbcExtension;
    case ValueFormat::kBase64:
      break;
  }
  return kBase64Extension;
}

std::string_view FormatName(ValueFormat format) { return ExtensionOf(format).substr(1); }

std::optional<ValueFormat> FormatFromName(std::string_view name) {
  for (ValueFormat f : {ValueFormat::kSealed, ValueFormat::kAes256Cbc, ValueFormat::kBase64}) {
    if (FormatName(f) == name) return f;
  }
  return std::nullopt;
}

std::unique_ptr<ValueCodec> MakeBase64ValueCodec() { return std::make_unique<Base64ValueCodec>(); }

std::unique_ptr<ValueCodec> MakeAes256CbcValueCodec(std::shared_ptr<const Keyring> keyring) {
  return std::make_unique<Aes256CbcValueCodec>(std::move(keyring));
}

std::unique_ptr<ValueCodec> MakeSealedValueCodec(std::shared_ptr<const Keyring> keyring) {
  return std::make_unique<SealedValueCodec>(std::move(keyring));
}

}  // namespace vsecret
