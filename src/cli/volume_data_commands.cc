// vol-upload and vol-download (plaintext in and out of volumes, virsh 9.0's options and
// messages), and the hand-over of an encrypted volume to qemu: vol-qemu-args (key in a 0600 file)
// and vol-qemu-exec (key on an inherited pipe). The passphrase never appears in any argv.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/strings.h"
#include "cli/command_def.h"
#include "cli/command_parser.h"
#include "cli/shell.h"
#include "cli/storage_cli.h"

extern char** environ;

namespace vsecret::cli {
namespace {

using volume::VolumeRef;

// Arguments of a TransferOpts command, looked up in virsh's order.
struct TransferArgs {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::string vol_text;
  std::string file;
  VolumeRef vol;
};

std::optional<TransferArgs> ParseTransfer(Shell& shell, volume::StorageDriver& storage,
                                          const ParsedCommand& cmd) {
  TransferArgs args;
  if (OptULongLong(shell.console(), cmd, "offset", &args.offset) < 0) return std::nullopt;
  if (OptULongLong(shell.console(), cmd, "length", &args.length) < 0) return std::nullopt;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, storage, cmd, &args.vol_text);
  if (!vol) return std::nullopt;
  args.vol = *vol;
  std::optional<std::string_view> file;
  if (!OptStringReq(shell.console(), cmd, "file", &file) || !file) return std::nullopt;
  args.file = std::string(*file);
  return args;
}

// qemu's option syntax doubles commas inside a value.
std::string QemuEscape(const std::string& value) {
  std::string out;
  for (char c : value) {
    out.push_back(c);
    if (c == ',') out.push_back(',');
  }
  return out;
}

// qemu object ids: a letter, then letters, digits, '-', '.', '_'. libvirt's alias is
// "<volume>_encrypt0"; other characters of the volume name become '_'.
std::string SecretAlias(const std::string& vol) {
  std::string id;
  for (char c : vol) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_';
    id.push_back(ok ? c : '_');
  }
  if (id.empty() || !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z'))) id = "vol" + id;
  return id + "_encrypt0";
}

std::string ShellQuote(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789_,.=/:+-@%") == std::string::npos;
  return plain ? word : ShellSingleQuoted(word);
}

struct QemuView {
  bool encrypted = false;
  std::string alias;
  std::string image_opts;  // without the secret file part
};

std::optional<QemuView> DescribeForQemu(Shell& shell, volume::StorageDriver& storage, const VolumeRef& vol) {
  Result<VolumeStatus> status = storage.GetVolume(vol);
  if (!status) {
    shell.SaveError(status.error());
    return std::nullopt;
  }
  QemuView view;
  view.encrypted = status->encryption.has_value();
  view.alias = SecretAlias(vol.name);
  const bool qcow2 = status->format == kVolumeFormatQcow2;
  const std::string file = "file.filename=" + QemuEscape(vol.path);
  if (!view.encrypted) {
    view.image_opts = std::string(qcow2 ? "driver=qcow2," : "driver=raw,") + file;
  } else if (qcow2) {
    view.image_opts = "driver=qcow2,encrypt.key-secret=" + view.alias + "," + file;
  } else {
    view.image_opts = "driver=luks,key-secret=" + view.alias + "," + file;
  }
  return view;
}

Result<void> WriteAll(int fd, const SecretBytes& value) {
  std::size_t done = 0;
  while (done < value.size()) {
    const ssize_t n = ::write(fd, value.data() + done, value.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError(ErrorDomain::kStorage, errno, "cannot write the secret");
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// A private directory for secret files: $XDG_RUNTIME_DIR/vsecret, else /tmp/vsecret-<uid>; it must
// be ours and closed to everyone else.
Result<std::string> PrivateDir() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  const std::string dir = runtime != nullptr && *runtime == '/'
                              ? std::string(runtime) + "/vsecret"
                              : "/tmp/vsecret-" + std::to_string(::getuid());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return SystemError(ErrorDomain::kStorage, errno, "cannot create directory '" + dir + "'");
  }
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() ||
      (st.st_mode & 077) != 0) {
    return Fail(ErrorCode::kOperationDenied, ErrorDomain::kStorage,
                "operation forbidden: '" + dir + "' is not a private directory of this user");
  }
  return dir;
}

}  // namespace

