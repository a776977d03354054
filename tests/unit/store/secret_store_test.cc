// SecretStore against the real file system: layout, modes, content, listing, load errors and the
// instance lock, as libvirt lays a store out and as it fails to load one.
#include "store/secret_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "base/log.h"
#include "conf/secret_xml.h"
#include "store/encryption_key.h"
#include "test_util.h"

namespace vsecret {
namespace {

namespace fs = std::filesystem;
using test::FileExists;
using test::FileMode;
using test::ReadFileOrEmpty;
using test::WriteFileRaw;

constexpr char kUuidText[] = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";
constexpr char kOtherUuidText[] = "11111111-2222-3333-4444-555555555555";

Uuid TestUuid(const char* text = kUuidText) { return *Uuid::Parse(text); }

SecretDef TestDef(const char* uuid = kUuidText) {
  SecretDef def;
  def.uuid = TestUuid(uuid);
  def.description = "store test";
  def.usage_type = UsageType::kCeph;
  def.usage_id = std::string("client.") + uuid;
  return def;
}

class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

std::vector<std::string> SortedChildren(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class SecretStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    paths_ = StorePaths::ForRoot(tmp_.path() + "/root");
    auto store = SecretStore::Open(paths_);
    ASSERT_TRUE(store.has_value()) << store.error().message();
    store_ = std::move(*store);
  }

  std::string ConfigFile(const std::string& name) const { return paths_.config_dir + "/" + name; }

  test::TempDir tmp_;
  StorePaths paths_;
  std::unique_ptr<SecretStore> store_;
};

TEST(SecretStorePathsTest, ForRootIsTheEmbeddedLayout) {
  const StorePaths paths = StorePaths::ForRoot("/srv/x");
  EXPECT_EQ(paths.config_dir, "/srv/x/etc/secrets");
  EXPECT_EQ(paths.state_dir, "/srv/x/run/secrets");
}

TEST_F(SecretStoreTest, OpenCreatesMissingDirectoriesWithMode0700) {
  EXPECT_EQ(FileMode(tmp_.path() + "/root"), 0700u);
  EXPECT_EQ(FileMode(tmp_.path() + "/root/etc"), 0700u);
  EXPECT_EQ(FileMode(paths_.config_dir), 0700u);
  EXPECT_EQ(FileMode(tmp_.path() + "/root/run"), 0700u);
  EXPECT_EQ(FileMode(paths_.state_dir), 0700u);
  EXPECT_EQ(store_->paths().config_dir, paths_.config_dir);
  EXPECT_EQ(store_->paths().state_dir, paths_.state_dir);
}

TEST_F(SecretStoreTest, OpenDoesNotChmodExistingDirectories) {
  store_.reset();
  ScopedUmask mask(0);
  const StorePaths paths = StorePaths::ForRoot(tmp_.path() + "/other");
  fs::create_directories(paths.config_dir);
  ASSERT_EQ(::chmod(paths.config_dir.c_str(), 0755), 0);
  auto store = SecretStore::Open(paths);
  ASSERT_TRUE(store.has_value()) << store.error().message();
  EXPECT_EQ(FileMode(paths.config_dir), 0755u);
  EXPECT_EQ(FileMode(paths.state_dir), 0700u);
}

TEST_F(SecretStoreTest, OpenWritesPidFileAndDestructionRemovesIt) {
  const std::string pid_file = paths_.state_dir + "/driver.pid";
  EXPECT_EQ(ReadFileOrEmpty(pid_file), std::to_string(::getpid()));
  EXPECT_EQ(SortedChildren(paths_.state_dir), std::vector<std::string>{"driver.pid"});
  store_.reset();
  EXPECT_FALSE(FileExists(pid_file));
}

TEST_F(SecretStoreTest, PidFileMode0644) {
  store_.reset();
  ScopedUmask mask(022);
  auto store = SecretStore::Open(paths_);
  ASSERT_TRUE(store.has_value()) << store.error().message();
  EXPECT_EQ(FileMode(paths_.state_dir + "/driver.pid"), 0644u);
}

TEST_F(SecretStoreTest, SecondOpenInSameProcessFails) {
  auto second = SecretStore::Open(paths_);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().message(), "Failed to acquire pid file '" + paths_.state_dir +
                                          "/driver.pid': Resource temporarily unavailable");
  EXPECT_EQ(second.error().code(), ErrorCode::kSystemError);
  // The failed attempt leaves the holder's pid file alone.
  EXPECT_EQ(ReadFileOrEmpty(paths_.state_dir + "/driver.pid"), std::to_string(::getpid()));
}

