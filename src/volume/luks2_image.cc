#include "volume/luks2_image.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstring>

namespace vsecret::volume {
namespace {

constexpr std::size_t kIvSize = 16;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
struct CipherFree {
  void operator()(EVP_CIPHER* c) const { EVP_CIPHER_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;
using CipherPtr = std::unique_ptr<EVP_CIPHER, CipherFree>;

std::unexpected<Error> CryptoError(const char* what) {
  ERR_clear_error();
  return InternalError(ErrorDomain::kCrypto, what);
}

CtxPtr Keyed(const EVP_CIPHER* cipher, const std::uint8_t* key, bool encrypt) {
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex2(ctx.get(), cipher, key, nullptr, encrypt ? 1 : 0, nullptr) != 1)
    return nullptr;
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  return ctx;
}

CtxPtr Copy(const EVP_CIPHER_CTX* from) {
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CIPHER_CTX_copy(ctx.get(), from) != 1) return nullptr;
  return ctx;
}

std::vector<std::uint8_t>& Scratch(std::size_t size) {
  thread_local std::vector<std::uint8_t> buffer;
  if (buffer.size() < size) buffer.resize(size);
  return buffer;
}

}  // namespace

struct Luks2DataCipher::Evp {
  CipherSpec spec;
  CtxPtr enc;
  CtxPtr dec;
  CtxPtr essiv;
};

Luks2DataCipher::~Luks2DataCipher() = default;

Result<std::unique_ptr<Luks2DataCipher>> Luks2DataCipher::Create(const Luks2Segment& segment,
                                                                 const SecretBytes& key) {
  const auto [name, mode] = SplitLuks2Cipher(segment.encryption);
  Result<CipherSpec> spec = ParseCipherSpec(name, mode, static_cast<std::uint32_t>(key.size()));
  if (!spec) return std::unexpected(spec.error());
  std::unique_ptr<Luks2DataCipher> out(new Luks2DataCipher());
  out->unit_ = segment.sector_size;
  out->iv_tweak_ = segment.iv_tweak;
  if (segment.sector_size == kSectorSize) {
    Result<std::unique_ptr<SectorCipher>> sector = SectorCipher::Create(*spec, key);
    if (!sector) return std::unexpected(sector.error());
    out->sector_ = std::move(*sector);
    return out;
  }
  if (spec->cipher_name != "aes" || spec->mode == ChainMode::kCtr) {
    return ConfigUnsupported(ErrorDomain::kStorage,
                             "LUKS2 cipher '" + segment.encryption + "' with sector size " +
                                 std::to_string(segment.sector_size) + " is not supported");
  }
  const std::uint32_t bits = (spec->mode == ChainMode::kXts ? spec->key_bytes / 2 : spec->key_bytes) * 8;
  const std::string evp_name =
      "AES-" + std::to_string(bits) + (spec->mode == ChainMode::kXts ? "-XTS" : "-CBC");
  CipherPtr cipher(EVP_CIPHER_fetch(nullptr, evp_name.c_str(), nullptr));
  if (!cipher) {
    return ConfigUnsupported(ErrorDomain::kStorage, "cipher " + evp_name + " is not available in OpenSSL");
  }
  auto evp = std::make_unique<Evp>();
  evp->spec = *spec;
  evp->enc = Keyed(cipher.get(), key.data(), true);
  evp->dec = Keyed(cipher.get(), key.data(), false);
  if (!evp->enc || !evp->dec) return CryptoError("cannot initialise the LUKS2 data cipher");
  if (spec->ivgen == IvGenerator::kEssiv) {
    const HashAlgo hash = spec->ivgen_hash.value_or(HashAlgo::kSha256);
    std::uint8_t salt[64];
    if (Result<void> r = HashBytes(hash, key.span(), std::span(salt, HashDigestSize(hash))); !r)
      return std::unexpected(r.error());
    const std::string ecb = "AES-" + std::to_string(HashDigestSize(hash) * 8) + "-ECB";
    CipherPtr essiv(EVP_CIPHER_fetch(nullptr, ecb.c_str(), nullptr));
    if (essiv) evp->essiv = Keyed(essiv.get(), salt, true);
    SecureWipe(salt, sizeof salt);
    if (!evp->essiv) return CryptoError("cannot initialise the ESSIV cipher");
  }
  out->evp_ = std::move(evp);
  return out;
}

Result<std::unique_ptr<Luks2DataCipher>> Luks2DataCipher::Clone() const {
  std::unique_ptr<Luks2DataCipher> out(new Luks2DataCipher());
  out->unit_ = unit_;
  out->iv_tweak_ = iv_tweak_;
  if (sector_) {
    Result<std::unique_ptr<SectorCipher>> copy = sector_->Clone();
    if (!copy) return std::unexpected(copy.error());
    out->sector_ = std::move(*copy);
    return out;
  }
  auto evp = std::make_unique<Evp>();
  evp->spec = evp_->spec;
  evp->enc = Copy(evp_->enc.get());
  evp->dec = Copy(evp_->dec.get());
  if (evp_->essiv) evp->essiv = Copy(evp_->essiv.get());
  if (!evp->enc || !evp->dec || (evp_->essiv && !evp->essiv))
    return CryptoError("cannot copy the LUKS2 data cipher");
  out->evp_ = std::move(evp);
  return out;
}

Result<void> Luks2DataCipher::Encrypt(std::uint64_t offset, std::span<std::uint8_t> data) {
  return Run(true, offset, data);
}

Result<void> Luks2DataCipher::Decrypt(std::uint64_t offset, std::span<std::uint8_t> data) {
  return Run(false, offset, data);
}

Result<void> Luks2DataCipher::Run(bool encrypt, std::uint64_t offset, std::span<std::uint8_t> data) {
  if (offset % unit_ != 0 || data.size() % unit_ != 0) {
    return InternalError(ErrorDomain::kCrypto, "data is not aligned to the LUKS2 sector size");
  }
  const std::uint64_t first = iv_tweak_ + offset / kSectorSize;
  if (sector_) return encrypt ? sector_->Encrypt(first, data) : sector_->Decrypt(first, data);
  EVP_CIPHER_CTX* ctx = encrypt ? evp_->enc.get() : evp_->dec.get();
  const std::uint64_t step = unit_ / kSectorSize;
  std::uint8_t iv[kIvSize];
  for (std::size_t i = 0; i < data.size() / unit_; ++i) {
    const std::uint64_t n = first + i * step;
    const std::uint64_t counter = evp_->spec.ivgen == IvGenerator::kPlain ? (n & 0xFFFFFFFFu) : n;
    std::memset(iv, 0, sizeof iv);
    for (int b = 0; b < 8; ++b) iv[b] = static_cast<std::uint8_t>(counter >> (8 * b));
    if (evp_->essiv) {
      int len = 0;
      if (EVP_EncryptUpdate(evp_->essiv.get(), iv, &len, iv, kIvSize) != 1)
        return CryptoError("ESSIV failed");
    }
    std::uint8_t* unit = data.data() + i * unit_;
    int len = 0;
    if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv, -1, nullptr) != 1 ||
        EVP_CipherUpdate(ctx, unit, &len, unit, static_cast<int>(unit_)) != 1 ||
        len != static_cast<int>(unit_)) {
      return CryptoError("sector encryption failed");
    }
  }
  return {};
}

