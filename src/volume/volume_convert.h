// LUKS1 <-> LUKS2 conversion in place (vol-convert, like `cryptsetup convert --type luks2|luks1`):
// the layout rules, as pure functions of the headers (volume_convert.cc), and what the
// StorageDriver's ConvertVolume (volume_convert_driver.cc) shares with tests.
//
// The payload is never moved or re-encrypted; only the header and keyslot areas change. Key
// material is position independent (its IVs count from the start of its area) in both formats, so
// a keyslot converts by copying its descriptor, not by re-deriving anything.
//
// LUKS1 -> LUKS2: the two 16 KiB LUKS2 metadata copies take [0, 32 KiB). An active LUKS1 keyslot
// whose material lies there (slot 0 in qemu's and cryptsetup's layouts) is first moved into the
// area of an inactive slot that lies after 32 KiB: material copied (sync), then a LUKS1 header
// with the two slots' offsets swapped (sync) -- still a LUKS1 volume that opens as before. When
// it is the only slot to move and cryptsetup's place for it (28 KiB further) is free of other
// live material, it is then copied there (sync) from that area, so that cryptsetup converts the
// result back. Unlike
// cryptsetup, which shifts all eight areas by 28 KiB and so refuses qemu-img's layout (payload at
// 4040 sectors), only active slots need room. Then the secondary LUKS2 copy at 16 KiB is written
// (sync; it overwrites nothing a live LUKS1 slot uses): the commit point. Then the primary copy
// at 0, then the free keyslot areas are wiped (the old copy of the moved material).
//
// LUKS2 -> LUKS1: every keyslot must be pbkdf2 with id 0-7, the AF, KDF and digest hashes equal
// (LUKS1 has one hash), the keyslot cipher the segment's, one crypt segment of 512-byte sectors
// without IV tweak running to the end of the file, no tokens. LUKS1 keyslots point at the LUKS2
// areas in place and inactive LUKS1 slots get free 4 KiB-aligned extents; where the eight do not
// fit (qemu's payload offset), keyslots are first copied (sync) into qemu's layout, in space the
// LUKS2 volume does not use. The LUKS1 header written at 0 is the commit point; then everything
// before the payload that no live keyslot uses is wiped (the LUKS2 metadata, old material).
//
// Both directions are journaled in the re-key journal (volume_rekey.h, operation=convert) and
// finished by the next command that opens the volume: committed means roll forward, otherwise
// roll back. The crash hooks are "convert-journal", "convert-material-copied",
// "convert-luks1-staged", "convert-material-placed", "convert-secondary-written", "convert-primary-written",
// "convert-header-written", "convert-wiped".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "volume/luks2_header.h"
#include "volume/luks_header.h"
#include "vsecret/error.h"

namespace vsecret::volume {

// The LUKS2 metadata copies vol-convert writes: 16 KiB each, as cryptsetup's conversion.
inline constexpr std::uint64_t kConvertLuks2HdrSize = 16384;

struct MaterialMove {
  int slot = -1;
  std::uint64_t from = 0;  // bytes
  std::uint64_t to = 0;
  std::uint64_t length = 0;
};

struct Luks1ToLuks2Plan {
  // The LUKS1 header with the moved slots' offsets swapped with the free slots that receive them
  // (equal to the original when nothing moves).
  LuksHeader staged;
  std::vector<MaterialMove> moves;
  // Copies made after the staged header is written (from a free slot's area, where `moves` put
  // the live material, to cryptsetup's place for it, which overlaps the original).
  std::vector<MaterialMove> final_moves;
  // The LUKS2 JSON metadata describing the staged layout.
  std::string json;
};

// Errors are "Requested operation is not valid: cannot convert '<path>' to LUKS2: <why>"
// (kOperationInvalid) when the layout does not allow it.
Result<Luks1ToLuks2Plan> PlanLuks1ToLuks2(const LuksHeader& header, const std::string& path);

// The LUKS1 header describing the LUKS2 volume's keyslots: in place when the eight LUKS1 extents
// fit around them, else in qemu's layout, with copies of the keyslots that are not on its places. Errors as
// above ("... to LUKS1: keyslot 0 uses argon2id; LUKS1 keyslots are pbkdf2 only ...").
struct Luks2ToLuks1Plan {
  LuksHeader header;
  // Copies into free space of the LUKS2 volume, made before the LUKS1 header is written.
  std::vector<MaterialMove> moves;
};
Result<Luks2ToLuks1Plan> PlanLuks2ToLuks1(const Luks2Header& header, const std::string& path);

}  // namespace vsecret::volume
