#include "cli/tokenizer.h"

#include "cli/console.h"

namespace vsecret::cli {

Token ArgvTokens::Next(std::string* word, bool /*report*/) {
  if (pos_ >= words_.size()) return Token::kEnd;
  *word = words_[pos_++];
  return Token::kWord;
}

Token StringTokens::Next(std::string* word, bool report) {
  word->clear();
  std::size_t p = pos_;
  const std::size_t n = text_.size();
  auto at = [&](std::size_t i) { return i < n ? text_[i] : '\0'; };

  while (at(p) == ' ' || at(p) == '\t' || (at(p) == '\\' && at(p + 1) == '\n')) p += at(p) == '\\' ? 2 : 1;

  // virsh works on C strings: an embedded NUL ends the input like the real end does.
  if (at(p) == '\0') {
    pos_ = p;
    return Token::kEnd;
  }
  if (at(p) == ';' || at(p) == '\n') {
    pos_ = p + 1;
    return Token::kCmdEnd;
  }
  if (at(p) == '#') {
    while (at(p) != '\0' && at(p) != '\n') ++p;
    pos_ = at(p) == '\n' ? p + 1 : p;
    return Token::kCmdEnd;
  }

  bool single_quote = false;
  bool double_quote = false;
  while (at(p) != '\0') {
    char c = at(p);
    if (!single_quote && !double_quote && (c == ' ' || c == '\t' || c == ';' || c == '\n')) break;
    if (!double_quote && c == '\'') {
      single_quote = !single_quote;
      ++p;
      continue;
    }
    if (!single_quote && c == '\\') {
      ++p;
      if (at(p) == '\0') {
        if (report) console_.Error("dangling \\");
        return Token::kError;
      }
      if (at(p) == '\n') {
        ++p;
        continue;
      }
    } else if (!single_quote && c == '"') {
      double_quote = !double_quote;
      ++p;
      continue;
    }
    word->push_back(at(p));
    ++p;
  }
  if (double_quote && report) {
    console_.Error("missing \"");
    return Token::kError;
  }
  pos_ = p;
  return Token::kWord;
}

}  // namespace vsecret::cli
