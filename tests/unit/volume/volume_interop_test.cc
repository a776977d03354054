// Library-level interoperability with the installed qemu-img and cryptsetup (the CLI-level
// checks are in tests/interop/). Each test is skipped when the tool it
// needs is missing. Fixtures use 1000 PBKDF2 iterations, so cryptsetup answers in milliseconds;
// qemu-img is used to *create* volumes only where the statement requires it, because its
// calibration costs seconds whatever iter-time says.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "test_util.h"
#include "volume/luks_image.h"
#include "volume/luks_keyslots.h"
#include "volume/qcow2_image.h"

namespace vsecret::volume {
namespace {

using vsecret::test::ReadFileOrEmpty;
using vsecret::test::TempDir;
using vsecret::test::WriteFileRaw;

struct ShellRun {
  int rc = -1;
  std::string out;
};

ShellRun Sh(const std::string& cmd) {
  ShellRun r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool Have(const char* tool) { return Sh(std::string("command -v ") + tool).rc == 0; }

using vsecret::test::Hex;

// The "MK dump:" hex of cryptsetup luksDump --dump-master-key, without separators.
std::string DumpedMasterKey(const std::string& dump) {
  const std::size_t at = dump.find("MK dump:");
  if (at == std::string::npos) return "";
  std::string out;
  for (std::size_t i = at + 8; i < dump.size(); ++i) {
    const char c = dump[i];
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (c != ' ' && c != '\t' && c != '\n') {
      break;
    }
  }
  return out;
}

std::vector<std::uint8_t> RandomData(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

LuksFormatOptions Fast(const char* mode = "xts-plain64", std::uint32_t key_bytes = 64,
                       HashAlgo hash = HashAlgo::kSha256) {
  LuksFormatOptions o;
  o.cipher = *ParseCipherSpec("aes", mode, key_bytes);
  o.hash = hash;
  o.kdf.slot_iterations = 1000;
  o.kdf.mk_iterations = 1000;
  return o;
}

class VolumeInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Have("cryptsetup") || !Have("qemu-img")) GTEST_SKIP() << "qemu-img and cryptsetup are needed";
    WriteFileRaw(Key(), "letmein");
    WriteFileRaw(dir_.path() + "/other.key", "letmein2");
  }
  std::string P(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string Key() const { return P("secret.key"); }
  std::string Secret() const { return "--object secret,id=s,file=" + Key(); }
  std::string LuksOpts(const std::string& vol) const {
    return "--image-opts driver=luks,key-secret=s,file.filename=" + vol;
  }
  static SecretBytes Pass() { return SecretBytes(std::string_view("letmein")); }

  std::unique_ptr<LuksImage> OpenLuks(const std::string& path, const SecretBytes& pass) {
    auto file = BlockFile::Open(path, BlockFile::Mode::kReadWrite);
    EXPECT_TRUE(file.has_value());
    auto image = LuksImage::Open(std::move(*file), pass);
    EXPECT_TRUE(image.has_value()) << image.error().message();
    return image ? std::move(*image) : nullptr;
  }

  TempDir dir_;
};

// Statements 1-7.
TEST_F(VolumeInteropTest, ToolVolumeOpensInCryptsetupAndQemu) {
  const std::string vol = P("vol");
  auto image = LuksImage::Create(vol, 0600, 1000000, Pass(), Fast());
  ASSERT_TRUE(image.has_value()) << image.error().message();
  const std::vector<std::uint8_t> data = RandomData(300000, 7);
  ASSERT_TRUE((*image)->Write(4096 + 3, data).has_value());
  const std::string master = Hex((*image)->unlocked().master_key.span());
  image->reset();

  ShellRun dump = Sh("cryptsetup luksDump " + vol);
  ASSERT_EQ(dump.rc, 0) << dump.out;
  for (const char* line : {"Version:       \t1", "Cipher name:   \taes", "Cipher mode:   \txts-plain64",
                           "Hash spec:     \tsha256", "Payload offset:\t4040", "MK bits:       \t512",
                           "Key Slot 0: ENABLED", "Key Slot 1: DISABLED", "Key Slot 7: DISABLED"}) {
    EXPECT_NE(dump.out.find(line), std::string::npos) << line << "\n" << dump.out;
  }
  EXPECT_NE(dump.out.find("AF stripes:            \t4000"), std::string::npos);
  EXPECT_EQ(Sh("cryptsetup luksOpen --test-passphrase --key-file " + Key() + " " + vol).rc, 0);
  ShellRun wrong = Sh("cryptsetup luksOpen --test-passphrase --key-file " + P("other.key") + " " + vol);
  EXPECT_EQ(wrong.rc, 2);
  EXPECT_NE(wrong.out.find("No key available with this passphrase."), std::string::npos);
  EXPECT_EQ(
      DumpedMasterKey(Sh("cryptsetup luksDump --dump-master-key -q --key-file " + Key() + " " + vol).out),
      master);

  ShellRun info = Sh("qemu-img info " + Secret() + " " + LuksOpts(vol));
  ASSERT_EQ(info.rc, 0) << info.out;
  EXPECT_NE(info.out.find("virtual size: 977 KiB (1000448 bytes)"), std::string::npos) << info.out;
  EXPECT_EQ(ReadFileOrEmpty(vol).size(), 1000448u + 4040u * 512u);

  ASSERT_EQ(Sh("qemu-img convert " + Secret() + " " + LuksOpts(vol) + " -O raw " + P("out.raw")).rc, 0);
  const std::string plain = ReadFileOrEmpty(P("out.raw"));
  ASSERT_EQ(plain.size(), 1000448u);
  EXPECT_EQ(plain.substr(4096 + 3, data.size()), std::string(data.begin(), data.end()));

  // And the other way: qemu writes the payload, vsecret reads it.
  const std::vector<std::uint8_t> in = RandomData(1000448, 8);
  WriteFileRaw(P("in.raw"), std::string(in.begin(), in.end()));
  ShellRun conv = Sh("qemu-img convert -n -f raw " + P("in.raw") + " " + Secret() +
                     " --target-image-opts driver=luks,key-secret=s,file.filename=" + vol);
  ASSERT_EQ(conv.rc, 0) << conv.out;
  auto reopened = OpenLuks(vol, Pass());
  ASSERT_TRUE(reopened);
  std::vector<std::uint8_t> back(in.size());
  ASSERT_TRUE(reopened->Read(0, back).has_value());
  EXPECT_EQ(back, in);
}

// A volume qemu-img made opens in vsecret with the same master key.
TEST_F(VolumeInteropTest, QemuMadeVolumeOpensWithSameMasterKey) {
  const std::string vol = P("q.luks");
  // qemu's PBKDF2 calibration fails now and then on busy machines ("Unable to get accurate CPU
  // usage", a known qemu flake): retry that one failure.
  ShellRun made;
  for (int attempt = 0; attempt < 20; ++attempt) {
    made = Sh("qemu-img create -q -f luks " + Secret() + " -o key-secret=s,iter-time=10 " + vol + " 1M");
    if (made.rc == 0 || made.out.find("Unable to get accurate CPU usage") == std::string::npos) break;
  }
  ASSERT_EQ(made.rc, 0) << made.out;
  auto image = OpenLuks(vol, Pass());
  ASSERT_TRUE(image);
  EXPECT_EQ(image->capacity(), 1048576u);
  EXPECT_EQ(image->header().payload_offset, 4040u);
  EXPECT_EQ(
      Hex(image->unlocked().master_key.span()),
      DumpedMasterKey(Sh("cryptsetup luksDump --dump-master-key -q --key-file " + Key() + " " + vol).out));
}

// Volumes made by cryptsetup luksFormat --type luks1, with each supported cipher, open here.
TEST_F(VolumeInteropTest, CryptsetupVariantsOpen) {
  const char* variants[] = {"-c aes-xts-plain64 -s 512",
                            "-c aes-xts-plain64 -s 256",
                            "-c aes-xts-plain -s 512",
                            "-c aes-cbc-essiv:sha256 -s 256",
                            "-c aes-xts-essiv:sha256 -s 512",
                            "-c aes-cbc-plain64 -s 128",
                            "--hash sha1",
                            "--hash sha512"};
  int n = 0;
  for (const char* variant : variants) {
    const std::string vol = P("c" + std::to_string(n++));
    ASSERT_EQ(Sh("truncate -s 3M " + vol).rc, 0);
    ShellRun fmt =
        Sh(std::string("cryptsetup luksFormat --type luks1 --batch-mode --pbkdf-force-iterations 1000 ") +
           variant + " --key-file " + Key() + " " + vol);
    ASSERT_EQ(fmt.rc, 0) << variant << fmt.out;
    auto image = OpenLuks(vol, Pass());
    ASSERT_TRUE(image) << variant;
    EXPECT_EQ(
        Hex(image->unlocked().master_key.span()),
        DumpedMasterKey(Sh("cryptsetup luksDump --dump-master-key -q --key-file " + Key() + " " + vol).out))
        << variant;
    // Data the tool writes reads back through qemu.
    const std::vector<std::uint8_t> data = RandomData(8192, n);
    ASSERT_TRUE(image->Write(512, data).has_value());
    image.reset();
    ShellRun conv = Sh("qemu-img convert " + Secret() + " " + LuksOpts(vol) + " -O raw " + P("o.raw"));
    ASSERT_EQ(conv.rc, 0) << variant << conv.out;
    EXPECT_EQ(ReadFileOrEmpty(P("o.raw")).substr(512, data.size()), std::string(data.begin(), data.end()))
        << variant;
  }
}

// LUKS2 headers are recognised as LUKS and refused with a clear error, never read as raw.
TEST_F(VolumeInteropTest, Luks2IsRecognisedAndRefused) {
  const std::string vol = P("l2");
  ASSERT_EQ(Sh("truncate -s 20M " + vol).rc, 0);
  ASSERT_EQ(Sh("cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "
               "--key-file " +
               Key() + " " + vol)
                .rc,
            0);
  auto file = BlockFile::Open(vol, BlockFile::Mode::kReadOnly);
  ASSERT_TRUE(file.has_value());
  std::array<std::uint8_t, 8> head{};
  ASSERT_TRUE((*file)->ReadAt(0, head, "header").has_value());
  EXPECT_EQ(ProbeLuks(head), LuksVersion::kLuks2);
  auto image = LuksImage::Open(std::move(*file), Pass());
  ASSERT_FALSE(image.has_value());
  EXPECT_EQ(image.error().message(), "internal error: LUKS version 2 is not supported");
}

// Statements 12-14.
TEST_F(VolumeInteropTest, KeySlotsCrossManaged) {
  const std::string vol = P("v");
  auto image = LuksImage::Create(vol, 0600, 65536, Pass(), Fast());
  ASSERT_TRUE(image.has_value());
  KdfOptions kdf;
  kdf.slot_iterations = 1000;
  ASSERT_EQ(*AddKeySlot((*image)->file(), 0, (*image)->unlocked(), SecretBytes(std::string_view("letmein2")),
                        5, kdf),
            5);
  image->reset();
  EXPECT_EQ(
      Sh("cryptsetup luksOpen --test-passphrase --key-slot 5 --key-file " + P("other.key") + " " + vol).rc,
      0);
  EXPECT_EQ(Sh("cryptsetup luksOpen --test-passphrase --key-slot 0 --key-file " + Key() + " " + vol).rc, 0);
  // qemu opens with either secret.
  for (const char* key : {"secret.key", "other.key"}) {
    ShellRun r = Sh("qemu-img convert --object secret,id=s,file=" + P(key) + " " + LuksOpts(vol) +
                    " -O raw " + P("o"));
    EXPECT_EQ(r.rc, 0) << key << r.out;
  }
  // A slot cryptsetup adds opens here.
  WriteFileRaw(P("third.key"), "third");
  ShellRun add = Sh("cryptsetup luksAddKey --batch-mode --pbkdf-force-iterations 1000 --key-file " + Key() +
                    " " + vol + " " + P("third.key"));
  ASSERT_EQ(add.rc, 0) << add.out;
  EXPECT_TRUE(OpenLuks(vol, SecretBytes(std::string_view("third"))));
  // A slot removed here is disabled for cryptsetup.
  auto file = BlockFile::Open(vol, BlockFile::Mode::kReadWrite);
  auto header = ReadLuksHeader(**file, 0);
  ASSERT_TRUE(header.has_value());
  ASSERT_TRUE(RemoveKeySlot(**file, 0, *header, 5).has_value());
  EXPECT_NE(Sh("cryptsetup luksDump " + vol).out.find("Key Slot 5: DISABLED"), std::string::npos);
  EXPECT_EQ(Sh("cryptsetup luksOpen --test-passphrase --key-file " + P("other.key") + " " + vol).rc, 2);
}

// vsecret, qemu and cryptsetup all reject each corruption of the header.
TEST_F(VolumeInteropTest, CorruptHeadersRejectedEverywhere) {
  const std::string good = P("good");
  ASSERT_TRUE(LuksImage::Create(good, 0600, 65536, Pass(), Fast()).has_value());
  struct Case {
    std::size_t offset;
    std::uint32_t value;
    const char* qemu;
  };
  const Case cases[] = {{208 + 44, 2000, "Keyslot 0 is corrupted (stripes 2000 != 4000)"},
                        {256 + 40, 100, "Keyslots 0 and 1 are overlapping in the header"},
                        {208 + 40, 4000, "Keyslot 0 is overlapping with the encrypted payload"}};
  for (const Case& c : cases) {
    std::string bytes = ReadFileOrEmpty(good);
    for (int i = 0; i < 4; ++i) bytes[c.offset + i] = static_cast<char>(c.value >> (8 * (3 - i)));
    const std::string bad = P("bad");
    WriteFileRaw(bad, bytes);
    auto file = BlockFile::Open(bad, BlockFile::Mode::kReadOnly);
    auto image = LuksImage::Open(std::move(*file), Pass());
    ASSERT_FALSE(image.has_value());
    EXPECT_EQ(image.error().message(), std::string("internal error: ") + c.qemu);
    ShellRun q = Sh("qemu-img convert " + Secret() + " " + LuksOpts(bad) + " -O raw " + P("o"));
    EXPECT_NE(q.rc, 0);
    EXPECT_NE(q.out.find(c.qemu), std::string::npos) << q.out;
    ShellRun cs = Sh("cryptsetup luksOpen --test-passphrase --key-file " + Key() + " " + bad);
    EXPECT_EQ(cs.rc, 1) << cs.out;
  }
}

// aes-128 cbc-essiv:sha256, whose IVs come from AES-256 keyed by sha256(MK).
TEST_F(VolumeInteropTest, EssivAes128MatchesQemu) {
  const std::string vol = P("e");
  auto image = LuksImage::Create(vol, 0600, 65536, Pass(), Fast("cbc-essiv:sha256", 16));
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ((*image)->header().payload_offset, 1032u);
  const std::vector<std::uint8_t> data = RandomData(65536, 3);
  ASSERT_TRUE((*image)->Write(0, data).has_value());
  image->reset();
  ShellRun dump = Sh("cryptsetup luksDump " + vol);
  EXPECT_NE(dump.out.find("cbc-essiv:sha256"), std::string::npos);
  EXPECT_NE(dump.out.find("MK bits:       \t128"), std::string::npos);
  ASSERT_EQ(Sh("qemu-img convert " + Secret() + " " + LuksOpts(vol) + " -O raw " + P("o")).rc, 0);
  EXPECT_EQ(ReadFileOrEmpty(P("o")), std::string(data.begin(), data.end()));
}

// The passphrase is the secret's exact bytes, a trailing newline included (as qemu and libvirt).
TEST_F(VolumeInteropTest, TrailingNewlineIsPartOfThePassphrase) {
  const std::string vol = P("n");
  ASSERT_TRUE(
      LuksImage::Create(vol, 0600, 4096, SecretBytes(std::string_view("letmein\n")), Fast()).has_value());
  WriteFileRaw(P("nl.key"), "letmein\n");
  EXPECT_EQ(Sh("cryptsetup luksOpen --test-passphrase --key-file " + P("nl.key") + " " + vol).rc, 0);
  EXPECT_EQ(Sh("cryptsetup luksOpen --test-passphrase --key-file " + Key() + " " + vol).rc, 2);
}

// Statements 20-22.
TEST_F(VolumeInteropTest, Qcow2LuksImage) {
  for (bool v3 : {false, true}) {
    const std::string img = P(v3 ? "i3.qcow2" : "i2.qcow2");
    Qcow2CreateOptions o;
    o.capacity = 8 << 20;
    o.version3 = v3;
    o.luks = Fast();
    const SecretBytes pass = Pass();
    auto image = Qcow2Image::Create(img, 0600, o, &pass);
    ASSERT_TRUE(image.has_value()) << image.error().message();
    const std::string opts = "--image-opts driver=qcow2,encrypt.key-secret=s,file.filename=" + img;
    ShellRun check = Sh("qemu-img check " + Secret() + " " + opts);
    EXPECT_EQ(check.rc, 0) << check.out;
    EXPECT_NE(check.out.find("No errors were found on the image."), std::string::npos) << check.out;
    ShellRun info = Sh("qemu-img info " + Secret() + " " + opts);
    EXPECT_NE(info.out.find("encrypted: yes"), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("format: luks"), std::string::npos) << info.out;
    EXPECT_NE(info.out.find(v3 ? "compat: 1.1" : "compat: 0.10"), std::string::npos) << info.out;

    // The embedded header cut out with dd passes cryptsetup.
    const Qcow2Info& qi = (*image)->info();
    EXPECT_EQ(qi.crypt_method, 2u);
    EXPECT_EQ(qi.luks_offset % 65536, 0u);
    const std::string all = ReadFileOrEmpty(img);
    EXPECT_EQ(all.substr(qi.luks_offset, 8), std::string("LUKS\xba\xbe\x00\x01", 8));
    WriteFileRaw(P("hdr"), all.substr(qi.luks_offset, qi.luks_length));
    EXPECT_EQ(Sh("cryptsetup luksOpen --test-passphrase --key-file " + Key() + " " + P("hdr")).rc, 0);

    // The tool writes (partial clusters included), qemu reads and checks.
    const std::vector<std::uint8_t> data = RandomData(300000, 5);
    ASSERT_TRUE((*image)->Write(100000, data).has_value());
    image->reset();
    check = Sh("qemu-img check " + Secret() + " " + opts);
    EXPECT_NE(check.out.find("No errors were found on the image."), std::string::npos) << check.out;
    ASSERT_EQ(Sh("qemu-img convert " + Secret() + " " + opts + " -O raw " + P("o")).rc, 0);
    std::string expect(8 << 20, '\0');
    std::copy(data.begin(), data.end(), expect.begin() + 100000);
    EXPECT_TRUE(ReadFileOrEmpty(P("o")) == expect);

    // qemu writes, the tool reads: IV = host offset / 512.
    const std::vector<std::uint8_t> in = RandomData(8 << 20, 6);
    WriteFileRaw(P("in"), std::string(in.begin(), in.end()));
    ShellRun conv = Sh("qemu-img convert -n -f raw " + P("in") + " " + Secret() +
                       " --target-image-opts driver=qcow2,encrypt.key-secret=s,file.filename=" + img);
    ASSERT_EQ(conv.rc, 0) << conv.out;
    auto file = BlockFile::Open(img, BlockFile::Mode::kReadWrite);
    auto reopened = Qcow2Image::Open(std::move(*file), &pass);
    ASSERT_TRUE(reopened.has_value()) << reopened.error().message();
    std::vector<std::uint8_t> back(in.size());
    ASSERT_TRUE((*reopened)->Read(0, back).has_value());
    EXPECT_TRUE(back == in);
    // Growing keeps data and stays consistent.
    ASSERT_TRUE((*reopened)->Resize(16 << 20).has_value());
    reopened->reset();
    check = Sh("qemu-img check " + Secret() + " " + opts);
    EXPECT_NE(check.out.find("No errors were found on the image."), std::string::npos) << check.out;
    EXPECT_NE(Sh("qemu-img info " + Secret() + " " + opts).out.find("virtual size: 16 MiB"),
              std::string::npos);
  }
}

// Regression guard: qcow2's LUKS sectors use the host-offset IV; the guest-offset IV must not
// decrypt qemu's data.
TEST_F(VolumeInteropTest, Qcow2GuestOffsetIvDoesNotDecrypt) {
  const std::string img = P("g.qcow2");
  Qcow2CreateOptions o;
  o.capacity = 4 << 20;
  o.luks = Fast();
  const SecretBytes pass = Pass();
  auto image = Qcow2Image::Create(img, 0600, o, &pass);
  ASSERT_TRUE(image.has_value());
  const SecretBytes master = (*image)->luks()->master_key.Clone();
  image->reset();
  WriteFileRaw(P("z"), std::string(65536, 'z'));
  ShellRun conv = Sh("qemu-img convert -n -f raw " + P("z") + " " + Secret() +
                     " --target-image-opts driver=qcow2,encrypt.key-secret=s,file.filename=" + img);
  ASSERT_EQ(conv.rc, 0) << conv.out;
  // Find the data cluster: the last 64 KiB of the file.
  const std::string all = ReadFileOrEmpty(img);
  const std::uint64_t host = all.size() - 65536;
  std::vector<std::uint8_t> sector(all.begin() + static_cast<long>(host),
                                   all.begin() + static_cast<long>(host) + 512);
  auto cipher = SectorCipher::Create(*ParseCipherSpec("aes", "xts-plain64", 64), master);
  std::vector<std::uint8_t> guest_iv = sector;
  ASSERT_TRUE((*cipher)->Decrypt(0, guest_iv).has_value());
  EXPECT_NE(std::string(guest_iv.begin(), guest_iv.end()), std::string(512, 'z'));
  ASSERT_TRUE((*cipher)->Decrypt(host / 512, sector).has_value());
  EXPECT_EQ(std::string(sector.begin(), sector.end()), std::string(512, 'z'));
}

}  // namespace
}  // namespace vsecret::volume
