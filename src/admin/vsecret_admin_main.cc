// vsecret-admin: offline maintenance of a secret store's encryption at rest.
//
//   vsecret-admin [STORE] [--config FILE] [--key FILE] [--quiet] COMMAND [ARGS]
//
// STORE is --root DIR (DIR/etc/secrets, DIR/etc/secret.conf), --system (/etc/libvirt/secrets)
// or --session ($XDG_CONFIG_HOME/libvirt/secrets); the default is --system for root and
// --session otherwise, as for vsecretd. The store is opened with its instance lock, so the
// daemon (or any embedded user) must be stopped first. The logic lives in
// store/store_maintenance.h; this file only parses arguments and prints.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rpc/socket_paths.h"
#include "store/encryption_config.h"
#include "store/secret_store.h"
#include "store/store_maintenance.h"
#include "vsecret/secret_bytes.h"

namespace vsecret {
namespace {

constexpr char kUsage[] =
    "usage: vsecret-admin [--root DIR | --system | --session] [--config FILE] [--key FILE] [--quiet]\n"
    "                     COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  status                  show the encryption settings and the formats the values are in\n"
    "  verify                  read and decrypt every definition and value; exit 1 on any failure\n"
    "  migrate [--format aes256cbc|vsenc]\n"
    "                          re-encrypt every value (base64, aes256cbc, or vsenc under another\n"
    "                          key) under the current key, in the store's format: libvirt 12.x's\n"
    "                          aes256cbc, or with --format vsenc vsecret's authenticated format\n"
    "                          (libvirt cannot read it; the choice is kept in the store's\n"
    "                          vsecret-store.conf, and --format aes256cbc goes back)\n"
    "  rotate --new-key FILE [--credential CRED]\n"
    "                          re-seal every value under the 32-byte key in FILE, then install\n"
    "                          it: over the configured key file, or with systemd-creds into CRED\n"
    "                          when the key comes from $CREDENTIALS_DIRECTORY; an interrupted\n"
    "                          rotation resumes with `rotate` alone\n"
    "  export --format base64|aes256cbc\n"
    "                          rewrite every value in a libvirt format before a downgrade\n"
    "                          (base64: libvirt < 12.1, values in the clear; aes256cbc: 12.1+)\n"
    "\n"
    "options:\n"
    "  --root DIR      the store of `vsecretd --root DIR` or secret:///embed?root=DIR\n"
    "  --system        /etc/libvirt/secrets with /etc/libvirt/secret.conf\n"
    "  --session       $XDG_CONFIG_HOME/libvirt/secrets with its secret.conf\n"
    "  --config FILE   read FILE instead of the store's secret.conf (DIR/etc/secret.conf for\n"
    "                  --root if it exists, else libvirt's: /etc/libvirt/secret.conf as root,\n"
    "                  $XDG_CONFIG_HOME/libvirt/secret.conf otherwise)\n"
    "  --key FILE      use FILE as secrets_encryption_key\n"
    "  --quiet         no progress output\n";

struct Args {
  enum class Mode { kDefault, kRoot, kSystem, kSession } mode = Mode::kDefault;
  std::string root;
  std::optional<std::string> config;
  std::optional<std::string> key;
  bool quiet = false;
  std::string command;
  std::string new_key;
  std::string credential;
  std::string format;
};

int UsageError(const std::string& what) {
  std::fprintf(stderr, "error: %s\n\n%s", what.c_str(), kUsage);
  return 2;
}

std::string ConfigHome() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') return xdg;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : "/") + "/.config";
}

StorePaths ResolvePaths(const Args& args) {
  Args::Mode mode = args.mode;
  if (mode == Args::Mode::kDefault) mode = ::geteuid() == 0 ? Args::Mode::kSystem : Args::Mode::kSession;
  switch (mode) {
    case Args::Mode::kRoot:
      return StorePaths::ForRoot(args.root);
    case Args::Mode::kSession:
      return StorePaths{ConfigHome() + "/libvirt/secrets", rpc::SessionRuntimeDir() + "/secrets/run"};
    default:
      return StorePaths{"/etc/libvirt/secrets", "/run/libvirt/secrets"};
  }
}

// Parses argv; returns an exit status when it should stop there.
std::optional<int> ParseArgs(int argc, char** argv, Args& args) {
  std::vector<std::string> a(argv + 1, argv + argc);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string& opt = a[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= a.size()) return false;
      out = a[++i];
      return true;
    };
    std::string v;
    if (opt == "-h" || opt == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (opt == "--root") {
      if (!value(args.root)) return UsageError("--root needs a directory");
      if (args.root.empty() || args.root[0] != '/') return UsageError("root path must be absolute");
      args.mode = Args::Mode::kRoot;
    } else if (opt == "--system") {
      args.mode = Args::Mode::kSystem;
    } else if (opt == "--session") {
      args.mode = Args::Mode::kSession;
    } else if (opt == "--config") {
      if (!value(v)) return UsageError("--config needs a file");
      args.config = v;
    } else if (opt == "--key") {
      if (!value(v)) return UsageError("--key needs a file");
      args.key = v;
    } else if (opt == "--quiet" || opt == "-q") {
      args.quiet = true;
    } else if (opt == "--new-key") {
      if (!value(args.new_key)) return UsageError("--new-key needs a file");
    } else if (opt == "--credential") {
      if (!value(args.credential)) return UsageError("--credential needs a file");
    } else if (opt == "--format") {
      if (!value(args.format)) return UsageError("--format needs a format name");
    } else if (!opt.empty() && opt[0] == '-') {
      return UsageError("unknown option " + opt);
    } else if (args.command.empty()) {
      args.command = opt;
    } else {
      return UsageError("unexpected argument " + opt);
    }
  }
  if (args.command.empty()) return UsageError("no command given");
  return std::nullopt;
}

