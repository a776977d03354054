// Shared plumbing of the pool-* and vol-* commands: reaching the storage driver through the
// shell's connection, virsh's pool and volume look-ups, numeric options and the progress bar.
//
// Storage needs the trusted in-process secret path (private secrets must open volumes, as with
// libvirt's elevated storage driver), which only an embedded connection (secret:///embed?root=,
// the default) has. Over a remote connection the commands fail with
// "this function is not supported by the connection driver: ..." rather than reading secret
// values over the wire.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli/command_parser.h"
#include "cli/shell.h"
#include "volume/storage_driver.h"

namespace vsecret::cli {

// Opens the storage driver on the connection's in-process secret driver
// (Connection::LocalSecretDriver), read-only when the connection is; on failure the error is
// saved on the shell. api names the libvirt call the command makes, so that a read-only
// connection refuses it before any other work ("virStoragePoolDefineXML"; the storage driver
// refuses the call itself anyway); nullptr for commands that only read.
std::unique_ptr<volume::StorageDriver> OpenStorage(Shell& shell, const char* api);

// virshCommandOptPool: UUID first when the text is one, then name. Prints "failed to get pool
// '<arg>'" (the driver's error is saved). *arg receives the text.
std::optional<volume::PoolStatus> LookupPoolOption(Shell& shell, volume::StorageDriver& storage,
                                                   const ParsedCommand& cmd, const char* option,
                                                   std::string* arg = nullptr);

// virshCommandOptVol: with --pool by name in that (active) pool, then by key, then by path.
// *arg receives the volume text as typed.
std::optional<volume::VolumeRef> LookupVolumeOption(Shell& shell, volume::StorageDriver& storage,
                                                    const ParsedCommand& cmd, std::string* arg = nullptr);

// vshCommandOptULongLongWrap: 0 absent, 1 set, -1 malformed ("Numeric value '<v>' for <<name>>
// option is malformed or out of range" printed).
int OptULongLong(Console& console, const ParsedCommand& cmd, std::string_view name, std::uint64_t* value);

// One line of pool-info / vol-info: the label padded to 15 columns, a space, the value, a newline.
std::string InfoLine(const char* label, const std::string& value);

// virshVolSize: a decimal number with an optional scaling suffix ("10G", "512KiB").
Result<std::uint64_t> ParseScaledSize(std::string_view text);

// A progress bar on stderr for long operations, drawn only when stderr is a terminal (or
// VSECRET_PROGRESS=1 forces it, for tests). Redraws at most ~10 times a second and ends with a
// newline; otherwise silent.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  volume::ProgressFn Callback();
  void Finish();

 private:
  void Draw(std::uint64_t done, std::uint64_t total, bool final);

  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::uint64_t last_done_ = 0, last_total_ = 0;
  std::int64_t last_draw_ms_ = -1000;
};

}  // namespace vsecret::cli
