#include "store/aes256cbc_format.h"

#include <array>

#include "base/base64.h"
#include "base/strings.h"

namespace vsecret {
namespace {}  // namespace

Result<SecretBytes> EncodeAes256CbcValue(const EncryptionKey& key,
                                         std::span<const std::uint8_t, kAesBlockBytes> iv,
                                         const SecretBytes& value) {
  auto ciphertext = Aes256CbcEncrypt(key.bytes(), iv, value.span());
  if (!ciphertext) return std::unexpected(ciphertext.error());
  SecretBytes raw;
  raw.Append(std::span<const std::uint8_t>(iv));
  raw.Append(ciphertext->span());
  return Base64EncodeSecret(raw.AsStringView());
}

Result<SecretBytes> EncodeAes256CbcValue(const EncryptionKey& key, const SecretBytes& value) {
  std::array<std::uint8_t, kAesBlockBytes> iv{};
  if (auto ok = FillRandom(iv); !ok) return std::unexpected(ok.error());
  return EncodeAes256CbcValue(key, iv, value);
}

DecodeResult DecodeAes256CbcValue(const Keyring* keyring, const SecretBytes& content,
                                  const std::string& path) {
  auto invalid = [](DecodeError::Kind kind, const std::string& detail) {
    return std::unexpected(DecodeError{
        kind, Error(ErrorCode::kInvalidSecret, ErrorDomain::kSecret, "Invalid secret: " + detail)});
  };
  SecretBytes raw = Base64DecodeLenient(content.AsStringView());
  if (raw.size() < kAesBlockBytes) {
    return invalid(DecodeError::Kind::kInvalid,
                   "Encrypted secret size '" + std::to_string(raw.size()) + "' is invalid");
  }
  if (keyring == nullptr) {
    return invalid(DecodeError::Kind::kKeyUnavailable,
                   "cannot decrypt " + Quoted(path) + ": no encryption key is loaded");
  }
  const auto iv = std::span<const std::uint8_t>(raw.span()).first<kAesBlockBytes>();
  const auto ciphertext = raw.span().subspan(kAesBlockBytes);
  const EncryptionKey& key = keyring->keys().front();
  auto plain = Aes256CbcDecrypt(key.bytes(), iv, ciphertext);
  if (!plain) return std::unexpected(DecodeError{DecodeError::Kind::kInvalid, plain.error()});
  if (*plain) return std::move(**plain);
  return invalid(DecodeError::Kind::kInvalid,
                 "cannot decrypt " + Quoted(path) + ": wrong key or corrupted file");
}

}  // namespace vsecret
