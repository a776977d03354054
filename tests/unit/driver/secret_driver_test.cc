#include "driver/secret_driver.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "base/log.h"
#include "test_util.h"

namespace vsecret {
namespace {

using test::FileExists;
using test::FileMode;
using test::ReadFileOrEmpty;
using test::TempDir;
using test::WriteFileRaw;

constexpr char kU1[] = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";
constexpr char kU2[] = "6dac920f-4046-4dd6-8a47-a35db53cc035";
constexpr char kU3[] = "11111111-2222-3333-4444-555555555555";

std::string Xml(const char* uuid, const std::string& usage = "", bool priv = false, bool eph = false) {
  return std::string("<secret ephemeral='") + (eph ? "yes" : "no") + "' private='" + (priv ? "yes" : "no") +
         "'><uuid>" + uuid + "</uuid>" + usage + "</secret>";
}
std::string Ceph(const std::string& name) { return "<usage type='ceph'><name>" + name + "</name></usage>"; }
std::string Iscsi(const std::string& t) { return "<usage type='iscsi'><target>" + t + "</target></usage>"; }
std::string Volume(const std::string& p) { return "<usage type='volume'><volume>" + p + "</volume></usage>"; }

Uuid U(const char* s) { return *Uuid::Parse(s); }

class SecretDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_sink_ = SetLogSink([this](LogLevel, std::string_view line) { log_.emplace_back(line); });
    Reopen();
  }
  void TearDown() override {
    driver_.reset();
    SetLogSink(std::move(old_sink_));
  }
  void Reopen() {
    driver_.reset();
    auto d = SecretDriver::Open(StorePaths::ForRoot(dir_.path()));
    ASSERT_TRUE(d) << d.error().message();
    driver_ = std::move(*d);
  }
  std::string ConfigDir() const { return dir_.path() + "/etc/secrets"; }
  std::string XmlPath(const char* u) const { return ConfigDir() + "/" + u + ".xml"; }
  std::string ValuePath(const char* u) const { return ConfigDir() + "/" + u + ".base64"; }
  Result<SecretRef> Define(const std::string& xml) { return driver_->DefineXml(rw_, xml, 0); }
  Result<void> Set(const char* u, std::string_view v) {
    return driver_->SetValue(rw_, U(u), SecretBytes(v), 0);
  }
  std::string Get(const char* u) {
    auto v = driver_->GetValue(rw_, U(u), 0);
    return v ? std::string(v->AsStringView()) : "ERR:" + v.error().message();
  }

  TempDir dir_;
  Caller rw_;
  Caller ro_{.read_only = true};
  std::unique_ptr<SecretDriver> driver_;
  std::vector<std::string> log_;
  LogSink old_sink_;
};

TEST_F(SecretDriverTest, DefinePersistentWritesOnlyXml) {
  auto ref = Define(Xml(kU1, Ceph("c")));
  ASSERT_TRUE(ref) << ref.error().message();
  EXPECT_EQ(ref->uuid.ToString(), kU1);
  EXPECT_EQ(ref->usage_type, UsageType::kCeph);
  EXPECT_EQ(ref->usage_id, "c");
  EXPECT_EQ(ReadFileOrEmpty(XmlPath(kU1)),
            std::string("<secret ephemeral='no' private='no'>\n  <uuid>") + kU1 +
                "</uuid>\n  <usage type='ceph'>\n    <name>c</name>\n  </usage>\n</secret>\n");
  EXPECT_EQ(FileMode(XmlPath(kU1)), 0600u);
  EXPECT_FALSE(FileExists(ValuePath(kU1)));
  EXPECT_EQ(FileMode(dir_.path() + "/etc/secrets"), 0700u);
  EXPECT_EQ(FileMode(dir_.path() + "/run/secrets"), 0700u);
}

