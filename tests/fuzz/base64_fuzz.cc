// Fuzzes the lenient base64 decoder (value files, virsh input) and checks the encoder against it:
// decoding an encoding must give the bytes back, whatever they are.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/base64.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  vsecret::SecretBytes decoded = vsecret::Base64DecodeLenient(input);
  // Every 4 alphabet characters give at most 3 bytes, so output can never outgrow input.
  FUZZ_CHECK(decoded.size() <= size);

  const std::string encoded = vsecret::Base64Encode(input);
  FUZZ_CHECK(encoded.size() == (size + 2) / 3 * 4);
  vsecret::SecretBytes back = vsecret::Base64DecodeLenient(encoded);
  FUZZ_CHECK(back.AsStringView() == input);
  return 0;
}
