// LUKS2 header rules found missing by running cryptsetup's own validation images (its
// tests/generators, see tests/interop/volume_cryptsetup_images_test.py) through vsecret: each
// case here is one of those images rebuilt from a header vsecret formats itself, edited the way
// the generator edits luks2_valid_hdr.img, with the checksums recomputed so that exactly the one
// rule is exercised. Also the converse: a keyslot whose kdf type cryptsetup does not know
// ("argon2", in luks2_valid_hdr.img itself) leaves the header valid and only that keyslot unusable.
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "test_util.h"
#include "volume/luks2_format.h"
#include "volume/luks2_header.h"
#include "volume/luks2_image.h"
#include "volume/luks2_keyslots.h"
#include "volume/storage_internal.h"

namespace vsecret::volume {
namespace {

using vsecret::test::ReadFileOrEmpty;
using vsecret::test::TempDir;
using vsecret::test::WriteFileRaw;

constexpr std::uint64_t kHdrSize = 16384;  // FormatLuks2's metadata copies
constexpr std::size_t kBinary = 4096;
constexpr std::size_t kCsumOffset = 448;

// A fresh 16 MiB + 1 MiB LUKS2 volume, keyslot 0 keyed by "pass" with a cheap argon2id.
std::string Fresh(const TempDir& dir, const std::string& name) {
  const std::string path = dir.path() + "/" + name;
  Result<std::unique_ptr<BlockFile>> f = BlockFile::Create(path, 0600);
  EXPECT_TRUE(f) << f.error().message();
  if (!f) return path;
  EXPECT_TRUE((*f)->Resize(17u << 20));
  Luks2FormatOptions options;
  options.argon2_time = 1;
  options.argon2_memory = 64;
  options.argon2_cpus = 1;
  Result<UnlockedLuks2> made = FormatLuks2(**f, SecretBytes(std::string_view("pass")), options);
  EXPECT_TRUE(made) << made.error().message();
  return path;
}

// Rewrites both metadata copies: edit() gets the JSON area's text (up to its NUL) and returns the
// new area contents (padded with zeros to the area size); the checksums are recomputed.
void EditArea(const std::string& path, const std::function<std::string(const std::string&)>& edit) {
  std::string file = ReadFileOrEmpty(path);
  ASSERT_GE(file.size(), 2 * kHdrSize);
  for (std::uint64_t at : {std::uint64_t{0}, kHdrSize}) {
    std::string area = file.substr(at, kHdrSize);
    const std::string text(area.c_str() + kBinary);
    std::string replaced = edit(text);
    ASSERT_LE(replaced.size(), kHdrSize - kBinary);
    replaced.resize(kHdrSize - kBinary, '\0');
    area.replace(kBinary, replaced.size(), replaced);
    std::memset(area.data() + kCsumOffset, 0, 64);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(area.data()), area.size(), digest);
    std::memcpy(area.data() + kCsumOffset, digest, sizeof digest);
    file.replace(at, kHdrSize, area);
  }
  WriteFileRaw(path, file);
}

void EditJson(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  EditArea(path, [&](const std::string& text) {
    nlohmann::json j = nlohmann::json::parse(text);
    edit(j);
    return j.dump();
  });
}

Result<Luks2Header> Read(const std::string& path) {
  Result<std::unique_ptr<BlockFile>> f = BlockFile::Open(path, BlockFile::Mode::kReadOnly);
  if (!f) return std::unexpected(f.error());
  return ReadLuks2Header(**f);
}

std::string ErrorOf(const Result<Luks2Header>& r) { return r ? "(no error)" : r.error().message(); }

struct Case {
  const char* generator;  // the cryptsetup generator the image comes from
  std::function<void(const std::string&)> damage;
  const char* message;
};

TEST(Luks2CryptsetupRules, EachValidationImageDefectIsRefused) {
  const Case cases[] = {
      {"invalid-opening-char-json0",
       [](const std::string& p) { EditArea(p, [](const std::string& t) { return " " + t; }); },
       "LUKS2 header at offset 0: JSON metadata does not start with '{'"},
      {"non-null-bytes-beyond-json0",
       [](const std::string& p) {
         EditArea(p, [](const std::string& t) { return t + std::string(2, '\0') + "\""; });
       },
       "LUKS2 header at offset 0: non-zero bytes after the JSON metadata"},
      {"missing-keyslot-referenced-in-token",
       [](const std::string& p) {
         EditJson(p, [](nlohmann::json& j) {
           j["tokens"]["0"] = {{"type", "dummy"}, {"keyslots", {"0", "1"}}};
         });
       },
       "token 0 names keyslot 1 that does not exist"},
      {"keyslot-missing-digest",
       [](const std::string& p) {
         EditJson(p, [](nlohmann::json& j) { j["digests"]["0"]["keyslots"] = nlohmann::json::array(); });
       },
       "keyslot 0 is assigned to 0 digests, not exactly one"},
      {"keyslot-too-many-digests",
       [](const std::string& p) {
         EditJson(p, [](nlohmann::json& j) {
           j["digests"]["1"] = j["digests"]["0"];
           j["digests"]["1"]["segments"] = nlohmann::json::array();
         });
       },
       "keyslot 0 is assigned to 2 digests, not exactly one"},
      {"segment-wrong-flags",
       [](const std::string& p) {
         EditJson(p, [](nlohmann::json& j) { j["segments"]["0"]["flags"] = "hello"; });
       },
       "segment 0: 'flags' is not an array"},
      {"segment-wrong-flags-element",
       [](const std::string& p) {
         EditJson(p, [](nlohmann::json& j) { j["segments"]["0"]["flags"] = {"hello", 1}; });
       },
       "segment 0: 'flags' holds a non-string entry"},
      {"segment-crypt-empty-encryption",
       [](const std::string& p) {
         EditJson(p, [](nlohmann::json& j) { j["segments"]["0"]["encryption"] = ""; });
       },
       "segment 0: 'encryption' is empty"},
  };
  TempDir dir;
  for (const Case& c : cases) {
    const std::string path = Fresh(dir, std::string(c.generator) + ".img");
    ASSERT_TRUE(Read(path)) << c.generator << ": the undamaged header must parse";
    c.damage(path);
    const std::string message = ErrorOf(Read(path));
    EXPECT_NE(message.find(c.message), std::string::npos) << c.generator << ": " << message;
    // The probe turns it into a broken volume: listed as encrypted, capacity 0.
    Result<ProbedFile> probed = ProbeFile(path);
    ASSERT_TRUE(probed) << probed.error().message();
    EXPECT_TRUE(probed->encrypted) << c.generator;
    ASSERT_TRUE(probed->broken.has_value()) << c.generator;
    EXPECT_EQ(probed->capacity, 0u) << c.generator;
  }
}

TEST(Luks2CryptsetupRules, ValidFlagsAndTokensStillParse) {
  TempDir dir;
  const std::string path = Fresh(dir, "ok.img");
  EditJson(path, [](nlohmann::json& j) {
    j["segments"]["0"]["flags"] = {"some-flag"};
    j["tokens"]["0"] = {{"type", "dummy"}, {"keyslots", {"0"}}};
  });
  Result<Luks2Header> h = Read(path);
  EXPECT_TRUE(h) << h.error().message();
}

TEST(Luks2CryptsetupRules, UnknownKdfTypeMakesOnlyThatKeyslotUnusable) {
  TempDir dir;
  const std::string path = Fresh(dir, "argon2.img");
  // luks2_valid_hdr.img's keyslots: type "argon2", which cryptsetup 2.6 loads but cannot derive.
  EditJson(path, [](nlohmann::json& j) { j["keyslots"]["0"]["kdf"]["type"] = "argon2"; });
  Result<Luks2Header> h = Read(path);
  ASSERT_TRUE(h) << h.error().message();
  Result<ProbedFile> probed = ProbeFile(path);
  ASSERT_TRUE(probed);
  EXPECT_FALSE(probed->broken.has_value());
  EXPECT_EQ(probed->capacity, 1u << 20);
  Result<std::unique_ptr<BlockFile>> f = BlockFile::Open(path, BlockFile::Mode::kReadOnly);
  ASSERT_TRUE(f);
  // Whatever the passphrase, the refusal names the kdf rather than claiming a wrong password.
  Result<UnlockedLuks2> u = UnlockLuks2(**f, *h, SecretBytes(std::string_view("pass")));
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().message(), "unsupported configuration: LUKS2 kdf 'argon2' is not supported");
}

