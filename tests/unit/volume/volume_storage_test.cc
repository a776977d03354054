// StorageDriver (pools, volumes, secrets through the trusted path), the transfer engine and the
// native qcow2 image, without external tools.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <thread>

#include "base/log.h"
#include "driver/secret_driver.h"
#include "test_util.h"
#include "volume/luks_image.h"
#include "volume/qcow2_image.h"
#include "volume/storage_driver.h"
#include "volume/transfer.h"
#include "volume_test_support.h"

namespace vsecret::volume {
namespace {

using vsecret::test::ErrorOf;
using vsecret::test::ReadFileOrEmpty;
using vsecret::test::TempDir;
using vsecret::test::VolumeDriverTest;
using vsecret::test::WriteFileRaw;

constexpr char kUuid[] = "0a0a0a0a-1111-2222-3333-444444444444";

std::vector<std::uint8_t> RandomData(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

// The message of a failed call, or a marker that fails the comparison when it succeeded.
class VolumeStorageTest : public VolumeDriverTest<> {
 protected:
  void SetUp() override { OpenDrivers(); }

  void DefineSecret(const std::string& usage_path, bool with_value = true, bool is_private = true) {
    const std::string xml = std::string("<secret ephemeral='no' private='") + (is_private ? "yes" : "no") +
                            "'><uuid>" + kUuid + "</uuid><usage type='volume'><volume>" + usage_path +
                            "</volume></usage></secret>";
    ASSERT_TRUE(secrets_->DefineXml(Caller{}, xml, 0).has_value());
    if (with_value) {
      ASSERT_TRUE(
          secrets_->SetValue(Caller{}, *Uuid::Parse(kUuid), SecretBytes(std::string_view("letmein")), 0));
    }
  }

  std::string VolXml(const std::string& name, const std::string& format = "raw",
                     const std::string& extra = "") {
    return "<volume><name>" + name + "</name><capacity unit='K'>256</capacity>" + extra +
           "<target><format type='" + format +
           "'/><encryption format='luks'><secret type='passphrase' uuid='" + kUuid +
           "'/></encryption></target></volume>";
  }
};

TEST_F(VolumeStorageTest, PoolLifecycle) {
  EXPECT_EQ(storage_->ListPools().size(), 1u);
  EXPECT_TRUE(storage_->ListPools()[0].active);
  auto dup = storage_->DefinePool("<pool type='dir'><name>p1</name><target><path>/x</path></target></pool>");
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().message().rfind("operation failed: pool 'p1' already exists with uuid ", 0), 0u);
  auto clash = storage_->DefinePool("<pool type='dir'><name>p2</name><target><path>" + pool_dir_ +
                                    "/</path></target></pool>");
  ASSERT_FALSE(clash.has_value());
  EXPECT_EQ(clash.error().message(), "operation failed: Storage source conflict with pool: 'p1'");
  EXPECT_EQ(storage_->StartPool("p1").error().message(),
            "Requested operation is not valid: storage pool 'p1' is already active");
  EXPECT_EQ(storage_->UndefinePool("p1").error().message(),
            "Requested operation is not valid: storage pool 'p1' is still active");
  ASSERT_TRUE(storage_->SetAutostart("p1", true).has_value());
  ASSERT_TRUE(storage_->DestroyPool("p1").has_value());
  EXPECT_EQ(storage_->RefreshPool("p1").error().message(),
            "Requested operation is not valid: storage pool 'p1' is not active");
  EXPECT_EQ(storage_->LookupPoolByName("nope").error().message(),
            "Storage pool not found: no storage pool with matching name 'nope'");
  // A new driver on the same directories sees the same pools; autostart ran once per state dir.
  auto again = StorageDriver::Open(StoragePaths::ForSecretStore(secrets_->paths()), secrets_.get());
  ASSERT_TRUE(again.has_value());
  auto p1 = (*again)->LookupPoolByName("p1");
  ASSERT_TRUE(p1.has_value());
  EXPECT_TRUE(p1->autostart);
  EXPECT_FALSE(p1->active);
  ASSERT_TRUE((*again)->UndefinePool("p1").has_value());
  EXPECT_TRUE((*again)->ListPools().empty());
}

TEST_F(VolumeStorageTest, ReadOnlyDriverRefusesEveryChangeAndReadsAsBefore) {
  DefineSecret(pool_dir_ + "/v.img");
  auto vol = storage_->CreateVolume("p1", VolXml("v.img"), nullptr);
  ASSERT_TRUE(vol.has_value()) << vol.error().message();
  ASSERT_TRUE(storage_->SetAutostart("p1", true).has_value());
  ASSERT_TRUE(storage_->DestroyPool("p1").has_value());
  storage_.reset();
  // A fresh state dir, so that the read-only driver's own autostart has something to start: the
  // rule is for callers, not for what the driver does at open.
  std::filesystem::remove_all(StoragePaths::ForSecretStore(secrets_->paths()).state_dir);
  StorageOptions options;
  options.read_only = true;
  auto ro = StorageDriver::Open(StoragePaths::ForSecretStore(secrets_->paths()), secrets_.get(), options);
  ASSERT_TRUE(ro.has_value()) << ro.error().message();
  StorageDriver& d = **ro;
  auto pool = d.LookupPoolByName("p1");
  ASSERT_TRUE(pool.has_value());
  EXPECT_TRUE(pool->active);  // autostarted
  auto denied = [](const auto& result, const char* api) {
    ASSERT_FALSE(result.has_value()) << api;
    EXPECT_EQ(result.error().code(), ErrorCode::kOperationDenied);
    EXPECT_EQ(result.error().message(), std::string("operation forbidden: read only access prevents ") + api);
  };
  denied(d.DefinePool("<pool type='dir'><name>p2</name><target><path>/x</path></target></pool>"),
         "virStoragePoolDefineXML");
  denied(d.UndefinePool("p1"), "virStoragePoolUndefine");
  denied(d.BuildPool("p1"), "virStoragePoolBuild");
  denied(d.StartPool("p1"), "virStoragePoolCreate");
  denied(d.DestroyPool("p1"), "virStoragePoolDestroy");
  denied(d.RefreshPool("p1"), "virStoragePoolRefresh");
  denied(d.SetAutostart("p1", false), "virStoragePoolSetAutostart");
  denied(d.CreateVolume("p1", VolXml("w.img"), nullptr), "virStorageVolCreateXML");
  auto ref = d.LookupVolumeByName("p1", "v.img");
  ASSERT_TRUE(ref.has_value()) << ref.error().message();
  denied(d.DeleteVolume(*ref), "virStorageVolDelete");
  denied(d.ResizeVolume(*ref, 512 * 1024, 0, nullptr), "virStorageVolResize");
  denied(d.Upload(*ref, 0, 0, 0, nullptr), "virStorageVolUpload");
  denied(d.Download(*ref, 1, 0, 0, nullptr), "virStorageVolDownload");
  denied(d.Wipe(*ref, WipeAlgorithm::kZero, nullptr), "virStorageVolWipe");
  denied(d.VolumePassphrase(*ref), "virSecretGetValue");
  // Reads work, and nothing was changed.
  auto info = d.GetVolume(*ref);
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_TRUE(info->encryption.has_value());
  EXPECT_TRUE(std::filesystem::exists(pool_dir_ + "/v.img"));
  EXPECT_FALSE(std::filesystem::exists(pool_dir_ + "/w.img"));
  EXPECT_EQ(d.ListPools().size(), 1u);
}

TEST_F(VolumeStorageTest, BuildMakesMissingDirectory) {
  const std::string target = dir_.path() + "/new/pool";
  ASSERT_TRUE(storage_->DefinePool("<pool type='dir'><name>p2</name><target><path>" + target +
                                   "</path></target></pool>"));
  auto start = storage_->StartPool("p2");
  ASSERT_FALSE(start.has_value());
  EXPECT_EQ(start.error().message(), "cannot open directory '" + target + "': No such file or directory");
  ASSERT_TRUE(storage_->BuildPool("p2").has_value());
  EXPECT_EQ(vsecret::test::FileMode(target), 0711u);
  EXPECT_TRUE(storage_->StartPool("p2").has_value());
}

TEST_F(VolumeStorageTest, CreateUsesPrivateSecretThroughTrustedPath) {
  DefineSecret(pool_dir_ + "/v1");
  ASSERT_FALSE(secrets_->GetValue(Caller{}, *Uuid::Parse(kUuid), 0).has_value());  // private to clients
  auto vol = storage_->CreateVolume("p1", VolXml("v1"), nullptr);
  ASSERT_TRUE(vol.has_value()) << vol.error().message();
  EXPECT_EQ(vol->path, pool_dir_ + "/v1");
  auto status = storage_->GetVolume(*vol);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->capacity, 262144u);
  EXPECT_EQ(status->physical, 262144u + 4040 * 512);
  ASSERT_TRUE(status->encryption.has_value());
  EXPECT_EQ(status->encryption->secrets.at(0).uuid, Uuid::Parse(kUuid));
  EXPECT_EQ(storage_->CreateVolume("p1", VolXml("v1"), nullptr).error().message(),
            "storage volume 'v1' exists already");
  auto listed = storage_->ListVolumes("p1");
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(storage_->LookupVolumeByPath(pool_dir_ + "//v1")->name, "v1");
  EXPECT_EQ(storage_->LookupVolumeByName("p1", "nope").error().message(),
            "Storage volume not found: no storage vol with matching name 'nope'");
  ASSERT_TRUE(storage_->DeleteVolume(*vol).has_value());
  EXPECT_FALSE(vsecret::test::FileExists(vol->path));
  EXPECT_TRUE(storage_->ListVolumes("p1")->empty());
}

TEST_F(VolumeStorageTest, SecretErrorsLeaveNoFile) {
  // (A secret without a value gets a generated one since issue 13: volume_secret_gen_test.cc.)
  auto vol = storage_->CreateVolume("p1", VolXml("v1"), nullptr);
  ASSERT_FALSE(vol.has_value());
  EXPECT_EQ(vol.error().message(),
            std::string("Secret not found: no secret with matching uuid '") + kUuid + "'");
  EXPECT_FALSE(vsecret::test::FileExists(pool_dir_ + "/v1"));
  ASSERT_TRUE(storage_->DestroyPool("p1").has_value());
  EXPECT_EQ(storage_->CreateVolume("p1", VolXml("v1"), nullptr).error().message(),
            "Requested operation is not valid: storage pool 'p1' is not active");
}

TEST_F(VolumeStorageTest, RefreshReattachesUsageSecret) {
  DefineSecret(pool_dir_ + "/found.luks");
  // A LUKS volume appears behind the driver's back, made with the same passphrase.
  LuksFormatOptions o;
  o.kdf.slot_iterations = o.kdf.mk_iterations = 1000;
  ASSERT_TRUE(
      LuksImage::Create(pool_dir_ + "/found.luks", 0600, 65536, SecretBytes(std::string_view("letmein")), o));
  WriteFileRaw(pool_dir_ + "/plain.img", std::string(4096, 'x'));
  EXPECT_TRUE(storage_->ListVolumes("p1")->empty());  // not seen until a refresh
  ASSERT_TRUE(storage_->RefreshPool("p1").has_value());
  auto listed = storage_->ListVolumes("p1");
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "found.luks");
  ASSERT_TRUE((*listed)[0].encryption.has_value());
  EXPECT_EQ((*listed)[0].encryption->secrets.at(0).uuid, Uuid::Parse(kUuid));
  EXPECT_EQ((*listed)[0].capacity, 65536u);
  EXPECT_FALSE((*listed)[1].encryption.has_value());
  // Data goes through: upload then download.
  const auto data = RandomData(65536, 1);
  WriteFileRaw(dir_.path() + "/in", std::string(data.begin(), data.end()));
  const int in = ::open((dir_.path() + "/in").c_str(), O_RDONLY);
  auto vol = storage_->LookupVolumeByName("p1", "found.luks");
  ASSERT_TRUE(storage_->Upload(*vol, in, 0, 0, nullptr).has_value());
  ::close(in);
  const int out = ::open((dir_.path() + "/out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_EQ(*storage_->Download(*vol, out, 0, 0, nullptr), 65536u);
  ::close(out);
  EXPECT_EQ(ReadFileOrEmpty(dir_.path() + "/out"), std::string(data.begin(), data.end()));
  // The file vanishes: refresh forgets it.
  ::unlink((pool_dir_ + "/plain.img").c_str());
  ASSERT_TRUE(storage_->RefreshPool("p1").has_value());
  EXPECT_EQ(storage_->ListVolumes("p1")->size(), 1u);
}

// Issue 12: a metadata record that cannot be read or parsed used to read as "no encryption".
TEST_F(VolumeStorageTest, BrokenVolumeMetadataIsAnErrorNamingTheFile) {
  DefineSecret(pool_dir_ + "/v1");
  auto vol = storage_->CreateVolume("p1", VolXml("v1"), nullptr);
  ASSERT_TRUE(vol.has_value()) << vol.error().message();
  const std::string meta = StoragePaths::ForSecretStore(secrets_->paths()).state_dir + "/p1.vols/v1.xml";
  ASSERT_TRUE(vsecret::test::FileExists(meta));
  std::vector<std::string> log;
  LogSink previous = SetLogSink([&](LogLevel, std::string_view line) { log.emplace_back(line); });

  const std::string broken_contents[] = {
      "<vsecret-volume>\n  <encryption format='luks'>\n",                 // truncated
      "<vsecret-volume><encryption format='bogus'/></vsecret-volume>\n",  // bad <encryption>
      "<volume-of-someone-else/>\n",                                      // wrong root
  };
  for (const std::string& content : broken_contents) {
    SCOPED_TRACE(content);
    WriteFileRaw(meta, content);
    auto status = storage_->GetVolume(*vol);
    ASSERT_FALSE(status.has_value());
    EXPECT_EQ(
        status.error().message().rfind("internal error: cannot parse volume metadata '" + meta + "': ", 0),
        0u)
        << status.error().message();
    auto listed = storage_->ListVolumes("p1");
    ASSERT_FALSE(listed.has_value());
    EXPECT_EQ(ErrorOf(listed), status.error().message());
    EXPECT_EQ(ErrorOf(storage_->VolumePassphrase(*vol)), status.error().message());
    const int in = ::open("/dev/zero", O_RDONLY);
    EXPECT_EQ(ErrorOf(storage_->Upload(*vol, in, 0, 4096, nullptr)), status.error().message());
    ::close(in);
    const int out = ::open("/dev/null", O_WRONLY);
    EXPECT_EQ(ErrorOf(storage_->Download(*vol, out, 0, 0, nullptr)), status.error().message());
    ::close(out);
  }

  // A directory in the record's place: an I/O error, in libvirt's virFileReadAll wording.
  ASSERT_EQ(::unlink(meta.c_str()), 0);
  ASSERT_EQ(::mkdir(meta.c_str(), 0700), 0);
  auto status = storage_->GetVolume(*vol);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().message(), "Failed to read file '" + meta + "': Is a directory");
  EXPECT_EQ(status.error().code(), ErrorCode::kSystemError);
  EXPECT_FALSE(storage_->VolumePassphrase(*vol).has_value());
  EXPECT_FALSE(storage_->ListVolumes("p1").has_value());
  ASSERT_EQ(::rmdir(meta.c_str()), 0);

  // Refresh rebuilds the record from the file and says so; the volume works again.
  WriteFileRaw(meta, "<vsecret-volume><encryption");
  log.clear();
  ASSERT_TRUE(storage_->RefreshPool("p1").has_value());
  SetLogSink(previous);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("cannot parse volume metadata '" + meta + "'"), std::string::npos) << log[0];
  EXPECT_NE(log[0].find("rebuilding it from storage volume '" + vol->path + "'"), std::string::npos)
      << log[0];
  status = storage_->GetVolume(*vol);
  ASSERT_TRUE(status.has_value()) << status.error().message();
  ASSERT_TRUE(status->encryption.has_value());
  EXPECT_EQ(status->encryption->secrets.at(0).uuid, Uuid::Parse(kUuid));  // found again by usage
  EXPECT_TRUE(storage_->VolumePassphrase(*vol).has_value());
}

