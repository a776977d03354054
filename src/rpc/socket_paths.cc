#include "rpc/socket_paths.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <thread>

namespace vsecret::rpc {
namespace {

// The client spells the system directory with /var/run, as libvirt's client does, so that
// error messages read the same.
constexpr char kClientSystemDir[] = "/var/run/libvirt";

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string HomeDir() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  return "/";
}

// Starts `daemon --session --timeout=120` fully detached (double fork, new session, stdio on
// /dev/null), so it survives the client and never becomes its zombie.
void SpawnDaemon(const std::string& daemon) {
  pid_t child = ::fork();
  if (child < 0) return;
  if (child == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
    }
    ::execl(daemon.c_str(), daemon.c_str(), "--session", "--timeout=120", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
}

Result<UniqueFd> ConnectSession(const std::string& dir) {
  std::string path = dir + "/" + kSocketName;
  int err = 0;
  auto fd = ConnectUnix(path, &err);
  if (fd) return fd;
  std::string legacy = dir + "/" + kLegacySocketName;
  if (!Exists(path) && Exists(legacy)) {
    if (auto lfd = ConnectUnix(legacy)) return lfd;
  }
  const char* autostart = std::getenv("LIBVIRT_AUTOSTART");
  if (autostart != nullptr && std::string(autostart) == "0") return fd;
  if (err != ENOENT && err != ECONNREFUSED) return fd;
  // One client spawns; concurrent clients wait on the lock and then find the socket.
  ::mkdir(dir.c_str(), 0700);
  UniqueFd lock(::open((dir + "/vsecretd.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (lock) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    while (::fcntl(lock.get(), F_SETLKW, &fl) < 0 && errno == EINTR) {
    }
  }
  auto again = ConnectUnix(path);
  if (again) return again;
  SpawnDaemon(FindDaemonBinary());
  for (int attempt = 0; attempt < 500; ++attempt) {
    auto retry = ConnectUnix(path);
    if (retry) return retry;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ConnectUnix(path);
}

}  // namespace

std::string SystemSocketDir() { return "/run/libvirt"; }

std::string SessionRuntimeDir() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/libvirt";
  }
  return HomeDir() + "/.cache/libvirt";
}

std::string FindDaemonBinary() {
  if (const char* explicit_path = std::getenv("VSECRETD_PATH");
      explicit_path != nullptr && *explicit_path != '\0') {
    return explicit_path;
  }
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    std::string dir(self, static_cast<std::size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));
    std::string candidate = dir + "/vsecretd";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "/usr/sbin/vsecretd";
}

Result<UniqueFd> ConnectLocalDaemon(const std::string& uri_path, bool read_only) {
  // root never gets the per-user instance, as in libvirt.
  if (uri_path == "/session" && ::geteuid() != 0) {
    return ConnectSession(SessionRuntimeDir());
  }
  std::string dir = kClientSystemDir;
  std::string direct = dir + "/" + (read_only ? kSocketNameRo : kSocketName);
  std::string legacy = dir + "/" + (read_only ? kLegacySocketNameRo : kLegacySocketName);
  if (!Exists(direct) && Exists(legacy)) return ConnectUnix(legacy);
  return ConnectUnix(direct);
}

}  // namespace vsecret::rpc
