// LUKS1 header codec, validation (every corruption qemu and cryptsetup reject), key slots and the
// raw LUKS image. Fixtures use 1000 PBKDF2 iterations so each test runs in milliseconds.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "test_util.h"
#include "volume/luks_header.h"
#include "volume/luks_image.h"
#include "volume/luks_keyslots.h"

namespace vsecret::volume {
namespace {

using vsecret::test::ReadFileOrEmpty;
using vsecret::test::TempDir;

LuksFormatOptions FastOptions(const char* mode = "xts-plain64", std::uint32_t key_bytes = 64) {
  LuksFormatOptions o;
  o.cipher = *ParseCipherSpec("aes", mode, key_bytes);
  o.kdf.slot_iterations = 1000;
  o.kdf.mk_iterations = 1000;
  return o;
}

LuksHeader SampleHeader() {
  LuksHeader h;
  h.cipher_name = "aes";
  h.cipher_mode = "xts-plain64";
  h.hash_spec = "sha256";
  h.key_bytes = 64;
  h.mk_digest_iterations = 1000;
  h.uuid = "0a0a0a0a-1111-2222-3333-444444444444";
  LayOutKeySlots(h);
  h.slots[0].active = true;
  h.slots[0].iterations = 1000;
  for (std::size_t i = 0; i < h.mk_digest.size(); ++i) h.mk_digest[i] = static_cast<std::uint8_t>(i);
  return h;
}

TEST(LuksHeaderTest, QemuLayoutPayloadOffsets) {
  for (const auto& [bytes, payload] : {std::pair{64u, 4040u}, {32u, 2056u}, {16u, 1032u}}) {
    LuksHeader h;
    h.key_bytes = bytes;
    EXPECT_EQ(LayOutKeySlots(h), payload);
    EXPECT_EQ(h.slots[0].key_offset, 8u);
    for (const LuksKeySlot& s : h.slots) EXPECT_EQ(s.stripes, 4000u);
  }
}

TEST(LuksHeaderTest, SerializeParseRoundTrip) {
  const LuksHeader h = SampleHeader();
  auto bytes = SerializeLuksHeader(h);
  EXPECT_EQ(std::memcmp(bytes.data(), "LUKS\xba\xbe\x00\x01", 8), 0);
  // Payload offset 4040 = 0x0FC8, big-endian at 104.
  EXPECT_EQ(bytes[104], 0);
  EXPECT_EQ(bytes[106], 0x0F);
  EXPECT_EQ(bytes[107], 0xC8);
  // Slot 0 enabled, slot 1 disabled.
  EXPECT_EQ(bytes[208 + 1], 0xAC);
  EXPECT_EQ(bytes[256 + 2], 0xDE);
  auto parsed = ParseLuksHeader(bytes);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  EXPECT_EQ(*parsed, h);
  EXPECT_EQ(ProbeLuks(bytes), LuksVersion::kLuks1);
}

struct Corruption {
  const char* name;
  void (*apply)(std::array<std::uint8_t, kLuksHeaderSize>&);
  const char* message;
};

void PutBe32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

const Corruption kCorruptions[] = {
    {"magic", [](auto& b) { b[0] = 'X'; }, "internal error: Volume is not in LUKS format"},
    {"version2", [](auto& b) { b[7] = 2; }, "internal error: LUKS version 2 is not supported"},
    {"stripes", [](auto& b) { PutBe32(&b[208 + 44], 2000); },
     "internal error: Keyslot 0 is corrupted (stripes 2000 != 4000)"},
    {"overlap", [](auto& b) { PutBe32(&b[256 + 40], 100); },
     "internal error: Keyslots 0 and 1 are overlapping in the header"},
    {"into_payload", [](auto& b) { PutBe32(&b[104], 4000); },
     "internal error: Keyslot 7 is overlapping with the encrypted payload"},
    {"into_header", [](auto& b) { PutBe32(&b[208 + 40], 1); },
     "internal error: Keyslot 0 is overlapping with the LUKS header"},
    {"active_value", [](auto& b) { PutBe32(&b[208], 0x12345678); },
     "internal error: Keyslot 0 state (active/disable) is corrupted"},
    {"zero_iterations", [](auto& b) { PutBe32(&b[208 + 4], 0); },
     "internal error: Keyslot 0 iteration count is zero"},
    {"mk_iterations", [](auto& b) { PutBe32(&b[164], 0); },
     "internal error: LUKS key iteration count is zero"},
    {"payload_into_header", [](auto& b) { PutBe32(&b[104], 7); },
     "internal error: LUKS payload is overlapping with the header"},
    {"key_bytes", [](auto& b) { PutBe32(&b[108], 0); },
     "internal error: LUKS header key size 0 is not supported"},
    {"unterminated_name", [](auto& b) { std::memset(&b[8], 'a', 32); },
     "internal error: LUKS header cipher name is not NUL terminated"},
    {"unterminated_hash", [](auto& b) { std::memset(&b[72], 'a', 32); },
     "internal error: LUKS header hash spec is not NUL terminated"},
};

class LuksCorruptionTest : public ::testing::TestWithParam<Corruption> {};

TEST_P(LuksCorruptionTest, RejectedWithQemuMessage) {
  auto bytes = SerializeLuksHeader(SampleHeader());
  GetParam().apply(bytes);
  auto parsed = ParseLuksHeader(bytes);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().message(), GetParam().message);
}

std::string CorruptionName(const ::testing::TestParamInfo<Corruption>& param) { return param.param.name; }

INSTANTIATE_TEST_SUITE_P(LuksAll, LuksCorruptionTest, ::testing::ValuesIn(kCorruptions), CorruptionName);

TEST(LuksHeaderTest, TruncatedHeaderIsNotLuks) {
  auto bytes = SerializeLuksHeader(SampleHeader());
  EXPECT_FALSE(ParseLuksHeader(std::span(bytes).first(100)).has_value());
  EXPECT_EQ(ProbeLuks(std::span(bytes).first(4)), LuksVersion::kNotLuks);
}

SecretBytes Pass(std::string_view s) { return SecretBytes(s); }

class LuksKeySlotTest : public ::testing::Test {
 protected:
  std::string Path(const char* name) { return dir_.path() + "/" + name; }
  TempDir dir_;
};

TEST_F(LuksKeySlotTest, CreateUnlockReadWrite) {
  auto image = LuksImage::Create(Path("v"), 0600, 1000000, Pass("letmein"), FastOptions());
  ASSERT_TRUE(image.has_value()) << image.error().message();
  EXPECT_EQ((*image)->capacity(), 1000448u);  // rounded up to 512, as qemu
  EXPECT_EQ((*image)->header().payload_offset, 4040u);
  EXPECT_EQ(vsecret::test::FileMode(Path("v")), 0600u);
  std::vector<std::uint8_t> data(7000);
  std::mt19937 rng(1);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  ASSERT_TRUE((*image)->Write(1234, data).has_value());  // unaligned both ends
  image->reset();

  auto file = BlockFile::Open(Path("v"), BlockFile::Mode::kReadWrite);
  ASSERT_TRUE(file.has_value());
  auto reopened = LuksImage::Open(std::move(*file), Pass("letmein"));
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message();
  std::vector<std::uint8_t> back(7000);
  ASSERT_TRUE((*reopened)->Read(1234, back).has_value());
  EXPECT_EQ(back, data);
  // Neighbouring bytes of the partial sectors were preserved through the read-modify-write.
  std::vector<std::uint8_t> edge(1);
  ASSERT_TRUE((*reopened)->Read(1233, edge).has_value());
  EXPECT_FALSE((*reopened)->Read(1000448, edge).has_value());
}

TEST_F(LuksKeySlotTest, WrongPassphraseLeavesFileByteIdentical) {
  ASSERT_TRUE(LuksImage::Create(Path("v"), 0600, 65536, Pass("letmein"), FastOptions()).has_value());
  const std::string before = ReadFileOrEmpty(Path("v"));
  auto file = BlockFile::Open(Path("v"), BlockFile::Mode::kReadWrite);
  auto opened = LuksImage::Open(std::move(*file), Pass("letmein\n"));
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().message(), "operation failed: Invalid password, cannot unlock any keyslot");
  EXPECT_EQ(ReadFileOrEmpty(Path("v")), before);
}

