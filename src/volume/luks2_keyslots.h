// LUKS2 keyslots: unlocking a volume key with a passphrase (cryptsetup 2.x's luks2 keyslot type).
//
// A keyslot derives an area key from the passphrase with its KDF (pbkdf2, argon2i or argon2id,
// argon2 version 0x13 through Debian's libargon2), decrypts its area (512-byte sectors, IV 0 at
// the area start, in the area's own cipher), AF-merges the material into a volume key and checks
// that key against the pbkdf2 digest bound to the keyslot and to segment 0. Slots of priority 0
// ("ignore") are skipped and priority 2 ones tried first, as cryptsetup does.
#pragma once

#include <span>
#include <string_view>

#include "volume/block_file.h"
#include "volume/luks2_header.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::volume {

struct UnlockedLuks2 {
  Luks2Header header;
  SecretBytes volume_key;
  int keyslot = -1;  // the keyslot the passphrase opened
};

// The KDF output (out.size() bytes) for passphrase under kdf.
Result<void> DeriveLuks2Key(const Luks2Kdf& kdf, const SecretBytes& passphrase, std::span<std::uint8_t> out);

// True when key matches digest (PBKDF2 of the key with the digest's salt and iterations).
Result<bool> CheckLuks2Digest(const Luks2Digest& digest, const SecretBytes& key);

// Splits a LUKS2 cipher string "aes-xts-plain64" into the cipher name ("aes") and the mode
// ("xts-plain64").
std::pair<std::string_view, std::string_view> SplitLuks2Cipher(std::string_view encryption);

// Tries every usable keyslot. A passphrase none accepts is "operation failed: Invalid password,
// cannot unlock any keyslot" (code kOperationFailed), as for LUKS1.
Result<UnlockedLuks2> UnlockLuks2(const BlockFile& file, const Luks2Header& header,
                                  const SecretBytes& passphrase);

}  // namespace vsecret::volume
