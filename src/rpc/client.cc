#include "rpc/client.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/log.h"
#include "rpc/keepalive.h"

namespace vsecret::rpc {
namespace {

constexpr char kWhere[] = "rpc.client";

Error ClosedError() {
  return Error(ErrorCode::kInternalError, ErrorDomain::kRpc, "internal error: client socket is closed");
}

}  // namespace

std::unique_ptr<RpcClient> RpcClient::Start(UniqueFd fd, MessageHandler on_message) {
  std::unique_ptr<RpcClient> client(new RpcClient(std::move(fd), std::move(on_message)));
  client->reader_ = std::thread([c = client.get()] { c->ReaderLoop(); });
  return client;
}

RpcClient::RpcClient(UniqueFd fd, MessageHandler on_message)
    : fd_(std::move(fd)), on_message_(std::move(on_message)) {}

RpcClient::~RpcClient() {
  Close();
  if (reader_.joinable()) reader_.join();
}

void RpcClient::Close() {
  MutexLock lock(mutex_);
  if (!failure_) failure_ = ClosedError();
  ::shutdown(fd_.get(), SHUT_RDWR);  // wakes the reader thread
  cv_.NotifyAll();
}

bool RpcClient::IsOpen() const {
  MutexLock lock(mutex_);
  return !failure_;
}

void RpcClient::StartKeepAlive(int interval, int count) {
  MutexLock lock(mutex_);
  keepalive_interval_ = interval;
  keepalive_count_ = count;
}

void RpcClient::Fail(Error reason) {
  MutexLock lock(mutex_);
  if (!failure_) failure_ = std::move(reason);
  ::shutdown(fd_.get(), SHUT_RDWR);
  cv_.NotifyAll();
}

void RpcClient::InstallSaslLayer(std::unique_ptr<SaslSession> layer) {
  MutexLock write_lock(write_mutex_);
  MutexLock lock(sasl_mutex_);
  sasl_ = std::move(layer);
}

bool RpcClient::WriteFrame(const WireBuffer& plain) {
  MutexLock lock(write_mutex_);
  WireBuffer encoded;
  const WireBuffer* out = &plain;
  {
    MutexLock sasl_lock(sasl_mutex_);
    if (sasl_) {
      if (!sasl_->Encode(plain, &encoded)) {
        errno = EPROTO;
        return false;
      }
      out = &encoded;
    }
  }
  const WireBuffer& frame = *out;
  std::size_t off = 0;
  while (off < frame.size()) {
    ssize_t n = ::send(fd_.get(), frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

Result<WireBuffer> RpcClient::CallRaw(std::int32_t proc, const WireBuffer& args) {
  Pending pending;
  Header h;
  h.proc = proc;
  {
    MutexLock lock(mutex_);
    if (failure_) return std::unexpected(*failure_);
    h.serial = next_serial_++;
    pending_[h.serial] = &pending;
  }
  FrameBuilder builder(h);
  builder.payload().FixedOpaque(args);  // already XDR: appended as is (4-byte aligned)
  auto frame = std::move(builder).Finish();
  bool sent = frame && WriteFrame(*frame);
  MutexLock lock(mutex_);
  if (!sent) {
    pending_.erase(h.serial);
    if (!frame) return std::unexpected(frame.error());
    if (!failure_)
      failure_ = Error(ErrorCode::kSystemError, ErrorDomain::kRpc,
                       std::string("Cannot write data: ") + std::strerror(errno));
    return std::unexpected(*failure_);
  }
  while (!pending.done && !failure_.has_value()) cv_.Wait(mutex_);
  pending_.erase(h.serial);
  if (pending.done) return std::move(*pending.result);
  return std::unexpected(*failure_);
}

void RpcClient::ReaderLoop() {
  FrameReader reader;
  using Clock = KeepAliveTimer::Clock;
  KeepAliveTimer keepalive(Clock::now());
  for (;;) {
    int interval, count;
    {
      MutexLock lock(mutex_);
      if (failure_) return;
      interval = keepalive_interval_;
      count = keepalive_count_;
    }
    pollfd pfd{fd_.get(), POLLIN, 0};
    // Always a bounded wait: StartKeepAlive() may be called after this thread is already
    // waiting, and an infinite poll would never notice it (a silent peer then hung every call).
    int rc = ::poll(&pfd, 1, 1000);
    if (rc < 0 && errno != EINTR) {
      Fail(Error(ErrorCode::kSystemError, ErrorDomain::kRpc,
                 std::string("poll failed: ") + std::strerror(errno)));
      return;
    }
    if (rc <= 0) {
      switch (keepalive.Check(Clock::now(), interval, count)) {
        case KeepAliveTimer::Action::kNone:
          break;
        case KeepAliveTimer::Action::kPing:
          WriteFrame(KeepAlivePingFrame());
          break;
        case KeepAliveTimer::Action::kGiveUp:
          Fail(Error(ErrorCode::kInternalError, ErrorDomain::kRpc,
                     "internal error: connection closed due to keepalive timeout"));
          return;
      }
      continue;
    }
    std::uint8_t raw[16384];
    ssize_t n = ::recv(fd_.get(), raw, sizeof raw, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Fail(n == 0 ? Error(ErrorCode::kSystemError, ErrorDomain::kRpc,
                          "End of file while reading data: Input/output error")
                  : Error(ErrorCode::kSystemError, ErrorDomain::kRpc,
                          std::string("Cannot recv data: ") + std::strerror(errno)));
      return;
    }
    keepalive.OnTraffic(Clock::now());
    std::span<const std::uint8_t> input(raw, static_cast<std::size_t>(n));
    WireBuffer decoded;
    {
      MutexLock lock(sasl_mutex_);
      if (sasl_) {
        if (auto ok = sasl_->Decode(input, &decoded); !ok) {
          Fail(ok.error());
          return;
        }
        input = decoded;
      }
    }
    // Feed the plaintext to the frame reader as far as its buffer takes it, taking frames out
    // in between (a large frame grows the buffer, up to the frame limit).
    while (!input.empty()) {
      std::span<std::uint8_t> space = reader.Space();
      if (space.empty()) {
        Fail(Error(ErrorCode::kRpc, ErrorDomain::kRpc, "packet received from server too large or too small"));
        return;
      }
      std::size_t take = std::min(space.size(), input.size());
      std::copy_n(input.begin(), take, space.begin());
      reader.Commit(take);
      input = input.subspan(take);
      std::span<const std::uint8_t> message;
      FrameReader::Status st;
      while ((st = reader.Next(&message)) == FrameReader::Status::kFrame) HandleFrame(message);
      if (st == FrameReader::Status::kBad) {
        Fail(Error(ErrorCode::kRpc, ErrorDomain::kRpc, "packet received from server too large or too small"));
        return;
      }
    }
  }
}

void RpcClient::HandleFrame(std::span<const std::uint8_t> message) {
  auto header = DecodeHeader(message);
  if (!header) return;
  const Header& h = *header;
  std::span<const std::uint8_t> payload = message.subspan(kHeaderSize);
  if (h.prog == kKeepAliveProgram) {
    // Nothing of the keepalive program is a reply or an event; only a PING needs an answer.
    if (ClassifyKeepAlive(h) == KeepAliveMessage::kPing) WriteFrame(KeepAlivePongFrame());
    return;
  }
  if (h.prog != kRemoteProgram) return;
  if (h.type == MessageType::kMessage) {
    if (on_message_) on_message_(h, payload);
    return;
  }
  if (h.type != MessageType::kReply && h.type != MessageType::kReplyWithFds) {
    Fail(Error(ErrorCode::kRpc, ErrorDomain::kRpc, "Unexpected message type from server"));
    return;
  }
  MutexLock lock(mutex_);
  auto it = pending_.find(h.serial);
  if (it == pending_.end()) {
    // A reply nobody waits for means the stream is out of step: libvirt drops the connection.
    Log(LogLevel::kWarning, kWhere, "reply with unexpected serial " + std::to_string(h.serial));
    if (!failure_)
      failure_ = Error(ErrorCode::kRpc, ErrorDomain::kRpc, "Unexpected reply serial from server");
    ::shutdown(fd_.get(), SHUT_RDWR);
    cv_.NotifyAll();
    return;
  }
  Pending* p = it->second;
  if (h.status == MessageStatus::kOk) {
    p->result.emplace(WireBuffer(payload.begin(), payload.end()));
  } else {
    auto error = DecodePayload<RemoteError>(payload);
    if (error) {
      p->result.emplace(std::unexpected(error->ToError()));
    } else {
      p->result.emplace(std::unexpected(error.error()));
    }
  }
  p->done = true;
  cv_.NotifyAll();
}

}  // namespace vsecret::rpc
