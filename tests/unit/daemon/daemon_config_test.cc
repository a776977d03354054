// vsecretd.conf (daemon/daemon_config.h) read through conf/virconf: every key, its default, its
// range, and the errors, which for the keys libvirtd also reads are libvirtd's own (checked
// against the installed libvirtd in LibvirtdAgrees).
#include "daemon/daemon_config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "libvirtd_conf_support.h"
#include "test_util.h"

namespace vsecret::daemon {
namespace {

constexpr char kFile[] = "/etc/libvirt/vsecretd.conf";

std::string Message(const std::string& text, const std::string& file = kFile) {
  auto c = ParseDaemonConfig(text, file);
  return c ? std::string("(no error)") : c.error().message();
}

std::string Internal(const std::string& detail) {
  return "internal error: " + std::string(kFile) + ": " + detail;
}

void ExpectDefaults(const DaemonConfig& c) {
  EXPECT_FALSE(c.unix_sock_dir);
  EXPECT_FALSE(c.unix_sock_group);
  EXPECT_EQ(c.unix_sock_ro_perms, 0777u);
  EXPECT_EQ(c.unix_sock_rw_perms, 0700u);
  EXPECT_TRUE(c.unix_sock_rw_allowed_users.empty());
  EXPECT_TRUE(c.unix_sock_rw_allowed_groups.empty());
  EXPECT_EQ(c.max_clients, 5000);
  EXPECT_EQ(c.keepalive_interval, 5);
  EXPECT_EQ(c.keepalive_count, 5);
  EXPECT_EQ(c.max_client_requests, 5);
  EXPECT_EQ(c.max_client_output_kib, 16384);
  EXPECT_EQ(c.max_client_event_callbacks, 256);
  EXPECT_EQ(c.max_pending_input_mib, 128);
  EXPECT_EQ(c.log_level, 0);
  EXPECT_EQ(c.log_filters, "");
  EXPECT_EQ(c.log_outputs, "");
  EXPECT_TRUE(c.listen_tls);
  EXPECT_FALSE(c.listen_tcp);
  EXPECT_EQ(c.tls_port, 16514);
  EXPECT_EQ(c.tcp_port, 16509);
  EXPECT_EQ(c.listen_addr, "");
  EXPECT_FALSE(c.tcp_allow_non_loopback);
  EXPECT_FALSE(c.tls_read_only);
  EXPECT_FALSE(c.tcp_read_only);
  EXPECT_EQ(c.key_file, "");
  EXPECT_EQ(c.cert_file, "");
  EXPECT_EQ(c.ca_file, "");
  EXPECT_EQ(c.crl_file, "");
  EXPECT_TRUE(c.tls_allowed_dn_list.empty());
  EXPECT_EQ(c.tls_handshake_timeout, 10);
}

TEST(DaemonConfigTest, EmptyAndCommentOnlyFilesGiveTheDefaults) {
  for (const char* text : {"", "# nothing\n", "unknown_key = [ 1, \"x\" ]\nanother = 3\n"}) {
    auto c = ParseDaemonConfig(text, kFile);
    ASSERT_TRUE(c) << text << ": " << c.error().message();
    ExpectDefaults(*c);
  }
}

// The packaged example shows every key commented out at its default.
TEST(DaemonConfigTest, PackagedExampleGivesTheDefaults) {
  const std::string path = std::string(VSECRET_TEST_DATA_DIR) + "/../../packaging/vsecretd.conf";
  ASSERT_TRUE(test::FileExists(path)) << path;
  auto c = LoadDaemonConfig(path);
  ASSERT_TRUE(c) << c.error().message();
  ExpectDefaults(*c);
}

TEST(DaemonConfigTest, EveryKey) {
  auto c = ParseDaemonConfig(
      "unix_sock_dir = \"/run/x\"\n"
      "unix_sock_group = \"libvirt\"\n"
      "unix_sock_ro_perms = \"0770\"\n"
      "unix_sock_rw_perms = \"0660\"\n"
      "unix_sock_rw_allowed_users = [ \"nova\", \"1001\" ]\n"
      "unix_sock_rw_allowed_groups = [ \"libvirt\" ]\n"
      "auth_unix_ro = \"none\"\nauth_unix_rw = \"none\"\nauth_tls = \"none\"\nauth_tcp = \"none\"\n"
      "max_clients = 7\n"
      "max_client_requests = 9\n"
      "max_client_output_kib = 64\n"
      "max_client_event_callbacks = 3\n"
      "max_pending_input_mib = 2\n"
      "keepalive_interval = -1\n"
      "keepalive_count = 0\n"
      "log_level = 4\n"
      "log_filters = \"1:rpc\"\nlog_outputs = \"1:stderr\"\n"
      "listen_tls = 0\nlisten_tcp = 1\n"
      "tls_port = \"1234\"\ntcp_port = 4321\n"
      "listen_addr = \"127.0.0.1\"\n"
      "tcp_allow_non_loopback = 1\ntls_read_only = 1\ntcp_read_only = 1\n"
      "key_file = \"/k\"\ncert_file = \"/c\"\nca_file = \"/ca\"\ncrl_file = \"/crl\"\n"
      "tls_allowed_dn_list = [ \"CN=a*\", \"O=b\", ]\n"
      "tls_handshake_timeout = 3600\n",
      kFile);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->unix_sock_dir, std::optional<std::string>("/run/x"));
  EXPECT_EQ(c->unix_sock_group, std::optional<std::string>("libvirt"));
  EXPECT_EQ(c->unix_sock_ro_perms, 0770u);
  EXPECT_EQ(c->unix_sock_rw_perms, 0660u);
  EXPECT_EQ(c->unix_sock_rw_allowed_users, (std::vector<std::string>{"nova", "1001"}));
  EXPECT_EQ(c->unix_sock_rw_allowed_groups, (std::vector<std::string>{"libvirt"}));
  EXPECT_EQ(c->max_clients, 7);
  EXPECT_EQ(c->max_client_requests, 9);
  EXPECT_EQ(c->max_client_output_kib, 64);
  EXPECT_EQ(c->max_client_event_callbacks, 3);
  EXPECT_EQ(c->max_pending_input_mib, 2);
  EXPECT_EQ(c->keepalive_interval, -1);
  EXPECT_EQ(c->keepalive_count, 0);
  EXPECT_EQ(c->log_level, 4);
  EXPECT_EQ(c->log_filters, "1:rpc");
  EXPECT_EQ(c->log_outputs, "1:stderr");
  EXPECT_FALSE(c->listen_tls);
  EXPECT_TRUE(c->listen_tcp);
  EXPECT_EQ(c->tls_port, 1234);
  EXPECT_EQ(c->tcp_port, 4321);
  EXPECT_EQ(c->listen_addr, "127.0.0.1");
  EXPECT_TRUE(c->tcp_allow_non_loopback);
  EXPECT_TRUE(c->tls_read_only);
  EXPECT_TRUE(c->tcp_read_only);
  EXPECT_EQ(c->key_file, "/k");
  EXPECT_EQ(c->cert_file, "/c");
  EXPECT_EQ(c->ca_file, "/ca");
  EXPECT_EQ(c->crl_file, "/crl");
  EXPECT_EQ(c->tls_allowed_dn_list, (std::vector<std::string>{"CN=a*", "O=b"}));
  EXPECT_EQ(c->tls_handshake_timeout, 3600);
}

// As libvirt: the first of duplicated keys wins. (The parser this replaced kept the last one.)
TEST(DaemonConfigTest, FirstOfDuplicatesWins) {
  auto c = ParseDaemonConfig(
      "max_clients = 10\nmax_clients = 20\nunix_sock_dir = \"/a\"\nunix_sock_dir = \"/b\"\n"
      "listen_tcp = 1\nlisten_tcp = 0\nunix_sock_rw_allowed_users = [\"u1\"]\nunix_sock_rw_allowed_users = "
      "\"u2\"\n"
      "tls_port = \"1\"; tls_port = \"2\"\n",
      kFile);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->max_clients, 10);
  EXPECT_EQ(c->unix_sock_dir, std::optional<std::string>("/a"));
  EXPECT_TRUE(c->listen_tcp);
  EXPECT_EQ(c->unix_sock_rw_allowed_users, std::vector<std::string>{"u1"});
  EXPECT_EQ(c->tls_port, 1);
  // A bad value hidden behind a good first one is never read; a bad first one is reported.
  EXPECT_EQ(Message("max_clients = 10\nmax_clients = \"x\"\n"), "(no error)");
  EXPECT_EQ(Message("max_clients = \"x\"\nmax_clients = 10\n"),
            Internal("expected an unsigned integer for 'max_clients' parameter"));
}