TEST_F(SecretDriverTest, SetValueBase64NoNewlineAndBinaryRoundTrip) {
  ASSERT_TRUE(Define(Xml(kU1)));
  ASSERT_TRUE(Set(kU1, "open sesame"));
  EXPECT_EQ(ReadFileOrEmpty(ValuePath(kU1)), "b3BlbiBzZXNhbWU=");
  EXPECT_EQ(FileMode(ValuePath(kU1)), 0600u);
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  ASSERT_TRUE(Set(kU1, all));
  EXPECT_EQ(Get(kU1), all);
  Reopen();
  EXPECT_EQ(Get(kU1), all);
}

TEST_F(SecretDriverTest, EmptyValueRejectedAndNothingChanges) {
  ASSERT_TRUE(Define(Xml(kU1)));
  ASSERT_TRUE(Set(kU1, "old"));
  auto r = Set(kU1, "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "value in virSecretSetValue must not be NULL");
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArg);
  EXPECT_EQ(Get(kU1), "old");
  Reopen();
  EXPECT_EQ(Get(kU1), "old");
}

TEST_F(SecretDriverTest, GetValueErrors) {
  ASSERT_TRUE(Define(Xml(kU1)));
  EXPECT_EQ(Get(kU1), std::string("ERR:Secret not found: secret '") + kU1 + "' does not have a value");
  ASSERT_TRUE(Define(Xml(kU2, "", /*priv=*/true)));
  ASSERT_TRUE(Set(kU2, "p"));
  auto v = driver_->GetValue(rw_, U(kU2), 0);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message(), "Invalid secret: secret is private");
  EXPECT_EQ(v.error().code(), ErrorCode::kInvalidSecret);
  Caller trusted{.trusted = true};
  auto tv = driver_->GetValue(trusted, U(kU2), 0);
  ASSERT_TRUE(tv);
  EXPECT_EQ(tv->AsStringView(), "p");
  EXPECT_EQ(Get(kU3), std::string("ERR:Secret not found: no secret with matching uuid '") + kU3 + "'");
  auto flags = driver_->GetValue(rw_, U(kU1), 1);
  EXPECT_EQ(flags.error().message(), "unsupported flags (0x1) in function secretGetValue");
}

TEST_F(SecretDriverTest, ReadOnlyCallerDenied) {
  ASSERT_TRUE(Define(Xml(kU1, Ceph("c"))));
  EXPECT_EQ(driver_->DefineXml(ro_, Xml(kU2), 0).error().message(),
            "operation forbidden: read only access prevents virSecretDefineXML");
  EXPECT_EQ(driver_->SetValue(ro_, U(kU1), SecretBytes("x"), 0).error().message(),
            "operation forbidden: read only access prevents virSecretSetValue");
  EXPECT_EQ(driver_->GetValue(ro_, U(kU1), 0).error().message(),
            "operation forbidden: read only access prevents virSecretGetValue");
  EXPECT_EQ(driver_->Undefine(ro_, U(kU1)).error().message(),
            "operation forbidden: read only access prevents virSecretUndefine");
  EXPECT_EQ(driver_->Undefine(ro_, U(kU1)).error().code(), ErrorCode::kOperationDenied);
  EXPECT_TRUE(driver_->GetXmlDesc(ro_, U(kU1), 0));
  EXPECT_TRUE(driver_->LookupByUuid(U(kU1)));
  EXPECT_EQ(driver_->NumOfSecrets(), 1);
}

TEST_F(SecretDriverTest, UsageUniqueness) {
  ASSERT_TRUE(Define(Xml(kU1, Ceph("shared"))));
  auto dup = Define(Xml(kU2, Ceph("shared")));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message(), std::string("internal error: a secret with UUID ") + kU1 +
                                       " already defined for use with shared");
  EXPECT_FALSE(FileExists(XmlPath(kU2)));
  EXPECT_TRUE(Define(Xml(kU2, Iscsi("shared"))));  // other type: fine
  EXPECT_TRUE(Define(Xml(kU3, Ceph("Shared"))));   // case-sensitive
  // Usage none never conflicts.
  EXPECT_TRUE(Define("<secret/>"));
  EXPECT_TRUE(Define("<secret/>"));
  EXPECT_EQ(driver_->NumOfSecrets(), 5);
  // Byte-exact volume paths, no normalisation.
  EXPECT_TRUE(Define(Xml("aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", Volume("/var/x"))));
  EXPECT_TRUE(Define(Xml("bbbbbbbb-aaaa-aaaa-aaaa-aaaaaaaaaaaa", Volume("/var//x"))));
}

