// secret.conf: libvirt's virConf syntax subset and the two secret-driver settings (spec §4.1,
// checklist 61, 65). The error cases are checked against libvirt itself when it is installed:
// libvirtd reads its --config with the same parser and prints the error it hits.
#include "conf/secret_conf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

#include "test_util.h"

namespace vsecret {
namespace {

constexpr char kFile[] = "/etc/libvirt/secret.conf";

struct ErrorCase {
  const char* text;
  // With "{F}" standing for the file name.
  const char* message;
};

// Each of these was run through libvirt 9.0's libvirtd --config (see LibvirtAgrees below). The
// bool and string cases use keys libvirtd reads with the same getters as secret.conf's.
constexpr ErrorCase kErrorCases[] = {
    {"\n", "configuration file syntax error: {F}:2: expecting a name"},
    {"  \n\t\n", "configuration file syntax error: {F}:3: expecting a name"},
    {"a 1\n", "configuration file syntax error: {F}:1: expecting an assignment"},
    {"a = 1 b = 2\n", "configuration file syntax error: {F}:1: expecting a separator"},
    {"a = \"abc\n", "configuration file syntax error: {F}:1: unterminated string"},
    {"a = 'abc\n'\n", "configuration file syntax error: {F}:1: unterminated string"},
    {"a = \"\"\"abc\ndef", "configuration file syntax error: {F}:2: unterminated string"},
    {"a = \"\"\"x\ny\"\"\" z\n", "configuration file syntax error: {F}:2: expecting a separator"},
    {"a = [1 2]\n", "configuration file syntax error: {F}:1: expecting a separator in list"},
    {"a = [1,\n 2", "configuration file syntax error: {F}:2: list is not closed with ]"},
    {"a = -\n", "configuration file syntax error: {F}:1: unterminated number"},
    {"a = x\n", "configuration file syntax error: {F}:1: expecting a value"},
    {"a =", "configuration file syntax error: {F}:1: expecting a value"},
    {"1a = 2\n", "configuration file syntax error: {F}:1: expecting a name"},
    {"# c\n\n  a = 1\nb = @\n", "configuration file syntax error: {F}:4: expecting a value"},
    {"a = 1;;", "configuration file syntax error: {F}:1: expecting a name"},
    {"\r\na = 1\r\nb = x", "configuration file syntax error: {F}:3: expecting a value"},
    {"a = 1.5\n", "configuration file syntax error: {F}:1: expecting a separator"},
    {"listen_tls = \"1\"\n", "internal error: {F}: expected a bool for 'listen_tls' parameter"},
    {"listen_tls = 2\n", "internal error: {F}: value for 'listen_tls' parameter must be 0 or 1"},
    {"listen_tls = -1\n", "internal error: {F}: expected a bool for 'listen_tls' parameter"},
    {"listen_tls = -0\n", "internal error: {F}: expected a bool for 'listen_tls' parameter"},
    {"listen_tls = [1]\n", "internal error: {F}: expected a bool for 'listen_tls' parameter"},
    {"host_uuid = 1\n", "internal error: {F}: expected a string for 'host_uuid' parameter"},
    {"host_uuid = [\"a\"]\n", "internal error: {F}: expected a string for 'host_uuid' parameter"},
};

std::string Expand(const char* message, const std::string& file) {
  std::string out = message;
  out.replace(out.find("{F}"), 3, file);
  return out;
}

// Parse, then the getters libvirtd would run for these keys.
std::string OurMessage(const std::string& text, const std::string& file) {
  auto conf = ConfFile::Parse(text, file);
  if (!conf) return conf.error().message();
  if (auto b = conf->GetBool("listen_tls"); !b) return b.error().message();
  if (auto s = conf->GetString("host_uuid"); !s) return s.error().message();
  return "(no error)";
}

TEST(SecretConfSyntaxTest, ErrorMessagesAndLines) {
  for (const ErrorCase& c : kErrorCases) {
    EXPECT_EQ(OurMessage(c.text, kFile), Expand(c.message, kFile)) << c.text;
  }
}

TEST(SecretConfSyntaxTest, ErrorCodesAndDomains) {
  auto syntax = ConfFile::Parse("a 1", kFile);
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().code(), ErrorCode::kConfSyntax);
  EXPECT_EQ(syntax.error().domain(), ErrorDomain::kConf);
  auto conf = ConfFile::Parse("x = \"s\"", kFile);
  ASSERT_TRUE(conf);
  auto b = conf->GetBool("x");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), ErrorCode::kInternalError);
  EXPECT_EQ(b.error().domain(), ErrorDomain::kConf);
}

