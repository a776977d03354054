#include "cli/ssh_helper.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "base/uri.h"
#include "rpc/socket_paths.h"
#include "rpc/unix_socket.h"

namespace vsecret::cli {
namespace {

constexpr std::string_view kHelperName = "virt-ssh-helper";
constexpr std::string_view kHelperCommand = "ssh-helper";

std::string_view Base(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

int Complain(int err_fd, const std::string& message) {
  std::string line = "virt-ssh-helper: " + message + "\n";
  (void)!::write(err_fd, line.data(), line.size());
  return 1;
}

// Writes all of data to fd (blocking); false when the reader went away.
bool WriteAll(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

bool IsSshHelperInvocation(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  if (Base(args[0]) == kHelperName) return true;
  return args.size() > 1 && args[1] == kHelperCommand;
}

int RunSshHelper(const std::vector<std::string>& args, int in_fd, int out_fd, int err_fd) {
  std::size_t i = Base(args[0]) == kHelperName ? 1 : 2;
  bool read_only = false;
  std::string uri_text;
  for (; i < args.size(); ++i) {
    if (args[i] == "-r" || args[i] == "--readonly") {
      read_only = true;
    } else if (uri_text.empty() && !args[i].starts_with("-")) {
      uri_text = args[i];
    } else {
      return Complain(err_fd, "unexpected argument '" + args[i] + "'");
    }
  }
  if (uri_text.empty()) return Complain(err_fd, "a URI is required (usage: virt-ssh-helper [-r] URI)");
  auto uri = ParseConnectionUri(uri_text);
  if (!uri) return Complain(err_fd, uri.error().message());
  if (uri->scheme != "secret" || !uri->IsLocal()) {
    return Complain(err_fd, "Unsupported URI '" + uri_text + "': only local secret:/// URIs are served");
  }
  auto socket = uri->Param("socket");
  auto fd = socket ? rpc::ConnectUnix(*socket) : rpc::ConnectLocalDaemon(uri->path, read_only);
  if (!fd) return Complain(err_fd, fd.error().message());

  ::signal(SIGPIPE, SIG_IGN);
  int sock = fd->get();
  bool in_open = true;
  char buf[64 * 1024];
  for (;;) {
    pollfd p[2] = {{sock, POLLIN, 0}, {in_fd, static_cast<short>(in_open ? POLLIN : 0), 0}};
    int rc = ::poll(p, in_open ? 2 : 1, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Complain(err_fd, "poll failed");
    }
    if (p[0].revents != 0) {
      ssize_t n = ::read(sock, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;  // the daemon closed: the session is over
      if (!WriteAll(out_fd, buf, static_cast<std::size_t>(n))) return 0;
    }
    if (in_open && p[1].revents != 0) {
      ssize_t n = ::read(in_fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // The client hung up: let the daemon see EOF and finish with its replies.
        in_open = false;
        ::shutdown(sock, SHUT_WR);
        continue;
      }
      if (!WriteAll(sock, buf, static_cast<std::size_t>(n))) return 0;
    }
  }
}

}  // namespace vsecret::cli
