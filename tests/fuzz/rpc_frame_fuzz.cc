// Fuzzes what vsecretd and the remote client read from a socket: the frame splitter, the
// header decoder and every payload decoder. A payload that decodes must re-encode to bytes that
// decode and re-encode identically (encode/decode disagreeing would corrupt values in transit).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "fuzz_check.h"
#include "rpc/frame.h"
#include "rpc/remote_messages.h"
#include "rpc/xdr.h"

namespace {

using vsecret::rpc::WireBuffer;

template <typename T>
void RoundTrip(std::span<const std::uint8_t> payload) {
  auto v = vsecret::rpc::DecodePayload<T>(payload);
  if (!v) return;
  WireBuffer first;
  vsecret::rpc::XdrEncoder enc(first);
  Encode(enc, *v);
  auto again = vsecret::rpc::DecodePayload<T>(first);
  FUZZ_CHECK(again.has_value());
  WireBuffer second;
  vsecret::rpc::XdrEncoder enc2(second);
  Encode(enc2, *again);
  FUZZ_CHECK(first == second);
}

void DecodeEverything(std::span<const std::uint8_t> payload) {
  using namespace vsecret::rpc;
  RoundTrip<RemoteError>(payload);
  RoundTrip<IntValue>(payload);
  RoundTrip<HyperValue>(payload);
  RoundTrip<StringValue>(payload);
  RoundTrip<AuthListRet>(payload);
  RoundTrip<OpenArgs>(payload);
  RoundTrip<ListSecretsRet>(payload);
  RoundTrip<LookupByUuidArgs>(payload);
  RoundTrip<SecretHandle>(payload);
  RoundTrip<DefineXmlArgs>(payload);
  RoundTrip<SecretFlagsArgs>(payload);
  RoundTrip<SetValueArgs>(payload);
  RoundTrip<GetValueRet>(payload);
  RoundTrip<LookupByUsageArgs>(payload);
  RoundTrip<ListAllArgs>(payload);
  RoundTrip<ListAllRet>(payload);
  RoundTrip<EventRegisterArgs>(payload);
  RoundTrip<LifecycleMsg>(payload);
  RoundTrip<ValueChangedMsg>(payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::span<const std::uint8_t> stream(data + 1, size - 1);
  // First byte 16k+1: the rest is a byte stream fed to a FrameReader; anything else: the rest
  // is one message (header and payload), decoded directly. Every FrameReader starts with a
  // 64 KiB buffer that is zero-filled and wiped, which under coverage instrumentation costs
  // ~100x the decoding itself, so the reader gets a small share of the inputs.
  if (data[0] % 16 != 1) {
    if (auto header = vsecret::rpc::DecodeHeader(stream)) {
      DecodeEverything(stream.subspan(vsecret::rpc::kHeaderSize));
    } else {
      FUZZ_CHECK(stream.size() < vsecret::rpc::kHeaderSize);
      DecodeEverything(stream);
    }
    return 0;
  }
  // The first byte also sets the read chunk size, so frames split across reads are exercised.
  const std::size_t chunk = 1 + data[0] / 16 * 7;
  vsecret::rpc::FrameReader reader;
  std::size_t fed = 0;
  while (true) {
    std::span<const std::uint8_t> message;
    auto status = reader.Next(&message);
    if (status == vsecret::rpc::FrameReader::Status::kBad) break;
    if (status == vsecret::rpc::FrameReader::Status::kFrame) {
      FUZZ_CHECK(message.size() >= vsecret::rpc::kHeaderSize);
      auto header = vsecret::rpc::DecodeHeader(message);
      FUZZ_CHECK(header.has_value());
      DecodeEverything(message.subspan(vsecret::rpc::kHeaderSize));
      continue;
    }
    if (fed == stream.size()) break;
    std::span<std::uint8_t> space = reader.Space();
    FUZZ_CHECK(!space.empty());
    const std::size_t n = std::min({chunk, space.size(), stream.size() - fed});
    std::memcpy(space.data(), stream.data() + fed, n);
    reader.Commit(n);
    fed += n;
    (void)reader.PendingLength();
  }
  return 0;
}
