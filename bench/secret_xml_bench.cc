// Cost of reading one secret definition: start-up parses every <uuid>.xml of the store, so the
// canonical document (what FormatSecretXml writes) is the case that matters.
#include <benchmark/benchmark.h>

#include <string>

#include "conf/secret_xml.h"

namespace vsecret::secret_xml_internal {
// Defined in secret_xml.cc; deliberately not in its header.
Result<SecretDef> ParseSecretXmlWithLibxml(std::string_view xml, unsigned flags,
                                           std::string_view source_name);
}  // namespace vsecret::secret_xml_internal

namespace {

const std::string kCanonical =
    "<secret ephemeral='no' private='yes'>\n"
    "  <uuid>6dac920f-4046-4dd6-8a47-a35db53cc035</uuid>\n"
    "  <description>LUKS passphrase for disk A &amp; B</description>\n"
    "  <usage type='volume'>\n"
    "    <volume>/var/lib/libvirt/images/a.img</volume>\n"
    "  </usage>\n"
    "</secret>\n";
const std::string kPath = "/etc/libvirt/secrets/6dac920f-4046-4dd6-8a47-a35db53cc035.xml";

void BM_SecretXmlParseCanonical(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(vsecret::ParseSecretXml(kCanonical, 0, kPath));
}
BENCHMARK(BM_SecretXmlParseCanonical);

void BM_SecretXmlParseLibxml(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(vsecret::secret_xml_internal::ParseSecretXmlWithLibxml(kCanonical, 0, kPath));
  }
}
BENCHMARK(BM_SecretXmlParseLibxml);

void BM_SecretXmlParseValidate(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(vsecret::ParseSecretXml(kCanonical, vsecret::kDefineValidate));
  }
}
BENCHMARK(BM_SecretXmlParseValidate);

void BM_SecretXmlFormat(benchmark::State& state) {
  const vsecret::SecretDef def = *vsecret::ParseSecretXml(kCanonical, 0);
  for (auto _ : state) benchmark::DoNotOptimize(vsecret::FormatSecretXml(def));
}
BENCHMARK(BM_SecretXmlFormat);

}  // namespace