TEST_F(SecretDriverTest, RedefineRules) {
  ASSERT_TRUE(Define(Xml(kU1, Ceph("x"))));
  ASSERT_TRUE(Set(kU1, "keep"));
  auto other_id = Define(Xml(kU1, Ceph("y")));
  EXPECT_EQ(other_id.error().message(),
            std::string("internal error: a secret with UUID ") + kU1 + " is already defined for use with x");
  auto removed = Define(Xml(kU1));
  EXPECT_EQ(removed.error().message(),
            std::string("internal error: a secret with UUID ") + kU1 + " is already defined for use with x");
  ASSERT_TRUE(Define(Xml(kU2)));
  auto added = Define(Xml(kU2, Ceph("z")));
  EXPECT_EQ(added.error().message(), std::string("internal error: a secret with UUID ") + kU2 +
                                         " is already defined for use with (null)");
  // Type change with the same id is allowed; the value is kept.
  auto retyped = Define(Xml(kU1, Iscsi("x"), /*priv=*/true));
  ASSERT_TRUE(retyped);
  EXPECT_EQ(retyped->usage_type, UsageType::kIscsi);
  EXPECT_TRUE(driver_->LookupByUsage(3, "x"));
  EXPECT_FALSE(driver_->LookupByUsage(2, "x"));
  // Private may not be dropped.
  auto unpriv = Define(Xml(kU1, Iscsi("x")));
  EXPECT_EQ(unpriv.error().message(), "internal error: cannot change private flag on existing secret");
  Caller trusted{.trusted = true};
  EXPECT_EQ(driver_->GetValue(trusted, U(kU1), 0)->AsStringView(), "keep");
}

