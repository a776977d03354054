// Table: column-aligned listings in virsh's vshTable layout.
//
//  * Cells are made safe for a terminal first: control characters, a literal "\x", and bytes
//    or characters the current locale cannot print become "\xNN" (bytes >= 0x80 show as
//    "\xff", as virsh's signed-char formatting does). Widths count display columns (wcwidth),
//    so the result depends on LC_CTYPE exactly as virsh's does.
//  * A column is as wide as its widest cell; each printed line is " cell" plus padding to the
//    column width plus two spaces between columns, and nothing after the last cell.
//  * Under the header comes a line of dashes as long as the sum of (column width + 3).
//  * Without the header (quiet mode) the widths are computed from the rows alone.
#pragma once

#include <string>
#include <vector>

namespace vsecret::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  // row must have as many cells as the header.
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render(bool with_header) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// The escaped form of one cell and its display width (exposed for tests).
std::string SafeEncodeCell(const std::string& cell, std::size_t* width);

}  // namespace vsecret::cli
