#include "volume/sector_cipher.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "volume/aesni_xts.h"
#include "volume/luks_header.h"
#include "volume/nettle_cipher.h"

namespace vsecret::volume {
namespace {

constexpr std::size_t kMaxBlock = 16;

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

// OpenSSL's name for an AES data cipher, e.g. "AES-256-XTS" (XTS keys are two AES keys).
std::string EvpName(const CipherSpec& spec) {
  const std::uint32_t bits = (spec.mode == ChainMode::kXts ? spec.key_bytes / 2 : spec.key_bytes) * 8;
  const char* mode = spec.mode == ChainMode::kXts   ? "XTS"
                     : spec.mode == ChainMode::kCbc ? "CBC"
                     : spec.mode == ChainMode::kCtr ? "CTR"
                                                    : "ECB";
  return "AES-" + std::to_string(bits) + "-" + mode;
}

NettleCipher::Mode NettleMode(ChainMode mode) {
  switch (mode) {
    case ChainMode::kXts:
      return NettleCipher::Mode::kXts;
    case ChainMode::kCbc:
      return NettleCipher::Mode::kCbc;
    case ChainMode::kCtr:
      return NettleCipher::Mode::kCtr;
    case ChainMode::kEcb:
      break;
  }
  return NettleCipher::Mode::kEcb;
}

// qemu's display names in its ESSIV messages.
std::string FamilyTitle(std::string_view name) {
  if (name == "aes") return "AES";
  if (name == "twofish") return "Twofish";
  if (name == "serpent") return "Serpent";
  return std::string(name);
}

bool IsKnownCipher(std::string_view name) { return NettleCipher::BlockSize(name) != 0; }

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
  std::string out = mode == ChainMode::kXts   ? "xts"
                    : mode == ChainMode::kCbc ? "cbc"
                    : mode == ChainMode::kCtr ? "ctr"
                                              : "ecb";
  switch (ivgen) {
    case IvGenerator::kPlain:
      return out + "-plain";
    case IvGenerator::kPlain64:
      return out + "-plain64";
    case IvGenerator::kEssiv:
      return out + "-essiv:" + std::string(HashName(ivgen_hash.value_or(HashAlgo::kSha256)));
    case IvGenerator::kNone:
      break;
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
  } else if (chain == "ecb") {
    spec.mode = ChainMode::kEcb;
  } else {
    return Unsupported("Unsupported cipher mode '" + std::string(chain) + "'");
  }

  // The cipher first: the ESSIV rules depend on its family.
  const std::uint32_t one_key = spec.mode == ChainMode::kXts ? key_bytes / 2 : key_bytes;
  const std::size_t block = NettleCipher::BlockSize(cipher_name);
  const bool key_ok = (spec.mode != ChainMode::kXts || key_bytes % 2 == 0) &&
                      NettleCipher::Supports(cipher_name, one_key, NettleCipher::Mode::kEcb);
  if (!IsKnownCipher(cipher_name) || !key_ok) {
    return Unsupported("Algorithm '" + std::string(cipher_name) + "' with key size " +
                       std::to_string(key_bytes) + " bytes not supported");
  }
  if (spec.mode == ChainMode::kXts && block != 16) {
    return Unsupported("Unsupported cipher mode 'xts' for cipher '" + std::string(cipher_name) +
                       "': XTS needs a 128-bit block cipher");
  }