TEST_F(SecretStoreTest, SecondOpenFromAnotherProcessFails) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    auto second = SecretStore::Open(paths_);
    const std::string msg = second.has_value() ? "opened" : second.error().message();
    (void)!::write(fds[1], msg.data(), msg.size());
    ::_exit(second.has_value() ? 1 : 0);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(msg, "Failed to acquire pid file '" + paths_.state_dir +
                     "/driver.pid': Resource temporarily unavailable");
}

TEST_F(SecretStoreTest, OpenAfterCloseSucceeds) {
  store_.reset();
  auto again = SecretStore::Open(paths_);
  EXPECT_TRUE(again.has_value());
}

TEST_F(SecretStoreTest, OpenWithConfigDirThroughAFileFails) {
  WriteFileRaw(tmp_.path() + "/plain", "");
  StorePaths paths{tmp_.path() + "/plain/secrets", tmp_.path() + "/run"};
  auto store = SecretStore::Open(paths);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().message(),
            "cannot create config directory '" + paths.config_dir + "': Not a directory");
  StorePaths state{tmp_.path() + "/etc2", tmp_.path() + "/plain/run"};
  store = SecretStore::Open(state);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().message(),
            "cannot create state directory '" + state.state_dir + "': Not a directory");
}

TEST_F(SecretStoreTest, Paths) {
  EXPECT_EQ(store_->DefinitionPath(TestUuid()), paths_.config_dir + "/" + kUuidText + ".xml");
  EXPECT_EQ(store_->ValuePath(TestUuid()), paths_.config_dir + "/" + kUuidText + ".base64");
}

TEST_F(SecretStoreTest, WriteDefinitionWritesCanonicalXmlOnlyMode0600) {
  ScopedUmask mask(0);
  const SecretDef def = TestDef();
  ASSERT_TRUE(store_->WriteDefinition(def).has_value());
  const std::string path = store_->DefinitionPath(def.uuid);
  EXPECT_EQ(ReadFileOrEmpty(path), FormatSecretXml(def));
  EXPECT_EQ(FileMode(path), 0600u);
  EXPECT_EQ(SortedChildren(paths_.config_dir), std::vector<std::string>{std::string(kUuidText) + ".xml"});
}

TEST_F(SecretStoreTest, WriteValueStoresPlainBase64WithoutNewline) {
  ScopedUmask mask(0);
  ASSERT_TRUE(store_->WriteValue(TestUuid(), SecretBytes(std::string_view("open sesame"))).has_value());
  const std::string path = store_->ValuePath(TestUuid());
  EXPECT_EQ(ReadFileOrEmpty(path), "b3BlbiBzZXNhbWU=");
  EXPECT_EQ(FileMode(path), 0600u);
  EXPECT_EQ(SortedChildren(paths_.config_dir), std::vector<std::string>{std::string(kUuidText) + ".base64"});
}

TEST_F(SecretStoreTest, WriteReplacesAtomicallyByRename) {
  const Uuid uuid = TestUuid();
  ASSERT_TRUE(store_->WriteValue(uuid, SecretBytes(std::string_view("first"))).has_value());
  struct stat before {};
  ASSERT_EQ(::stat(store_->ValuePath(uuid).c_str(), &before), 0);
  ASSERT_TRUE(store_->WriteValue(uuid, SecretBytes(std::string_view("second"))).has_value());
  struct stat after {};
  ASSERT_EQ(::stat(store_->ValuePath(uuid).c_str(), &after), 0);
  // A new inode shows the file was replaced by rename, not rewritten in place.
  EXPECT_NE(before.st_ino, after.st_ino);
  auto value = store_->ReadValue(uuid);
  ASSERT_TRUE(value.has_value());
  ASSERT_TRUE(value->has_value());
  EXPECT_EQ((*value)->AsStringView(), "second");
  EXPECT_FALSE(FileExists(store_->ValuePath(uuid) + ".new"));
}

TEST_F(SecretStoreTest, WriteOverwritesStaleTempFile) {
  const SecretDef def = TestDef();
  WriteFileRaw(store_->DefinitionPath(def.uuid) + ".new", "half-written garbage");
  ASSERT_TRUE(store_->WriteDefinition(def).has_value());
  EXPECT_EQ(ReadFileOrEmpty(store_->DefinitionPath(def.uuid)), FormatSecretXml(def));
  EXPECT_FALSE(FileExists(store_->DefinitionPath(def.uuid) + ".new"));
}

