#include "rpc/server_client.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "base/log.h"
#include "rpc/remote_messages.h"

namespace vsecret::rpc {
namespace {

constexpr char kWhere[] = "rpc.server";

}  // namespace

Result<std::shared_ptr<ServerClient>> ServerClient::Create(SecretDriver& driver, SessionPolicy policy,
                                                           UniqueFd socket, std::unique_ptr<TlsSession> tls,
                                                           int epoll_fd, std::uint64_t epoll_tag,
                                                           Options options, Clock::time_point now) {
  if (!options.total_queued) options.total_queued = std::make_shared<std::atomic<std::size_t>>(0);
  std::shared_ptr<ServerClient> client(
      new ServerClient(std::move(socket), std::move(tls), epoll_fd, epoll_tag, std::move(options), now));
  client->session_ = std::make_unique<RemoteSession>(driver, std::move(policy), client);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = epoll_tag;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, client->fd(), &ev) != 0) {
    int saved = errno;
    client->session_.reset();
    return SystemError(ErrorDomain::kRpc, saved, "cannot watch client");
  }
  client->watched_ = true;
  return client;
}

ServerClient::ServerClient(UniqueFd socket, std::unique_ptr<TlsSession> tls, int epoll_fd,
                           std::uint64_t epoll_tag, Options options, Clock::time_point now)
    : fd_(std::move(socket)),
      epoll_fd_(epoll_fd),
      epoll_tag_(epoll_tag),
      options_(std::move(options)),
      accepted_at_(now),
      reader_(options_.input_budget),
      keepalive_timer_(now),
      tls_(std::move(tls)),
      interest_(EPOLLIN),
      handshaking_(tls_ != nullptr),
      handshake_want_(EPOLLIN) {}

// The last reference may go on any thread; nobody else touches the TLS session by then.
ServerClient::~ServerClient() {
  if (tls_ && !handshaking_ && !dead_) tls_->Shutdown();  // close_notify, best effort
  options_.total_queued->fetch_sub(queued_, std::memory_order_relaxed);
}

void ServerClient::Detach() {
  if (watched_) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd_.get(), nullptr);
    watched_ = false;
  }
  session_.reset();
}

void ServerClient::SendFrame(WireBuffer frame) {
  MutexLock lock(mutex_);
  if (dead_) return;
  // Counted as queued (SASL-encoded, it is larger than the frame); the flush inside may already
  // have subtracted part of it, which the modular sum puts right.
  unsolicited_ += QueueLocked(Outgoing{std::move(frame), false});
  if (unsolicited_ > options_.max_output) {
    Log(LogLevel::kWarning, kWhere,
        "disconnecting client fd " + std::to_string(fd_.get()) + ": " + std::to_string(unsolicited_) +
            " bytes of events not read (max_client_output " + std::to_string(options_.max_output) + ")");
    KillLocked();
  }
  UpdateInterestLocked();
}

void ServerClient::Respond(WireBuffer frame) {
  MutexLock lock(mutex_);
  if (dead_) return;
  ++responses_;
  QueueLocked(Outgoing{std::move(frame), true});
  UpdateInterestLocked();
}

bool ServerClient::AcceptsCalls() const {
  MutexLock lock(mutex_);
  return AcceptsCallsLocked();
}

std::uint32_t ServerClient::interest() const {
  MutexLock lock(mutex_);
  return interest_;
}

std::size_t ServerClient::QueuedBytes() const {
  MutexLock lock(mutex_);
  return queued_;
}

std::size_t ServerClient::QueueLocked(Outgoing item) {
  if (sasl_) {
    WireBuffer wire;
    if (auto ok = sasl_->Encode(item.frame, &wire); !ok) {
      Log(LogLevel::kWarning, kWhere, "client fd " + std::to_string(fd_.get()) + ": " + ok.error().message());
      KillLocked();
      return 0;
    }
    item.frame = std::move(wire);
  }
  const std::size_t size = item.frame.size();
  queued_ += size;
  options_.total_queued->fetch_add(size, std::memory_order_relaxed);
  out_.push_back(std::move(item));
  FlushLocked();
  return size;
}

bool ServerClient::AcceptsCallsLocked() const {
  return !dead_ && !closing_ && responses_ < options_.max_requests && queued_ < kPauseReadingAt;
}

