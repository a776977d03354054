// The ciphers OpenSSL lacks (twofish, serpent, cast5, AES-192-XTS: nettle) and whirlpool
// (libgcrypt), held to references that do not share their code:
//  * single blocks: published known answers (Twofish paper, RFC 2144 for CAST-128), and every
//    cipher's block function against libgcrypt's, called directly in this test;
//  * sector modes (xts, cbc, ecb, ctr with plain, plain64, essiv): built here from libgcrypt
//    single-block ECB, so IVs, tweaks and chaining are checked independently of nettle's modes;
//  * whirlpool hash and PBKDF2 against OpenSSL's legacy provider, loaded in a private context;
//  * qemu's rules for what can be opened and created, with their messages.
#include <gcrypt.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/provider.h>

#include <array>
#include <cctype>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "volume/luks_crypto.h"
#include "volume/nettle_cipher.h"
#include "volume/sector_cipher.h"

namespace vsecret::volume {
namespace {

using vsecret::test::Hex;

std::vector<std::uint8_t> FromHex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::vector<std::uint8_t> RandomVec(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

SecretBytes Secret(const std::vector<std::uint8_t>& v) {
  return SecretBytes(std::span<const std::uint8_t>(v));
}

// ---------------------------------------------------------------------------------------------
// Single blocks.

std::vector<std::uint8_t> NettleBlock(std::string_view name, const std::vector<std::uint8_t>& key,
                                      const std::vector<std::uint8_t>& in, bool encrypt) {
  auto c = NettleCipher::Create(name, NettleCipher::Mode::kEcb, key);
  EXPECT_TRUE(c.has_value());
  std::vector<std::uint8_t> out = in;
  (*c)->Run(encrypt, nullptr, out.data(), out.size());
  return out;
}

TEST(VolumeCipherKatTest, TwofishPaperVectors) {
  // Twofish paper, "Test Vectors": all-zero key and plaintext, for 128, 192 and 256 bits.
  const std::vector<std::uint8_t> zero(16, 0);
  EXPECT_EQ(Hex(NettleBlock("twofish", std::vector<std::uint8_t>(16, 0), zero, true)),
            "9f589f5cf6122c32b6bfec2f2ae8c35a");
  EXPECT_EQ(Hex(NettleBlock("twofish", std::vector<std::uint8_t>(24, 0), zero, true)),
            "efa71f788965bd4453f860178fc19101");
  EXPECT_EQ(Hex(NettleBlock("twofish", std::vector<std::uint8_t>(32, 0), zero, true)),
            "57ff739d4dc92c1bd7fc01700cc8216f");
}

TEST(VolumeCipherKatTest, Cast128Rfc2144) {
  // RFC 2144 appendix B.1, the 128-bit key.
  const auto key = FromHex("0123456712345678234567893456789a");
  const auto plain = FromHex("0123456789abcdef");
  EXPECT_EQ(Hex(NettleBlock("cast5", key, plain, true)), "238b4fe5847e44b2");
  EXPECT_EQ(NettleBlock("cast5", key, FromHex("238b4fe5847e44b2"), false), plain);
}

int GcryAlgo(std::string_view name, std::size_t key_bytes) {
  if (name == "aes")
    return key_bytes == 16 ? GCRY_CIPHER_AES128 : key_bytes == 24 ? GCRY_CIPHER_AES192 : GCRY_CIPHER_AES256;
  if (name == "twofish") return key_bytes == 16 ? GCRY_CIPHER_TWOFISH128 : GCRY_CIPHER_TWOFISH;
  if (name == "serpent")
    return key_bytes == 16   ? GCRY_CIPHER_SERPENT128
           : key_bytes == 24 ? GCRY_CIPHER_SERPENT192
                             : GCRY_CIPHER_SERPENT256;
  return GCRY_CIPHER_CAST5;
}

// The reference block function: libgcrypt ECB on one block. libgcrypt has no 192-bit twofish;
// callers skip it (the paper's vector above covers that key size).
void RefBlock(std::string_view name, const std::vector<std::uint8_t>& key, std::uint8_t* block, std::size_t n,
              bool encrypt) {
  gcry_cipher_hd_t hd = nullptr;
  ASSERT_EQ(gcry_cipher_open(&hd, GcryAlgo(name, key.size()), GCRY_CIPHER_MODE_ECB, 0), 0u);
  ASSERT_EQ(gcry_cipher_setkey(hd, key.data(), key.size()), 0u);
  if (encrypt) {
    ASSERT_EQ(gcry_cipher_encrypt(hd, block, n, nullptr, 0), 0u);
  } else {
    ASSERT_EQ(gcry_cipher_decrypt(hd, block, n, nullptr, 0), 0u);
  }
  gcry_cipher_close(hd);
}

bool RefHas(std::string_view name, std::size_t key_bytes) { return !(name == "twofish" && key_bytes == 24); }

TEST(VolumeCipherKatTest, BlockFunctionsAgreeWithLibgcrypt) {
  gcry_check_version(nullptr);
  const std::pair<const char*, std::size_t> ciphers[] = {{"aes", 24},     {"twofish", 16}, {"twofish", 32},
                                                         {"serpent", 16}, {"serpent", 24}, {"serpent", 32},
                                                         {"cast5", 16}};
  for (const auto& [name, key_bytes] : ciphers) {
    const auto key = RandomVec(key_bytes, 7);
    const auto plain = RandomVec(64, 8);
    std::vector<std::uint8_t> ref = plain;
    RefBlock(name, key, ref.data(), ref.size(), true);
    EXPECT_EQ(Hex(NettleBlock(name, key, plain, true)), Hex(ref)) << name << key_bytes;
    EXPECT_EQ(NettleBlock(name, key, ref, false), plain) << name << key_bytes;
  }
}

// ---------------------------------------------------------------------------------------------
// Sector modes from single reference blocks.

struct SectorCase {
  const char* cipher;
  const char* mode;
  std::uint32_t key_bytes;  // the LUKS master key (both halves for xts)
};

std::string SectorCaseName(const ::testing::TestParamInfo<SectorCase>& param) {
  std::string name =
      std::string(param.param.cipher) + "_" + param.param.mode + "_" + std::to_string(param.param.key_bytes);
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

// The dm-crypt IV for sector n, one block long.
std::vector<std::uint8_t> RefIv(const SectorCase& c, const std::vector<std::uint8_t>& key, std::uint64_t n,
                                std::size_t block) {
  std::vector<std::uint8_t> iv(block, 0);
  const std::string mode = c.mode;
  const std::uint64_t v =
      mode.find("-plain64") == std::string::npos && mode.find("-plain") != std::string::npos
          ? (n & 0xFFFFFFFFu)
          : n;
  for (int i = 0; i < 8; ++i) iv[i] = static_cast<std::uint8_t>(v >> (8 * i));
  if (mode.find("essiv:sha256") != std::string::npos) {
    std::vector<std::uint8_t> salt(32);
    EXPECT_TRUE(HashBytes(HashAlgo::kSha256, key, salt).has_value());
    RefBlock(c.cipher, salt, iv.data(), block, true);  // the family with a 256-bit key
  }
  return iv;
}

void RefSector(const SectorCase& c, const std::vector<std::uint8_t>& key, std::uint64_t n,
               std::uint8_t* sector) {
  const std::string mode = c.mode;
  const std::size_t block = std::string_view(c.cipher) == "cast5" ? 8 : 16;
  std::vector<std::uint8_t> iv = RefIv(c, key, n, block);
  if (mode.rfind("xts", 0) == 0) {
    const std::size_t half = key.size() / 2;
    std::vector<std::uint8_t> k1(key.begin(), key.begin() + half), k2(key.begin() + half, key.end());
    std::uint8_t t[16];
    std::memcpy(t, iv.data(), 16);
    RefBlock(c.cipher, k2, t, 16, true);
    for (std::size_t b = 0; b < 32; ++b) {
      std::uint8_t* x = sector + b * 16;
      for (int i = 0; i < 16; ++i) x[i] ^= t[i];
      RefBlock(c.cipher, k1, x, 16, true);
      for (int i = 0; i < 16; ++i) x[i] ^= t[i];
      std::uint8_t carry = 0;  // tweak * alpha in GF(2^128), little-endian bytes
      for (int i = 0; i < 16; ++i) {
        const std::uint8_t next = t[i] >> 7;
        t[i] = static_cast<std::uint8_t>(t[i] << 1 | carry);
        carry = next;
      }
      if (carry) t[0] ^= 0x87;
    }
  } else if (mode.rfind("cbc", 0) == 0) {
    for (std::size_t b = 0; b < 512 / block; ++b) {
      std::uint8_t* x = sector + b * block;
      for (std::size_t i = 0; i < block; ++i) x[i] ^= iv[i];
      RefBlock(c.cipher, key, x, block, true);
      std::memcpy(iv.data(), x, block);
    }
  } else if (mode.rfind("ctr", 0) == 0) {
    for (std::size_t b = 0; b < 512 / block; ++b) {
      std::vector<std::uint8_t> ks = iv;
      RefBlock(c.cipher, key, ks.data(), block, true);
      for (std::size_t i = 0; i < block; ++i) sector[b * block + i] ^= ks[i];
      for (std::size_t i = block; i-- > 0;) {  // big-endian increment over the whole block
        if (++iv[i] != 0) break;
      }
    }
  } else {  // ecb
    RefBlock(c.cipher, key, sector, 512, true);
  }
}

class VolumeSectorCipherTest : public ::testing::TestWithParam<SectorCase> {};

TEST_P(VolumeSectorCipherTest, MatchesReferenceAndRoundTrips) {
  const SectorCase c = GetParam();
  auto spec = ParseCipherSpec(c.cipher, c.mode, c.key_bytes);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  const std::vector<std::uint8_t> key = RandomVec(c.key_bytes, 11);
  auto cipher = SectorCipher::Create(*spec, Secret(key));
  ASSERT_TRUE(cipher.has_value()) << cipher.error().message();
  const std::vector<std::uint8_t> plain = RandomVec(4 * 512, 12);
  const std::uint64_t first = (1ull << 32) - 2;  // crosses the 2^32 boundary (plain wraps)
  std::vector<std::uint8_t> ours = plain;
  ASSERT_TRUE((*cipher)->Encrypt(first, ours).has_value());
  EXPECT_NE(ours, plain);
  const std::size_t one_key = std::string_view(c.mode).rfind("xts", 0) == 0 ? c.key_bytes / 2 : c.key_bytes;
  if (RefHas(c.cipher, one_key)) {
    std::vector<std::uint8_t> ref = plain;
    for (std::size_t s = 0; s < 4; ++s) RefSector(c, key, first + s, ref.data() + s * 512);
    EXPECT_EQ(Hex(ours), Hex(ref));
  }
  auto clone = (*cipher)->Clone();
  ASSERT_TRUE(clone.has_value());
  std::vector<std::uint8_t> twice = plain;
  ASSERT_TRUE((*clone)->Encrypt(first, twice).has_value());
  EXPECT_EQ(twice, ours);
  ASSERT_TRUE((*clone)->Decrypt(first, ours).has_value());
  EXPECT_EQ(ours, plain);
}

INSTANTIATE_TEST_SUITE_P(
    NettleModes, VolumeSectorCipherTest,
    ::testing::Values(SectorCase{"twofish", "xts-plain64", 64}, SectorCase{"twofish", "xts-plain64", 32},
                      SectorCase{"twofish", "xts-plain64", 48}, SectorCase{"twofish", "cbc-plain64", 32},
                      SectorCase{"twofish", "cbc-plain", 16}, SectorCase{"twofish", "cbc-essiv:sha256", 16},
                      SectorCase{"twofish", "ecb-plain64", 32}, SectorCase{"twofish", "ctr-plain64", 32},
                      SectorCase{"serpent", "xts-plain64", 64}, SectorCase{"serpent", "xts-essiv:sha256", 48},
                      SectorCase{"serpent", "xts-plain", 32}, SectorCase{"serpent", "cbc-plain64", 32},
                      SectorCase{"serpent", "cbc-essiv:sha256", 32}, SectorCase{"serpent", "ecb", 16},
                      SectorCase{"serpent", "ctr-plain64", 16}, SectorCase{"cast5", "cbc-plain64", 16},
                      SectorCase{"cast5", "cbc-plain", 16}, SectorCase{"cast5", "ecb-plain64", 16},
                      SectorCase{"cast5", "ctr-plain64", 16}, SectorCase{"aes", "xts-plain64", 48},
                      SectorCase{"aes", "xts-essiv:sha256", 48}, SectorCase{"aes", "ecb-plain64", 32},
                      SectorCase{"aes", "ecb", 16}, SectorCase{"aes", "ctr-plain64", 16}),
    SectorCaseName);

// ---------------------------------------------------------------------------------------------
// Whirlpool.

TEST(VolumeWhirlpoolTest, HashKnownAnswer) {
  // ISO/IEC 10118-3 test vector: the empty string.
  std::uint8_t out[64];
  ASSERT_TRUE(HashBytes(HashAlgo::kWhirlpool, {}, out).has_value());
  EXPECT_EQ(Hex(std::span<const std::uint8_t>(out)),
            "19fa61d75522a4669b44e39c1d2e1726c530232130d407f89afee0964997f7a7"
            "3e83be698b288febcf88e3e03c4f0757ea8964e59b63d93708b138cc42a66eb3");
  EXPECT_EQ(HashFromName("whirlpool"), HashAlgo::kWhirlpool);
  EXPECT_EQ(HashDigestSize(HashAlgo::kWhirlpool), 64u);
}

TEST(VolumeWhirlpoolTest, Pbkdf2AgreesWithOpenSslLegacyProvider) {
  OSSL_LIB_CTX* lib = OSSL_LIB_CTX_new();
  ASSERT_NE(lib, nullptr);
  OSSL_PROVIDER* deflt = OSSL_PROVIDER_load(lib, "default");
  OSSL_PROVIDER* legacy = OSSL_PROVIDER_load(lib, "legacy");
  if (legacy == nullptr) {
    OSSL_PROVIDER_unload(deflt);
    OSSL_LIB_CTX_free(lib);
    GTEST_SKIP() << "OpenSSL's legacy provider is not installed";
  }
  const std::string pass = "vsecret whirlpool", salt = "0123456789abcdef0123456789abcdef";
  std::vector<std::uint8_t> ref(100);  // two output blocks, the second short
  EVP_KDF* kdf = EVP_KDF_fetch(lib, "PBKDF2", nullptr);
  ASSERT_NE(kdf, nullptr);
  EVP_KDF_CTX* kctx = EVP_KDF_CTX_new(kdf);
  unsigned iterations = 1000;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, const_cast<char*>(pass.data()), pass.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iterations),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("WHIRLPOOL"), 0),
      OSSL_PARAM_construct_end()};
  ASSERT_EQ(EVP_KDF_derive(kctx, ref.data(), ref.size(), params), 1);
  EVP_KDF_CTX_free(kctx);
  EVP_KDF_free(kdf);
  OSSL_PROVIDER_unload(legacy);
  OSSL_PROVIDER_unload(deflt);
  OSSL_LIB_CTX_free(lib);

