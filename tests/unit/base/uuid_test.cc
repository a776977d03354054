#include "vsecret/uuid.h"

#include <gtest/gtest.h>

#include <set>

namespace vsecret {
namespace {

constexpr char kCanonical[] = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";

TEST(Uuid, ParsesCanonicalAndFormatsLowercase) {
  auto u = Uuid::Parse(kCanonical);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->ToString(), kCanonical);
  auto upper = Uuid::Parse("0A81F5B2-8403-7B23-C8D6-21CCC2F80D6F");
  ASSERT_TRUE(upper);
  EXPECT_EQ(upper->ToString(), kCanonical);
}

TEST(Uuid, AcceptsLibvirtsLenientForms) {
  for (const char* text :
       {"0a81f5b284037b23c8d621ccc2f80d6f", "  \t\n0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f",
        "-0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f", "0a81f5b2--8403-7b23-c8d6-21ccc2f80d6f",
        "0a81f5b2 8403 7b23 c8d6 21ccc2f80d6f", "0a-81-f5-b2-84-03-7b-23-c8-d6-21-cc-c2-f8-0d-6f",
        "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f  \n"}) {
    auto u = Uuid::Parse(text);
    ASSERT_TRUE(u) << text;
    EXPECT_EQ(u->ToString(), kCanonical) << text;
  }
}

TEST(Uuid, RejectsMalformed) {
  for (const char* text : {"", "f52a81b2-424e-490c-823d-6bd4235bc57",  // 31 digits (from libvirt docs)
                           "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f0",    // 33 digits
                           "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f-",    // trailing dash
                           "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6g",     // non-hex
                           "0a8-1f5b2-8403-7b23-c8d6-21ccc2f80d6f",    // dash splits a pair
                           "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f x"}) {
    EXPECT_FALSE(Uuid::Parse(text)) << text;
  }
}

TEST(Uuid, AllZeroIsAccepted) {
  auto u = Uuid::Parse("00000000-0000-0000-0000-000000000000");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->ToString(), "00000000-0000-0000-0000-000000000000");
}

TEST(Uuid, RandomIsVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    Uuid u = Uuid::Random();
    EXPECT_EQ(u.bytes()[6] >> 4, 4);
    EXPECT_EQ(u.bytes()[8] >> 6, 2);
    seen.insert(u.ToString());
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(Uuid, FromBytesRoundTrip) {
  auto u = Uuid::Parse(kCanonical);
  std::string raw(reinterpret_cast<const char*>(u->bytes().data()), 16);
  EXPECT_EQ(Uuid::FromBytes(raw), u);
  EXPECT_FALSE(Uuid::FromBytes(raw.substr(1)));
}

}  // namespace
}  // namespace vsecret
