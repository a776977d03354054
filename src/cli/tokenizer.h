// Splitting a command line into words, with virsh's rules.
//
// Two sources feed the command parser:
//  * ArgvTokens: the words after the global options when more than one is given. Each word is
//    taken verbatim; ';' is an ordinary word there (virsh 9.0 does not split on it).
//  * StringTokens: a single command string (one argv word, or a line typed in the shell):
//      - blanks (space, tab) separate words; ';' and newline end a command;
//      - a word that starts with '#' comments out the rest of the line;
//      - '...' quotes literally; "..." quotes with backslash escapes; a backslash outside
//        single quotes escapes the next character, and backslash-newline is removed;
//      - an unterminated "..." is an error ("missing \""), an unterminated '...' is not;
//      - a backslash at the very end is an error ("dangling \").
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace vsecret::cli {

class Console;

enum class Token {
  kError,   // malformed input; the message was printed when reporting was asked for
  kWord,    // *word holds the (possibly empty) word
  kCmdEnd,  // end of one command (';', newline or comment)
  kEnd,     // no more input
};

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // report: print syntax errors on the console (false while skipping a comment).
  virtual Token Next(std::string* word, bool report) = 0;
};

class ArgvTokens final : public TokenSource {
 public:
  explicit ArgvTokens(std::span<const std::string> words) : words_(words) {}
  Token Next(std::string* word, bool report) override;

 private:
  std::span<const std::string> words_;
  std::size_t pos_ = 0;
};

class StringTokens final : public TokenSource {
 public:
  // text and console are borrowed.
  StringTokens(std::string_view text, Console& console) : text_(text), console_(console) {}
  Token Next(std::string* word, bool report) override;

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  Console& console_;
};

}  // namespace vsecret::cli