// A keyring of one key, every byte `fill`.
std::shared_ptr<const Keyring> OneKey(char fill) {
  std::vector<EncryptionKey> keys;
  keys.push_back(std::move(*EncryptionKey::FromBytes(SecretBytes(std::string(32, fill)), "test key")));
  return std::make_shared<const Keyring>(std::move(keys), 0);
}

TEST_F(SecretStoreTest, WriteValueRemovesOtherFormatOnly) {
  const Uuid uuid = TestUuid();
  store_->SetValueProtection(ValueProtection{true, OneKey('k')});
  WriteFileRaw(ConfigFile(std::string(kUuidText) + ".base64"), "b2xk");
  WriteFileRaw(ConfigFile(std::string(kUuidText) + ".vsenc"), "stale");
  WriteFileRaw(ConfigFile(std::string(kOtherUuidText) + ".base64"), "other");
  ASSERT_TRUE(store_->WriteValue(uuid, SecretBytes(std::string_view("v"))).has_value());
  EXPECT_FALSE(FileExists(ConfigFile(std::string(kUuidText) + ".base64")));
  EXPECT_FALSE(FileExists(ConfigFile(std::string(kUuidText) + ".vsenc")));
  EXPECT_TRUE(FileExists(ConfigFile(std::string(kOtherUuidText) + ".base64")));
  EXPECT_EQ(store_->ValuePath(uuid), ConfigFile(std::string(kUuidText) + ".aes256cbc"));
  EXPECT_TRUE(FileExists(store_->ValuePath(uuid)));
}

TEST_F(SecretStoreTest, WriteInTheClearIsRefusedNextToAnEncryptedFile) {
  const Uuid uuid = TestUuid();
  const std::string aes = ConfigFile(std::string(kUuidText) + ".aes256cbc");
  WriteFileRaw(aes, "oKGio6SlpqeoqaqrrK2urwiBWyD2LXJijfbHA64vSrg=");
  EXPECT_FALSE(store_->holds_encrypted_values());  // not listed yet: found by the per-secret probe
  auto w = store_->WriteValue(uuid, SecretBytes(std::string_view("v")));
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error().code(), ErrorCode::kOperationInvalid);
  EXPECT_EQ(ReadFileOrEmpty(aes), "oKGio6SlpqeoqaqrrK2urwiBWyD2LXJijfbHA64vSrg=");
  EXPECT_FALSE(FileExists(ConfigFile(std::string(kUuidText) + ".base64")));
  // Once seen, every clear write into the store is refused, another secret's too.
  EXPECT_TRUE(store_->holds_encrypted_values());
  EXPECT_FALSE(
      store_->WriteValue(*Uuid::Parse(kOtherUuidText), SecretBytes(std::string_view("v"))).has_value());
  EXPECT_FALSE(FileExists(ConfigFile(std::string(kOtherUuidText) + ".base64")));
}

TEST_F(SecretStoreTest, ValueRoundTripsAllByteValues) {
  std::string all(256, '\0');
  for (int i = 0; i < 256; ++i) all[i] = static_cast<char>(i);
  ASSERT_TRUE(store_->WriteValue(TestUuid(), SecretBytes(std::string_view(all))).has_value());
  auto value = store_->ReadValue(TestUuid());
  ASSERT_TRUE(value.has_value());
  ASSERT_TRUE(value->has_value());
  EXPECT_EQ((*value)->AsStringView(), all);
}

TEST_F(SecretStoreTest, ReadValueWithoutFileIsNullopt) {
  auto value = store_->ReadValue(TestUuid());
  ASSERT_TRUE(value.has_value());
  EXPECT_FALSE(value->has_value());
}

TEST_F(SecretStoreTest, ReadValueOfEncryptedFileWithoutKeyFails) {
  // libvirt 12.1 does not load such a secret; the value is never taken as absent,
  // and never as garbage. Encrypted formats are covered in encrypted_store_test.cc.
  const std::string path = ConfigFile(std::string(kUuidText) + ".aes256cbc");
  WriteFileRaw(path, "oKGio6SlpqeoqaqrrK2urwiBWyD2LXJijfbHA64vSrg=");
  auto value = store_->ReadValue(TestUuid());
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().message(),
            "Invalid secret: cannot decrypt '" + path + "': no encryption key is loaded");
}

