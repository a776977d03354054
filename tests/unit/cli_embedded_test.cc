// The CLI over the real embedded driver (OpenConnection with secret:///embed?root=DIR): the
// path `vsecret -c secret:///embed?root=DIR ...` takes, checked against virsh 9.0's output.
#include <gtest/gtest.h>

#include "cli/cli_app.h"
#include "cli_test_support.h"
#include "test_util.h"

namespace vsecret::cli {
namespace {

using testing::CliResult;
using testing::kUuid1;

class CliEmbeddedTest : public ::testing::Test {
 protected:
  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"vsecret", "-c", "secret:///embed?root=" + root_.path()});
    StringSink out, err;
    testing::FakePasswordReader passwords;
    testing::FakeLineReader lines(out, {});
    CliIo io;
    io.out = &out;
    io.err = &err;
    io.passwords = &passwords;
    io.line_reader = &lines;
    io.factory = [](std::string_view uri, bool ro) { return OpenConnection(uri, ro); };
    CliResult r;
    r.status = RunCli(args, io);
    r.out = out.text();
    r.err = err.text();
    return r;
  }
  std::string File(const std::string& name, const std::string& content) {
    std::string path = files_.path() + "/" + name;
    vsecret::testing::WriteFileRaw(path, content);
    return path;
  }

  vsecret::testing::TempDir root_;
  vsecret::testing::TempDir files_;
};

TEST_F(CliEmbeddedTest, Lifecycle) {
  std::string xml = File("s.xml", std::string("<secret ephemeral='no' private='no'><uuid>") + kUuid1 +
                                      "</uuid><usage type='ceph'><name>cephA</name></usage></secret>");
  CliResult r = Run({"secret-define", xml});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, std::string("Secret ") + kUuid1 + " created\n\n");

  r = Run({"secret-list"});
  EXPECT_EQ(r.out,
            " UUID                                   Usage\n"
            "----------------------------------------------------\n"
            " 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f   ceph cephA\n\n");

  r = Run({"secret-dumpxml", kUuid1});
  EXPECT_EQ(r.out, std::string("<secret ephemeral='no' private='no'>\n  <uuid>") + kUuid1 +
                       "</uuid>\n  <usage type='ceph'>\n    <name>cephA</name>\n  </usage>\n</secret>\n\n");

  r = Run({"secret-get-value", kUuid1});
  EXPECT_EQ(r.err, std::string("error: Secret not found: secret '") + kUuid1 + "' does not have a value\n");

  r = Run({"secret-set-value", kUuid1, "--file", File("v", "aGVsbG8=\n")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Run({"secret-get-value", kUuid1, "--plain"}).out, "hello\n");
  EXPECT_EQ(Run({"-q", "secret-get-value", kUuid1}).out, "aGVsbG8=");

  r = Run({"secret-undefine", kUuid1});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, std::string("Secret ") + kUuid1 + " deleted\n\n");
  r = Run({"secret-dumpxml", kUuid1});
  EXPECT_EQ(r.err, std::string("error: failed to get secret '") + kUuid1 +
                       "'\nerror: Secret not found: no secret with matching uuid '" + kUuid1 + "'\n");
}

TEST_F(CliEmbeddedTest, ReadOnlyRefusesDefine) {
  std::string xml = File("s.xml", "<secret/>");
  CliResult r = Run({"-r", "secret-define", xml});
  // -r after -c still applies: it is a global option too.
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "error: Failed to set attributes from " + xml +
                       "\nerror: operation forbidden: read only access prevents virSecretDefineXML\n");
}

TEST(CliEmbeddedOpenTest, MissingRootFailsBeforeAnyCommand) {
  StringSink out, err;
  testing::FakePasswordReader passwords;
  CliIo io;
  io.out = &out;
  io.err = &err;
  io.passwords = &passwords;
  io.factory = [](std::string_view uri, bool ro) { return OpenConnection(uri, ro); };
  EXPECT_EQ(RunCli({"vsecret", "-c", "secret:///embed", "help"}, io), 1);
  EXPECT_EQ(out.text(), "");
  EXPECT_EQ(err.text(),
            "error: failed to connect to the hypervisor\n"
            "error: invalid argument: Missing URI parameter 'root'\n");
}

}  // namespace
}  // namespace vsecret::cli
