// conf/virconf: libvirt's virConf syntax and its typed getters, shared by secret.conf and
// vsecretd.conf (issue 12). The error cases are checked against libvirt itself
// when it is installed: libvirtd reads its --config with the same parser and getters and prints
// the error it hits.
#include "conf/virconf.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

#include "libvirtd_conf_support.h"
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
// getter cases use keys libvirtd reads with the getter named: listen_tls (bool),
// tls_allowed_dn_list (string list, no lone string), max_clients (unsigned int), host_uuid
// (string), keepalive_interval (int).
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
    {"l = [ \"a\", # no\n \"b\" ]\n", "configuration file syntax error: {F}:1: expecting a value"},
    {"listen_tls = \"1\"\n", "internal error: {F}: expected a bool for 'listen_tls' parameter"},
    {"listen_tls = 2\n", "internal error: {F}: value for 'listen_tls' parameter must be 0 or 1"},
    {"listen_tls = -1\n", "internal error: {F}: expected a bool for 'listen_tls' parameter"},
    {"listen_tls = -0\n", "internal error: {F}: expected a bool for 'listen_tls' parameter"},
    {"listen_tls = [1]\n", "internal error: {F}: expected a bool for 'listen_tls' parameter"},
    {"host_uuid = 1\n", "internal error: {F}: expected a string for 'host_uuid' parameter"},
    {"host_uuid = [\"a\"]\n", "internal error: {F}: expected a string for 'host_uuid' parameter"},
    {"tls_allowed_dn_list = \"CN=a\"\n",
     "internal error: {F}: expected a string list for 'tls_allowed_dn_list' parameter"},
    {"tls_allowed_dn_list = 1\n",
     "internal error: {F}: expected a string list for 'tls_allowed_dn_list' parameter"},
    {"tls_allowed_dn_list = [\"a\", 1]\n",
     "configuration file syntax error: {F}: expected a string list for 'tls_allowed_dn_list' parameter"},
    {"tls_allowed_dn_list = [[\"a\"]]\n",
     "configuration file syntax error: {F}: expected a string list for 'tls_allowed_dn_list' parameter"},
    {"max_clients = -1\n", "internal error: {F}: expected an unsigned integer for 'max_clients' parameter"},
    {"max_clients = -0\n", "internal error: {F}: expected an unsigned integer for 'max_clients' parameter"},
    {"max_clients = \"5\"\n",
     "internal error: {F}: expected an unsigned integer for 'max_clients' parameter"},
    {"max_clients = 4294967296\n",
     "internal error: {F}: value for 'max_clients' parameter must be in range 0:4294967295"},
    {"keepalive_interval = \"5\"\n",
     "internal error: {F}: expected a signed integer for 'keepalive_interval' parameter"},
    {"keepalive_interval = []\n",
     "internal error: {F}: expected a signed integer for 'keepalive_interval' parameter"},
    {"keepalive_interval = 2147483648\n",
     "internal error: {F}: value for 'keepalive_interval' parameter must be in range -2147483648:2147483647"},
    {"keepalive_interval = -2147483649\n",
     "internal error: {F}: value for 'keepalive_interval' parameter must be in range -2147483648:2147483647"},
    // 2^64 - 2^31 - 1 wraps to -2^31 - 1 in libvirt's long long.
    {"keepalive_interval = 18446744071562067967\n",
     "internal error: {F}: value for 'keepalive_interval' parameter must be in range -2147483648:2147483647"},
    // Duplicates: the first wins, so the bad first value is reported (the reverse order is
    // accepted by libvirtd; see DuplicatesFirstWins).
    {"listen_tls = 2\nlisten_tls = 0\n",
     "internal error: {F}: value for 'listen_tls' parameter must be 0 or 1"},
    {"max_clients = \"x\"\nmax_clients = 5\n",
     "internal error: {F}: expected an unsigned integer for 'max_clients' parameter"},
};

std::string Expand(const char* message, const std::string& file) {
  std::string out = message;
  out.replace(out.find("{F}"), 3, file);
  return out;
}