bool CmdVolUpload(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, "virStorageVolUpload");
  if (!storage) return false;
  std::optional<TransferArgs> args = ParseTransfer(shell, *storage, cmd);
  if (!args) return false;
  const int fd = ::open(args->file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    shell.console().Error("cannot read " + args->file);
    return false;
  }
  ProgressBar bar("Uploading");
  Result<std::uint64_t> done = storage->Upload(args->vol, fd, args->offset, args->length, bar.Callback());
  bar.Finish();
  ::close(fd);
  if (!done) {
    shell.SaveError(done.error());
    shell.console().Error("cannot upload to volume " + args->vol_text);
    return false;
  }
  return true;
}

bool CmdVolDownload(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, "virStorageVolDownload");
  if (!storage) return false;
  std::optional<TransferArgs> args = ParseTransfer(shell, *storage, cmd);
  if (!args) return false;
  bool created = true;
  int fd = ::open(args->file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0 && errno == EEXIST) {
    // virsh truncates an existing file; the same result comes from truncating to the written
    // length at the end, which reuses the file's cached pages instead of reallocating them.
    created = false;
    fd = ::open(args->file.c_str(), O_WRONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    shell.console().Error("cannot create " + args->file);
    return false;
  }
  ProgressBar bar("Downloading");
  Result<std::uint64_t> done = storage->Download(args->vol, fd, args->offset, args->length, bar.Callback());
  bar.Finish();
  struct stat st;
  if (done && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    if (::ftruncate(fd, static_cast<off_t>(*done)) != 0) {
      done = SystemError(ErrorDomain::kStorage, errno, "cannot truncate " + args->file);
    }
  }
  if (!done) {
    ::close(fd);
    if (created) ::unlink(args->file.c_str());
    shell.SaveError(done.error());
    shell.console().Error("cannot download from volume " + args->vol_text);
    return false;
  }
  if (::close(fd) != 0) {
    shell.console().Error("cannot close file " + args->file);
    return false;
  }
  return true;
}

bool CmdVolQemuArgs(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, "virSecretGetValue");
  if (!storage) return false;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd);
  if (!vol) return false;
  std::optional<std::string_view> secret_file;
  if (!OptStringReq(shell.console(), cmd, "secret-file", &secret_file)) return false;
  std::optional<QemuView> view = DescribeForQemu(shell, *storage, *vol);
  if (!view) return false;
  if (!view->encrypted) {
    shell.console().Print("--image-opts " + ShellQuote(view->image_opts) + "\n");
    return true;
  }
  Result<SecretBytes> passphrase = storage->VolumePassphrase(*vol);
  if (!passphrase) {
    shell.SaveError(passphrase.error());
    return false;
  }
  std::string path;
  int fd;
  if (secret_file) {
    path = std::string(*secret_file);
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  } else {
    Result<std::string> dir = PrivateDir();
    if (!dir) {
      shell.SaveError(dir.error());
      return false;
    }
    path = *dir + "/" + vol->pool + "." + vol->name + ".secret.XXXXXX";
    fd = ::mkostemp(path.data(), O_CLOEXEC);
  }
  if (fd < 0) {
    shell.SaveError(
        SystemError(ErrorDomain::kStorage, errno, "cannot create secret file '" + path + "'").error());
    return false;
  }
  Result<void> written = ::fchmod(fd, 0600) == 0
                             ? WriteAll(fd, *passphrase)
                             : SystemError(ErrorDomain::kStorage, errno, "cannot chmod " + path);
  if (::close(fd) != 0 && written)
    written = SystemError(ErrorDomain::kStorage, errno, "cannot close " + path);
  if (!written) {
    ::unlink(path.c_str());
    shell.SaveError(written.error());
    return false;
  }
  shell.console().Print("--object " + ShellQuote("secret,id=" + view->alias + ",file=" + QemuEscape(path)) +
                        " --image-opts " + ShellQuote(view->image_opts) + "\n");
  return true;
}

