#include "volume/luks_keyslots.h"

#include <openssl/crypto.h>

#include <cstring>
#include <vector>

#include "volume/volume_rekey.h"
#include "vsecret/uuid.h"

namespace vsecret::volume {
namespace {

std::uint64_t MaterialBytes(const LuksHeader& h) {
  return static_cast<std::uint64_t>(h.key_bytes) * kLuksStripes;
}

Result<HashAlgo> HeaderHash(const LuksHeader& h) {
  std::optional<HashAlgo> hash = HashFromName(h.hash_spec);
  if (!hash) {
    return Fail(ErrorCode::kConfigUnsupported, ErrorDomain::kStorage,
                "unsupported configuration: Requested LUKS hash " + h.hash_spec + " is not supported");
  }
  return *hash;
}

Result<CipherSpec> HeaderCipher(const LuksHeader& h) {
  Result<CipherSpec> spec = ParseCipherSpec(h.cipher_name, h.cipher_mode, h.key_bytes);
  if (!spec) return spec;
  // Key material is processed in whole 512-byte sectors (qemu aborts on aes-192-cbc for this).
  if (MaterialBytes(h) % kSectorSize != 0) {
    return Fail(ErrorCode::kConfigUnsupported, ErrorDomain::kStorage,
                "unsupported configuration: key material of " + std::to_string(MaterialBytes(h)) +
                    " bytes is not a whole number of sectors");
  }
  return spec;
}

// Derives a slot's key from passphrase and returns a cipher for its material.
Result<std::unique_ptr<SectorCipher>> SlotCipher(const LuksHeader& h, const CipherSpec& spec, HashAlgo hash,
                                                 const LuksKeySlot& slot, const SecretBytes& passphrase) {
  SecretBytes slot_key;
  slot_key.Resize(h.key_bytes);
  if (Result<void> r =
          Pbkdf2(hash, passphrase.span(), slot.salt, slot.iterations, {slot_key.data(), slot_key.size()});
      !r) {
    return std::unexpected(r.error());
  }
  return SectorCipher::Create(spec, slot_key);
}

std::uint32_t SlotIterations(HashAlgo hash, std::size_t key_bytes, const KdfOptions& kdf) {
  if (kdf.slot_iterations) return *kdf.slot_iterations;
  return CalibratePbkdf2(hash, key_bytes, kdf.iter_time);
}

// Writes slot `index` of h (already carrying its salt and iterations) for master_key.
Result<void> WriteSlotMaterial(BlockFile& file, std::uint64_t base, const LuksHeader& h,
                               const CipherSpec& spec, HashAlgo hash, int index,
                               const SecretBytes& master_key, const SecretBytes& passphrase) {
  const LuksKeySlot& slot = h.slots[static_cast<std::size_t>(index)];
  Result<SecretBytes> material = AfSplit(master_key, kLuksStripes, hash);
  if (!material) return std::unexpected(material.error());
  Result<std::unique_ptr<SectorCipher>> cipher = SlotCipher(h, spec, hash, slot, passphrase);
  if (!cipher) return std::unexpected(cipher.error());
  if (Result<void> r = (*cipher)->Encrypt(0, {material->data(), material->size()}); !r) return r;
  return file.WriteAt(base + static_cast<std::uint64_t>(slot.key_offset) * kLuksSectorSize, material->span(),
                      "key material");
}

Result<void> WriteHeader(BlockFile& file, std::uint64_t base, const LuksHeader& h) {
  const std::array<std::uint8_t, kLuksHeaderSize> bytes = SerializeLuksHeader(h);
  return file.WriteAt(base, bytes, "LUKS header");
}

std::unexpected<Error> KeyslotError(const std::string& detail) {
  return Fail(ErrorCode::kOperationInvalid, ErrorDomain::kStorage,
              "Requested operation is not valid: " + detail);
}

}  // namespace

Result<LuksHeader> ReadLuksHeader(const BlockFile& file, std::uint64_t base) {
  std::array<std::uint8_t, kLuksHeaderSize> bytes{};
  Result<std::size_t> got = file.ReadSomeAt(base, bytes);
  if (!got) return std::unexpected(got.error());
  if (*got < kLuksHeaderSize) return InternalError(ErrorDomain::kStorage, "Volume is not in LUKS format");
  return ParseLuksHeader(bytes);
}

Result<bool> CheckMasterKey(const LuksHeader& h, const SecretBytes& key) {
  Result<HashAlgo> hash = HeaderHash(h);
  if (!hash) return std::unexpected(hash.error());
  std::array<std::uint8_t, kLuksDigestSize> digest{};
  if (Result<void> r = Pbkdf2(*hash, key.span(), h.mk_digest_salt, h.mk_digest_iterations, digest); !r) {
    return std::unexpected(r.error());
  }
  return CRYPTO_memcmp(digest.data(), h.mk_digest.data(), digest.size()) == 0;
}

Result<UnlockedLuks> FormatLuks(BlockFile& file, std::uint64_t base, const SecretBytes& passphrase,
                                const LuksFormatOptions& options) {
  UnlockedLuks out;
  LuksHeader& h = out.header;
  h.cipher_name = options.cipher.cipher_name;
  h.cipher_mode = options.cipher.ModeString();
  h.hash_spec = std::string(HashName(options.hash));
  h.key_bytes = options.cipher.key_bytes;
  h.uuid = Uuid::Random().ToString();
  Result<CipherSpec> spec = HeaderCipher(h);
  if (!spec) return std::unexpected(spec.error());
  LayOutKeySlots(h);

  out.master_key.Resize(h.key_bytes);
  if (Result<void> r = RandomBytes({out.master_key.data(), out.master_key.size()}); !r)
    return std::unexpected(r.error());
  if (Result<void> r = RandomBytes(h.mk_digest_salt); !r) return std::unexpected(r.error());
  h.mk_digest_iterations = options.kdf.mk_iterations
                               ? *options.kdf.mk_iterations
                               : CalibratePbkdf2(options.hash, kLuksDigestSize, options.kdf.iter_time / 8);
  if (Result<void> r =
          Pbkdf2(options.hash, out.master_key.span(), h.mk_digest_salt, h.mk_digest_iterations, h.mk_digest);
      !r) {
    return std::unexpected(r.error());
  }

  LuksKeySlot& slot = h.slots[0];
  slot.active = true;
  slot.iterations = SlotIterations(options.hash, h.key_bytes, options.kdf);
  if (Result<void> r = RandomBytes(slot.salt); !r) return std::unexpected(r.error());
  if (Result<void> r = ValidateLuksHeader(h); !r) return std::unexpected(r.error());
  if (Result<void> r = WriteSlotMaterial(file, base, h, *spec, options.hash, 0, out.master_key, passphrase);
      !r) {
    return std::unexpected(r.error());
  }
  if (Result<void> r = WriteHeader(file, base, h); !r) return std::unexpected(r.error());
  out.slot = 0;
  return out;
}

Result<UnlockedLuks> UnlockLuks(const BlockFile& file, std::uint64_t base, const LuksHeader& header,
                                const SecretBytes& passphrase) {
  Result<HashAlgo> hash = HeaderHash(header);
  if (!hash) return std::unexpected(hash.error());
  Result<CipherSpec> spec = HeaderCipher(header);
  if (!spec) return std::unexpected(spec.error());
  SecretBytes material;
  material.Resize(MaterialBytes(header));
  for (std::size_t i = 0; i < kLuksNumKeySlots; ++i) {
    const LuksKeySlot& slot = header.slots[i];
    if (!slot.active) continue;
    if (Result<void> r = file.ReadAt(base + static_cast<std::uint64_t>(slot.key_offset) * kLuksSectorSize,
                                     {material.data(), material.size()}, "key material");
        !r) {
      return std::unexpected(r.error());
    }
    Result<std::unique_ptr<SectorCipher>> cipher = SlotCipher(header, *spec, *hash, slot, passphrase);
    if (!cipher) return std::unexpected(cipher.error());
    if (Result<void> r = (*cipher)->Decrypt(0, {material.data(), material.size()}); !r)
      return std::unexpected(r.error());
    Result<SecretBytes> candidate = AfMerge(material.span(), header.key_bytes, kLuksStripes, *hash);
    if (!candidate) return std::unexpected(candidate.error());
    Result<bool> match = CheckMasterKey(header, *candidate);
    if (!match) return std::unexpected(match.error());
    if (*match) {
      UnlockedLuks out;
      out.header = header;
      out.master_key = std::move(*candidate);
      out.slot = static_cast<int>(i);
      return out;
    }
  }
  return Fail(ErrorCode::kOperationFailed, ErrorDomain::kStorage,
              "operation failed: Invalid password, cannot unlock any keyslot");
}

Result<int> AddKeySlot(BlockFile& file, std::uint64_t base, UnlockedLuks& luks, const SecretBytes& passphrase,
                       std::optional<int> slot, const KdfOptions& kdf) {
  LuksHeader h = luks.header;
  int index = -1;
  if (slot) {
    if (*slot < 0 || *slot >= static_cast<int>(kLuksNumKeySlots)) {
      return KeyslotError("keyslot " + std::to_string(*slot) + " does not exist (0-7)");
    }
    if (h.slots[static_cast<std::size_t>(*slot)].active) {
      return KeyslotError("keyslot " + std::to_string(*slot) + " is already active");
    }
    index = *slot;
  } else {
    for (std::size_t i = 0; i < kLuksNumKeySlots && index < 0; ++i) {
      if (!h.slots[i].active) index = static_cast<int>(i);
    }
    if (index < 0) return KeyslotError("no free keyslot");
  }
  Result<HashAlgo> hash = HeaderHash(h);
  if (!hash) return std::unexpected(hash.error());
  Result<CipherSpec> spec = HeaderCipher(h);
  if (!spec) return std::unexpected(spec.error());
  LuksKeySlot& s = h.slots[static_cast<std::size_t>(index)];
  s.iterations = SlotIterations(*hash, h.key_bytes, kdf);
  if (Result<void> r = RandomBytes(s.salt); !r) return std::unexpected(r.error());
  if (Result<void> r = WriteSlotMaterial(file, base, h, *spec, *hash, index, luks.master_key, passphrase);
      !r) {
    return std::unexpected(r.error());
  }
  if (Result<void> r = file.Sync(); !r) return std::unexpected(r.error());
  CrashPoint("keyslot-add-material");
  s.active = true;
  if (Result<void> r = WriteHeader(file, base, h); !r) return std::unexpected(r.error());
  if (Result<void> r = file.Sync(); !r) return std::unexpected(r.error());
  luks.header = h;
  return index;
}

Result<int> ChangeKeySlot(BlockFile& file, std::uint64_t base, UnlockedLuks& luks, int slot,
                          const SecretBytes& new_passphrase, const KdfOptions& kdf) {
  if (slot < 0 || slot >= static_cast<int>(kLuksNumKeySlots) ||
      !luks.header.slots[static_cast<std::size_t>(slot)].active) {
    return KeyslotError("keyslot " + std::to_string(slot) + " is not active");
  }
  Result<int> added = AddKeySlot(file, base, luks, new_passphrase, std::nullopt, kdf);
  if (!added) return added;
  if (Result<void> r = RemoveKeySlot(file, base, luks.header, slot); !r) return std::unexpected(r.error());
  return added;
}

Result<void> RemoveKeySlot(BlockFile& file, std::uint64_t base, LuksHeader& header, int slot) {
  if (slot < 0 || slot >= static_cast<int>(kLuksNumKeySlots)) {
    return KeyslotError("keyslot " + std::to_string(slot) + " does not exist (0-7)");
  }
  LuksHeader h = header;
  LuksKeySlot& s = h.slots[static_cast<std::size_t>(slot)];
  if (!s.active) return KeyslotError("keyslot " + std::to_string(slot) + " is not active");
  int active = 0;
  for (const LuksKeySlot& other : h.slots) active += other.active ? 1 : 0;
  if (active == 1) return KeyslotError("cannot remove the last active keyslot");
  // Disabled slots keep offset and stripes; qemu zeroes iterations and salt.
  s.active = false;
  s.iterations = 0;
  s.salt.fill(0);
  if (Result<void> r = WriteHeader(file, base, h); !r) return r;
  if (Result<void> r = file.Sync(); !r) return r;
  CrashPoint("keyslot-remove-header");
  header = h;
  std::vector<std::uint8_t> noise(MaterialBytes(h));
  if (Result<void> r = RandomBytes(noise); !r) return r;
  if (Result<void> r = file.WriteAt(base + static_cast<std::uint64_t>(s.key_offset) * kLuksSectorSize, noise,
                                    "key material");
      !r) {
    return r;
  }
  return file.Sync();
}

}  // namespace vsecret::volume