TEST(DaemonConfigTest, SyntaxErrorsAreVirConfs) {
  EXPECT_EQ(Message("unix_sock_dir = \"open\n"),
            "configuration file syntax error: " + std::string(kFile) + ":1: unterminated string");
  EXPECT_EQ(Message("= 3\n"),
            "configuration file syntax error: " + std::string(kFile) + ":1: expecting a name");
  // Names are libvirt's: no '.', and no comment inside a list.
  EXPECT_EQ(Message("a.b = 1\n"),
            "configuration file syntax error: " + std::string(kFile) + ":1: expecting an assignment");
  EXPECT_EQ(Message("tls_allowed_dn_list = [ \"a\", # b\n ]\n"),
            "configuration file syntax error: " + std::string(kFile) + ":1: expecting a value");
  auto c = ParseDaemonConfig("a 1", kFile);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kConfSyntax);
  EXPECT_EQ(c.error().domain(), ErrorDomain::kConf);
}

TEST(DaemonConfigTest, WrongTypes) {
  EXPECT_EQ(Message("max_clients = \"many\"\n"),
            Internal("expected an unsigned integer for 'max_clients' parameter"));
  EXPECT_EQ(Message("max_pending_input_mib = \"lots\"\n"),
            Internal("expected an unsigned integer for 'max_pending_input_mib' parameter"));
  EXPECT_EQ(Message("keepalive_interval = \"5\"\n"),
            Internal("expected a signed integer for 'keepalive_interval' parameter"));
  EXPECT_EQ(Message("keepalive_count = -1\n"),
            Internal("expected an unsigned integer for 'keepalive_count' parameter"));
  EXPECT_EQ(Message("listen_tcp = \"1\"\n"), Internal("expected a bool for 'listen_tcp' parameter"));
  EXPECT_EQ(Message("tls_read_only = 2\n"), Internal("value for 'tls_read_only' parameter must be 0 or 1"));
  EXPECT_EQ(Message("unix_sock_dir = 1\n"), Internal("expected a string for 'unix_sock_dir' parameter"));
  EXPECT_EQ(Message("unix_sock_rw_perms = 700\n"),
            Internal("expected a string for 'unix_sock_rw_perms' parameter"));
  EXPECT_EQ(Message("key_file = [\"/k\"]\n"), Internal("expected a string for 'key_file' parameter"));
  // libvirtd takes no lone string for tls_allowed_dn_list; vsecretd's own user and group lists do.
  EXPECT_EQ(Message("tls_allowed_dn_list = \"CN=a\"\n"),
            Internal("expected a string list for 'tls_allowed_dn_list' parameter"));
  EXPECT_EQ(Message("tls_allowed_dn_list = [ 1 ]\n"),
            "configuration file syntax error: " + std::string(kFile) +
                ": expected a string list for 'tls_allowed_dn_list' parameter");
  EXPECT_EQ(Message("unix_sock_rw_allowed_users = 1001\n"),
            Internal("expected a string or string list for 'unix_sock_rw_allowed_users' parameter"));
  auto lone = ParseDaemonConfig(
      "unix_sock_rw_allowed_users = \"nova\"\nunix_sock_rw_allowed_groups = 'kvm'\n", kFile);
  ASSERT_TRUE(lone) << lone.error().message();
  EXPECT_EQ(lone->unix_sock_rw_allowed_users, std::vector<std::string>{"nova"});
  EXPECT_EQ(lone->unix_sock_rw_allowed_groups, std::vector<std::string>{"kvm"});
}