  if (iv == "plain64") {
    spec.ivgen = IvGenerator::kPlain64;
  } else if (iv == "plain") {
    spec.ivgen = IvGenerator::kPlain;
  } else if (iv.empty() && dash == std::string_view::npos && spec.mode == ChainMode::kEcb) {
    spec.ivgen = IvGenerator::kNone;
  } else if (iv == "essiv") {
    spec.ivgen = IvGenerator::kEssiv;
    // qemu's default when a header names essiv without a hash.
    const std::string_view hash_name = iv_hash.empty() ? std::string_view("sha256") : iv_hash;
    spec.ivgen_hash = HashFromName(hash_name);
    if (!spec.ivgen_hash) return Unsupported("Unsupported ESSIV hash '" + std::string(hash_name) + "'");
    // The IV cipher is the data cipher's family keyed with the digest (qemu's
    // qcrypto_block_luks_essiv_cipher): the digest must be one of the family's key sizes.
    const std::size_t digest = HashDigestSize(*spec.ivgen_hash);
    if (!NettleCipher::Supports(cipher_name, digest, NettleCipher::Mode::kEcb)) {
      if (cipher_name == "cast5") {
        return Unsupported("Cipher cast5-" + std::to_string(key_bytes * 8) + " not supported with essiv");
      }
      return Unsupported("No " + FamilyTitle(cipher_name) + " cipher with key size " +
                         std::to_string(digest) + " available");
    }
  } else {
    return Unsupported("Unsupported IV generator '" + std::string(iv) + "'");
  }
  // plain/plain64 ignore a hash suffix, as qemu does when opening (libvirt's shape writes one).
  return spec;
}

Result<CipherSpec> CipherSpecForVolume(const VolumeCipherRequest& request) {
  const std::string& name = request.name;
  if (!IsKnownCipher(name)) {
    return Unsupported("cipher '" + name + "' is not supported (aes, twofish, serpent or cast5)");
  }
  const bool cast5 = name == "cast5";
  const unsigned bits = request.size_bits;
  if (cast5 ? bits != 128 : (bits != 128 && bits != 192 && bits != 256)) {
    return Unsupported("cipher size " + std::to_string(bits) + " is not supported for " + name +
                       (cast5 ? " (128)" : " (128, 192 or 256)"));
  }
  const std::string mode = request.mode.value_or("xts");
  if (mode != "xts" && mode != "cbc" && mode != "ecb" && mode != "ctr") {
    return Unsupported("cipher mode '" + mode + "' is not supported (xts, cbc, ecb or ctr)");
  }
  if (mode == "xts" && cast5) {
    return Unsupported("cipher mode 'xts' is not supported for cast5: XTS needs a 128-bit block cipher");
  }
  const std::uint32_t key_bytes = bits / 8 * (mode == "xts" ? 2 : 1);
  if (static_cast<std::uint64_t>(key_bytes) * kLuksStripes % kSectorSize != 0) {
    return Unsupported("cipher size " + std::to_string(bits) + " in " + mode +
                       " mode is not supported: its key material (" +
                       std::to_string(static_cast<std::uint64_t>(key_bytes) * kLuksStripes) +
                       " bytes) is not a whole number of sectors; use xts for 192-bit keys");
  }
  std::string ivgen = request.ivgen.value_or("plain64");
  if (ivgen != "plain" && ivgen != "plain64" && ivgen != "essiv") {
    return Unsupported("ivgen '" + ivgen + "' is not supported (plain, plain64 or essiv)");
  }
  if (ivgen == "essiv") ivgen += ":" + request.ivgen_hash.value_or("sha256");
  return ParseCipherSpec(name, mode + "-" + ivgen, key_bytes);
}

struct SectorCipher::Contexts {
  // AES on OpenSSL (enc/dec, and essiv for AES ESSIV); everything else on nettle.
  CtxPtr enc;
  CtxPtr dec;
  CtxPtr essiv;  // ECB encryptor keyed with H(master key); null unless AES essiv
  // XTS through AES-NI directly when the CPU has it (see aesni_xts.h); immutable, so clones share it.
  std::shared_ptr<const AesNiXts> xts;
  std::unique_ptr<NettleCipher> nettle;        // the data cipher when OpenSSL lacks it
  std::unique_ptr<NettleCipher> nettle_essiv;  // ESSIV for twofish and serpent
};

SectorCipher::SectorCipher(CipherSpec spec, std::unique_ptr<Contexts> ctx)
    : spec_(std::move(spec)), ctx_(std::move(ctx)) {}
SectorCipher::~SectorCipher() = default;

Result<std::unique_ptr<SectorCipher>> SectorCipher::Create(const CipherSpec& spec, const SecretBytes& key) {
  if (key.size() != spec.key_bytes)
    return InternalError(ErrorDomain::kCrypto, "master key has the wrong size");
  auto ctx = std::make_unique<Contexts>();
  const bool aes = spec.cipher_name == "aes";
  CipherPtr cipher;
  if (aes) cipher.reset(EVP_CIPHER_fetch(nullptr, EvpName(spec).c_str(), nullptr));
  if (cipher) {
    ctx->enc = NewKeyedContext(cipher.get(), key.data(), true);
    // CTR decrypts by encrypting the counter stream.
    ctx->dec = NewKeyedContext(cipher.get(), key.data(), spec.mode == ChainMode::kCtr);
    if (!ctx->enc || !ctx->dec) return CryptoError("cannot initialise the sector cipher");
    if (spec.mode == ChainMode::kXts && AesNiXts::Available()) ctx->xts = AesNiXts::Create(key.span());
  } else {
    Result<std::unique_ptr<NettleCipher>> n =
        NettleCipher::Create(spec.cipher_name, NettleMode(spec.mode), key.span());
    if (!n)
      return Unsupported("cipher " + spec.cipher_name + " in mode " + spec.ModeString() +
                         " is not available");
    ctx->nettle = std::move(*n);
  }
  if (spec.ivgen == IvGenerator::kEssiv && spec.mode != ChainMode::kEcb) {
    const HashAlgo hash = spec.ivgen_hash.value_or(HashAlgo::kSha256);
    const std::size_t digest = HashDigestSize(hash);
    std::uint8_t salt[64];
    if (Result<void> r = HashBytes(hash, key.span(), salt); !r) return std::unexpected(r.error());
    if (aes) {
      const std::string essiv_name = "AES-" + std::to_string(digest * 8) + "-ECB";
      CipherPtr ecb(EVP_CIPHER_fetch(nullptr, essiv_name.c_str(), nullptr));
      if (ecb) ctx->essiv = NewKeyedContext(ecb.get(), salt, true);
    } else if (Result<std::unique_ptr<NettleCipher>> n =
                   NettleCipher::Create(spec.cipher_name, NettleCipher::Mode::kEcb, {salt, digest})) {
      ctx->nettle_essiv = std::move(*n);
    }
    SecureWipe(salt, sizeof salt);
    if (!ctx->essiv && !ctx->nettle_essiv) return CryptoError("cannot initialise the ESSIV cipher");
  }
  return std::unique_ptr<SectorCipher>(new SectorCipher(spec, std::move(ctx)));
}

Result<std::unique_ptr<SectorCipher>> SectorCipher::Clone() const {
  auto ctx = std::make_unique<Contexts>();
  if (ctx_->enc) {
    ctx->enc = CopyContext(ctx_->enc.get());
    ctx->dec = CopyContext(ctx_->dec.get());
    if (!ctx->enc || !ctx->dec) return CryptoError("cannot copy the sector cipher");
  }
  if (ctx_->essiv) {
    ctx->essiv = CopyContext(ctx_->essiv.get());
    if (!ctx->essiv) return CryptoError("cannot copy the sector cipher");
  }
  ctx->xts = ctx_->xts;
  if (ctx_->nettle) ctx->nettle = ctx_->nettle->Clone();
  if (ctx_->nettle_essiv) ctx->nettle_essiv = ctx_->nettle_essiv->Clone();
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
  if (spec_.mode == ChainMode::kEcb) {
    // No IV: the sectors are independent blocks, so the whole run is one call.
    if (ctx_->nettle) {
      ctx_->nettle->Run(encrypt, nullptr, data.data(), data.size());
      return {};
    }
    EVP_CIPHER_CTX* ctx = encrypt ? ctx_->enc.get() : ctx_->dec.get();
    for (std::size_t done = 0; done < data.size();) {
      const int chunk = static_cast<int>(std::min<std::size_t>(data.size() - done, 1 << 30));
      int len = 0;
      if (EVP_CipherUpdate(ctx, data.data() + done, &len, data.data() + done, chunk) != 1 || len != chunk)
        return CryptoError("sector encryption failed");
      done += static_cast<std::size_t>(chunk);
    }
    return {};
  }
  EVP_CIPHER_CTX* ctx = encrypt ? ctx_->enc.get() : ctx_->dec.get();
  const std::size_t iv_size = ctx_->nettle ? ctx_->nettle->block_size() : 16;
  const std::size_t sectors = data.size() / kSectorSize;
  std::uint8_t iv[kMaxBlock];
  for (std::size_t i = 0; i < sectors; ++i) {
    const std::uint64_t n = first_sector + i;
    const std::uint64_t counter = spec_.ivgen == IvGenerator::kPlain ? (n & 0xFFFFFFFFu) : n;
    std::memset(iv, 0, sizeof iv);
    for (int b = 0; b < 8; ++b) iv[b] = static_cast<std::uint8_t>(counter >> (8 * b));
    if (ctx_->essiv) {
      int len = 0;
      if (EVP_EncryptUpdate(ctx_->essiv.get(), iv, &len, iv, static_cast<int>(iv_size)) != 1)
        return CryptoError("ESSIV failed");
    } else if (ctx_->nettle_essiv) {
      ctx_->nettle_essiv->Run(true, nullptr, iv, iv_size);
    }
    std::uint8_t* sector = data.data() + i * kSectorSize;
    if (ctx_->nettle) {
      ctx_->nettle->Run(encrypt, iv, sector, kSectorSize);
      continue;
    }
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
