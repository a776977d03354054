// LUKS2: header parsing and validation, keyslot unlock (pbkdf2, argon2id) and data access, on
// volumes made by the installed cryptsetup (skipped when it is missing). Damaged variants are
// derived from those headers by editing the JSON and recomputing the checksums, so each one
// exercises exactly one rule.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "volume/luks2_format.h"
#include "volume/luks2_header.h"
#include "volume/luks2_image.h"
#include "volume/luks2_keyslots.h"

namespace vsecret::volume {
namespace {

using vsecret::test::ReadFileOrEmpty;
using vsecret::test::TempDir;
using vsecret::test::WriteFileRaw;

int Sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  std::size_t n;
  std::string text;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int status = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool HaveCryptsetup() { return Sh("command -v cryptsetup") == 0; }

// cryptsetup luksFormat --type luks2 on a new image file; passphrase "pass".
std::string Format(const TempDir& dir, const std::string& name, const std::string& extra,
                   const std::string& size = "17M") {
  const std::string path = dir.path() + "/" + name;
  std::string out;
  const int rc =
      Sh("truncate -s " + size + " " + path +
             " && printf pass | cryptsetup luksFormat -q --type luks2 --key-file - " + extra + " " + path,
         &out);
  EXPECT_EQ(rc, 0) << out;
  return path;
}

const std::string kFastKdf = "--pbkdf pbkdf2 --pbkdf-force-iterations 1000";

std::string Bytes(const std::string& path, std::size_t n) { return ReadFileOrEmpty(path).substr(0, n); }

void WriteAt(const std::string& path, std::uint64_t at, const std::string& data) {
  FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fseek(f, static_cast<long>(at), SEEK_SET), 0);
  ASSERT_EQ(std::fwrite(data.data(), 1, data.size(), f), data.size());
  std::fclose(f);
}

// Replaces the JSON of both copies with edit(json) and recomputes their sha256 checksums.
template <typename Edit>
void EditJson(const std::string& path, Edit edit) {
  std::string file = ReadFileOrEmpty(path);
  const std::uint64_t hdr_size = 16384;
  for (std::uint64_t at : {std::uint64_t{0}, hdr_size}) {
    std::string area = file.substr(at, hdr_size);
    nlohmann::json j = nlohmann::json::parse(area.c_str() + 4096);
    edit(j);
    const std::string text = j.dump();
    ASSERT_LT(text.size(), hdr_size - 4096);
    std::memset(area.data() + 4096, 0, hdr_size - 4096);
    std::memcpy(area.data() + 4096, text.data(), text.size());
    std::memset(area.data() + 448, 0, 64);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(area.data()), area.size(), digest);
    std::memcpy(area.data() + 448, digest, sizeof digest);
    file.replace(at, hdr_size, area);
  }
  WriteFileRaw(path, file);
}

Result<Luks2Header> Read(const std::string& path) {
  Result<std::unique_ptr<BlockFile>> f = BlockFile::Open(path, BlockFile::Mode::kReadOnly);
  if (!f) return std::unexpected(f.error());
  return ReadLuks2Header(**f);
}

std::string ErrorOf(const Result<Luks2Header>& r) {
  return r ? std::string("(no error)") : r.error().message();
}

class Luks2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveCryptsetup()) GTEST_SKIP() << "cryptsetup is not installed";
  }
  TempDir dir_;
};