TEST_F(LuksKeySlotTest, AddRemoveSlots) {
  auto image = LuksImage::Create(Path("v"), 0600, 65536, Pass("A"), FastOptions("cbc-essiv:sha256", 32));
  ASSERT_TRUE(image.has_value());
  KdfOptions kdf;
  kdf.slot_iterations = 1000;
  auto slot = AddKeySlot((*image)->file(), 0, (*image)->unlocked(), Pass("B"), 5, kdf);
  ASSERT_TRUE(slot.has_value()) << slot.error().message();
  EXPECT_EQ(*slot, 5);
  auto again = AddKeySlot((*image)->file(), 0, (*image)->unlocked(), Pass("C"), 5, kdf);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().message(), "Requested operation is not valid: keyslot 5 is already active");
  auto first_free = AddKeySlot((*image)->file(), 0, (*image)->unlocked(), Pass("C"), std::nullopt, kdf);
  ASSERT_TRUE(first_free.has_value());
  EXPECT_EQ(*first_free, 1);
  const SecretBytes master = (*image)->unlocked().master_key.Clone();

  auto header = ReadLuksHeader((*image)->file(), 0);
  ASSERT_TRUE(header.has_value());
  for (const char* pass : {"A", "B", "C"}) {
    auto unlocked = UnlockLuks((*image)->file(), 0, *header, Pass(pass));
    ASSERT_TRUE(unlocked.has_value()) << pass;
    EXPECT_TRUE(unlocked->master_key.EqualsConstantTime(master));
  }
  EXPECT_EQ(UnlockLuks((*image)->file(), 0, *header, Pass("B"))->slot, 5);

  ASSERT_TRUE(RemoveKeySlot((*image)->file(), 0, *header, 0).has_value());
  auto after = ReadLuksHeader((*image)->file(), 0);
  ASSERT_TRUE(after.has_value());
  EXPECT_FALSE(after->slots[0].active);
  EXPECT_EQ(after->slots[0].iterations, 0u);
  EXPECT_FALSE(UnlockLuks((*image)->file(), 0, *after, Pass("A")).has_value());
  EXPECT_TRUE(UnlockLuks((*image)->file(), 0, *after, Pass("B")).has_value());
  ASSERT_TRUE(RemoveKeySlot((*image)->file(), 0, *after, 1).has_value());
  auto last = RemoveKeySlot((*image)->file(), 0, *after, 5);
  ASSERT_FALSE(last.has_value());
  EXPECT_EQ(last.error().message(),
            "Requested operation is not valid: cannot remove the last active keyslot");
}

