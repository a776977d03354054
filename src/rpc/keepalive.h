// libvirt's keepalive program (0x6b656570 "keep", version 1: PING/PONG, serial 0), shared by
// both ends: vsecretd's per-client connection (rpc/server_client.h) and RpcClient (rpc/client.h).
//
// A keepalive frame is a header-only MESSAGE with procedure PING (1) or PONG (2). A PING is
// answered with a PONG; a PONG needs no handling beyond the traffic it counts as. The side that
// pings keeps a KeepAliveTimer: after `interval` seconds of silence it sends a PING, one more
// per further interval, and gives up once `count` of them went unanswered.
//
// Thread-safety: the functions are pure; a KeepAliveTimer is not synchronised.
#pragma once

#include <chrono>
#include <cstdint>

#include "rpc/frame.h"

namespace vsecret::rpc {

// What a frame is to the keepalive program. As libvirt's virKeepAliveCheckMessage, only a
// MESSAGE of the keepalive program's version 1 counts; anything else is kNotKeepAlive.
enum class KeepAliveMessage {
  kNotKeepAlive,
  kPing,
  kPong,
  kUnknown,  // a keepalive MESSAGE with another procedure: ignored
};
KeepAliveMessage ClassifyKeepAlive(const Header& header);

// The 28-byte PING and PONG frames.
WireBuffer KeepAlivePingFrame();
WireBuffer KeepAlivePongFrame();

// When to ping a silent peer and when to give up on it.
class KeepAliveTimer {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Action {
    kNone,    // nothing to do yet
    kPing,    // send a PING now (counted as sent)
    kGiveUp,  // `count` PINGs went unanswered: drop the connection
  };

  explicit KeepAliveTimer(Clock::time_point now) : last_rx_(now) {}

  // Any bytes from the peer count as an answer.
  void OnTraffic(Clock::time_point now) {
    last_rx_ = now;
    pings_sent_ = 0;
  }
  // interval <= 0 means keepalive is off: always kNone.
  Action Check(Clock::time_point now, int interval, int count);
  int pings_sent() const { return pings_sent_; }

 private:
  Clock::time_point last_rx_;
  int pings_sent_ = 0;
};

}  // namespace vsecret::rpc