TEST(Luks2CryptsetupRules, SegmentLongerThanTheFileIsNotOpened) {
  // luks2-uint64-max-segment-size.img: a valid header (cryptsetup loads it) whose fixed segment
  // size is 2^64 - 512; offset + size wraps around, so the length check must not add them.
  TempDir dir;
  for (const char* size : {"18446744073709551104", "2097152"}) {
    const std::string path = Fresh(dir, std::string("size-") + size + ".img");
    EditJson(path, [&](nlohmann::json& j) { j["segments"]["0"]["size"] = size; });
    Result<std::unique_ptr<BlockFile>> f = BlockFile::Open(path, BlockFile::Mode::kReadWrite);
    ASSERT_TRUE(f);
    const std::string file_path = (*f)->path();
    Result<std::unique_ptr<Luks2Image>> image =
        Luks2Image::Open(std::move(*f), SecretBytes(std::string_view("pass")));
    ASSERT_FALSE(image) << size;
    EXPECT_EQ(image.error().message(),
              "internal error: LUKS2 volume '" + file_path + "' is shorter than its data segment");
  }
}

TEST(Luks2CryptsetupRules, SecondaryHeaderWithoutPrimaryIsAnEncryptedBrokenVolume) {
  TempDir dir;
  const std::string path = Fresh(dir, "vacuum.img");
  std::string file = ReadFileOrEmpty(path);
  file.replace(0, 6, "VACUUM");  // what cryptsetup's generators write to kill a header
  WriteFileRaw(path, file);
  Result<ProbedFile> probed = ProbeFile(path);
  ASSERT_TRUE(probed) << probed.error().message();
  EXPECT_TRUE(probed->encrypted);
  EXPECT_EQ(probed->luks, LuksVersion::kLuks2);
  EXPECT_EQ(probed->capacity, 0u);
  ASSERT_TRUE(probed->broken.has_value());
  EXPECT_EQ(BrokenVolumeError(path, *probed->broken).message(),
            "internal error: cannot open LUKS volume '" + path +
                "': LUKS2 primary header is missing (a secondary header is at offset 16384); 'cryptsetup "
                "repair' can restore it");
  // A file with neither copy stays a plain raw file.
  file.replace(kHdrSize, 6, "VACUUM");
  WriteFileRaw(path, file);
  probed = ProbeFile(path);
  ASSERT_TRUE(probed);
  EXPECT_FALSE(probed->encrypted);
  EXPECT_FALSE(probed->broken.has_value());
}

}  // namespace
}  // namespace vsecret::volume
