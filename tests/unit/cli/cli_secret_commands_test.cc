// secret-define, -dumpxml, -set-value, -get-value, -undefine and -list against a fake
// connection. Expected output is byte for byte what virsh 12.x prints for the same operation, and
// what virsh 9.0 prints under VSECRET_COMPAT=9.0 where the two differ.
#include <gtest/gtest.h>

#include <cstdlib>

#include "cli/input_files.h"
#include "cli_test_support.h"
#include "test_util.h"

namespace vsecret::cli {
namespace {

using test::CliHarness;
using test::CliResult;
using test::kUuid1;
using test::kUuid2;

class CliSecretCommandsTest : public ::testing::Test {
 protected:
  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"-c", "fake:///x"});
    return h_.Run(std::move(args));
  }
  std::string File(const std::string& name, const std::string& content) {
    std::string path = dir_.path() + "/" + name;
    vsecret::test::WriteFileRaw(path, content);
    return path;
  }
  std::optional<std::string> StoredValue(const char* uuid) {
    std::lock_guard lock(h_.store->mutex);
    return h_.store->secrets.at(*Uuid::Parse(uuid)).value;
  }

  CliHarness h_;
  vsecret::test::TempDir dir_;
};

TEST_F(CliSecretCommandsTest, DefinePrintsCreatedAndBlankLine) {
  std::string xml = File("s.xml", std::string("<secret><uuid>") + kUuid1 + "</uuid></secret>");
  CliResult r = Run({"secret-define", xml});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, std::string("Secret ") + kUuid1 + " created\n\n");
  EXPECT_EQ(r.err, "");
  r = h_.Run({"-q", "-c", "fake:///x", "secret-define", xml});
  EXPECT_EQ(r.out, "");
}

TEST_F(CliSecretCommandsTest, DefineErrors) {
  CliResult r = Run({"secret-define", "nofile.xml"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "\n");
  EXPECT_EQ(r.err, "error: Failed to open file 'nofile.xml': No such file or directory\n");

  r = Run({"secret-define", dir_.path()});
  EXPECT_EQ(r.err, "error: Failed to read file '" + dir_.path() + "': Is a directory\n");

  std::string bad = File("bad.xml", "<volume/>");
  r = Run({"secret-define", bad});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "error: Failed to set attributes from " + bad +
                       "\nerror: XML error: expecting root element of 'secret'\n");
}

TEST_F(CliSecretCommandsTest, DefineReadOnly) {
  std::string xml = File("s.xml", "<secret/>");
  CliResult r = h_.Run({"-r", "-c", "fake:///x", "secret-define", xml});
  EXPECT_EQ(r.err, "error: Failed to set attributes from " + xml +
                       "\nerror: operation forbidden: read only access prevents virSecretDefineXML\n");
}

TEST_F(CliSecretCommandsTest, LookupErrors) {
  CliResult r = Run({"secret-dumpxml", "zzz"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "\n");
  EXPECT_EQ(r.err,
            "error: failed to get secret 'zzz'\n"
            "error: uuidstr in virSecretLookupByUUIDString must be a valid UUID\n");
  r = Run({"secret-undefine", kUuid2});
  EXPECT_EQ(r.err, std::string("error: failed to get secret '") + kUuid2 +
                       "'\nerror: Secret not found: no secret with matching uuid '" + kUuid2 + "'\n");
  EXPECT_EQ(Run({"secret-dumpxml", ""}).err,
            "error: Failed to get option 'secret': Option argument is empty\n");
}

TEST_F(CliSecretCommandsTest, DumpXml) {
  h_.store->Add(kUuid1, UsageType::kCeph, "cephA");
  CliResult r = Run({"secret-dumpxml", std::string(" ") + kUuid1 + " "});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, std::string("<secret ephemeral='no' private='no'>\n  <uuid>") + kUuid1 +
                       "</uuid>\n  <usage type='ceph'>\n    <name>cephA</name>\n  </usage>\n</secret>\n\n");
  r = Run({"secret-dumpxml", kUuid1, "--xpath", "//uuid/text()", "--wrap"});
  EXPECT_EQ(r.out, std::string("<nodes>") + kUuid1 + "</nodes>\n\n");
}