void ServerClient::FlushLocked() {
  if (handshaking_) return;  // nothing may precede the TLS confirmation byte
  while (!out_.empty() && !dead_) {
    WireBuffer& f = out_.front().frame;
    ssize_t n = 0;
    if (tls_) {
      auto r = tls_->Write(std::span<const std::uint8_t>(f.data() + out_offset_, f.size() - out_offset_));
      if (r.status == TlsSession::Status::kWantRead || r.status == TlsSession::Status::kWantWrite) return;
      if (r.status != TlsSession::Status::kOk) {
        KillLocked();
        return;
      }
      n = static_cast<ssize_t>(r.bytes);
    } else {
      n = ::send(fd_.get(), f.data() + out_offset_, f.size() - out_offset_, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) KillLocked();
        return;
      }
    }
    out_offset_ += static_cast<std::size_t>(n);
    queued_ -= static_cast<std::size_t>(n);
    options_.total_queued->fetch_sub(static_cast<std::size_t>(n), std::memory_order_relaxed);
    if (out_offset_ == f.size()) {
      if (out_.front().response) {
        --responses_;
      } else {
        unsolicited_ -= f.size();
      }
      out_.pop_front();
      out_offset_ = 0;
    }
  }
}

// The shutdown makes epoll report a hang-up, so the loop learns of the death at its next wakeup
// even when it happened on another thread.
void ServerClient::KillLocked() {
  dead_ = true;
  out_.clear();
  options_.total_queued->fetch_sub(queued_, std::memory_order_relaxed);
  queued_ = 0;
  responses_ = 0;
  unsolicited_ = 0;
  ::shutdown(fd_.get(), SHUT_RDWR);
}

ssize_t ServerClient::ReadSasl(std::span<std::uint8_t> into) {
  MutexLock lock(mutex_);
  if (sasl_plain_off_ == sasl_plain_.size()) {
    sasl_plain_.clear();
    sasl_plain_off_ = 0;
    std::uint8_t raw[16384];
    ssize_t n = ::recv(fd_.get(), raw, sizeof raw, MSG_DONTWAIT);
    if (n <= 0) return n;
    if (auto ok =
            sasl_->Decode(std::span<const std::uint8_t>(raw, static_cast<std::size_t>(n)), &sasl_plain_);
        !ok) {
      Log(LogLevel::kWarning, kWhere, "client fd " + std::to_string(fd_.get()) + ": " + ok.error().message());
      return 0;
    }
    if (sasl_plain_.empty()) {  // a partial packet: Cyrus keeps it until the rest arrives
      errno = EAGAIN;
      return -1;
    }
  }
  std::size_t n = std::min(into.size(), sasl_plain_.size() - sasl_plain_off_);
  std::memcpy(into.data(), sasl_plain_.data() + sasl_plain_off_, n);
  sasl_plain_off_ += n;
  return static_cast<ssize_t>(n);
}

void ServerClient::InstallSaslLayer() {
  std::unique_ptr<SaslSession> layer = session_->TakeSecurityLayer();
  if (!layer) return;
  MutexLock lock(mutex_);
  sasl_ = std::move(layer);
  wrapped_ = true;
  if (reader_.HasFrame() || reader_.HasPartial()) {
    // Bytes sent in the clear after the completing call cannot be the client's: a stock client
    // waits for the reply before it sends anything wrapped.
    Log(LogLevel::kWarning, kWhere,
        "client fd " + std::to_string(fd_.get()) + " sent data in the clear after SASL completed, closing");
    KillLocked();
  }
}

bool ServerClient::AuthExpired(Clock::time_point now, std::chrono::seconds timeout) const {
  return session_ && session_->auth_pending() && now - accepted_at_ >= timeout;
}

ssize_t ServerClient::ReadSome(std::span<std::uint8_t> into) {
  if (wrapped_) return ReadSasl(into);
  if (!tls_) return ::recv(fd_.get(), into.data(), into.size(), MSG_DONTWAIT);
  MutexLock lock(mutex_);
  auto r = tls_->Read(into);
  read_wants_write_ = r.status == TlsSession::Status::kWantWrite;
  if (r.status == TlsSession::Status::kOk) return static_cast<ssize_t>(r.bytes);
  if (r.status == TlsSession::Status::kWantRead || read_wants_write_) {
    if (read_wants_write_) UpdateInterestLocked();
    errno = EAGAIN;
    return -1;
  }
  if (r.status == TlsSession::Status::kError) {
    Log(LogLevel::kDebug, kWhere, "client fd " + std::to_string(fd_.get()) + ": " + tls_->LastError());
  }
  return 0;
}