  std::vector<std::uint8_t> ours(ref.size());
  ASSERT_TRUE(Pbkdf2(HashAlgo::kWhirlpool, {reinterpret_cast<const std::uint8_t*>(pass.data()), pass.size()},
                     {reinterpret_cast<const std::uint8_t*>(salt.data()), salt.size()}, iterations, ours)
                  .has_value());
  EXPECT_EQ(Hex(ours), Hex(ref));
}

TEST(VolumeWhirlpoolTest, AfSplitMergeRoundTrip) {
  const SecretBytes key = Secret(RandomVec(64, 21));
  auto material = AfSplit(key, 4000, HashAlgo::kWhirlpool);
  ASSERT_TRUE(material.has_value());
  auto merged = AfMerge(material->span(), 64, 4000, HashAlgo::kWhirlpool);
  ASSERT_TRUE(merged.has_value());
  EXPECT_TRUE(merged->EqualsConstantTime(key));
  // The diffuser really hashes: merging with sha512 (same digest size) gives another key.
  auto other = AfMerge(material->span(), 64, 4000, HashAlgo::kSha512);
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->EqualsConstantTime(key));
}

// ---------------------------------------------------------------------------------------------
// What qemu opens and creates.

std::string ParseError(std::string_view cipher, std::string_view mode, std::uint32_t key_bytes) {
  auto spec = ParseCipherSpec(cipher, mode, key_bytes);
  return spec ? std::string("accepted") : spec.error().message();
}

