// CONNECT_SET_IDENTITY (419), the system token file and the private-value rule: a private value
// reaches only a connection whose delegated identity carries the host's system token.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "rpc/identity.h"
#include "rpc_test_support.h"
#include "test_util.h"

namespace vsecret::rpc {
namespace {

using test::CallFrame;
using test::ErrorOf;
using test::HeaderOf;
using test::OpenRaw;
using test::PayloadOf;
using test::RawClient;
using test::TestServer;
using test::VoidCall;

constexpr char kUuid[] = "11111111-2222-3333-4444-555555555555";
constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

TypedParam Str(std::string field, std::string_view value) {
  TypedParam p;
  p.field = std::move(field);
  p.type = TypedParamType::kString;
  p.s = SecretBytes(value);
  return p;
}
TypedParam ULLong(std::string field, std::uint64_t value) {
  TypedParam p;
  p.field = std::move(field);
  p.type = TypedParamType::kULLong;
  p.u = value;
  return p;
}
TypedParam LLong(std::string field, std::int64_t value) {
  TypedParam p;
  p.field = std::move(field);
  p.type = TypedParamType::kLLong;
  p.i = value;
  return p;
}

std::string Describe(const Result<DelegatedIdentity>& r) {
  if (r) return "ok";
  return std::to_string(static_cast<int>(r.error().code())) + " " + r.error().message();
}

TEST(IdentityParamsTest, AcceptsEveryFieldLibvirtKnows) {
  std::vector<TypedParam> all;
  all.push_back(Str("user-name", "root"));
  all.push_back(ULLong("unix-user-id", 0));
  all.push_back(Str("group-name", "root"));
  all.push_back(ULLong("unix-group-id", 0));
  all.push_back(LLong("process-id", 1234));
  all.push_back(ULLong("process-time", 99));
  all.push_back(Str("sasl-user-name", "u"));
  all.push_back(Str("x509-distinguished-name", "CN=x"));
  all.push_back(Str("selinux-context", "system_u:system_r:virtd_t:s0"));
  all.push_back(Str("system.token", kToken));
  auto r = ValidateIdentityParams(all);
  ASSERT_TRUE(r) << Describe(r);
  EXPECT_TRUE(r->has_system_token);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r->system_token.data()), r->system_token.size()),
            kToken);

  auto none = ValidateIdentityParams({});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_system_token);
}

TEST(IdentityParamsTest, LibvirtErrorsForBadParameters) {
  std::vector<TypedParam> unknown;
  unknown.push_back(Str("user-name", "root"));
  unknown.push_back(Str("favourite-colour", "blue"));
  EXPECT_EQ(Describe(ValidateIdentityParams(unknown)),
            "74 argument unsupported: parameter 'favourite-colour' not supported");

  std::vector<TypedParam> wrong;
  wrong.push_back(Str("unix-user-id", "0"));
  EXPECT_EQ(Describe(ValidateIdentityParams(wrong)),
            "8 invalid argument: invalid type 'string' for parameter 'unix-user-id', expected 'ullong'");
  std::vector<TypedParam> wrong_pid;
  wrong_pid.push_back(ULLong("process-id", 1));
  EXPECT_EQ(Describe(ValidateIdentityParams(wrong_pid)),
            "8 invalid argument: invalid type 'ullong' for parameter 'process-id', expected 'llong'");

  std::vector<TypedParam> long_name;
  long_name.push_back(Str(std::string(80, 'a'), "x"));
  EXPECT_EQ(Describe(ValidateIdentityParams(long_name)),
            "1 internal error: parameter " + std::string(80, 'a') + " too big for destination");

  std::vector<TypedParam> dup;
  dup.push_back(Str("system.token", kToken));
  dup.push_back(Str("user-name", "a"));
  dup.push_back(Str("system.token", kToken));
  auto d = ValidateIdentityParams(dup);
  EXPECT_EQ(Describe(d), "8 invalid argument: parameter 'system.token' occurs multiple times");
  // Errors never quote a value.
  EXPECT_EQ(d.error().message().find(kToken), std::string::npos);
}

