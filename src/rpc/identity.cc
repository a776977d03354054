#include "rpc/identity.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

namespace vsecret::rpc {
namespace {

constexpr std::size_t kTokenBytes = 16;
constexpr std::size_t kTokenChars = 2 * kTokenBytes;
constexpr std::size_t kFieldLength = 80;

struct FieldSpec {
  std::string_view name;
  TypedParamType type;
};

// The fields libvirt's identity accepts (VIR_CONNECT_IDENTITY_*).
constexpr FieldSpec kFields[] = {
    {"user-name", TypedParamType::kString},       {"unix-user-id", TypedParamType::kULLong},
    {"group-name", TypedParamType::kString},      {"unix-group-id", TypedParamType::kULLong},
    {"process-id", TypedParamType::kLLong},       {"process-time", TypedParamType::kULLong},
    {"sasl-user-name", TypedParamType::kString},  {"x509-distinguished-name", TypedParamType::kString},
    {"selinux-context", TypedParamType::kString}, {"system.token", TypedParamType::kString},
};

const FieldSpec* FindField(std::string_view name) {
  for (const FieldSpec& f : kFields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::unexpected<Error> Corrupt(const std::string& path) {
  return InternalError(ErrorDomain::kNone, "System token in " + path + " was corrupt");
}

bool IsLowerHex(std::uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

const char* TypedParamTypeName(TypedParamType type) {
  switch (type) {
    case TypedParamType::kInt:
      return "int";
    case TypedParamType::kUInt:
      return "uint";
    case TypedParamType::kLLong:
      return "llong";
    case TypedParamType::kULLong:
      return "ullong";
    case TypedParamType::kDouble:
      return "double";
    case TypedParamType::kBoolean:
      return "boolean";
    case TypedParamType::kString:
      return "string";
  }
  return "unknown";
}

Result<DelegatedIdentity> ValidateIdentityParams(const std::vector<TypedParam>& params) {
  // libvirt sorts the parameters by name and walks them once: so the reported field is the
  // first offending one in name order, and a repeat is noticed on its second occurrence.
  std::vector<const TypedParam*> sorted;
  sorted.reserve(params.size());
  for (const TypedParam& p : params) {
    // Deserialising copies the name into libvirt's 80-byte field (VIR_TYPED_PARAM_FIELD_LENGTH).
    if (p.field.size() >= kFieldLength) {
      return InternalError(ErrorDomain::kNone, "parameter " + p.field + " too big for destination");
    }
    sorted.push_back(&p);
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const TypedParam* a, const TypedParam* b) { return a->field < b->field; });
  DelegatedIdentity identity;
  const TypedParam* previous = nullptr;
  for (const TypedParam* p : sorted) {
    const FieldSpec* spec = FindField(p->field);
    if (spec == nullptr) {
      return Fail(ErrorCode::kArgumentUnsupported, ErrorDomain::kNone,
                  "argument unsupported: parameter '" + p->field + "' not supported");
    }
    if (previous != nullptr && previous->field == p->field) {
      return Fail(ErrorCode::kInvalidArg, ErrorDomain::kNone,
                  "invalid argument: parameter '" + p->field + "' occurs multiple times");
    }
    if (p->type != spec->type) {
      return Fail(ErrorCode::kInvalidArg, ErrorDomain::kNone,
                  std::string("invalid argument: invalid type '") + TypedParamTypeName(p->type) +
                      "' for parameter '" + p->field + "', expected '" + TypedParamTypeName(spec->type) +
                      "'");
    }
    if (spec->name == "system.token") {
      identity.has_system_token = true;
      identity.system_token = p->s.Clone();
    }
    previous = p;
  }
  return identity;
}

bool SystemTokenMatches(const SecretBytes& host, const SecretBytes& delegated) {
  if (host.size() != kTokenChars || delegated.size() != host.size()) return false;
  return CRYPTO_memcmp(host.data(), delegated.data(), host.size()) == 0;
}

Result<SecretBytes> EnsureSystemToken(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(parent, ec)) {
      std::filesystem::create_directories(parent, ec);
      if (ec)
        return SystemError(ErrorDomain::kNone, ec.value(), "Unable to create directory " + parent.string());
      ::chmod(parent.c_str(), 0700);
    }
  }
  Fd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return SystemError(ErrorDomain::kNone, errno, "Unable to open " + path);
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 1;
  while (::fcntl(fd.get(), F_SETLKW, &lock) < 0) {
    if (errno != EINTR) return SystemError(ErrorDomain::kNone, errno, "Failed to lock '" + path + "'");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return SystemError(ErrorDomain::kNone, errno, "Unable to stat " + path);

  SecretBytes token;
  if (st.st_size == 0) {
    SecretBytes raw(std::string_view(std::string(kTokenBytes, '\0')));
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
      return InternalError(ErrorDomain::kNone, "Unable to generate the system token");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    token = SecretBytes(std::string_view(std::string(kTokenChars, '0')));
    for (std::size_t i = 0; i < kTokenBytes; ++i) {
      token.data()[2 * i] = static_cast<std::uint8_t>(kHex[raw.data()[i] >> 4]);
      token.data()[2 * i + 1] = static_cast<std::uint8_t>(kHex[raw.data()[i] & 0xf]);
    }
    std::size_t done = 0;
    while (done < token.size()) {
      ssize_t n = ::write(fd.get(), token.data() + done, token.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return SystemError(ErrorDomain::kNone, errno, "Failed to write to " + path);
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) < 0) return SystemError(ErrorDomain::kNone, errno, "Failed to write to " + path);
    return token;
  }
  if (st.st_size != static_cast<off_t>(kTokenChars)) return Corrupt(path);
  token = SecretBytes(std::string_view(std::string(kTokenChars, '0')));
  std::size_t got = 0;
  while (got < kTokenChars) {
    ssize_t n = ::pread(fd.get(), token.data() + got, kTokenChars - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SystemError(ErrorDomain::kNone, errno, "Failed to read " + path);
    if (n == 0) return Corrupt(path);
    got += static_cast<std::size_t>(n);
  }
  for (std::size_t i = 0; i < kTokenChars; ++i) {
    if (!IsLowerHex(token.data()[i])) return Corrupt(path);
  }
  return token;
}

}  // namespace vsecret::rpc
