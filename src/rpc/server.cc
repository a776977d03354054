#include "rpc/server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>

#include "base/log.h"
#include "rpc/remote_messages.h"

namespace vsecret::rpc {
namespace {

constexpr char kWhere[] = "rpc.server";

// Output back-pressure (see the header): no calls are taken from a client this far behind,
// whatever max_client_requests says.
constexpr std::size_t kPauseReadingAt = 1 << 20;

// epoll user data: the kind of descriptor in the high half, the descriptor or index below.
constexpr std::uint64_t kTagWake = 0;
constexpr std::uint64_t kTagListener = 1;
constexpr std::uint64_t kTagClient = 2;
std::uint64_t Tag(std::uint64_t kind, std::uint32_t value) { return (kind << 32) | value; }

WireBuffer KeepAliveFrame(std::int32_t proc) {
  Header h;
  h.prog = kKeepAliveProgram;
  h.vers = kKeepAliveVersion;
  h.proc = proc;
  h.type = MessageType::kMessage;
  return EmptyFrame(h);
}

}  // namespace

struct RpcServer::Client final : FrameSink {
  struct Outgoing {
    WireBuffer frame;
    bool response;  // answers something the client sent (a reply or a PONG)
  };

  Client(UniqueFd socket, int epoll, bool ro, PeerCredentials who, const ServerOptions& options,
         std::shared_ptr<InputBudget> budget, std::shared_ptr<std::atomic<std::size_t>> server_queued)
      : fd(std::move(socket)),
        epoll_fd(epoll),
        read_only(ro),
        peer(who),
        max_requests(options.max_client_requests),
        max_output(options.max_client_output),
        total_queued(std::move(server_queued)),
        reader(std::move(budget)) {}
  // The last reference may go on any thread; nobody else touches the TLS session by then.
  ~Client() override {
    if (tls && !handshaking && !dead) tls->Shutdown();  // close_notify, best effort
    total_queued->fetch_sub(queued, std::memory_order_relaxed);
  }

  // Unsolicited output (events, PINGs); thread-safe. Queues the frame and writes as much as
  // the socket takes right now; a client that lets too much of it pile up is disconnected.
  void SendFrame(WireBuffer frame) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (dead) return;
    unsolicited += frame.size();
    QueueLocked(Outgoing{std::move(frame), false});
    if (unsolicited > max_output) {
      Log(LogLevel::kWarning, kWhere,
          "disconnecting client fd " + std::to_string(fd.get()) + ": " + std::to_string(unsolicited) +
              " bytes of events not read (max_client_output " + std::to_string(max_output) + ")");
      KillLocked();
    }
    UpdateInterestLocked();
  }

  // A reply or PONG; loop thread. Counted against max_client_requests until fully written.
  void Respond(WireBuffer frame) {
    std::lock_guard<std::mutex> lock(mutex);
    if (dead) return;
    ++responses;
    QueueLocked(Outgoing{std::move(frame), true});
    UpdateInterestLocked();
  }

  void QueueLocked(Outgoing item) {
    queued += item.frame.size();
    total_queued->fetch_add(item.frame.size(), std::memory_order_relaxed);
    out.push_back(std::move(item));
    FlushLocked();
  }

  // Whether another call may be taken now (see the header on back-pressure).
  bool AcceptsCallsLocked() const {
    return !dead && !closing && responses < max_requests && queued < kPauseReadingAt;
  }