// An encrypted volume whose LUKS header is gone is not opened as plaintext.
TEST_F(VolumeStorageTest, RecordedEncryptionWithoutHeaderIsNotPlaintext) {
  DefineSecret(pool_dir_ + "/v1");
  auto vol = storage_->CreateVolume("p1", VolXml("v1"), nullptr);
  ASSERT_TRUE(vol.has_value()) << vol.error().message();
  const std::string meta = StoragePaths::ForSecretStore(secrets_->paths()).state_dir + "/p1.vols/v1.xml";
  const int fd = ::open(vol->path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const std::string zeros(4096, '\0');
  ASSERT_EQ(::pwrite(fd, zeros.data(), zeros.size(), 0), static_cast<ssize_t>(zeros.size()));
  ::close(fd);
  const std::string expected = "internal error: storage volume '" + vol->path +
                               "' is recorded as encrypted in '" + meta +
                               "' but its file has no encryption header";
  const int in = ::open("/dev/zero", O_RDONLY);
  EXPECT_EQ(ErrorOf(storage_->Upload(*vol, in, 0, 4096, nullptr)), expected);
  ::close(in);
  const int out = ::open("/dev/null", O_WRONLY);
  EXPECT_EQ(ErrorOf(storage_->Download(*vol, out, 0, 0, nullptr)), expected);
  ::close(out);
  EXPECT_EQ(ErrorOf(storage_->Wipe(*vol, WipeAlgorithm::kZero, nullptr)), expected);
}

// A broken record of a plaintext volume is reported too, not only that of an encrypted one.
TEST_F(VolumeStorageTest, BrokenMetadataOfPlainVolumeIsReported) {
  auto vol = storage_->CreateVolume(
      "p1",
      "<volume><name>plain</name><capacity>4096</capacity><target><format type='raw'/></target></volume>",
      nullptr);
  ASSERT_TRUE(vol.has_value()) << vol.error().message();
  const std::string meta = StoragePaths::ForSecretStore(secrets_->paths()).state_dir + "/p1.vols/plain.xml";
  WriteFileRaw(meta, "<vsecret-volume>");
  const std::string prefix = "internal error: cannot parse volume metadata '" + meta + "': ";
  EXPECT_EQ(ErrorOf(storage_->GetVolume(*vol)).rfind(prefix, 0), 0u);
  EXPECT_EQ(ErrorOf(storage_->ListVolumes("p1")).rfind(prefix, 0), 0u);
  const int out = ::open("/dev/null", O_WRONLY);
  EXPECT_EQ(ErrorOf(storage_->Download(*vol, out, 0, 0, nullptr)).rfind(prefix, 0), 0u);
  ::close(out);
}

// Pool definitions that cannot be read or parsed are reported and skipped at load, as libvirt does.
TEST_F(VolumeStorageTest, BrokenPoolConfigsAreReportedAndSkipped) {
  const std::string config = StoragePaths::ForSecretStore(secrets_->paths()).config_dir;
  WriteFileRaw(config + "/truncated.xml", "<pool type='dir'><name>truncated</name><target>");
  WriteFileRaw(config + "/renamed.xml",
               "<pool type='dir'><name>other</name><target><path>/nowhere</path></target></pool>");
  ASSERT_EQ(::mkdir((config + "/dir.xml").c_str(), 0700), 0);
  std::vector<std::string> log;
  LogSink previous = SetLogSink([&](LogLevel, std::string_view line) { log.emplace_back(line); });
  auto again = StorageDriver::Open(StoragePaths::ForSecretStore(secrets_->paths()), secrets_.get());
  SetLogSink(previous);
  ASSERT_TRUE(again.has_value()) << again.error().message();
  ASSERT_EQ((*again)->ListPools().size(), 1u);
  EXPECT_EQ((*again)->ListPools()[0].def.name, "p1");
  ASSERT_EQ(log.size(), 3u);
  auto logged = [&](const std::string& text) {
    return std::any_of(log.begin(), log.end(), [&](const std::string& l) { return l.find(text) != l.npos; });
  };
  EXPECT_TRUE(
      logged(": error : storage_pools : Failed to read file '" + config + "/dir.xml': Is a directory"));
  EXPECT_TRUE(logged("XML error: Storage pool config filename '" + config +
                     "/renamed.xml' does not match pool name 'other'"));
  EXPECT_TRUE(logged("cannot load storage pool config '" + config +
                     "/truncated.xml': (storage_pool_definition):1: Premature end of data"));
}

TEST_F(VolumeStorageTest, CreationRefusalsInLibvirtOrder) {
  DefineSecret(pool_dir_ + "/x");
  const std::pair<std::string, std::string> cases[] = {
      // luks2 is created on request (volume_luks2_test.cc); luks-any only names what may be opened.
      {"<volume><name>a</name><capacity>1</capacity><target><format type='raw'/><encryption "
       "format='luks-any'>"
       "<secret type='passphrase' uuid='" +
           std::string(kUuid) + "'/></encryption></target></volume>",
       "internal error: Only luks encryption is supported for raw files"},
      {"<volume><name>a</name><capacity>1</capacity><target><format type='qcow2'/><encryption "
       "format='default'>"
       "</encryption></target></volume>",
       "unsupported configuration: creation of qcow2 encrypted image is not supported"},
      {"<volume><name>a</name><capacity>1</capacity><target><format type='qcow2'/><encryption format='luks2'>"
       "</encryption></target></volume>",
       "unsupported configuration: LUKS2 encryption is not supported inside qcow2 volumes: qemu's qcow2 "
       "encryption is LUKS1 only (use format='luks')"},
      {"<volume><name>a</name><capacity>1</capacity><target><format type='raw'/><encryption format='luks'>"
       "<secret type='passphrase' usage='u1'/><secret type='passphrase' "
       "usage='u2'/></encryption></target></volume>",
       "invalid argument: A single <secret type='passphrase'...> element is expected in encryption "
       "description"},
      {"<volume><name>a</name><capacity>1</capacity><target><format type='vmdk'/></target></volume>",
       "unsupported configuration: creating volumes of format vmdk is not supported (raw or qcow2)"},
      {"<volume><name>..</name><capacity>1</capacity></volume>",
       "Requested operation is not valid: volume name '..' cannot contain '/'"},
      {"<volume><name>a</name><capacity>1</capacity><target><format type='raw'/><encryption format='luks'>"
       "<secret type='passphrase' uuid='" +
           std::string(kUuid) +
           "'/><cipher name='aes' size='192' mode='cbc'/></encryption>"
           "</target></volume>",
       "unsupported configuration: cipher size 192 in cbc mode is not supported: its key material (96000 "
       "bytes) is not a whole number of sectors; use xts for 192-bit keys"},
  };
  for (const auto& [xml, message] : cases) {
    auto vol = storage_->CreateVolume("p1", xml, nullptr);
    ASSERT_FALSE(vol.has_value()) << xml;
    EXPECT_EQ(vol.error().message(), message);
  }
}

TEST_F(VolumeStorageTest, PlainRawAndQcow2Volumes) {
  auto raw = storage_->CreateVolume(
      "p1", "<volume><name>r</name><capacity>100000</capacity><allocation>0</allocation></volume>", nullptr);
  ASSERT_TRUE(raw.has_value()) << raw.error().message();
  EXPECT_EQ(storage_->GetVolume(*raw)->capacity, 100000u);
  auto resized = storage_->ResizeVolume(*raw, 200000, 0, nullptr);
  ASSERT_TRUE(resized.has_value());
  EXPECT_EQ(*resized, 200000u);
  EXPECT_EQ(storage_->ResizeVolume(*raw, 1, 0, nullptr).error().message(),
            "invalid argument: Can't shrink capacity below current capacity unless shrink flag explicitly "
            "specified");
  EXPECT_EQ(*storage_->ResizeVolume(*raw, 1000, kResizeShrink | kResizeDelta, nullptr), 199000u);
  auto q = storage_->CreateVolume(
      "p1",
      "<volume><name>q</name><capacity unit='M'>1</capacity><target><format type='qcow2'/></target></volume>",
      nullptr);
  ASSERT_TRUE(q.has_value()) << q.error().message();
  auto status = storage_->GetVolume(*q);
  EXPECT_EQ(status->format, kVolumeFormatQcow2);
  EXPECT_EQ(status->capacity, 1u << 20);
  EXPECT_EQ(status->cluster_size, 65536u);
  EXPECT_FALSE(status->compat.has_value());  // version 2, as libvirt 9.0 creates
  ASSERT_TRUE(storage_->Wipe(*q, WipeAlgorithm::kRandom, nullptr).has_value());
}

// A pipe in both directions, odd offsets, several threads: chunks never share a sector.
TEST(VolumeTransferTest, StreamsAndUnalignedRanges) {
  TempDir dir;
  LuksFormatOptions o;
  o.kdf.slot_iterations = o.kdf.mk_iterations = 1000;
  const SecretBytes pass(std::string_view("p"));
  auto image = LuksImage::Create(dir.path() + "/v", 0600, 3 << 20, pass, o);
  ASSERT_TRUE(image.has_value());
  const auto data = RandomData((2 << 20) + 777, 2);
  TransferOptions opts;
  opts.threads = 3;
  opts.chunk = 64 << 10;
  std::uint64_t last = 0;
  opts.progress = [&](std::uint64_t done, std::uint64_t) { last = done; };
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread writer([&] {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::write(fds[1], data.data() + off, std::min<std::size_t>(5000, data.size() - off));
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(fds[1]);
  });
  auto written = CopyToImage(fds[0], **image, 1001, std::nullopt, opts);
  writer.join();
  ::close(fds[0]);
  ASSERT_TRUE(written.has_value()) << written.error().message();
  EXPECT_EQ(*written, data.size());
  EXPECT_EQ(last, data.size());

  ASSERT_EQ(::pipe(fds), 0);
  std::string received;
  std::thread reader([&] {
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) received.append(buf, static_cast<std::size_t>(n));
  });
  auto read = CopyFromImage(**image, 1001, data.size(), fds[1], opts);
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(received == std::string(data.begin(), data.end()));
  // Too much input for the capacity is refused.
  const int big = ::open((dir.path() + "/big").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_EQ(::ftruncate(big, 4 << 20), 0);
  auto refused = CopyToImage(big, **image, 0, std::nullopt, opts);
  ::close(big);
  ASSERT_FALSE(refused.has_value());
}

TEST(VolumeQcow2Test, NativeImageRoundTrips) {
  TempDir dir;
  for (bool encrypted : {false, true}) {
    const std::string path = dir.path() + (encrypted ? "/e.qcow2" : "/p.qcow2");
    Qcow2CreateOptions o;
    o.capacity = (600u << 20) + 4096;  // two L2 tables
    o.version3 = encrypted;
    LuksFormatOptions luks;
    luks.kdf.slot_iterations = luks.kdf.mk_iterations = 1000;
    if (encrypted) o.luks = luks;
    const SecretBytes pass(std::string_view("p"));
    auto image = Qcow2Image::Create(path, 0600, o, encrypted ? &pass : nullptr);
    ASSERT_TRUE(image.has_value()) << image.error().message();
    const auto a = RandomData(100000, 3), b = RandomData(70000, 4);
    ASSERT_TRUE((*image)->Write(12345, a).has_value());
    ASSERT_TRUE((*image)->Write((512u << 20) + 65000, b).has_value());  // second L2 table, crosses clusters
    image->reset();
    auto file = BlockFile::Open(path, BlockFile::Mode::kReadWrite);
    auto reopened = Qcow2Image::Open(std::move(*file), encrypted ? &pass : nullptr);
    ASSERT_TRUE(reopened.has_value()) << reopened.error().message();
    std::vector<std::uint8_t> back(100000);
    ASSERT_TRUE((*reopened)->Read(12345, back).has_value());
    EXPECT_EQ(back, a);
    back.resize(70000);
    ASSERT_TRUE((*reopened)->Read((512u << 20) + 65000, back).has_value());
    EXPECT_EQ(back, b);
    std::vector<std::uint8_t> zeros(4096, 1);
    ASSERT_TRUE((*reopened)->Read(300u << 20, zeros).has_value());
    EXPECT_EQ(zeros, std::vector<std::uint8_t>(4096, 0));
    if (encrypted) {
      auto wrong_file = BlockFile::Open(path, BlockFile::Mode::kReadOnly);
      const SecretBytes wrong(std::string_view("q"));
      EXPECT_FALSE(Qcow2Image::Open(std::move(*wrong_file), &wrong).has_value());
    }
  }
}

TEST(VolumeQcow2Test, RefusesWhatItCannotHandle) {
  TempDir dir;
  Qcow2CreateOptions o;
  o.capacity = 1 << 20;
  o.version3 = true;
  ASSERT_TRUE(Qcow2Image::Create(dir.path() + "/i", 0600, o, nullptr).has_value());
  std::string bytes = ReadFileOrEmpty(dir.path() + "/i");
  std::string dirty = bytes;
  dirty[79] = 1;  // incompatible feature bit 0: dirty
  WriteFileRaw(dir.path() + "/dirty", dirty);
  auto f = BlockFile::Open(dir.path() + "/dirty", BlockFile::Mode::kReadOnly);
  auto image = Qcow2Image::Open(std::move(*f), nullptr);
  ASSERT_FALSE(image.has_value());
  EXPECT_NE(image.error().message().find("dirty"), std::string::npos);
  std::string backing = bytes;
  backing[15] = 1;  // backing_file_offset
  WriteFileRaw(dir.path() + "/backing", backing);
  f = BlockFile::Open(dir.path() + "/backing", BlockFile::Mode::kReadOnly);
  image = Qcow2Image::Open(std::move(*f), nullptr);
  ASSERT_FALSE(image.has_value());
  EXPECT_NE(image.error().message().find("backing files are not supported"), std::string::npos);
  f = BlockFile::Open(dir.path() + "/i", BlockFile::Mode::kReadWrite);
  image = Qcow2Image::Open(std::move(*f), nullptr);
  ASSERT_TRUE(image.has_value());
  EXPECT_FALSE((*image)->Resize(1000).has_value());  // no shrinking
}

}  // namespace
}  // namespace vsecret::volume