TEST_F(SecretDriverTest, RedefineTypeChangeCannotCreateDuplicateUsage) {
  ASSERT_TRUE(Define(Xml(kU1, Ceph("x"))));
  ASSERT_TRUE(Define(Xml(kU2, Iscsi("x"))));
  auto r = Define(Xml(kU1, Iscsi("x")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            std::string("internal error: a secret with UUID ") + kU2 + " already defined for use with x");
  EXPECT_EQ(driver_->LookupByUsage(2, "x")->uuid, U(kU1));
  EXPECT_EQ(driver_->LookupByUsage(3, "x")->uuid, U(kU2));
}

TEST_F(SecretDriverTest, EphemeralNeverTouchesDisk) {
  ASSERT_TRUE(Define(Xml(kU1, "", false, /*eph=*/true)));
  ASSERT_TRUE(Set(kU1, "mem"));
  EXPECT_FALSE(FileExists(XmlPath(kU1)));
  EXPECT_FALSE(FileExists(ValuePath(kU1)));
  EXPECT_EQ(driver_->EphemeralCount(), 1u);
  EXPECT_EQ(Get(kU1), "mem");
}

TEST_F(SecretDriverTest, EphemeralToPersistentWritesValueAndXml) {
  ASSERT_TRUE(Define(Xml(kU1, "", false, true)));
  ASSERT_TRUE(Set(kU1, "v"));
  ASSERT_TRUE(Define(Xml(kU1)));
  EXPECT_TRUE(FileExists(XmlPath(kU1)));
  EXPECT_EQ(ReadFileOrEmpty(ValuePath(kU1)), "dg==");
  EXPECT_EQ(driver_->EphemeralCount(), 0u);
  Reopen();
  EXPECT_EQ(Get(kU1), "v");
}

TEST_F(SecretDriverTest, PersistentToEphemeralRemovesXmlTooSoNothingReappears) {
  ASSERT_TRUE(Define(Xml(kU1)));
  ASSERT_TRUE(Set(kU1, "v"));
  ASSERT_TRUE(Define(Xml(kU1, "", false, true)));
  EXPECT_FALSE(FileExists(XmlPath(kU1)));  // libvirt leaves it, so the secret comes back
  EXPECT_FALSE(FileExists(ValuePath(kU1)));
  EXPECT_EQ(Get(kU1), "v");
  ASSERT_TRUE(driver_->Undefine(rw_, U(kU1)));
  Reopen();
  EXPECT_FALSE(driver_->LookupByUuid(U(kU1)));
}

TEST_F(SecretDriverTest, UndefineRemovesFilesAndSecondUndefineFails) {
  ASSERT_TRUE(Define(Xml(kU1, Ceph("c"))));
  ASSERT_TRUE(Set(kU1, "v"));
  ASSERT_TRUE(driver_->Undefine(rw_, U(kU1)));
  EXPECT_FALSE(FileExists(XmlPath(kU1)));
  EXPECT_FALSE(FileExists(ValuePath(kU1)));
  EXPECT_FALSE(driver_->LookupByUsage(2, "c"));
  auto again = driver_->Undefine(rw_, U(kU1));
  EXPECT_EQ(again.error().message(),
            std::string("Secret not found: no secret with matching uuid '") + kU1 + "'");
  EXPECT_EQ(again.error().code(), ErrorCode::kNoSecret);
  // The usage id is free again.
  EXPECT_TRUE(Define(Xml(kU2, Ceph("c"))));
}

TEST_F(SecretDriverTest, Lookups) {
  ASSERT_TRUE(Define(Xml(kU1, Volume("/v/a.img"))));
  ASSERT_TRUE(Define(Xml(kU2)));
  EXPECT_EQ(driver_->LookupByUsage(1, "/v/a.img")->uuid, U(kU1));
  EXPECT_EQ(driver_->LookupByUsage(1, "/v/b.img").error().message(),
            "Secret not found: no secret with matching usage '/v/b.img'");
  EXPECT_FALSE(driver_->LookupByUsage(0, ""));
  EXPECT_FALSE(driver_->LookupByUsage(99, "/v/a.img"));
  EXPECT_FALSE(driver_->LookupByUsage(-1, "/v/a.img"));
  auto none = driver_->LookupByUuid(U(kU2));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->usage_type, UsageType::kNone);
  EXPECT_EQ(none->usage_id, "");
}

TEST_F(SecretDriverTest, ListFlagsMatchLibvirt) {
  // 4 persistent secrets, 1 private (the spec's verified combinations), plus 1 ephemeral.
  ASSERT_TRUE(Define(Xml("00000000-0000-0000-0000-000000000001", "", true)));
  ASSERT_TRUE(Define(Xml("00000000-0000-0000-0000-000000000002")));
  ASSERT_TRUE(Define(Xml("00000000-0000-0000-0000-000000000003")));
  ASSERT_TRUE(Define(Xml("00000000-0000-0000-0000-000000000004")));
  auto count = [&](unsigned f) { return driver_->ListAll(f)->size(); };
  EXPECT_EQ(count(kListEphemeral), 0u);
  EXPECT_EQ(count(kListNoEphemeral), 4u);
  EXPECT_EQ(count(kListPrivate), 1u);
  EXPECT_EQ(count(kListNoPrivate), 3u);
  EXPECT_EQ(count(kListPrivate | kListNoPrivate), 4u);
  EXPECT_EQ(count(kListEphemeral | kListPrivate), 0u);
  EXPECT_EQ(count(kListNoEphemeral | kListPrivate), 1u);
  ASSERT_TRUE(Define(Xml("00000000-0000-0000-0000-000000000005", "", true, true)));
  EXPECT_EQ(count(0), 5u);
  EXPECT_EQ(count(kListEphemeral), 1u);
  EXPECT_EQ(count(kListEphemeral | kListNoEphemeral), 5u);
  EXPECT_EQ(count(kListEphemeral | kListPrivate), 1u);
  EXPECT_EQ(driver_->ListAll(0x400).error().message(),
            "unsupported flags (0x400) in function secretConnectListAllSecrets");
  EXPECT_EQ(driver_->NumOfSecrets(), 5);
  EXPECT_EQ(driver_->ListUuids(3)->size(), 3u);
  EXPECT_EQ(driver_->ListUuids(100)->size(), 5u);
  EXPECT_FALSE(driver_->ListUuids(-1));
}

