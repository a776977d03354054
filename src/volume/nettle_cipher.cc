#include "volume/nettle_cipher.h"

#include <nettle/aes.h>
#include <nettle/cast128.h>
#include <nettle/cbc.h>
#include <nettle/ctr.h>
#include <nettle/serpent.h>
#include <nettle/twofish.h>
#include <nettle/xts.h>

#include <cstring>
#include <string>

namespace vsecret::volume {
namespace {

// Block functions and key setup with the void* context nettle's generic modes take; thin
// wrappers rather than casts between function pointer types.
template <typename Ctx, void (*F)(const Ctx*, size_t, uint8_t*, const uint8_t*)>
void Block(const void* ctx, size_t length, uint8_t* dst, const uint8_t* src) {
  F(static_cast<const Ctx*>(ctx), length, dst, src);
}

template <typename Ctx, void (*F)(Ctx*, size_t, const uint8_t*)>
void SetKeyLen(void* ctx, std::size_t length, const std::uint8_t* key) {
  F(static_cast<Ctx*>(ctx), length, key);
}

template <typename Ctx, void (*F)(Ctx*, const uint8_t*)>
void SetKeyFixed(void* ctx, std::size_t, const std::uint8_t* key) {
  F(static_cast<Ctx*>(ctx), key);
}

using SetKeyFunc = void (*)(void*, std::size_t, const std::uint8_t*);

}  // namespace

struct NettleCipher::Algorithm {
  std::string_view name;
  std::size_t key_bytes;  // 0: any size from 16 to 32 in steps of 8 (twofish, serpent)
  std::size_t block_size;
  std::size_t ctx_size;
  SetKeyFunc set_enc;
  SetKeyFunc set_dec;
  nettle_cipher_func* encrypt;
  nettle_cipher_func* decrypt;
};

namespace {

constexpr std::size_t kAnyKey = 0;

const NettleCipher::Algorithm kAlgorithms[] = {
    {"aes", 16, 16, sizeof(aes128_ctx), SetKeyFixed<aes128_ctx, aes128_set_encrypt_key>,
     SetKeyFixed<aes128_ctx, aes128_set_decrypt_key>, Block<aes128_ctx, aes128_encrypt>,
     Block<aes128_ctx, aes128_decrypt>},
    {"aes", 24, 16, sizeof(aes192_ctx), SetKeyFixed<aes192_ctx, aes192_set_encrypt_key>,
     SetKeyFixed<aes192_ctx, aes192_set_decrypt_key>, Block<aes192_ctx, aes192_encrypt>,
     Block<aes192_ctx, aes192_decrypt>},
    {"aes", 32, 16, sizeof(aes256_ctx), SetKeyFixed<aes256_ctx, aes256_set_encrypt_key>,
     SetKeyFixed<aes256_ctx, aes256_set_decrypt_key>, Block<aes256_ctx, aes256_encrypt>,
     Block<aes256_ctx, aes256_decrypt>},
    {"twofish", kAnyKey, TWOFISH_BLOCK_SIZE, sizeof(twofish_ctx), SetKeyLen<twofish_ctx, twofish_set_key>,
     SetKeyLen<twofish_ctx, twofish_set_key>, Block<twofish_ctx, twofish_encrypt>,
     Block<twofish_ctx, twofish_decrypt>},
    {"serpent", kAnyKey, SERPENT_BLOCK_SIZE, sizeof(serpent_ctx), SetKeyLen<serpent_ctx, serpent_set_key>,
     SetKeyLen<serpent_ctx, serpent_set_key>, Block<serpent_ctx, serpent_encrypt>,
     Block<serpent_ctx, serpent_decrypt>},
    {"cast5", 16, CAST128_BLOCK_SIZE, sizeof(cast128_ctx), SetKeyFixed<cast128_ctx, cast128_set_key>,
     SetKeyFixed<cast128_ctx, cast128_set_key>, Block<cast128_ctx, cast128_encrypt>,
     Block<cast128_ctx, cast128_decrypt>},
};

const NettleCipher::Algorithm* Find(std::string_view name, std::size_t key_bytes) {
  for (const NettleCipher::Algorithm& a : kAlgorithms) {
    if (a.name != name) continue;
    if (a.key_bytes == key_bytes) return &a;
    if (a.key_bytes == kAnyKey && (key_bytes == 16 || key_bytes == 24 || key_bytes == 32)) return &a;
  }
  return nullptr;
}

}  // namespace

bool NettleCipher::Supports(std::string_view name, std::size_t key_bytes, Mode mode) {
  const Algorithm* a = Find(name, key_bytes);
  return a != nullptr && (mode != Mode::kXts || a->block_size == 16);
}

std::size_t NettleCipher::BlockSize(std::string_view name) {
  for (const Algorithm& a : kAlgorithms) {
    if (a.name == name) return a.block_size;
  }
  return 0;
}

NettleCipher::NettleCipher(const Algorithm* algo, Mode mode) : algo_(algo), mode_(mode) {}
NettleCipher::~NettleCipher() = default;

Result<std::unique_ptr<NettleCipher>> NettleCipher::Create(std::string_view name, Mode mode,
                                                           std::span<const std::uint8_t> key) {
  const std::size_t one_key = mode == Mode::kXts ? key.size() / 2 : key.size();
  if ((mode == Mode::kXts && key.size() % 2 != 0) || !Supports(name, one_key, mode)) {
    return InternalError(
        ErrorDomain::kCrypto,
        "cipher " + std::string(name) + "-" + std::to_string(one_key * 8) + " is not available in this mode");
  }
  const Algorithm* a = Find(name, one_key);
  std::unique_ptr<NettleCipher> c(new NettleCipher(a, mode));
  c->enc_.Resize(a->ctx_size);
  a->set_enc(c->enc_.data(), one_key, key.data());
  // ECB, CBC and XTS decrypt with the inverse schedule; CTR only ever encrypts the counter.
  if (mode != Mode::kCtr) {
    c->dec_.Resize(a->ctx_size);
    a->set_dec(c->dec_.data(), one_key, key.data());
  }
  if (mode == Mode::kXts) {
    c->tweak_.Resize(a->ctx_size);
    a->set_enc(c->tweak_.data(), one_key, key.data() + one_key);
  }
  return c;
}

std::unique_ptr<NettleCipher> NettleCipher::Clone() const {
  std::unique_ptr<NettleCipher> c(new NettleCipher(algo_, mode_));
  // nettle's contexts are plain structs without pointers into themselves: a byte copy is a copy.
  c->enc_ = enc_.Clone();
  c->dec_ = dec_.Clone();
  c->tweak_ = tweak_.Clone();
  return c;
}

std::size_t NettleCipher::block_size() const { return algo_->block_size; }

void NettleCipher::Run(bool encrypt, const std::uint8_t* iv, std::uint8_t* data, std::size_t len) const {
  std::uint8_t chain[16];
  const std::size_t bs = algo_->block_size;
  switch (mode_) {
    case Mode::kEcb:
      (encrypt ? algo_->encrypt : algo_->decrypt)(encrypt ? enc_.data() : dec_.data(), len, data, data);
      return;
    case Mode::kCbc:
      std::memcpy(chain, iv, bs);
      if (encrypt) {
        cbc_encrypt(enc_.data(), algo_->encrypt, bs, chain, len, data, data);
      } else {
        cbc_decrypt(dec_.data(), algo_->decrypt, bs, chain, len, data, data);
      }
      return;
    case Mode::kCtr:
      std::memcpy(chain, iv, bs);
      ctr_crypt(enc_.data(), algo_->encrypt, bs, chain, len, data, data);
      return;
    case Mode::kXts:
      if (encrypt) {
        xts_encrypt_message(enc_.data(), tweak_.data(), algo_->encrypt, iv, len, data, data);
      } else {
        xts_decrypt_message(dec_.data(), tweak_.data(), algo_->decrypt, algo_->encrypt, iv, len, data, data);
      }
      return;
  }
}

}  // namespace vsecret::volume
