// The program as a whole: global options, connecting, several commands per invocation, the
// interactive shell, help, and the shell's own commands. Expected text is from virsh 9.0
// (with "virsh" read as "vsecret" where the program names itself).
#include <gtest/gtest.h>

#include "cli/command_def.h"
#include "cli/help.h"
#include "cli_test_support.h"
#include "vsecret/compat.h"

namespace vsecret::cli {
namespace {

using test::CliHarness;
using test::CliResult;
using test::kUuid1;

TEST(CliShellTest, ConnectsUpFrontWithAnExplicitUri) {
  CliHarness h;
  CliResult r = h.Run({"-c", "fake:///bad", "echo", "hi"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "error: failed to connect to the hypervisor\n"
            "error: invalid argument: Missing URI parameter 'root'\n");
}

TEST(CliShellTest, DefaultConnectionIsOpenedOnFirstUse) {
  CliHarness h;
  CliResult r = h.Run({"echo", "hi"});
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_TRUE(h.opened_uris.empty());
  r = h.Run({"secret-list"});
  EXPECT_EQ(r.status, 0);
  ASSERT_EQ(h.opened_uris.size(), 1u);
  EXPECT_EQ(h.opened_uris[0], "");  // OpenConnection resolves the default
}

TEST(CliShellTest, ReadOnlyFlagReachesTheConnection) {
  CliHarness h;
  h.store->Add(kUuid1);
  CliResult r = h.Run({"-r", "-c", "fake:///x", "secret-set-value", kUuid1, "YQ=="});
  EXPECT_EQ(r.err,
            "warning: Passing secret value as command-line argument is insecure!\n"
            "error: Failed to set secret value\n"
            "error: operation forbidden: read only access prevents virSecretSetValue\n");
}

TEST(CliShellTest, SeveralCommandsInOneString) {
  CliHarness h;
  CliResult r = h.Run({"-c", "fake:///x", "secret-list; secret-dumpxml zzz"});
  EXPECT_EQ(r.status, 1);  // the last command decides
  EXPECT_EQ(r.out, " UUID   Usage\n---------------\n\n\n");
  EXPECT_EQ(r.err,
            "error: failed to get secret 'zzz'\n"
            "error: uuidstr in virSecretLookupByUUIDString must be a valid UUID\n");
  r = h.Run({"-c", "fake:///x", "secret-dumpxml zzz; echo ok"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "\nok\n");
}

TEST(CliShellTest, QuitStopsTheCommandList) {
  CliHarness h;
  CliResult r = h.Run({"echo a; quit; echo b"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "a\n");
}

TEST(CliShellTest, EmptyAndBlankCommandStrings) {
  CliHarness h;
  CliResult r = h.Run({""});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out + r.err, "");
  r = h.Run({" "});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out + r.err, "");
  EXPECT_EQ(h.Run({";"}).status, 0);
}

TEST(CliShellTest, GlobalOptionErrors) {
  CliHarness h;
  EXPECT_EQ(h.Run({"-x"}).err, "error: unsupported option '-x'. See --help.\n");
  EXPECT_EQ(h.Run({"--bogus"}).err, "error: unsupported option '--bogus'. See --help.\n");
  EXPECT_EQ(h.Run({"-c"}).err, "error: option '-c'/'--connect' requires an argument\n");
  EXPECT_EQ(h.Run({"--connect"}).err, "error: option '-c'/'--connect' requires an argument\n");
  EXPECT_EQ(h.Run({"-d", "x", "echo"}).err, "error: option -d takes a numeric argument\n");
  EXPECT_EQ(h.Run({"--debug=x", "echo"}).err, "error: option --debug takes a numeric argument\n");
  EXPECT_EQ(h.Run({"-e", "xx", "echo"}).err, "error: Invalid string 'xx' for escape sequence\n");
  EXPECT_EQ(h.Run({"-k", "x", "echo"}).err, "error: Invalid value for option -k\n");
  EXPECT_EQ(h.Run({"--keepalive-count=-1", "echo"}).err,
            "error: option --keepalive-count requires a positive integer argument\n");
  CliResult r = h.Run({"-d", "9", "echo", "hi"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_EQ(r.err, "error: ignoring debug level 9 out of range [0-4]\n");
}

TEST(CliShellTest, AbbreviatedAndCombinedOptions) {
  CliHarness h;
  EXPECT_EQ(h.Run({"--qu", "echo", "hi"}).out, "hi");
  EXPECT_EQ(h.Run({"-qr", "echo", "hi"}).out, "hi");
}

TEST(CliShellTest, VersionAndUsage) {
  CliHarness h;
  EXPECT_EQ(h.Run({"-v"}).out, "0.1.0\n");
  EXPECT_EQ(h.Run({"--version"}).out, "0.1.0\n");
  EXPECT_EQ(h.Run({"--version=long"}).out.rfind("vsecret command line tool 0.1.0\n", 0), 0u);
  CliResult r = h.Run({"-h"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(
      r.out.rfind("\nvsecret [options]... [<command_string>]\nvsecret [options]... <command> [args...]\n", 0),
      0u);
  EXPECT_NE(r.out.find(" Secret (help keyword 'secret')\n    secret-define "), std::string::npos);
}

TEST(CliShellTest, TimingReplacesTheBlankLine) {
  CliHarness h;
  CliResult r = h.Run({"-t", "echo", "hi"});
  EXPECT_EQ(r.out.rfind("hi\n(Time: ", 0), 0u);
  EXPECT_EQ(r.out.substr(r.out.size() - 6), " ms)\n\n");
}

TEST(CliShellTest, HelpForEveryOptionOfSetValue) {
  const CommandDef* def = FindCommand("secret-set-value");
  ASSERT_NE(def, nullptr);
  std::string text = CommandHelpText(*def);
  EXPECT_EQ(text.rfind("  NAME\n    secret-set-value - ", 0), 0u);
  EXPECT_NE(
      text.find("\n  SYNOPSIS\n    secret-set-value <secret> [--file <string>] [--plain] [--interactive] "
                "[--base64 <string>]\n"),
      std::string::npos);
  EXPECT_NE(text.find("\n  DESCRIPTION\n    "), std::string::npos);
  for (const char* label : {"    [--secret] <string>  ", "    --file <string>  ", "    --plain          ",
                            "    --interactive    ", "    --base64 <string>  "}) {
    EXPECT_NE(text.find(std::string("\n  OPTIONS\n")), std::string::npos);
    EXPECT_NE(text.find(label), std::string::npos) << label;
  }
  // virsh 12.x ends a command's help with the last option line; 9.0 added a blank line.
  EXPECT_EQ(text.substr(text.size() - 2), ")\n");
  ScopedLibvirtBehaviour compat(LibvirtBehaviour::kLibvirt9);
  text = CommandHelpText(*def);
  EXPECT_EQ(text.substr(text.size() - 3), ")\n\n");
}

TEST(CliShellTest, HelpSynopsisShapes) {
  auto synopsis = [](const char* name) {
    std::string text = CommandHelpText(*FindCommand(name));
    auto start = text.find("SYNOPSIS\n    ") + 13;
    return text.substr(start, text.find('\n', start) - start);
  };
  EXPECT_EQ(synopsis("secret-define"), "secret-define <file> [--validate]");
  EXPECT_EQ(synopsis("secret-dumpxml"), "secret-dumpxml <secret> [--xpath <string>] [--wrap]");
  EXPECT_EQ(synopsis("secret-event"),
            "secret-event [--secret <string>] [--event <string>] [--loop] [--timeout <number>] [--list] "
            "[--timestamp]");
  EXPECT_EQ(synopsis("echo"), "echo [--shell] [--xml] [--split] [--err] [<string>]...");
  EXPECT_EQ(CommandHelpText(*FindCommand("quit")),
            "  NAME\n    quit - leave the interactive shell\n\n  SYNOPSIS\n    quit\n");
  ScopedLibvirtBehaviour compat(LibvirtBehaviour::kLibvirt9);
  EXPECT_EQ(CommandHelpText(*FindCommand("quit")),
            "  NAME\n    quit - leave the interactive shell\n\n  SYNOPSIS\n    quit\n\n");
}

TEST(CliShellTest, UsageDocumentsTheCompatSetting) {
  CliHarness h;
  CliResult r = h.Run({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(
      r.out.find(
          "    VSECRET_COMPAT=9.0      print what libvirt 9.0's virsh prints where it differs from 12.x\n"),
      std::string::npos)
      << r.out;
}

TEST(CliShellTest, HelpMentionsTheCompatSetting) {
  CliHarness h;
  CliResult r = h.Run({"help"});
  EXPECT_NE(r.out.find("set VSECRET_COMPAT=9.0 in the environment"), std::string::npos) << r.out;
}

TEST(CliShellTest, HelpCommandVariants) {
  CliHarness h;
  CliResult r = h.Run({"help", "secret"});
  EXPECT_EQ(r.out.rfind(" Secret (help keyword 'secret'):\n    secret-define                  ", 0), 0u);
  r = h.Run({"help", "foo"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "\n");
  EXPECT_EQ(r.err, "error: command or command group 'foo' doesn't exist\n");
  EXPECT_EQ(h.Run({"help", ""}).out.rfind("Grouped commands:\n\n Secret (help keyword 'secret'):\n", 0), 0u);
}

TEST(CliShellTest, EchoModes) {
  CliHarness h;
  EXPECT_EQ(h.Run({"echo", "--shell", "a b", "c'd", "", "$x", "ok"}).out, "'a b' 'c'\\''d' '' '$x' ok\n");
  EXPECT_EQ(h.Run({"echo", "--xml", "<a&>", "'\""}).out, "&lt;a&amp;&gt; &apos;&quot;\n");
  EXPECT_EQ(h.Run({"echo", "--split", "a,b,,c", "d"}).out, "a\nb,c\n d\n\n");
  CliResult r = h.Run({"echo", "--err", "hi"});
  EXPECT_EQ(r.out, "\n");
  EXPECT_EQ(r.err, "error: hi\n");
  EXPECT_EQ(h.Run({"echo", "--shell", "--xml", "x"}).err,
            "error: Options --shell and --xml are mutually exclusive\n");
  EXPECT_EQ(h.Run({"echo", "a "}).out, "a \n");
}

TEST(CliShellTest, CdOnlyInteractive) {
  CliHarness h;
  CliResult r = h.Run({"cd", "/"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "error: cd: command valid only in interactive mode\n");
}

TEST(CliShellTest, InteractiveSession) {
  CliHarness h;
  h.input_lines = {"echo hi", "", "echo \"a b\"; echo c", "secret-foo", "echo last"};
  CliResult r = h.Run({"-c", "fake:///x"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            "Welcome to vsecret, the virtualization interactive terminal.\n\n"
            "Type:  'help' for help with commands\n"
            "       'quit' to quit\n\n"
            "vsecret # echo hi\nhi\n"
            "vsecret # \n"
            "vsecret # echo \"a b\"; echo c\na b\nc\n"
            "vsecret # secret-foo\n"
            "vsecret # echo last\nlast\n"
            "vsecret # \n");
  EXPECT_EQ(r.err, "error: unknown command: 'secret-foo'\n");
  EXPECT_EQ(h.history,
            (std::vector<std::string>{"echo hi", "echo \"a b\"; echo c", "secret-foo", "echo last"}));
}

TEST(CliShellTest, InteractiveQuitQuietAndReadOnly) {
  CliHarness h;
  h.input_lines = {"echo hi", "quit", "echo no"};
  CliResult r = h.Run({"-q", "-r"});
  EXPECT_EQ(r.out, "vsecret > echo hi\nhivsecret > quit\n\n");
  h.input_lines = {"secret-dumpxml zzz"};
  r = h.Run({"-c", "fake:///x"});
  EXPECT_EQ(r.status, 0);  // the shell's own status, whatever the commands did
}

TEST(CliShellTest, InteractiveCdAndPwd) {
  CliHarness h;
  h.input_lines = {"cd /", "pwd", "cd /nonexistent-dir-for-test"};
  char* saved = getcwd(nullptr, 0);
  CliResult r = h.Run({"-q"});
  EXPECT_NE(r.out.find("vsecret # pwd\n/\n"), std::string::npos);
  EXPECT_EQ(r.err, "error: cd: No such file or directory: /nonexistent-dir-for-test\n");
  ASSERT_EQ(chdir(saved), 0);
  std::free(saved);
}

TEST(CliShellTest, ConnectCommandReopens) {
  CliHarness h;
  h.input_lines = {"connect fake:///other", "secret-list", "connect fake:///bad", "echo x"};
  CliResult r = h.Run({"-q", "-c", "fake:///x"});
  EXPECT_EQ(h.opened_uris, (std::vector<std::string>{"fake:///x", "fake:///other", "fake:///bad"}));
  EXPECT_EQ(r.err,
            "error: failed to connect to the hypervisor\n"
            "error: invalid argument: Missing URI parameter 'root'\n");
}

}  // namespace
}  // namespace vsecret::cli
