#include "conf/virconf.h"

#include <string>

#include "base/strings.h"

namespace vsecret {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsEol(char c) { return c == '\n' || c == '\r'; }
// ASCII only, as glib's g_ascii_* classes the reference uses.
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// A recursive-descent reader over the whole text. Positions past the end read as '\0', which is
// what the reference sees at its terminating NUL; several of its error paths depend on that.
class Parser {
 public:
  Parser(std::string_view text, const std::string& filename) : text_(text), filename_(filename) {}

  Result<std::vector<std::pair<std::string, VirConf::Value>>> Run() {
    while (!AtEnd()) {
      if (auto ok = Statement(); !ok) return std::unexpected(ok.error());
      if (auto ok = Separator(); !ok) return std::unexpected(ok.error());
    }
    return std::move(entries_);
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Cur() const { return AtEnd() ? '\0' : text_[pos_]; }
  void Next() {
    if (!AtEnd()) ++pos_;
  }
  bool LooksAt(std::string_view s) const { return text_.substr(pos_).starts_with(s); }
  void SkipBlanks() {
    while (!AtEnd() && IsBlank(Cur())) ++pos_;
  }
  void SkipBlanksAndEol() {
    while (!AtEnd() && (IsBlank(Cur()) || IsEol(Cur()))) {
      if (Cur() == '\n') ++line_;
      ++pos_;
    }
  }
  void SkipToEol() {
    while (!AtEnd() && !IsEol(Cur())) ++pos_;
  }

  std::unexpected<Error> SyntaxError(const char* what) const {
    return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf,
                "configuration file syntax error: " + filename_ + ":" + std::to_string(line_) + ": " + what);
  }

  Result<void> Statement() {
    SkipBlanksAndEol();
    if (Cur() == '#') {
      SkipToEol();
      return {};
    }
    SkipBlanks();
    if (!IsAlpha(Cur())) return SyntaxError("expecting a name");
    const std::size_t name_start = pos_;
    while (!AtEnd() && (IsAlpha(Cur()) || IsDigit(Cur()) || Cur() == '_')) Next();
    std::string name(text_.substr(name_start, pos_ - name_start));
    SkipBlanks();
    if (Cur() != '=') return SyntaxError("expecting an assignment");
    Next();
    SkipBlanks();
    auto value = Value();
    if (!value) return std::unexpected(value.error());
    SkipBlanks();
    if (Cur() == '#') SkipToEol();  // a trailing comment belongs to the statement
    entries_.emplace_back(std::move(name), std::move(*value));
    return {};
  }

  Result<void> Separator() {
    SkipBlanks();
    if (AtEnd()) return {};
    if (IsEol(Cur())) {
      SkipBlanksAndEol();
    } else if (Cur() == ';') {
      Next();
      SkipBlanksAndEol();
    } else {
      return SyntaxError("expecting a separator");
    }
    return {};
  }

  Result<VirConf::Value> Value() {
    SkipBlanks();
    if (AtEnd()) return SyntaxError("expecting a value");
    VirConf::Value value;
    const char c = Cur();
    if (c == '"' || c == '\'') {
      value.type = VirConf::Value::Type::kString;
      auto text = String();
      if (!text) return std::unexpected(text.error());
      value.text = std::move(*text);
    } else if (c == '[') {
      value.type = VirConf::Value::Type::kList;
      if (auto ok = List(value.list); !ok) return std::unexpected(ok.error());
    } else if (IsDigit(c) || c == '-' || c == '+') {
      value.type = c == '-' ? VirConf::Value::Type::kSigned : VirConf::Value::Type::kUnsigned;
      auto number = Number();
      if (!number) return std::unexpected(number.error());
      value.number = *number;
    } else {
      return SyntaxError("expecting a value");
    }
    return value;
  }

  Result<void> List(std::vector<VirConf::Value>& items) {
    Next();  // '['
    SkipBlanksAndEol();
    if (!AtEnd() && Cur() != ']') {
      auto first = Value();
      if (!first) return std::unexpected(first.error());
      items.push_back(std::move(*first));
      SkipBlanksAndEol();
    }
    while (!AtEnd() && Cur() != ']') {
      if (Cur() != ',') return SyntaxError("expecting a separator in list");
      Next();
      SkipBlanksAndEol();
      if (Cur() == ']') break;  // a trailing comma is allowed
      auto item = Value();
      if (!item) return std::unexpected(item.error());
      items.push_back(std::move(*item));
      SkipBlanksAndEol();
    }
    if (Cur() != ']') return SyntaxError("list is not closed with ]");
    Next();
    return {};
  }

  Result<std::uint64_t> Number() {
    bool negative = false;
    if (Cur() == '-') {
      negative = true;
      Next();
    } else if (Cur() == '+') {
      Next();
    }
    if (AtEnd() || !IsDigit(Cur())) return SyntaxError("unterminated number");
    std::uint64_t n = 0;
    while (!AtEnd() && IsDigit(Cur())) {
      n = n * 10 + static_cast<std::uint64_t>(Cur() - '0');
      Next();
    }
    return negative ? ~n + 1 : n;
  }

