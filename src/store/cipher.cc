#include "store/cipher.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <memory>

namespace vsecret {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

std::unexpected<Error> CryptoFailure(const char* what) {
  return Fail(ErrorCode::kInternalError, ErrorDomain::kCrypto, std::string("internal error: ") + what);
}

// OpenSSL takes int lengths; value files are capped far below this, but a caller passing more
// must get an error rather than a truncated operation.
bool FitsInt(std::size_t n) { return n <= static_cast<std::size_t>(INT_MAX) - kAesBlockBytes; }

Result<CipherCtx> NewCtx() {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return CryptoFailure("cannot allocate cipher context");
  return ctx;
}

// OpenSSL 3 looks an algorithm up in its provider tables on every init when handed
// EVP_aes_256_gcm() and friends ("implicit fetch"); for small values that lookup costs more than
// the cipher itself. Fetching once per process removes it. The objects live until exit.
const EVP_CIPHER* FetchedCipher(const char* name, const EVP_CIPHER* fallback) {
  const EVP_CIPHER* fetched = EVP_CIPHER_fetch(nullptr, name, nullptr);
  return fetched != nullptr ? fetched : fallback;
}
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* cipher = FetchedCipher("AES-256-GCM", EVP_aes_256_gcm());
  return cipher;
}
const EVP_CIPHER* Aes256Cbc() {
  static const EVP_CIPHER* cipher = FetchedCipher("AES-256-CBC", EVP_aes_256_cbc());
  return cipher;
}

}  // namespace

Result<void> FillRandom(std::span<std::uint8_t> out) {
  if (out.empty()) return {};
  if (!FitsInt(out.size()) || RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    return CryptoFailure("cannot generate random bytes");
  }
  return {};
}

Result<SecretBytes> Aes256CbcEncrypt(const SecretBytes& key, std::span<const std::uint8_t, kAesBlockBytes> iv,
                                     std::span<const std::uint8_t> plaintext) {
  if (key.size() != kAes256KeyBytes) {
    return Fail(ErrorCode::kInternalError, ErrorDomain::kCrypto,
                "internal error: AES256CBC encryption invalid keylen=" + std::to_string(key.size()));
  }
  if (!FitsInt(plaintext.size())) return CryptoFailure("value too large to encrypt");
  auto ctx = NewCtx();
  if (!ctx) return std::unexpected(ctx.error());
  SecretBytes out;
  out.Resize(plaintext.size() + kAesBlockBytes);
  int n = 0;
  int tail = 0;
  if (EVP_EncryptInit_ex(ctx->get(), Aes256Cbc(), nullptr, key.data(), iv.data()) != 1 ||
      EVP_EncryptUpdate(ctx->get(), out.data(), &n, plaintext.data(), static_cast<int>(plaintext.size())) !=
          1 ||
      EVP_EncryptFinal_ex(ctx->get(), out.data() + n, &tail) != 1) {
    return CryptoFailure("AES-256-CBC encryption failed");
  }
  out.Resize(static_cast<std::size_t>(n + tail));
  return out;
}

Result<std::optional<SecretBytes>> Aes256CbcDecrypt(const SecretBytes& key,
                                                    std::span<const std::uint8_t, kAesBlockBytes> iv,
                                                    std::span<const std::uint8_t> ciphertext) {
  if (key.size() != kAes256KeyBytes) return CryptoFailure("AES-256-CBC key must be 32 bytes");
  if (ciphertext.empty() || ciphertext.size() % kAesBlockBytes != 0) return std::optional<SecretBytes>();
  if (!FitsInt(ciphertext.size())) return CryptoFailure("value too large to decrypt");
  auto ctx = NewCtx();
  if (!ctx) return std::unexpected(ctx.error());
  SecretBytes out;
  out.Resize(ciphertext.size() + kAesBlockBytes);
  int n = 0;
  int tail = 0;
  if (EVP_DecryptInit_ex(ctx->get(), Aes256Cbc(), nullptr, key.data(), iv.data()) != 1 ||
      EVP_DecryptUpdate(ctx->get(), out.data(), &n, ciphertext.data(), static_cast<int>(ciphertext.size())) !=
          1) {
    return CryptoFailure("AES-256-CBC decryption failed");
  }
  // Final is where OpenSSL checks the padding; its failure is a property of the data.
  if (EVP_DecryptFinal_ex(ctx->get(), out.data() + n, &tail) != 1) return std::optional<SecretBytes>();
  out.Resize(static_cast<std::size_t>(n + tail));
  return std::optional<SecretBytes>(std::move(out));
}

