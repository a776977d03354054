// vshTable-compatible rendering. The locale decides what is printable and how wide it is, as
// for virsh, so each test pins LC_CTYPE.
#include <gtest/gtest.h>

#include <clocale>
#include <string>

#include "cli/table.h"

namespace vsecret::cli {
namespace {

class LocaleScope {
 public:
  explicit LocaleScope(const char* name) : saved_(std::setlocale(LC_CTYPE, nullptr)) {
    ok_ = std::setlocale(LC_CTYPE, name) != nullptr;
  }
  ~LocaleScope() { std::setlocale(LC_CTYPE, saved_.c_str()); }
  bool ok() const { return ok_; }

 private:
  std::string saved_;
  bool ok_ = false;
};

TEST(CliTableTest, EmptyTable) {
  Table t({"UUID", "Usage"});
  EXPECT_EQ(t.Render(true), " UUID   Usage\n---------------\n");
  EXPECT_EQ(t.Render(false), "");
}

TEST(CliTableTest, ColumnWidthIsWidestCellPlusThree) {
  Table t({"UUID", "Usage"});
  t.AddRow({"0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f", "ceph eph1"});
  EXPECT_EQ(t.Render(true),
            " UUID                                   Usage\n"
            "---------------------------------------------------\n"
            " 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f   ceph eph1\n");
}

TEST(CliTableTest, QuietWidthsIgnoreTheHeader) {
  Table t({"A-long-header", "B"});
  t.AddRow({"x", "y"});
  EXPECT_EQ(t.Render(false), " x   y\n");
  EXPECT_EQ(t.Render(true), " A-long-header   B\n--------------------\n x               y\n");
}

TEST(CliTableTest, ControlCharactersAndBackslashX) {
  LocaleScope c("C");
  std::size_t width = 0;
  EXPECT_EQ(SafeEncodeCell("a\tb\\xZ\x7f", &width), "a\\x09b\\x5cxZ\\x7f");
  EXPECT_EQ(width, 16u);
}

TEST(CliTableTest, HighBytesInTheCLocaleShowAsFf) {
  LocaleScope c("C");
  std::size_t width = 0;
  // virsh formats the signed char, so every byte >= 0x80 reads "\xff".
  EXPECT_EQ(SafeEncodeCell("\xc3\xa9!", &width), "\\xff\\xff!");
  EXPECT_EQ(width, 9u);
}

TEST(CliTableTest, Utf8WidthsInAUtf8Locale) {
  LocaleScope utf8("C.UTF-8");
  if (!utf8.ok()) GTEST_SKIP() << "C.UTF-8 locale not available";
  std::size_t width = 0;
  // e-acute (1 column), a CJK ideograph (2), U+0085 (not printable), zero-width space (0).
  EXPECT_EQ(SafeEncodeCell("\xc3\xa9\xe4\xb8\xad\xc2\x85\xe2\x80\x8b!", &width),
            "\xc3\xa9\xe4\xb8\xad\\xff\\xff\xe2\x80\x8b!");
  EXPECT_EQ(width, 1u + 2u + 8u + 0u + 1u);

  Table t({"UUID", "Usage"});
  t.AddRow({"u", "volume a\tb\xe4\xb8\xad"});
  EXPECT_EQ(t.Render(true),
            " UUID   Usage\n"
            "-------------------------\n"
            " u      volume a\\x09b\xe4\xb8\xad\n");
}

}  // namespace
}  // namespace vsecret::cli
