#include "rpc/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>

namespace vsecret::rpc {
namespace {

// Fills addr for path ('@' = abstract). Returns the address length, or 0 if the path is too long.
socklen_t MakeAddress(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof addr->sun_path) return 0;
  std::memcpy(addr->sun_path, path.data(), path.size());
  bool abstract = !path.empty() && path[0] == '@';
  if (abstract) addr->sun_path[0] = '\0';
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
}

}  // namespace

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<UniqueFd> ListenUnix(const std::string& path, const ListenOptions& options) {
  sockaddr_un addr;
  socklen_t len = MakeAddress(path, &addr);
  if (len == 0)
    return SystemError(ErrorDomain::kRpc, ENAMETOOLONG, "Path " + path + " too long for unix socket");
  if (path[0] != '@') {
    std::error_code ec;
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
      std::filesystem::create_directories(parent, ec);
      if (ec)
        return SystemError(ErrorDomain::kRpc, ec.value(),
                           "Cannot create directory '" + parent.string() + "'");
    }
    struct stat st;
    // Only a stale socket file is replaced: one another daemon still answers on is left alone
    // (bind then fails with EADDRINUSE), and anything else at the path is a configuration mistake.
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      if (ConnectUnix(path)) {
        return SystemError(ErrorDomain::kRpc, EADDRINUSE, "Failed to bind socket to '" + path + "'");
      }
      ::unlink(path.c_str());
    }
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return SystemError(ErrorDomain::kRpc, errno, "Failed to create socket");
  // Bind with a restrictive umask so the socket is never briefly wider than requested.
  mode_t old_mask = ::umask(0077);
  int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len);
  int bind_errno = errno;
  ::umask(old_mask);
  if (rc != 0) return SystemError(ErrorDomain::kRpc, bind_errno, "Failed to bind socket to '" + path + "'");
  if (path[0] != '@') {
    if (options.group != static_cast<gid_t>(-1) &&
        ::chown(path.c_str(), static_cast<uid_t>(-1), options.group) != 0) {
      return SystemError(ErrorDomain::kRpc, errno, "Failed to change group ID of '" + path + "'");
    }
    if (::chmod(path.c_str(), options.mode) != 0) {
      return SystemError(ErrorDomain::kRpc, errno, "Failed to change permissions of '" + path + "'");
    }
  }
  if (::listen(fd.get(), options.backlog) != 0) {
    return SystemError(ErrorDomain::kRpc, errno, "Failed to listen on socket '" + path + "'");
  }
  return fd;
}

Result<UniqueFd> ConnectUnix(const std::string& path, int* errnum) {
  if (errnum != nullptr) *errnum = 0;
  sockaddr_un addr;
  socklen_t len = MakeAddress(path, &addr);
  if (len == 0)
    return SystemError(ErrorDomain::kRpc, ENAMETOOLONG, "Path " + path + " too long for unix socket");
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return SystemError(ErrorDomain::kRpc, errno, "Failed to create socket");
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    if (errnum != nullptr) *errnum = err;
    return SystemError(ErrorDomain::kRpc, err, "Failed to connect socket to '" + path + "'");
  }
  return fd;
}

Result<PeerCredentials> GetPeerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return SystemError(ErrorDomain::kRpc, errno, "Failed to get client socket identity");
  }
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

std::string BoundPath(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sun_family != AF_UNIX)
    return "";
  std::size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
  if (n == 0) return "";
  if (addr.sun_path[0] == '\0') {
    std::string abstract = "@";
    abstract.append(addr.sun_path + 1, n - 1);
    return abstract;
  }
  return std::string(addr.sun_path, strnlen(addr.sun_path, n));
}

}  // namespace vsecret::rpc