TEST(DaemonConfigTest, Ranges) {
  struct Case {
    const char* text;
    const char* range;  // "<min>:<max>" of the key in the first statement
  };
  for (const Case& c :
       {Case{"max_clients = 0", "1:1000000"}, Case{"max_clients = 1000001", "1:1000000"},
        Case{"max_client_requests = 0", "1:1000"}, Case{"max_client_requests = 1001", "1:1000"},
        Case{"max_client_output_kib = 1", "64:4194304"}, Case{"max_client_event_callbacks = 0", "1:1048576"},
        Case{"max_pending_input_mib = 1048577", "1:1048576"}, Case{"keepalive_interval = -2", "-1:86400"},
        Case{"keepalive_interval = 86401", "-1:86400"}, Case{"keepalive_count = 1001", "0:1000"},
        Case{"log_level = 5", "0:4"}, Case{"tls_handshake_timeout = 0", "1:3600"}}) {
    const std::string text = c.text;
    const std::string key = text.substr(0, text.find(' '));
    EXPECT_EQ(Message(text + "\n"), Internal("value for '" + key + "' parameter must be in range " + c.range))
        << text;
  }
  // The bounds themselves are accepted.
  for (const char* text : {"max_clients = 1", "max_clients = 1000000", "keepalive_interval = 86400",
                           "max_client_output_kib = 4194304", "log_level = 0", "tls_handshake_timeout = 1"}) {
    EXPECT_EQ(Message(std::string(text) + "\n"), "(no error)") << text;
  }
}

