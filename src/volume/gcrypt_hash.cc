#include "volume/gcrypt_hash.h"

#include <gcrypt.h>

#include <mutex>
#include <string>

namespace vsecret::volume {
namespace {

// Without GCRYCTL_INITIALIZATION_FINISHED libgcrypt warns on stderr at first use. Its secure
// memory pool is not needed: passphrases and keys stay in SecretBytes, and the digest contexts
// gcry_md_hash_buffers and gcry_kdf_derive create internally are wiped by libgcrypt.
void EnsureInitialised() {
  static std::once_flag once;
  std::call_once(once, [] {
    gcry_check_version(nullptr);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
  });
}

struct DigestName {
  std::string_view name;
  int algo;
};

constexpr DigestName kDigests[] = {
    {"sha1", GCRY_MD_SHA1},           {"sha224", GCRY_MD_SHA224}, {"sha256", GCRY_MD_SHA256},
    {"sha384", GCRY_MD_SHA384},       {"sha512", GCRY_MD_SHA512}, {"ripemd160", GCRY_MD_RMD160},
    {"whirlpool", GCRY_MD_WHIRLPOOL},
};

int DigestAlgo(std::string_view name) {
  EnsureInitialised();
  for (const DigestName& d : kDigests) {
    if (d.name == name) return gcry_md_test_algo(d.algo) == 0 ? d.algo : 0;
  }
  return 0;
}

std::unexpected<Error> Failure(const std::string& what) { return InternalError(ErrorDomain::kCrypto, what); }

}  // namespace

std::size_t GcryptDigestSize(std::string_view hash_name) {
  const int algo = DigestAlgo(hash_name);
  return algo == 0 ? 0 : gcry_md_get_algo_dlen(algo);
}

Result<void> GcryptHash(std::string_view hash_name, std::span<const std::uint8_t> a,
                        std::span<const std::uint8_t> b, std::span<std::uint8_t> out) {
  const int algo = DigestAlgo(hash_name);
  if (algo == 0 || out.size() < gcry_md_get_algo_dlen(algo))
    return Failure("cannot compute " + std::string(hash_name));
  gcry_buffer_t iov[2] = {};
  iov[0].size = iov[0].len = a.size();
  iov[0].data = const_cast<std::uint8_t*>(a.data());
  iov[1].size = iov[1].len = b.size();
  iov[1].data = const_cast<std::uint8_t*>(b.data());
  if (gcry_md_hash_buffers(algo, 0, out.data(), iov, 2) != 0)
    return Failure("cannot compute " + std::string(hash_name));
  return {};
}

Result<void> GcryptPbkdf2(std::string_view hash_name, std::span<const std::uint8_t> password,
                          std::span<const std::uint8_t> salt, std::uint32_t iterations,
                          std::span<std::uint8_t> out) {
  const int algo = DigestAlgo(hash_name);
  if (algo == 0 || iterations == 0 ||
      gcry_kdf_derive(password.data(), password.size(), GCRY_KDF_PBKDF2, algo, salt.data(), salt.size(),
                      iterations, out.size(), out.data()) != 0) {
    return Failure("PBKDF2 with " + std::string(hash_name) + " failed");
  }
  return {};
}

}  // namespace vsecret::volume
