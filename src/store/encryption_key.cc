#include "store/encryption_key.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "base/strings.h"
#include "store/cipher.h"

namespace vsecret {
namespace {

constexpr std::string_view kKeyIdLabel = "vsecret key id v1";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string KeyIdToHex(const KeyId& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(id.size() * 2);
  for (std::uint8_t b : id) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::optional<KeyId> KeyIdFromHex(std::string_view hex) {
  KeyId id{};
  if (hex.size() != id.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const int hi = HexDigit(hex[2 * i]);
    const int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return id;
}

Result<EncryptionKey> EncryptionKey::FromBytes(SecretBytes bytes, std::string origin) {
  if (bytes.size() != kSize) {
    return Fail(ErrorCode::kInvalidSecret, ErrorDomain::kSecret,
                "Encryption key length must be '" + std::to_string(kSize) + "' " + Quoted(origin));
  }
  auto mac =
      HmacSha256(bytes, std::span<const std::uint8_t>(
                            reinterpret_cast<const std::uint8_t*>(kKeyIdLabel.data()), kKeyIdLabel.size()));
  if (!mac) return std::unexpected(mac.error());
  KeyId id{};
  std::copy_n(mac->begin(), id.size(), id.begin());
  return EncryptionKey(std::move(bytes), id, std::move(origin));
}

Result<EncryptionKey> EncryptionKey::Generate(std::string origin) {
  SecretBytes bytes;
  bytes.Resize(kSize);
  if (auto ok = FillRandom(std::span<std::uint8_t>(bytes.data(), bytes.size())); !ok) {
    return std::unexpected(ok.error());
  }
  return FromBytes(std::move(bytes), std::move(origin));
}

Result<EncryptionKey> ReadKeyFile(Env* env, const std::string& path) {
  auto file = env->NewReadableFile(path);
  if (!file)
    return SystemError(ErrorDomain::kNone, file.error().errnum, "Failed to open file " + Quoted(path));
  // libvirt reads with a limit of exactly the key size, so one byte more is "too large".
  auto content = (*file)->ReadAll(EncryptionKey::kSize);
  if (!content) {
    return SystemError(ErrorDomain::kNone, content.error().errnum, "Failed to read file " + Quoted(path));
  }
  if (content->size() != EncryptionKey::kSize) {
    return Fail(
        ErrorCode::kInvalidSecret, ErrorDomain::kSecret,
        "Encryption key length must be '" + std::to_string(EncryptionKey::kSize) + "' " + Quoted(path));
  }
  // Checked after the content so that the reference's messages keep their precedence. A key
  // others can read is as good as published; one others can write can be swapped for theirs.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IRWXO) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Fail(
        ErrorCode::kInvalidSecret, ErrorDomain::kSecret,
        "Encryption key file " + Quoted(path) + " must not be accessible by other users (mode " + mode + ")");
  }
  return EncryptionKey::FromBytes(std::move(*content), path);
}

Keyring::Keyring(std::vector<EncryptionKey> keys, std::size_t write_index) {
  const KeyId write_id = keys.at(write_index).id();
  for (EncryptionKey& key : keys) {
    if (Find(key.id()) == nullptr) keys_.push_back(std::move(key));
  }
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].id() == write_id) write_index_ = i;
  }
}

const EncryptionKey* Keyring::Find(const KeyId& id) const {
  for (const EncryptionKey& key : keys_) {
    if (key.id() == id) return &key;
  }
  return nullptr;
}

}  // namespace vsecret
