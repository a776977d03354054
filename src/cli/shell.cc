#include "cli/shell.h"

#include <chrono>
#include <cstdio>

#include "cli/complete.h"
#include "cli/tokenizer.h"
#include "vsecret/uuid.h"

namespace vsecret::cli {
namespace {

// virsh treats these as "the connection went away" and reconnects before the next command.
bool IsDisconnectError(const Error& e) {
  return (e.code() == ErrorCode::kSystemError && e.domain() == ErrorDomain::kRemote) ||
         e.code() == ErrorCode::kRpc || e.code() == ErrorCode::kNoConnect ||
         e.code() == ErrorCode::kInvalidConn;
}

}  // namespace

Shell::Shell(ShellOptions options, ConnectionFactory factory, Console& console, PasswordReader& passwords)
    : options_(std::move(options)), factory_(std::move(factory)), console_(console), passwords_(passwords) {
  console_.set_quiet(options_.quiet);
}

Shell::~Shell() = default;

bool Shell::Init() {
  // An explicit URI must work before anything runs; the default one is opened on first use,
  // so that commands which need no connection (help, echo) work without one.
  if (options_.uri && !Reconnect(std::nullopt, std::nullopt, false)) {
    ReportError();
    return false;
  }
  return true;
}

void Shell::CloseConnection() {
  if (!conn_) return;
  conn_.reset();
  if (leaked_reference_) {
    console_.Error("One or more references were leaked after disconnect from the hypervisor");
    leaked_reference_ = false;
  }
}

void Shell::Close() { CloseConnection(); }

bool Shell::Reconnect(std::optional<std::string> uri, std::optional<bool> read_only, bool force) {
  bool connected = conn_ != nullptr;
  CloseConnection();
  // Without a new URI the current settings apply, whatever read-only flag was asked for.
  std::string target = uri ? *uri : options_.uri.value_or("");
  bool ro = uri ? read_only.value_or(false) : options_.read_only;
  auto opened = factory_(target, ro);
  if (!opened) {
    console_.Error(disconnected_ ? "Failed to reconnect to the hypervisor"
                                 : "failed to connect to the hypervisor");
    SaveError(opened.error());
    return false;
  }
  conn_ = std::move(*opened);
  if (uri) {
    options_.uri = *uri;
    options_.read_only = ro;
  }
  if (connected && !force) console_.Error("Reconnected to the hypervisor");
  disconnected_ = false;
  return true;
}

bool Shell::EnsureConnected() {
  if (!conn_ || disconnected_) return Reconnect(std::nullopt, std::nullopt, false);
  return true;
}

void Shell::ReportError() {
  if (!last_error_) return;
  console_.Error(last_error_->message());
  last_error_.reset();
}

bool Shell::Run(std::vector<ParsedCommand>& commands) {
  bool ret = true;
  for (auto& cmd : commands) {
    const CommandDef& def = cmd.def();
    auto before = std::chrono::steady_clock::now();
    if ((def.flags & kCmdNoConnect) || EnsureConnected()) {
      ret = def.handler(*this, cmd);
    } else {
      ret = false;
    }
    auto after = std::chrono::steady_clock::now();

    if (!ret && last_error_ && IsDisconnectError(*last_error_)) disconnected_ = true;
    if (!ret) ReportError();
    if (def.name == "quit" || def.name == "exit") return ret;

    if (options_.timing) {
      double ms = std::chrono::duration<double, std::milli>(after - before).count();
      char buf[64];
      std::snprintf(buf, sizeof buf, "\n(Time: %.3f ms)\n\n", ms);
      console_.Print(buf);
    } else {
      console_.PrintExtra("\n");
    }
  }
  return ret;
}

bool Shell::RunString(std::string_view text) {
  // virsh refuses an empty command string outright (exit status 1, no message).
  if (text.empty()) return false;
  StringTokens tokens(text, console_);
  auto commands = ParseCommands(tokens, console_);
  if (!commands) return false;
  return Run(*commands);
}

void Shell::RunInteractive(LineReader& reader) {
  interactive_ = true;
  if (!options_.quiet) {
    console_.Print("Welcome to " + options_.progname + ", the virtualization interactive terminal.\n\n");
    console_.Print(
        "Type:  'help' for help with commands\n"
        "       'quit' to quit\n\n");
  }
  // TAB offers live values only from a connection already open (never a connection error
  // printed into the line being edited).
  reader.SetCompleter([this](std::string_view line, std::string_view text) {
    return CompleteLine(*this, line, text, /*may_connect=*/false);
  });
  do {
    console_.Flush();
    std::string prompt = options_.read_only ? "vsecret > " : "vsecret # ";
    auto line = reader.ReadLine(prompt);
    if (!line) break;
    if (!line->empty()) {
      reader.AddHistory(*line);
      RunString(*line);
    }
    // The line may have carried a value given with --base64.
    SecureWipe(line->data(), line->size());
  } while (interactive_);
  reader.SetCompleter(nullptr);
  // virsh always ends the session with a newline, whether by EOF or by quit.
  console_.Print("\n");
  console_.Flush();
}

std::optional<SecretRef> LookupSecretOption(Shell& shell, const ParsedCommand& cmd, std::string_view* arg) {
  std::optional<std::string_view> text;
  if (!OptStringReq(shell.console(), cmd, "secret", &text) || !text) return std::nullopt;
  if (arg != nullptr) *arg = *text;
  auto fail = [&](const Error& error) -> std::optional<SecretRef> {
    shell.SaveError(error);
    shell.console().Error("failed to get secret '" + std::string(*text) + "'");
    return std::nullopt;
  };
  auto uuid = Uuid::Parse(*text);
  if (!uuid) {
    return fail(Error(ErrorCode::kInvalidArg, ErrorDomain::kSecret,
                      "uuidstr in virSecretLookupByUUIDString must be a valid UUID"));
  }
  auto ref = shell.conn().LookupByUuid(*uuid);
  if (!ref) return fail(ref.error());
  return *ref;
}

}  // namespace vsecret::cli