TEST_F(Luks2Test, ParsesCryptsetupHeader) {
  const std::string path = Format(dir_, "a.img", kFastKdf + " --sector-size 512 --label lbl");
  Result<Luks2Header> h = Read(path);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->hdr_size, 16384u);
  EXPECT_EQ(h->json_size, 16384u - 4096u);
  EXPECT_EQ(h->checksum_alg, "sha256");
  EXPECT_EQ(h->label, "lbl");
  EXPECT_TRUE(h->primary_valid);
  EXPECT_TRUE(h->secondary_valid);
  std::string uuid;
  ASSERT_EQ(Sh("cryptsetup luksUUID " + path, &uuid), 0);
  EXPECT_EQ(h->uuid + "\n", uuid);
  ASSERT_EQ(h->keyslots.size(), 1u);
  const Luks2Keyslot& k = h->keyslots[0];
  EXPECT_EQ(k.id, 0);
  EXPECT_EQ(k.key_size, 64u);
  EXPECT_EQ(k.stripes, 4000u);
  EXPECT_EQ(k.area_offset, 32768u);
  EXPECT_EQ(k.area_encryption, "aes-xts-plain64");
  EXPECT_EQ(k.kdf.type, "pbkdf2");
  EXPECT_EQ(k.kdf.iterations, 1000u);
  EXPECT_EQ(k.kdf.salt.size(), 32u);
  EXPECT_EQ(h->segment.offset, 16777216u);
  EXPECT_FALSE(h->segment.size);
  EXPECT_EQ(h->segment.sector_size, 512u);
  EXPECT_EQ(h->segment.encryption, "aes-xts-plain64");
  ASSERT_EQ(h->digests.size(), 1u);
  EXPECT_EQ(h->digests[0].keyslots, std::vector<int>{0});
  EXPECT_EQ(h->digests[0].segments, std::vector<int>{0});
  EXPECT_EQ(h->digests[0].digest.size(), 32u);
  EXPECT_EQ(h->MetadataEnd(), 16777216u);
  EXPECT_EQ(Luks2Capacity(*h, 17u << 20), 1u << 20);
}

TEST_F(Luks2Test, DamagedPrimaryFallsBackToSecondary) {
  const std::string path = Format(dir_, "a.img", kFastKdf);
  WriteAt(path, 4096 + 20, "X");
  Result<Luks2Header> h = Read(path);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_FALSE(h->primary_valid);
  EXPECT_TRUE(h->secondary_valid);
  // The primary's own error names the defect.
  const std::string file = ReadFileOrEmpty(path);
  Result<Luks2Header> primary =
      ParseLuks2Copy(std::span(reinterpret_cast<const std::uint8_t*>(file.data()), 16384), 0);
  EXPECT_EQ(ErrorOf(primary), "internal error: LUKS2 header at offset 0: bad checksum");
}

TEST_F(Luks2Test, DamagedSecondaryUsesPrimary) {
  const std::string path = Format(dir_, "a.img", kFastKdf);
  WriteAt(path, 16384 + 100, "X");
  Result<Luks2Header> h = Read(path);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_TRUE(h->primary_valid);
  EXPECT_FALSE(h->secondary_valid);
}

TEST_F(Luks2Test, BothCopiesDamagedIsAnErrorNamingBoth) {
  const std::string path = Format(dir_, "a.img", kFastKdf);
  WriteAt(path, 4096 + 20, "X");
  WriteAt(path, 16384 + 4096 + 20, "X");
  EXPECT_EQ(
      ErrorOf(Read(path)),
      "internal error: Volume has a damaged LUKS2 header: LUKS2 header at offset 0: bad checksum; LUKS2 "
      "header at offset 16384: bad checksum");
}

TEST_F(Luks2Test, DestroyedPrimaryMagicStillFindsSecondary) {
  const std::string path = Format(dir_, "a.img", kFastKdf);
  WriteAt(path, 0, std::string(4096, '\0'));
  Result<Luks2Header> h = Read(path);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_TRUE(h->secondary_valid);
}

TEST_F(Luks2Test, NewerSequenceIdWins) {
  const std::string path = Format(dir_, "a.img", kFastKdf);
  // luksAddKey rewrites both copies with a higher seqid; damaging the result's secondary and
  // restoring an older primary would be the interrupted-write case. Here: both valid, same seqid.
  Result<Luks2Header> before = Read(path);
  ASSERT_TRUE(before);
  std::string out;
  ASSERT_EQ(Sh("printf 'pass\\nsecond' > " + dir_.path() + "/keys; cd " + dir_.path() +
                   " && head -c4 keys > k1 && tail -c6 keys > k2 && cryptsetup luksAddKey -q " + kFastKdf +
                   " --key-file k1 " + path + " k2",
               &out),
            0)
      << out;
  Result<Luks2Header> after = Read(path);
  ASSERT_TRUE(after);
  EXPECT_GT(after->seqid, before->seqid);
  EXPECT_EQ(after->keyslots.size(), 2u);
}

