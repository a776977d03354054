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
#include <string>

#include "base/log.h"
#include "rpc/tcp_socket.h"

namespace vsecret::rpc {
namespace {

constexpr char kWhere[] = "rpc.server";

// epoll user data: the kind of descriptor in the high half, the descriptor or index below.
constexpr std::uint64_t kTagWake = 0;
constexpr std::uint64_t kTagListener = 1;
constexpr std::uint64_t kTagClient = 2;
std::uint64_t Tag(std::uint64_t kind, std::uint32_t value) { return (kind << 32) | value; }

}  // namespace

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

Result<void> RpcServer::AddListener(UniqueFd fd, bool read_only, std::shared_ptr<TlsContext> tls, bool sasl) {
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return SystemError(ErrorDomain::kRpc, errno, "Unable to make listening socket non-blocking");
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  bool network = ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
                 (addr.ss_family == AF_INET || addr.ss_family == AF_INET6);
  auto listener =
      std::make_unique<Listener>(Listener{std::move(fd), read_only, std::move(tls), network, sasl});
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
        std::shared_ptr<ServerClient> client = it->second;  // keeps it alive through a close
        if ((events[i].events & EPOLLOUT) && !Handle(*client, client->OnWritable())) continue;
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          Handle(*client, client->OnReadable((events[i].events & (EPOLLHUP | EPOLLERR)) != 0));
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

SaslPolicy RpcServer::MakeSaslPolicy(const Listener& listener, int fd) const {
  SaslPolicy p;
  if (listener.network) {
    p.endpoint.local_addr = SaslAddress(fd, false);
    p.endpoint.remote_addr = SaslAddress(fd, true);
  }
  // libvirt treats TLS and UNIX sockets as secure: no SASL layer is negotiated there.
  p.security.secure_transport = listener.tls != nullptr || !listener.network;
  p.security.tcp_min_ssf = options_.tcp_min_ssf;
  p.allowed_usernames = options_.sasl_allowed_usernames;
  p.max_failures = options_.sasl_max_failures;
  return p;
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
    if (listener.sasl) policy.sasl = MakeSaslPolicy(listener, fd.get());
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
    ServerClient::Options client_options;
    client_options.max_requests = options_.max_client_requests;
    client_options.max_output = options_.max_client_output;
    client_options.input_budget = input_budget_;
    client_options.total_queued = queued_output_;
    auto client = ServerClient::Create(driver_, std::move(policy), std::move(fd), std::move(tls),
                                       epoll_.get(), Tag(kTagClient, static_cast<std::uint32_t>(raw)),
                                       std::move(client_options), Clock::now());
    if (!client) {
      Log(LogLevel::kWarning, kWhere, client.error().message());
      continue;
    }
    clients_.emplace(raw, std::move(*client));
    Log(LogLevel::kDebug, kWhere,
        "new client fd " + std::to_string(raw) + " uid " + std::to_string(peer.uid) +
            (listener.read_only ? " (read-only socket)" : ""));
  }
}

bool RpcServer::Handle(ServerClient& client, ServerClient::Next next) {
  switch (next) {
    case ServerClient::Next::kWait:
      return true;
    case ServerClient::Next::kServeAgain:
      tls_buffered_.push_back(client.fd());
      return true;
    case ServerClient::Next::kClose:
      CloseClient(client.fd());
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
    std::shared_ptr<ServerClient> client = it->second;
    Handle(*client, client->OnReadable());
  }
}

void RpcServer::CloseClient(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Log(LogLevel::kDebug, kWhere, "closing client fd " + std::to_string(fd));
  // Leaves epoll and drops the session (deregistering its events); the descriptor closes with
  // the last reference.
  it->second->Detach();
  clients_.erase(it);
  if (clients_.empty()) idle_since_ = Clock::now();
}

void RpcServer::Tick(Clock::time_point now) {
  std::vector<int> stalled;
  for (auto& [fd, client] : clients_) {
    if (client->HandshakeExpired(now, std::chrono::seconds(options_.tls_handshake_timeout)))
      stalled.push_back(fd);
  }
  for (int fd : stalled) {
    Log(LogLevel::kWarning, kWhere, "TLS handshake with client fd " + std::to_string(fd) + " timed out");
    CloseClient(fd);
  }
  std::vector<int> unauthenticated;
  for (auto& [fd, client] : clients_) {
    if (client->AuthExpired(now, std::chrono::seconds(options_.sasl_auth_timeout)))
      unauthenticated.push_back(fd);
  }
  for (int fd : unauthenticated) {
    Log(LogLevel::kWarning, kWhere,
        "client fd " + std::to_string(fd) + " did not authenticate within " +
            std::to_string(options_.sasl_auth_timeout) + " s (sasl_auth_timeout), closing");
    CloseClient(fd);
  }
  if (options_.keepalive_interval <= 0) return;
  std::vector<int> timed_out;
  for (auto& [fd, client] : clients_) {
    if (!client->KeepAliveTick(now, options_.keepalive_interval, options_.keepalive_count))
      timed_out.push_back(fd);
  }
  for (int fd : timed_out) {
    Log(LogLevel::kWarning, kWhere,
        "No response from client fd " + std::to_string(fd) + " after " +
            std::to_string(options_.keepalive_count) + " keepalive messages");
    CloseClient(fd);
  }
}

}  // namespace vsecret::rpc