  Result<std::string> String() {
    // The triple-quoted form is recognised only with room for a non-empty body, as in the
    // reference; `""""""` at the very end is therefore an empty string followed by junk.
    if (Cur() != '\'' && pos_ + 6 < text_.size() && LooksAt("\"\"\"")) {
      pos_ += 3;
      const std::size_t start = pos_;
      while (pos_ + 2 < text_.size() && !LooksAt("\"\"\"")) {
        if (Cur() == '\n') ++line_;
        Next();
      }
      if (!LooksAt("\"\"\"")) return SyntaxError("unterminated string");
      std::string s(text_.substr(start, pos_ - start));
      pos_ += 3;
      return s;
    }
    const char quote = Cur();
    Next();
    const std::size_t start = pos_;
    while (!AtEnd() && Cur() != quote && !IsEol(Cur())) Next();
    if (Cur() != quote) return SyntaxError("unterminated string");
    std::string s(text_.substr(start, pos_ - start));
    Next();
    return s;
  }

  std::string_view text_;
  const std::string& filename_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::vector<std::pair<std::string, VirConf::Value>> entries_;
};

}  // namespace

Result<VirConf> VirConf::Parse(std::string_view text, std::string filename) {
  VirConf conf;
  conf.filename_ = std::move(filename);
  auto entries = Parser(text, conf.filename_).Run();
  if (!entries) return std::unexpected(entries.error());
  conf.entries_ = std::move(*entries);
  return conf;
}

const VirConf::Value* VirConf::Find(std::string_view name) const {
  if (lookups_ != nullptr) lookups_->emplace_back(name);
  for (const auto& [key, value] : entries_) {
    if (key == name) return &value;
  }
  return nullptr;
}

Result<std::optional<bool>> VirConf::GetBool(std::string_view name) const {
  const Value* value = Find(name);
  if (value == nullptr) return std::optional<bool>();
  if (value->type != Value::Type::kUnsigned) {
    return InternalError(ErrorDomain::kConf,
                         filename_ + ": expected a bool for " + Quoted(name) + " parameter");
  }
  if (value->number > 1) {
    return InternalError(ErrorDomain::kConf,
                         filename_ + ": value for " + Quoted(name) + " parameter must be 0 or 1");
  }
  return std::optional<bool>(value->number == 1);
}

Result<std::optional<std::string>> VirConf::GetString(std::string_view name) const {
  const Value* value = Find(name);
  if (value == nullptr) return std::optional<std::string>();
  if (value->type != Value::Type::kString) {
    return InternalError(ErrorDomain::kConf,
                         filename_ + ": expected a string for " + Quoted(name) + " parameter");
  }
  return std::optional<std::string>(value->text);
}

template <typename Bound>
std::unexpected<Error> VirConf::OutOfRange(std::string_view name, Bound min, Bound max) const {
  return InternalError(ErrorDomain::kConf, filename_ + ": value for " + Quoted(name) +
                                               " parameter must be in range " + std::to_string(min) + ":" +
                                               std::to_string(max));
}

Result<std::optional<int>> VirConf::GetInt(std::string_view name, int min, int max) const {
  const Value* value = Find(name);
  if (value == nullptr) return std::optional<int>();
  if (value->type != Value::Type::kSigned && value->type != Value::Type::kUnsigned) {
    return InternalError(ErrorDomain::kConf,
                         filename_ + ": expected a signed integer for " + Quoted(name) + " parameter");
  }
  // libvirt keeps every number in a long long, so a huge unsigned one is negative here too.
  const auto n = static_cast<std::int64_t>(value->number);
  if (n < INT_MIN || n > INT_MAX) return OutOfRange(name, INT_MIN, INT_MAX);
  if (n < min || n > max) return OutOfRange(name, min, max);
  return std::optional<int>(static_cast<int>(n));
}

Result<std::optional<unsigned>> VirConf::GetUInt(std::string_view name, unsigned min, unsigned max) const {
  const Value* value = Find(name);
  if (value == nullptr) return std::optional<unsigned>();
  if (value->type != Value::Type::kUnsigned) {
    return InternalError(ErrorDomain::kConf,
                         filename_ + ": expected an unsigned integer for " + Quoted(name) + " parameter");
  }
  if (value->number > UINT_MAX) return OutOfRange(name, 0u, UINT_MAX);
  if (value->number < min || value->number > max) return OutOfRange(name, min, max);
  return std::optional<unsigned>(static_cast<unsigned>(value->number));
}

Result<std::optional<std::vector<std::string>>> VirConf::GetStringList(std::string_view name,
                                                                       StringList form) const {
  using List = std::vector<std::string>;
  const Value* value = Find(name);
  if (value == nullptr) return std::optional<List>();
  if (value->type == Value::Type::kString && form == StringList::kListOrString) {
    return std::optional<List>(List{value->text});
  }
  if (value->type != Value::Type::kList) {
    return InternalError(ErrorDomain::kConf,
                         filename_ + ": expected a string " +
                             (form == StringList::kListOrString ? "or string list" : "list") + " for " +
                             Quoted(name) + " parameter");
  }
  List out;
  for (const Value& item : value->list) {
    // libvirt reports this one as a syntax error, with no line.
    if (item.type != Value::Type::kString) {
      return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf,
                  "configuration file syntax error: " + filename_ + ": expected a string list for " +
                      Quoted(name) + " parameter");
    }
    out.push_back(item.text);
  }
  return std::optional<List>(std::move(out));
}

}  // namespace vsecret
