// Secret XML parse/format against libvirt 9.0's recorded behaviour (tests/data/secretxml, whose
// expectations come from the real libvirt via regen_expected.py), plus the equivalence of the
// canonical fast path with the libxml2 path.
#include "conf/secret_xml.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "conf/secret_xml_internal.h"
#include "vsecret/compat.h"
#include "vsecret_schemas.h"

namespace vsecret {
namespace {

namespace fs = std::filesystem;
using secret_xml_internal::ParseCanonicalSecretXml;
using secret_xml_internal::ParseSecretXmlWithLibxml;

const fs::path kCorpus = fs::path(VSECRET_TEST_DATA_DIR) / "secretxml";
constexpr std::string_view kApi = "(definition_of_secret)";
// The recorded messages name libvirt's installed schema; ours names vsecret's.
constexpr std::string_view kLibvirtSchema = "/usr/share/libvirt/schemas/secret.rng";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<fs::path> CorpusFiles(const char* dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kCorpus / dir)) {
    if (entry.path().extension() == ".xml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string TestName(const testing::TestParamInfo<fs::path>& param) {
  std::string name = param.param.stem().string();
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return name;
}

bool IsVersion4(const Uuid& uuid) { return (uuid.bytes()[6] >> 4) == 4 && (uuid.bytes()[8] >> 6) == 2; }

// Checks one result against an expectation file: "ok\n<output>" or "error CODE DOMAIN\n<message>".
void ExpectMatches(const Result<SecretDef>& got, const std::string& expect, const std::string& what) {
  SCOPED_TRACE(what);
  const std::size_t eol = expect.find('\n');
  ASSERT_NE(eol, std::string::npos);
  const std::string head = expect.substr(0, eol);
  const std::string body = expect.substr(eol + 1);
  if (head == "ok") {
    ASSERT_TRUE(got.has_value()) << got.error().message();
    std::string want = body;
    if (const std::size_t at = want.find("@UUID@"); at != std::string::npos) {
      EXPECT_TRUE(IsVersion4(got->uuid)) << got->uuid.ToString();
      want.replace(at, 6, got->uuid.ToString());
    }
    EXPECT_EQ(FormatSecretXml(*got), want);
    return;
  }
  int code = 0;
  int domain = 0;
  ASSERT_EQ(std::sscanf(head.c_str(), "error %d %d", &code, &domain), 2) << head;
  ASSERT_FALSE(got.has_value()) << FormatSecretXml(*got);
  std::string want = body;
  if (const std::size_t at = want.find(kLibvirtSchema); at != std::string::npos) {
    want.replace(at, kLibvirtSchema.size(), std::string(schemas::kInstallDir) + "/secret.rng");
  }
  EXPECT_EQ(got.error().message(), want);
  EXPECT_EQ(static_cast<int>(got.error().code()), code);
  EXPECT_EQ(static_cast<int>(got.error().domain()), domain);
}

// ---------------------------------------------------------------------------------------------
// Canonical documents: they must come back byte for byte, through either parser.

class SecretXmlRoundTrip : public testing::TestWithParam<fs::path> {};

TEST_P(SecretXmlRoundTrip, FormatsBackIdentically) {
  const std::string xml = ReadFile(GetParam());
  const Result<SecretDef> def = ParseSecretXml(xml, 0);
  ASSERT_TRUE(def.has_value()) << def.error().message();
  EXPECT_EQ(FormatSecretXml(*def), xml);

  const std::optional<SecretDef> fast = ParseCanonicalSecretXml(xml);
  ASSERT_TRUE(fast.has_value()) << "the fast path should recognise its own output";
  const Result<SecretDef> slow = ParseSecretXmlWithLibxml(xml, 0, kApi);
  ASSERT_TRUE(slow.has_value()) << slow.error().message();
  EXPECT_EQ(*fast, *slow);
}

TEST_P(SecretXmlRoundTrip, ValidateFlagGivesTheSameDefinition) {
  const std::string xml = ReadFile(GetParam());
  const Result<SecretDef> plain = ParseSecretXml(xml, 0);
  const Result<SecretDef> validated = ParseSecretXml(xml, kDefineValidate);
  ASSERT_TRUE(plain.has_value());
  // The canonical corpus is also schema-valid (it has no relative volume path, no slash in a name).
  ASSERT_TRUE(validated.has_value()) << validated.error().message();
  EXPECT_EQ(*plain, *validated);
}

INSTANTIATE_TEST_SUITE_P(Corpus, SecretXmlRoundTrip, testing::ValuesIn(CorpusFiles("roundtrip")), TestName);

// ---------------------------------------------------------------------------------------------
// Arbitrary documents, with and without schema validation, against libvirt's recorded verdicts.

class SecretXmlCase : public testing::TestWithParam<fs::path> {};

// NAME.expect12 / NAME.vexpect12: libvirt 12.x's verdicts, the default.
TEST_P(SecretXmlCase, MatchesLibvirt12) {
  const std::string xml = ReadFile(GetParam());
  fs::path expect = GetParam();
  // libxml2 2.14's own buffering decides the line and context of these two
  // (tests/data/secretxml/README.md), which libxml2 2.9 cannot reproduce: the verdict, error code,
  // domain and 12.x message form must still match.
  const std::string stem = GetParam().stem().string();
  if (stem == "malformed-entity-content" || stem == "malformed-long-line") {
    for (const auto& [flags, ext] : {std::pair{0u, ".expect12"}, std::pair{kDefineValidate, ".vexpect12"}}) {
      const std::string want = ReadFile(fs::path(expect).replace_extension(ext));
      int code = 0;
      int domain = 0;
      ASSERT_EQ(std::sscanf(want.c_str(), "error %d %d", &code, &domain), 2) << want;
      const Result<SecretDef> got = ParseSecretXml(xml, flags);
      ASSERT_FALSE(got.has_value());
      EXPECT_EQ(static_cast<int>(got.error().code()), code);
      EXPECT_EQ(static_cast<int>(got.error().domain()), domain);
      EXPECT_TRUE(got.error().message().starts_with("at line ")) << got.error().message();
    }
    return;
  }
  ExpectMatches(ParseSecretXml(xml, 0), ReadFile(expect.replace_extension(".expect12")), "no flags");
  ExpectMatches(ParseSecretXml(xml, kDefineValidate), ReadFile(expect.replace_extension(".vexpect12")),
                "kDefineValidate");
}

// NAME.expect / NAME.vexpect: libvirt 9.0's, under the 9.0 compatibility setting.
TEST_P(SecretXmlCase, MatchesLibvirt9InCompatMode) {
  ScopedLibvirtBehaviour compat(LibvirtBehaviour::kLibvirt9);
  const std::string xml = ReadFile(GetParam());
  fs::path expect = GetParam();
  ExpectMatches(ParseSecretXml(xml, 0), ReadFile(expect.replace_extension(".expect")), "no flags");
  ExpectMatches(ParseSecretXml(xml, kDefineValidate), ReadFile(expect.replace_extension(".vexpect")),
                "kDefineValidate");
}

TEST_P(SecretXmlCase, FastPathNeverDisagrees) {
  const std::string xml = ReadFile(GetParam());
  if (const std::optional<SecretDef> fast = ParseCanonicalSecretXml(xml)) {
    const Result<SecretDef> slow = ParseSecretXmlWithLibxml(xml, 0, kApi);
    ASSERT_TRUE(slow.has_value()) << slow.error().message();
    EXPECT_EQ(*fast, *slow);
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, SecretXmlCase, testing::ValuesIn(CorpusFiles("cases")), TestName);

// ---------------------------------------------------------------------------------------------
// Differential test of the fast path: whenever it accepts a document, libxml2 must accept it too
// and yield the same definition. Fixed seeds keep failures reproducible.

// Text pieces that exercise escaping, whitespace and UTF-8, all of which survive a round trip.
// clang-format off
const std::vector<std::string> kCleanPieces = {
    "a", "Z", "0", " ", "  ", "\t", "\n", "<", ">", "&", "\"", "'", "]]", "/", ";", "-", "\x7f",
    "\xc3\xa9", "\xe9\x8d\xb5", "\xf0\x9f\x94\x91", "\xc2\x80", "\xed\x9f\xbf", "\xee\x80\x80",
    "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf"};
// clang-format on
// Pieces that do not survive: CR (normalised by XML), controls (dropped by the writer), and
// bytes that are not UTF-8 or not XML characters (libxml2 reports an error).
const std::vector<std::string> kDirtyPieces = {"\r",           "\x01",         "\x1f",
                                               "\xff",         "\xc0\xaf",     "\xed\xa0\x80",
                                               "\xef\xbf\xbe", "\xef\xbf\xbf", "\xf4\x90\x80\x80",
                                               "\xc3",         "\x80"};

std::string RandomText(std::mt19937& rng, bool clean) {
  const std::size_t choices = kCleanPieces.size() + (clean ? 0 : kDirtyPieces.size());
  std::string out;
  const int n = std::uniform_int_distribution<int>(1, 8)(rng);
  for (int i = 0; i < n; ++i) {
    const std::size_t k = std::uniform_int_distribution<std::size_t>(0, choices - 1)(rng);
    out += k < kCleanPieces.size() ? kCleanPieces[k] : kDirtyPieces[k - kCleanPieces.size()];
  }
  return out;
}

SecretDef RandomDef(std::mt19937& rng, bool clean) {
  SecretDef def;
  std::array<std::uint8_t, Uuid::kSize> bytes{};
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  def.uuid = Uuid(bytes);
  def.ephemeral = rng() % 2 == 0;
  def.is_private = rng() % 2 == 0;
  if (rng() % 3 != 0) def.description = RandomText(rng, clean);
  def.usage_type = static_cast<UsageType>(rng() % kUsageTypeLast);
  if (def.usage_type != UsageType::kNone) def.usage_id = RandomText(rng, clean);
  return def;
}

// Fast path accepted => libxml2 agrees. Returns whether the fast path accepted.
bool CheckAgreement(const std::string& xml) {
  const std::optional<SecretDef> fast = ParseCanonicalSecretXml(xml);
  if (!fast) return false;
  const Result<SecretDef> slow = ParseSecretXmlWithLibxml(xml, 0, kApi);
  EXPECT_TRUE(slow.has_value()) << testing::PrintToString(xml) << "\n" << slow.error().message();
  if (slow.has_value()) {
    EXPECT_EQ(*fast, *slow) << testing::PrintToString(xml);
  }
  return true;
}

TEST(SecretXmlFastPath, AcceptsEveryCleanCanonicalDocument) {
  std::mt19937 rng(20240601);
  for (int i = 0; i < 3000; ++i) {
    const SecretDef def = RandomDef(rng, true);
    const std::string xml = FormatSecretXml(def);
    ASSERT_TRUE(CheckAgreement(xml)) << testing::PrintToString(xml);
    EXPECT_EQ(*ParseCanonicalSecretXml(xml), def);
  }
}

TEST(SecretXmlFastPath, AgreesWithLibxmlOnArbitraryText) {
  std::mt19937 rng(7);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) accepted += CheckAgreement(FormatSecretXml(RandomDef(rng, false)));
  RecordProperty("fast_path_accepted", accepted);
  EXPECT_GT(accepted, 300);
}

std::string Mutate(std::string doc, std::mt19937& rng) {
  // clang-format off
  static const std::vector<std::string> kInserts = {
      "<", ">", "&", "'", "\"", "/", " ", "\n", "\r", "\t", std::string(1, '\0'), "-", "a", "F", "&lt;", "&gt",
      "&#13;", "&#x41;", "&bogus;", "<!--x-->", "<![CDATA[y]]>", "<?p?>", "<b/>", "</", "yes", "no", "\xc3\xa9",
      "\xff", "\xef\xbf\xbe", "\xc2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "&amp;", "&apos;",
      "&quot;", "]]>", "\x7f", "\x1f", "<uuid>6dac920f-4046-4dd6-8a47-a35db53cc035</uuid>",
      "  <description>d</description>\n"};
  // clang-format on
  const int edits = rng() % 2 == 0 ? 1 : std::uniform_int_distribution<int>(2, 3)(rng);
  for (int e = 0; e < edits; ++e) {
    std::size_t at = doc.empty() ? 0 : std::uniform_int_distribution<std::size_t>(0, doc.size() - 1)(rng);
    // Half of the edits land inside element text, where the recogniser has the most rules.
    if (const std::size_t open = doc.find("n>", at); rng() % 2 == 0 && open != std::string::npos) {
      const std::size_t close = doc.find('<', open);
      at = open + 2 + (close == std::string::npos ? 0 : rng() % (close - open - 1));
    }
    const std::string& piece =
        kInserts[std::uniform_int_distribution<std::size_t>(0, kInserts.size() - 1)(rng)];
    switch (rng() % 4) {
      case 0:  // replace one byte
        if (!doc.empty()) doc.replace(at, 1, piece);
        break;
      case 1:  // insert
        doc.insert(at, piece);
        break;
      case 2:  // delete a short run
        doc.erase(at, std::uniform_int_distribution<std::size_t>(1, 6)(rng));
        break;
      default:  // duplicate a short run
        doc.insert(at, doc.substr(at, std::uniform_int_distribution<std::size_t>(1, 12)(rng)));
        break;
    }
  }
  return doc;
}

TEST(SecretXmlFastPath, AgreesWithLibxmlOnMutatedDocuments) {
  // Mostly canonical seeds, so that many mutants stay close enough for the fast path to engage.
  std::mt19937 rng(42);
  std::vector<std::string> seeds;
  for (const char* dir : {"roundtrip", "cases"}) {
    for (const fs::path& path : CorpusFiles(dir)) seeds.push_back(ReadFile(path));
  }
  for (int i = 0; i < 300; ++i) seeds.push_back(FormatSecretXml(RandomDef(rng, true)));
  int accepted = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::string& seed = seeds[std::uniform_int_distribution<std::size_t>(0, seeds.size() - 1)(rng)];
    accepted += CheckAgreement(Mutate(seed, rng));
  }
  RecordProperty("fast_path_accepted", accepted);
  EXPECT_GT(accepted, 1000);
}

TEST(SecretXmlCorpus, IsNotEmpty) {
  EXPECT_GE(CorpusFiles("roundtrip").size(), 10u);
  EXPECT_GE(CorpusFiles("cases").size(), 100u);
}

// ---------------------------------------------------------------------------------------------
// Details the corpus cannot express.

TEST(SecretXmlErrors, FilePathNamesTheDocument) {
  const std::string path = "/etc/libvirt/secrets/0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f.xml";
  const Result<SecretDef> got = ParseSecretXml("<secret>\n  <uuid>x</uid>\n</secret>\n", 0, path);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(
      got.error().message(),
      path + ":2: Opening and ending tag mismatch: uuid line 2 and uid\n  <uuid>x</uid>\n---------------^");
  EXPECT_EQ(got.error().code(), ErrorCode::kXmlDetail);
  EXPECT_EQ(got.error().domain(), ErrorDomain::kSecret);
}

TEST(SecretXmlErrors, NulEndsTheDocumentFromEitherSource) {
  // API strings end at the first NUL (C strings); libxml2 reading a file also stops there
  // (checked against libvirt 9.0 loading such files from its secrets directory).
  const std::string tail("<secret/>\0junk", 14);
  EXPECT_TRUE(ParseSecretXml(tail, 0).has_value());
  EXPECT_TRUE(ParseSecretXml(tail, 0, "/x/s.xml").has_value());
  const std::string inside("<secret>\0</secret>", 18);
  const Result<SecretDef> from_file = ParseSecretXml(inside, 0, "/x/s.xml");
  ASSERT_FALSE(from_file.has_value());
  EXPECT_EQ(from_file.error().message(),
            "/x/s.xml:1: Premature end of data in tag secret line 1\n<secret>\n--------^");
}

TEST(SecretXmlErrors, LibxmlPrintsNothingOnItsOwn) {
  testing::internal::CaptureStderr();
  EXPECT_FALSE(ParseSecretXml("<secret><uuid></secret>", 0).has_value());
  EXPECT_FALSE(ParseSecretXml("<secret><bogus/></secret>", kDefineValidate).has_value());
  EXPECT_FALSE(ParseSecretXml("<!DOCTYPE s [<!ENTITY e '<a>'>]><secret>&e;</secret>", 0).has_value());
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(SecretXmlErrors, ConcurrentParsesKeepTheirOwnErrors) {
  const std::vector<std::pair<std::string, std::string>> docs = {
      {"<secret><uuid>x</uid></secret>", "uuid line 1 and uid"},
      {"<secret><description>x</descr></secret>", "description line 1 and descr"},
      {"<secret ephemeral='maybe'/>", "invalid value of 'ephemeral'"},
      {"<secret><bogus/></secret>", "has extra content: bogus"},
  };
  std::vector<std::thread> threads;
  std::vector<int> failures(docs.size(), 0);
  for (std::size_t t = 0; t < docs.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const Result<SecretDef> got = ParseSecretXml(docs[t].first, t == 3 ? kDefineValidate : 0);
        if (got.has_value() || got.error().message().find(docs[t].second) == std::string::npos) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (std::size_t t = 0; t < docs.size(); ++t) EXPECT_EQ(failures[t], 0) << docs[t].first;
}

TEST(SecretXmlFormat, MinimalDocumentHasThreeLines) {
  SecretDef def;
  def.uuid = *Uuid::Parse("6dac920f-4046-4dd6-8a47-a35db53cc035");
  EXPECT_EQ(FormatSecretXml(def),
            "<secret ephemeral='no' private='no'>\n  <uuid>6dac920f-4046-4dd6-8a47-a35db53cc035</uuid>\n"
            "</secret>\n");
}

TEST(SecretXmlFormat, DropsTheControlCharactersLibvirtDrops) {
  SecretDef def;
  def.description = "a\x01\x08\tb\x0b\x0c\rc\x0e\x19\x1a\x1f\n";
  EXPECT_NE(FormatSecretXml(def).find(std::string("<description>a\tb\rc\x1a\x1f\n</description>")),
            std::string::npos);
}

TEST(SecretXmlFormat, UsageWithoutIdPrintsEmptyUsage) {
  SecretDef def;
  def.usage_type = UsageType::kCeph;
  EXPECT_NE(FormatSecretXml(def).find("  <usage type='ceph'>\n  </usage>\n</secret>\n"), std::string::npos);
  def.usage_type = UsageType::kNone;
  def.usage_id = "ignored";
  EXPECT_EQ(FormatSecretXml(def).find("usage"), std::string::npos);
}

TEST(SecretXmlParse, MissingUuidIsRandomVersion4) {
  const Result<SecretDef> a = ParseSecretXml("<secret/>", 0);
  const Result<SecretDef> b = ParseSecretXml("<secret><uuid></uuid></secret>", 0);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_TRUE(IsVersion4(a->uuid));
  EXPECT_TRUE(IsVersion4(b->uuid));
  EXPECT_NE(a->uuid, b->uuid);
}

TEST(SecretXmlParse, ValidateNeverTakesTheFastPath) {
  // Canonical, so the fast path would accept it, but the schema rejects a relative path.
  const std::string xml =
      "<secret ephemeral='no' private='no'>\n  <uuid>6dac920f-4046-4dd6-8a47-a35db53cc035</uuid>\n"
      "  <usage type='volume'>\n    <volume>relative</volume>\n  </usage>\n</secret>\n";
  ASSERT_TRUE(ParseCanonicalSecretXml(xml).has_value());
  EXPECT_TRUE(ParseSecretXml(xml, 0).has_value());
  const Result<SecretDef> validated = ParseSecretXml(xml, kDefineValidate);
  ASSERT_FALSE(validated.has_value());
  EXPECT_EQ(validated.error().code(), ErrorCode::kXmlInvalidSchema);
}

}  // namespace
}  // namespace vsecret
