// The hidden `complete` command and the shell's TAB completer (cli/complete.h) over a real
// embedded store, checked against what virsh's completer offers for the same words.
#include "cli/complete.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/cli_app.h"
#include "cli/help.h"
#include "cli_test_support.h"
#include "test_util.h"

namespace vsecret::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kUuidA[] = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";
constexpr char kUuidB[] = "1b81f5b2-8403-7b23-c8d6-21ccc2f80d6f";

// Captures the completer the shell installs and asks it one question per line read.
class CompletingReader final : public LineReader {
 public:
  std::vector<std::pair<std::string, std::string>> questions;  // (line before, text)
  std::vector<std::vector<std::string>> answers;
  bool completer_removed = false;

  std::optional<std::string> ReadLine(const std::string& /*prompt*/) override {
    if (next_ >= questions.size() || !completer_) return std::nullopt;
    const auto& [line, text] = questions[next_++];
    answers.push_back(completer_(line, text));
    return std::string("echo asked");
  }
  void AddHistory(const std::string&) override {}
  void SetCompleter(Completer completer) override {
    if (!completer && completer_) completer_removed = true;
    completer_ = std::move(completer);
  }

 private:
  Completer completer_;
  std::size_t next_ = 0;
};

class CompleteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Define(kUuidA, "<usage type='volume'><volume>/var/lib/a.img</volume></usage>");
    Define(kUuidB, "<usage type='ceph'><name>client.admin secret</name></usage>");
    std::string dir = files_.path() + "/pool";
    ASSERT_EQ(Run({"pool-define-as", "images", "dir", "--target", dir}).status, 0);
    ASSERT_EQ(Run({"pool-build", "images"}).status, 0);
    ASSERT_EQ(Run({"pool-start", "images"}).status, 0);
    ASSERT_EQ(Run({"vol-create-as", "images", "disk1.img", "1M"}).status, 0);
    ASSERT_EQ(Run({"vol-create-as", "images", "data.img", "1M"}).status, 0);
  }

  void Define(const std::string& uuid, const std::string& usage) {
    std::string path = files_.path() + "/" + uuid + ".xml";
    vsecret::test::WriteFileRaw(
        path, "<secret ephemeral='no' private='no'><uuid>" + uuid + "</uuid>" + usage + "</secret>");
    ASSERT_EQ(Run({"secret-define", path}).status, 0);
  }

  test::CliResult Run(std::vector<std::string> args, LineReader* reader = nullptr) {
    args.insert(args.begin(), {"vsecret", "-c", Uri()});
    StringSink out, err;
    test::FakePasswordReader passwords;
    test::FakeLineReader lines(out, {});
    CliIo io;
    io.out = &out;
    io.err = &err;
    io.passwords = &passwords;
    io.line_reader = reader != nullptr ? reader : &lines;
    io.factory = [](std::string_view uri, bool ro) { return OpenConnection(uri, ro); };
    test::CliResult r;
    r.status = RunCli(args, io);
    r.out = out.text();
    r.err = err.text();
    return r;
  }

  // `vsecret -q -c URI complete -- words...`, one candidate a line.
  std::vector<std::string> Complete(std::vector<std::string> words) {
    words.insert(words.begin(), {"-q", "complete", "--"});
    test::CliResult r = Run(words);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.err, "");
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < r.out.size()) {
      std::size_t nl = r.out.find('\n', start);
      if (nl == std::string::npos) nl = r.out.size();
      lines.push_back(r.out.substr(start, nl - start));
      start = nl + 1;
    }
    return lines;
  }

  std::string Uri() const { return "secret:///embed?root=" + root_.path(); }

  vsecret::test::TempDir root_;
  vsecret::test::TempDir files_;
};

TEST_F(CompleteTest, CommandNamesByPrefixWithoutHiddenOnes) {
  EXPECT_THAT(Complete({"secret-"}),
              ElementsAre("secret-define", "secret-dumpxml", "secret-event", "secret-get-value",
                          "secret-list", "secret-set-value", "secret-undefine"));
  std::vector<std::string> all = Complete({""});
  EXPECT_THAT(all, ::testing::Contains("vol-list"));
  EXPECT_THAT(all, ::testing::Not(::testing::Contains("complete")));
  EXPECT_THAT(Complete({"nosuch"}), IsEmpty());
}

TEST_F(CompleteTest, OptionsNotGivenYet) {
  EXPECT_THAT(Complete({"secret-get-value", ""}), ElementsAre("--secret", "--plain"));
  EXPECT_THAT(Complete({"secret-get-value", "--pl"}), ElementsAre("--plain"));
  EXPECT_THAT(Complete({"secret-get-value", "--plain", ""}), ElementsAre("--secret"));
  // A positional word fills --secret.
  EXPECT_THAT(Complete({"secret-get-value", kUuidA, ""}), ElementsAre("--plain"));
  EXPECT_THAT(Complete({"secret-get-value", "--secret", kUuidA, "--plain", ""}), IsEmpty());
  // argv options stay on offer; aliases never are.
  EXPECT_THAT(Complete({"echo", "a", ""}), ElementsAre("--shell", "--xml", "--split", "--err", "--string"));
  EXPECT_THAT(Complete({"unknown-command", ""}), IsEmpty());
}

TEST_F(CompleteTest, SecretUuidsFromTheConnection) {
  EXPECT_THAT(Complete({"secret-get-value", "--secret", ""}), UnorderedElementsAre(kUuidA, kUuidB));
  EXPECT_THAT(Complete({"secret-undefine", "0"}), ElementsAre(kUuidA));
  EXPECT_THAT(Complete({"secret-dumpxml", "1b8"}), ElementsAre(kUuidB));
  // Nothing left to fill positionally.
  EXPECT_THAT(Complete({"secret-get-value", "--secret", kUuidA, "0"}), IsEmpty());
  // vol-create-as --secret also takes a volume usage name.
  EXPECT_THAT(Complete({"vol-create-as", "--secret", ""}),
              UnorderedElementsAre(kUuidA, kUuidB, "/var/lib/a.img"));
  EXPECT_THAT(Complete({"vol-create-as", "--secret", "/var"}), ElementsAre("/var/lib/a.img"));
}

