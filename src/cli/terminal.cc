#include "cli/terminal.h"

#include <fcntl.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace vsecret::cli {
namespace {

// Reads bytes up to a newline or end of input into value. Returns whether a newline ended it.
template <typename GetByte>
bool ReadLineInto(SecretBytes& value, GetByte get) {
  while (true) {
    int c = get();
    if (c < 0) return false;
    if (c == '\n') return true;
    std::uint8_t byte = static_cast<std::uint8_t>(c);
    value.Append(std::span<const std::uint8_t>(&byte, 1));
  }
}

class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    if (tcgetattr(fd_, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ISIG);
    active_ = tcsetattr(fd_, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    if (active_) tcsetattr(fd_, TCSAFLUSH, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;
  bool active() const { return active_; }

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// ---- readline completion ----

// readline's hooks take no context argument: the completer and its last answer live here.
LineReader::Completer g_completer;
std::vector<std::string> g_candidates;

char* CandidateGenerator(const char* /*text*/, int state) {
  static std::size_t index;
  if (state == 0) index = 0;
  if (index >= g_candidates.size()) return nullptr;
  return strdup(g_candidates[index++].c_str());
}

char** Complete(const char* text, int start, int /*end*/) {
  rl_attempted_completion_over = 1;  // no file-name completion as a fallback
  if (!g_completer) return nullptr;
  g_candidates = g_completer(std::string_view(rl_line_buffer, static_cast<std::size_t>(start)), text);
  char** matches = rl_completion_matches(text, CandidateGenerator);
  g_candidates.clear();
  return matches;
}

}  // namespace

std::optional<SecretBytes> TerminalPasswordReader::ReadPassword() {
  SecretBytes value;
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty >= 0) {
    bool newline;
    bool echo_was_off;
    {
      EchoOff echo_off(tty);
      echo_was_off = echo_off.active();
      newline = ReadLineInto(value, [tty] {
        unsigned char c;
        while (true) {
          ssize_t n = ::read(tty, &c, 1);
          if (n == 1) return static_cast<int>(c);
          if (n < 0 && errno == EINTR) continue;
          return -1;
        }
      });
    }
    // The user's Enter was not echoed; move the cursor on as getpass() does.
    if (newline && echo_was_off) {
      ssize_t ignored = ::write(tty, "\n", 1);
      (void)ignored;
    }
    ::close(tty);
    return value;
  }
  // No controlling terminal: stdin through stdio, like getpass(), so that buffering (and what
  // later reads still see) matches virsh.
  std::fflush(stdout);
  EchoOff echo_off(fileno(stdin));
  bool newline = ReadLineInto(value, [] { return std::getc(stdin); });
  if (newline && echo_off.active()) std::fputc('\n', stderr);
  return value;
}

ReadlineLineReader::ReadlineLineReader() {
  rl_readline_name = "vsecret";
  rl_attempted_completion_function = Complete;
  rl_basic_word_break_characters = " \t\n\\`@$><=;|&{(";
  // virsh's default history size.
  stifle_history(500);
}

std::optional<std::string> ReadlineLineReader::ReadLine(const std::string& prompt) {
  char* line = readline(prompt.c_str());
  if (line == nullptr) return std::nullopt;
  std::string out(line);
  SecureWipe(line, std::strlen(line));
  std::free(line);
  return out;
}

void ReadlineLineReader::AddHistory(const std::string& line) { add_history(line.c_str()); }

void ReadlineLineReader::SetCompleter(Completer completer) { g_completer = std::move(completer); }

std::optional<std::string> PipedLineReader::ReadLine(const std::string& prompt) {
  std::fwrite(prompt.data(), 1, prompt.size(), out_);
  char* buf = nullptr;
  std::size_t cap = 0;
  ssize_t n = getline(&buf, &cap, in_);
  std::optional<std::string> line;
  if (n > 0) {
    line.emplace(buf, static_cast<std::size_t>(n));
    if (line->back() == '\n') line->pop_back();
    // readline echoes the line it read, and ends it with a newline even at EOF.
    std::fwrite(line->data(), 1, line->size(), out_);
    std::fputc('\n', out_);
  }
  if (buf != nullptr) {
    SecureWipe(buf, cap);  // the line may carry a --base64 value
    std::free(buf);
  }
  std::fflush(out_);
  return line;
}

}  // namespace vsecret::cli
