#include "volume/luks_header.h"

#include <cstring>

namespace vsecret::volume {
namespace {

constexpr std::uint8_t kMagic[6] = {'L', 'U', 'K', 'S', 0xBA, 0xBE};

// Field offsets of the LUKS1 header (all integers big-endian).
constexpr std::size_t kOffVersion = 6;
constexpr std::size_t kOffCipherName = 8;
constexpr std::size_t kOffCipherMode = 40;
constexpr std::size_t kOffHashSpec = 72;
constexpr std::size_t kOffPayload = 104;
constexpr std::size_t kOffKeyBytes = 108;
constexpr std::size_t kOffMkDigest = 112;
constexpr std::size_t kOffMkSalt = 132;
constexpr std::size_t kOffMkIter = 164;
constexpr std::size_t kOffUuid = 168;
constexpr std::size_t kOffSlots = 208;
constexpr std::size_t kSlotSize = 48;

std::uint32_t Be32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}

void PutBe32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

std::unexpected<Error> Corrupt(const std::string& detail) {
  return InternalError(ErrorDomain::kStorage, detail);
}

// A NUL-padded name field; it must contain a NUL (qemu and cryptsetup refuse unterminated ones).
Result<std::string> NameField(const std::uint8_t* p, std::size_t size, const char* what) {
  const void* nul = std::memchr(p, 0, size);
  if (nul == nullptr) return Corrupt(std::string("LUKS header ") + what + " is not NUL terminated");
  return std::string(reinterpret_cast<const char*>(p), static_cast<const std::uint8_t*>(nul) - p);
}

void PutName(std::uint8_t* p, std::size_t size, const std::string& value) {
  std::memset(p, 0, size);
  std::memcpy(p, value.data(), std::min(value.size(), size - 1));
}

}  // namespace

std::uint32_t LuksHeader::SlotMaterialSectors() const {
  const std::uint64_t bytes = static_cast<std::uint64_t>(key_bytes) * kLuksStripes;
  return static_cast<std::uint32_t>((bytes + kLuksSectorSize - 1) / kLuksSectorSize);
}

LuksVersion ProbeLuks(std::span<const std::uint8_t> start) {
  if (start.size() < 8 || std::memcmp(start.data(), kMagic, sizeof kMagic) != 0) return LuksVersion::kNotLuks;
  const unsigned version = static_cast<unsigned>(start[kOffVersion]) << 8 | start[kOffVersion + 1];
  if (version == 1) return LuksVersion::kLuks1;
  if (version == 2) return LuksVersion::kLuks2;
  return LuksVersion::kOther;
}

bool HasLuksMagic(std::span<const std::uint8_t> start) {
  return start.size() >= sizeof kMagic && std::memcmp(start.data(), kMagic, sizeof kMagic) == 0;
}

Result<LuksHeader> ParseLuksHeader(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kLuksHeaderSize || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return Corrupt("Volume is not in LUKS format");
  }
  const std::uint8_t* p = bytes.data();
  const unsigned version = static_cast<unsigned>(p[kOffVersion]) << 8 | p[kOffVersion + 1];
  if (version != 1) return Corrupt("LUKS version " + std::to_string(version) + " is not supported");

  LuksHeader h;
  Result<std::string> name = NameField(p + kOffCipherName, kLuksNameSize, "cipher name");
  if (!name) return std::unexpected(name.error());
  Result<std::string> mode = NameField(p + kOffCipherMode, kLuksNameSize, "cipher mode");
  if (!mode) return std::unexpected(mode.error());
  Result<std::string> hash = NameField(p + kOffHashSpec, kLuksNameSize, "hash spec");
  if (!hash) return std::unexpected(hash.error());
  Result<std::string> uuid = NameField(p + kOffUuid, kLuksUuidSize, "UUID");
  if (!uuid) return std::unexpected(uuid.error());
  h.cipher_name = std::move(*name);
  h.cipher_mode = std::move(*mode);
  h.hash_spec = std::move(*hash);
  h.uuid = std::move(*uuid);
  h.payload_offset = Be32(p + kOffPayload);
  h.key_bytes = Be32(p + kOffKeyBytes);
  std::memcpy(h.mk_digest.data(), p + kOffMkDigest, kLuksDigestSize);
  std::memcpy(h.mk_digest_salt.data(), p + kOffMkSalt, kLuksSaltSize);
  h.mk_digest_iterations = Be32(p + kOffMkIter);
  for (std::size_t i = 0; i < kLuksNumKeySlots; ++i) {
    const std::uint8_t* s = p + kOffSlots + i * kSlotSize;
    const std::uint32_t active = Be32(s);
    if (active != kLuksSlotEnabled && active != kLuksSlotDisabled) {
      return Corrupt("Keyslot " + std::to_string(i) + " state (active/disable) is corrupted");
    }
    LuksKeySlot& slot = h.slots[i];
    slot.active = active == kLuksSlotEnabled;
    slot.iterations = Be32(s + 4);
    std::memcpy(slot.salt.data(), s + 8, kLuksSaltSize);
    slot.key_offset = Be32(s + 40);
    slot.stripes = Be32(s + 44);
  }
  if (Result<void> valid = ValidateLuksHeader(h); !valid) return std::unexpected(valid.error());
  return h;
}