std::uint64_t Luks2Capacity(const Luks2Header& header, std::uint64_t file_size) {
  if (header.segment.size) return *header.segment.size;
  const std::uint64_t bytes = file_size > header.segment.offset ? file_size - header.segment.offset : 0;
  return bytes / header.segment.sector_size * header.segment.sector_size;
}

Luks2Image::Luks2Image(std::unique_ptr<BlockFile> file, UnlockedLuks2 luks,
                       std::unique_ptr<Luks2DataCipher> cipher, std::uint64_t capacity)
    : file_(std::move(file)),
      luks_(std::move(luks)),
      data_offset_(luks_.header.segment.offset),
      unit_(luks_.header.segment.sector_size),
      capacity_(capacity),
      prototype_(std::move(cipher)) {}

Luks2Image::~Luks2Image() = default;

Result<std::unique_ptr<Luks2Image>> Luks2Image::Open(std::unique_ptr<BlockFile> file,
                                                     const SecretBytes& passphrase) {
  Result<Luks2Header> header = ReadLuks2Header(*file);
  if (!header) return std::unexpected(header.error());
  Result<UnlockedLuks2> luks = UnlockLuks2(*file, *header, passphrase);
  if (!luks) return std::unexpected(luks.error());
  return Adopt(std::move(file), std::move(*luks));
}