TEST(DaemonConfigTest, PortsAndModes) {
  auto c = ParseDaemonConfig("tls_port = \"0\"\ntcp_port = 65535\nunix_sock_ro_perms = \"\"\n", kFile);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->tls_port, 0);
  EXPECT_EQ(c->tcp_port, 65535);
  EXPECT_EQ(c->unix_sock_ro_perms, 0777u);  // an empty mode keeps the default
  for (const char* text : {"tls_port = \"65536\"", "tls_port = \"\"", "tls_port = \"12a\"", "tls_port = -1",
                           "tls_port = 65536", "tls_port = [\"1\"]"}) {
    EXPECT_EQ(Message(std::string(text) + "\n"), "config key tls_port must be a port number") << text;
  }
  EXPECT_EQ(Message("tcp_port = \"x\"\n"), "config key tcp_port must be a port number");
  for (const char* mode : {"0999", "01777", "rw", "7777"}) {
    EXPECT_EQ(Message(std::string("unix_sock_rw_perms = \"") + mode + "\"\n"),
              std::string("Failed to parse mode '") + mode + "'");
  }
}

TEST(DaemonConfigTest, AuthNoneOrSasl) {
  auto d = ParseDaemonConfig("", kFile);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->auth_tcp, "sasl");  // libvirtd's defaults
  EXPECT_EQ(d->auth_tls, "none");
  EXPECT_EQ(d->auth_unix_rw, "none");
  EXPECT_EQ(d->auth_unix_ro, "none");
  EXPECT_FALSE(d->sasl_allowed_username_list.has_value());
  EXPECT_EQ(d->tcp_min_ssf, 56);
  EXPECT_EQ(d->sasl_auth_timeout, 60);
  auto s = ParseDaemonConfig(
      "auth_unix_rw = \"sasl\"\nauth_tls = \"sasl\"\nauth_tcp = \"none\"\nsasl_allowed_username_list = []\n"
      "tcp_min_ssf = 112\nsasl_auth_timeout = 2\n",
      kFile);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->auth_unix_rw, "sasl");
  EXPECT_EQ(s->auth_tls, "sasl");
  EXPECT_EQ(s->auth_tcp, "none");
  ASSERT_TRUE(s->sasl_allowed_username_list.has_value());  // [] = nobody, unlike absent
  EXPECT_TRUE(s->sasl_allowed_username_list->empty());
  EXPECT_EQ(s->tcp_min_ssf, 112);
  EXPECT_EQ(s->sasl_auth_timeout, 2);
  EXPECT_EQ(Message("auth_tcp = \"polkit\"\n"),
            "unsupported configuration: auth_tcp = \"polkit\": vsecretd supports only \"none\" and \"sasl\"");
  auto c = ParseDaemonConfig("auth_tcp = \"polkit\"\n", kFile);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kConfigUnsupported);
  EXPECT_EQ(Message("auth_unix_ro = 0\n"), Internal("expected a string for 'auth_unix_ro' parameter"));
  EXPECT_EQ(Message("tcp_min_ssf = 40\n"),
            "unsupported configuration: minimum SSF levels lower than 56 are not supported");
}