void ServerClient::AdvanceHandshakeLocked() {
  switch (tls_->Handshake()) {
    case TlsSession::Status::kOk:
      handshaking_ = false;
      Log(LogLevel::kDebug, kWhere,
          "TLS client fd " + std::to_string(fd_.get()) + " accepted, DN '" + tls_->PeerDn() + "'");
      out_.push_front(Outgoing{WireBuffer{kTlsConfirmation}, false});
      queued_ += 1;
      options_.total_queued->fetch_add(1, std::memory_order_relaxed);
      unsolicited_ += 1;
      FlushLocked();
      break;
    case TlsSession::Status::kWantRead:
      handshake_want_ = EPOLLIN;
      break;
    case TlsSession::Status::kWantWrite:
      handshake_want_ = EPOLLOUT;
      break;
    default:
      Log(LogLevel::kWarning, kWhere,
          "TLS handshake with client fd " + std::to_string(fd_.get()) + " failed: " + tls_->LastError());
      // Let the alert reach the peer: half-close and discard its input until it hangs up (or
      // the handshake deadline passes). Closing with unread input would send a reset instead,
      // which the peer may only see as EPIPE when it writes its own goodbye.
      refused_ = true;
      handshake_want_ = EPOLLIN;
      ::shutdown(fd_.get(), SHUT_WR);
      break;
  }
  UpdateInterestLocked();
}

void ServerClient::UpdateInterestLocked() {
  std::uint32_t want = 0;
  if (handshaking_) {
    want = dead_ ? 0 : handshake_want_;
  } else {
    if (AcceptsCallsLocked()) want |= EPOLLIN;
    if (!dead_ && (queued_ > 0 || read_wants_write_)) want |= EPOLLOUT;
  }
  if (want == interest_) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = epoll_tag_;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_.get(), &ev) == 0) interest_ = want;
}

ServerClient::Next ServerClient::OnReadable(bool hangup) {
  const int fd = fd_.get();
  {
    MutexLock lock(mutex_);
    if (dead_) return Next::kClose;
    if (tls_ && refused_) {
      char sink[4096];
      ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return Next::kClose;
      return Next::kWait;
    }
    if (tls_ && handshaking_) {
      AdvanceHandshakeLocked();
      if (dead_) return Next::kClose;
      // The client's first call may already sit in OpenSSL.
      return handshaking_ ? Next::kWait : Next::kServeAgain;
    }
    if (!AcceptsCallsLocked()) {
      // Held back (its replies are not being read) or closing: leave its input in the socket.
      // A hang-up still ends it; what it had queued could not be delivered anyway.
      return hangup ? Next::kClose : Next::kWait;
    }
  }
  if (reader_.HasFrame()) {
    // Calls held back earlier (another thread's flush may have released the client): they go
    // first, and the buffer must be drained before it can take more.
    if (!ProcessFrames()) return Next::kClose;
    if (!AcceptsCalls()) return Next::kWait;
  }
  std::span<std::uint8_t> space = reader_.Space();
  if (space.empty()) {
    Log(LogLevel::kWarning, kWhere,
        "client fd " + std::to_string(fd) + ": a " + std::to_string(reader_.PendingLength()) +
            "-byte frame does not fit in the memory left for partially received frames "
            "(max_pending_input), closing connection");
    return Next::kClose;
  }
  ssize_t n = ReadSome(space);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return Next::kWait;
  if (n <= 0) {
    if (reader_.HasPartial()) {
      Log(LogLevel::kDebug, kWhere, "client fd " + std::to_string(fd) + " went away mid-frame");
    }
    return Next::kClose;
  }
  reader_.Commit(static_cast<std::size_t>(n));
  keepalive_timer_.OnTraffic(Clock::now());  // any traffic counts as a keepalive answer
  if (!ProcessFrames()) return Next::kClose;
  return AfterReading();
}

ServerClient::Next ServerClient::AfterReading() {
  MutexLock lock(mutex_);
  // Epoll cannot see records OpenSSL already pulled off the socket: come back without waiting.
  if (tls_ && AcceptsCallsLocked() && tls_->HasPending()) return Next::kServeAgain;
  // Likewise for plaintext the SASL layer decoded beyond what the frame buffer took.
  if (wrapped_ && AcceptsCallsLocked() && sasl_plain_off_ < sasl_plain_.size()) return Next::kServeAgain;
  return Next::kWait;
}

