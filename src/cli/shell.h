// Shell: the state of one vsecret run and the loop that runs commands, like virsh's vshControl.
//
// The shell owns the connection, opened through a factory so tests substitute a fake:
//  * with an explicit URI (-c) it connects up front and a failure ends the run;
//  * otherwise it connects when the first command that needs a connection runs.
// Errors from the connection are kept as the "last error" and printed once the command has
// failed, after the command's own messages, exactly as virsh reports libvirt errors. A command
// that succeeds leaves an earlier error pending, as virsh does.
//
// Thread-safety: a Shell is used from one thread; only its Console is shared with the event
// callback thread of secret-event.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command_parser.h"
#include "cli/console.h"
#include "vsecret/connection.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::cli {

using ConnectionFactory =
    std::function<Result<std::unique_ptr<Connection>>(std::string_view uri, bool read_only)>;

// Reads a secret from the user without echo (secret-set-value --interactive).
class PasswordReader {
 public:
  virtual ~PasswordReader() = default;
  // The typed line without its newline. nullopt when nothing could be read at all.
  virtual std::optional<SecretBytes> ReadPassword() = 0;
};

// Reads command lines for the interactive shell.
class LineReader {
 public:
  virtual ~LineReader() = default;
  // Shows prompt and returns the next line without its newline; nullopt at end of input.
  virtual std::optional<std::string> ReadLine(const std::string& prompt) = 0;
  virtual void AddHistory(const std::string& line) = 0;
  // Candidates for the word being typed (text), given the line before it. Readers that edit
  // lines (readline) offer them on TAB; the shell installs one for its interactive loop and
  // removes it (nullptr) afterwards.
  using Completer = std::function<std::vector<std::string>(std::string_view line, std::string_view text)>;
  virtual void SetCompleter(Completer /*completer*/) {}
};

struct ShellOptions {
  std::optional<std::string> uri;  // -c; nullopt selects the default connection lazily
  bool read_only = false;
  bool quiet = false;
  bool timing = false;
  std::string progname = "vsecret";
};

class Shell {
 public:
  // console and passwords are borrowed and must outlive the shell.
  Shell(ShellOptions options, ConnectionFactory factory, Console& console, PasswordReader& passwords);
  ~Shell();
  Shell(const Shell&) = delete;
  Shell& operator=(const Shell&) = delete;

  // Connects now when a URI was given; on failure prints the errors and returns false.
  bool Init();
  // Runs parsed commands in order (vshCommandRun); the result is that of the last one run.
  // Stops after quit/exit.
  bool Run(std::vector<ParsedCommand>& commands);
  // Parses and runs one command string; false on a syntax error or a failed last command.
  bool RunString(std::string_view text);
  // The interactive loop: banner, prompt, one line at a time until EOF or quit.
  void RunInteractive(LineReader& reader);
  // Closes the connection as virsh does at exit (reporting leaked references).
  void Close();

  // --- for command handlers ---
  Console& console() { return console_; }
  PasswordReader& passwords() { return passwords_; }
  // The open connection; valid inside handlers of commands without kCmdNoConnect.
  Connection& conn() { return *conn_; }
  bool has_connection() const { return conn_ != nullptr; }
  bool read_only() const { return options_.read_only; }
  bool interactive() const { return interactive_; }
  void set_interactive(bool on) { interactive_ = on; }
  // Records a library-level error to be reported when the command fails.
  void SaveError(const Error& error) { last_error_ = error; }
  void ResetError() { last_error_.reset(); }
  // Records that a command kept a reference it never released (virsh reports these when
  // closing the connection).
  void NoteLeakedReference() { leaked_reference_ = true; }
  // Reopens the connection (connect command and automatic reconnection). uri/read_only replace
  // the current settings only when the open succeeds. force: no "Reconnected" notice.
  bool Reconnect(std::optional<std::string> uri, std::optional<bool> read_only, bool force);
  // Opens the connection when none is open (or it was lost); false (error saved) on failure.
  bool EnsureConnected();

 private:
  void ReportError();
  void CloseConnection();

  ShellOptions options_;
  ConnectionFactory factory_;
  Console& console_;
  PasswordReader& passwords_;
  std::unique_ptr<Connection> conn_;
  std::optional<Error> last_error_;
  bool disconnected_ = false;
  bool leaked_reference_ = false;
  bool interactive_ = false;
};

// The lookup virsh does for a <secret> argument: the "secret" option must be non-empty and
// parse as a UUID, and the secret must exist. On failure prints "failed to get secret '<arg>'"
// (the library error is saved for later) and returns nullopt. *arg receives the text as typed.
std::optional<SecretRef> LookupSecretOption(Shell& shell, const ParsedCommand& cmd,
                                            std::string_view* arg = nullptr);

}  // namespace vsecret::cli
