#include "vsecret/secret_bytes.h"

#include <openssl/crypto.h>
#include <sys/prctl.h>
#include <sys/resource.h>

namespace vsecret {

void SecureWipe(void* p, std::size_t n) {
  if (p != nullptr && n != 0) OPENSSL_cleanse(p, n);
}

bool SecretBytes::EqualsConstantTime(const SecretBytes& other) const {
  if (size() != other.size()) return false;
  return size() == 0 || CRYPTO_memcmp(data(), other.data(), size()) == 0;
}

void ProtectProcessMemory() {
  struct rlimit none = {0, 0};
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

}  // namespace vsecret
