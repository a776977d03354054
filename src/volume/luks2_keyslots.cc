#include "volume/luks2_keyslots.h"

#include <argon2.h>

#include <algorithm>
#include <cstring>

#include "volume/luks_crypto.h"
#include "volume/sector_cipher.h"

namespace vsecret::volume {
namespace {

const Luks2Digest* SegmentDigestFor(const Luks2Header& header, int keyslot) {
  for (const Luks2Digest& d : header.digests) {
    const bool has_slot = std::find(d.keyslots.begin(), d.keyslots.end(), keyslot) != d.keyslots.end();
    const bool has_segment = std::find(d.segments.begin(), d.segments.end(), 0) != d.segments.end();
    if (has_slot && has_segment) return &d;
  }
  return nullptr;
}

}  // namespace

std::pair<std::string_view, std::string_view> SplitLuks2Cipher(std::string_view encryption) {
  const std::size_t dash = encryption.find('-');
  if (dash == std::string_view::npos) return {encryption, {}};
  return {encryption.substr(0, dash), encryption.substr(dash + 1)};
}

Result<void> DeriveLuks2Key(const Luks2Kdf& kdf, const SecretBytes& passphrase, std::span<std::uint8_t> out) {
  if (kdf.type == "pbkdf2") return Pbkdf2(kdf.hash, passphrase.span(), kdf.salt, kdf.iterations, out);
  const argon2_type type = kdf.type == "argon2i" ? Argon2_i : Argon2_id;
  if (kdf.type != "argon2i" && kdf.type != "argon2id") {
    return ConfigUnsupported(ErrorDomain::kStorage, "LUKS2 kdf '" + kdf.type + "' is not supported");
  }
  const int rc =
      argon2_hash(kdf.time, kdf.memory, kdf.cpus, passphrase.data(), passphrase.size(), kdf.salt.data(),
                  kdf.salt.size(), out.data(), out.size(), nullptr, 0, type, ARGON2_VERSION_13);
  if (rc != ARGON2_OK) {
    return InternalError(ErrorDomain::kStorage,
                         std::string("argon2 key derivation failed: ") + argon2_error_message(rc));
  }
  return {};
}

Result<bool> CheckLuks2Digest(const Luks2Digest& digest, const SecretBytes& key) {
  std::vector<std::uint8_t> computed(digest.digest.size());
  if (Result<void> r = Pbkdf2(digest.hash, key.span(), digest.salt, digest.iterations, computed); !r)
    return std::unexpected(r.error());
  // Constant-time comparison: the digest is public, but a timing oracle costs nothing to avoid.
  unsigned diff = 0;
  for (std::size_t i = 0; i < computed.size(); ++i) diff |= computed[i] ^ digest.digest[i];
  return diff == 0;
}

Result<UnlockedLuks2> UnlockLuks2(const BlockFile& file, const Luks2Header& header,
                                  const SecretBytes& passphrase) {
  std::vector<const Luks2Keyslot*> order;
  for (const Luks2Keyslot& k : header.keyslots) {
    if (k.priority.value_or(1) == 0) continue;
    if (SegmentDigestFor(header, k.id) == nullptr) continue;  // unbound keyslot
    order.push_back(&k);
  }
  std::stable_sort(order.begin(), order.end(), [](const Luks2Keyslot* a, const Luks2Keyslot* b) {
    return a->priority.value_or(1) > b->priority.value_or(1);
  });
  std::optional<Error> first_error;
  std::size_t tried = 0;  // keyslots whose passphrase check actually ran
  for (const Luks2Keyslot* k : order) {
    const auto [cipher_name, mode] = SplitLuks2Cipher(k->area_encryption);
    Result<CipherSpec> spec = ParseCipherSpec(cipher_name, mode, k->area_key_size);
    if (!spec) {
      // A keyslot vsecret cannot decrypt does not hide the others.
      if (!first_error) first_error = spec.error();
      continue;
    }
    SecretBytes area_key;
    area_key.Resize(k->area_key_size);
    if (Result<void> r = DeriveLuks2Key(k->kdf, passphrase, {area_key.data(), area_key.size()}); !r) {
      // An unsupported kdf type makes this keyslot unusable; the others may still open the volume.
      if (r.error().code() != ErrorCode::kConfigUnsupported) return std::unexpected(r.error());
      if (!first_error) first_error = r.error();
      continue;
    }
    ++tried;
    Result<std::unique_ptr<SectorCipher>> cipher = SectorCipher::Create(*spec, area_key);
    if (!cipher) return std::unexpected(cipher.error());
    SecretBytes material;
    const std::uint64_t bytes = static_cast<std::uint64_t>(k->key_size) * k->stripes;
    material.Resize((bytes + kSectorSize - 1) / kSectorSize * kSectorSize);
    if (Result<void> r = file.ReadAt(k->area_offset, {material.data(), material.size()}, "keyslot area"); !r)
      return std::unexpected(r.error());
    if (Result<void> r = (*cipher)->Decrypt(0, {material.data(), material.size()}); !r)
      return std::unexpected(r.error());
    Result<SecretBytes> key = AfMerge(material.span().first(bytes), k->key_size, k->stripes, k->af_hash);
    if (!key) return std::unexpected(key.error());
    Result<bool> match = CheckLuks2Digest(*SegmentDigestFor(header, k->id), *key);
    if (!match) return std::unexpected(match.error());
    if (*match) {
      UnlockedLuks2 out;
      out.header = header;
      out.volume_key = std::move(*key);
      out.keyslot = k->id;
      return out;
    }
  }
  // When no keyslot could even be tried, "invalid password" would hide the real reason.
  if (first_error && tried == 0) return std::unexpected(*first_error);
  return Fail(ErrorCode::kOperationFailed, ErrorDomain::kStorage,
              "operation failed: Invalid password, cannot unlock any keyslot");
}

}  // namespace vsecret::volume