  // Writes queued frames until the socket would block.
  void FlushLocked() {
    if (handshaking) return;  // nothing may precede the TLS confirmation byte
    while (!out.empty() && !dead) {
      WireBuffer& f = out.front().frame;
      ssize_t n = 0;
      if (tls) {
        auto r = tls->Write(std::span<const std::uint8_t>(f.data() + out_offset, f.size() - out_offset));
        if (r.status == TlsSession::Status::kWantRead || r.status == TlsSession::Status::kWantWrite) return;
        if (r.status != TlsSession::Status::kOk) {
          KillLocked();
          return;
        }
        n = static_cast<ssize_t>(r.bytes);
      } else {
        n = ::send(fd.get(), f.data() + out_offset, f.size() - out_offset, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) KillLocked();
          return;
        }
      }
      out_offset += static_cast<std::size_t>(n);
      queued -= static_cast<std::size_t>(n);
      total_queued->fetch_sub(static_cast<std::size_t>(n), std::memory_order_relaxed);
      if (out_offset == f.size()) {
        if (out.front().response) {
          --responses;
        } else {
          unsolicited -= f.size();
        }
        out.pop_front();
        out_offset = 0;
      }
    }
  }

  // Marks the connection dead; the shutdown makes epoll report a hang-up so the loop closes it.
  void KillLocked() {
    dead = true;
    out.clear();
    total_queued->fetch_sub(queued, std::memory_order_relaxed);
    queued = 0;
    responses = 0;
    unsolicited = 0;
    ::shutdown(fd.get(), SHUT_RDWR);
  }

  // Reads what the transport has into `into`: >0 bytes, 0 at EOF or failure, -1 (errno EAGAIN)
  // when nothing is ready. TLS reads hold the mutex: OpenSSL sessions are not thread-safe and
  // SendFrame may write from another thread.
  ssize_t ReadSome(std::span<std::uint8_t> into) {
    if (!tls) return ::recv(fd.get(), into.data(), into.size(), MSG_DONTWAIT);
    std::lock_guard<std::mutex> lock(mutex);
    auto r = tls->Read(into);
    read_wants_write = r.status == TlsSession::Status::kWantWrite;
    if (r.status == TlsSession::Status::kOk) return static_cast<ssize_t>(r.bytes);
    if (r.status == TlsSession::Status::kWantRead || read_wants_write) {
      if (read_wants_write) UpdateInterestLocked();
      errno = EAGAIN;
      return -1;
    }
    if (r.status == TlsSession::Status::kError) {
      Log(LogLevel::kDebug, kWhere, "client fd " + std::to_string(fd.get()) + ": " + tls->LastError());
    }
    return 0;
  }

  // Drives the TLS handshake; once done, queues the confirmation byte.
  void AdvanceHandshakeLocked() {
    switch (tls->Handshake()) {
      case TlsSession::Status::kOk:
        handshaking = false;
        Log(LogLevel::kDebug, kWhere,
            "TLS client fd " + std::to_string(fd.get()) + " accepted, DN '" + tls->PeerDn() + "'");
        out.push_front(Outgoing{WireBuffer{kTlsConfirmation}, false});
        queued += 1;
        total_queued->fetch_add(1, std::memory_order_relaxed);
        unsolicited += 1;
        FlushLocked();
        break;
      case TlsSession::Status::kWantRead:
        handshake_want = EPOLLIN;
        break;
      case TlsSession::Status::kWantWrite:
        handshake_want = EPOLLOUT;
        break;
      default:
        Log(LogLevel::kWarning, kWhere,
            "TLS handshake with client fd " + std::to_string(fd.get()) + " failed: " + tls->LastError());
        // Let the alert reach the peer: half-close and discard its input until it hangs up (or
        // the handshake deadline passes). Closing with unread input would send a reset instead,
        // which the peer may only see as EPIPE when it writes its own goodbye.
        refused = true;
        handshake_want = EPOLLIN;
        ::shutdown(fd.get(), SHUT_WR);
        break;
    }
    UpdateInterestLocked();
  }

  void UpdateInterestLocked() {
    std::uint32_t want = 0;
    if (handshaking) {
      want = dead ? 0 : handshake_want;
    } else {
      if (AcceptsCallsLocked()) want |= EPOLLIN;
      if (!dead && (queued > 0 || read_wants_write)) want |= EPOLLOUT;
    }
    if (want == interest) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = Tag(kTagClient, static_cast<std::uint32_t>(fd.get()));
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd.get(), &ev) == 0) interest = want;
  }

  UniqueFd fd;
  const int epoll_fd;
  const bool read_only;
  const PeerCredentials peer;
  std::unique_ptr<RemoteSession> session;
  std::unique_ptr<TlsSession> tls;  // null for plain streams; calls on it hold mutex

  const std::size_t max_requests;
  const std::size_t max_output;
  const std::shared_ptr<std::atomic<std::size_t>> total_queued;

  std::mutex mutex;
  std::deque<Outgoing> out;          // guarded by mutex
  std::size_t out_offset = 0;        // guarded by mutex; bytes of out.front() already sent
  std::size_t queued = 0;            // guarded by mutex; bytes waiting in out
  std::size_t responses = 0;         // guarded by mutex; response frames in out
  std::size_t unsolicited = 0;       // guarded by mutex; bytes of unsolicited frames in out
  bool dead = false;                 // guarded by mutex; I/O failed or dropped: close at next wakeup
  bool closing = false;              // guarded by mutex; CONNECT_CLOSE answered: close once drained
  std::uint32_t interest = EPOLLIN;  // guarded by mutex; the registered epoll mask
  bool handshaking = false;          // guarded by mutex; TLS handshake not finished yet
  std::uint32_t handshake_want = EPOLLIN;  // guarded by mutex
  bool read_wants_write = false;     // guarded by mutex; TLS read must wait for writability
  bool refused = false;              // guarded by mutex; handshake failed: draining until EOF
  Clock::time_point accepted_at;     // set before the client is shared

  // Loop-thread only.
  FrameReader reader;
  Clock::time_point last_rx;
  bool keepalive = false;
  int pings_sent = 0;
};

