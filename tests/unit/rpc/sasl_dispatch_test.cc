// RemoteSession on a listener that asks for SASL, driven by a real Cyrus client session
// (sasl_test_support.h): AUTH_LIST offers SASL, every other call is refused with libvirt's
// "authentication required" until the handshake completes, failures answer libvirt's
// "authentication failed", the allow list and the SSF floor apply, repeated failures close the
// connection, and a layer is handed over only where one was negotiated.
#include <gtest/gtest.h>

#include <string>

#include "driver/secret_driver.h"
#include "rpc/remote_dispatcher.h"
#include "rpc/remote_messages.h"
#include "rpc/sasl_session.h"
#include "sasl_test_support.h"

namespace vsecret::rpc {
namespace {

class SaslDispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::SaslTestEnv().ok);
    auto driver = SecretDriver::Open(StorePaths::ForRoot(dir_.path()));
    ASSERT_TRUE(driver);
    driver_ = std::move(*driver);
  }

  std::unique_ptr<RemoteSession> Session(bool secure,
                                         std::optional<std::vector<std::string>> allowed = std::nullopt) {
    SessionPolicy policy;
    SaslPolicy sasl;
    sasl.endpoint.fqdn = "localhost";
    sasl.security.secure_transport = secure;
    sasl.allowed_usernames = std::move(allowed);
    sasl.max_failures = 3;
    policy.sasl = std::move(sasl);
    return std::make_unique<RemoteSession>(*driver_, std::move(policy), std::weak_ptr<FrameSink>());
  }

  template <typename T>
  WireBuffer Call(RemoteSession& s, Proc proc, const T& args) {
    WireBuffer payload;
    XdrEncoder enc(payload);
    Encode(enc, args);
    Header h;
    h.proc = static_cast<std::int32_t>(proc);
    h.serial = serial_++;
    return s.HandleCall(h, payload);
  }
  WireBuffer CallVoid(RemoteSession& s, Proc proc) {
    Header h;
    h.proc = static_cast<std::int32_t>(proc);
    h.serial = serial_++;
    return s.HandleCall(h, {});
  }
  static std::span<const std::uint8_t> Payload(const WireBuffer& f) {
    return std::span<const std::uint8_t>(f).subspan(kMinFrame);
  }
  static std::string ErrorText(const WireBuffer& f) {
    auto h = DecodeHeader(std::span<const std::uint8_t>(f).subspan(4));
    if (!h || h->status != MessageStatus::kError) return "<ok>";
    auto e = DecodePayload<RemoteError>(Payload(f));
    return std::to_string(e->code) + "/" + std::to_string(e->domain) + " " + e->message.value_or("");
  }

  // INIT, START, STEPs with a Cyrus client; the text of the first error, or "<ok>".
  std::string Authenticate(RemoteSession& s, const std::string& user, const std::string& password,
                           const std::string& mech, bool secure) {
    SaslSecurity sec;
    sec.secure_transport = secure;
    SaslEndpoint ep;
    ep.fqdn = "localhost";
    SaslCredentials creds;
    creds.username = [user]() -> Result<std::string> { return user; };
    creds.password = [password]() -> Result<SecretBytes> { return SecretBytes(std::string_view(password)); };
    auto client = SaslClientSession::Create(ep, sec, std::move(creds));
    if (!client) return "client: " + client.error().message();
    WireBuffer init = CallVoid(s, Proc::kAuthSaslInit);
    if (ErrorText(init) != "<ok>") return ErrorText(init);
    auto start = (*client)->Start(mech);
    if (!start) return "client: " + start.error().message();
    WireBuffer reply =
        Call(s, Proc::kAuthSaslStart, SaslStartArgs{start->mech, std::move(start->step.token)});
    for (int i = 0; i < 10; ++i) {
      if (ErrorText(reply) != "<ok>") return ErrorText(reply);
      auto ret = DecodePayload<SaslStepRet>(Payload(reply));
      if (!ret) return "bad reply";
      if (ret->complete) return "<ok>";
      auto next = (*client)->Step(ret->token);
      if (!next) return "client: " + next.error().message();
      reply = Call(s, Proc::kAuthSaslStep, SaslStepArgs{std::move(next->token)});
    }
    return "did not finish";
  }

  OpenArgs Open() { return OpenArgs{std::string("secret:///system"), 0}; }

  test::TempDir dir_;
  std::unique_ptr<SecretDriver> driver_;
  std::uint32_t serial_ = 0;
};

constexpr char kRequired[] = "39/7 authentication required";
constexpr char kFailed[] = "45/7 authentication failed: authentication failed";

