// vol-rekey, vol-key-add and vol-key-remove (vsecret extensions): the key slots of encrypted
// volumes. Passphrases come from files, standard input ("-") or the kernel's RNG, never from argv,
// and are never printed.
#include "cli/volume_key_commands.h"

#include <cstdlib>

#include "cli/command_parser.h"
#include "cli/input_files.h"
#include "cli/shell.h"
#include "cli/storage_cli.h"
#include "volume/volume_secret_gen.h"

namespace vsecret::cli {
namespace {

using volume::VolumeRef;

constexpr std::size_t kMaxPassphraseFile = 1024;  // as secret-set-value --file

// The content of --<option> FILE ("-": standard input), raw (no newline is stripped, as with
// cryptsetup --key-file). nullopt when absent; *ok false after an error (saved on the shell).
std::optional<SecretBytes> ReadPassphraseOption(Shell& shell, const ParsedCommand& cmd,
                                                std::string_view option, bool* ok) {
  *ok = true;
  std::optional<std::string_view> file;
  if (!OptStringReq(shell.console(), cmd, option, &file)) {
    *ok = false;
    return std::nullopt;
  }
  if (!file) return std::nullopt;
  const std::string path = *file == "-" ? std::string("/dev/stdin") : std::string(*file);
  Result<SecretBytes> content = ReadInputFile(path, kMaxPassphraseFile);
  if (!content) {
    shell.SaveError(content.error());
    *ok = false;
    return std::nullopt;
  }
  if (content->empty()) {
    shell.console().Error("the passphrase in '" + std::string(*file) + "' is empty");
    *ok = false;
    return std::nullopt;
  }
  return std::move(*content);
}

// --slot N: 1 set, 0 absent, -1 malformed (message printed).
int OptSlot(Console& console, const ParsedCommand& cmd, int* slot) {
  std::uint64_t value = 0;
  const int got = OptULongLong(console, cmd, "slot", &value);
  if (got <= 0) return got;
  if (value > 31) {  // LUKS2 keyslot ids; LUKS1 has 0-7
    console.Error("Numeric value '" + std::to_string(value) +
                  "' for <slot> option is malformed or out of range");
    return -1;
  }
  *slot = static_cast<int>(value);
  return 1;
}

constexpr OptDef kRekeyOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"new-value-file", OptType::kString, kOptNamedOnly,
     "the new passphrase, read raw from this file ('-': standard input)"},
    {"generate", OptType::kBool, 0, "generate the new passphrase from the kernel's random number generator"},
    {"old-value-file", OptType::kString, kOptNamedOnly,
     "the passphrase that still opens the volume when the secret's value was already changed; the secret's "
     "current value becomes the volume's"},
};
constexpr OptDef kKeyAddOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"value-file", OptType::kString, kOptNamedOnly,
     "the passphrase to add, read raw from this file ('-' or absent: standard input)"},
    {"slot", OptType::kInt, kOptNamedOnly,
     "the keyslot to use (LUKS1 0-7, LUKS2 0-31; default the first free one)"},
};
constexpr OptDef kKeyRemoveOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"slot", OptType::kInt, kOptNamedOnly, "the keyslot to remove (LUKS1 0-7, LUKS2 0-31)"},
    {"value-file", OptType::kString, kOptNamedOnly,
     "remove the keyslot this passphrase opens, read raw from this file ('-': standard input)"},
    {"force", OptType::kBool, 0, "remove the keyslot even if the volume's secret opens it"},
};

}  // namespace

std::span<const OptDef> VolRekeyOpts() { return kRekeyOpts; }
std::span<const OptDef> VolKeyAddOpts() { return kKeyAddOpts; }
std::span<const OptDef> VolKeyRemoveOpts() { return kKeyRemoveOpts; }

