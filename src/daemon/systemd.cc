#include "daemon/systemd.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "base/log.h"

namespace vsecret::daemon {
namespace {

constexpr int kListenFdsStart = 3;
constexpr char kWhere[] = "daemon.systemd";

}  // namespace

std::vector<ActivatedSocket> TakeActivatedSockets() {
  std::vector<ActivatedSocket> out;
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  std::string names = std::getenv("LISTEN_FDNAMES") ? std::getenv("LISTEN_FDNAMES") : "";
  bool ours =
      pid != nullptr && fds != nullptr && std::strtol(pid, nullptr, 10) == static_cast<long>(::getpid());
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!ours) return out;
  long n = std::strtol(fds, nullptr, 10);
  if (n <= 0 || n > 64) return out;
  std::size_t start = 0;
  for (long i = 0; i < n; ++i) {
    int fd = kListenFdsStart + static_cast<int>(i);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    std::string name;
    if (start <= names.size()) {
      std::size_t colon = names.find(':', start);
      name = names.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      start = colon == std::string::npos ? names.size() + 1 : colon + 1;
    }
    out.push_back(ActivatedSocket{fd, name});
  }
  return out;
}

void NotifySystemd(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return;
  std::string target = path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (target.size() >= sizeof addr.sun_path) {
    Log(LogLevel::kWarning, kWhere, "NOTIFY_SOCKET path too long");
    return;
  }
  std::memcpy(addr.sun_path, target.data(), target.size());
  if (target[0] == '@') addr.sun_path[0] = '\0';
  socklen_t len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + target.size() + (target[0] == '@' ? 0 : 1));
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  if (::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    Log(LogLevel::kWarning, kWhere,
        std::string("cannot notify the service manager: ") + std::strerror(errno));
  }
  ::close(fd);
}

}  // namespace vsecret::daemon