Result<std::unique_ptr<RpcServer>> RpcServer::Create(SecretDriver& driver, ServerOptions options) {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return SystemError(ErrorDomain::kRpc, errno, "Unable to create epoll instance");
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return SystemError(ErrorDomain::kRpc, errno, "Unable to create eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = Tag(kTagWake, 0);
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) {
    return SystemError(ErrorDomain::kRpc, errno, "Unable to watch eventfd");
  }
  return std::unique_ptr<RpcServer>(
      new RpcServer(driver, std::move(options), std::move(epoll), std::move(wake)));
}

RpcServer::RpcServer(SecretDriver& driver, ServerOptions options, UniqueFd epoll, UniqueFd wake)
    : driver_(driver),
      options_(std::move(options)),
      epoll_(std::move(epoll)),
      wake_(std::move(wake)),
      input_budget_(std::make_shared<InputBudget>(options_.max_pending_input)),
      queued_output_(std::make_shared<std::atomic<std::size_t>>(0)) {}

RpcServer::~RpcServer() { clients_.clear(); }

Result<void> RpcServer::AddListener(UniqueFd fd, bool read_only, std::shared_ptr<TlsContext> tls) {
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return SystemError(ErrorDomain::kRpc, errno, "Unable to make listening socket non-blocking");
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  bool network = ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
                 (addr.ss_family == AF_INET || addr.ss_family == AF_INET6);
  auto listener = std::make_unique<Listener>(Listener{std::move(fd), read_only, std::move(tls), network});
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = Tag(kTagListener, static_cast<std::uint32_t>(listeners_.size()));
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener->fd.get(), &ev) != 0) {
    return SystemError(ErrorDomain::kRpc, errno, "Unable to watch listening socket");
  }
  listeners_.push_back(std::move(listener));
  return {};
}