TEST_F(SecretStoreTest, ReadValueDecodesLeniently) {
  WriteFileRaw(store_->ValuePath(TestUuid()), "b3Bl\nbiBz ZXNh*bWU=\n");
  auto value = store_->ReadValue(TestUuid());
  ASSERT_TRUE(value.has_value());
  ASSERT_TRUE(value->has_value());
  EXPECT_EQ((*value)->AsStringView(), "open sesame");
}

TEST_F(SecretStoreTest, ReadValueOfEmptyFileIsEmptyValue) {
  WriteFileRaw(store_->ValuePath(TestUuid()), "");
  auto value = store_->ReadValue(TestUuid());
  ASSERT_TRUE(value.has_value());
  ASSERT_TRUE(value->has_value());
  EXPECT_TRUE((*value)->empty());
}

TEST_F(SecretStoreTest, ReadValueOfDirectoryIsReadError) {
  const std::string path = store_->ValuePath(TestUuid());
  fs::create_directory(path);
  auto value = store_->ReadValue(TestUuid());
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().message(), "cannot read '" + path + "': Is a directory");
  EXPECT_EQ(value.error().code(), ErrorCode::kSystemError);
  EXPECT_EQ(value.error().domain(), ErrorDomain::kSecret);
}

TEST_F(SecretStoreTest, ReadValueCapIs10MiB) {
  ASSERT_EQ(SecretStore::kMaxValueFileBytes, 10u * 1024 * 1024);
  const std::string path = store_->ValuePath(TestUuid());
  WriteFileRaw(path, std::string(SecretStore::kMaxValueFileBytes, 'A'));
  auto at_cap = store_->ReadValue(TestUuid());
  ASSERT_TRUE(at_cap.has_value()) << at_cap.error().message();
  ASSERT_TRUE(at_cap->has_value());
  EXPECT_EQ((*at_cap)->size(), SecretStore::kMaxValueFileBytes / 4 * 3);

  WriteFileRaw(path, std::string(SecretStore::kMaxValueFileBytes + 1, 'A'));
  auto over = store_->ReadValue(TestUuid());
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().message(),
            "Failed to read file '" + path + "': Value too large for defined data type");
}

TEST_F(SecretStoreTest, ListDefinitionFilesKeepsOnlyXmlSuffix) {
  for (const char* name : {"a.xml", "b.xml.new", "c.xml.bak", "d.base64", "e.XML", "f.aes256cbc", "xml"}) {
    WriteFileRaw(ConfigFile(name), "");
  }
  fs::create_directory(ConfigFile("g.xml"));
  auto names = store_->ListDefinitionFiles();
  ASSERT_TRUE(names.has_value());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"a.xml", "g.xml"}));
}

TEST_F(SecretStoreTest, ListDefinitionFilesOfMissingDirIsEmpty) {
  fs::remove_all(paths_.config_dir);
  auto names = store_->ListDefinitionFiles();
  ASSERT_TRUE(names.has_value());
  EXPECT_TRUE(names->empty());
}

TEST_F(SecretStoreTest, ListDefinitionFilesOfNonDirectoryFails) {
  fs::remove_all(paths_.config_dir);
  WriteFileRaw(paths_.config_dir, "");
  auto names = store_->ListDefinitionFiles();
  ASSERT_FALSE(names.has_value());
  EXPECT_EQ(names.error().message(), "cannot open directory '" + paths_.config_dir + "': Not a directory");
}

TEST_F(SecretStoreTest, ReadDefinitionRoundTrips) {
  const SecretDef def = TestDef();
  ASSERT_TRUE(store_->WriteDefinition(def).has_value());
  auto read = store_->ReadDefinition(std::string(kUuidText) + ".xml");
  ASSERT_TRUE(read.has_value()) << read.error().message();
  EXPECT_EQ(*read, def);
}

TEST_F(SecretStoreTest, ReadDefinitionHonoursEphemeralAndPrivateFlags) {
  SecretDef def = TestDef();
  def.ephemeral = true;
  def.is_private = true;
  ASSERT_TRUE(store_->WriteDefinition(def).has_value());
  auto read = store_->ReadDefinition(std::string(kUuidText) + ".xml");
  ASSERT_TRUE(read.has_value()) << read.error().message();
  EXPECT_TRUE(read->ephemeral);
  EXPECT_TRUE(read->is_private);
}