// Parse, then the getters libvirtd would run for these keys, in its order.
std::string OurMessage(const std::string& text, const std::string& file) {
  auto conf = VirConf::Parse(text, file);
  if (!conf) return conf.error().message();
  if (auto b = conf->GetBool("listen_tls"); !b) return b.error().message();
  if (auto l = conf->GetStringList("tls_allowed_dn_list", VirConf::StringList::kListOnly); !l) {
    return l.error().message();
  }
  if (auto u = conf->GetUInt("max_clients"); !u) return u.error().message();
  if (auto s = conf->GetString("host_uuid"); !s) return s.error().message();
  if (auto i = conf->GetInt("keepalive_interval"); !i) return i.error().message();
  return "(no error)";
}

TEST(VirConfTest, ErrorMessagesAndLines) {
  for (const ErrorCase& c : kErrorCases) {
    EXPECT_EQ(OurMessage(c.text, kFile), Expand(c.message, kFile)) << c.text;
  }
}

TEST(VirConfTest, ErrorCodesAndDomains) {
  auto syntax = VirConf::Parse("a 1", kFile);
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().code(), ErrorCode::kConfSyntax);
  EXPECT_EQ(syntax.error().domain(), ErrorDomain::kConf);
  auto conf = VirConf::Parse("x = \"s\"", kFile);
  ASSERT_TRUE(conf);
  auto b = conf->GetBool("x");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), ErrorCode::kInternalError);
  EXPECT_EQ(b.error().domain(), ErrorDomain::kConf);
}

TEST(VirConfTest, ValuesAndSeparators) {
  auto conf = VirConf::Parse(
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
  EXPECT_EQ(conf->Find("neg")->type, VirConf::Value::Type::kSigned);
  EXPECT_EQ(static_cast<std::int64_t>(conf->Find("neg")->number), -7);
  EXPECT_EQ(conf->Find("pos")->type, VirConf::Value::Type::kUnsigned);
  EXPECT_TRUE(conf->Find("empty")->list.empty());
  EXPECT_EQ(conf->Find("missing"), nullptr);
  EXPECT_EQ(*conf->GetBool("pos"), std::optional<bool>(true));
  EXPECT_EQ(*conf->GetString("missing"), std::optional<std::string>());
}

TEST(VirConfTest, EmptyAndCommentOnlyFilesAreFine) {
  for (const char* text : {"", "# only a comment", "# c\n\n\n", "a = 1\n\n\n"}) {
    EXPECT_TRUE(VirConf::Parse(text, kFile)) << text;
  }
}

// The getters on a file holding one value of each type.
class VirConfGetterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed = VirConf::Parse(
        "zero = 0\none = 1\ntwo = 2\nminus = -3\nminus_zero = -0\nbig = 4294967295\nhuge = "
        "18446744073709551615\n"
        "str = \"text\"\nempty_str = ''\nlist = [\"a\", 'b']\nempty_list = []\nmixed = [\"a\", 1]\n",
        kFile);
    ASSERT_TRUE(parsed) << parsed.error().message();
    conf_ = std::move(*parsed);
  }
  // The message of a getter's error, or "(no error)".
  template <typename T>
  static std::string Message(const Result<T>& r) {
    return r ? std::string("(no error)") : r.error().message();
  }
  static std::string Internal(const std::string& detail) {
    return "internal error: " + std::string(kFile) + ": " + detail;
  }

  VirConf conf_;
};

TEST_F(VirConfGetterTest, AbsentKeysAreNullopt) {
  EXPECT_EQ(*conf_.GetBool("nope"), std::nullopt);
  EXPECT_EQ(*conf_.GetString("nope"), std::nullopt);
  EXPECT_EQ(*conf_.GetInt("nope", 1, 2), std::nullopt);
  EXPECT_EQ(*conf_.GetUInt("nope", 1, 2), std::nullopt);
  EXPECT_EQ(*conf_.GetStringList("nope", VirConf::StringList::kListOrString), std::nullopt);
}

TEST_F(VirConfGetterTest, Bool) {
  EXPECT_EQ(*conf_.GetBool("zero"), std::optional<bool>(false));
  EXPECT_EQ(*conf_.GetBool("one"), std::optional<bool>(true));
  EXPECT_EQ(Message(conf_.GetBool("two")), Internal("value for 'two' parameter must be 0 or 1"));
  EXPECT_EQ(Message(conf_.GetBool("minus_zero")), Internal("expected a bool for 'minus_zero' parameter"));
  EXPECT_EQ(Message(conf_.GetBool("str")), Internal("expected a bool for 'str' parameter"));
}