void RpcServer::RequestStop() {
  stop_requested_.store(true);
  std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void RpcServer::RequestReload() {
  reload_requested_.store(true);
  std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void RpcServer::DrainWakeups() {
  std::uint64_t value;
  while (::read(wake_.get(), &value, sizeof value) > 0) {
  }
}

RpcServer::StopReason RpcServer::Run() {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  idle_since_ = Clock::now();
  StopReason reason = StopReason::kRequested;
  bool timed = options_.keepalive_interval > 0 || options_.idle_timeout > 0;
  for (const auto& l : listeners_) timed = timed || l->tls != nullptr;  // handshake deadlines
  while (!stop_requested_.load()) {
    int wait_ms = !tls_buffered_.empty() ? 0 : timed ? 1000 : -1;
    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, wait_ms);
    if (n < 0 && errno != EINTR) {
      Log(LogLevel::kError, kWhere, std::string("epoll_wait failed: ") + std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      std::uint64_t kind = events[i].data.u64 >> 32;
      auto value = static_cast<std::uint32_t>(events[i].data.u64);
      if (kind == kTagWake) {
        DrainWakeups();
      } else if (kind == kTagListener) {
        Accept(*listeners_[value]);
      } else {
        auto it = clients_.find(static_cast<int>(value));
        if (it == clients_.end()) continue;
        std::shared_ptr<Client> client = it->second;
        if (events[i].events & EPOLLOUT) OnWritable(client);
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          OnReadable(client, (events[i].events & (EPOLLHUP | EPOLLERR)) != 0);
        }
      }
    }
    ServeBufferedTls();
    if (reload_requested_.exchange(false)) {
      Log(LogLevel::kInfo, kWhere, "reloading secrets");
      if (options_.on_reload) {
        options_.on_reload();
      } else {
        driver_.Reload();
      }
    }
    Tick(Clock::now());
    if (options_.idle_timeout > 0 && clients_.empty() && driver_.EphemeralCount() == 0 &&
        Clock::now() - idle_since_ >= std::chrono::seconds(options_.idle_timeout)) {
      reason = StopReason::kIdle;
      break;
    }
  }
  clients_.clear();
  return reason;
}

void RpcServer::Accept(Listener& listener) {
  // Accept what is pending now, bounded so one busy listener cannot monopolise a wakeup.
  for (int i = 0; i < 64; ++i) {
    UniqueFd fd(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        Log(LogLevel::kWarning, kWhere, std::string("accept failed: ") + std::strerror(errno));
      }
      return;
    }
    if (clients_.size() >= options_.max_clients) {
      Log(LogLevel::kWarning, kWhere,
          "Too many active clients (" + std::to_string(clients_.size()) + "), dropping connection");
      continue;  // fd closes here
    }
    PeerCredentials peer;
    if (listener.network) {
      int one = 1;  // replies are small and latency-bound
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    } else if (auto cred = GetPeerCredentials(fd.get())) {
      peer = *cred;
    }
    SessionPolicy policy;
    policy.uri_path = options_.uri_path;
    policy.socket_read_only = listener.read_only;
    policy.max_event_callbacks = options_.max_client_event_callbacks;
    policy.system_token = options_.system_token;
    if (!listener.read_only && !listener.network && options_.rw_peer_check) {
      policy.denied_reason = options_.rw_peer_check(peer);
    }
    std::unique_ptr<TlsSession> tls;
    if (listener.tls) {
      auto created = TlsSession::Create(listener.tls, fd.get());
      if (!created) {
        Log(LogLevel::kWarning, kWhere, created.error().message());
        continue;
      }
      tls = std::move(*created);
    }
    if (policy.denied_reason) {
      Log(LogLevel::kWarning, kWhere,
          "refusing uid " + std::to_string(peer.uid) + " pid " + std::to_string(peer.pid) +
              " on the read-write socket");
    }
    int raw = fd.get();
    auto client =
        std::make_shared<Client>(std::move(fd), epoll_.get(), listener.read_only, peer, options_, input_budget_, queued_output_);
    client->session = std::make_unique<RemoteSession>(driver_, std::move(policy), client);
    client->last_rx = Clock::now();
    client->accepted_at = client->last_rx;
    client->handshaking = tls != nullptr;
    client->tls = std::move(tls);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = Tag(kTagClient, static_cast<std::uint32_t>(raw));
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, raw, &ev) != 0) {
      Log(LogLevel::kWarning, kWhere, std::string("cannot watch client: ") + std::strerror(errno));
      continue;
    }
    clients_.emplace(raw, std::move(client));
    Log(LogLevel::kDebug, kWhere,
        "new client fd " + std::to_string(raw) + " uid " + std::to_string(peer.uid) +
            (listener.read_only ? " (read-only socket)" : ""));
  }
}

