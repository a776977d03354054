// Known-answer and differential tests for the LUKS key derivation and the sector engine.
//  * PBKDF2: RFC 6070 (HMAC-SHA1) and RFC 7914 §11 (HMAC-SHA256) vectors, and the fast path
//    against OpenSSL's generic PKCS5_PBKDF2_HMAC for many shapes (long passwords, multi-block).
//  * Sector engine: against a from-scratch XTS/CBC/ESSIV built in this test from single-block
//    AES-ECB, so the IV generators and tweak handling are checked independently of the engine.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "volume/luks_crypto.h"
#include "volume/sector_cipher.h"

namespace vsecret::volume {
namespace {

std::vector<std::uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

using vsecret::test::Hex;

std::string Pbkdf2Hex(HashAlgo hash, std::string_view pass, std::string_view salt, std::uint32_t iter,
                      std::size_t len) {
  std::vector<std::uint8_t> out(len);
  auto p = Bytes(pass);
  auto s = Bytes(salt);
  EXPECT_TRUE(Pbkdf2(hash, p, s, iter, out).has_value());
  return Hex(out);
}

TEST(LuksCryptoTest, Pbkdf2Rfc6070Sha1) {
  EXPECT_EQ(Pbkdf2Hex(HashAlgo::kSha1, "password", "salt", 1, 20),
            "0c60c80f961f0e71f3a9b524af6012062fe037a6");
  EXPECT_EQ(Pbkdf2Hex(HashAlgo::kSha1, "password", "salt", 2, 20),
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
  EXPECT_EQ(Pbkdf2Hex(HashAlgo::kSha1, "password", "salt", 4096, 20),
            "4b007901b765489abead49d926f721d065a429c1");
  EXPECT_EQ(Pbkdf2Hex(HashAlgo::kSha1, "passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt",
                      4096, 25),
            "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038");
}

TEST(LuksCryptoTest, Pbkdf2Rfc7914Sha256) {
  EXPECT_EQ(Pbkdf2Hex(HashAlgo::kSha256, "passwd", "salt", 1, 64),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
            "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
  EXPECT_EQ(Pbkdf2Hex(HashAlgo::kSha256, "Password", "NaCl", 80000, 64),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
            "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
}

TEST(LuksCryptoTest, Pbkdf2FastPathMatchesOpenSsl) {
  std::mt19937 rng(42);
  const std::pair<HashAlgo, const EVP_MD*> hashes[] = {
      {HashAlgo::kSha1, EVP_sha1()}, {HashAlgo::kSha256, EVP_sha256()}, {HashAlgo::kSha512, EVP_sha512()}};
  for (const auto& [hash, md] : hashes) {
    for (std::size_t pass_len : {0u, 7u, 64u, 65u, 128u, 129u, 300u}) {
      for (std::size_t out_len : {16u, 20u, 32u, 64u, 100u}) {
        std::vector<std::uint8_t> pass(pass_len), salt(32), ours(out_len), theirs(out_len);
        for (auto& b : pass) b = static_cast<std::uint8_t>(rng());
        for (auto& b : salt) b = static_cast<std::uint8_t>(rng());
        const std::uint32_t iter = 1 + rng() % 300;
        ASSERT_TRUE(Pbkdf2(hash, pass, salt, iter, ours).has_value());
        ASSERT_EQ(PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(pass.data()), static_cast<int>(pass.size()),
                                    salt.data(), static_cast<int>(salt.size()), static_cast<int>(iter), md,
                                    static_cast<int>(out_len), theirs.data()),
                  1);
        EXPECT_EQ(ours, theirs) << HashName(hash) << " pass " << pass_len << " out " << out_len << " iter "
                                << iter;
      }
    }
  }
}

TEST(LuksCryptoTest, Pbkdf2ParallelBlocksMatchSerial) {
  // 64-byte outputs with >= 20000 iterations take the parallel path.
  std::vector<std::uint8_t> pass = Bytes("letmein"), salt(32, 7), ours(64), theirs(64);
  ASSERT_TRUE(Pbkdf2(HashAlgo::kSha256, pass, salt, 25000, ours).has_value());
  ASSERT_EQ(PKCS5_PBKDF2_HMAC("letmein", 7, salt.data(), 32, 25000, EVP_sha256(), 64, theirs.data()), 1);
  EXPECT_EQ(ours, theirs);
}

TEST(LuksCryptoTest, GenericPathForRipemdOrSha224) {
  std::vector<std::uint8_t> pass = Bytes("p"), salt = Bytes("s"), ours(28), theirs(28);
  ASSERT_TRUE(Pbkdf2(HashAlgo::kSha224, pass, salt, 10, ours).has_value());
  ASSERT_EQ(PKCS5_PBKDF2_HMAC("p", 1, salt.data(), 1, 10, EVP_sha224(), 28, theirs.data()), 1);
  EXPECT_EQ(ours, theirs);
}

TEST(LuksCryptoTest, HashNames) {
  EXPECT_EQ(HashFromName("sha256"), HashAlgo::kSha256);
  EXPECT_EQ(HashFromName("sha1"), HashAlgo::kSha1);
  EXPECT_EQ(HashFromName("sha512"), HashAlgo::kSha512);
  EXPECT_FALSE(HashFromName("md5").has_value());
  EXPECT_FALSE(HashFromName("SHA256").has_value());
}

TEST(LuksCryptoTest, CalibrationHonoursBudgetAndFloor) {
  const std::uint32_t tiny = CalibratePbkdf2(HashAlgo::kSha256, 32, std::chrono::milliseconds(0));
  EXPECT_EQ(tiny, 1000u);
  const std::uint32_t some = CalibratePbkdf2(HashAlgo::kSha256, 32, std::chrono::milliseconds(50));
  EXPECT_GT(some, 1000u);
  // Two output blocks get about half the iterations of one.
  const std::uint32_t two_blocks = CalibratePbkdf2(HashAlgo::kSha256, 64, std::chrono::milliseconds(50));
  EXPECT_LT(two_blocks, some);
}

TEST(LuksCryptoTest, AfSplitMergeRoundTrip) {
  for (HashAlgo hash : {HashAlgo::kSha1, HashAlgo::kSha256, HashAlgo::kSha512}) {
    for (std::size_t n : {16u, 32u, 64u, 48u}) {
      SecretBytes key;
      key.Resize(n);
      ASSERT_TRUE(RandomBytes({key.data(), n}).has_value());
      auto material = AfSplit(key, 4000, hash);
      ASSERT_TRUE(material.has_value());
      ASSERT_EQ(material->size(), n * 4000);
      auto merged = AfMerge(material->span(), n, 4000, hash);
      ASSERT_TRUE(merged.has_value());
      EXPECT_TRUE(merged->EqualsConstantTime(key));
      // One flipped bit anywhere changes the result (diffusion).
      material->data()[n * 17 + 3] ^= 1;
      auto damaged = AfMerge(material->span(), n, 4000, hash);
      ASSERT_TRUE(damaged.has_value());
      EXPECT_FALSE(damaged->EqualsConstantTime(key));
    }
  }
}

TEST(LuksCryptoTest, AfMergeKnownShape) {
  // With two stripes the result is diffuse(s0) ^ s1, computed here by hand for sha256 and a
  // 40-byte key (one full and one short piece).
  std::vector<std::uint8_t> material(80);
  for (std::size_t i = 0; i < material.size(); ++i) material[i] = static_cast<std::uint8_t>(i * 7 + 1);
  std::vector<std::uint8_t> expect(40);
  for (std::uint32_t j = 0; j < 2; ++j) {
    const std::size_t len = j == 0 ? 32 : 8;
    std::vector<std::uint8_t> in = {0, 0, 0, static_cast<std::uint8_t>(j)};
    in.insert(in.end(), material.begin() + j * 32, material.begin() + j * 32 + len);
    std::uint8_t d[32];
    ASSERT_TRUE(HashBytes(HashAlgo::kSha256, in, d).has_value());
    for (std::size_t k = 0; k < len; ++k) expect[j * 32 + k] = d[k] ^ material[40 + j * 32 + k];
  }
  auto merged = AfMerge(material, 40, 2, HashAlgo::kSha256);
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(Hex(merged->span()), Hex(expect));
}

// ---------------------------------------------------------------------------------------------
// Reference sector modes from single AES blocks.

void AesBlock(const std::vector<std::uint8_t>& key, const std::uint8_t* in, std::uint8_t* out, bool enc) {
  const EVP_CIPHER* c = key.size() == 16   ? EVP_aes_128_ecb()
                        : key.size() == 24 ? EVP_aes_192_ecb()
                                           : EVP_aes_256_ecb();
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_CipherInit_ex(ctx, c, nullptr, key.data(), nullptr, enc ? 1 : 0);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  int len = 0;
  EVP_CipherUpdate(ctx, out, &len, in, 16);
  EVP_CIPHER_CTX_free(ctx);
}

std::array<std::uint8_t, 16> Iv(std::uint64_t n, bool plain32) {
  std::array<std::uint8_t, 16> iv{};
  const std::uint64_t v = plain32 ? (n & 0xFFFFFFFFu) : n;
  for (int i = 0; i < 8; ++i) iv[i] = static_cast<std::uint8_t>(v >> (8 * i));
  return iv;
}

// IEEE 1619 XTS for one 512-byte sector, from its definition.
void RefXts(const std::vector<std::uint8_t>& key, std::array<std::uint8_t, 16> tweak_in, std::uint8_t* sector,
            bool enc) {
  const std::size_t half = key.size() / 2;
  std::vector<std::uint8_t> k1(key.begin(), key.begin() + half), k2(key.begin() + half, key.end());
  std::uint8_t t[16];
  AesBlock(k2, tweak_in.data(), t, true);
  for (std::size_t b = 0; b < 32; ++b) {
    std::uint8_t x[16];
    for (int i = 0; i < 16; ++i) x[i] = sector[b * 16 + i] ^ t[i];
    AesBlock(k1, x, x, enc);
    for (int i = 0; i < 16; ++i) sector[b * 16 + i] = x[i] ^ t[i];
    // Multiply the tweak by alpha in GF(2^128), little-endian byte order.
    std::uint8_t carry = 0;
    for (int i = 0; i < 16; ++i) {
      const std::uint8_t next = t[i] >> 7;
      t[i] = static_cast<std::uint8_t>(t[i] << 1 | carry);
      carry = next;
    }
    if (carry) t[0] ^= 0x87;
  }
}

void RefCbcEncrypt(const std::vector<std::uint8_t>& key, std::array<std::uint8_t, 16> iv,
                   std::uint8_t* sector) {
  std::uint8_t prev[16];
  std::memcpy(prev, iv.data(), 16);
  for (std::size_t b = 0; b < 32; ++b) {
    for (int i = 0; i < 16; ++i) sector[b * 16 + i] ^= prev[i];
    AesBlock(key, sector + b * 16, sector + b * 16, true);
    std::memcpy(prev, sector + b * 16, 16);
  }
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

struct ModeCase {
  const char* mode;
  std::uint32_t key_bytes;
};

std::string ModeCaseName(const ::testing::TestParamInfo<ModeCase>& param) {
  std::string name = std::string(param.param.mode) + "_" + std::to_string(param.param.key_bytes);
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

class LuksSectorCipherRefTest : public ::testing::TestWithParam<ModeCase> {};

TEST_P(LuksSectorCipherRefTest, MatchesReferenceAndRoundTrips) {
  const ModeCase c = GetParam();
  auto spec = ParseCipherSpec("aes", c.mode, c.key_bytes);
  ASSERT_TRUE(spec.has_value()) << spec.error().message();
  const std::vector<std::uint8_t> key = RandomVec(c.key_bytes, 1);
  auto cipher = SectorCipher::Create(*spec, Secret(key));
  ASSERT_TRUE(cipher.has_value());
  const std::vector<std::uint8_t> plain = RandomVec(4 * 512, 2);
  const std::uint64_t first = (1ull << 32) - 2;  // crosses the 2^32 boundary
  std::vector<std::uint8_t> ours = plain;
  ASSERT_TRUE((*cipher)->Encrypt(first, ours).has_value());

  std::vector<std::uint8_t> ref = plain;
  for (std::size_t s = 0; s < 4; ++s) {
    std::array<std::uint8_t, 16> iv = Iv(first + s, spec->ivgen == IvGenerator::kPlain);
    if (spec->ivgen == IvGenerator::kEssiv) {
      std::vector<std::uint8_t> salt(32);
      ASSERT_TRUE(HashBytes(HashAlgo::kSha256, key, salt).has_value());
      AesBlock(salt, iv.data(), iv.data(), true);  // AES-256 whatever the data key size
    }
    if (spec->mode == ChainMode::kXts) {
      RefXts(key, iv, ref.data() + s * 512, true);
    } else {
      RefCbcEncrypt(key, iv, ref.data() + s * 512);
    }
  }
  EXPECT_EQ(Hex(ours), Hex(ref));
  auto clone = (*cipher)->Clone();
  ASSERT_TRUE(clone.has_value());
  ASSERT_TRUE((*clone)->Decrypt(first, ours).has_value());
  EXPECT_EQ(ours, plain);
}

INSTANTIATE_TEST_SUITE_P(LuksModes, LuksSectorCipherRefTest,
                         ::testing::Values(ModeCase{"xts-plain64", 64}, ModeCase{"xts-plain64", 32},
                                           ModeCase{"xts-plain", 64}, ModeCase{"xts-essiv:sha256", 64},
                                           ModeCase{"cbc-essiv:sha256", 32}, ModeCase{"cbc-essiv:sha256", 16},
                                           ModeCase{"cbc-plain64", 32}, ModeCase{"cbc-plain", 32},
                                           ModeCase{"cbc-plain64:sha256", 32}, ModeCase{"cbc-plain64", 24}),
                         ModeCaseName);

// plain wraps at 2^32 sectors (a 32-bit IV), plain64 does not.
TEST(LuksSectorCipherTest, PlainWrapsPlain64DoesNot) {
  const std::vector<std::uint8_t> key = RandomVec(64, 3);
  const std::vector<std::uint8_t> data = RandomVec(512, 4);
  auto encrypt = [&](const char* mode, std::uint64_t sector) {
    auto spec = ParseCipherSpec("aes", mode, 64);
    auto cipher = SectorCipher::Create(*spec, Secret(key));
    std::vector<std::uint8_t> out = data;
    EXPECT_TRUE((*cipher)->Encrypt(sector, out).has_value());
    return out;
  };
  const std::uint64_t k = 12345;
  EXPECT_EQ(encrypt("xts-plain", (1ull << 32) + k), encrypt("xts-plain", k));
  EXPECT_NE(encrypt("xts-plain64", (1ull << 32) + k), encrypt("xts-plain64", k));
  EXPECT_EQ(encrypt("xts-plain64", k), encrypt("xts-plain", k));
}

TEST(LuksSectorCipherTest, ModeStrings) {
  EXPECT_EQ(ParseCipherSpec("aes", "xts-plain64", 64)->ModeString(), "xts-plain64");
  // A hash on plain64 is accepted when opening and never written back.
  EXPECT_EQ(ParseCipherSpec("aes", "cbc-plain64:sha256", 32)->ModeString(), "cbc-plain64");
  EXPECT_EQ(ParseCipherSpec("aes", "cbc-essiv:sha256", 16)->ModeString(), "cbc-essiv:sha256");
  EXPECT_EQ(ParseCipherSpec("aes", "ctr-plain64", 32)->ModeString(), "ctr-plain64");
}

TEST(LuksSectorCipherTest, RefusesWhatQemuCannotRun) {
  const std::pair<const char*, std::uint32_t> bad[] = {
      {"ecb-benbi", 32},        {"xts-benbi", 64},   {"xts-plain64", 40},  {"cbc-essiv:sha1", 32},
      {"cbc-essiv:sha512", 32}, {"xts-plain64", 20}, {"cbc-essiv:md5", 16}};
  for (const auto& [mode, bytes] : bad) {
    auto spec = ParseCipherSpec("aes", mode, bytes);
    EXPECT_FALSE(spec.has_value()) << mode;
  }
  auto blowfish = ParseCipherSpec("blowfish", "cbc-plain64", 32);
  ASSERT_FALSE(blowfish.has_value());
  EXPECT_EQ(blowfish.error().message(),
            "unsupported configuration: Algorithm 'blowfish' with key size 32 bytes not supported");
}

TEST(LuksSectorCipherTest, RejectsUnalignedData) {
  auto spec = ParseCipherSpec("aes", "xts-plain64", 64);
  auto cipher = SectorCipher::Create(*spec, Secret(RandomVec(64, 5)));
  std::vector<std::uint8_t> data(500);
  EXPECT_FALSE((*cipher)->Encrypt(0, data).has_value());
}

}  // namespace
}  // namespace vsecret::volume