TEST(SecretConfSyntaxTest, ValuesAndSeparators) {
  auto conf = ConfFile::Parse(
      "# comment line\n"
      "  n = 42 # trailing comment\n"
      "s = 'single'; d = \"double\"\n"
      "t = \"\"\"multi\nline\"\"\"\n"
      "l = [ \"a\",\n  'b', 3, ]\n"
      "neg = -7\n"
      "pos = +1\n"
      "empty = []\n"
      "n = 99\n",
      kFile);
  ASSERT_TRUE(conf) << conf.error().message();
  EXPECT_EQ(conf->Find("n")->number, 42u);  // the first of duplicates wins
  EXPECT_EQ(conf->Find("s")->text, "single");
  EXPECT_EQ(conf->Find("d")->text, "double");
  EXPECT_EQ(conf->Find("t")->text, "multi\nline");
  ASSERT_EQ(conf->Find("l")->list.size(), 3u);
  EXPECT_EQ(conf->Find("l")->list[1].text, "b");
  EXPECT_EQ(conf->Find("neg")->type, ConfValue::Type::kSigned);
  EXPECT_EQ(static_cast<std::int64_t>(conf->Find("neg")->number), -7);
  EXPECT_EQ(conf->Find("pos")->type, ConfValue::Type::kUnsigned);
  EXPECT_TRUE(conf->Find("empty")->list.empty());
  EXPECT_EQ(conf->Find("missing"), nullptr);
  EXPECT_EQ(*conf->GetBool("pos"), std::optional<bool>(true));
  EXPECT_EQ(*conf->GetString("missing"), std::optional<std::string>());
}

TEST(SecretConfSyntaxTest, EmptyAndCommentOnlyFilesAreFine) {
  for (const char* text : {"", "# only a comment", "# c\n\n\n", "a = 1\n\n\n"}) {
    EXPECT_TRUE(ConfFile::Parse(text, kFile)) << text;
  }
}

TEST(SecretConfTest, Settings) {
  auto conf = ParseSecretConf("encrypt_data = 1\nsecrets_encryption_key = \"/run/k\"\n", kFile);
  ASSERT_TRUE(conf);
  EXPECT_EQ(conf->encrypt_data, std::optional<bool>(true));
  EXPECT_EQ(conf->secrets_encryption_key, std::optional<std::string>("/run/k"));
  auto off = ParseSecretConf("encrypt_data = 0\n", kFile);
  ASSERT_TRUE(off);
  EXPECT_EQ(off->encrypt_data, std::optional<bool>(false));
  EXPECT_FALSE(off->secrets_encryption_key);
  auto unset = ParseSecretConf("# encrypt_data = 1\nunknown_key = \"ignored\"\n", kFile);
  ASSERT_TRUE(unset);
  EXPECT_FALSE(unset->encrypt_data);
  EXPECT_FALSE(unset->secrets_encryption_key);
}

TEST(SecretConfTest, SettingErrors) {
  const std::string f = kFile;
  auto err = [&](const char* text) {
    auto conf = ParseSecretConf(text, f);
    return conf ? std::string("(no error)") : conf.error().message();
  };
  EXPECT_EQ(err("encrypt_data = \"yes\""),
            "internal error: " + f + ": expected a bool for 'encrypt_data' parameter");
  EXPECT_EQ(err("encrypt_data = 2"),
            "internal error: " + f + ": value for 'encrypt_data' parameter must be 0 or 1");
  EXPECT_EQ(err("secrets_encryption_key = 5"),
            "internal error: " + f + ": expected a string for 'secrets_encryption_key' parameter");
  // encrypt_data is checked first, as in libvirt.
  EXPECT_EQ(err("secrets_encryption_key = 5\nencrypt_data = 7"),
            "internal error: " + f + ": value for 'encrypt_data' parameter must be 0 or 1");
  EXPECT_EQ(err("encrypt_data 1"), "configuration file syntax error: " + f + ":1: expecting an assignment");
}

// Runs each error case through the installed libvirtd, which reports the first config error and
// exits before doing anything else. Skipped where libvirt is not installed.
TEST(SecretConfSyntaxTest, LibvirtAgrees) {
  const std::string libvirtd = "/usr/sbin/libvirtd";
  if (::access(libvirtd.c_str(), X_OK) != 0) GTEST_SKIP() << "libvirtd not installed";
  testing::TempDir tmp;
  const std::string file = tmp.path() + "/case.conf";
  for (const ErrorCase& c : kErrorCases) {
    testing::WriteFileRaw(file, c.text);
    const std::string cmd = "timeout 10 " + libvirtd + " --config " + file + " --timeout 1 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    std::array<char, 4096> buf;
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
    ::pclose(p);
    const std::string marker = "Can't load config file: ";
    const std::size_t at = out.find(marker);
    ASSERT_NE(at, std::string::npos) << c.text << "\n" << out;
    std::string line = out.substr(at + marker.size());
    line = line.substr(0, line.find('\n'));
    // libvirtd appends ": <file>" to the error it got.
    ASSERT_TRUE(line.ends_with(": " + file)) << line;
    line.resize(line.size() - file.size() - 2);
    EXPECT_EQ(line, Expand(c.message, file)) << c.text;
    EXPECT_EQ(OurMessage(c.text, file), line) << c.text;
  }
}

}  // namespace
}  // namespace vsecret