TEST_F(CliSecretCommandsTest, DumpXmlEmptyXpathLeaksLikeVirsh) {
  h_.store->Add(kUuid1);
  CliResult r = Run({"secret-dumpxml", kUuid1, "--xpath", ""});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "\n");
  EXPECT_EQ(r.err, "error: One or more references were leaked after disconnect from the hypervisor\n");
}

// The environment variable for one test; restored (unset) afterwards.
class ScopedCompatEnv {
 public:
  explicit ScopedCompatEnv(const char* value) { setenv("VSECRET_COMPAT", value, 1); }
  ~ScopedCompatEnv() { unsetenv("VSECRET_COMPAT"); }
};

TEST_F(CliSecretCommandsTest, SetValueFromArgumentWarnsButSucceeds) {
  h_.store->Add(kUuid1);
  CliResult r = Run({"secret-set-value", kUuid1, "aGVsbG8="});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "Secret value set\n\n");
  EXPECT_EQ(r.err, "warning: Passing secret value as command-line argument is insecure!\n");
  EXPECT_EQ(StoredValue(kUuid1), "hello");
  r = Run({"secret-set-value", kUuid1, "--base64", "d29y bGQ=\n"});  // lenient decoding
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(StoredValue(kUuid1), "world");
}

TEST_F(CliSecretCommandsTest, SetValueFromArgumentIsAnErrorLineInLibvirt9Mode) {
  h_.store->Add(kUuid1);
  {
    ScopedCompatEnv compat("9.0");
    CliResult r = Run({"secret-set-value", kUuid1, "aGVsbG8="});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, "Secret value set\n\n");
    EXPECT_EQ(r.err, "error: Passing secret value as command-line argument is insecure!\n");
    EXPECT_EQ(StoredValue(kUuid1), "hello");
  }
  // Each run reads the setting again: unset, 12.x's warning is back.
  CliResult r = Run({"-q", "secret-set-value", kUuid1, "aGk="});
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "warning: Passing secret value as command-line argument is insecure!\n");
}

TEST_F(CliSecretCommandsTest, UnknownCompatValueIsRefused) {
  h_.store->Add(kUuid1);
  ScopedCompatEnv compat("10.0");
  CliResult r = Run({"secret-set-value", kUuid1, "aGk="});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "error: VSECRET_COMPAT='10.0' is not supported: use 9.0, or 12 (the default)\n");
  EXPECT_EQ(StoredValue(kUuid1), std::nullopt);
}

TEST_F(CliSecretCommandsTest, SetValueFromFile) {
  h_.store->Add(kUuid1);
  CliResult r = Run({"secret-set-value", kUuid1, "--file", File("b64", "aGVsbG8=\n")});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "Secret value set\n\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(StoredValue(kUuid1), "hello");

  Run({"secret-set-value", kUuid1, "--file", File("raw", "hello\n"), "--plain"});
  EXPECT_EQ(StoredValue(kUuid1), "hello\n");  // --plain keeps the trailing newline

  Run({"secret-set-value", kUuid1, "--file", File("nul", std::string("a\0b", 3)), "--plain"});
  EXPECT_EQ(StoredValue(kUuid1), std::string("a\0b", 3));

  Run({"secret-set-value", kUuid1, "--file", File("max", std::string(1024, 'A')), "--plain"});
  EXPECT_EQ(StoredValue(kUuid1), std::string(1024, 'A'));
}

TEST_F(CliSecretCommandsTest, SetValueFileErrors) {
  h_.store->Add(kUuid1);
  std::string big = File("big", std::string(1025, 'A'));
  CliResult r = Run({"secret-set-value", kUuid1, "--file", big});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "\n");
  EXPECT_EQ(r.err, "error: Failed to read file '" + big + "': Value too large for defined data type\n");
  EXPECT_EQ(Run({"secret-set-value", kUuid1, "--file", "nofile"}).err,
            "error: Failed to open file 'nofile': No such file or directory\n");
  EXPECT_EQ(Run({"secret-set-value", kUuid1, "--file", ""}).err,
            "error: Failed to get option 'file': Option argument is empty\n");
}

