// Command-line syntax: the tokenizer, the option parser and their error messages. Expected
// strings come from running virsh 9.0 with the same input.
#include <gtest/gtest.h>

#include "cli/command_parser.h"
#include "cli/console.h"
#include "cli/tokenizer.h"
#include "cli_test_support.h"

namespace vsecret::cli {
namespace {

using test::CliHarness;
using test::CliResult;

std::vector<std::string> Words(std::string_view text, std::string* errors = nullptr, bool* ok = nullptr) {
  StringSink out, err;
  Console console(out, err);
  StringTokens tokens(text, console);
  std::vector<std::string> words;
  std::string word;
  bool good = true;
  while (true) {
    Token t = tokens.Next(&word, true);
    if (t == Token::kError) {
      good = false;
      break;
    }
    if (t == Token::kEnd) break;
    words.push_back(t == Token::kCmdEnd ? "<;>" : word);
  }
  if (errors) *errors = err.text();
  if (ok) *ok = good;
  return words;
}

TEST(CliTokenizerTest, SplitsOnBlanksAndSeparators) {
  EXPECT_EQ(Words("  a  b\tc;d\ne  "), (std::vector<std::string>{"a", "b", "c", "<;>", "d", "<;>", "e"}));
}

TEST(CliTokenizerTest, QuotesAndEscapes) {
  EXPECT_EQ(Words(R"(a"b c"d 'x\y' "q\"q" a\\b c\ d)"),
            (std::vector<std::string>{"ab cd", "x\\y", "q\"q", "a\\b", "c d"}));
  EXPECT_EQ(Words("'abc"), (std::vector<std::string>{"abc"}));  // unterminated '...' is fine
  EXPECT_EQ(Words("\"\" x"), (std::vector<std::string>{"", "x"}));
}

TEST(CliTokenizerTest, CommentsRunToEndOfLine) {
  EXPECT_EQ(Words("echo a #b c; d\necho e"), (std::vector<std::string>{"echo", "a", "<;>", "echo", "e"}));
  EXPECT_EQ(Words("echo x#y"), (std::vector<std::string>{"echo", "x#y"}));
}

TEST(CliTokenizerTest, BackslashNewlineIsRemoved) {
  EXPECT_EQ(Words("echo a\\\nb"), (std::vector<std::string>{"echo", "ab"}));
  EXPECT_EQ(Words("\\\necho x"), (std::vector<std::string>{"echo", "x"}));
}

TEST(CliTokenizerTest, SyntaxErrors) {
  std::string err;
  bool ok = true;
  Words("echo \"abc", &err, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(err, "error: missing \"\n");
  Words("echo abc\\", &err, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(err, "error: dangling \\\n");
}

class CliParserTest : public ::testing::Test {
 protected:
  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"-c", "fake:///x"});
    return harness_.Run(std::move(args));
  }
  CliHarness harness_;
};

TEST_F(CliParserTest, MissingRequiredOption) {
  CliResult r = Run({"secret-define"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "error: command 'secret-define' requires <file> option\n");
}

TEST_F(CliParserTest, UnknownOptionAndCommand) {
  EXPECT_EQ(Run({"secret-define", "--foo"}).err,
            "error: command 'secret-define' doesn't support option --foo\n");
  CliResult r = Run({"secret-foo"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "error: unknown command: 'secret-foo'\n");
}

TEST_F(CliParserTest, OptionValueErrors) {
  EXPECT_EQ(Run({"secret-define", "--file"}).err, "error: expected syntax: --file <string>\n");
  EXPECT_EQ(Run({"secret-event", "--timeout"}).err, "error: expected syntax: --timeout <number>\n");
  EXPECT_EQ(Run({"secret-define", "--validate=yes", "x.xml"}).err,
            "error: invalid '=' after option --validate\n");
  EXPECT_EQ(Run({"secret-define", "x.xml", "--file", "x.xml"}).err, "error: option --file already seen\n");
  EXPECT_EQ(Run({"secret-define", "x.xml", "extra"}).err, "error: unexpected data 'extra'\n");
  EXPECT_EQ(Run({"secret-list", "--ephemeral", "--ephemeral"}).err,
            "error: option --ephemeral already seen\n");
}

TEST_F(CliParserTest, EmptyValueIsReportedByTheCommand) {
  // The handler runs (hence the blank line) and complains about the empty value.
  CliResult r = Run({"secret-define", "--file="});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "\n");
  EXPECT_EQ(r.err, "error: Failed to get option 'file': Option argument is empty\n");
  EXPECT_EQ(Run({"secret-define", ""}).err, "error: Failed to get option 'file': Option argument is empty\n");
}

TEST_F(CliParserTest, DoubleDashEndsOptions) {
  CliResult r = Run({"secret-define", "--", "--validate"});
  EXPECT_EQ(r.err, "error: Failed to open file '--validate': No such file or directory\n");
  EXPECT_EQ(Run({"secret-define", "--"}).err, "error: command 'secret-define' requires <file> option\n");
  EXPECT_EQ(Run({"echo", "--", "--shell"}).out, "--shell\n");
}

TEST_F(CliParserTest, WordsThatAreNotOptions) {
  EXPECT_EQ(Run({"echo", "-x", "---x", "--\xc3\xa9"}).out, "-x ---x --\xc3\xa9\n");
  EXPECT_EQ(Run({"echo", "--9"}).err, "error: command 'echo' doesn't support option --9\n");
}

TEST_F(CliParserTest, PositionalStringOptions) {
  // secret-event's --secret, --event and --timeout fill positionally in declaration order.
  harness_.store->Add(test::kUuid1);
  CliResult r = Run({"secret-event", test::kUuid1, "lifecycle", "0"});
  EXPECT_EQ(r.err, "error: Numeric value '0' for <timeout> option is malformed or out of range\n");
}

TEST_F(CliParserTest, Aliases) {
  EXPECT_EQ(Run({"echo", "--str", "a"}).out, "a\n");
  EXPECT_EQ(Run({"echo", "--hi"}).out, "hello\n");
  EXPECT_EQ(Run({"echo", "--hi=x"}).err, "error: invalid '=' after option --hi\n");
  EXPECT_EQ(Run({"echo", "--string=a", "b"}).out, "a b\n");
}

TEST_F(CliParserTest, HelpOptionBecomesHelpCommand) {
  CliResult r = Run({"secret-undefine", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.substr(0, 29), "  NAME\n    secret-undefine - ");
  EXPECT_EQ(Run({"secret-list", "--help=x"}).err, "error: invalid '=' after option --help\n");
  // help itself ignores unknown options and extra words.
  EXPECT_EQ(Run({"help", "--foo", "secret-list", "extra"}).status, 0);
}

TEST_F(CliParserTest, ArgvSemicolonIsAWord) {
  // virsh 9.0 only splits commands on ';' inside a single command string.
  CliResult r = Run({"secret-list", ";", "secret-list"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "error: unexpected data ';'\n");
  EXPECT_EQ(Run({"echo", "a", ";", "echo", "c"}).out, "a ; echo c\n");
}

TEST_F(CliParserTest, SyntaxErrorRunsNothing) {
  CliResult r = Run({"echo a; secret-foo; echo b"});
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "error: unknown command: 'secret-foo'\n");
}

TEST(CliParsedCommandTest, TimeoutParsing) {
  CliHarness h;
  h.store->Add(test::kUuid1);
  auto timeout_error = [&](const std::string& value) {
    return h.Run({"-c", "fake:///x", "secret-event", "--event", "lifecycle", "--timeout", value}).err;
  };
  EXPECT_EQ(timeout_error("abc"),
            "error: Numeric value 'abc' for <timeout> option is malformed or out of range\n");
  EXPECT_EQ(timeout_error("-1"),
            "error: Numeric value '-1' for <timeout> option is malformed or out of range\n");
  EXPECT_EQ(timeout_error("-0"),
            "error: Numeric value '-0' for <timeout> option is malformed or out of range\n");
  EXPECT_EQ(timeout_error("1 "),
            "error: Numeric value '1 ' for <timeout> option is malformed or out of range\n");
  EXPECT_EQ(timeout_error("0x1"),
            "error: Numeric value '0x1' for <timeout> option is malformed or out of range\n");
  EXPECT_EQ(timeout_error("4294967296"),
            "error: Numeric value '4294967296' for <timeout> option is malformed or out of range\n");
  // Zero and too-large values are reported as the parsed number.
  EXPECT_EQ(timeout_error("00"),
            "error: Numeric value '0' for <timeout> option is malformed or out of range\n");
  EXPECT_EQ(timeout_error("2147484"),
            "error: Numeric value '2147484' for <timeout> option is malformed or out of range\n");
}

}  // namespace
}  // namespace vsecret::cli
