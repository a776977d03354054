// RpcClient against a scripted peer on a socketpair: reply routing by serial (out of order),
// keepalive in both directions, and failure of waiting calls when the peer misbehaves or goes.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <future>
#include <thread>

#include "rpc/client.h"
#include "rpc_test_support.h"

namespace vsecret::rpc {
namespace {

// The scripted end of a socketpair, reusing the raw test client's frame reader.
struct Peer {
  Peer() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
    client_end = UniqueFd(sv[0]);
    peer_fd = UniqueFd(sv[1]);
  }
  void Send(const WireBuffer& frame) {
    (void)!::send(peer_fd.get(), frame.data(), frame.size(), MSG_NOSIGNAL);
  }
  std::optional<WireBuffer> Read(int timeout_ms = 5000) {
    WireBuffer frame(4);
    if (!ReadExact(frame.data(), 4, timeout_ms)) return std::nullopt;
    std::size_t len = (std::size_t{frame[0]} << 24) | (frame[1] << 16) | (frame[2] << 8) | frame[3];
    frame.resize(len);
    if (!ReadExact(frame.data() + 4, len - 4, timeout_ms)) return std::nullopt;
    return frame;
  }
  bool ReadExact(std::uint8_t* p, std::size_t n, int timeout_ms) {
    while (n > 0) {
      pollfd pfd{peer_fd.get(), POLLIN, 0};
      if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
      ssize_t r = ::recv(peer_fd.get(), p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }
  UniqueFd client_end;
  UniqueFd peer_fd;
};

WireBuffer ReplyTo(const Header& call, std::int32_t value) {
  return *EncodeFrame(ReplyHeader(call, MessageStatus::kOk), IntValue{value});
}

TEST(RpcClientTest, RepliesAreRoutedBySerialEvenOutOfOrder) {
  Peer peer;
  auto client = RpcClient::Start(std::move(peer.client_end), nullptr);
  constexpr int kCalls = 8;
  std::vector<std::future<Result<IntValue>>> results;
  for (int i = 0; i < kCalls; ++i) {
    results.push_back(std::async(std::launch::async, [&client, i] {
      return client->Call<IntValue>(Proc::kConnectSupportsFeature, IntValue{i});
    }));
  }
  // Collect every call, then answer in reverse order with the argument times ten.
  std::vector<std::pair<Header, std::int32_t>> calls;
  for (int i = 0; i < kCalls; ++i) {
    auto f = peer.Read();
    ASSERT_TRUE(f);
    calls.emplace_back(test::HeaderOf(*f), DecodePayload<IntValue>(test::PayloadOf(*f))->value);
  }
  for (auto it = calls.rbegin(); it != calls.rend(); ++it) peer.Send(ReplyTo(it->first, it->second * 10));
  for (int i = 0; i < kCalls; ++i) {
    auto r = results[i].get();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->value, i * 10);
  }
}

TEST(RpcClientTest, ErrorRepliesBecomeErrors) {
  Peer peer;
  auto client = RpcClient::Start(std::move(peer.client_end), nullptr);
  auto pending = std::async(std::launch::async,
                            [&] { return client->Call<NoRet>(Proc::kConnectGetHostname, NoArgs{}); });
  auto call = peer.Read();
  ASSERT_TRUE(call);
  peer.Send(ErrorReplyFrame(test::HeaderOf(*call),
                            Error(ErrorCode::kRpc, ErrorDomain::kRpc, "unknown procedure: 59")));
  auto r = pending.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNoSupport);
  EXPECT_EQ(r.error().message(), "unknown procedure: 59");
}

TEST(RpcClientTest, AnswersPingsAndDeliversMessages) {
  Peer peer;
  std::promise<std::int32_t> got;
  auto client =
      RpcClient::Start(std::move(peer.client_end),
                       [&](const Header& h, std::span<const std::uint8_t>) { got.set_value(h.proc); });
  peer.Send(test::FromHex("0000001c6b6565700000000100000001000000020000000000000000"));
  auto pong = peer.Read();
  ASSERT_TRUE(pong);
  EXPECT_EQ(ToHex(*pong), "0000001c6b6565700000000100000002000000020000000000000000");
  Header msg;
  msg.proc = 383;
  msg.type = MessageType::kMessage;
  msg.serial = 1;
  peer.Send(EmptyFrame(msg));
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(f.get(), 383);
}

TEST(RpcClientTest, KeepAliveTimeoutFailsWaitingCalls) {
  Peer peer;
  auto client = RpcClient::Start(std::move(peer.client_end), nullptr);
  client->StartKeepAlive(1, 1);
  auto started = std::chrono::steady_clock::now();
  auto r = client->Call<NoRet>(Proc::kConnectClose, NoArgs{});  // the peer never answers anything
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "internal error: connection closed due to keepalive timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(6));
  // The peer saw the call and one PING.
  ASSERT_TRUE(peer.Read());
  auto ping = peer.Read();
  ASSERT_TRUE(ping);
  EXPECT_EQ(test::HeaderOf(*ping).prog, kKeepAliveProgram);
  EXPECT_FALSE(client->IsOpen());
}

// Regression: keepalive enabled after the reader thread is already waiting must still fire
// (the reader once waited without a timeout, so such a call hung forever).
TEST(RpcClientTest, KeepAliveStartedLateStillTimesOut) {
  Peer peer;
  auto client = RpcClient::Start(std::move(peer.client_end), nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the reader is now in poll()
  client->StartKeepAlive(1, 1);
  auto pending =
      std::async(std::launch::async, [&] { return client->Call<NoRet>(Proc::kConnectClose, NoArgs{}); });
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto r = pending.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "internal error: connection closed due to keepalive timeout");
}

TEST(RpcClientTest, EofAndUnknownSerialsAreFatal) {
  {
    Peer peer;
    auto client = RpcClient::Start(std::move(peer.client_end), nullptr);
    auto pending =
        std::async(std::launch::async, [&] { return client->Call<NoRet>(Proc::kAuthList, NoArgs{}); });
    ASSERT_TRUE(peer.Read());
    peer.peer_fd.Reset();
    auto r = pending.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "End of file while reading data: Input/output error");
    auto later = client->Call<NoRet>(Proc::kAuthList, NoArgs{});
    ASSERT_FALSE(later);
  }
  {
    Peer peer;
    auto client = RpcClient::Start(std::move(peer.client_end), nullptr);
    auto pending =
        std::async(std::launch::async, [&] { return client->Call<NoRet>(Proc::kAuthList, NoArgs{}); });
    auto call = peer.Read();
    ASSERT_TRUE(call);
    Header wrong = test::HeaderOf(*call);
    wrong.serial += 1000;
    peer.Send(EmptyFrame(ReplyHeader(wrong, MessageStatus::kOk)));
    EXPECT_FALSE(pending.get());
    EXPECT_FALSE(client->IsOpen());
  }
}

}  // namespace
}  // namespace vsecret::rpc
