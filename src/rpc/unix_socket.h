// UNIX stream sockets for the daemon and the client: listen, connect, peer credentials.
// Every descriptor returned is close-on-exec and owned by the caller (a UniqueFd).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

#include "rpc/remote_dispatcher.h"
#include "vsecret/error.h"

namespace vsecret::rpc {

// Owns one file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset();
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct ListenOptions {
  mode_t mode = 0600;                    // permission bits forced on the socket file
  gid_t group = static_cast<gid_t>(-1);  // chown'd to this group unless -1
  int backlog = 128;
};

// Creates the parent directory if missing, replaces a stale socket file (one nobody listens on),
// binds, applies mode and group, and listens. Errors: "Failed to bind socket to '<path>':
// <strerror>" (EADDRINUSE when a live daemon owns the path) etc. Changes the process umask
// briefly: call it during start-up, before other threads exist.
Result<UniqueFd> ListenUnix(const std::string& path, const ListenOptions& options);

// Connects a blocking stream socket; a leading '@' names the abstract namespace. Errors read
// "Failed to connect socket to '<path>': <strerror>" (SYSTEM_ERROR, domain RPC), like libvirt.
// errnum, when given, receives connect()'s errno on failure (0 on success).
Result<UniqueFd> ConnectUnix(const std::string& path, int* errnum = nullptr);

// SO_PEERCRED of a connected UNIX socket.
Result<PeerCredentials> GetPeerCredentials(int fd);

// The path a listening UNIX socket is bound to ("" if not a named UNIX socket).
std::string BoundPath(int fd);

}  // namespace vsecret::rpc
