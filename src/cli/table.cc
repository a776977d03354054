#include "cli/table.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cwchar>
#include <cwctype>

namespace vsecret::cli {
namespace {

// virsh formats the escaped byte from a (signed) char with "%02x" into a 5-byte buffer, so any
// byte >= 0x80 comes out as "\xff"; reproduced on purpose for identical output.
void AppendHex(std::string& out, char c) {
  int value = static_cast<signed char>(c);
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(value));
  out.append(buf, 4);
}

bool IsAsciiControl(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

bool IsAsciiPrint(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u < 0x7f;
}

}  // namespace

std::string SafeEncodeCell(const std::string& cell, std::size_t* width) {
  std::string out;
  *width = 0;
  std::mbstate_t state{};
  const char* p = cell.c_str();
  while (*p != '\0') {
    if ((p[0] == '\\' && p[1] == 'x') || IsAsciiControl(*p)) {
      AppendHex(out, *p);
      *width += 4;
      ++p;
      continue;
    }
    wchar_t wc;
    std::size_t len = std::mbrtowc(&wc, p, MB_CUR_MAX, &state);
    if (len == 0) break;
    if (len == static_cast<std::size_t>(-1) || len == static_cast<std::size_t>(-2)) {
      len = 1;
      if (!IsAsciiPrint(*p)) {
        AppendHex(out, *p);
        *width += 4;
      } else {
        out.push_back(*p);
        *width += 1;
      }
    } else if (!std::iswprint(static_cast<wint_t>(wc))) {
      for (std::size_t i = 0; i < len; ++i) {
        AppendHex(out, p[i]);
        *width += 4;
      }
    } else {
      out.append(p, len);
      // Unsigned arithmetic like virsh's, should wcwidth ever say -1 for a printable character.
      *width += static_cast<std::size_t>(wcwidth(wc));
    }
    p += len;
  }
  return out;
}

std::string Table::Render(bool with_header) const {
  const std::size_t columns = header_.size();
  std::vector<std::vector<std::string>> cells;
  std::vector<std::vector<std::size_t>> widths;
  std::vector<std::size_t> max_width(columns, 0);

  auto encode = [&](const std::vector<std::string>& row) {
    std::vector<std::string> encoded(columns);
    std::vector<std::size_t> w(columns, 0);
    for (std::size_t j = 0; j < columns && j < row.size(); ++j) {
      encoded[j] = SafeEncodeCell(row[j], &w[j]);
      if (w[j] > max_width[j]) max_width[j] = w[j];
    }
    cells.push_back(std::move(encoded));
    widths.push_back(std::move(w));
  };
  if (with_header) encode(header_);
  for (const auto& row : rows_) encode(row);

  std::string out;
  auto print_row = [&](std::size_t r) {
    for (std::size_t j = 0; j < columns; ++j) {
      out += ' ';
      out += cells[r][j];
      if (j + 1 < columns) out.append(max_width[j] - widths[r][j] + 2, ' ');
    }
    out += '\n';
  };

  std::size_t first_row = 0;
  if (with_header) {
    print_row(0);
    std::size_t dashes = 0;
    for (std::size_t w : max_width) dashes += w + 3;
    out.append(dashes, '-');
    out += '\n';
    first_row = 1;
  }
  for (std::size_t r = first_row; r < cells.size(); ++r) print_row(r);
  return out;
}

}  // namespace vsecret::cli
