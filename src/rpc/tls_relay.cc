#include "rpc/tls_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

extern char** environ;

namespace vsecret::rpc {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kRelayBuffer = 256 * 1024;

std::unexpected<Error> RpcFailure(const std::string& message) {
  return Fail(ErrorCode::kSystemError, ErrorDomain::kRpc, message);
}

void SetNonBlocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

// Waits for the readiness a TLS call asked for; false when the deadline passed.
bool WaitFor(int fd, TlsSession::Status want, Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  pollfd p{fd, static_cast<short>(want == TlsSession::Status::kWantWrite ? POLLOUT : POLLIN), 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(left));
  } while (rc < 0 && errno == EINTR);
  return rc > 0;
}

}  // namespace

Result<std::unique_ptr<TlsSession>> TlsClientHandshake(std::shared_ptr<TlsContext> ctx, int fd,
                                                       int timeout_ms) {
  auto session = TlsSession::Create(std::move(ctx), fd);
  if (!session) return std::unexpected(session.error());
  TlsSession& tls = **session;
  SetNonBlocking(fd, true);
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    TlsSession::Status st = tls.Handshake();
    if (st == TlsSession::Status::kOk) break;
    if (st == TlsSession::Status::kError) return RpcFailure(tls.LastError());
    if (!WaitFor(fd, st, deadline)) return RpcFailure("TLS handshake failed: timed out");
  }
  // The server's verdict on our certificate arrives as one byte (or as an alert / EOF).
  std::uint8_t byte = 0;
  for (;;) {
    auto r = tls.Read(std::span<std::uint8_t>(&byte, 1));
    if (r.status == TlsSession::Status::kOk) break;
    if (r.status == TlsSession::Status::kClosed) {
      return RpcFailure(
          "Unable to read TLS confirmation: Input/output error (the server closed the connection)");
    }
    if (r.status == TlsSession::Status::kError) {
      return RpcFailure("Unable to read TLS confirmation: " + tls.LastError());
    }
    if (!WaitFor(fd, r.status, deadline)) return RpcFailure("Unable to read TLS confirmation: timed out");
  }
  if (byte != kTlsConfirmation)
    return RpcFailure("server verification (of our certificate or IP address) failed");
  return session;
}

Result<std::pair<std::unique_ptr<TlsRelay>, UniqueFd>> TlsRelay::Start(UniqueFd tcp,
                                                                       std::unique_ptr<TlsSession> tls) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return SystemError(ErrorDomain::kRpc, errno, "Unable to create socket pair");
  }
  UniqueFd mine(pair[0]);
  UniqueFd theirs(pair[1]);
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) return SystemError(ErrorDomain::kRpc, errno, "Unable to create eventfd");
  SetNonBlocking(tcp.get(), true);
  SetNonBlocking(mine.get(), true);
  std::unique_ptr<TlsRelay> relay(
      new TlsRelay(std::move(tcp), std::move(mine), std::move(stop), std::move(tls)));
  relay->thread_ = std::thread([r = relay.get()] { r->Run(); });
  return std::make_pair(std::move(relay), std::move(theirs));
}

TlsRelay::TlsRelay(UniqueFd tcp, UniqueFd local, UniqueFd stop, std::unique_ptr<TlsSession> tls)
    : tcp_(std::move(tcp)), local_(std::move(local)), stop_(std::move(stop)), tls_(std::move(tls)) {}

TlsRelay::~TlsRelay() {
  std::uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void TlsRelay::Run() {
  // Writes to a vanished peer must fail with EPIPE, not kill the client process.
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, nullptr);

  std::vector<std::uint8_t> up;    // local -> TLS
  std::vector<std::uint8_t> down;  // TLS -> local
  std::size_t up_off = 0, down_off = 0;
  bool local_eof = false, tls_eof = false, tls_wants_write = false;
  std::vector<std::uint8_t> chunk(64 * 1024);
  for (;;) {
    // local -> up
    while (!local_eof && up.size() - up_off < kRelayBuffer) {
      ssize_t n = ::recv(local_.get(), chunk.data(), chunk.size(), MSG_DONTWAIT);
      if (n > 0) {
        up.insert(up.end(), chunk.begin(), chunk.begin() + n);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        local_eof = true;
      } else {
        break;
      }
    }
    // up -> TLS
    tls_wants_write = false;
    while (!tls_eof && up_off < up.size()) {
      auto r = tls_->Write(std::span<const std::uint8_t>(up.data() + up_off, up.size() - up_off));
      if (r.status == TlsSession::Status::kOk) {
        up_off += r.bytes;
      } else {
        if (r.status == TlsSession::Status::kWantWrite) tls_wants_write = true;
        if (r.status == TlsSession::Status::kError || r.status == TlsSession::Status::kClosed) tls_eof = true;
        break;
      }
    }
    if (up_off == up.size()) up.clear(), up_off = 0;
    // TLS -> down (including whatever OpenSSL already buffered)
    while (!tls_eof && down.size() - down_off < kRelayBuffer) {
      auto r = tls_->Read(std::span<std::uint8_t>(chunk));
      if (r.status == TlsSession::Status::kOk) {
        down.insert(down.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(r.bytes));
      } else {
        if (r.status == TlsSession::Status::kWantWrite) tls_wants_write = true;
        if (r.status == TlsSession::Status::kError || r.status == TlsSession::Status::kClosed) tls_eof = true;
        break;
      }
    }
    // down -> local
    while (down_off < down.size()) {
      ssize_t n =
          ::send(local_.get(), down.data() + down_off, down.size() - down_off, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        down_off += static_cast<std::size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        break;
      } else {
        local_eof = true;
        down.clear(), down_off = 0;
      }
    }
    if (down_off == down.size()) down.clear(), down_off = 0;

    if (local_eof && up.empty()) {
      tls_->Shutdown();
      ::shutdown(local_.get(), SHUT_RDWR);
      return;
    }
    if (tls_eof && down.empty()) {
      ::shutdown(local_.get(), SHUT_RDWR);  // RpcClient sees EOF and fails its calls
      return;
    }
    pollfd fds[3] = {{stop_.get(), POLLIN, 0}, {local_.get(), 0, 0}, {tcp_.get(), 0, 0}};
    if (!local_eof && up.size() < kRelayBuffer) fds[1].events |= POLLIN;
    if (!down.empty()) fds[1].events |= POLLOUT;
    if (!tls_eof && down.size() < kRelayBuffer) fds[2].events |= POLLIN;
    if (tls_wants_write) fds[2].events |= POLLOUT;
    int rc = ::poll(fds, 3, -1);
    if (rc < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN) {
      tls_->Shutdown();
      return;
    }
  }
}

Result<std::pair<std::unique_ptr<ChildTransport>, UniqueFd>> ChildTransport::Spawn(
    const std::vector<std::string>& argv) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return SystemError(ErrorDomain::kRpc, errno, "Unable to create socket pair");
  }
  UniqueFd mine(pair[0]);
  UniqueFd theirs(pair[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears close-on-exec on the copies.
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), STDOUT_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return SystemError(ErrorDomain::kRpc, rc, "Cannot run '" + argv[0] + "'");
  return std::make_pair(std::unique_ptr<ChildTransport>(new ChildTransport(pid)), std::move(mine));
}

ChildTransport::~ChildTransport() {
  auto reaped = [this](int tries) {
    for (int i = 0; i < tries; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return true;
      ::usleep(10 * 1000);
    }
    return false;
  };
  if (reaped(200)) return;
  ::kill(pid_, SIGTERM);
  if (reaped(100)) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

}  // namespace vsecret::rpc