TEST_F(SecretDriverTest, DefineFlagsAndParseErrorsChangeNothing) {
  EXPECT_EQ(driver_->DefineXml(rw_, Xml(kU1), 2).error().message(),
            "unsupported flags (0x2) in function secretDefineXML");
  auto bad = Define("<secret><uuid>zz</uuid></secret>");
  EXPECT_EQ(bad.error().message(), "internal error: malformed uuid element");
  EXPECT_EQ(driver_->NumOfSecrets(), 0);
}

TEST_F(SecretDriverTest, EventsFireOnSuccessOnly) {
  std::vector<std::string> seen;
  driver_->events().Register(SecretEventId::kLifecycle, std::nullopt, [&](const SecretEvent& e) {
    seen.push_back(std::string(e.lifecycle == LifecycleEvent::kDefined ? "defined " : "undefined ") +
                   e.secret.uuid.ToString());
  });
  driver_->events().Register(SecretEventId::kValueChanged, std::nullopt, [&](const SecretEvent& e) {
    seen.push_back("value " + e.secret.uuid.ToString());
  });
  ASSERT_TRUE(Define(Xml(kU1, Ceph("c"))));
  ASSERT_TRUE(Define(Xml(kU1, Ceph("c"))));   // identical redefine still fires
  ASSERT_FALSE(Define(Xml(kU2, Ceph("c"))));  // failure: no event
  ASSERT_TRUE(Set(kU1, "a"));
  ASSERT_TRUE(Set(kU1, "a"));
  ASSERT_FALSE(Set(kU1, ""));
  ASSERT_TRUE(driver_->Undefine(rw_, U(kU1)));
  ASSERT_FALSE(driver_->Undefine(rw_, U(kU1)));
  std::string u = kU1;
  EXPECT_EQ(seen, (std::vector<std::string>{"defined " + u, "defined " + u, "value " + u, "value " + u,
                                            "undefined " + u}));
}

TEST_F(SecretDriverTest, ConsumerLookups) {
  ASSERT_TRUE(Define(Xml(kU1, Volume("/img/a"), /*priv=*/true)));
  ASSERT_TRUE(Set(kU1, "luks"));
  ASSERT_TRUE(Define(Xml(kU2)));
  ASSERT_TRUE(Set(kU2, "none"));
  EXPECT_EQ(driver_->GetValueForConsumer(U(kU1), UsageType::kVolume)->AsStringView(), "luks");
  EXPECT_EQ(driver_->GetValueForConsumer(UsageType::kVolume, "/img/a")->AsStringView(), "luks");
  EXPECT_EQ(driver_->GetValueForConsumer(U(kU2), UsageType::kVolume)->AsStringView(), "none");
  auto wrong = driver_->GetValueForConsumer(U(kU1), UsageType::kCeph);
  EXPECT_EQ(wrong.error().message(), std::string("invalid argument: secret with uuid ") + kU1 +
                                         " is of type 'volume' not expected 'ceph' type");
}

TEST_F(SecretDriverTest, LoadSkipsBadFilesAndKeepsTheRest) {
  ASSERT_TRUE(Define(Xml(kU1, Ceph("c"))));
  ASSERT_TRUE(Set(kU1, "good"));
  driver_.reset();
  WriteFileRaw(ConfigDir() + "/" + kU2 + ".xml", "garbage");
  WriteFileRaw(ConfigDir() + "/not-a-uuid.xml", Xml(kU3));
  WriteFileRaw(ConfigDir() + "/" + std::string(kU3) + ".xml.new", Xml(kU3));
  log_.clear();
  Reopen();
  EXPECT_EQ(driver_->NumOfSecrets(), 1);
  EXPECT_EQ(Get(kU1), "good");
  ASSERT_EQ(log_.size(), 2u);
  std::string joined = log_[0] + log_[1];
  EXPECT_NE(joined.find("Error reading secret: "), std::string::npos);
  // libvirt prints "<uuid>" literally here (checked against virsh 9.0).
  EXPECT_NE(joined.find("internal error: <uuid> does not match secret file name 'not-a-uuid.xml'"),
            std::string::npos);
  EXPECT_EQ(joined.find("good"), std::string::npos);  // never a value in a log line
}