TEST(VolumeCipherRulesTest, HeaderRefusalsUseQemuMessages) {
  const std::string p = "unsupported configuration: ";
  EXPECT_EQ(ParseError("blowfish", "cbc-plain64", 32),
            p + "Algorithm 'blowfish' with key size 32 bytes not supported");
  EXPECT_EQ(ParseError("cast5", "cbc-plain64", 32),
            p + "Algorithm 'cast5' with key size 32 bytes not supported");
  EXPECT_EQ(ParseError("twofish", "xts-plain64", 40),
            p + "Algorithm 'twofish' with key size 40 bytes not supported");
  EXPECT_EQ(ParseError("cast5", "xts-plain64", 32),
            p + "Unsupported cipher mode 'xts' for cipher 'cast5': XTS needs a 128-bit block cipher");
  EXPECT_EQ(ParseError("serpent", "lrw-plain64", 32), p + "Unsupported cipher mode 'lrw'");
  EXPECT_EQ(ParseError("twofish", "cbc-benbi", 32), p + "Unsupported IV generator 'benbi'");
  EXPECT_EQ(ParseError("twofish", "cbc", 32), p + "Unsupported IV generator ''");
  EXPECT_EQ(ParseError("twofish", "cbc-essiv:sha1", 32), p + "No Twofish cipher with key size 20 available");
  EXPECT_EQ(ParseError("serpent", "xts-essiv:sha512", 64),
            p + "No Serpent cipher with key size 64 available");
  EXPECT_EQ(ParseError("aes", "cbc-essiv:whirlpool", 32), p + "No AES cipher with key size 64 available");
  EXPECT_EQ(ParseError("cast5", "cbc-essiv:sha256", 16), p + "Cipher cast5-128 not supported with essiv");
  EXPECT_EQ(ParseError("aes", "cbc-essiv:md5", 16), p + "Unsupported ESSIV hash 'md5'");
  // Accepted: ecb with or without an IV part (ignored), hashes on plain64 (ignored).
  EXPECT_EQ(ParseError("aes", "ecb", 32), "accepted");
  EXPECT_EQ(ParseError("twofish", "ecb-essiv:sha256", 32), "accepted");
  EXPECT_EQ(ParseError("serpent", "cbc-plain64:sha256", 24), "accepted");
  EXPECT_EQ(ParseCipherSpec("aes", "ecb", 32)->ModeString(), "ecb");
  EXPECT_EQ(ParseCipherSpec("cast5", "ecb-plain64", 16)->ModeString(), "ecb-plain64");
}