TEST_F(LuksKeySlotTest, ChangeKeyMovesToNewSlot) {
  auto image = LuksImage::Create(Path("v"), 0600, 65536, Pass("old"), FastOptions());
  ASSERT_TRUE(image.has_value());
  KdfOptions kdf;
  kdf.slot_iterations = 1000;
  auto changed = ChangeKeySlot((*image)->file(), 0, (*image)->unlocked(), 0, Pass("new"), kdf);
  ASSERT_TRUE(changed.has_value()) << changed.error().message();
  EXPECT_EQ(*changed, 1);
  auto header = ReadLuksHeader((*image)->file(), 0);
  EXPECT_FALSE(header->slots[0].active);
  EXPECT_FALSE(UnlockLuks((*image)->file(), 0, *header, Pass("old")).has_value());
  EXPECT_TRUE(UnlockLuks((*image)->file(), 0, *header, Pass("new")).has_value());
  EXPECT_FALSE(ChangeKeySlot((*image)->file(), 0, (*image)->unlocked(), 0, Pass("x"), kdf).has_value());
}

// Test mode: a 1 GiB volume with fixed 1000 iterations is near-instant.
TEST_F(LuksKeySlotTest, FixedIterationCreateIsFast) {
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(LuksImage::Create(Path("big"), 0600, 1ull << 30, Pass("p"), FastOptions()).has_value());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(500));  // 0.1 s on an idle machine; slack for shared CI
}

TEST_F(LuksKeySlotTest, ResizeKeepsHeaderAndData) {
  auto image = LuksImage::Create(Path("v"), 0600, 65536, Pass("p"), FastOptions());
  ASSERT_TRUE(image.has_value());
  std::vector<std::uint8_t> data(65536, 0x5a);
  ASSERT_TRUE((*image)->Write(0, data).has_value());
  const std::string head = ReadFileOrEmpty(Path("v")).substr(0, 4040 * 512);
  ASSERT_TRUE((*image)->Resize(65536 + 1000).has_value());
  EXPECT_EQ((*image)->capacity(), 65536u + 1024u);
  EXPECT_EQ(ReadFileOrEmpty(Path("v")).substr(0, 4040 * 512), head);
  std::vector<std::uint8_t> back(65536);
  ASSERT_TRUE((*image)->Read(0, back).has_value());
  EXPECT_EQ(back, data);
}

TEST_F(LuksKeySlotTest, CalibratedFormatUsesBudget) {
  LuksFormatOptions o = FastOptions();
  o.kdf.slot_iterations.reset();
  o.kdf.mk_iterations.reset();
  o.kdf.iter_time = std::chrono::milliseconds(40);
  auto image = LuksImage::Create(Path("v"), 0600, 4096, Pass("p"), o);
  ASSERT_TRUE(image.has_value());
  EXPECT_GE((*image)->header().slots[0].iterations, 1000u);
  EXPECT_GE((*image)->header().mk_digest_iterations, 1000u);
}

TEST_F(LuksKeySlotTest, CreateRefusesExistingFile) {
  vsecret::test::WriteFileRaw(Path("v"), "keep");
  auto image = LuksImage::Create(Path("v"), 0600, 4096, Pass("p"), FastOptions());
  ASSERT_FALSE(image.has_value());
  EXPECT_EQ(ReadFileOrEmpty(Path("v")), "keep");
}

}  // namespace
}  // namespace vsecret::volume