TEST(IdentityParamsTest, XdrRoundTripAndTooManyParameters) {
  SetIdentityArgs args;
  args.params.push_back(Str("system.token", kToken));
  args.params.push_back(LLong("process-id", -5));
  args.params.push_back(ULLong("unix-user-id", 1000));
  WireBuffer buf;
  XdrEncoder enc(buf);
  Encode(enc, args);
  auto back = DecodePayload<SetIdentityArgs>(buf);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->params.size(), 3u);
  EXPECT_EQ(back->params[0].field, "system.token");
  EXPECT_EQ(back->params[0].s.size(), 32u);
  EXPECT_EQ(back->params[1].i, -5);
  EXPECT_EQ(back->params[2].u, 1000u);

  SetIdentityArgs many;
  for (int i = 0; i < 21; ++i) many.params.push_back(ULLong("unix-user-id", 0));
  WireBuffer buf2;
  XdrEncoder enc2(buf2);
  Encode(enc2, many);
  EXPECT_FALSE(DecodePayload<SetIdentityArgs>(buf2));
}

class SystemTokenTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.path() + "/common/system.token"; }
  void Write(std::string_view content) {
    std::filesystem::create_directories(dir_.path() + "/common");
    std::ofstream(Path(), std::ios::binary) << content;
  }
  vsecret::test::TempDir dir_;
};