Result<std::unique_ptr<Luks2Image>> Luks2Image::Adopt(std::unique_ptr<BlockFile> file, UnlockedLuks2 luks) {
  const Luks2Header& header = luks.header;
  Result<std::unique_ptr<Luks2DataCipher>> cipher = Luks2DataCipher::Create(header.segment, luks.volume_key);
  if (!cipher) return std::unexpected(cipher.error());
  Result<std::uint64_t> size = file->Size();
  if (!size) return std::unexpected(size.error());
  // Written without offset + size, which wraps for sizes near 2^64 (cryptsetup accepts those).
  if (header.segment.size &&
      (*size < header.segment.offset || *size - header.segment.offset < *header.segment.size)) {
    return InternalError(ErrorDomain::kStorage,
                         "LUKS2 volume '" + file->path() + "' is shorter than its data segment");
  }
  const std::uint64_t capacity = Luks2Capacity(header, *size);
  return std::unique_ptr<Luks2Image>(
      new Luks2Image(std::move(file), std::move(luks), std::move(*cipher), capacity));
}

Result<std::unique_ptr<Luks2DataCipher>> Luks2Image::AcquireCipher() {
  {
    MutexLock lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<Luks2DataCipher> c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return prototype_->Clone();
}

void Luks2Image::ReleaseCipher(std::unique_ptr<Luks2DataCipher> cipher) {
  MutexLock lock(mutex_);
  idle_.push_back(std::move(cipher));
}

Result<void> Luks2Image::Read(std::uint64_t offset, std::span<std::uint8_t> out) {
  if (Result<void> r = CheckImageRange(offset, out.size(), capacity_); !r) return r;
  if (out.empty()) return {};
  Result<std::unique_ptr<Luks2DataCipher>> cipher = AcquireCipher();
  if (!cipher) return std::unexpected(cipher.error());
  const std::uint64_t start = offset / unit_ * unit_;
  const std::uint64_t end = (offset + out.size() + unit_ - 1) / unit_ * unit_;
  const bool aligned = start == offset && end == offset + out.size();
  std::span<std::uint8_t> work =
      aligned ? out : std::span<std::uint8_t>(Scratch(end - start).data(), end - start);
  Result<void> r = file_->ReadAt(data_offset_ + start, work, "data");
  if (r) r = (*cipher)->Decrypt(start, work);
  if (r && !aligned) std::memcpy(out.data(), work.data() + (offset - start), out.size());
  ReleaseCipher(std::move(*cipher));
  return r;
}

Result<void> Luks2Image::Write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (Result<void> r = CheckImageRange(offset, data.size(), capacity_); !r) return r;
  if (data.empty()) return {};
  Result<std::unique_ptr<Luks2DataCipher>> cipher = AcquireCipher();
  if (!cipher) return std::unexpected(cipher.error());
  const std::uint64_t start = offset / unit_ * unit_;
  const std::uint64_t end = (offset + data.size() + unit_ - 1) / unit_ * unit_;
  std::span<std::uint8_t> work(Scratch(end - start).data(), end - start);
  Result<void> r;
  // Edge units keep the plaintext around the written range.
  auto load = [&](std::uint64_t at) -> Result<void> {
    std::span<std::uint8_t> unit = work.subspan(at - start, unit_);
    if (Result<void> rr = file_->ReadAt(data_offset_ + at, unit, "data"); !rr) return rr;
    return (*cipher)->Decrypt(at, unit);
  };
  if (start != offset) r = load(start);
  const std::uint64_t tail = end - unit_;
  if (r && end != offset + data.size() && (tail != start || start == offset)) r = load(tail);
  if (r) {
    std::memcpy(work.data() + (offset - start), data.data(), data.size());
    r = (*cipher)->Encrypt(start, work);
  }
  if (r) r = file_->WriteAt(data_offset_ + start, work, "data");
  ReleaseCipher(std::move(*cipher));
  return r;
}

Result<void> Luks2Image::WriteClobbering(std::uint64_t offset, std::span<std::uint8_t> data) {
  if (offset % unit_ != 0 || data.size() % unit_ != 0) return Write(offset, data);
  if (Result<void> r = CheckImageRange(offset, data.size(), capacity_); !r) return r;
  Result<std::unique_ptr<Luks2DataCipher>> cipher = AcquireCipher();
  if (!cipher) return std::unexpected(cipher.error());
  Result<void> r = (*cipher)->Encrypt(offset, data);
  ReleaseCipher(std::move(*cipher));
  if (!r) return r;
  return file_->WriteAt(data_offset_ + offset, data, "data");
}

Result<void> Luks2Image::Resize(std::uint64_t new_capacity) {
  if (luks_.header.segment.size) {
    return ConfigUnsupported(
        ErrorDomain::kStorage,
        "LUKS2 volume '" + file_->path() + "' has a data segment of fixed size and cannot be resized");
  }
  const std::uint64_t rounded = (new_capacity + unit_ - 1) / unit_ * unit_;
  if (Result<void> r = file_->Resize(data_offset_ + rounded); !r) return r;
  capacity_ = rounded;
  return {};
}

}  // namespace vsecret::volume
