// vsecretd's logging set-up (daemon/daemon_logging.h): precedence of --verbose, the environment
// and the file, the default output (the journal under systemd, stderr otherwise), errors.
#include "daemon/daemon_logging.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vsecret::daemon {
namespace {

LogSettings Settings(const DaemonConfig& c, bool verbose = false, LoggingEnvironment env = {}) {
  auto s = DaemonLogSettings(c, verbose, env);
  EXPECT_TRUE(s) << s.error().message();
  return s ? *s : LogSettings{};
}

TEST(DaemonLogging, DefaultsToWarningsOnStderr) {
  LogSettings s = Settings(DaemonConfig{});
  EXPECT_EQ(s.level, LogLevel::kWarning);
  EXPECT_TRUE(s.filters.empty());
  EXPECT_EQ(FormatLogOutputs(s.outputs), "3:stderr");
}

TEST(DaemonLogging, StartedBySystemdTheDefaultIsTheJournal) {
  DaemonConfig c;
  c.log_level = 2;
  LoggingEnvironment env;
  env.stderr_is_journal = true;
  EXPECT_EQ(FormatLogOutputs(Settings(c, false, env).outputs), "2:journald");
  // Outputs given in the file are used as they are.
  c.log_outputs = "1:stderr";
  EXPECT_EQ(FormatLogOutputs(Settings(c, false, env).outputs), "1:stderr");
}

TEST(DaemonLogging, CommandLineThenEnvironmentThenFile) {
  DaemonConfig c;
  c.log_level = 4;
  EXPECT_EQ(Settings(c).level, LogLevel::kError);
  LoggingEnvironment env;
  env.level = "1";
  EXPECT_EQ(Settings(c, false, env).level, LogLevel::kDebug);
  env.level = "9";  // ignored, as libvirtd ignores a bad LIBVIRT_DEBUG
  EXPECT_EQ(Settings(c, false, env).level, LogLevel::kError);
  // --verbose lowers the level to info, never raises it.
  EXPECT_EQ(Settings(c, true).level, LogLevel::kInfo);
  env.level = "1";
  EXPECT_EQ(Settings(c, true, env).level, LogLevel::kDebug);
}

TEST(DaemonLogging, FiltersAndOutputsFromTheFile) {
  auto c = ParseDaemonConfig(
      "log_level = 3\nlog_filters = \"1:rpc 3:driver\"\n"
      "log_outputs = \"1:stderr 2:file:/var/log/vsecretd.log\"\n",
      "vsecretd.conf");
  ASSERT_TRUE(c) << c.error().message();
  LogSettings s = Settings(*c);
  EXPECT_EQ(s.filters, (std::vector<LogFilter>{{LogLevel::kDebug, "rpc"}, {LogLevel::kWarning, "driver"}}));
  EXPECT_EQ(FormatLogOutputs(s.outputs), "1:stderr 2:file:/var/log/vsecretd.log");
}

TEST(DaemonLogging, BadValuesAreLibvirtsErrors) {
  DaemonConfig c;
  c.log_filters = "rpc";
  auto s = DaemonLogSettings(c, false, {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "invalid argument: Malformed format for filter 'rpc'");
  c.log_filters = "";
  c.log_outputs = "1:bogus";
  s = DaemonLogSettings(c, false, {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(),
            "invalid argument: Invalid log destination 'bogus' for log output '1:bogus'");
}

}  // namespace
}  // namespace vsecret::daemon
