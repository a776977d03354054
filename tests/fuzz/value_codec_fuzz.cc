// Fuzzes the value-file decoders the store runs on whatever it finds on disk: plain base64,
// libvirt's .aes256cbc and vsecret's sealed .vsenc. The keyring holds one fixed key, so inputs
// derived from seeds sealed with that key reach the authenticated-decryption paths.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_check.h"
#include "store/encryption_key.h"
#include "store/sealed_format.h"
#include "store/value_codec.h"
#include "vsecret/uuid.h"

namespace {

// Must match the key value_seeds uses (fuzz_seeds.cc): 32 bytes 0x00..0x1f.
std::shared_ptr<const vsecret::Keyring> FixedKeyring() {
  std::string raw;
  for (int i = 0; i < 32; ++i) raw.push_back(static_cast<char>(i));
  auto key = vsecret::EncryptionKey::FromBytes(vsecret::SecretBytes(std::string_view(raw)), "fuzz-key");
  FUZZ_CHECK(key.has_value());
  std::vector<vsecret::EncryptionKey> keys;
  keys.push_back(std::move(*key));
  return std::make_shared<const vsecret::Keyring>(std::move(keys), 0);
}

struct Codecs {
  std::shared_ptr<const vsecret::Keyring> keyring = FixedKeyring();
  std::unique_ptr<vsecret::ValueCodec> all[3] = {vsecret::MakeSealedValueCodec(keyring),
                                                 vsecret::MakeAes256CbcValueCodec(keyring),
                                                 vsecret::MakeBase64ValueCodec()};
  std::unique_ptr<vsecret::ValueCodec> keyless[2] = {vsecret::MakeSealedValueCodec(nullptr),
                                                     vsecret::MakeAes256CbcValueCodec(nullptr)};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Codecs codecs;
  static const vsecret::Uuid uuid = *vsecret::Uuid::Parse("0a81f5b2-8403-7b23-c8d6-21ccc2f80d6d");
  const vsecret::SecretBytes content(std::span<const std::uint8_t>(data, size));
  const std::string path = "/fuzz/value";
  for (const auto& codec : codecs.all) {
    vsecret::DecodeResult r = codec->Decode(uuid, content, path);
    // A value that decodes must re-encode and decode to itself under the same codec.
    if (r) {
      auto encoded = codec->Encode(uuid, *r);
      FUZZ_CHECK(encoded.has_value());
      auto again = codec->Decode(uuid, *encoded, path);
      FUZZ_CHECK(again.has_value() && again->AsStringView() == r->AsStringView());
    }
  }
  for (const auto& codec : codecs.keyless) {
    // Without a key nothing encrypted may decode.
    FUZZ_CHECK(!codec->Decode(uuid, content, path).has_value());
  }
  (void)vsecret::SealedKeyId(content);
  return 0;
}
