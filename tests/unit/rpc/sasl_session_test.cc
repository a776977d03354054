// Real in-process SASL handshakes between SaslServerSession and SaslClientSession through
// Cyrus, with a sasldb made by saslpasswd2 (sasl_test_support.h): DIGEST-MD5 with its security
// layer (so Encode/Decode are exercised), SCRAM-SHA-256 on a secure transport, wrong
// passwords, and the SSF floor on plain TCP.
#include "rpc/sasl_session.h"

#include <gtest/gtest.h>

#include <string>

#include "sasl_test_support.h"

namespace vsecret::rpc {
namespace {

struct Pair {
  std::unique_ptr<SaslServerSession> server;
  std::unique_ptr<SaslClientSession> client;
};

SaslEndpoint Endpoint() {
  SaslEndpoint e;
  e.fqdn = "localhost";
  e.local_addr = "127.0.0.1;16509";
  e.remote_addr = "127.0.0.1;40000";
  return e;
}

Pair MakePair(const SaslSecurity& security, std::string user, std::string password) {
  EXPECT_TRUE(test::SaslTestEnv().ok);
  Pair p;
  auto server = SaslServerSession::Create(Endpoint(), security);
  EXPECT_TRUE(server) << server.error().message();
  SaslEndpoint ce = Endpoint();
  std::swap(ce.local_addr, ce.remote_addr);
  SaslCredentials creds;
  creds.username = [user]() -> Result<std::string> { return user; };
  creds.password = [password]() -> Result<SecretBytes> { return SecretBytes(std::string_view(password)); };
  auto client = SaslClientSession::Create(ce, security, std::move(creds));
  EXPECT_TRUE(client) << client.error().message();
  if (server) p.server = std::move(*server);
  if (client) p.client = std::move(*client);
  return p;
}

// Runs the exchange the way the RPC does (START, then STEPs); returns the server's error or ok.
Result<void> Handshake(Pair& p, const std::string& offered, std::string* mech_used = nullptr) {
  auto start = p.client->Start(offered);
  if (!start) return std::unexpected(start.error());
  if (mech_used) *mech_used = start->mech;
  auto reply = p.server->Start(start->mech, start->step.token);
  for (int round = 0; round < 10; ++round) {
    if (!reply) return std::unexpected(reply.error());
    if (reply->complete) {
      // The client consumes the server's last data (success data, DIGEST-MD5's rspauth).
      if (!reply->token.nil) {
        auto last = p.client->Step(reply->token);
        if (!last) return std::unexpected(last.error());
      }
      return {};
    }
    auto next = p.client->Step(reply->token);
    if (!next) return std::unexpected(next.error());
    reply = p.server->Step(next->token);
  }
  return Fail(ErrorCode::kInternalError, ErrorDomain::kRpc, "handshake did not finish");
}

TEST(SaslSessionTest, DigestMd5OnTcpNegotiatesALayerAndWrapsBothWays) {
  SaslSecurity tcp;  // plain TCP: min SSF 56
  Pair p = MakePair(tcp, test::kSaslUser, test::kSaslPassword);
  ASSERT_TRUE(p.server && p.client);
  auto mechs = p.server->ListMechanisms();
  ASSERT_TRUE(mechs) << mechs.error().message();
  // Mechanisms without a security layer are not offered under min SSF 56.
  EXPECT_NE(mechs->find("DIGEST-MD5"), std::string::npos) << *mechs;
  EXPECT_EQ(mechs->find("SCRAM"), std::string::npos) << *mechs;
  EXPECT_EQ(mechs->find("PLAIN"), std::string::npos) << *mechs;
  std::string mech;
  auto done = Handshake(p, *mechs, &mech);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(mech, "DIGEST-MD5");
  auto user = p.server->UserName();
  ASSERT_TRUE(user);
  EXPECT_EQ(*user, test::kSaslUser);
  auto ssf = p.server->Ssf();
  ASSERT_TRUE(ssf);
  EXPECT_GE(*ssf, 56u);
  auto cssf = p.client->Ssf();
  ASSERT_TRUE(cssf);
  EXPECT_EQ(*cssf, *ssf);

  // A large stream (several maxoutbuf chunks), delivered to the decoder in odd slices that cut
  // through the encoded packets.
  WireBuffer plain;
  for (std::size_t i = 0; i < 300000; ++i) plain.push_back(static_cast<std::uint8_t>(i * 31 + 7));
  WireBuffer wire;
  ASSERT_TRUE(p.client->Encode(plain, &wire));
  EXPECT_GT(wire.size(), plain.size());  // integrity and padding
  EXPECT_EQ(std::search(wire.begin(), wire.end(), plain.begin(), plain.begin() + 64), wire.end())
      << "the stream must not be sent in the clear";
  WireBuffer got;
  std::size_t off = 0;
  for (std::size_t slice = 1; off < wire.size(); slice = slice * 3 % 9973 + 1) {
    std::size_t n = std::min(slice, wire.size() - off);
    ASSERT_TRUE(p.server->Decode(std::span<const std::uint8_t>(wire).subspan(off, n), &got));
    off += n;
  }
  EXPECT_EQ(got, plain);

  // And back.
  WireBuffer back_wire, back;
  ASSERT_TRUE(p.server->Encode(std::span<const std::uint8_t>(plain).first(1000), &back_wire));
  ASSERT_TRUE(p.client->Decode(back_wire, &back));
  EXPECT_EQ(back, WireBuffer(plain.begin(), plain.begin() + 1000));
}

TEST(SaslSessionTest, TamperedPacketIsRefused) {
  Pair p = MakePair(SaslSecurity{}, test::kSaslUser, test::kSaslPassword);
  ASSERT_TRUE(p.server && p.client);
  ASSERT_TRUE(Handshake(p, "DIGEST-MD5"));
  WireBuffer plain(100, 0x42), wire, got;
  ASSERT_TRUE(p.client->Encode(plain, &wire));
  wire[wire.size() / 2] ^= 0x01;
  EXPECT_FALSE(p.server->Decode(wire, &got));
  EXPECT_TRUE(got.empty());
}

TEST(SaslSessionTest, WrongPasswordIsRefused) {
  Pair p = MakePair(SaslSecurity{}, test::kSaslUser, "not-the-password");
  ASSERT_TRUE(p.server && p.client);
  auto done = Handshake(p, "DIGEST-MD5");
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code(), ErrorCode::kAuthFailed);
  EXPECT_EQ(done.error().message().find("not-the-password"), std::string::npos);
}

TEST(SaslSessionTest, UnknownUserIsRefused) {
  Pair p = MakePair(SaslSecurity{}, "mallory", "whatever");
  ASSERT_TRUE(p.server && p.client);
  EXPECT_FALSE(Handshake(p, "DIGEST-MD5"));
}

TEST(SaslSessionTest, ScramSha256OnASecureTransportHasNoLayer) {
  SaslSecurity secure;
  secure.secure_transport = true;
  Pair p = MakePair(secure, test::kSaslOtherUser, test::kSaslOtherPassword);
  ASSERT_TRUE(p.server && p.client);
  auto mechs = p.server->ListMechanisms();
  ASSERT_TRUE(mechs);
  EXPECT_NE(mechs->find("SCRAM-SHA-256"), std::string::npos) << *mechs;
  std::string mech;
  auto done = Handshake(p, "SCRAM-SHA-256", &mech);
  ASSERT_TRUE(done) << done.error().message();
  EXPECT_EQ(mech, "SCRAM-SHA-256");
  EXPECT_EQ(*p.server->UserName(), test::kSaslOtherUser);
  EXPECT_EQ(*p.server->Ssf(), 0u);
}

TEST(SaslSessionTest, ScramWrongPasswordIsRefused) {
  SaslSecurity secure;
  secure.secure_transport = true;
  Pair p = MakePair(secure, test::kSaslOtherUser, "wrong");
  ASSERT_TRUE(p.server && p.client);
  EXPECT_FALSE(Handshake(p, "SCRAM-SHA-256"));
}

TEST(SaslSessionTest, MechanismWithoutLayerIsRefusedOnTcp) {
  // A client insisting on SCRAM where min SSF 56 applies: the server refuses the mechanism.
  SaslSecurity secure;
  secure.secure_transport = true;
  Pair p = MakePair(secure, test::kSaslOtherUser, test::kSaslOtherPassword);
  auto server = SaslServerSession::Create(Endpoint(), SaslSecurity{});
  ASSERT_TRUE(server);
  auto start = p.client->Start("SCRAM-SHA-256");
  ASSERT_TRUE(start);
  auto reply = (*server)->Start(start->mech, start->step.token);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code(), ErrorCode::kAuthFailed);
  // libvirt's client text for the same refusal.
  EXPECT_EQ(
      reply.error().message().rfind(
          "authentication failed: Failed to start SASL negotiation: -15 (SASL(-15): mechanism too weak", 0),
      0u)
      << reply.error().message();
}

TEST(SaslSessionTest, ExternalSsfFromTls) {
  SaslSecurity tls;
  tls.secure_transport = true;
  tls.external_ssf = 256;
  Pair p = MakePair(tls, test::kSaslUser, test::kSaslPassword);
  ASSERT_TRUE(p.server && p.client);
  ASSERT_TRUE(Handshake(p, "SCRAM-SHA-256"));
  EXPECT_EQ(*p.server->Ssf(), 0u);  // no SASL layer over TLS: TLS protects the stream
}

}  // namespace
}  // namespace vsecret::rpc
