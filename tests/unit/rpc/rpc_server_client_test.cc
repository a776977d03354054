// ServerClient on its own: one end of a socketpair is the connection, the other the peer, and
// the test plays the server's loop by calling the readiness handlers itself. No RpcServer, no
// event loop thread: every step is deterministic.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "rpc/keepalive.h"
#include "rpc/server_client.h"
#include "rpc_test_support.h"
#include "test_util.h"

namespace vsecret::rpc {
namespace {

using test::HeaderOf;
using test::VoidCall;
using Next = ServerClient::Next;

constexpr std::uint64_t kTag = 42;

WireBuffer LengthWord(std::uint32_t n) {
  return WireBuffer{static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                    static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
}

class RpcServerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto driver = SecretDriver::Open(StorePaths::ForRoot(dir_.path()));
    ASSERT_TRUE(driver) << driver.error().message();
    driver_ = std::move(*driver);
    epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    ASSERT_TRUE(epoll_);
  }

  // Connects a ServerClient to a fresh socketpair; sndbuf > 0 shrinks the client's send buffer.
  void Connect(ServerClient::Options options = {}, int sndbuf = 0) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    UniqueFd mine(sv[0]);
    peer_ = UniqueFd(sv[1]);
    if (sndbuf > 0) {
      ASSERT_EQ(::setsockopt(mine.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    }
    auto client = ServerClient::Create(*driver_, SessionPolicy{}, std::move(mine), nullptr, epoll_.get(),
                                       kTag, std::move(options), ServerClient::Clock::now());
    ASSERT_TRUE(client) << client.error().message();
    client_ = std::move(*client);
  }

  void PeerSend(std::span<const std::uint8_t> bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(peer_.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << std::strerror(errno);
      off += static_cast<std::size_t>(n);
    }
  }

  // The next whole frame the client wrote, or nullopt when none is (completely) there.
  std::optional<WireBuffer> PeerRead(int timeout_ms = 0) {
    pollfd pfd{peer_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return std::nullopt;
    std::uint8_t len_word[4];
    if (::recv(peer_.get(), len_word, 4, MSG_PEEK | MSG_DONTWAIT) != 4) return std::nullopt;
    std::size_t len =
        (std::size_t{len_word[0]} << 24) | (len_word[1] << 16) | (len_word[2] << 8) | len_word[3];
    WireBuffer frame(len);
    if (::recv(peer_.get(), frame.data(), len, MSG_PEEK | MSG_DONTWAIT) != static_cast<ssize_t>(len)) {
      return std::nullopt;
    }
    EXPECT_EQ(::recv(peer_.get(), frame.data(), len, MSG_DONTWAIT), static_cast<ssize_t>(len));
    return frame;
  }

  bool PeerSeesEof() {
    pollfd pfd{peer_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 1000) <= 0) return false;
    char c;
    return ::recv(peer_.get(), &c, 1, MSG_DONTWAIT) == 0;
  }

  vsecret::test::TempDir dir_;
  std::unique_ptr<SecretDriver> driver_;
  UniqueFd epoll_;
  UniqueFd peer_;
  std::shared_ptr<ServerClient> client_;
};

TEST_F(RpcServerClientTest, ReassemblesFramesAcrossPartialReads) {
  Connect();
  WireBuffer two = VoidCall(Proc::kAuthList, 7);
  WireBuffer second = VoidCall(Proc::kAuthList, 8);
  two.insert(two.end(), second.begin(), second.end());
  // Three bytes at a time: the length word and the header both arrive split.
  for (std::size_t off = 0; off < two.size(); off += 3) {
    std::size_t n = std::min<std::size_t>(3, two.size() - off);
    PeerSend(std::span(two).subspan(off, n));
    ASSERT_EQ(client_->OnReadable(), Next::kWait);
    if (off + n < 28) {
      EXPECT_FALSE(PeerRead()) << "replied before the first frame was complete";
    }
  }
  auto first = PeerRead();
  auto next = PeerRead();
  ASSERT_TRUE(first && next);
  EXPECT_EQ(HeaderOf(*first).serial, 7u);
  EXPECT_EQ(HeaderOf(*first).type, MessageType::kReply);
  EXPECT_EQ(HeaderOf(*next).serial, 8u);
  EXPECT_FALSE(PeerRead());
}

TEST_F(RpcServerClientTest, SeveralFramesInOneReadAreAllAnswered) {
  Connect();
  WireBuffer burst;
  for (std::uint32_t serial = 0; serial < 4; ++serial) {
    WireBuffer f = VoidCall(Proc::kAuthList, serial);
    burst.insert(burst.end(), f.begin(), f.end());
  }
  PeerSend(burst);
  ASSERT_EQ(client_->OnReadable(), Next::kWait);
  for (std::uint32_t serial = 0; serial < 4; ++serial) {
    auto reply = PeerRead();
    ASSERT_TRUE(reply);
    EXPECT_EQ(HeaderOf(*reply).serial, serial);
  }
}

TEST_F(RpcServerClientTest, LengthWordOutOfRangeClosesTheConnection) {
  for (std::uint32_t bad : {std::uint32_t{kMaxFrame + 1}, std::uint32_t{kMinFrame - 1}, std::uint32_t{0}}) {
    Connect();
    WireBuffer frame = LengthWord(bad);
    frame.resize(64, 0);
    PeerSend(frame);
    EXPECT_EQ(client_->OnReadable(), Next::kClose) << "length word " << bad;
    EXPECT_FALSE(PeerRead()) << "length word " << bad;
    client_->Detach();
  }
}

TEST_F(RpcServerClientTest, LargestLegalLengthWordIsBuffered) {
  Connect();
  WireBuffer start = LengthWord(static_cast<std::uint32_t>(kMaxFrame));
  start.resize(1024, 0);
  PeerSend(start);
  EXPECT_EQ(client_->OnReadable(), Next::kWait);  // waits for the rest of its 32 MiB
}

TEST_F(RpcServerClientTest, PartialFrameBeyondTheInputBudgetClosesTheConnection) {
  ServerClient::Options options;
  options.input_budget = std::make_shared<InputBudget>(4096);
  Connect(std::move(options));
  // A 1 MiB frame: the base buffer fills, and growing it would pass the 4 KiB budget.
  WireBuffer start = LengthWord(1 << 20);
  start.resize(FrameReader::kBaseBuffer + 8192, 0);
  PeerSend(start);
  Next next = Next::kWait;
  for (int i = 0; i < 8 && next == Next::kWait; ++i) next = client_->OnReadable();
  EXPECT_EQ(next, Next::kClose);
}

TEST_F(RpcServerClientTest, KeepAlivePingIsAnsweredWithPong) {
  Connect();
  PeerSend(test::FromHex("0000001c6b6565700000000100000001000000020000000000000000"));
  ASSERT_EQ(client_->OnReadable(), Next::kWait);
  auto pong = PeerRead();
  ASSERT_TRUE(pong);
  EXPECT_EQ(ToHex(*pong), "0000001c6b6565700000000100000002000000020000000000000000");
  // A PONG (and an unknown keepalive procedure) needs no answer.
  PeerSend(KeepAlivePongFrame());
  Header odd;
  odd.prog = kKeepAliveProgram;
  odd.vers = kKeepAliveVersion;
  odd.proc = 9;
  odd.type = MessageType::kMessage;
  PeerSend(EmptyFrame(odd));
  ASSERT_EQ(client_->OnReadable(), Next::kWait);
  EXPECT_FALSE(PeerRead(50));
}

TEST_F(RpcServerClientTest, ServerPingsOnlyAfterTheFeatureWasAskedAndGivesUp) {
  Connect();
  const auto t0 = ServerClient::Clock::now();
  // Not asked about feature 10: never pinged.
  EXPECT_TRUE(client_->KeepAliveTick(t0 + std::chrono::seconds(60), 5, 2));
  EXPECT_FALSE(PeerRead());
  PeerSend(test::FromHex("0000002020008086000000010000003c0000000000000001000000000000000a"));
  ASSERT_EQ(client_->OnReadable(), Next::kWait);
  ASSERT_TRUE(PeerRead());  // the feature reply
  const auto t1 = ServerClient::Clock::now();
  EXPECT_TRUE(client_->KeepAliveTick(t1 + std::chrono::seconds(2), 5, 2));
  EXPECT_FALSE(PeerRead());
  EXPECT_TRUE(client_->KeepAliveTick(t1 + std::chrono::seconds(6), 5, 2));
  auto ping = PeerRead();
  ASSERT_TRUE(ping);
  EXPECT_EQ(ClassifyKeepAlive(HeaderOf(*ping)), KeepAliveMessage::kPing);
  EXPECT_TRUE(client_->KeepAliveTick(t1 + std::chrono::seconds(11), 5, 2));
  ASSERT_TRUE(PeerRead());
  EXPECT_FALSE(client_->KeepAliveTick(t1 + std::chrono::seconds(16), 5, 2));
}

TEST_F(RpcServerClientTest, TrafficResetsTheKeepAliveTimer) {
  Connect();
  PeerSend(test::FromHex("0000002020008086000000010000003c0000000000000001000000000000000a"));
  ASSERT_EQ(client_->OnReadable(), Next::kWait);
  ASSERT_TRUE(PeerRead());
  const auto t1 = ServerClient::Clock::now();
  EXPECT_TRUE(client_->KeepAliveTick(t1 + std::chrono::seconds(6), 5, 1));
  ASSERT_TRUE(PeerRead());  // PING
  PeerSend(KeepAlivePongFrame());
  ASSERT_EQ(client_->OnReadable(), Next::kWait);
  // The PONG came after t1: the count starts again from it.
  const auto t2 = ServerClient::Clock::now();
  EXPECT_TRUE(client_->KeepAliveTick(t2 + std::chrono::seconds(1), 5, 1));
  EXPECT_FALSE(PeerRead());
}

TEST_F(RpcServerClientTest, ClientThatStopsReadingIsHeldBackAndLosesNothing) {
  ServerClient::Options options;
  options.max_requests = 3;
  Connect(std::move(options), /*sndbuf=*/4096);
  constexpr std::uint32_t kCalls = 2000;
  WireBuffer burst;
  for (std::uint32_t serial = 0; serial < kCalls; ++serial) {
    WireBuffer f = VoidCall(Proc::kAuthList, serial);
    burst.insert(burst.end(), f.begin(), f.end());
  }
  PeerSend(burst);
  // The peer reads nothing: the socket fills, then three replies wait and the client stops
  // taking calls, with the rest of them left in its buffer and the socket.
  for (int i = 0; i < 20 && client_->AcceptsCalls(); ++i) ASSERT_EQ(client_->OnReadable(), Next::kWait);
  ASSERT_FALSE(client_->AcceptsCalls());
  EXPECT_EQ(client_->interest() & EPOLLIN, 0u);
  EXPECT_NE(client_->interest() & EPOLLOUT, 0u);
  const std::size_t reply_size = 36;  // AUTH_LIST reply: header + one-element list
  EXPECT_LE(client_->QueuedBytes(), 3 * reply_size);
  EXPECT_LE(client_->BufferedInputCapacity(), FrameReader::kBaseBuffer);
  // More readiness changes nothing while it is held back.
  const std::size_t queued = client_->QueuedBytes();
  EXPECT_EQ(client_->OnReadable(), Next::kWait);
  EXPECT_EQ(client_->QueuedBytes(), queued);

  // Now the peer reads: every call is answered, in order, once.
  std::uint32_t expect = 0;
  for (int rounds = 0; expect < kCalls && rounds < 100000; ++rounds) {
    while (auto reply = PeerRead()) {
      ASSERT_EQ(HeaderOf(*reply).serial, expect);
      ++expect;
    }
    ASSERT_NE(client_->OnWritable(), Next::kClose);
    ASSERT_NE(client_->OnReadable(), Next::kClose);
  }
  EXPECT_EQ(expect, kCalls);
  EXPECT_EQ(client_->QueuedBytes(), 0u);
  EXPECT_TRUE(client_->AcceptsCalls());
}

TEST_F(RpcServerClientTest, UnreadEventsPastMaxOutputDisconnect) {
  ServerClient::Options options;
  options.max_output = 64 * 1024;
  options.total_queued = std::make_shared<std::atomic<std::size_t>>(0);
  auto total = options.total_queued;
  Connect(std::move(options), /*sndbuf=*/4096);
  Header h;
  h.type = MessageType::kMessage;
  h.proc = static_cast<std::int32_t>(Proc::kSecretEventValueChanged);
  FrameBuilder builder(h);
  builder.payload().FixedOpaque(WireBuffer(8192, 0));
  WireBuffer event = *std::move(builder).Finish();
  for (int i = 0; i < 64; ++i) client_->SendFrame(event);
  // Queued output stayed within the limit plus one frame, then was dropped with the client.
  EXPECT_EQ(client_->QueuedBytes(), 0u);
  EXPECT_EQ(total->load(), 0u);
  EXPECT_FALSE(client_->AcceptsCalls());
  EXPECT_EQ(client_->OnReadable(), Next::kClose);
  client_->Detach();
}

TEST_F(RpcServerClientTest, ConnectCloseDrainsTheReplyThenCloses) {
  Connect();
  PeerSend(VoidCall(Proc::kConnectClose, 3));
  EXPECT_EQ(client_->OnReadable(), Next::kClose);  // reply written, nothing left to wait for
  auto reply = PeerRead();
  ASSERT_TRUE(reply);
  EXPECT_EQ(HeaderOf(*reply).serial, 3u);
  client_.reset();
  EXPECT_TRUE(PeerSeesEof());
}

TEST_F(RpcServerClientTest, PeerHangupClosesAndDetachIsIdempotent) {
  Connect();
  peer_.Reset();
  EXPECT_EQ(client_->OnReadable(true), Next::kClose);
  client_->Detach();
  client_->Detach();
}

}  // namespace
}  // namespace vsecret::rpc