TEST_F(Luks2Test, StructuralRulesAreEnforced) {
  struct Case {
    const char* name;
    void (*edit)(nlohmann::json&);
    const char* message;
  };
  const Case cases[] = {
      {"overlap",
       [](nlohmann::json& j) {
         j["keyslots"]["1"] = j["keyslots"]["0"];
         j["digests"]["0"]["keyslots"].push_back("1");
       },
       "keyslots 0 and 1 are overlapping"},
      {"requirements",
       [](nlohmann::json& j) { j["config"]["requirements"]["mandatory"] = {"online-reencrypt-v2"}; },
       "unmet requirements (online-reencrypt-v2)"},
      {"segment-in-keyslots", [](nlohmann::json& j) { j["segments"]["0"]["offset"] = "1048576"; },
       "segment 0: data overlaps the keyslots area"},
      {"area-outside", [](nlohmann::json& j) { j["keyslots"]["0"]["area"]["offset"] = "16777216"; },
       "keyslot 0: area is outside the keyslots area"},
      {"stripes", [](nlohmann::json& j) { j["keyslots"]["0"]["af"]["stripes"] = 2000; },
       "keyslot 0: stripes 2000 != 4000"},
      {"json-size", [](nlohmann::json& j) { j["config"]["json_size"] = "4096"; },
       "json_size 4096 does not match the header size 16384"},
      {"sector-size", [](nlohmann::json& j) { j["segments"]["0"]["sector_size"] = 1000; },
       "segment 0: invalid sector_size 1000"},
      {"digest-dangling", [](nlohmann::json& j) { j["digests"]["0"]["keyslots"].push_back("7"); },
       "digest 0 names keyslot 7 that does not exist"},
      {"missing-salt", [](nlohmann::json& j) { j["keyslots"]["0"]["kdf"].erase("salt"); },
       "keyslot 0 kdf: 'salt' is missing"},
      {"bad-number", [](nlohmann::json& j) { j["segments"]["0"]["offset"] = "16M"; },
       "segment 0: 'offset' is not a decimal number"},
      {"two-segments", [](nlohmann::json& j) { j["segments"]["1"] = j["segments"]["0"]; },
       "exactly one data segment (segment 0) is supported, found 2"},
      {"integrity",
       [](nlohmann::json& j) {
         j["segments"]["0"]["integrity"] = {{"type", "hmac(sha256)"}};
       },
       "authenticated encryption (integrity) is not supported"},
  };
  for (const Case& c : cases) {
    const std::string path = Format(dir_, std::string(c.name) + ".img", kFastKdf);
    EditJson(path, c.edit);
    const std::string message = ErrorOf(Read(path));
    EXPECT_NE(message.find(c.message), std::string::npos) << c.name << ": " << message;
    EXPECT_NE(message.find("offset 0: "), std::string::npos) << c.name << ": " << message;
  }
}

TEST_F(Luks2Test, InvalidJsonIsRefused) {
  const std::string path = Format(dir_, "a.img", kFastKdf);
  std::string file = ReadFileOrEmpty(path);
  for (std::uint64_t at : {std::uint64_t{0}, std::uint64_t{16384}}) {
    std::string area = file.substr(at, 16384);
    std::memset(area.data() + 4096, 0, 16384 - 4096);
    std::memcpy(area.data() + 4096, "{\"keyslots\":", 12);
    std::memset(area.data() + 448, 0, 64);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(area.data()), area.size(), digest);
    std::memcpy(area.data() + 448, digest, sizeof digest);
    file.replace(at, 16384, area);
  }
  WriteFileRaw(path, file);
  EXPECT_NE(ErrorOf(Read(path)).find("LUKS2 header at offset 0: invalid JSON metadata"), std::string::npos);
}