TEST_F(VirConfGetterTest, String) {
  EXPECT_EQ(*conf_.GetString("str"), std::optional<std::string>("text"));
  EXPECT_EQ(*conf_.GetString("empty_str"), std::optional<std::string>(""));
  EXPECT_EQ(Message(conf_.GetString("one")), Internal("expected a string for 'one' parameter"));
  EXPECT_EQ(Message(conf_.GetString("list")), Internal("expected a string for 'list' parameter"));
}

TEST_F(VirConfGetterTest, IntWithRange) {
  EXPECT_EQ(*conf_.GetInt("minus"), std::optional<int>(-3));
  EXPECT_EQ(*conf_.GetInt("minus_zero"), std::optional<int>(0));
  EXPECT_EQ(*conf_.GetInt("two", 2, 2), std::optional<int>(2));
  EXPECT_EQ(*conf_.GetInt("huge"), std::optional<int>(-1));  // wraps, as libvirt's long long
  EXPECT_EQ(Message(conf_.GetInt("big")), Internal("value for 'big' parameter must be in range " +
                                                   std::to_string(INT_MIN) + ":" + std::to_string(INT_MAX)));
  // Outside int's range libvirt's own message wins over the key's narrower range.
  EXPECT_EQ(Message(conf_.GetInt("big", -1, 10)),
            Internal("value for 'big' parameter must be in range " + std::to_string(INT_MIN) + ":" +
                     std::to_string(INT_MAX)));
  EXPECT_EQ(Message(conf_.GetInt("minus", -1, 86400)),
            Internal("value for 'minus' parameter must be in range -1:86400"));
  EXPECT_EQ(Message(conf_.GetInt("two", 0, 1)), Internal("value for 'two' parameter must be in range 0:1"));
  EXPECT_EQ(Message(conf_.GetInt("str")), Internal("expected a signed integer for 'str' parameter"));
  EXPECT_EQ(Message(conf_.GetInt("list")), Internal("expected a signed integer for 'list' parameter"));
}

TEST_F(VirConfGetterTest, UIntWithRange) {
  EXPECT_EQ(*conf_.GetUInt("zero"), std::optional<unsigned>(0));
  EXPECT_EQ(*conf_.GetUInt("big"), std::optional<unsigned>(UINT_MAX));
  EXPECT_EQ(*conf_.GetUInt("two", 1, 1000), std::optional<unsigned>(2));
  EXPECT_EQ(Message(conf_.GetUInt("huge")),
            Internal("value for 'huge' parameter must be in range 0:4294967295"));
  EXPECT_EQ(Message(conf_.GetUInt("huge", 1, 1000)),
            Internal("value for 'huge' parameter must be in range 0:4294967295"));
  EXPECT_EQ(Message(conf_.GetUInt("zero", 1, 1000)),
            Internal("value for 'zero' parameter must be in range 1:1000"));
  EXPECT_EQ(Message(conf_.GetUInt("minus")), Internal("expected an unsigned integer for 'minus' parameter"));
  EXPECT_EQ(Message(conf_.GetUInt("minus_zero")),
            Internal("expected an unsigned integer for 'minus_zero' parameter"));
  EXPECT_EQ(Message(conf_.GetUInt("str")), Internal("expected an unsigned integer for 'str' parameter"));
}

