// SecretBytes, Error constructors and the logger.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/log.h"
#include "base/strings.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret {
namespace {

TEST(SecretBytes, HoldsBinaryAndComparesInConstantTime) {
  std::string raw("a\0b\xff", 4);
  SecretBytes a(raw);
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a.AsStringView(), raw);
  SecretBytes b = a.Clone();
  EXPECT_TRUE(a.EqualsConstantTime(b));
  b.Append(std::string_view("x"));
  EXPECT_FALSE(a.EqualsConstantTime(b));
  EXPECT_TRUE(SecretBytes().EqualsConstantTime(SecretBytes()));
}

TEST(SecretBytes, MoveLeavesSourceEmptyAndWipeClears) {
  SecretBytes a(std::string_view("secret"));
  SecretBytes b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the contract says empty
  EXPECT_EQ(b.AsStringView(), "secret");
  b.Wipe();
  EXPECT_TRUE(b.empty());
}

TEST(SecretBytes, SecureWipeZeroesTheBuffer) {
  // What SecretBytes and its allocator call on every release (freed memory itself cannot be
  // inspected without undefined behaviour).
  std::vector<std::uint8_t> storage(32, 0xAB);
  SecureWipe(storage.data(), storage.size());
  for (std::uint8_t byte : storage) EXPECT_EQ(byte, 0);
}

TEST(Error, ConstructorsCarryLibvirtPrefixesCodesAndDomains) {
  EXPECT_EQ(NoSecret("x").error().message(), "Secret not found: x");
  EXPECT_EQ(NoSecret("x").error().code(), ErrorCode::kNoSecret);
  EXPECT_EQ(NoSecret("x").error().domain(), ErrorDomain::kSecret);
  EXPECT_EQ(InvalidSecret("x").error().message(), "Invalid secret: x");
  EXPECT_EQ(InternalError(ErrorDomain::kSecret, "x").error().message(), "internal error: x");
  EXPECT_EQ(XmlError(ErrorDomain::kXml, "x").error().message(), "XML error: x");
  EXPECT_EQ(ConfigUnsupported(ErrorDomain::kNone, "x").error().message(), "unsupported configuration: x");
  EXPECT_EQ(OperationDenied(ErrorDomain::kSecret, "x").error().message(), "operation forbidden: x");
  EXPECT_EQ(InvalidArg(ErrorDomain::kSecret, "x").error().message(), "x");
  EXPECT_EQ(SystemError(ErrorDomain::kNone, ENOENT, "cannot read 'f'").error().message(),
            "cannot read 'f': No such file or directory");
  EXPECT_EQ(UnsupportedFlags(ErrorDomain::kSecret, 0x400, "fn").error().message(),
            "unsupported flags (0x400) in function fn");
}

TEST(Log, FormatsLikeLibvirtAndHonoursTheSink) {
  std::vector<std::string> lines;
  LogSink old = SetLogSink([&](LogLevel, std::string_view line) { lines.emplace_back(line); });
  Log(LogLevel::kError, "where", "what happened");
  Log(LogLevel::kDebug, "where", "below the default threshold");
  SetLogSink(std::move(old));
  ASSERT_EQ(lines.size(), 1u);
  const std::string& line = lines[0];
  // "YYYY-MM-DD HH:MM:SS.mmm+0000: PID: error : where : what happened\n"
  ASSERT_GE(line.size(), 30u);
  EXPECT_EQ(line.substr(4, 1), "-");
  EXPECT_EQ(line.substr(23, 7), "+0000: ");
  EXPECT_NE(line.find(": error : where : what happened\n"), std::string::npos);
}

TEST(StringsTest, QuotedAndShellSingleQuoted) {
  EXPECT_EQ(Quoted("/a b"), "'/a b'");
  EXPECT_EQ(Quoted(""), "''");
  EXPECT_EQ(ShellSingleQuoted("plain"), "'plain'");
  EXPECT_EQ(ShellSingleQuoted("it's"), R"('it'\''s')");
  EXPECT_EQ(ShellSingleQuoted(""), "''");
  std::string out = "x=";
  AppendShellSingleQuoted(out, "'");
  EXPECT_EQ(out, R"(x=''\''')");
}

TEST(ErrorPrefixTest, OneTableForConstructorsAndTheWire) {
  EXPECT_EQ(LibvirtMessagePrefix(ErrorCode::kInternalError), "internal error: ");
  EXPECT_EQ(LibvirtMessagePrefix(ErrorCode::kOperationInvalid), "Requested operation is not valid: ");
  EXPECT_EQ(LibvirtMessagePrefix(ErrorCode::kSystemError), "");
  // Every constructor prepends exactly its code's prefix.
  EXPECT_EQ(InternalError(ErrorDomain::kSecret, "x").error().message(), "internal error: x");
  EXPECT_EQ(XmlError(ErrorDomain::kXml, "x").error().message(), "XML error: x");
  EXPECT_EQ(NoSecret("x").error().message(), "Secret not found: x");
  EXPECT_EQ(InvalidSecret("x").error().message(), "Invalid secret: x");
  EXPECT_EQ(ConfigUnsupported(ErrorDomain::kSecret, "x").error().message(), "unsupported configuration: x");
  EXPECT_EQ(OperationDenied(ErrorDomain::kNone, "x").error().message(), "operation forbidden: x");
  EXPECT_EQ(InvalidArg(ErrorDomain::kNone, "x").error().message(), "x");
}

}  // namespace
}  // namespace vsecret