ServerClient::Next ServerClient::OnWritable() {
  Next after_read = Next::kWait;
  bool retry_read = false;
  {
    MutexLock lock(mutex_);
    if (refused_) return Next::kWait;
    if (handshaking_) {
      AdvanceHandshakeLocked();
      if (dead_) return Next::kClose;
      return handshaking_ ? Next::kWait : Next::kServeAgain;
    }
    retry_read = std::exchange(read_wants_write_, false);
  }
  if (retry_read) {
    after_read = OnReadable();
    if (after_read == Next::kClose) return Next::kClose;
  }
  bool resume = false;
  {
    MutexLock lock(mutex_);
    bool was_held = !AcceptsCallsLocked();
    FlushLocked();
    if (FinishedLocked()) return Next::kClose;
    UpdateInterestLocked();
    resume = was_held && AcceptsCallsLocked();
  }
  if (!resume) return after_read;
  // Its replies drained: take the calls that were held back in its buffer, and come back for
  // any TLS records OpenSSL holds (epoll reports only the socket).
  if (!ProcessFrames()) return Next::kClose;
  Next next = AfterReading();
  return next == Next::kWait ? after_read : next;
}

bool ServerClient::ProcessFrames() {
  std::span<const std::uint8_t> message;
  for (;;) {
    if (!AcceptsCalls()) break;
    FrameReader::Status st = reader_.Next(&message);
    if (st == FrameReader::Status::kNeedMore) break;
    if (st == FrameReader::Status::kBad) {
      Log(LogLevel::kWarning, kWhere,
          "packet " + std::to_string(reader_.PendingLength()) + " bytes received from client fd " +
              std::to_string(fd_.get()) + " is out of range, closing connection");
      return false;
    }
    HandleMessage(message);
  }
  MutexLock lock(mutex_);
  return !FinishedLocked();
}

void ServerClient::HandleMessage(std::span<const std::uint8_t> message) {
  auto header = DecodeHeader(message);
  if (!header) return;  // cannot happen: a frame holds at least a header
  Header h = *header;
  std::span<const std::uint8_t> payload = message.subspan(kHeaderSize);

  if (KeepAliveMessage kind = ClassifyKeepAlive(h); kind != KeepAliveMessage::kNotKeepAlive) {
    if (kind == KeepAliveMessage::kPing) Respond(KeepAlivePongFrame());
    return;  // PONGs only reset the timer, which any traffic does
  }
  // libvirtd ignores anything that is not a call (replies, messages, stream packets).
  if (h.type != MessageType::kCall && h.type != MessageType::kCallWithFds) return;
  if (h.prog != kRemoteProgram || h.vers != kRemoteVersion) {
    Respond(ErrorReplyFrame(
        h, Error(ErrorCode::kRpc, ErrorDomain::kRpc,
                 "Cannot find program " + std::to_string(h.prog) + " version " + std::to_string(h.vers))));
    return;
  }
  if (h.status != MessageStatus::kOk) {
    Respond(
        ErrorReplyFrame(h, Error(ErrorCode::kRpc, ErrorDomain::kRpc,
                                 "Unexpected message status " + std::to_string(static_cast<int>(h.status)))));
    return;
  }
  if (h.type == MessageType::kCallWithFds) {
    // The descriptor count precedes the arguments; no procedure vsecretd serves takes any.
    XdrDecoder dec(payload);
    std::uint32_t nfds = 0;
    if (!dec.U32(&nfds)) {
      Respond(ErrorReplyFrame(h, DecodePayloadError()));
      return;
    }
    if (nfds != 0) {
      Respond(ErrorReplyFrame(h, Error(ErrorCode::kArgumentUnsupported, ErrorDomain::kRpc,
                                       "argument unsupported: fd passing is not supported by this "
                                       "connection")));
      return;
    }
    payload = payload.subspan(4);
    h.type = MessageType::kCall;
  }
  if (!session_) return;  // detached: nothing more is served
  if (tls_ && h.proc == static_cast<std::int32_t>(Proc::kAuthSaslInit)) {
    MutexLock lock(mutex_);
    session_->SetTlsKeyBits(tls_->CipherBits());
  }
  Respond(session_->HandleCall(h, payload));
  if (!wrapped_) InstallSaslLayer();
  if (session_->keepalive_requested()) keepalive_ = true;
  if (session_->close_requested()) {
    MutexLock lock(mutex_);
    closing_ = true;
    UpdateInterestLocked();
  }
}

bool ServerClient::HandshakeExpired(Clock::time_point now, std::chrono::seconds timeout) {
  if (!tls_) return false;
  MutexLock lock(mutex_);
  return handshaking_ && now - accepted_at_ >= timeout;
}

bool ServerClient::KeepAliveTick(Clock::time_point now, int interval, int count) {
  if (!keepalive_) return true;
  switch (keepalive_timer_.Check(now, interval, count)) {
    case KeepAliveTimer::Action::kNone:
      return true;
    case KeepAliveTimer::Action::kPing:
      SendFrame(KeepAlivePingFrame());
      return true;
    case KeepAliveTimer::Action::kGiveUp:
      return false;
  }
  return true;
}

}  // namespace vsecret::rpc
