// The SASL procedure payloads against hand-made wire bytes: libvirt 9.0's rpcgen code sends
// `char data<65536>` as a count and one 4-byte XDR int per byte (sign-extended), not as an
// opaque.
#include "rpc/sasl_messages.h"

#include <gtest/gtest.h>

#include <string>

#include "rpc/remote_messages.h"
#include "test_util.h"

namespace vsecret::rpc {
namespace {

WireBuffer FromHex(std::string_view hex) {
  WireBuffer out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

template <typename T>
std::string HexOf(const T& v) {
  WireBuffer out;
  XdrEncoder enc(out);
  Encode(enc, v);
  return test::Hex(out);
}

TEST(SaslMessagesTest, StartArgsEncodeEachByteAsAnInt) {
  SaslStartArgs a;
  a.mech = "DIGEST-MD5";
  a.token.nil = false;
  a.token.data = SecretBytes(std::string_view("AB\x80\xff", 4));
  EXPECT_EQ(HexOf(a),
            "0000000a4449474553542d4d4435"
            "0000"  // string padding
            "00000000"
            "00000004"
            "00000041"
            "00000042"
            "ffffff80"
            "ffffffff");
}

TEST(SaslMessagesTest, NilTokenHasNoData) {
  SaslStepArgs a;  // nil by default
  EXPECT_EQ(HexOf(a), "0000000100000000");
  SaslStepRet r;
  r.complete = true;
  r.token.nil = false;  // present but empty: distinct from NULL in SASL
  EXPECT_EQ(HexOf(r),
            "0000000100000000"
            "00000000");
}

TEST(SaslMessagesTest, DecodesLibtirpcBytesKeepingLowByte) {
  // {complete=0, nil=0, data="ABC" plus 0x90 sent as a sign-extended int}
  auto ret =
      DecodePayload<SaslStepRet>(FromHex("00000000"
                                         "00000000"
                                         "00000004"
                                         "00000041"
                                         "00000042"
                                         "00000043"
                                         "ffffff90"));
  ASSERT_TRUE(ret) << ret.error().message();
  EXPECT_FALSE(ret->complete);
  EXPECT_FALSE(ret->token.nil);
  ASSERT_EQ(ret->token.data.size(), 4u);
  EXPECT_EQ(ret->token.data.AsStringView(), std::string_view("ABC\x90", 4));
}

TEST(SaslMessagesTest, RoundTripsAFullSizeToken) {
  SaslStepRet r;
  r.token.nil = false;
  r.token.data.Resize(kSaslDataMax);
  for (std::size_t i = 0; i < kSaslDataMax; ++i) r.token.data.data()[i] = static_cast<std::uint8_t>(i * 7);
  WireBuffer out;
  XdrEncoder enc(out);
  Encode(enc, r);
  EXPECT_EQ(out.size(), 4 + 4 + 4 + 4 * kSaslDataMax);
  auto back = DecodePayload<SaslStepRet>(out);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->token.data.EqualsConstantTime(r.token.data));
}

TEST(SaslMessagesTest, RefusesOversizeAndTruncatedTokens) {
  // count 65537: over REMOTE_AUTH_SASL_DATA_MAX
  auto over =
      DecodePayload<SaslStepArgs>(FromHex("00000000"
                                          "00010001"
                                          "00000041"));
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().message(), DecodePayloadError().message());
  // count 3 with two elements
  EXPECT_FALSE(
      DecodePayload<SaslStepArgs>(FromHex("00000000"
                                          "00000003"
                                          "00000041"
                                          "00000042")));
  // a huge count with nothing behind it fails without allocating it
  EXPECT_FALSE(
      DecodePayload<SaslStepArgs>(FromHex("00000000"
                                          "0000ffff")));
}

TEST(SaslMessagesTest, InitRetIsAString) {
  SaslInitRet r{"DIGEST-MD5,SCRAM-SHA-256"};
  auto back = DecodePayload<SaslInitRet>(FromHex(HexOf(r)));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->mechlist, "DIGEST-MD5,SCRAM-SHA-256");
  EXPECT_EQ(HexOf(r).substr(0, 8), "00000018");
}

}  // namespace
}  // namespace vsecret::rpc
