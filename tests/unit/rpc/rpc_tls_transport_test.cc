// Unit tests for the network transport pieces that need no certificates: DN allow-list
// matching, loopback detection and the plain-TCP bind policy, the TLS context's errors, and the
// ssh command line libvirt's client would run.
#include <gtest/gtest.h>

#include "base/uri.h"
#include "client/remote_connection.h"
#include "rpc/tcp_socket.h"
#include "rpc/tls_stream.h"

namespace vsecret {
namespace {

TEST(RpcTlsDnTest, MatchesEitherOrderAndWildcards) {
  std::vector<std::string> allow{"O=vsecret,CN=client*"};
  EXPECT_TRUE(rpc::DnAllowed(allow, "O=vsecret,CN=client", "CN=client,O=vsecret"));
  EXPECT_TRUE(rpc::DnAllowed(allow, "O=vsecret,CN=client7", "CN=client7,O=vsecret"));
  EXPECT_FALSE(rpc::DnAllowed(allow, "O=vsecret,CN=intruder", "CN=intruder,O=vsecret"));
  EXPECT_TRUE(rpc::DnAllowed({"CN=intruder,O=*"}, "O=vsecret,CN=intruder", "CN=intruder,O=vsecret"));
  EXPECT_FALSE(rpc::DnAllowed({}, "O=a,CN=b", "CN=b,O=a"));
}

TEST(RpcTlsTcpTest, LoopbackAddresses) {
  EXPECT_TRUE(rpc::IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(rpc::IsLoopbackAddress("127.9.8.7"));
  EXPECT_TRUE(rpc::IsLoopbackAddress("::1"));
  EXPECT_TRUE(rpc::IsLoopbackAddress("::ffff:127.0.0.1"));
  EXPECT_FALSE(rpc::IsLoopbackAddress("0.0.0.0"));
  EXPECT_FALSE(rpc::IsLoopbackAddress("::"));
  EXPECT_FALSE(rpc::IsLoopbackAddress("192.168.1.1"));
  EXPECT_FALSE(rpc::IsLoopbackAddress("localhost"));
}

TEST(RpcTlsTcpTest, PlainTcpRefusesWildcardWithoutOverride) {
  rpc::TcpListenOptions options;
  options.address = "0.0.0.0";
  options.allow_non_loopback = false;
  auto fds = rpc::ListenTcp(options);
  ASSERT_FALSE(fds);
  EXPECT_EQ(fds.error().code(), ErrorCode::kConfigUnsupported);
  EXPECT_NE(fds.error().message().find("tcp_allow_non_loopback"), std::string::npos);
}

TEST(RpcTlsTcpTest, LoopbackListenAndConnect) {
  rpc::TcpListenOptions options;
  options.address = "127.0.0.1";
  options.allow_non_loopback = false;
  auto fds = rpc::ListenTcp(options);
  ASSERT_TRUE(fds) << fds.error().message();
  ASSERT_EQ(fds->size(), 1u);
  int port = rpc::BoundPort((*fds)[0].get());
  ASSERT_GT(port, 0);
  auto conn = rpc::ConnectTcp("127.0.0.1", port, 2000);
  EXPECT_TRUE(conn) << conn.error().message();
}

TEST(RpcTlsContextTest, MissingFilesAreNamed) {
  rpc::TlsServerConfig config;
  config.files = rpc::TlsFiles{"/nonexistent/ca.pem", "/nonexistent/cert.pem", "/nonexistent/key.pem", ""};
  auto ctx = rpc::TlsContext::CreateServer(config);
  ASSERT_FALSE(ctx);
  EXPECT_NE(ctx.error().message().find("/nonexistent/cert.pem"), std::string::npos);
}

TEST(RpcTlsContextTest, PkipathFileNames) {
  rpc::TlsFiles f = rpc::ClientFilesIn("/p/");
  EXPECT_EQ(f.ca_file, "/p/cacert.pem");
  EXPECT_EQ(f.cert_file, "/p/clientcert.pem");
  EXPECT_EQ(f.key_file, "/p/clientkey.pem");
  EXPECT_EQ(f.crl_file, "/p/cacrl.pem");
}

TEST(RpcTlsSshTest, CommandShapeMatchesLibvirt) {
  auto uri =
      ParseConnectionUri("secret+ssh://alice@host.example:2222/system?keyfile=/k&no_tty=1&no_verify=1");
  ASSERT_TRUE(uri);
  auto argv = RemoteConnection::SshArgvFor(*uri, false);
  ASSERT_TRUE(argv);
  std::vector<std::string> head(argv->begin(), argv->end() - 1);
  EXPECT_EQ(head, (std::vector<std::string>{"ssh", "-p", "2222", "-l", "alice", "-i", "/k", "-T", "-e",
                                            "none", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                                            "--", "host.example"}));
  const std::string& remote = argv->back();
  EXPECT_TRUE(
      remote.starts_with("sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then "
                         "virt-ssh-helper '\\''secret:///system'\\''; else "))
      << remote;
  EXPECT_NE(remote.find("-U '\\''/var/run/libvirt/libvirt-sock'\\''"), std::string::npos) << remote;

  auto ro = RemoteConnection::SshArgvFor(*uri, true);
  ASSERT_TRUE(ro);
  EXPECT_NE(ro->back().find("virt-ssh-helper -r "), std::string::npos);
  EXPECT_NE(ro->back().find("libvirt-sock-ro"), std::string::npos);

  auto direct = ParseConnectionUri("secret+ssh://host/system?mode=direct");
  ASSERT_TRUE(direct);
  EXPECT_FALSE(RemoteConnection::SshArgvFor(*direct, false));
}

}  // namespace
}  // namespace vsecret