TEST_F(SaslDispatchTest, AuthListOffersSaslAndOtherCallsWaitForIt) {
  auto s = Session(false);
  WireBuffer list = CallVoid(*s, Proc::kAuthList);
  auto types = DecodePayload<AuthListRet>(Payload(list));
  ASSERT_TRUE(types);
  EXPECT_EQ(types->types, std::vector<std::int32_t>{kAuthTypeSasl});
  EXPECT_EQ(ErrorText(Call(*s, Proc::kConnectOpen, Open())), kRequired);
  EXPECT_EQ(ErrorText(Call(*s, Proc::kConnectSupportsFeature, IntValue{10})), kRequired);
  EXPECT_EQ(ErrorText(CallVoid(*s, Proc::kConnectClose)), kRequired);
  EXPECT_FALSE(s->close_requested());
  // A table-served procedure is refused the same way, before its arguments are looked at.
  EXPECT_EQ(ErrorText(CallVoid(*s, Proc::kConnectGetVersion)), kRequired);
  EXPECT_TRUE(s->auth_pending());

  EXPECT_EQ(Authenticate(*s, test::kSaslUser, test::kSaslPassword, "DIGEST-MD5", false), "<ok>");
  EXPECT_FALSE(s->auth_pending());
  EXPECT_EQ(s->sasl_user_name(), std::optional<std::string>(test::kSaslUser));
  EXPECT_EQ(ErrorText(Call(*s, Proc::kConnectOpen, Open())), "<ok>");
  EXPECT_NE(s->TakeSecurityLayer(), nullptr);  // DIGEST-MD5 on TCP: the stream gets wrapped
  EXPECT_EQ(s->TakeSecurityLayer(), nullptr);
  // A second INIT after success is refused.
  EXPECT_EQ(ErrorText(CallVoid(*s, Proc::kAuthSaslInit)), kFailed);
}

TEST_F(SaslDispatchTest, StartWithoutInitAndWrongPasswordFailLikeLibvirtd) {
  auto s = Session(false);
  SaslStartArgs start{"DIGEST-MD5", SaslToken{}};
  EXPECT_EQ(ErrorText(Call(*s, Proc::kAuthSaslStart, start)), kFailed);
  EXPECT_EQ(ErrorText(Call(*s, Proc::kAuthSaslStep, SaslStepArgs{})), kFailed);
  EXPECT_FALSE(s->close_requested());
  EXPECT_EQ(Authenticate(*s, test::kSaslUser, "wrong-password", "DIGEST-MD5", false), kFailed);
  // The third failure (max_failures 3) ends the connection after its reply.
  EXPECT_TRUE(s->close_requested());
  EXPECT_EQ(ErrorText(Call(*s, Proc::kConnectOpen, Open())), kRequired);
}

TEST_F(SaslDispatchTest, AllowList) {
  auto nobody = Session(false, std::vector<std::string>{});
  EXPECT_EQ(Authenticate(*nobody, test::kSaslUser, test::kSaslPassword, "DIGEST-MD5", false), kFailed);
  EXPECT_TRUE(nobody->auth_pending());
  auto bob_only = Session(false, std::vector<std::string>{"b?b", "carol*"});
  EXPECT_EQ(Authenticate(*bob_only, test::kSaslUser, test::kSaslPassword, "DIGEST-MD5", false), kFailed);
  EXPECT_EQ(Authenticate(*bob_only, test::kSaslOtherUser, test::kSaslOtherPassword, "DIGEST-MD5", false),
            "<ok>");
  EXPECT_TRUE(SaslUserNameAllowed(std::nullopt, "anyone"));
  EXPECT_FALSE(SaslUserNameAllowed(std::vector<std::string>{}, "anyone"));
  EXPECT_TRUE(SaslUserNameAllowed(std::vector<std::string>{"*@EXAMPLE.COM"}, "fred@EXAMPLE.COM"));
  EXPECT_FALSE(SaslUserNameAllowed(std::vector<std::string>{"*@EXAMPLE.COM"}, "fred@EXAMPLE.ORG"));
}

TEST_F(SaslDispatchTest, ScramIsRefusedOnTcpAndAcceptedOnASecureTransportWithoutLayer) {
  auto tcp = Session(false);
  EXPECT_EQ(Authenticate(*tcp, test::kSaslUser, test::kSaslPassword, "SCRAM-SHA-256", true), kFailed);
  auto unix_socket = Session(true);
  EXPECT_EQ(Authenticate(*unix_socket, test::kSaslUser, test::kSaslPassword, "SCRAM-SHA-256", true), "<ok>");
  EXPECT_EQ(unix_socket->TakeSecurityLayer(), nullptr);  // UNIX and TLS are secure: no layer
  EXPECT_EQ(ErrorText(Call(*unix_socket, Proc::kConnectOpen, Open())), "<ok>");
}

TEST_F(SaslDispatchTest, OversizeTokenIsADecodeError) {
  auto s = Session(false);
  ASSERT_EQ(ErrorText(CallVoid(*s, Proc::kAuthSaslInit)), "<ok>");
  WireBuffer payload;
  XdrEncoder enc(payload);
  enc.I32(0);
  enc.U32(kSaslDataMax + 1);
  for (std::size_t i = 0; i <= kSaslDataMax; ++i) enc.I32(0x41);
  Header h;
  h.proc = static_cast<std::int32_t>(Proc::kAuthSaslStep);
  EXPECT_EQ(ErrorText(s->HandleCall(h, payload)), "39/7 Unable to decode message payload");
  EXPECT_TRUE(s->auth_pending());
}

}  // namespace
}  // namespace vsecret::rpc
