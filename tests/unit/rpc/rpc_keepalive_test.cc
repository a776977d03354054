// The keepalive program shared by vsecretd's connections and RpcClient: its two frames, what
// counts as one of them, and the timer that decides when to ping and when to give up.
#include <gtest/gtest.h>

#include "rpc/keepalive.h"

namespace vsecret::rpc {
namespace {

using std::chrono::seconds;

Header KeepAliveHeader(std::int32_t proc) {
  Header h;
  h.prog = kKeepAliveProgram;
  h.vers = kKeepAliveVersion;
  h.proc = proc;
  h.type = MessageType::kMessage;
  return h;
}

TEST(RpcKeepAliveTest, FramesAreLibvirtsBytes) {
  EXPECT_EQ(ToHex(KeepAlivePingFrame()), "0000001c6b6565700000000100000001000000020000000000000000");
  EXPECT_EQ(ToHex(KeepAlivePongFrame()), "0000001c6b6565700000000100000002000000020000000000000000");
}

TEST(RpcKeepAliveTest, ClassifiesOnlyKeepAliveMessagesOfVersionOne) {
  EXPECT_EQ(ClassifyKeepAlive(KeepAliveHeader(kProcPing)), KeepAliveMessage::kPing);
  EXPECT_EQ(ClassifyKeepAlive(KeepAliveHeader(kProcPong)), KeepAliveMessage::kPong);
  EXPECT_EQ(ClassifyKeepAlive(KeepAliveHeader(3)), KeepAliveMessage::kUnknown);
  Header call = KeepAliveHeader(kProcPing);
  call.type = MessageType::kCall;  // libvirtd answers this one with "Cannot find program"
  EXPECT_EQ(ClassifyKeepAlive(call), KeepAliveMessage::kNotKeepAlive);
  Header v2 = KeepAliveHeader(kProcPing);
  v2.vers = 2;
  EXPECT_EQ(ClassifyKeepAlive(v2), KeepAliveMessage::kNotKeepAlive);
  Header remote = KeepAliveHeader(kProcPing);
  remote.prog = kRemoteProgram;
  EXPECT_EQ(ClassifyKeepAlive(remote), KeepAliveMessage::kNotKeepAlive);
}

TEST(RpcKeepAliveTest, TimerPingsEachIntervalThenGivesUp) {
  const auto t0 = KeepAliveTimer::Clock::now();
  KeepAliveTimer timer(t0);
  using Action = KeepAliveTimer::Action;
  EXPECT_EQ(timer.Check(t0 + seconds(4), 5, 2), Action::kNone);
  EXPECT_EQ(timer.Check(t0 + seconds(5), 5, 2), Action::kPing);
  EXPECT_EQ(timer.Check(t0 + seconds(6), 5, 2), Action::kNone);  // one PING per interval
  EXPECT_EQ(timer.Check(t0 + seconds(10), 5, 2), Action::kPing);
  EXPECT_EQ(timer.pings_sent(), 2);
  EXPECT_EQ(timer.Check(t0 + seconds(14), 5, 2), Action::kNone);
  EXPECT_EQ(timer.Check(t0 + seconds(15), 5, 2), Action::kGiveUp);
}

TEST(RpcKeepAliveTest, TrafficRestartsTheTimerAndZeroIntervalIsOff) {
  const auto t0 = KeepAliveTimer::Clock::now();
  KeepAliveTimer timer(t0);
  using Action = KeepAliveTimer::Action;
  EXPECT_EQ(timer.Check(t0 + seconds(5), 5, 1), Action::kPing);
  timer.OnTraffic(t0 + seconds(7));
  EXPECT_EQ(timer.pings_sent(), 0);
  EXPECT_EQ(timer.Check(t0 + seconds(11), 5, 1), Action::kNone);
  EXPECT_EQ(timer.Check(t0 + seconds(12), 5, 1), Action::kPing);
  EXPECT_EQ(timer.Check(t0 + seconds(17), 5, 1), Action::kGiveUp);
  EXPECT_EQ(timer.Check(t0 + seconds(1000), 0, 1), Action::kNone);
  EXPECT_EQ(timer.Check(t0 + seconds(1000), -1, 1), Action::kNone);
}

}  // namespace
}  // namespace vsecret::rpc