bool CmdVolRekey(Shell& shell, const ParsedCommand& cmd) {
  Console& console = shell.console();
  if (!OptExclusive(console, cmd, "new-value-file", "generate") ||
      !OptExclusive(console, cmd, "old-value-file", "generate") ||
      !OptExclusive(console, cmd, "old-value-file", "new-value-file")) {
    return false;
  }
  if (!cmd.Has("new-value-file") && !cmd.Has("generate") && !cmd.Has("old-value-file")) {
    console.Error("one of --new-value-file, --generate or --old-value-file is required");
    return false;
  }
  auto storage = OpenStorage(shell, "virStorageVolRekey");
  if (!storage) return false;
  std::string name;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd, &name);
  if (!vol) return false;
  volume::RekeyRequest request;
  bool ok = true;
  request.new_value = ReadPassphraseOption(shell, cmd, "new-value-file", &ok);
  if (!ok) return false;
  request.old_value = ReadPassphraseOption(shell, cmd, "old-value-file", &ok);
  if (!ok) return false;
  if (cmd.Has("generate")) {
    Result<SecretBytes> generated = volume::GeneratePassphrase();
    if (!generated) {
      shell.SaveError(generated.error());
      return false;
    }
    request.new_value = std::move(*generated);
  }
  Result<volume::RekeyResult> done = storage->RekeyVolume(*vol, std::move(request));
  if (!done) {
    shell.SaveError(done.error());
    console.Error("Failed to re-key vol " + name);
    return false;
  }
  console.PrintExtra("Vol " + name + " re-keyed: keyslot " + std::to_string(done->new_slot) +
                     " holds the secret's value, keyslot " + std::to_string(done->old_slot) + " removed\n");
  return true;
}

bool CmdVolKeyAdd(Shell& shell, const ParsedCommand& cmd) {
  Console& console = shell.console();
  int slot = -1;
  const int has_slot = OptSlot(console, cmd, &slot);
  if (has_slot < 0) return false;
  auto storage = OpenStorage(shell, "virStorageVolKeyAdd");
  if (!storage) return false;
  std::string name;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd, &name);
  if (!vol) return false;
  bool ok = true;
  std::optional<SecretBytes> passphrase = ReadPassphraseOption(shell, cmd, "value-file", &ok);
  if (!ok) return false;
  if (!passphrase) {
    Result<SecretBytes> typed = ReadInputFile("/dev/stdin", kMaxPassphraseFile);
    if (!typed) {
      shell.SaveError(typed.error());
      return false;
    }
    if (typed->empty()) {
      console.Error("the passphrase on standard input is empty");
      return false;
    }
    passphrase = std::move(*typed);
  }
  Result<int> added =
      storage->AddVolumeKey(*vol, *passphrase, has_slot > 0 ? std::optional<int>(slot) : std::nullopt);
  passphrase->Wipe();
  if (!added) {
    shell.SaveError(added.error());
    console.Error("Failed to add a key to vol " + name);
    return false;
  }
  console.PrintExtra("Key added to vol " + name + " in keyslot " + std::to_string(*added) + "\n");
  return true;
}

bool CmdVolKeyRemove(Shell& shell, const ParsedCommand& cmd) {
  Console& console = shell.console();
  if (!OptExclusive(console, cmd, "slot", "value-file")) return false;
  int slot = -1;
  const int has_slot = OptSlot(console, cmd, &slot);
  if (has_slot < 0) return false;
  if (has_slot == 0 && !cmd.Has("value-file")) {
    console.Error("one of --slot or --value-file is required");
    return false;
  }
  auto storage = OpenStorage(shell, "virStorageVolKeyRemove");
  if (!storage) return false;
  std::string name;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd, &name);
  if (!vol) return false;
  bool ok = true;
  std::optional<SecretBytes> passphrase = ReadPassphraseOption(shell, cmd, "value-file", &ok);
  if (!ok) return false;
  Result<int> removed = storage->RemoveVolumeKey(*vol, has_slot > 0 ? std::optional<int>(slot) : std::nullopt,
                                                 passphrase ? &*passphrase : nullptr, cmd.Has("force"));
  if (!removed) {
    shell.SaveError(removed.error());
    console.Error("Failed to remove a key from vol " + name);
    return false;
  }
  console.PrintExtra("Keyslot " + std::to_string(*removed) + " of vol " + name + " removed\n");
  return true;
}

}  // namespace vsecret::cli
