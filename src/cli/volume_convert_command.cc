// vol-convert VOL [--pool POOL] --format luks2|luks1: the volume's LUKS header converted in place
// (the payload is neither moved nor re-encrypted); the arguments follow vol-rekey's.
#include "cli/volume_convert_command.h"

#include "cli/command_parser.h"
#include "cli/shell.h"
#include "cli/storage_cli.h"
#include "conf/encryption_xml.h"

namespace vsecret::cli {
namespace {

constexpr OptDef kConvertOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"format", OptType::kString, kOptRequired | kOptNamedOnly, "the new header format: luks2 or luks1"},
};

}  // namespace

std::span<const OptDef> VolConvertOpts() { return kConvertOpts; }

bool CmdVolConvert(Shell& shell, const ParsedCommand& cmd) {
  Console& console = shell.console();
  std::optional<std::string_view> format;
  if (!OptStringReq(console, cmd, "format", &format)) return false;
  EncryptionFormat target;
  if (format == "luks2") {
    target = EncryptionFormat::kLuks2;
  } else if (format == "luks1") {
    target = EncryptionFormat::kLuks;
  } else {
    console.Error("unsupported format '" + std::string(format.value_or("")) + "': luks2 or luks1");
    return false;
  }
  auto storage = OpenStorage(shell, "virStorageVolConvert");
  if (!storage) return false;
  std::string name;
  std::optional<volume::VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd, &name);
  if (!vol) return false;
  if (Result<void> done = storage->ConvertVolume(*vol, target); !done) {
    shell.SaveError(done.error());
    console.Error("Failed to convert vol " + name);
    return false;
  }
  console.PrintExtra("Vol " + name + " converted to " + std::string(*format) + "\n");
  return true;
}

}  // namespace vsecret::cli