TEST_F(CliSecretCommandsTest, SetValueExclusions) {
  h_.store->Add(kUuid1);
  auto err = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"secret-set-value", kUuid1};
    args.insert(args.end(), extra.begin(), extra.end());
    CliResult r = Run(args);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.out, "\n");
    return r.err;
  };
  EXPECT_EQ(err({"--file", "f", "--base64", "x"}),
            "error: Options --file and --base64 are mutually exclusive\n");
  EXPECT_EQ(err({"--plain", "--base64", "x"}),
            "error: Options --plain and --base64 are mutually exclusive\n");
  EXPECT_EQ(err({"--interactive", "x"}),
            "error: Options --interactive and --base64 are mutually exclusive\n");
  EXPECT_EQ(err({"--interactive", "--plain"}),
            "error: Options --interactive and --plain are mutually exclusive\n");
  EXPECT_EQ(err({"--interactive", "--file", "f"}),
            "error: Options --interactive and --file are mutually exclusive\n");
  EXPECT_EQ(err({}), "error: Input secret value is missing\n");
  EXPECT_EQ(err({""}), "error: Failed to get option 'base64': Option argument is empty\n");
  // The exclusions are checked before the secret is looked up.
  EXPECT_EQ(Run({"secret-set-value", "zzz", "--plain", "x"}).err,
            "error: Options --plain and --base64 are mutually exclusive\n");
}

TEST_F(CliSecretCommandsTest, SetValueInteractive) {
  h_.store->Add(kUuid1);
  h_.passwords.next = "typed secret";
  CliResult r = Run({"secret-set-value", kUuid1, "--interactive"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "Enter new value for secret:Secret value set\n\n");
  EXPECT_EQ(StoredValue(kUuid1), "typed secret");

  // The prompt is printed even in quiet mode.
  r = h_.Run({"-q", "-c", "fake:///x", "secret-set-value", kUuid1, "--interactive"});
  EXPECT_EQ(r.out, "Enter new value for secret:");

  h_.passwords.next = std::nullopt;
  r = Run({"secret-set-value", kUuid1, "--interactive"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "Enter new value for secret:\n");
  EXPECT_EQ(r.err, "error: Failed to read secret\n");
}

TEST_F(CliSecretCommandsTest, EmptyValueGoesToTheConnection) {
  h_.store->Add(kUuid1);
  CliResult r = Run({"secret-set-value", kUuid1, "!!!!"});  // decodes to nothing
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "warning: Passing secret value as command-line argument is insecure!\n"
            "error: Failed to set secret value\n"
            "error: value in virSecretSetValue must not be NULL\n");
}

TEST_F(CliSecretCommandsTest, GetValue) {
  h_.store->Add(kUuid1);
  CliResult r = Run({"secret-get-value", kUuid1});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "\n");
  EXPECT_EQ(r.err, std::string("error: Secret not found: secret '") + kUuid1 + "' does not have a value\n");

  Run({"secret-set-value", kUuid1, "aGVsbG8="});
  r = Run({"secret-get-value", kUuid1});
  EXPECT_EQ(r.out, "aGVsbG8=\n");
  r = Run({"secret-get-value", kUuid1, "--plain"});
  EXPECT_EQ(r.out, "hello\n");
  r = h_.Run({"-q", "-c", "fake:///x", "secret-get-value", kUuid1, "--plain"});
  EXPECT_EQ(r.out, "hello");  // no newline of its own

  h_.store->Add(kUuid2, UsageType::kNone, "", false, true);
  EXPECT_EQ(Run({"secret-get-value", kUuid2}).err, "error: Invalid secret: secret is private\n");
  EXPECT_EQ(h_.Run({"-r", "-c", "fake:///x", "secret-get-value", kUuid1}).err,
            "error: operation forbidden: read only access prevents virSecretGetValue\n");
}

