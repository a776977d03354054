// Adding and removing LUKS2 keyslots in place (vol-rekey, vol-key-add and vol-key-remove on LUKS2
// volumes).
//
// The JSON of the copy in use is edited as JSON, so what vsecret does not model (tokens, config
// flags, requirements) is kept; both copies are rewritten with seqid + 1 and fresh checksums.
// Ordering: a new keyslot's material is written and synced before the headers that reference
// it; a removed keyslot leaves the headers first (synced), then its area is overwritten with
// random bytes. The crash-test hooks are the LUKS1 ones: "keyslot-add-material" and
// "keyslot-remove-header".
#pragma once

#include <cstdint>
#include <optional>

#include "volume/block_file.h"
#include "volume/luks2_format.h"
#include "volume/luks2_keyslots.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::volume {

// The keyslot ids LUKS2 allows (cryptsetup: 0-31).
inline constexpr int kLuks2MaxKeyslots = 32;

// Where a new keyslot storing a key_size-byte key goes: the lowest gap of the keyslots area (4 KiB
// aligned) that no keyslot uses; nullopt when none is large enough.
std::optional<std::uint64_t> FindLuks2Area(const Luks2Header& header, std::uint64_t area_size);

// Adds keyslot `slot` (else the lowest free id) holding luks.volume_key for passphrase: an
// argon2id keyslot with options' parameters, or pbkdf2 when the keyslot that opened the volume is
// pbkdf2; bound to the digest of segment 0. luks.header becomes the header written.
Result<int> AddLuks2Keyslot(BlockFile& file, UnlockedLuks2& luks, const SecretBytes& passphrase,
                            std::optional<int> slot, const Luks2FormatOptions& options);

// Removes keyslot `slot` (refused for the last one): headers, sync, area wiped, sync. header
// becomes the header written.
Result<void> RemoveLuks2Keyslot(BlockFile& file, Luks2Header& header, int slot);

// Overwrites with random bytes every part of the keyslots area that no keyslot of header uses
// (what an interrupted add or removal may have left there).
Result<void> WipeLuks2FreeAreas(BlockFile& file, const Luks2Header& header);

}  // namespace vsecret::volume
