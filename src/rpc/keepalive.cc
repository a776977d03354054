#include "rpc/keepalive.h"

namespace vsecret::rpc {
namespace {

WireBuffer KeepAliveFrame(std::int32_t proc) {
  Header h;
  h.prog = kKeepAliveProgram;
  h.vers = kKeepAliveVersion;
  h.proc = proc;
  h.type = MessageType::kMessage;
  return EmptyFrame(h);
}

}  // namespace

KeepAliveMessage ClassifyKeepAlive(const Header& header) {
  if (header.prog != kKeepAliveProgram || header.vers != kKeepAliveVersion ||
      header.type != MessageType::kMessage) {
    return KeepAliveMessage::kNotKeepAlive;
  }
  switch (header.proc) {
    case kProcPing:
      return KeepAliveMessage::kPing;
    case kProcPong:
      return KeepAliveMessage::kPong;
    default:
      return KeepAliveMessage::kUnknown;
  }
}

WireBuffer KeepAlivePingFrame() { return KeepAliveFrame(kProcPing); }
WireBuffer KeepAlivePongFrame() { return KeepAliveFrame(kProcPong); }

KeepAliveTimer::Action KeepAliveTimer::Check(Clock::time_point now, int interval, int count) {
  if (interval <= 0) return Action::kNone;
  if (now - last_rx_ < std::chrono::seconds(interval) * (pings_sent_ + 1)) return Action::kNone;
  if (pings_sent_ >= count) return Action::kGiveUp;
  ++pings_sent_;
  return Action::kPing;
}

}  // namespace vsecret::rpc