TEST_F(SecretDriverTest, LoadUsageConflictFirstWinsOthersSurvive) {
  driver_.reset();
  std::string xml1 = std::string("<secret ephemeral='no' private='no'>\n  <uuid>") + kU1 +
                     "</uuid>\n  <usage type='ceph'>\n    <name>c</name>\n  </usage>\n</secret>\n";
  std::string xml2 = xml1;
  xml2.replace(xml2.find(kU1), 36, kU2);
  std::filesystem::create_directories(ConfigDir());
  WriteFileRaw(XmlPath(kU1), xml1);
  WriteFileRaw(XmlPath(kU2), xml2);
  Reopen();
  EXPECT_EQ(driver_->NumOfSecrets(), 1);
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_NE(log_[0].find("already defined for use with c"), std::string::npos);
}

TEST_F(SecretDriverTest, LoadUnreadableValueSkipsWholeSecret) {
  ASSERT_TRUE(Define(Xml(kU1)));
  ASSERT_TRUE(Define(Xml(kU2)));
  driver_.reset();
  std::filesystem::create_directory(ValuePath(kU1));
  Reopen();
  EXPECT_FALSE(driver_->LookupByUuid(U(kU1)));
  EXPECT_TRUE(driver_->LookupByUuid(U(kU2)));
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_NE(log_[0].find("Error reading secret: "), std::string::npos);
}

TEST_F(SecretDriverTest, LoadHonoursEphemeralOnDiskAndLenientBase64) {
  driver_.reset();
  std::filesystem::create_directories(ConfigDir());
  WriteFileRaw(XmlPath(kU1), Xml(kU1, "", false, true));
  WriteFileRaw(ValuePath(kU1), "b3Bl\nbiBz!!ZXNhbWU=\n");
  Reopen();
  EXPECT_EQ(driver_->ListAll(kListEphemeral)->size(), 1u);
  EXPECT_EQ(Get(kU1), "open sesame");
}

TEST_F(SecretDriverTest, ReloadPicksUpChangedFilesButKeepsVanished) {
  ASSERT_TRUE(Define(Xml(kU1, Ceph("c"))));
  ASSERT_TRUE(Set(kU1, "one"));
  ASSERT_TRUE(Define(Xml(kU2)));
  WriteFileRaw(ValuePath(kU1), "dHdv");  // "two"
  std::filesystem::remove(XmlPath(kU2));
  WriteFileRaw(XmlPath(kU3), Xml(kU3, Ceph("d")));
  driver_->Reload();
  EXPECT_EQ(Get(kU1), "two");
  EXPECT_TRUE(driver_->LookupByUuid(U(kU2)));
  EXPECT_TRUE(driver_->LookupByUsage(2, "d"));
}

TEST_F(SecretDriverTest, SecondInstanceOnSameRootFails) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto second = SecretDriver::Open(StorePaths::ForRoot(dir_.path()));
    bool ok = !second &&
              second.error().message() == "Failed to acquire pid file '" + dir_.path() +
                                              "/run/secrets/driver.pid': Resource temporarily unavailable";
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// "n<i>", appended rather than "n" + std::to_string(i) (GCC 12's false -Wrestrict in Release,
// see src/base/strings.h).
std::string UsageName(int i) {
  std::string name = "n";
  name.append(std::to_string(i));
  return name;
}