// Progress on stderr: an updating line on a terminal, otherwise a line per tenth of the work.
ProgressCallback MakeProgress(const Args& args, const char* what) {
  if (args.quiet) return nullptr;
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto last_tenth = std::make_shared<std::size_t>(0);
  return [tty, what, last_tenth](std::size_t done, std::size_t total) {
    if (total == 0) return;
    const std::size_t percent = done * 100 / total;
    if (tty) {
      std::fprintf(stderr, "\r%s: %zu/%zu (%zu%%)%s", what, done, total, percent, done == total ? "\n" : "");
    } else if (percent / 10 > *last_tenth || done == total) {
      *last_tenth = percent / 10;
      std::fprintf(stderr, "%s: %zu/%zu (%zu%%)\n", what, done, total, percent);
    }
  };
}

void PrintFound(const MaintenanceReport& report) {
  for (const auto& [label, count] : report.found) std::printf("  %-28s %zu\n", label.c_str(), count);
}

int PrintFailures(const MaintenanceReport& report) {
  for (const std::string& f : report.failures) std::fprintf(stderr, "error: %s\n", f.c_str());
  return report.failures.empty() ? 0 : 1;
}

int Die(const Error& e) {
  std::fprintf(stderr, "error: %s\n", e.message().c_str());
  return 1;
}

