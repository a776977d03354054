#include "cli/storage_cli.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "conf/volume_xml.h"
#include "driver/secret_driver.h"

namespace vsecret::cli {

std::unique_ptr<volume::StorageDriver> OpenStorage(Shell& shell, const char* api) {
  SecretDriver* secrets = shell.conn().LocalSecretDriver();
  if (secrets == nullptr) {
    shell.SaveError(
        Error(ErrorCode::kNoSupport, ErrorDomain::kStorage,
              "this function is not supported by the connection driver: storage pools and volumes "
              "need the trusted in-process secret driver (secret:///embed?root=DIR)"));
    return nullptr;
  }
  volume::StorageOptions options = volume::StorageOptions::FromEnvironment();
  options.read_only = shell.conn().IsReadOnly();
  auto storage = volume::StorageDriver::Open(volume::StoragePaths::ForSecretStore(secrets->paths()), secrets,
                                             std::move(options));
  if (!storage) {
    shell.SaveError(storage.error());
    return nullptr;
  }
  // The driver refuses each changing call on a read-only connection; asking it up front refuses
  // the command before it reads files or looks anything up.
  if (api != nullptr) {
    if (auto writable = (*storage)->RequireWritable(api); !writable) {
      shell.SaveError(writable.error());
      return nullptr;
    }
  }
  return std::move(*storage);
}

std::string InfoLine(const char* label, const std::string& value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%-15s ", label);
  return buf + value + "\n";
}

std::optional<volume::PoolStatus> LookupPoolOption(Shell& shell, volume::StorageDriver& storage,
                                                   const ParsedCommand& cmd, const char* option,
                                                   std::string* arg) {
  std::optional<std::string_view> text;
  if (!OptStringReq(shell.console(), cmd, option, &text) || !text) return std::nullopt;
  const std::string name(*text);
  if (arg != nullptr) *arg = name;
  std::optional<Result<volume::PoolStatus>> found;
  if (name.size() == 36) {
    if (std::optional<Uuid> uuid = Uuid::Parse(name)) {
      Result<volume::PoolStatus> by_uuid = storage.LookupPoolByUuid(*uuid);
      if (by_uuid) return *by_uuid;
    }
  }
  Result<volume::PoolStatus> by_name = storage.LookupPoolByName(name);
  if (by_name) return *by_name;
  shell.SaveError(by_name.error());
  shell.console().Error("failed to get pool '" + name + "'");
  return std::nullopt;
}

std::optional<volume::VolumeRef> LookupVolumeOption(Shell& shell, volume::StorageDriver& storage,
                                                    const ParsedCommand& cmd, std::string* arg) {
  std::optional<std::string_view> text;
  if (!OptStringReq(shell.console(), cmd, "vol", &text) || !text) return std::nullopt;
  const std::string name(*text);
  if (arg != nullptr) *arg = name;
  std::optional<volume::PoolStatus> pool;
  const bool with_pool = cmd.Has("pool");
  if (with_pool) {
    pool = LookupPoolOption(shell, storage, cmd, "pool");
    if (!pool) return std::nullopt;
    if (!pool->active) {
      shell.console().Error("pool '" + pool->def.name + "' is not active");
      return std::nullopt;
    }
    Result<volume::VolumeRef> by_name = storage.LookupVolumeByName(pool->def.name, name);
    if (by_name) {
      shell.ResetError();
      return *by_name;
    }
    shell.SaveError(by_name.error());
  }
  // Keys and paths are the same thing in a directory pool: one look-up covers both.
  Result<volume::VolumeRef> by_path = storage.LookupVolumeByPath(name);
  if (by_path) {
    shell.ResetError();
    return *by_path;
  }
  shell.SaveError(by_path.error());
  shell.console().Error(with_pool ? "failed to get vol '" + name + "'"
                                  : "failed to get vol '" + name + "', specifying --pool might help");
  return std::nullopt;
}

int OptULongLong(Console& console, const ParsedCommand& cmd, std::string_view name, std::uint64_t* value) {
  const ParsedOpt* opt = cmd.Find(name);
  if (opt == nullptr) return 0;
  const char* s = opt->data.c_str();
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *end != '\0' || errno != 0 || std::memchr(s, '-', static_cast<std::size_t>(end - s))) {
    console.Error("Numeric value '" + opt->data + "' for <" + std::string(name) +
                  "> option is malformed or out of range");
    return -1;
  }
  *value = v;
  return 1;
}

Result<std::uint64_t> ParseScaledSize(std::string_view text) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (end == s.c_str() || errno != 0 ||
      std::memchr(s.c_str(), '-', static_cast<std::size_t>(end - s.c_str()))) {
    return Fail(ErrorCode::kInvalidArg, ErrorDomain::kNone, "");
  }
  return ScaleInteger(v, end);
}

namespace {

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool ProgressWanted() {
  const char* force = std::getenv("VSECRET_PROGRESS");
  if (force != nullptr && *force != '\0') return std::strcmp(force, "0") != 0;
  return ::isatty(STDERR_FILENO) == 1;
}

}  // namespace

ProgressBar::ProgressBar(std::string label) : label_(std::move(label)), enabled_(ProgressWanted()) {}

ProgressBar::~ProgressBar() { Finish(); }

volume::ProgressFn ProgressBar::Callback() {
  if (!enabled_) return nullptr;
  return [this](std::uint64_t done, std::uint64_t total) { Draw(done, total, false); };
}

void ProgressBar::Finish() {
  if (!enabled_ || !drawn_) return;
  Draw(last_done_, last_total_, true);
  std::fputc('\n', stderr);
  std::fflush(stderr);
  drawn_ = false;
}

void ProgressBar::Draw(std::uint64_t done, std::uint64_t total, bool final) {
  last_done_ = done;
  last_total_ = total;
  const std::int64_t now = NowMs();
  if (!final && done < total && now - last_draw_ms_ < 100) return;
  last_draw_ms_ = now;
  constexpr int kWidth = 30;
  const double fraction = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < kWidth) bar += '>';
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\r%s: [%3d %%] [%s] %s / %s", label_.c_str(), static_cast<int>(fraction * 100),
               bar.c_str(), volume::PrettyCapacity(done).c_str(), volume::PrettyCapacity(total).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace vsecret::cli