TEST(VolumeCipherRulesTest, EcbIgnoresTheIvGenerator) {
  const auto key = RandomVec(32, 31);
  auto run = [&](const char* mode, std::uint64_t sector) {
    auto cipher = SectorCipher::Create(*ParseCipherSpec("twofish", mode, 32), Secret(key));
    std::vector<std::uint8_t> data(1024, 0x5a);
    EXPECT_TRUE((*cipher)->Encrypt(sector, data).has_value());
    return data;
  };
  EXPECT_EQ(run("ecb", 0), run("ecb-plain64", 77));
  EXPECT_EQ(run("ecb", 0), run("ecb-essiv:sha256", 3));
}

std::string CreateError(VolumeCipherRequest r) {
  auto spec = CipherSpecForVolume(r);
  return spec ? std::string("accepted") : spec.error().message();
}

TEST(VolumeCipherRulesTest, CreationFollowsQemuImg) {
  // libvirt's documentation example.
  auto doc = CipherSpecForVolume({"twofish", 256, "cbc", "plain64", "sha256"});
  ASSERT_TRUE(doc.has_value()) << doc.error().message();
  EXPECT_EQ(doc->cipher_name, "twofish");
  EXPECT_EQ(doc->key_bytes, 32u);
  EXPECT_EQ(doc->ModeString(), "cbc-plain64");
  // qemu's defaults: xts, plain64; an xts key is two keys.
  auto def = CipherSpecForVolume({"serpent", 192, std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(def.has_value());
  EXPECT_EQ(def->ModeString(), "xts-plain64");
  EXPECT_EQ(def->key_bytes, 48u);
  EXPECT_EQ(CipherSpecForVolume({"aes", 128, "cbc", "essiv", std::nullopt})->ModeString(),
            "cbc-essiv:sha256");
  EXPECT_EQ(CipherSpecForVolume({"cast5", 128, "ecb", std::nullopt, std::nullopt})->ModeString(),
            "ecb-plain64");

  const std::string p = "unsupported configuration: ";
  EXPECT_EQ(CreateError({"cast6", 128, "cbc", {}, {}}),
            p + "cipher 'cast6' is not supported (aes, twofish, serpent or cast5)");
  EXPECT_EQ(CreateError({"twofish", 512, "cbc", {}, {}}),
            p + "cipher size 512 is not supported for twofish (128, 192 or 256)");
  EXPECT_EQ(CreateError({"cast5", 256, "cbc", {}, {}}),
            p + "cipher size 256 is not supported for cast5 (128)");
  EXPECT_EQ(CreateError({"aes", 256, "lrw", {}, {}}),
            p + "cipher mode 'lrw' is not supported (xts, cbc, ecb or ctr)");
  EXPECT_EQ(CreateError({"cast5", 128, "xts", {}, {}}),
            p + "cipher mode 'xts' is not supported for cast5: XTS needs a 128-bit block cipher");
  EXPECT_EQ(CreateError({"serpent", 192, "cbc", {}, {}}),
            p + "cipher size 192 in cbc mode is not supported: its key material (96000 bytes) is not a whole "
                "number of sectors; use xts for 192-bit keys");
  EXPECT_EQ(CreateError({"aes", 256, "xts", "benbi", {}}),
            p + "ivgen 'benbi' is not supported (plain, plain64 or essiv)");
  EXPECT_EQ(CreateError({"twofish", 256, "xts", "essiv", "sha1"}),
            p + "No Twofish cipher with key size 20 available");
}

}  // namespace
}  // namespace vsecret::volume