bool CmdVolQemuExec(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, "virSecretGetValue");
  if (!storage) return false;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd);
  if (!vol) return false;
  std::vector<std::string_view> words = cmd.ArgvValues("command");
  if (words.empty()) {
    shell.console().Error("command 'vol-qemu-exec' requires <command> option");
    return false;
  }
  std::optional<QemuView> view = DescribeForQemu(shell, *storage, *vol);
  if (!view) return false;
  int pipe_fds[2] = {-1, -1};
  SecretBytes passphrase;
  if (view->encrypted) {
    Result<SecretBytes> value = storage->VolumePassphrase(*vol);
    if (!value) {
      shell.SaveError(value.error());
      return false;
    }
    passphrase = std::move(*value);
    // The read end stays inheritable: the child reads the passphrase from /dev/fd/<n>. The whole
    // passphrase goes into the pipe before the child exists, so a child that exits without
    // reading cannot leave this process blocked or killed by SIGPIPE.
    if (::pipe(pipe_fds) != 0 || ::fcntl(pipe_fds[1], F_SETFD, FD_CLOEXEC) != 0) {
      shell.SaveError(SystemError(ErrorDomain::kStorage, errno, "cannot create pipe").error());
      return false;
    }
    const int capacity = ::fcntl(pipe_fds[1], F_GETPIPE_SZ);
    if (capacity >= 0 && passphrase.size() > static_cast<std::size_t>(capacity)) {
      ::fcntl(pipe_fds[1], F_SETPIPE_SZ, static_cast<int>(passphrase.size()));
    }
    const int fitted = ::fcntl(pipe_fds[1], F_GETPIPE_SZ);
    Result<void> fed = fitted >= 0 && passphrase.size() <= static_cast<std::size_t>(fitted)
                           ? WriteAll(pipe_fds[1], passphrase)
                           : InternalError(ErrorDomain::kStorage, "the secret value is too large for a pipe");
    ::close(pipe_fds[1]);
    passphrase.Wipe();
    if (!fed) {
      ::close(pipe_fds[0]);
      shell.SaveError(fed.error());
      return false;
    }
  }
  const std::string secret_def = "secret,id=" + view->alias + ",file=/dev/fd/" + std::to_string(pipe_fds[0]);
  std::vector<std::string> argv;
  for (std::string_view word : words) {
    std::string arg(word);
    for (const auto& [key, value] :
         {std::pair<std::string, std::string>{"{secret}", secret_def}, {"{image}", view->image_opts}}) {
      for (std::size_t at = arg.find(key); at != std::string::npos; at = arg.find(key, at + value.size())) {
        arg.replace(at, key.size(), value);
      }
    }
    argv.push_back(std::move(arg));
  }
  std::vector<char*> c_argv;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  shell.console().Flush();
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, c_argv[0], nullptr, nullptr, c_argv.data(), environ);
  if (pipe_fds[0] >= 0) ::close(pipe_fds[0]);
  std::string shown;
  for (const std::string& a : argv) shown += (shown.empty() ? "" : " ") + a;
  if (spawned != 0) {
    shell.SaveError(SystemError(ErrorDomain::kNone, spawned, "Cannot run '" + argv[0] + "'").error());
    return false;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string how = WIFEXITED(status)
                                ? "unexpected exit status " + std::to_string(WEXITSTATUS(status))
                                : "fatal signal " + std::to_string(WTERMSIG(status));
    shell.SaveError(Error(ErrorCode::kInternalError, ErrorDomain::kNone,
                          "internal error: Child process (" + shown + ") " + how));
    return false;
  }
  return true;
}

}  // namespace vsecret::cli