TEST_F(VirConfGetterTest, StringList) {
  using Form = VirConf::StringList;
  using List = std::vector<std::string>;
  for (Form form : {Form::kListOnly, Form::kListOrString}) {
    EXPECT_EQ(*conf_.GetStringList("list", form), std::optional<List>(List{"a", "b"}));
    EXPECT_EQ(*conf_.GetStringList("empty_list", form), std::optional<List>(List{}));
  }
  EXPECT_EQ(*conf_.GetStringList("str", Form::kListOrString), std::optional<List>(List{"text"}));
  EXPECT_EQ(Message(conf_.GetStringList("str", Form::kListOnly)),
            Internal("expected a string list for 'str' parameter"));
  EXPECT_EQ(Message(conf_.GetStringList("one", Form::kListOnly)),
            Internal("expected a string list for 'one' parameter"));
  EXPECT_EQ(Message(conf_.GetStringList("one", Form::kListOrString)),
            Internal("expected a string or string list for 'one' parameter"));
  // A bad item is a syntax error in libvirt, with no line number.
  for (Form form : {Form::kListOnly, Form::kListOrString}) {
    auto mixed = conf_.GetStringList("mixed", form);
    ASSERT_FALSE(mixed);
    EXPECT_EQ(mixed.error().message(), "configuration file syntax error: " + std::string(kFile) +
                                           ": expected a string list for 'mixed' parameter");
    EXPECT_EQ(mixed.error().code(), ErrorCode::kConfSyntax);
    EXPECT_EQ(mixed.error().domain(), ErrorDomain::kConf);
  }
}

TEST_F(VirConfGetterTest, GetterErrorsAreInternalErrorsOfTheConfDomain) {
  for (const Error& e :
       {conf_.GetInt("str").error(), conf_.GetUInt("minus").error(), conf_.GetUInt("zero", 1, 2).error(),
        conf_.GetString("one").error(), conf_.GetStringList("one", VirConf::StringList::kListOnly).error()}) {
    EXPECT_EQ(e.code(), ErrorCode::kInternalError) << e.message();
    EXPECT_EQ(e.domain(), ErrorDomain::kConf) << e.message();
  }
}

// libvirt's virConfAddEntry appends every statement and virConfGetValue returns the first match,
// so the first of duplicated names wins, for every getter (libvirtd 9.0 accepts
// "listen_tls = 0\nlisten_tls = 2" and refuses the reverse; kErrorCases holds the latter).
TEST(VirConfTest, DuplicatesFirstWins) {
  auto conf = VirConf::Parse(
      "b = 0\nb = 1\ns = \"first\"\ns = \"second\"\ni = -1\ni = 1\nu = 7\nu = \"x\"\n"
      "l = [\"a\"]\nl = 3\nflag = 1; flag = 2\n",
      kFile);
  ASSERT_TRUE(conf) << conf.error().message();
  EXPECT_EQ(*conf->GetBool("b"), std::optional<bool>(false));
  EXPECT_EQ(*conf->GetString("s"), std::optional<std::string>("first"));
  EXPECT_EQ(*conf->GetInt("i"), std::optional<int>(-1));
  EXPECT_EQ(*conf->GetUInt("u"), std::optional<unsigned>(7));
  EXPECT_EQ(*conf->GetStringList("l", VirConf::StringList::kListOnly),
            std::optional<std::vector<std::string>>(std::vector<std::string>{"a"}));
  EXPECT_EQ(*conf->GetBool("flag"), std::optional<bool>(true));
  // A later duplicate is still parsed: a syntax error in it fails the file.
  EXPECT_FALSE(VirConf::Parse("a = 1\na = \"open\n", kFile));
}

// libvirt's SKIP_BLANKS_AND_EOL, used between list items, does not skip comments.
TEST(VirConfTest, NoCommentsInsideLists) {
  auto conf = VirConf::Parse("l = [ \"a\", # no\n \"b\" ]\n", kFile);
  ASSERT_FALSE(conf);
  EXPECT_EQ(conf.error().message(),
            "configuration file syntax error: " + std::string(kFile) + ":1: expecting a value");
  EXPECT_TRUE(VirConf::Parse("l = [ \"a\",\n \"b\" ] # fine\n", kFile));
}

// Runs each error case through the installed libvirtd, which reports the first config error and
// exits before doing anything else. Skipped where libvirt is not installed.
TEST(VirConfTest, LibvirtAgrees) {
  if (!test::HaveLibvirtd()) GTEST_SKIP() << "libvirtd not installed";
  test::TempDir tmp;
  const std::string file = tmp.path() + "/case.conf";
  for (const ErrorCase& c : kErrorCases) {
    auto libvirt = test::LibvirtdConfigError(file, c.text);
    ASSERT_TRUE(libvirt) << c.text;
    EXPECT_EQ(*libvirt, Expand(c.message, file)) << c.text;
    EXPECT_EQ(OurMessage(c.text, file), *libvirt) << c.text;
  }
}

}  // namespace
}  // namespace vsecret
