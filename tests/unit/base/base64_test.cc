#include "base/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace vsecret {
namespace {

std::string Decode(std::string_view text) { return std::string(Base64DecodeLenient(text).AsStringView()); }

TEST(Base64, EncodesLikeLibvirtValueFiles) {
  EXPECT_EQ(Base64Encode("open sesame"), "b3BlbiBzZXNhbWU=");
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("a"), "YQ==");
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  EXPECT_EQ(Base64Encode("abc"), "YWJj");
  EXPECT_EQ(std::string(Base64EncodeSecret("open sesame").AsStringView()), "b3BlbiBzZXNhbWU=");
}

TEST(Base64, AllByteValuesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(Decode(Base64Encode(all)), all);
}

// Expected values were taken from virsh 9.0 (glib's g_base64_decode): set-value with the text,
// then get-value --plain.
TEST(Base64, DecodesWithGlibLeniency) {
  EXPECT_EQ(Decode("b3BlbiBzZXNhbWU=\n"), "open sesame");
  EXPECT_EQ(Decode("QU JD!!"), "ABC");  // garbage and spaces skipped
  EXPECT_EQ(Decode("QUI"), "");         // incomplete final group dropped
  EXPECT_EQ(Decode("QQ==QQ=="), "AA");  // padding mid-stream does not stop decoding
  EXPECT_EQ(Decode("A=B="), std::string(2, '\0'));
  EXPECT_EQ(Decode("Y\nW\rJ\tj"), "abc");
}

}  // namespace
}  // namespace vsecret
