#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "cli/terminal.h"

namespace vsecret::cli {
namespace {

// Runs the reader over `input` until EOF; returns the lines read and what was echoed.
std::pair<std::vector<std::string>, std::string> ReadAll(const std::string& input) {
  std::FILE* in = fmemopen(const_cast<char*>(input.data()), input.size(), "r");
  if (input.empty()) in = std::fopen("/dev/null", "r");
  char* echoed = nullptr;
  std::size_t echoed_size = 0;
  std::FILE* out = open_memstream(&echoed, &echoed_size);
  PipedLineReader reader(in, out);
  std::vector<std::string> lines;
  while (auto line = reader.ReadLine("vsecret # ")) lines.push_back(*line);
  std::fclose(in);
  std::fclose(out);
  std::string echo(echoed, echoed_size);
  std::free(echoed);
  return {lines, echo};
}

// Expected echoes are what GNU readline writes for the same piped input (checked with virsh).
TEST(CliPipedReader, EchoesPromptAndLinesLikeReadline) {
  auto [lines, echo] = ReadAll("secret-list\n  x  \n\nbogus\n");
  EXPECT_EQ(lines, (std::vector<std::string>{"secret-list", "  x  ", "", "bogus"}));
  EXPECT_EQ(echo, "vsecret # secret-list\nvsecret #   x  \nvsecret # \nvsecret # bogus\nvsecret # ");
}

TEST(CliPipedReader, LastLineWithoutNewlineIsStillALine) {
  auto [lines, echo] = ReadAll("a\nb");
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(echo, "vsecret # a\nvsecret # b\nvsecret # ");
}

TEST(CliPipedReader, EmptyInputEndsAtOnce) {
  auto [lines, echo] = ReadAll("");
  EXPECT_TRUE(lines.empty());
  EXPECT_EQ(echo, "vsecret # ");
}

}  // namespace
}  // namespace vsecret::cli