Result<SecretBytes> Aes256GcmSeal(const SecretBytes& key, std::span<const std::uint8_t, kGcmNonceBytes> nonce,
                                  std::span<const std::uint8_t> aad,
                                  std::span<const std::uint8_t> plaintext) {
  if (key.size() != kAes256KeyBytes) return CryptoFailure("AES-256-GCM key must be 32 bytes");
  if (!FitsInt(plaintext.size()) || !FitsInt(aad.size())) return CryptoFailure("value too large to encrypt");
  auto ctx = NewCtx();
  if (!ctx) return std::unexpected(ctx.error());
  SecretBytes out;
  out.Resize(plaintext.size() + kGcmTagBytes);
  int n = 0;
  int tail = 0;
  int ignored = 0;
  // The 96-bit nonce is GCM's default IV length, so no EVP_CTRL_GCM_SET_IVLEN is needed.
  if (EVP_EncryptInit_ex(ctx->get(), Aes256Gcm(), nullptr, key.data(), nonce.data()) != 1 ||
      (!aad.empty() &&
       EVP_EncryptUpdate(ctx->get(), nullptr, &ignored, aad.data(), static_cast<int>(aad.size())) != 1) ||
      (!plaintext.empty() && EVP_EncryptUpdate(ctx->get(), out.data(), &n, plaintext.data(),
                                               static_cast<int>(plaintext.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx->get(), out.data() + n, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx->get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagBytes),
                          out.data() + n + tail) != 1) {
    return CryptoFailure("AES-256-GCM encryption failed");
  }
  out.Resize(static_cast<std::size_t>(n + tail) + kGcmTagBytes);
  return out;
}

Result<std::optional<SecretBytes>> Aes256GcmOpen(const SecretBytes& key,
                                                 std::span<const std::uint8_t, kGcmNonceBytes> nonce,
                                                 std::span<const std::uint8_t> aad,
                                                 std::span<const std::uint8_t> sealed) {
  if (key.size() != kAes256KeyBytes) return CryptoFailure("AES-256-GCM key must be 32 bytes");
  if (sealed.size() < kGcmTagBytes) return std::optional<SecretBytes>();
  if (!FitsInt(sealed.size()) || !FitsInt(aad.size())) return CryptoFailure("value too large to decrypt");
  const std::size_t body = sealed.size() - kGcmTagBytes;
  auto ctx = NewCtx();
  if (!ctx) return std::unexpected(ctx.error());
  SecretBytes out;
  out.Resize(body + kAesBlockBytes);
  int n = 0;
  int tail = 0;
  int ignored = 0;
  // OpenSSL's ctrl takes a non-const pointer for the expected tag; it only reads it.
  auto* tag = const_cast<std::uint8_t*>(sealed.data() + body);
  if (EVP_DecryptInit_ex(ctx->get(), Aes256Gcm(), nullptr, key.data(), nonce.data()) != 1 ||
      (!aad.empty() &&
       EVP_DecryptUpdate(ctx->get(), nullptr, &ignored, aad.data(), static_cast<int>(aad.size())) != 1) ||
      (body != 0 &&
       EVP_DecryptUpdate(ctx->get(), out.data(), &n, sealed.data(), static_cast<int>(body)) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx->get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagBytes), tag) != 1) {
    return CryptoFailure("AES-256-GCM decryption failed");
  }
  // Final verifies the tag; on failure the decrypted bytes are wiped with `out`.
  if (EVP_DecryptFinal_ex(ctx->get(), out.data() + n, &tail) != 1) return std::optional<SecretBytes>();
  out.Resize(static_cast<std::size_t>(n + tail));
  return std::optional<SecretBytes>(std::move(out));
}

Result<std::array<std::uint8_t, 32>> HmacSha256(const SecretBytes& key,
                                                std::span<const std::uint8_t> message) {
  std::array<std::uint8_t, 32> mac{};
  unsigned int len = 0;
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* key_data = key.empty() ? &kEmpty : key.data();
  if (!FitsInt(key.size()) ||
      HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()), message.data(), message.size(), mac.data(),
           &len) == nullptr ||
      len != mac.size()) {
    return CryptoFailure("HMAC-SHA256 failed");
  }
  return mac;
}

}  // namespace vsecret