TEST_F(SecretStoreTest, ReadDefinitionRejectsMismatchedName) {
  WriteFileRaw(ConfigFile("wrongname.xml"), FormatSecretXml(TestDef()));
  auto read = store_->ReadDefinition("wrongname.xml");
  ASSERT_FALSE(read.has_value());
  // "<uuid>" is literal in libvirt's message (verified against libvirt 9.0).
  EXPECT_EQ(read.error().message(), "internal error: <uuid> does not match secret file name 'wrongname.xml'");
  EXPECT_EQ(read.error().code(), ErrorCode::kInternalError);
}

TEST_F(SecretStoreTest, ReadDefinitionRejectsUpperCaseName) {
  std::string upper = kUuidText;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  WriteFileRaw(ConfigFile(upper + ".xml"), FormatSecretXml(TestDef()));
  auto read = store_->ReadDefinition(upper + ".xml");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().message(),
            "internal error: <uuid> does not match secret file name '" + upper + ".xml'");
}

TEST_F(SecretStoreTest, ReadDefinitionOfOtherUuidsFileIsMismatch) {
  WriteFileRaw(ConfigFile(std::string(kOtherUuidText) + ".xml"), FormatSecretXml(TestDef()));
  auto read = store_->ReadDefinition(std::string(kOtherUuidText) + ".xml");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().message(), std::string("internal error: <uuid> does not match secret file name '") +
                                        kOtherUuidText + ".xml'");
}

TEST_F(SecretStoreTest, ReadDefinitionParseErrorNamesThePath) {
  const std::string name = std::string(kUuidText) + ".xml";
  WriteFileRaw(ConfigFile(name), "<secret><uuid>");
  auto read = store_->ReadDefinition(name);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().message().rfind(ConfigFile(name) + ":", 0), 0u) << read.error().message();
}

TEST_F(SecretStoreTest, ReadDefinitionOfMissingFile) {
  const std::string name = std::string(kUuidText) + ".xml";
  auto read = store_->ReadDefinition(name);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().message(), "XML error: failed to parse xml document '" + ConfigFile(name) + "'");
  EXPECT_EQ(read.error().code(), ErrorCode::kXmlError);
}

TEST_F(SecretStoreTest, ReadDefinitionOfDirectoryIsEmptyDocument) {
  const std::string name = std::string(kUuidText) + ".xml";
  fs::create_directory(ConfigFile(name));
  auto read = store_->ReadDefinition(name);
  ASSERT_FALSE(read.has_value());
  // Same outcome as an empty file: the parser's "Document is empty" for this path.
  WriteFileRaw(ConfigFile("empty.xml"), "");
  auto empty = store_->ReadDefinition("empty.xml");
  ASSERT_FALSE(empty.has_value());
  std::string expected = empty.error().message();
  const std::string from = ConfigFile("empty.xml");
  expected.replace(expected.find(from), from.size(), ConfigFile(name));
  EXPECT_EQ(read.error().message(), expected);
}

TEST_F(SecretStoreTest, DeleteDefinition) {
  const SecretDef def = TestDef();
  ASSERT_TRUE(store_->WriteDefinition(def).has_value());
  ASSERT_TRUE(store_->DeleteDefinition(def.uuid).has_value());
  EXPECT_FALSE(FileExists(store_->DefinitionPath(def.uuid)));
  // A missing file is success.
  EXPECT_TRUE(store_->DeleteDefinition(def.uuid).has_value());
}

TEST_F(SecretStoreTest, DeleteDefinitionReportsUnlinkFailure) {
  const Uuid uuid = TestUuid();
  const std::string path = store_->DefinitionPath(uuid);
  fs::create_directory(path);
  auto deleted = store_->DeleteDefinition(uuid);
  ASSERT_FALSE(deleted.has_value());
  EXPECT_EQ(deleted.error().message(), "cannot unlink '" + path + "': Is a directory");
}

TEST_F(SecretStoreTest, DeleteValuesRemovesEveryFormat) {
  const Uuid uuid = TestUuid();
  store_->DeleteValues(uuid);  // nothing there: no error, nothing to report
  ASSERT_TRUE(store_->WriteDefinition(TestDef()).has_value());
  WriteFileRaw(ConfigFile(std::string(kUuidText) + ".base64"), "x");
  WriteFileRaw(ConfigFile(std::string(kUuidText) + ".aes256cbc"), "y");
  WriteFileRaw(ConfigFile(std::string(kOtherUuidText) + ".base64"), "z");
  store_->DeleteValues(uuid);
  EXPECT_EQ(
      SortedChildren(paths_.config_dir),
      (std::vector<std::string>{std::string(kUuidText) + ".xml", std::string(kOtherUuidText) + ".base64"}));
}