TEST_F(Luks2Test, TruncatedFileIsRefused) {
  const std::string path = Format(dir_, "a.img", kFastKdf);
  WriteFileRaw(path, Bytes(path, 8192));
  EXPECT_NE(ErrorOf(Read(path)).find("truncated metadata area"), std::string::npos);
}

std::string VolumeKey(const std::string& path, const TempDir& dir) {
  const std::string key = dir.path() + "/vk.bin";
  ::unlink(key.c_str());  // cryptsetup does not overwrite it
  std::string out;
  EXPECT_EQ(Sh("printf pass | cryptsetup luksDump -q --dump-volume-key --volume-key-file " + key +
                   " --key-file - " + path,
               &out),
            0)
      << out;
  return ReadFileOrEmpty(key);
}

Result<UnlockedLuks2> Unlock(const std::string& path, const char* passphrase) {
  Result<std::unique_ptr<BlockFile>> f = BlockFile::Open(path, BlockFile::Mode::kReadOnly);
  if (!f) return std::unexpected(f.error());
  Result<Luks2Header> h = ReadLuks2Header(**f);
  if (!h) return std::unexpected(h.error());
  return UnlockLuks2(**f, *h, SecretBytes(std::string_view(passphrase)));
}

TEST_F(Luks2Test, UnlocksPbkdf2Keyslot) {
  const std::string path = Format(dir_, "a.img", kFastKdf);
  Result<UnlockedLuks2> u = Unlock(path, "pass");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->keyslot, 0);
  EXPECT_EQ(std::string(u->volume_key.AsStringView()), VolumeKey(path, dir_));
  Result<UnlockedLuks2> wrong = Unlock(path, "wrong");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), ErrorCode::kOperationFailed);
  EXPECT_EQ(wrong.error().message(), "operation failed: Invalid password, cannot unlock any keyslot");
}

TEST_F(Luks2Test, UnlocksArgon2idAndArgon2iKeyslots) {
  for (const char* kdf : {"argon2id", "argon2i"}) {
    const std::string path = Format(dir_, std::string(kdf) + ".img",
                                    std::string("--pbkdf ") + kdf + " --pbkdf-memory 32768 --iter-time 100");
    Result<Luks2Header> h = Read(path);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->keyslots[0].kdf.type, kdf);
    EXPECT_EQ(h->keyslots[0].kdf.memory, 32768u);
    Result<UnlockedLuks2> u = Unlock(path, "pass");
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(std::string(u->volume_key.AsStringView()), VolumeKey(path, dir_));
    Result<UnlockedLuks2> wrong = Unlock(path, "Pass");
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().message(), "operation failed: Invalid password, cannot unlock any keyslot");
  }
}

TEST_F(Luks2Test, UnlocksSecondKeyslotAndSkipsIgnoredPriority) {
  const std::string path = Format(dir_, "a.img", kFastKdf);
  WriteFileRaw(dir_.path() + "/k1", "pass");
  WriteFileRaw(dir_.path() + "/k2", "other");
  std::string out;
  ASSERT_EQ(Sh("cryptsetup luksAddKey -q " + kFastKdf + " --key-file " + dir_.path() + "/k1 " + path + " " +
                   dir_.path() + "/k2",
               &out),
            0)
      << out;
  Result<UnlockedLuks2> u = Unlock(path, "other");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->keyslot, 1);
  EXPECT_EQ(std::string(u->volume_key.AsStringView()), VolumeKey(path, dir_));
  ASSERT_EQ(Sh("cryptsetup config --priority ignore --key-slot 1 " + path, &out), 0) << out;
  EXPECT_FALSE(Unlock(path, "other"));
  EXPECT_TRUE(Unlock(path, "pass"));
}

