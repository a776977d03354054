// LUKS1 key slots: format a header with its first slot, unlock, add, remove and change slots
// (a slot added here opens in qemu and cryptsetup, and theirs open here).
//
// The header lives at `base` in a BlockFile: 0 for a raw LUKS volume, the FDE cluster offset for
// qcow2. Key-material offsets in the header are relative to base.
//
// Crash safety of slot changes: a new slot's material is written and synced before the header
// that enables it; a removed slot is disabled in the header (synced) before its material is
// overwritten. A crash therefore never leaves a header pointing at half-written material.
//
// Failure leaves the file untouched for every operation that does not succeed on its own terms:
// a wrong passphrase writes nothing at all.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "volume/block_file.h"
#include "volume/luks_crypto.h"
#include "volume/luks_header.h"
#include "volume/sector_cipher.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::volume {

// How a slot's PBKDF2 iteration count is chosen: calibrated to a CPU-time budget like qemu's
// iter-time (default 2000 ms), or fixed (tests, fixtures). The MK digest gets 1/8 of the budget,
// as qemu does; both are at least 1000 when calibrated.
struct KdfOptions {
  std::chrono::milliseconds iter_time{2000};
  std::optional<std::uint32_t> slot_iterations;
  std::optional<std::uint32_t> mk_iterations;
};

struct LuksFormatOptions {
  CipherSpec cipher;  // default aes-256 xts-plain64 (64-byte key)
  HashAlgo hash = HashAlgo::kSha256;
  KdfOptions kdf;
};

struct UnlockedLuks {
  LuksHeader header;
  SecretBytes master_key;
  int slot = -1;  // the slot the passphrase opened
};

// Reads and validates the header at base.
Result<LuksHeader> ReadLuksHeader(const BlockFile& file, std::uint64_t base);

// Writes a new header at base with a random master key and slot 0 keyed by passphrase, in qemu's
// layout (payload at 4040 sectors for 64-byte keys). The caller sizes the file.
Result<UnlockedLuks> FormatLuks(BlockFile& file, std::uint64_t base, const SecretBytes& passphrase,
                                const LuksFormatOptions& options);

// Tries every active slot. A passphrase no slot accepts is
// "operation failed: Invalid password, cannot unlock any keyslot" (code kOperationFailed).
Result<UnlockedLuks> UnlockLuks(const BlockFile& file, std::uint64_t base, const LuksHeader& header,
                                const SecretBytes& passphrase);

// True when key is the master key the header's digest describes.
Result<bool> CheckMasterKey(const LuksHeader& header, const SecretBytes& key);

// Enables a slot (the first free one when slot is nullopt) for passphrase, using the unlocked
// master key. Returns the slot index. "no free keyslot" / "keyslot N is already active".
Result<int> AddKeySlot(BlockFile& file, std::uint64_t base, UnlockedLuks& luks, const SecretBytes& passphrase,
                       std::optional<int> slot, const KdfOptions& kdf);
// Re-keys slot `slot` (luksChangeKey): the new passphrase goes into the first free slot, then the
// old slot is removed, so a crash in between leaves both passphrases working rather than none.
// Returns the new slot. Needs one free slot.
Result<int> ChangeKeySlot(BlockFile& file, std::uint64_t base, UnlockedLuks& luks, int slot,
                          const SecretBytes& new_passphrase, const KdfOptions& kdf);
// Disables a slot and overwrites its material with random bytes. Removing the last active slot is
// refused ("cannot remove the last active keyslot").
Result<void> RemoveKeySlot(BlockFile& file, std::uint64_t base, LuksHeader& header, int slot);

}  // namespace vsecret::volume