TEST_F(SecretStoreTest, TrailingSlashGivesLibvirtStyleDoubleSlash) {
  store_.reset();
  StorePaths paths{tmp_.path() + "/cfg/", tmp_.path() + "/run/"};
  auto store = SecretStore::Open(paths);
  ASSERT_TRUE(store.has_value()) << store.error().message();
  EXPECT_EQ((*store)->DefinitionPath(TestUuid()), tmp_.path() + "/cfg//" + kUuidText + ".xml");
  ASSERT_TRUE((*store)->WriteDefinition(TestDef()).has_value());
  EXPECT_TRUE(FileExists(tmp_.path() + "/cfg/" + kUuidText + ".xml"));
  EXPECT_TRUE(FileExists(tmp_.path() + "/run/driver.pid"));
}

TEST_F(SecretStoreTest, ValuesNeverReachLogsOrErrors) {
  std::vector<std::string> lines;
  LogSink previous = SetLogSink([&](LogLevel, std::string_view line) { lines.emplace_back(line); });
  const std::string secret = "correct horse battery staple";
  const std::string encoded = "Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ==";
  std::vector<std::string> messages;
  const Uuid uuid = TestUuid();
  ASSERT_TRUE(store_->WriteValue(uuid, SecretBytes(std::string_view(secret))).has_value());
  ASSERT_TRUE(store_->ReadValue(uuid).has_value());
  // Failure paths: a directory where the temp file goes, and an oversized value file.
  fs::create_directory(store_->ValuePath(uuid) + ".new");
  fs::create_directory(store_->ValuePath(uuid) + ".new/blocker");
  auto failed = store_->WriteValue(uuid, SecretBytes(std::string_view(secret)));
  ASSERT_FALSE(failed.has_value());
  messages.push_back(failed.error().message());
  fs::remove_all(store_->ValuePath(uuid) + ".new");
  WriteFileRaw(store_->ValuePath(uuid), encoded + std::string(SecretStore::kMaxValueFileBytes, '='));
  auto too_big = store_->ReadValue(uuid);
  ASSERT_FALSE(too_big.has_value());
  messages.push_back(too_big.error().message());
  (void)store_->ReadDefinition("missing.xml");
  SetLogSink(previous);
  for (const auto& text : lines) {
    EXPECT_EQ(text.find(secret), std::string::npos) << text;
    EXPECT_EQ(text.find(encoded), std::string::npos) << text;
  }
  for (const auto& text : messages) {
    EXPECT_EQ(text.find(secret), std::string::npos) << text;
    EXPECT_EQ(text.find(encoded), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace vsecret

namespace vsecret {
namespace {

TEST(SecretStoreListTest, ReportsDefinitionsAndValueFileKinds) {
  test::TempDir tmp;
  const StorePaths paths = StorePaths::ForRoot(tmp.path());
  auto store = SecretStore::Open(paths);
  ASSERT_TRUE(store.has_value());
  const std::string a = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";
  const std::string b = "6dac920f-4046-4dd6-8a47-a35db53cc035";
  test::WriteFileRaw(paths.config_dir + "/" + a + ".xml", "<secret/>");
  test::WriteFileRaw(paths.config_dir + "/" + a + ".base64", "YQ==");
  test::WriteFileRaw(paths.config_dir + "/" + b + ".xml", "<secret/>");
  std::filesystem::create_directory(paths.config_dir + "/" + b + ".base64");
  test::WriteFileRaw(paths.config_dir + "/" + b + ".xml.new", "<secret/>");
  auto listing = (*store)->List();
  ASSERT_TRUE(listing.has_value());
  std::vector<std::string> defs = listing->definition_files;
  std::sort(defs.begin(), defs.end());
  EXPECT_EQ(defs, (std::vector<std::string>{a + ".xml", b + ".xml"}));
  ASSERT_EQ(listing->value_files.size(), 2u);
  EXPECT_TRUE(listing->value_files.at(a));
  EXPECT_FALSE(listing->value_files.at(b));
}

}  // namespace
}  // namespace vsecret