TEST_F(SecretDriverTest, LookupsStayFastAtScale) {
  // Not a timing test: checks the indexes are used, by doing 20 000 usage lookups among 5 000
  // secrets, which a linear scan would make 10^8 comparisons.
  for (int i = 0; i < 5000; ++i) {
    char u[37];
    std::snprintf(u, sizeof u, "%08x-0000-4000-8000-000000000000", i);
    ASSERT_TRUE(driver_->DefineXml(rw_, Xml(u, Ceph(UsageName(i)), false, true), 0));
  }
  for (int i = 0; i < 20000; ++i) {
    ASSERT_TRUE(driver_->LookupByUsage(2, UsageName(i % 5000)));
  }
}

TEST_F(SecretDriverTest, DeferredValueSurvivesGoingEphemeralAfterRestart) {
  ASSERT_TRUE(Define(Xml(kU1)));
  ASSERT_TRUE(Set(kU1, "kept"));
  Reopen();  // the value is now only on disk, not yet read
  ASSERT_TRUE(Define(Xml(kU1, "", false, /*eph=*/true)));
  EXPECT_FALSE(FileExists(ValuePath(kU1)));
  EXPECT_EQ(Get(kU1), "kept");
}

TEST_F(SecretDriverTest, DeferredValueIsReadOnFirstUseOnly) {
  ASSERT_TRUE(Define(Xml(kU1)));
  ASSERT_TRUE(Set(kU1, "first"));
  Reopen();
  EXPECT_EQ(Get(kU1), "first");
  WriteFileRaw(ValuePath(kU1), "c2Vjb25k");  // "second", written behind the driver's back
  EXPECT_EQ(Get(kU1), "first");              // already in memory: not re-read
  driver_->Reload();
  EXPECT_EQ(Get(kU1), "second");
}

// Fails every open of a value file, as an I/O error or a permission problem would.
class UnreadableValuesEnv : public EnvWrapper {
 public:
  UnreadableValuesEnv() : EnvWrapper(Env::Default()) {}
  IoResult<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    if (path.ends_with(".base64")) return std::unexpected(IoError{IoOp::kOpen, EACCES});
    return EnvWrapper::NewReadableFile(path);
  }
};

TEST_F(SecretDriverTest, UnreadableDeferredValueFailsTheCallNotTheLoad) {
  ASSERT_TRUE(Define(Xml(kU1)));
  ASSERT_TRUE(Set(kU1, "v"));
  driver_.reset();
  UnreadableValuesEnv env;
  auto d = SecretDriver::Open(StorePaths::ForRoot(dir_.path()), &env);
  ASSERT_TRUE(d);
  EXPECT_TRUE((*d)->LookupByUuid(U(kU1)));
  auto v = (*d)->GetValue(rw_, U(kU1), 0);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message(), "cannot open '" + ValuePath(kU1) + "': Permission denied");
  // A private secret's value is refused before any read is attempted.
  EXPECT_EQ((*d)->GetXmlDesc(rw_, U(kU1), 0).has_value(), true);
}

TEST_F(SecretDriverTest, OrphanValueFileIsNeverAdoptedByANewDefine) {
  // A crash between the two unlinks of an undefine leaves the value file without its XML.
  ASSERT_TRUE(Define(Xml(kU1)));
  ASSERT_TRUE(Set(kU1, "old"));
  driver_.reset();
  std::filesystem::remove(XmlPath(kU1));
  Reopen();
  ASSERT_TRUE(Define(Xml(kU1)));
  EXPECT_FALSE(FileExists(ValuePath(kU1)));
  EXPECT_EQ(Get(kU1), std::string("ERR:Secret not found: secret '") + kU1 + "' does not have a value");
  Reopen();
  EXPECT_EQ(Get(kU1), std::string("ERR:Secret not found: secret '") + kU1 + "' does not have a value");
  // Same for an ephemeral secret made persistent without a value.
  ASSERT_TRUE(driver_->Undefine(rw_, U(kU1)));
  WriteFileRaw(ValuePath(kU1), "b2xk");
  ASSERT_TRUE(Define(Xml(kU1, "", false, /*eph=*/true)));
  ASSERT_TRUE(Define(Xml(kU1)));
  EXPECT_FALSE(FileExists(ValuePath(kU1)));
}

}  // namespace
}  // namespace vsecret
