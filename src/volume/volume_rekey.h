// Re-keying an encrypted volume (vol-rekey) and its extra passphrases (vol-key-add,
// vol-key-remove): the StorageDriver methods declared in storage_driver.h are implemented in
// volume_rekey.cc; this header holds what they share with tests.
//
// A re-key moves a LUKS1 or LUKS2 volume from the passphrase in slot A to a new one in a free slot B:
//   1. the journal <state_dir>/<pool>.vols/<vol>.jnl is written (crash-safely): secret UUID,
//      A, B and the LUKS UUID, never a passphrase;
//   2. slot B is added (material, sync, header, sync) and checked to open the master key alone;
//   3. the secret's value is set to the new passphrase (the commit point; the store's write is
//      atomic): before it the secret opens A, after it B, and both slots are active throughout;
//   4. slot A is removed (header, sync, material wiped, sync); 5. the journal is removed.
// A crash anywhere leaves a volume that opens with the value the secret holds. The next re-key,
// key-add/remove or opening of the volume finishes what the journal describes: B inactive means
// roll back (B's material is wiped again); B active and opening with the secret's value means roll
// forward (A is removed, or its material wiped again); B active and A opening with the secret's
// value means roll back (B removed).
//
// With an old passphrase given (--old-value-file) the secret already holds the new value
// (secret-set-value ran first): the same steps without step 3.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "volume/luks_header.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"
#include "vsecret/uuid.h"

namespace vsecret::volume {

struct RekeyRequest {
  // The new passphrase; nullopt with old_value set: the secret's current value is the new one.
  std::optional<SecretBytes> new_value;
  // The passphrase that opens the header now, when the secret no longer holds it.
  std::optional<SecretBytes> old_value;
};

struct RekeyResult {
  int old_slot = -1;
  int new_slot = -1;
};

// What a pending journal described and what finishing it did.
enum class RekeyRecovery { kNone, kRolledBack, kCompleted };

// The journal of a re-key or a conversion (volume_convert.h) in progress (no passphrase in it).
// A conversion's has the line "operation=convert", its target ("target=luks1|luks2") and the LUKS
// UUID, and no secret or slots.
struct RekeyJournal {
  enum class Operation { kRekey, kConvert };
  Operation operation = Operation::kRekey;
  LuksVersion target = LuksVersion::kNotLuks;  // kConvert: kLuks1 or kLuks2
  Uuid secret;
  int old_slot = -1;
  int new_slot = -1;
  bool set_secret = true;  // false: the secret held the new value already (--old-value-file)
  std::string luks_uuid;
  bool operator==(const RekeyJournal&) const = default;
};

std::string FormatRekeyJournal(const RekeyJournal& journal);
// Errors name the file: "cannot parse re-key journal '<path>': ...".
Result<RekeyJournal> ParseRekeyJournal(std::string_view text, const std::string& path);

// The journal at path: nullopt when there is none; errors name the file.
Result<std::optional<RekeyJournal>> ReadRekeyJournal(const std::string& path);
// Removes it (absent is fine) and syncs its directory.
Result<void> RemoveRekeyJournal(const std::string& path);

// New passphrases (vol-rekey --generate) come from GeneratePassphrase in volume_secret_gen.h, the
// one generator volume creation uses too.

// Test hook for the crash tests: when the environment variable VSECRET_TEST_CRASH_AT equals step,
// the process kills itself with SIGKILL (no core dump, no cleanup) right there. Steps are named
// "rekey-journal", "keyslot-add-material", ... (see volume_rekey.cc and luks_keyslots.cc).
void CrashPoint(std::string_view step);

}  // namespace vsecret::volume