std::vector<std::uint8_t> Random(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

TEST_F(Luks2Test, ImageReadsAndWritesAtAnyAlignment) {
  for (const char* sector : {"512", "4096"}) {
    const std::string path =
        Format(dir_, std::string("s") + sector + ".img", kFastKdf + " --sector-size " + sector);
    Result<std::unique_ptr<BlockFile>> f = BlockFile::Open(path, BlockFile::Mode::kReadWrite);
    ASSERT_TRUE(f);
    Result<std::unique_ptr<Luks2Image>> image =
        Luks2Image::Open(std::move(*f), SecretBytes(std::string_view("pass")));
    ASSERT_TRUE(image) << image.error().message();
    EXPECT_EQ((*image)->capacity(), 1u << 20);
    EXPECT_EQ((*image)->transfer_unit(), std::stoul(sector));
    const std::vector<std::uint8_t> data = Random(1 << 20, 7);
    ASSERT_TRUE((*image)->Write(0, data));
    // Unaligned overwrite in the middle keeps the bytes around it.
    std::vector<std::uint8_t> patch = Random(10000, 8);
    ASSERT_TRUE((*image)->Write(4097 + 3, patch));
    std::vector<std::uint8_t> expect = data;
    std::copy(patch.begin(), patch.end(), expect.begin() + 4100);
    std::vector<std::uint8_t> back(1 << 20);
    ASSERT_TRUE((*image)->Read(0, back));
    EXPECT_EQ(back, expect);
    std::vector<std::uint8_t> piece(333);
    ASSERT_TRUE((*image)->Read(12345, piece));
    EXPECT_TRUE(std::equal(piece.begin(), piece.end(), expect.begin() + 12345));
    EXPECT_FALSE((*image)->Read((1 << 20) - 10, piece));
    // Ciphertext on disk, not the plaintext.
    const std::string raw = ReadFileOrEmpty(path).substr(16 << 20, 4096);
    EXPECT_NE(std::memcmp(raw.data(), expect.data(), 4096), 0);
    // A fresh open reads the same.
    Result<std::unique_ptr<BlockFile>> again = BlockFile::Open(path, BlockFile::Mode::kReadOnly);
    ASSERT_TRUE(again);
    Result<std::unique_ptr<Luks2Image>> reopened =
        Luks2Image::Open(std::move(*again), SecretBytes(std::string_view("pass")));
    ASSERT_TRUE(reopened);
    std::vector<std::uint8_t> back2(1 << 20);
    ASSERT_TRUE((*reopened)->Read(0, back2));
    EXPECT_EQ(back2, expect);
  }
}

TEST_F(Luks2Test, ImageResizesDynamicSegment) {
  const std::string path = Format(dir_, "a.img", kFastKdf);
  Result<std::unique_ptr<BlockFile>> f = BlockFile::Open(path, BlockFile::Mode::kReadWrite);
  ASSERT_TRUE(f);
  Result<std::unique_ptr<Luks2Image>> image =
      Luks2Image::Open(std::move(*f), SecretBytes(std::string_view("pass")));
  ASSERT_TRUE(image);
  ASSERT_TRUE((*image)->Resize(3u << 20));
  EXPECT_EQ((*image)->capacity(), 3u << 20);
  EXPECT_EQ(ReadFileOrEmpty(path).size(), (16u << 20) + (3u << 20));
}

TEST_F(Luks2Test, Luks1StyleErrorsForNonLuks2) {
  const std::string path = dir_.path() + "/plain.img";
  WriteFileRaw(path, std::string(65536, 'x'));
  const std::string message = ErrorOf(Read(path));
  EXPECT_NE(message.find("LUKS2 header at offset 0: bad magic"), std::string::npos) << message;
}

Luks2FormatOptions SmallArgon2() {
  Luks2FormatOptions o = DefaultLuks2FormatOptions();
  o.argon2_time = 1;
  o.argon2_memory = 32768;
  o.argon2_cpus = 1;
  return o;
}

TEST_F(Luks2Test, DefaultFormatOptionsAreCryptsetupsArgon2id) {
  ::unsetenv("VSECRET_LUKS2_ARGON2");
  const Luks2FormatOptions o = DefaultLuks2FormatOptions();
  EXPECT_EQ(o.argon2_memory, 1048576u);
  EXPECT_EQ(o.argon2_time, 4u);
  EXPECT_GE(o.argon2_cpus, 1u);
  EXPECT_LE(o.argon2_cpus, 4u);
  EXPECT_EQ(o.cipher.ModeString(), "xts-plain64");
  EXPECT_EQ(o.cipher.key_bytes, 64u);
  ::setenv("VSECRET_LUKS2_ARGON2", "2,65536,2", 1);
  const Luks2FormatOptions knob = DefaultLuks2FormatOptions();
  ::unsetenv("VSECRET_LUKS2_ARGON2");
  EXPECT_EQ(knob.argon2_time, 2u);
  EXPECT_EQ(knob.argon2_memory, 65536u);
  EXPECT_EQ(knob.argon2_cpus, 2u);
}

TEST_F(Luks2Test, FormattedVolumeOpensInCryptsetupAndTakesItsKeyslots) {
  const std::string path = dir_.path() + "/new.img";
  const SecretBytes pass(std::string_view("pass"));
  Result<std::unique_ptr<Luks2Image>> image = CreateLuks2Image(path, 0600, 1 << 20, pass, SmallArgon2());
  ASSERT_TRUE(image) << image.error().message();
  EXPECT_EQ((*image)->capacity(), 1u << 20);
  EXPECT_EQ(ReadFileOrEmpty(path).size(), (16u << 20) + (1u << 20));
  const std::vector<std::uint8_t> data = Random(1 << 20, 3);
  ASSERT_TRUE((*image)->Write(0, data));
  ASSERT_TRUE((*image)->Flush());
  const std::string our_key((*image)->unlocked().volume_key.AsStringView());
  image->reset();

  std::string out;
  ASSERT_EQ(Sh("cryptsetup luksDump " + path, &out), 0) << out;
  EXPECT_NE(out.find("Version:       \t2"), std::string::npos) << out;
  EXPECT_NE(out.find("argon2id"), std::string::npos) << out;
  EXPECT_NE(out.find("aes-xts-plain64"), std::string::npos) << out;
  WriteFileRaw(dir_.path() + "/k1", "pass");
  WriteFileRaw(dir_.path() + "/k2", "other");
  ASSERT_EQ(Sh("cryptsetup open --test-passphrase --key-file " + dir_.path() + "/k1 " + path, &out), 0)
      << out;
  EXPECT_NE(Sh("cryptsetup open --test-passphrase --key-file " + dir_.path() + "/k2 " + path, &out), 0);
  EXPECT_EQ(VolumeKey(path, dir_), our_key);
  ASSERT_EQ(Sh("cryptsetup luksAddKey -q " + kFastKdf + " --key-file " + dir_.path() + "/k1 " + path + " " +
                   dir_.path() + "/k2",
               &out),
            0)
      << out;
  Result<std::unique_ptr<BlockFile>> f = BlockFile::Open(path, BlockFile::Mode::kReadOnly);
  ASSERT_TRUE(f);
  Result<std::unique_ptr<Luks2Image>> reopened =
      Luks2Image::Open(std::move(*f), SecretBytes(std::string_view("other")));
  ASSERT_TRUE(reopened) << reopened.error().message();
  EXPECT_EQ((*reopened)->unlocked().keyslot, 1);
  std::vector<std::uint8_t> back(1 << 20);
  ASSERT_TRUE((*reopened)->Read(0, back));
  EXPECT_EQ(back, data);
}

TEST_F(Luks2Test, CreateOnExistingFileFailsAndLeavesItAlone) {
  const std::string path = dir_.path() + "/exists.img";
  WriteFileRaw(path, "keep");
  EXPECT_FALSE(CreateLuks2Image(path, 0600, 4096, SecretBytes(std::string_view("p")), SmallArgon2()));
  EXPECT_EQ(ReadFileOrEmpty(path), "keep");
}

}  // namespace
}  // namespace vsecret::volume
