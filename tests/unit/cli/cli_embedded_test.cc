// The CLI over the real embedded driver (OpenConnection with secret:///embed?root=DIR): the
// path `vsecret -c secret:///embed?root=DIR ...` takes, checked against virsh 12.x's output (and
// 9.0's under VSECRET_COMPAT=9.0 where they differ).
#include <gtest/gtest.h>

#include <cstdlib>

#include "cli/cli_app.h"
#include "cli_test_support.h"
#include "test_util.h"

namespace vsecret::cli {
namespace {

using test::CliResult;
using test::kUuid1;

class CliEmbeddedTest : public ::testing::Test {
 protected:
  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"vsecret", "-c", "secret:///embed?root=" + root_.path()});
    StringSink out, err;
    test::FakePasswordReader passwords;
    test::FakeLineReader lines(out, {});
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
    vsecret::test::WriteFileRaw(path, content);
    return path;
  }

  vsecret::test::TempDir root_;
  vsecret::test::TempDir files_;
};

class ScopedCompatEnv {
 public:
  explicit ScopedCompatEnv(const char* value) { setenv("VSECRET_COMPAT", value, 1); }
  ~ScopedCompatEnv() { unsetenv("VSECRET_COMPAT"); }
};

TEST_F(CliEmbeddedTest, UsageTypeErrorsFollowTheReference) {
  std::string xml = File("t.xml", "<secret><usage type='Volume'><volume>/x</volume></usage></secret>");
  std::string none = File("n.xml", "<secret><usage><volume>/x</volume></usage></secret>");
  CliResult r = Run({"secret-define", xml});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "error: Failed to set attributes from " + xml +
                "\nerror: XML error: Invalid value for attribute 'type' in element 'usage': 'Volume'.\n");
  r = Run({"secret-define", none});
  EXPECT_EQ(r.err, "error: Failed to set attributes from " + none +
                       "\nerror: XML error: Missing required attribute 'type' in element 'usage'\n");
  ScopedCompatEnv compat("9.0");
  r = Run({"secret-define", xml});
  EXPECT_EQ(r.err, "error: Failed to set attributes from " + xml +
                       "\nerror: unsupported configuration: unknown secret usage type Volume\n");
  r = Run({"secret-define", none});
  EXPECT_EQ(r.err, "error: Failed to set attributes from " + none +
                       "\nerror: XML error: unknown secret usage type\n");
}

TEST_F(CliEmbeddedTest, SyntaxErrorsFollowTheReference) {
  std::string empty = File("e.xml", "");
  std::string open = File("o.xml", "<secret>\n\n");
  CliResult r = Run({"secret-define", empty});
  EXPECT_EQ(r.err,
            "error: Failed to set attributes from " + empty + "\nerror: at line 1: Document is empty\n\n");
  r = Run({"secret-define", open});
  EXPECT_EQ(r.err,
            "error: Failed to set attributes from " + open +
                "\nerror: at line 3: Premature end of data in tag secret line 1\n<secret>\n--------^\n");
  ScopedCompatEnv compat("9.0");
  r = Run({"secret-define", empty});
  EXPECT_EQ(r.err, "error: Failed to set attributes from " + empty +
                       "\nerror: (definition_of_secret):1: Document is empty\n(null)\n^\n");
  r = Run({"secret-define", open});
  EXPECT_EQ(r.err,
            "error: Failed to set attributes from " + open +
                "\nerror: (definition_of_secret):3: Premature end of data in tag secret line 1\n(null)\n^\n");
}

TEST_F(CliEmbeddedTest, EncodingDeclarationHonouredLikeLibvirt12) {
  std::string latin1 =
      File("l.xml", std::string("<?xml version='1.0' encoding='ISO-8859-1'?><secret><uuid>") + kUuid1 +
                        "</uuid><description>caf\xe9</description></secret>");
  CliResult r = Run({"secret-define", latin1});
  EXPECT_EQ(r.status, 0) << r.err;
  r = Run({"secret-dumpxml", kUuid1});
  EXPECT_NE(r.out.find("<description>caf\xc3\xa9</description>"), std::string::npos) << r.out;
  ScopedCompatEnv compat("9.0");
  r = Run({"secret-define", latin1});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("(definition_of_secret):1: Input is not proper UTF-8, indicate encoding !\n"),
            std::string::npos)
      << r.err;
}

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
  test::FakePasswordReader passwords;
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
