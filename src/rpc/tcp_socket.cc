#include "rpc/tcp_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace vsecret::rpc {
namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { ::freeaddrinfo(ai); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

Result<AddrInfoPtr> Resolve(const std::string& host, int port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG;
  if (passive) hints.ai_flags |= AI_NUMERICSERV;
  addrinfo* out = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &out);
  if (rc != 0) {
    return Fail(ErrorCode::kSystemError, ErrorDomain::kRpc,
                "Cannot resolve address '" + host + "' service '" + service + "': " + ::gai_strerror(rc));
  }
  return AddrInfoPtr(out);
}

std::string NumericHost(const sockaddr* sa, socklen_t len) {
  char host[NI_MAXHOST];
  if (::getnameinfo(sa, len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0) return "?";
  return host;
}

}  // namespace

bool IsLoopbackAddress(const std::string& numeric_address) {
  in_addr v4{};
  if (::inet_pton(AF_INET, numeric_address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, numeric_address.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

Result<std::vector<UniqueFd>> ListenTcp(const TcpListenOptions& options) {
  auto ai = Resolve(options.address, options.port, true);
  if (!ai) return std::unexpected(ai.error());
  std::vector<UniqueFd> out;
  for (addrinfo* a = ai->get(); a != nullptr; a = a->ai_next) {
    std::string host = NumericHost(a->ai_addr, a->ai_addrlen);
    std::string where = "'" + host + ":" + std::to_string(options.port) + "'";
    if (!options.allow_non_loopback && !IsLoopbackAddress(host)) {
      return Fail(ErrorCode::kConfigUnsupported, ErrorDomain::kRpc,
                  "unsupported configuration: refusing to listen for plain TCP on non-loopback address " +
                      where + " (set tcp_allow_non_loopback = 1 to override)");
    }
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd) return SystemError(ErrorDomain::kRpc, errno, "Failed to create socket for " + where);
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a->ai_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      int err = errno;
      // A host without IPv6 still serves IPv4 from the wildcard.
      if (options.address.empty() && err == EADDRNOTAVAIL) continue;
      return SystemError(ErrorDomain::kRpc, err, "Failed to bind socket to " + where);
    }
    if (::listen(fd.get(), options.backlog) != 0) {
      return SystemError(ErrorDomain::kRpc, errno, "Failed to listen on " + where);
    }
    out.push_back(std::move(fd));
  }
  if (out.empty()) {
    return Fail(ErrorCode::kSystemError, ErrorDomain::kRpc,
                "No address to listen on for '" + options.address + "'");
  }
  return out;
}

Result<UniqueFd> ConnectTcp(const std::string& host, int port, int timeout_ms) {
  std::string where = "'" + host + ":" + std::to_string(port) + "'";
  auto ai = Resolve(host, port, false);
  if (!ai) return std::unexpected(ai.error());
  int last = ECONNREFUSED;
  for (addrinfo* a = ai->get(); a != nullptr; a = a->ai_next) {
    UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol));
    if (!fd) {
      last = errno;
      continue;
    }
    int rc = ::connect(fd.get(), a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd.get(), POLLOUT, 0};
      rc = ::poll(&p, 1, timeout_ms);
      if (rc == 0) {
        last = ETIMEDOUT;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      last = errno;
      continue;
    }
    int flags = ::fcntl(fd.get(), F_GETFL);
    ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  return SystemError(ErrorDomain::kRpc, last, "unable to connect to server at " + where);
}

int BoundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

std::optional<std::string> SaslAddress(int fd, bool peer) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc != 0 || (addr.ss_family != AF_INET && addr.ss_family != AF_INET6)) return std::nullopt;
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return std::nullopt;
  return std::string(host) + ";" + serv;
}

}  // namespace vsecret::rpc