int Run(const Args& args) {
  const StorePaths paths = ResolvePaths(args);
  EncryptionOptions options = EncryptionOptions::ForStore(paths);
  if (args.config) {
    options.secret_conf_path = *args.config;
    options.libvirt_secret_conf_path.reset();
  }
  Env* env = Env::Default();
  options.key_path_override = args.key;
  auto loaded = LoadEncryption(options, paths, env);
  if (!loaded) return Die(loaded.error());

  auto store = SecretStore::Open(paths, env);
  if (!store) {
    Die(store.error());
    if (store.error().message().find("driver.pid") != std::string::npos) {
      std::fprintf(stderr, "(the store is in use: stop vsecretd, or close the embedded connection, first)\n");
    }
    return 1;
  }
  (*store)->SetValueProtection(loaded->protection());
  const EncryptionDecision& d = loaded->decision;

  if (args.command == "status") {
    std::printf("store:       %s\n", paths.config_dir.c_str());
    std::printf("secret.conf: %s\n", loaded->conf_path.empty() ? "(none)" : loaded->conf_path.c_str());
    std::printf("encryption:  %s\n", d.enabled ? "on" : "off");
    std::printf("format:      %s%s\n", std::string(FormatName(loaded->store_format)).c_str(),
                loaded->store_format == ValueFormat::kSealed ? " (vsecret only: libvirt cannot read it)"
                                                             : " (libvirt 12.x's)");
    if (d.key_path) {
      std::printf("key:         %s (%s)\n", d.key_path->c_str(),
                  std::string(KeySourceName(d.source)).c_str());
    }
    if (loaded->keyring)
      std::printf("key id:      %s\n", KeyIdToHex(loaded->keyring->keys().front().id()).c_str());
    if (loaded->rotation) {
      std::printf("rotation:    pending to %s (key id %s)\n", loaded->rotation->pending_key_path.c_str(),
                  KeyIdToHex(loaded->rotation->pending_key_id).c_str());
    }
    auto report = VerifyStore(**store, nullptr);
    if (!report) return Die(report.error());
    std::printf("values:      %zu\n", report->values);
    PrintFound(*report);
    if (!report->failures.empty()) std::printf("unreadable:  %zu (run verify)\n", report->failures.size());
    return 0;
  }
  if (args.command == "verify") {
    auto report = VerifyStore(**store, MakeProgress(args, "verifying"));
    if (!report) return Die(report.error());
    std::printf("%zu values readable, %zu failures\n", report->unchanged, report->failures.size());
    PrintFound(*report);
    return PrintFailures(*report);
  }
  if (args.command == "migrate") {
    if (!d.enabled) {
      return Die(Error(ErrorCode::kOperationInvalid, ErrorDomain::kSecret,
                       "encryption is not enabled: set encrypt_data = 1 or secrets_encryption_key in " +
                           (loaded->conf_path.empty() ? std::string("secret.conf") : loaded->conf_path)));
    }
    ValueFormat target = loaded->store_format;
    if (!args.format.empty()) {
      const std::optional<ValueFormat> format = FormatFromName(args.format);
      if (!format || *format == ValueFormat::kBase64)
        return UsageError("migrate --format needs aes256cbc or vsenc");
      target = *format;
    }
    if (loaded->rotation) {
      return Die(Error(ErrorCode::kOperationInvalid, ErrorDomain::kSecret,
                       "a key rotation is pending; run rotate again to complete it first"));
    }
    // The choice is recorded first: an interrupted migration leaves both formats, both readable,
    // and running it again completes it.
    if (target != loaded->store_format) {
      if (auto w = WriteStoreFormat(env, paths, target); !w) return Die(w.error());
      ValueProtection protection = loaded->protection();
      protection.encrypted_format = target;
      (*store)->SetValueProtection(protection);
    }
    auto report = ConvertValues(**store, target, MakeProgress(args, "migrating"));
    if (!report) return Die(report.error());
    std::printf("%zu values: %zu re-encrypted, %zu already current, %zu failed\n", report->values,
                report->rewritten, report->unchanged, report->failures.size());
    return PrintFailures(*report);
  }
  if (args.command == "rotate") {
    RotationRequest request;
    // An interrupted rotation resumes with the key its journal names.
    request.new_key_path =
        args.new_key.empty() && loaded->rotation ? loaded->rotation->pending_key_path : args.new_key;
    if (request.new_key_path.empty()) return UsageError("rotate needs --new-key FILE");
    request.credential_path = args.credential;
    auto report = RotateKey(**store, *loaded, request, MakeProgress(args, "rotating"));
    if (!report) return Die(report.error());
    std::printf("%zu values: %zu re-sealed, %zu already under the new key, %zu failed\n",
                report->values.values, report->values.rewritten, report->values.unchanged,
                report->values.failures.size());
    if (!report->completed) {
      PrintFailures(report->values);
      if (report->installed_at.empty()) {
        std::fprintf(
            stderr,
            "error: rotation not completed; both keys stay in use until the failing values are fixed "
            "or undefined and rotate is run again\n");
      } else {
        std::fprintf(stderr,
                     "error: new key installed at %s, but the values above stay in vsecret's .vsenc format "
                     "(libvirt cannot read them); run migrate once they are fixed\n",
                     report->installed_at.c_str());
      }
      return 1;
    }
    std::printf("new key installed at %s; the old key is no longer used\n", report->installed_at.c_str());
    if (report->reformatted != 0)
      std::printf("%zu values rewritten as aes256cbc under the new key\n", report->reformatted);
    return 0;
  }
  if (args.command == "export") {
    const std::optional<ValueFormat> format = FormatFromName(args.format);
    if (!format || *format == ValueFormat::kSealed)
      return UsageError("export needs --format base64|aes256cbc");
    if (loaded->rotation) {
      return Die(Error(ErrorCode::kOperationInvalid, ErrorDomain::kSecret,
                       "a key rotation is pending; run rotate again to complete it first"));
    }
    auto report = ConvertValues(**store, *format, MakeProgress(args, "exporting"));
    if (!report) return Die(report.error());
    std::printf("%zu values: %zu rewritten as %s, %zu already were, %zu failed\n", report->values,
                report->rewritten, args.format.c_str(), report->unchanged, report->failures.size());
    if (*format == ValueFormat::kBase64) {
      std::printf(
          "values are now stored in the clear; set encrypt_data = 0 before starting vsecret again, or it "
          "will encrypt them on their next change\n");
    }
    return PrintFailures(*report);
  }
  return UsageError("unknown command " + args.command);
}

}  // namespace
}  // namespace vsecret

int main(int argc, char** argv) {
  vsecret::ProtectProcessMemory();
  vsecret::Args args;
  if (auto stop = vsecret::ParseArgs(argc, argv, args)) return *stop;
  return vsecret::Run(args);
}
