#include "store/systemd_creds.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/strings.h"
#include "store/atomic_file.h"

namespace vsecret {
namespace {

// Writes all of data to fd, ignoring SIGPIPE's default action for the duration (a child that
// exits early must give an error, not kill us).
bool WriteAll(int fd, const SecretBytes& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

Result<void> SealWithSystemdCreds(Env* env, const SecretBytes& data, const std::string& name,
                                  const std::string& out_path, const std::vector<std::string>& extra_args) {
  const char* override_bin = std::getenv("VSECRET_SYSTEMD_CREDS");
  const std::string binary =
      override_bin != nullptr && *override_bin != '\0' ? override_bin : "systemd-creds";
  const std::string tmp = out_path + ".new";
  std::vector<std::string> args = {binary, "encrypt", "--name=" + name};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  args.push_back("-");
  args.push_back(tmp);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) < 0) return SystemError(ErrorDomain::kSecret, errno, "cannot create pipe");
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    ::sigaction(SIGPIPE, &previous, nullptr);
    return SystemError(ErrorDomain::kSecret, err, "cannot run " + binary);
  }
  if (pid == 0) {
    ::signal(SIGPIPE, SIG_DFL);
    ::umask(0077);
    if (::dup2(pipe_fds[0], STDIN_FILENO) < 0) ::_exit(127);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[0]);
  const bool wrote = WriteAll(pipe_fds[1], data);
  ::close(pipe_fds[1]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::sigaction(SIGPIPE, &previous, nullptr);
  if (!wrote || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    (void)env->RemoveFile(tmp);
    const std::string how = WIFEXITED(status)
                                ? "exit status " + std::to_string(WEXITSTATUS(status))
                                : "signal " + std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return InternalError(ErrorDomain::kSecret,
                         binary + " encrypt --name=" + name + " " + Quoted(tmp) + " failed (" + how + ")");
  }
  if (auto renamed = env->RenameFile(tmp, out_path); !renamed) {
    (void)env->RemoveFile(tmp);
    return SystemError(ErrorDomain::kNone, renamed.error().errnum,
                       "cannot rename file " + Quoted(tmp) + " as " + Quoted(out_path));
  }
  SyncDirOrLog(env, DirectoryOf(out_path));
  return {};
}

}  // namespace vsecret
