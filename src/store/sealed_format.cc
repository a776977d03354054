#include "store/sealed_format.h"

#include <algorithm>

namespace vsecret {
namespace {

constexpr std::size_t kVersionOffset = 4;
constexpr std::size_t kCipherOffset = 5;
constexpr std::size_t kReservedOffset = 6;
constexpr std::size_t kKeyIdOffset = 8;
constexpr std::size_t kNonceOffset = 16;

using Header = std::array<std::uint8_t, kSealedHeaderBytes>;
using Aad = std::array<std::uint8_t, kSealedHeaderBytes + Uuid::kSize>;

Aad MakeAad(std::span<const std::uint8_t> header, const Uuid& uuid) {
  Aad aad{};
  std::copy(header.begin(), header.end(), aad.begin());
  std::copy(uuid.bytes().begin(), uuid.bytes().end(), aad.begin() + kSealedHeaderBytes);
  return aad;
}

std::unexpected<DecodeError> Refuse(DecodeError::Kind kind, const std::string& path,
                                    const std::string& reason) {
  return std::unexpected(DecodeError{kind, Error(ErrorCode::kInvalidSecret, ErrorDomain::kSecret,
                                                 "Invalid secret: " + path + ": " + reason)});
}

}  // namespace

Result<SecretBytes> SealValue(const EncryptionKey& key, const Uuid& uuid, const SecretBytes& value,
                              std::span<const std::uint8_t, kGcmNonceBytes> nonce) {
  Header header{};
  std::copy(kSealedMagic.begin(), kSealedMagic.end(), header.begin());
  header[kVersionOffset] = kSealedVersion;
  header[kCipherOffset] = kSealedCipherAes256Gcm;
  std::copy(key.id().begin(), key.id().end(), header.begin() + kKeyIdOffset);
  std::copy(nonce.begin(), nonce.end(), header.begin() + kNonceOffset);
  const Aad aad = MakeAad(header, uuid);
  auto sealed = Aes256GcmSeal(key.bytes(), nonce, aad, value.span());
  if (!sealed) return std::unexpected(sealed.error());
  SecretBytes out;
  out.Append(std::span<const std::uint8_t>(header));
  out.Append(sealed->span());
  return out;
}

Result<SecretBytes> SealValue(const EncryptionKey& key, const Uuid& uuid, const SecretBytes& value) {
  std::array<std::uint8_t, kGcmNonceBytes> nonce{};
  if (auto ok = FillRandom(nonce); !ok) return std::unexpected(ok.error());
  return SealValue(key, uuid, value, nonce);
}

std::optional<KeyId> SealedKeyId(const SecretBytes& content) {
  if (content.size() < kSealedHeaderBytes ||
      !std::equal(kSealedMagic.begin(), kSealedMagic.end(), content.data()) ||
      content.data()[kVersionOffset] != kSealedVersion) {
    return std::nullopt;
  }
  KeyId id{};
  std::copy_n(content.data() + kKeyIdOffset, id.size(), id.begin());
  return id;
}

DecodeResult OpenSealedValue(const Keyring* keyring, const Uuid& uuid, const SecretBytes& content,
                             const std::string& path) {
  using Kind = DecodeError::Kind;
  const std::uint8_t* p = content.data();
  // The magic is checked on whatever is there, so a short foreign file is "not ours" rather
  // than "truncated".
  const std::size_t magic_len = std::min(content.size(), kSealedMagic.size());
  if (!std::equal(kSealedMagic.begin(), kSealedMagic.begin() + magic_len, p)) {
    return Refuse(Kind::kInvalid, path, "not a vsecret value file");
  }
  if (content.size() <= kVersionOffset) return Refuse(Kind::kInvalid, path, "truncated value file");
  if (p[kVersionOffset] != kSealedVersion) {
    return Refuse(Kind::kInvalid, path,
                  "unsupported value file format version " + std::to_string(p[kVersionOffset]));
  }
  if (content.size() < kSealedOverheadBytes) return Refuse(Kind::kInvalid, path, "truncated value file");
  if (p[kCipherOffset] != kSealedCipherAes256Gcm) {
    return Refuse(Kind::kInvalid, path, "unsupported cipher " + std::to_string(p[kCipherOffset]));
  }
  if (p[kReservedOffset] != 0 || p[kReservedOffset + 1] != 0) {
    return Refuse(Kind::kInvalid, path, "unsupported flags in header");
  }
  const KeyId id = *SealedKeyId(content);
  if (keyring == nullptr) {
    return Refuse(Kind::kKeyUnavailable, path,
                  "sealed with key " + KeyIdToHex(id) + ", but no encryption key is loaded");
  }
  const EncryptionKey* key = keyring->Find(id);
  if (key == nullptr) {
    const EncryptionKey& loaded = keyring->write_key();
    return Refuse(Kind::kKeyUnavailable, path,
                  "sealed with key " + KeyIdToHex(id) + ", but the loaded key is " + KeyIdToHex(loaded.id()) +
                      " ('" + loaded.origin() + "')");
  }
  const auto all = content.span();
  const auto header = all.first<kSealedHeaderBytes>();
  const Aad aad = MakeAad(header, uuid);
  const auto nonce = all.subspan<kNonceOffset, kGcmNonceBytes>();
  auto opened = Aes256GcmOpen(key->bytes(), nonce, aad, all.subspan(kSealedHeaderBytes));
  if (!opened) return std::unexpected(DecodeError{Kind::kInvalid, opened.error()});
  if (!*opened) {
    return Refuse(Kind::kInvalid, path,
                  "authentication failed: the file was modified, truncated or belongs to another secret");
  }
  return std::move(**opened);
}

}  // namespace vsecret