TEST_F(CliSecretCommandsTest, UndefineEchoesArgumentAsTyped) {
  h_.store->Add(kUuid1);
  std::string typed = std::string(" ") + kUuid1 + " ";
  CliResult r = Run({"secret-undefine", typed});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "Secret " + typed + " deleted\n\n");
  h_.store->Add(kUuid1);
  r = h_.Run({"-r", "-c", "fake:///x", "secret-undefine", kUuid1});
  EXPECT_EQ(r.err, std::string("error: Failed to delete secret ") + kUuid1 +
                       "\nerror: operation forbidden: read only access prevents virSecretUndefine\n");
}

TEST_F(CliSecretCommandsTest, ListEmpty) {
  CliResult r = Run({"secret-list"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, " UUID   Usage\n---------------\n\n");
  EXPECT_EQ(h_.Run({"-q", "-c", "fake:///x", "secret-list"}).out, "");
}

TEST_F(CliSecretCommandsTest, ListSortedWithUsage) {
  h_.store->Add(kUuid2);
  h_.store->Add(kUuid1, UsageType::kCeph, "cephA");
  CliResult r = Run({"secret-list"});
  EXPECT_EQ(r.out,
            " UUID                                   Usage\n"
            "----------------------------------------------------\n"
            " 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f   ceph cephA\n"
            " 11111111-2222-3333-4444-555555555555   Unused\n"
            "\n");
  r = h_.Run({"-q", "-c", "fake:///x", "secret-list"});
  EXPECT_EQ(r.out,
            " 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f   ceph cephA\n"
            " 11111111-2222-3333-4444-555555555555   Unused\n");
}

TEST_F(CliSecretCommandsTest, ListFlags) {
  h_.store->Add(kUuid1, UsageType::kNone, "", /*ephemeral=*/true);
  h_.store->Add(kUuid2, UsageType::kNone, "", false, /*is_private=*/true);
  EXPECT_EQ(h_.Run({"-q", "-c", "fake:///x", "secret-list", "--ephemeral"}).out,
            std::string(" ") + kUuid1 + "   Unused\n");
  EXPECT_EQ(h_.Run({"-q", "-c", "fake:///x", "secret-list", "--private", "--no-ephemeral"}).out,
            std::string(" ") + kUuid2 + "   Unused\n");
}

TEST_F(CliSecretCommandsTest, ListFallsBackWithoutListAll) {
  h_.store->Add(kUuid2);
  h_.store->Add(kUuid1);
  h_.store->list_all_unsupported = true;
  EXPECT_EQ(h_.Run({"-q", "-c", "fake:///x", "secret-list"}).out,
            std::string(" ") + kUuid1 + "   Unused\n " + kUuid2 + "   Unused\n");
  CliResult r = Run({"secret-list", "--private"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "error: Filtering is not supported by this libvirt\n");
}

TEST(CliInputFilesTest, XmlFilesAreReadAsVirshReadsThem) {
  vsecret::test::TempDir dir;
  const std::string path = dir.path() + "/x.xml";
  vsecret::test::WriteFileRaw(path, std::string("<secret/>\0trailing", 18));
  auto xml = ReadXmlFile(path);
  ASSERT_TRUE(xml.has_value()) << xml.error().message();
  EXPECT_EQ(*xml, "<secret/>");  // up to the first NUL
  auto missing = ReadXmlFile(dir.path() + "/none.xml");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message(),
            "Failed to open file '" + dir.path() + "/none.xml': No such file or directory");
  auto directory = ReadXmlFile(dir.path());
  ASSERT_FALSE(directory.has_value());
  EXPECT_EQ(directory.error().message(), "Failed to read file '" + dir.path() + "': Is a directory");
  auto small = ReadInputFile(path, 4);
  ASSERT_FALSE(small.has_value());
  EXPECT_EQ(small.error().code(), ErrorCode::kSystemError);
}

}  // namespace
}  // namespace vsecret::cli