TEST_F(SystemTokenTest, CreatedOnceThenReused) {
  auto first = EnsureSystemToken(Path());
  ASSERT_TRUE(first) << first.error().message();
  ASSERT_EQ(first->size(), 32u);
  for (std::size_t i = 0; i < first->size(); ++i) {
    char c = static_cast<char>(first->data()[i]);
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << c;
  }
  struct stat st {};
  ASSERT_EQ(::stat(Path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  ASSERT_EQ(::stat((dir_.path() + "/common").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto second = EnsureSystemToken(Path());
  ASSERT_TRUE(second);
  EXPECT_TRUE(SystemTokenMatches(*first, *second));
}

TEST_F(SystemTokenTest, ExistingTokenIsRead) {
  Write(kToken);
  auto t = EnsureSystemToken(Path());
  ASSERT_TRUE(t);
  EXPECT_TRUE(SystemTokenMatches(*t, SecretBytes(std::string_view(kToken))));
}

TEST_F(SystemTokenTest, ConcurrentCreatorsAgree) {
  // Daemons are separate processes (fcntl locks are per process), so the creators are forked.
  std::filesystem::create_directories(dir_.path() + "/common");
  std::vector<pid_t> children;
  for (int i = 0; i < 8; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto t = EnsureSystemToken(Path());
      if (!t) ::_exit(1);
      std::ofstream(dir_.path() + "/seen." + std::to_string(i), std::ios::binary)
          << std::string(reinterpret_cast<const char*>(t->data()), t->size());
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::string first;
  for (int i = 0; i < 8; ++i) {
    std::ifstream in(dir_.path() + "/seen." + std::to_string(i), std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (i == 0) first = s;
    EXPECT_EQ(s, first);
  }
  EXPECT_EQ(first.size(), 32u);
  EXPECT_EQ(std::filesystem::file_size(Path()), 32u);
}

TEST_F(SystemTokenTest, CorruptFilesAreRefused) {
  for (std::string_view bad : {std::string_view("0123456789abcdef0123456789abcde"),
                               std::string_view("0123456789abcdef0123456789abcdef0"),
                               std::string_view("0123456789abcdef0123456789abcdef\n"),
                               std::string_view("0123456789ABCDEF0123456789abcdef"),
                               std::string_view("0123456789abcdef0123456789abcdeg")}) {
    std::filesystem::remove(Path());
    Write(bad);
    auto t = EnsureSystemToken(Path());
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().message(), "internal error: System token in " + Path() + " was corrupt");
  }
}

TEST(SystemTokenCompareTest, OnlyEqualTokensMatch) {
  SecretBytes host{std::string_view(kToken)};
  EXPECT_TRUE(SystemTokenMatches(host, SecretBytes(std::string_view(kToken))));
  EXPECT_FALSE(SystemTokenMatches(host, SecretBytes(std::string_view("0123456789abcdef0123456789abcdee"))));
  EXPECT_FALSE(SystemTokenMatches(host, SecretBytes(std::string_view("0123456789abcdef"))));
  EXPECT_FALSE(SystemTokenMatches(host, SecretBytes()));
}

// The session: identity replacement and the private-value rule, over real frames.
class IdentitySessionTest : public ::testing::Test {
 protected:
  static ServerOptions WithToken() {
    ServerOptions o;
    o.system_token = std::make_shared<const SecretBytes>(std::string_view(kToken));
    return o;
  }
  void SetUp() override {
    server_.Start();
    ASSERT_TRUE(
        server_.driver().DefineXml(Caller{},
                                   std::string("<secret private='yes'><uuid>") + kUuid +
                                       "</uuid><usage type='volume'><volume>/v</volume></usage></secret>",
                                   0));
    ASSERT_TRUE(
        server_.driver().SetValue(Caller{}, *Uuid::Parse(kUuid), SecretBytes(std::string_view("pw")), 0));
  }
  std::string Reply(RawClient& c) {
    auto f = c.ReadFrame();
    if (!f) return "<no reply>";
    if (HeaderOf(*f).status != MessageStatus::kError) return "<ok>";
    Error e = ErrorOf(*f);
    return std::to_string(static_cast<int>(e.code())) + "/" + std::to_string(static_cast<int>(e.domain())) +
           " " + e.message();
  }
  std::string GetValue(RawClient& c, std::uint32_t serial) {
    SecretRef handle{*Uuid::Parse(kUuid), UsageType::kVolume, "/v"};
    c.Send(CallFrame(Proc::kSecretGetValue, serial, SecretFlagsArgs{handle, 0}));
    auto f = c.ReadFrame();
    if (!f) return "<no reply>";
    if (HeaderOf(*f).status == MessageStatus::kError) {
      Error e = ErrorOf(*f);
      return std::to_string(static_cast<int>(e.code())) + " " + e.message();
    }
    auto v = DecodePayload<GetValueRet>(PayloadOf(*f));
    return "value " + std::string(reinterpret_cast<const char*>(v->value.data()), v->value.size());
  }
  void SetIdentity(RawClient& c, std::uint32_t serial, std::vector<TypedParam> params) {
    SetIdentityArgs args;
    args.params = std::move(params);
    c.Send(CallFrame(Proc::kConnectSetIdentity, serial, args));
  }
  TestServer server_{WithToken()};
};

TEST_F(IdentitySessionTest, OnlyTheHostTokenUnlocksPrivateValues) {
  RawClient c(server_.rw_path());
  SetIdentity(c, 1, {});
  EXPECT_EQ(Reply(c), "1/7 internal error: hypervisor connection not open");
  OpenRaw(c);
  EXPECT_EQ(GetValue(c, 2), "65 Invalid secret: secret is private");

  std::vector<TypedParam> root_no_token;
  root_no_token.push_back(Str("user-name", "root"));
  root_no_token.push_back(ULLong("unix-user-id", 0));
  SetIdentity(c, 3, std::move(root_no_token));
  EXPECT_EQ(Reply(c), "<ok>");
  EXPECT_EQ(GetValue(c, 4), "65 Invalid secret: secret is private");  // uid 0 does not count

  std::vector<TypedParam> wrong;
  wrong.push_back(Str("system.token", "fedcba9876543210fedcba9876543210"));
  SetIdentity(c, 5, std::move(wrong));
  EXPECT_EQ(Reply(c), "<ok>");  // a wrong token is not an error here, only at get-value
  EXPECT_EQ(GetValue(c, 6), "65 Invalid secret: secret is private");

  std::vector<TypedParam> good;
  good.push_back(Str("user-name", "alice"));
  good.push_back(Str("system.token", kToken));
  good.push_back(LLong("process-id", 42));
  SetIdentity(c, 7, std::move(good));
  EXPECT_EQ(Reply(c), "<ok>");
  EXPECT_EQ(GetValue(c, 8), "value pw");

  // A new identity replaces the old one: without the token the elevation is gone.
  std::vector<TypedParam> again;
  again.push_back(Str("user-name", "alice"));
  SetIdentity(c, 9, std::move(again));
  EXPECT_EQ(Reply(c), "<ok>");
  EXPECT_EQ(GetValue(c, 10), "65 Invalid secret: secret is private");

  // A rejected identity leaves the connection as it was.
  std::vector<TypedParam> good2;
  good2.push_back(Str("system.token", kToken));
  SetIdentity(c, 11, std::move(good2));
  EXPECT_EQ(Reply(c), "<ok>");
  std::vector<TypedParam> bad;
  bad.push_back(Str("nope", "x"));
  SetIdentity(c, 12, std::move(bad));
  EXPECT_EQ(Reply(c), "74/0 argument unsupported: parameter 'nope' not supported");
  EXPECT_EQ(GetValue(c, 13), "value pw");
}

TEST_F(IdentitySessionTest, ReadOnlyConnectionsNeverGetValues) {
  for (int variant = 0; variant < 2; ++variant) {
    RawClient c(variant == 0 ? server_.ro_path() : server_.rw_path());
    OpenRaw(c, variant == 0 ? 0 : kConnectReadOnly);
    std::vector<TypedParam> good;
    good.push_back(Str("system.token", kToken));
    SetIdentity(c, 2, std::move(good));
    EXPECT_EQ(Reply(c), "<ok>");  // accepted on read-only connections, as libvirt 12.8 does
    EXPECT_EQ(GetValue(c, 3), "29 operation forbidden: read only access prevents virSecretGetValue");
  }
}

TEST_F(IdentitySessionTest, UndecodablePayloadIsRefused) {
  RawClient c(server_.rw_path());
  OpenRaw(c);
  c.Send(VoidCall(Proc::kConnectSetIdentity, 2));
  EXPECT_EQ(Reply(c), "39/7 Unable to decode message payload");
}

TEST(IdentityWithoutTokenTest, NoHostTokenMeansNoElevation) {
  TestServer server;  // no system token configured
  server.Start();
  ASSERT_TRUE(
      server.driver().DefineXml(Caller{},
                                std::string("<secret private='yes'><uuid>") + kUuid +
                                    "</uuid><usage type='volume'><volume>/v</volume></usage></secret>",
                                0));
  ASSERT_TRUE(
      server.driver().SetValue(Caller{}, *Uuid::Parse(kUuid), SecretBytes(std::string_view("pw")), 0));
  RawClient c(server.rw_path());
  OpenRaw(c);
  SetIdentityArgs args;
  args.params.push_back(Str("system.token", ""));
  c.Send(CallFrame(Proc::kConnectSetIdentity, 2, args));
  ASSERT_TRUE(c.ReadFrame());
  SecretRef handle{*Uuid::Parse(kUuid), UsageType::kVolume, "/v"};
  c.Send(CallFrame(Proc::kSecretGetValue, 3, SecretFlagsArgs{handle, 0}));
  auto f = c.ReadFrame();
  ASSERT_TRUE(f);
  EXPECT_EQ(ErrorOf(*f).message(), "Invalid secret: secret is private");
}

}  // namespace
}  // namespace vsecret::rpc
