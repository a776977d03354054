// LUKS1 on-disk header: parse, validate, serialise.
//
// The header is 592 bytes of big-endian fixed fields followed by eight 48-byte key-slot
// descriptors. This file knows the layout and the structural rules qemu 7.2 and cryptsetup 2.6
// enforce before they derive any key (so that a header they reject is rejected here too, with
// qemu's wording); it knows nothing about cryptography.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "vsecret/error.h"

namespace vsecret::volume {

inline constexpr std::size_t kLuksSectorSize = 512;
inline constexpr std::size_t kLuksHeaderSize = 592;
inline constexpr std::size_t kLuksNumKeySlots = 8;
inline constexpr std::uint32_t kLuksStripes = 4000;
inline constexpr std::uint32_t kLuksSlotEnabled = 0x00AC71F3;
inline constexpr std::uint32_t kLuksSlotDisabled = 0x0000DEAD;
inline constexpr std::size_t kLuksDigestSize = 20;
inline constexpr std::size_t kLuksSaltSize = 32;
inline constexpr std::size_t kLuksUuidSize = 40;
inline constexpr std::size_t kLuksNameSize = 32;
// qemu aligns key material and the payload to 4 KiB (8 sectors); vsecret writes the same layout so
// that sizes match what libvirt and qemu-img produce.
inline constexpr std::uint32_t kLuksAlignSectors = 8;

struct LuksKeySlot {
  bool active = false;
  std::uint32_t iterations = 0;
  std::array<std::uint8_t, kLuksSaltSize> salt{};
  std::uint32_t key_offset = 0;  // in 512-byte sectors from the start of the header
  std::uint32_t stripes = kLuksStripes;
  bool operator==(const LuksKeySlot&) const = default;
};

struct LuksHeader {
  std::string cipher_name;           // "aes"
  std::string cipher_mode;           // "xts-plain64", "cbc-essiv:sha256", ...
  std::string hash_spec;             // "sha256"
  std::uint32_t payload_offset = 0;  // in 512-byte sectors
  std::uint32_t key_bytes = 0;
  std::array<std::uint8_t, kLuksDigestSize> mk_digest{};
  std::array<std::uint8_t, kLuksSaltSize> mk_digest_salt{};
  std::uint32_t mk_digest_iterations = 0;
  std::string uuid;  // 36 ASCII characters
  std::array<LuksKeySlot, kLuksNumKeySlots> slots{};
  bool operator==(const LuksHeader&) const = default;

  // Sectors one slot's anti-forensic material occupies (key_bytes x stripes, rounded up).
  std::uint32_t SlotMaterialSectors() const;
};

enum class LuksVersion { kNotLuks, kLuks1, kLuks2, kOther };

// Looks only at the magic and version (the first 8 bytes; fewer means not LUKS).
LuksVersion ProbeLuks(std::span<const std::uint8_t> start);
// True when start begins with the 6-byte LUKS magic. A file that does is a LUKS volume whatever
// else is wrong with it (truncated, damaged, a version this build does not read): it is never
// plaintext.
bool HasLuksMagic(std::span<const std::uint8_t> start);

// Parses and validates the first kLuksHeaderSize bytes. Errors (code kInternalError, domain
// kStorage) use qemu's wording, e.g. "Volume is not in LUKS format", "LUKS version 2 is not
// supported", "Keyslot 0 is corrupted (stripes 2000 != 4000)", "Keyslots 0 and 1 are overlapping
// in the header", "Keyslot 0 is overlapping with the encrypted payload", "LUKS payload is
// overlapping with the header", "LUKS key iteration count is zero". Headers embedded in qcow2
// obey the same rules (their payload offset is the embedded header's length).
Result<LuksHeader> ParseLuksHeader(std::span<const std::uint8_t> bytes);
// The structural rules alone (ParseLuksHeader applies them); callers also run it on headers they
// build before writing them.
Result<void> ValidateLuksHeader(const LuksHeader& header);

// The 592-byte on-disk form.
std::array<std::uint8_t, kLuksHeaderSize> SerializeLuksHeader(const LuksHeader& header);

// qemu's layout for a master key of key_bytes: slot i at 8 + i x step sectors, step = material
// rounded up to 4 KiB, payload after the last slot (4040 sectors for 64-byte keys). Returns the
// payload offset; fills each slot's key_offset and stripes, leaves the rest disabled.
std::uint32_t LayOutKeySlots(LuksHeader& header);

}  // namespace vsecret::volume
