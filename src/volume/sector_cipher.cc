#include "volume/sector_cipher.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstring>

#include "volume/aesni_xts.h"

namespace vsecret::volume {
namespace {

constexpr std::size_t kIvSize = 16;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct CipherFree {
  void operator()(EVP_CIPHER* c) const { EVP_CIPHER_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using CipherPtr = std::unique_ptr<EVP_CIPHER, CipherFree>;

std::unexpected<Error> Unsupported(const std::string& detail) {
  return Fail(ErrorCode::kConfigUnsupported, ErrorDomain::kStorage, "unsupported configuration: " + detail);
}

std::unexpected<Error> CryptoError(const char* what) {
  ERR_clear_error();
  return InternalError(ErrorDomain::kCrypto, what);
}

// OpenSSL's name for the data cipher, e.g. "AES-256-XTS" (XTS keys are two AES keys).
std::string EvpName(const CipherSpec& spec) {
  const std::uint32_t bits = (spec.mode == ChainMode::kXts ? spec.key_bytes / 2 : spec.key_bytes) * 8;
  const char* mode = spec.mode == ChainMode::kXts ? "XTS" : spec.mode == ChainMode::kCbc ? "CBC" : "CTR";
  return "AES-" + std::to_string(bits) + "-" + mode;
}

CtxPtr NewKeyedContext(const EVP_CIPHER* cipher, const std::uint8_t* key, bool encrypt) {
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex2(ctx.get(), cipher, key, nullptr, encrypt ? 1 : 0, nullptr) != 1)
    return nullptr;
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  return ctx;
}

CtxPtr CopyContext(const EVP_CIPHER_CTX* from) {
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CIPHER_CTX_copy(ctx.get(), from) != 1) return nullptr;
  return ctx;
}

}  // namespace

std::string CipherSpec::ModeString() const {
  std::string out = mode == ChainMode::kXts ? "xts" : mode == ChainMode::kCbc ? "cbc" : "ctr";
  switch (ivgen) {
    case IvGenerator::kPlain:
      return out + "-plain";
    case IvGenerator::kPlain64:
      return out + "-plain64";
    case IvGenerator::kEssiv:
      return out + "-essiv:" + std::string(HashName(ivgen_hash.value_or(HashAlgo::kSha256)));
  }
  return out;
}

Result<CipherSpec> ParseCipherSpec(std::string_view cipher_name, std::string_view mode_string,
                                   std::uint32_t key_bytes) {
  CipherSpec spec;
  spec.cipher_name = std::string(cipher_name);
  spec.key_bytes = key_bytes;
  const std::size_t dash = mode_string.find('-');
  const std::string_view chain = mode_string.substr(0, dash);
  std::string_view iv = dash == std::string_view::npos ? std::string_view() : mode_string.substr(dash + 1);
  std::string_view iv_hash;
  if (const std::size_t colon = iv.find(':'); colon != std::string_view::npos) {
    iv_hash = iv.substr(colon + 1);
    iv = iv.substr(0, colon);
  }
  if (chain == "xts") {
    spec.mode = ChainMode::kXts;
  } else if (chain == "cbc") {
    spec.mode = ChainMode::kCbc;
  } else if (chain == "ctr") {
    spec.mode = ChainMode::kCtr;
  } else {
    return Unsupported("Unsupported cipher mode '" + std::string(chain) + "'");
  }
  if (iv == "plain64") {
    spec.ivgen = IvGenerator::kPlain64;
  } else if (iv == "plain") {
    spec.ivgen = IvGenerator::kPlain;
  } else if (iv == "essiv") {
    spec.ivgen = IvGenerator::kEssiv;
    // qemu's default when a header names essiv without a hash.
    const std::string_view hash_name = iv_hash.empty() ? std::string_view("sha256") : iv_hash;
    spec.ivgen_hash = HashFromName(hash_name);
    if (!spec.ivgen_hash) return Unsupported("Unsupported ESSIV hash '" + std::string(hash_name) + "'");
    const std::size_t digest = HashDigestSize(*spec.ivgen_hash);
    if (digest != 16 && digest != 24 && digest != 32) {
      return Unsupported("ESSIV hash '" + std::string(hash_name) + "' does not give an AES key size");
    }
  } else {
    return Unsupported("Unsupported IV generator '" + std::string(iv) + "'");
  }
  // plain/plain64 ignore a hash suffix, as qemu does when opening (libvirt's shape writes one).

  const std::uint32_t aes_key = spec.mode == ChainMode::kXts ? key_bytes / 2 : key_bytes;
  const bool valid_size = spec.mode == ChainMode::kXts ? (key_bytes == 32 || key_bytes == 64)
                                                       : (aes_key == 16 || aes_key == 24 || aes_key == 32);
  if (cipher_name != "aes" || !valid_size) {
    return Unsupported("Algorithm '" + std::string(cipher_name) + "' with key size " +
                       std::to_string(key_bytes) + " bytes not supported");
  }
  return spec;
}

struct SectorCipher::Contexts {
  CtxPtr enc;
  CtxPtr dec;
  CtxPtr essiv;  // ECB encryptor keyed with H(master key); null unless essiv
  // XTS through AES-NI directly when the CPU has it (see aesni_xts.h); immutable, so clones share it.
  std::shared_ptr<const AesNiXts> xts;
};

SectorCipher::SectorCipher(CipherSpec spec, std::unique_ptr<Contexts> ctx)
    : spec_(std::move(spec)), ctx_(std::move(ctx)) {}
SectorCipher::~SectorCipher() = default;

Result<std::unique_ptr<SectorCipher>> SectorCipher::Create(const CipherSpec& spec, const SecretBytes& key) {
  if (key.size() != spec.key_bytes)
    return InternalError(ErrorDomain::kCrypto, "master key has the wrong size");
  CipherPtr cipher(EVP_CIPHER_fetch(nullptr, EvpName(spec).c_str(), nullptr));
  if (!cipher) return Unsupported("cipher " + EvpName(spec) + " is not available in OpenSSL");
  auto ctx = std::make_unique<Contexts>();
  ctx->enc = NewKeyedContext(cipher.get(), key.data(), true);
  // CTR decrypts by encrypting the counter stream.
  ctx->dec = NewKeyedContext(cipher.get(), key.data(), spec.mode == ChainMode::kCtr);
  if (!ctx->enc || !ctx->dec) return CryptoError("cannot initialise the sector cipher");
  if (spec.mode == ChainMode::kXts && AesNiXts::Available()) ctx->xts = AesNiXts::Create(key.span());
  if (spec.ivgen == IvGenerator::kEssiv) {
    const HashAlgo hash = spec.ivgen_hash.value_or(HashAlgo::kSha256);
    std::uint8_t salt[64];
    if (Result<void> r = HashBytes(hash, key.span(), salt); !r) return std::unexpected(r.error());
    const std::string essiv_name = "AES-" + std::to_string(HashDigestSize(hash) * 8) + "-ECB";
    CipherPtr ecb(EVP_CIPHER_fetch(nullptr, essiv_name.c_str(), nullptr));
    if (ecb) ctx->essiv = NewKeyedContext(ecb.get(), salt, true);
    SecureWipe(salt, sizeof salt);
    if (!ctx->essiv) return CryptoError("cannot initialise the ESSIV cipher");
  }
  return std::unique_ptr<SectorCipher>(new SectorCipher(spec, std::move(ctx)));
}

Result<std::unique_ptr<SectorCipher>> SectorCipher::Clone() const {
  auto ctx = std::make_unique<Contexts>();
  ctx->enc = CopyContext(ctx_->enc.get());
  ctx->dec = CopyContext(ctx_->dec.get());
  if (ctx_->essiv) ctx->essiv = CopyContext(ctx_->essiv.get());
  ctx->xts = ctx_->xts;
  if (!ctx->enc || !ctx->dec || (ctx_->essiv && !ctx->essiv))
    return CryptoError("cannot copy the sector cipher");
  return std::unique_ptr<SectorCipher>(new SectorCipher(spec_, std::move(ctx)));
}

Result<void> SectorCipher::Encrypt(std::uint64_t first_sector, std::span<std::uint8_t> data) {
  return Run(true, first_sector, data);
}

Result<void> SectorCipher::Decrypt(std::uint64_t first_sector, std::span<std::uint8_t> data) {
  return Run(false, first_sector, data);
}

Result<void> SectorCipher::Run(bool encrypt, std::uint64_t first_sector, std::span<std::uint8_t> data) {
  if (data.size() % kSectorSize != 0)
    return InternalError(ErrorDomain::kCrypto, "data is not sector aligned");
  EVP_CIPHER_CTX* ctx = encrypt ? ctx_->enc.get() : ctx_->dec.get();
  const std::size_t sectors = data.size() / kSectorSize;
  std::uint8_t iv[kIvSize];
  for (std::size_t i = 0; i < sectors; ++i) {
    const std::uint64_t n = first_sector + i;
    const std::uint64_t counter = spec_.ivgen == IvGenerator::kPlain ? (n & 0xFFFFFFFFu) : n;
    std::memset(iv, 0, sizeof iv);
    for (int b = 0; b < 8; ++b) iv[b] = static_cast<std::uint8_t>(counter >> (8 * b));
    if (ctx_->essiv) {
      int len = 0;
      if (EVP_EncryptUpdate(ctx_->essiv.get(), iv, &len, iv, kIvSize) != 1)
        return CryptoError("ESSIV failed");
    }
    std::uint8_t* sector = data.data() + i * kSectorSize;
    if (ctx_->xts) {
      if (encrypt) {
        ctx_->xts->EncryptSector(iv, sector);
      } else {
        ctx_->xts->DecryptSector(iv, sector);
      }
      continue;
    }
    int len = 0;
    if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv, -1, nullptr) != 1 ||
        EVP_CipherUpdate(ctx, sector, &len, sector, static_cast<int>(kSectorSize)) != 1 ||
        len != static_cast<int>(kSectorSize)) {
      return CryptoError("sector encryption failed");
    }
  }
  return {};
}

}  // namespace vsecret::volume