Result<void> ValidateLuksHeader(const LuksHeader& h) {
  // Key sizes beyond any cipher's are refused before they can size an allocation.
  if (h.key_bytes == 0 || h.key_bytes > 128) {
    return Corrupt("LUKS header key size " + std::to_string(h.key_bytes) + " is not supported");
  }
  // qemu's rules and order (qcrypto_block_luks_check_header): the first 4 KiB belong to the
  // header, and a slot's extent is its material rounded up to those 8 sectors.
  const std::uint64_t header_sectors = kLuksAlignSectors;
  if (h.payload_offset < header_sectors) return Corrupt("LUKS payload is overlapping with the header");
  if (h.mk_digest_iterations == 0) return Corrupt("LUKS key iteration count is zero");
  const std::uint64_t material =
      (std::uint64_t{h.SlotMaterialSectors()} + header_sectors - 1) / header_sectors * header_sectors;
  for (std::size_t i = 0; i < kLuksNumKeySlots; ++i) {
    const LuksKeySlot& a = h.slots[i];
    const std::string n = std::to_string(i);
    if (a.stripes != kLuksStripes) {
      return Corrupt("Keyslot " + n + " is corrupted (stripes " + std::to_string(a.stripes) +
                     " != " + std::to_string(kLuksStripes) + ")");
    }
    if (a.active && a.iterations == 0) return Corrupt("Keyslot " + n + " iteration count is zero");
    if (a.key_offset < header_sectors)
      return Corrupt("Keyslot " + n + " is overlapping with the LUKS header");
    if (a.key_offset + material > h.payload_offset) {
      return Corrupt("Keyslot " + n + " is overlapping with the encrypted payload");
    }
    for (std::size_t j = i + 1; j < kLuksNumKeySlots; ++j) {
      const LuksKeySlot& b = h.slots[j];
      if (a.key_offset + material > b.key_offset && b.key_offset + material > a.key_offset) {
        return Corrupt("Keyslots " + n + " and " + std::to_string(j) + " are overlapping in the header");
      }
    }
  }
  return {};
}

std::array<std::uint8_t, kLuksHeaderSize> SerializeLuksHeader(const LuksHeader& h) {
  std::array<std::uint8_t, kLuksHeaderSize> out{};
  std::uint8_t* p = out.data();
  std::memcpy(p, kMagic, sizeof kMagic);
  p[kOffVersion] = 0;
  p[kOffVersion + 1] = 1;
  PutName(p + kOffCipherName, kLuksNameSize, h.cipher_name);
  PutName(p + kOffCipherMode, kLuksNameSize, h.cipher_mode);
  PutName(p + kOffHashSpec, kLuksNameSize, h.hash_spec);
  PutBe32(p + kOffPayload, h.payload_offset);
  PutBe32(p + kOffKeyBytes, h.key_bytes);
  std::memcpy(p + kOffMkDigest, h.mk_digest.data(), kLuksDigestSize);
  std::memcpy(p + kOffMkSalt, h.mk_digest_salt.data(), kLuksSaltSize);
  PutBe32(p + kOffMkIter, h.mk_digest_iterations);
  PutName(p + kOffUuid, kLuksUuidSize, h.uuid);
  for (std::size_t i = 0; i < kLuksNumKeySlots; ++i) {
    std::uint8_t* s = p + kOffSlots + i * kSlotSize;
    const LuksKeySlot& slot = h.slots[i];
    PutBe32(s, slot.active ? kLuksSlotEnabled : kLuksSlotDisabled);
    PutBe32(s + 4, slot.iterations);
    std::memcpy(s + 8, slot.salt.data(), kLuksSaltSize);
    PutBe32(s + 40, slot.key_offset);
    PutBe32(s + 44, slot.stripes);
  }
  return out;
}

std::uint32_t LayOutKeySlots(LuksHeader& h) {
  const std::uint32_t material = h.SlotMaterialSectors();
  const std::uint32_t step = (material + kLuksAlignSectors - 1) / kLuksAlignSectors * kLuksAlignSectors;
  for (std::size_t i = 0; i < kLuksNumKeySlots; ++i) {
    LuksKeySlot& slot = h.slots[i];
    slot = LuksKeySlot{};
    slot.key_offset = kLuksAlignSectors + static_cast<std::uint32_t>(i) * step;
  }
  h.payload_offset = kLuksAlignSectors + static_cast<std::uint32_t>(kLuksNumKeySlots) * step;
  return h.payload_offset;
}

}  // namespace vsecret::volume