TEST_F(CompleteTest, PoolAndVolumeNames) {
  EXPECT_THAT(Complete({"vol-list", "im"}), ElementsAre("images"));
  EXPECT_THAT(Complete({"pool-info", "--pool", ""}), ElementsAre("images"));
  EXPECT_THAT(Complete({"vol-list", "images", ""}), ElementsAre("--details"));
  EXPECT_THAT(Complete({"vol-info", "--pool", "images", ""}), ElementsAre("--vol", "--bytes", "--physical"));
  EXPECT_THAT(Complete({"vol-info", "--pool", "images", "d"}), UnorderedElementsAre("disk1.img", "data.img"));
  EXPECT_THAT(Complete({"vol-info", "--pool=images", "--vol", "di"}), ElementsAre("disk1.img"));
  // Without --pool there is no pool to list volumes of, as in virsh.
  EXPECT_THAT(Complete({"vol-info", "d"}), IsEmpty());
  EXPECT_THAT(Complete({"vol-info", "--pool", "nosuch", "d"}), IsEmpty());
}

TEST_F(CompleteTest, FixedValueLists) {
  EXPECT_THAT(Complete({"secret-event", "--event", ""}), ElementsAre("lifecycle", "value-changed"));
  EXPECT_THAT(Complete({"vol-wipe", "--algorithm", "r"}), ElementsAre("random"));
  EXPECT_THAT(Complete({"help", "secret-g"}), ElementsAre("secret-get-value"));
  EXPECT_THAT(Complete({"help", ""}), ElementsAre("--command"));
  EXPECT_THAT(Complete({"secret-event", "--timeout", ""}), IsEmpty());
}

TEST_F(CompleteTest, TheWordsAreNotTokenizedAgain) {
  // As virsh: one argument is the text to complete, whatever it holds.
  EXPECT_THAT(Complete({"secret-get-value --plain "}), IsEmpty());
  EXPECT_THAT(Complete({"secret-get-value"}), ElementsAre("secret-get-value"));
}

TEST_F(CompleteTest, NotListedInHelpButDescribedByName) {
  EXPECT_EQ(GlobalHelpText().find("complete"), std::string::npos);
  EXPECT_EQ(UsageText("vsecret").find("complete"), std::string::npos);
  test::CliResult r = Run({"help", "complete"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("complete - internal command for autocompletion"), std::string::npos);
}

TEST_F(CompleteTest, ConnectionFailureOffersNothing) {
  StringSink out, err;
  test::FakePasswordReader passwords;
  test::FakeLineReader lines(out, {});
  CliIo io;
  io.out = &out;
  io.err = &err;
  io.passwords = &passwords;
  io.line_reader = &lines;
  io.factory = [](std::string_view, bool) -> Result<std::unique_ptr<Connection>> {
    return Fail(ErrorCode::kNoConnect, ErrorDomain::kNone, "no connection");
  };
  // No -c: the command names need no connection, the UUIDs cannot come.
  EXPECT_EQ(RunCli({"vsecret", "-q", "complete", "--", "secret-get-v"}, io), 0);
  EXPECT_EQ(out.text(), "secret-get-value\n");
  EXPECT_EQ(RunCli({"vsecret", "-q", "complete", "--", "secret-get-value", "0"}, io), 0);
  EXPECT_EQ(out.text(), "secret-get-value\n");
}

TEST_F(CompleteTest, InteractiveShellCompletesTheLastCommandOfTheLine) {
  CompletingReader reader;
  reader.questions = {
      {"", "secret-li"},
      {"echo x; secret-get-value ", "0"},
      {"secret-get-value \"--plain\" ", ""},
      {"vol-info --pool 'images' --vol ", "da"},
  };
  test::CliResult r = Run({}, &reader);
  EXPECT_EQ(r.status, 0);
  ASSERT_EQ(reader.answers.size(), 4u);
  EXPECT_THAT(reader.answers[0], ElementsAre("secret-list"));
  EXPECT_THAT(reader.answers[1], ElementsAre(kUuidA));
  EXPECT_THAT(reader.answers[2], ElementsAre("--secret"));
  EXPECT_THAT(reader.answers[3], ElementsAre("data.img"));
  EXPECT_TRUE(reader.completer_removed);
}

TEST_F(CompleteTest, InteractiveShellNeverConnectsForTab) {
  // Without -c the shell connects lazily; TAB before the first command offers no live values.
  CompletingReader reader;
  reader.questions = {{"secret-get-value ", "0"}, {"secret-get-value ", "0"}};
  StringSink out, err;
  test::FakePasswordReader passwords;
  CliIo io;
  io.out = &out;
  io.err = &err;
  io.passwords = &passwords;
  io.line_reader = &reader;
  int opens = 0;
  std::string uri = Uri();
  io.factory = [&](std::string_view, bool ro) {
    ++opens;
    return OpenConnection(uri, ro);
  };
  EXPECT_EQ(RunCli({"vsecret"}, io), 0);
  ASSERT_EQ(reader.answers.size(), 2u);
  EXPECT_THAT(reader.answers[0], IsEmpty());
  EXPECT_EQ(opens, 0);  // `echo` needs no connection either
  EXPECT_EQ(err.text(), "");
}

}  // namespace
}  // namespace vsecret::cli