// For a file with several errors, the first reported is the one libvirtd's order reaches first.
TEST(DaemonConfigTest, LibvirtdsOrder) {
  EXPECT_EQ(Message("keepalive_interval = \"x\"\nmax_clients = \"x\"\nlisten_tcp = 5\n"),
            Internal("value for 'listen_tcp' parameter must be 0 or 1"));
  EXPECT_EQ(Message("keepalive_interval = \"x\"\nmax_clients = \"x\"\n"),
            Internal("expected an unsigned integer for 'max_clients' parameter"));
}

TEST(DaemonConfigTest, LoadDaemonConfig) {
  test::TempDir tmp;
  const std::string path = tmp.path() + "/vsecretd.conf";
  auto missing = LoadDaemonConfig(path);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message().rfind("Failed to open file '" + path + "'", 0), 0u)
      << missing.error().message();
  test::WriteFileRaw(path, "max_clients = 3\nlog_level = \"x\"\n");
  auto bad = LoadDaemonConfig(path);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "internal error: " + path + ": expected an unsigned integer for 'log_level' parameter");
  test::WriteFileRaw(path, "max_clients = 3\n");
  auto good = LoadDaemonConfig(path);
  ASSERT_TRUE(good) << good.error().message();
  EXPECT_EQ(good->max_clients, 3);
}

// Files libvirtd refuses for a key both daemons read: vsecretd refuses them with libvirtd's words.
TEST(DaemonConfigTest, LibvirtdAgrees) {
  if (!test::HaveLibvirtd()) GTEST_SKIP() << "libvirtd not installed";
  test::TempDir tmp;
  const std::string file = tmp.path() + "/vsecretd.conf";
  for (const char* text : {"max_clients = \"many\"\n",
                           "max_client_requests = -5\n",
                           "log_level = \"3\"\n",
                           "log_filters = 3\n",
                           "log_outputs = [ \"1:stderr\" ]\n",
                           "keepalive_interval = \"5\"\n",
                           "keepalive_count = -1\n",
                           "keepalive_interval = 2147483648\n",
                           "listen_tls = 2\n",
                           "listen_tcp = \"1\"\n",
                           "listen_addr = 1\n",
                           "unix_sock_dir = [\"/run\"]\n",
                           "unix_sock_group = 0\n",
                           "unix_sock_ro_perms = 777\n",
                           "key_file = 1\n",
                           "crl_file = []\n",
                           "tls_allowed_dn_list = \"CN=a\"\n",
                           "tls_allowed_dn_list = [\"a\", 2]\n",
                           "auth_unix_rw = 1\n",
                           "max_clients = \"x\"\nmax_clients = 5\n",
                           "listen_tls = 2\nlisten_tls = 1\n",
                           "a.b = 1\n",
                           "l = [ \"a\", # c\n ]\n",
                           "max_clients = \"x\"\nlisten_tcp = 7\n"}) {
    auto libvirt = test::LibvirtdConfigError(file, text);
    ASSERT_TRUE(libvirt) << text;
    EXPECT_EQ(Message(text, file), *libvirt) << text;
  }
}

}  // namespace
}  // namespace vsecret::daemon