void RpcServer::OnReadable(const std::shared_ptr<Client>& client, bool hangup) {
  int fd = client->fd.get();
  {
    std::lock_guard<std::mutex> lock(client->mutex);
    if (client->dead) {
      CloseClient(fd);
      return;
    }
    if (client->tls && client->refused) {
      char sink[4096];
      ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) CloseClient(fd);
      return;
    }
    if (client->tls && client->handshaking) {
      client->AdvanceHandshakeLocked();
      if (client->dead) {
        CloseClient(fd);
      } else if (!client->handshaking) {
        tls_buffered_.push_back(fd);  // the client's first call may already sit in OpenSSL
      }
      return;
    }
    if (!client->AcceptsCallsLocked()) {
      // Held back (its replies are not being read) or closing: leave its input in the socket.
      // A hang-up still ends it; what it had queued could not be delivered anyway.
      if (hangup) CloseClient(fd);
      return;
    }
  }
  if (client->reader.HasFrame()) {
    // Calls held back earlier (another thread's flush may have released the client): they go
    // first, and the buffer must be drained before it can take more.
    if (!ProcessFrames(client)) return;
    std::lock_guard<std::mutex> lock(client->mutex);
    if (!client->AcceptsCallsLocked()) return;
  }
  std::span<std::uint8_t> space = client->reader.Space();
  if (space.empty()) {
    Log(LogLevel::kWarning, kWhere,
        "client fd " + std::to_string(fd) + ": a " + std::to_string(client->reader.PendingLength()) +
            "-byte frame does not fit in the memory left for partially received frames "
            "(max_pending_input), closing connection");
    CloseClient(fd);
    return;
  }
  ssize_t n = client->ReadSome(space);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    if (client->reader.HasPartial()) {
      Log(LogLevel::kDebug, kWhere, "client fd " + std::to_string(fd) + " went away mid-frame");
    }
    CloseClient(fd);
    return;
  }
  client->reader.Commit(static_cast<std::size_t>(n));
  client->last_rx = Clock::now();  // any traffic counts as a keepalive answer
  client->pings_sent = 0;
  if (!ProcessFrames(client)) return;
  std::lock_guard<std::mutex> lock(client->mutex);
  // Epoll cannot see records OpenSSL already pulled off the socket: come back without waiting.
  if (client->tls && client->AcceptsCallsLocked() && client->tls->HasPending()) tls_buffered_.push_back(fd);
}

bool RpcServer::ProcessFrames(const std::shared_ptr<Client>& client) {
  int fd = client->fd.get();
  std::span<const std::uint8_t> message;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(client->mutex);
      if (!client->AcceptsCallsLocked()) break;
    }
    FrameReader::Status st = client->reader.Next(&message);
    if (st == FrameReader::Status::kNeedMore) break;
    if (st == FrameReader::Status::kBad) {
      Log(LogLevel::kWarning, kWhere,
          "packet " + std::to_string(client->reader.PendingLength()) + " bytes received from client fd " +
              std::to_string(fd) + " is out of range, closing connection");
      CloseClient(fd);
      return false;
    }
    HandleMessage(client, message);
  }
  std::lock_guard<std::mutex> lock(client->mutex);
  if (client->dead || (client->closing && client->out.empty())) {
    CloseClient(fd);  // the client object outlives this call through the caller's shared_ptr
    return false;
  }
  return true;
}

void RpcServer::ServeBufferedTls() {
  std::vector<int> fds;
  fds.swap(tls_buffered_);
  for (int fd : fds) {
    auto it = clients_.find(fd);
    if (it == clients_.end()) continue;
    std::shared_ptr<Client> client = it->second;
    OnReadable(client);
  }
}

void RpcServer::OnWritable(const std::shared_ptr<Client>& client) {
  bool retry_read = false;
  {
    std::lock_guard<std::mutex> lock(client->mutex);
    if (client->refused) return;
    if (client->handshaking) {
      client->AdvanceHandshakeLocked();
      if (client->dead) {
        CloseClient(client->fd.get());
      } else if (!client->handshaking) {
        tls_buffered_.push_back(client->fd.get());
      }
      return;
    }
    retry_read = std::exchange(client->read_wants_write, false);
  }
  if (retry_read) OnReadable(client);
  if (!clients_.contains(client->fd.get())) return;
  bool resume = false;
  {
    std::lock_guard<std::mutex> lock(client->mutex);
    bool was_held = !client->AcceptsCallsLocked();
    client->FlushLocked();
    if (client->dead || (client->closing && client->out.empty())) {
      CloseClient(client->fd.get());
      return;
    }
    client->UpdateInterestLocked();
    resume = was_held && client->AcceptsCallsLocked();
  }
  if (!resume) return;
  // Its replies drained: take the calls that were held back in its buffer, and come back for
  // any TLS records OpenSSL holds (epoll reports only the socket).
  if (!ProcessFrames(client)) return;
  std::lock_guard<std::mutex> lock(client->mutex);
  if (client->tls && client->AcceptsCallsLocked() && client->tls->HasPending()) {
    tls_buffered_.push_back(client->fd.get());
  }
}

