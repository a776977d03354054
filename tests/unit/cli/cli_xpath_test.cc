// --xpath / --wrap output, compared with what virsh 9.0 printed for the same document.
#include <gtest/gtest.h>

#include "cli/console.h"
#include "cli/xpath_dump.h"

namespace vsecret::cli {
namespace {

constexpr char kXml[] =
    "<secret ephemeral='no' private='no'>\n"
    "  <uuid>33333333-1111-1111-1111-111111111111</uuid>\n"
    "  <description>d&lt;&amp; x</description>\n"
    "  <usage type='ceph'>\n"
    "    <name>n</name>\n"
    "  </usage>\n"
    "</secret>\n";

struct Dumped {
  bool ok;
  std::string out;
  std::string err;
  std::string error_message;
};

Dumped Dump(std::optional<std::string_view> xpath, bool wrap) {
  StringSink out, err;
  Console console(out, err);
  auto r = DumpXml(console, kXml, xpath, wrap);
  return {r.has_value(), out.text(), err.text(), r ? "" : r.error().message()};
}

TEST(CliXpathTest, NoExpressionPrintsTheDocument) { EXPECT_EQ(Dump(std::nullopt, true).out, kXml); }

TEST(CliXpathTest, ElementsAreReindented) {
  EXPECT_EQ(Dump("//usage", false).out, "<usage type=\"ceph\">\n  <name>n</name>\n</usage>\n");
  EXPECT_EQ(Dump("//usage", true).out,
            "<nodes>\n  <usage type=\"ceph\">\n    <name>n</name>\n  </usage>\n</nodes>\n");
  // The context node is the root element, so relative paths work.
  EXPECT_EQ(Dump("uuid", false).out, "<uuid>33333333-1111-1111-1111-111111111111</uuid>\n");
}

TEST(CliXpathTest, AttributesAndText) {
  EXPECT_EQ(Dump("//@*", false).out, " ephemeral=\"no\"\n private=\"no\"\n type=\"ceph\"\n");
  EXPECT_EQ(Dump("//@*", true).out, "<nodes ephemeral=\"no\" private=\"no\" type=\"ceph\"/>\n");
  EXPECT_EQ(Dump("//text()", false).out, "33333333-1111-1111-1111-111111111111\nd&lt;&amp; x\nn\n");
  // Adjacent text copies merge inside the wrapper.
  EXPECT_EQ(Dump("//text()", true).out, "<nodes>33333333-1111-1111-1111-111111111111d&lt;&amp; xn</nodes>\n");
}

TEST(CliXpathTest, NoMatch) {
  Dumped d = Dump("//nomatch", false);
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.out, "");
  EXPECT_EQ(Dump("//nomatch", true).out, "<nodes/>\n");
}

TEST(CliXpathTest, NonNodeSetIsAnError) {
  Dumped d = Dump("count(//uuid)", false);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.error_message, "internal error: Incorrect xpath 'count(//uuid)'");
}

TEST(CliXpathTest, SyntaxErrorsAreLibxmlDiagnosticsAndSelectNothing) {
  Dumped d = Dump("//[bad", false);
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.out, "");
  EXPECT_EQ(d.err, "XPath error : Invalid expression\n//[bad\n  ^\n");
  EXPECT_EQ(Dump("foo:bar", false).err, "XPath error : Undefined namespace prefix\n");
}

}  // namespace
}  // namespace vsecret::cli
