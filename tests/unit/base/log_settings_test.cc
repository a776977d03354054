// libvirt's log_filters / log_outputs syntax (base/log_settings.h) and what Log() does with the
// settings ConfigureLogging() installs (base/log.h). The error texts are libvirtd 9.0's, as it
// prints them for the same vsecretd.conf-style values.
#include "base/log_settings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/log.h"
#include "test_util.h"

namespace vsecret {
namespace {

std::string FilterError(const std::string& text) {
  auto f = ParseLogFilters(text);
  return f ? std::string("(no error)") : f.error().message();
}

std::string OutputError(const std::string& text) {
  auto o = ParseLogOutputs(text);
  return o ? std::string("(no error)") : o.error().message();
}

TEST(LogSettings, Filters) {
  auto f = ParseLogFilters("  1:rpc\t3:driver 4:+store\n2:a:b ");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(*f, (std::vector<LogFilter>{{LogLevel::kDebug, "rpc"},
                                        {LogLevel::kWarning, "driver"},
                                        {LogLevel::kError, "store"},
                                        {LogLevel::kInfo, "a:b"}}));
  EXPECT_TRUE(ParseLogFilters("")->empty());
  EXPECT_TRUE(ParseLogFilters(" \t ")->empty());
}

TEST(LogSettings, FilterErrorsAreLibvirts) {
  EXPECT_EQ(FilterError("rpc"), "invalid argument: Malformed format for filter 'rpc'");
  EXPECT_EQ(FilterError("1:rpc 3"), "invalid argument: Malformed format for filter '3'");
  EXPECT_EQ(FilterError("9:rpc"), "invalid argument: Invalid priority '9' for filter '9:rpc'");
  EXPECT_EQ(FilterError("x:rpc"), "invalid argument: Invalid priority 'x' for filter 'x:rpc'");
  EXPECT_EQ(FilterError(":rpc"), "invalid argument: Invalid priority '' for filter ':rpc'");
  EXPECT_EQ(FilterError("1:"), "invalid argument: Invalid match string ''");
  EXPECT_EQ(FilterError("1:+"), "invalid argument: Invalid match string '+'");
  auto e = ParseLogFilters("rpc");
  EXPECT_EQ(e.error().code(), ErrorCode::kInvalidArg);
}

TEST(LogSettings, Outputs) {
  auto o = ParseLogOutputs("1:stderr  2:file:/var/log/v.log 3:journald\t4:syslog:vsecretd");
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(*o, (std::vector<LogOutput>{{LogLevel::kDebug, LogDestination::kStderr, ""},
                                        {LogLevel::kInfo, LogDestination::kFile, "/var/log/v.log"},
                                        {LogLevel::kWarning, LogDestination::kJournald, ""},
                                        {LogLevel::kError, LogDestination::kSyslog, "vsecretd"}}));
  EXPECT_EQ(FormatLogOutputs(*o), "1:stderr 2:file:/var/log/v.log 3:journald 4:syslog:vsecretd");
  EXPECT_TRUE(ParseLogOutputs("  ")->empty());
}

TEST(LogSettings, OutputErrorsAreLibvirts) {
  EXPECT_EQ(OutputError("1:bogus"),
            "invalid argument: Invalid log destination 'bogus' for log output '1:bogus'");
  EXPECT_EQ(OutputError("x:stderr"), "invalid argument: Invalid log priority 'x' for log output 'x:stderr'");
  EXPECT_EQ(OutputError("0:stderr"), "invalid argument: Invalid log priority '0' for log output '0:stderr'");
  EXPECT_EQ(OutputError("1:stderr 5:stderr"),
            "invalid argument: Invalid log priority '5' for log output '5:stderr'");
  EXPECT_EQ(OutputError("1"), "invalid argument: Malformed format for log output '1'");
  EXPECT_EQ(OutputError("stderr"), "invalid argument: Malformed format for log output 'stderr'");
  for (const char* text : {"1:file", "1:syslog", "1:stderr:extra", "1:journald:x", "1:file:/a:b.log"}) {
    std::string dest = std::string(text).substr(2);
    dest = dest.substr(0, dest.find(':'));
    EXPECT_EQ(OutputError(text), "invalid argument: Log output '" + std::string(text) +
                                     "' does not meet the format requirements for destination type '" + dest +
                                     "'")
        << text;
  }
  // libvirt would try to open the working directory as the file.
  EXPECT_EQ(
      OutputError("1:file:"),
      "invalid argument: Log output '1:file:' does not meet the format requirements for destination type "
      "'file'");
}

TEST(LogSettings, FilterMatchesAnyPartOfTheSourceName) {
  LogFilter rpc{LogLevel::kDebug, "rpc"};
  EXPECT_TRUE(LogFilterMatches(rpc, "rpc.server"));
  EXPECT_TRUE(LogFilterMatches(rpc, "rpc"));
  EXPECT_TRUE(LogFilterMatches(rpc, "x.rpc.y"));
  EXPECT_FALSE(LogFilterMatches(rpc, "daemon"));
  LogFilter glob{LogLevel::kDebug, "rpc.*s"};
  EXPECT_TRUE(LogFilterMatches(glob, "rpc.tls"));
  EXPECT_FALSE(LogFilterMatches(glob, "rpc.client"));
}

class ConfiguredLog : public ::testing::Test {
 protected:
  void TearDown() override { ResetLogging(); }
  test::TempDir tmp_;
};

// Filters decide per source, the default level decides for the rest, and each output keeps
// only the messages at or above its own level.
TEST_F(ConfiguredLog, FiltersThenOutputLevels) {
  const std::string all = tmp_.path() + "/all.log";
  const std::string errors = tmp_.path() + "/errors.log";
  LogSettings s;
  s.level = LogLevel::kWarning;
  s.filters = *ParseLogFilters("1:rpc 4:store");
  s.outputs = *ParseLogOutputs("1:file:" + all + " 4:file:" + errors);
  ASSERT_TRUE(ConfigureLogging(s));
  Log(LogLevel::kDebug, "rpc.server", "rpc debug");
  Log(LogLevel::kInfo, "daemon", "daemon info");
  Log(LogLevel::kWarning, "daemon", "daemon warning");
  Log(LogLevel::kWarning, "store", "store warning");
  Log(LogLevel::kError, "store", "store error");
  ResetLogging();
  std::string a = test::ReadFileOrEmpty(all);
  EXPECT_NE(a.find(": debug : rpc.server : rpc debug\n"), std::string::npos) << a;
  EXPECT_EQ(a.find("daemon info"), std::string::npos) << a;
  EXPECT_NE(a.find(": warning : daemon : daemon warning\n"), std::string::npos) << a;
  EXPECT_EQ(a.find("store warning"), std::string::npos) << a;
  EXPECT_NE(a.find(": error : store : store error\n"), std::string::npos) << a;
  std::string e = test::ReadFileOrEmpty(errors);
  EXPECT_EQ(e.find("warning"), std::string::npos) << e;
  EXPECT_NE(e.find("store error"), std::string::npos) << e;
  EXPECT_EQ(test::FileMode(all), 0600u);
}

TEST_F(ConfiguredLog, FilesAreAppendedTo) {
  const std::string path = tmp_.path() + "/v.log";
  test::WriteFileRaw(path, "earlier\n");
  LogSettings s;
  s.outputs = *ParseLogOutputs("3:file:" + path);
  ASSERT_TRUE(ConfigureLogging(s));
  Log(LogLevel::kError, "daemon", "later");
  ResetLogging();
  std::string text = test::ReadFileOrEmpty(path);
  EXPECT_EQ(text.rfind("earlier\n", 0), 0u) << text;
  EXPECT_NE(text.find("later"), std::string::npos) << text;
}

TEST_F(ConfiguredLog, AFileThatCannotBeOpenedChangesNothing) {
  const std::string first = tmp_.path() + "/first.log";
  LogSettings good;
  good.outputs = *ParseLogOutputs("1:file:" + first);
  ASSERT_TRUE(ConfigureLogging(good));
  LogSettings bad;
  bad.outputs =
      *ParseLogOutputs("1:file:" + tmp_.path() + "/b.log 1:file:" + tmp_.path() + "/no/such/dir/x.log");
  auto r = ConfigureLogging(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "failed to open " + tmp_.path() + "/no/such/dir/x.log: No such file or directory");
  Log(LogLevel::kError, "daemon", "still the first");
  ResetLogging();
  EXPECT_NE(test::ReadFileOrEmpty(first).find("still the first"), std::string::npos);
  EXPECT_EQ(test::ReadFileOrEmpty(tmp_.path() + "/b.log"), "");
}

}  // namespace
}  // namespace vsecret