void RpcServer::HandleMessage(const std::shared_ptr<Client>& client, std::span<const std::uint8_t> message) {
  auto header = DecodeHeader(message);
  if (!header) return;  // cannot happen: a frame holds at least a header
  Header h = *header;
  std::span<const std::uint8_t> payload = message.subspan(kHeaderSize);

  if (h.prog == kKeepAliveProgram && h.type == MessageType::kMessage) {
    if (h.vers == kKeepAliveVersion && h.proc == kProcPing) client->Respond(KeepAliveFrame(kProcPong));
    return;  // PONGs only reset the timer, which any traffic does
  }
  // libvirtd ignores anything that is not a call (replies, messages, stream packets).
  if (h.type != MessageType::kCall && h.type != MessageType::kCallWithFds) return;
  if (h.prog != kRemoteProgram || h.vers != kRemoteVersion) {
    client->Respond(ErrorReplyFrame(
        h, Error(ErrorCode::kRpc, ErrorDomain::kRpc,
                 "Cannot find program " + std::to_string(h.prog) + " version " + std::to_string(h.vers))));
    return;
  }
  if (h.status != MessageStatus::kOk) {
    client->Respond(
        ErrorReplyFrame(h, Error(ErrorCode::kRpc, ErrorDomain::kRpc,
                                 "Unexpected message status " + std::to_string(static_cast<int>(h.status)))));
    return;
  }
  if (h.type == MessageType::kCallWithFds) {
    // The descriptor count precedes the arguments; no procedure vsecretd serves takes any.
    XdrDecoder dec(payload);
    std::uint32_t nfds = 0;
    if (!dec.U32(&nfds)) {
      client->Respond(ErrorReplyFrame(h, DecodePayloadError()));
      return;
    }
    if (nfds != 0) {
      client->Respond(ErrorReplyFrame(h, Error(ErrorCode::kArgumentUnsupported, ErrorDomain::kRpc,
                                                 "argument unsupported: fd passing is not supported by this "
                                                 "connection")));
      return;
    }
    payload = payload.subspan(4);
    h.type = MessageType::kCall;
  }
  client->Respond(client->session->HandleCall(h, payload));
  if (client->session->keepalive_requested()) client->keepalive = true;
  if (client->session->close_requested()) {
    std::lock_guard<std::mutex> lock(client->mutex);
    client->closing = true;
    client->UpdateInterestLocked();
  }
}

void RpcServer::CloseClient(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  Log(LogLevel::kDebug, kWhere, "closing client fd " + std::to_string(fd));
  // Dropping the session deregisters its events; the descriptor closes with the last reference.
  it->second->session.reset();

  clients_.erase(it);
  if (clients_.empty()) idle_since_ = Clock::now();
}

void RpcServer::Tick(Clock::time_point now) {
  std::vector<int> stalled;
  for (auto& [fd, client] : clients_) {
    if (!client->tls) continue;
    std::lock_guard<std::mutex> lock(client->mutex);
    if (client->handshaking && now - client->accepted_at >= std::chrono::seconds(options_.tls_handshake_timeout)) {
      stalled.push_back(fd);
    }
  }
  for (int fd : stalled) {
    Log(LogLevel::kWarning, kWhere, "TLS handshake with client fd " + std::to_string(fd) + " timed out");
    CloseClient(fd);
  }
  if (options_.keepalive_interval <= 0) return;
  const auto interval = std::chrono::seconds(options_.keepalive_interval);
  std::vector<int> timed_out;
  for (auto& [fd, client] : clients_) {
    if (!client->keepalive) continue;
    if (now - client->last_rx < interval * (client->pings_sent + 1)) continue;
    if (client->pings_sent >= options_.keepalive_count) {
      timed_out.push_back(fd);
      continue;
    }
    ++client->pings_sent;
    client->SendFrame(KeepAliveFrame(kProcPing));
  }
  for (int fd : timed_out) {
    Log(LogLevel::kWarning, kWhere,
        "No response from client fd " + std::to_string(fd) + " after " +
            std::to_string(options_.keepalive_count) + " keepalive messages");
    CloseClient(fd);
  }
}

}  // namespace vsecret::rpc
