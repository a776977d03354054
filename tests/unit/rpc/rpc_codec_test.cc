// The XDR codec, framing and message structs against frames captured from stock virsh 9.0.0
// talking to stock libvirtd 9.0.0, plus the decoder's limits.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rpc/frame.h"
#include "rpc/protocol.h"
#include "rpc/remote_messages.h"
#include "rpc/xdr.h"

namespace vsecret::rpc {
namespace {

WireBuffer FromHex(std::string_view hex) {
  WireBuffer out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// The message (header + payload) of a one-frame hex string, checking its length word.
std::span<const std::uint8_t> MessageOf(const WireBuffer& frame) {
  EXPECT_GE(frame.size(), kMinFrame);
  std::uint32_t len = (frame[0] << 24) | (frame[1] << 16) | (frame[2] << 8) | frame[3];
  EXPECT_EQ(len, frame.size());
  return std::span<const std::uint8_t>(frame).subspan(4);
}

std::span<const std::uint8_t> PayloadOf(const WireBuffer& frame) { return MessageOf(frame).subspan(24); }

Header CallHeader(Proc proc, std::uint32_t serial) {
  Header h;
  h.proc = static_cast<std::int32_t>(proc);
  h.serial = serial;
  return h;
}

const Uuid kUuid1 = *Uuid::Parse("11111111-2222-3333-4444-555555555555");
const SecretRef kVolumeRef{kUuid1, UsageType::kVolume, "/var/lib/images/a.img"};

constexpr char kSec1Xml[] =
    "<secret ephemeral='no' private='no'>\n"
    "  <uuid>11111111-2222-3333-4444-555555555555</uuid>\n"
    "  <description>test volume secret</description>\n"
    "  <usage type='volume'>\n"
    "    <volume>/var/lib/images/a.img</volume>\n"
    "  </usage>\n"
    "</secret>\n";

constexpr char kDefineCall[] =
    "0000010820008086000000010000008e000000000000000600000000000000e13c73656372657420657068656d6572616c3d27"
    "6e6f2720707269766174653d276e6f273e0a20203c757569643e31313131313131312d323232322d333333332d343434342d35"
    "35353535353535353535353c2f757569643e0a20203c6465736372697074696f6e3e7465737420766f6c756d65207365637265"
    "743c2f6465736372697074696f6e3e0a20203c757361676520747970653d27766f6c756d65273e0a202020203c766f6c756d65"
    "3e2f7661722f6c69622f696d616765732f612e696d673c2f766f6c756d653e0a20203c2f75736167653e0a3c2f736563726574"
    "3e0a00000000000000";

TEST(RpcCodecTest, AuthListExchange) {
  WireBuffer call = FromHex("0000001c200080860000000100000042000000000000000000000000");
  auto h = DecodeHeader(MessageOf(call));
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, CallHeader(Proc::kAuthList, 0));
  auto reply = EncodeFrame(ReplyHeader(*h, MessageStatus::kOk), AuthListRet{{kAuthTypeNone}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(ToHex(*reply), "000000242000808600000001000000420000000100000000000000000000000100000000");
}

TEST(RpcCodecTest, SupportsFeatureAndOpen) {
  WireBuffer call = FromHex("0000002020008086000000010000003c0000000000000001000000000000000a");
  auto feature = DecodePayload<IntValue>(PayloadOf(call));
  ASSERT_TRUE(feature);
  EXPECT_EQ(feature->value, kFeatureProgramKeepAlive);
  auto reply = EncodeFrame(ReplyHeader(*DecodeHeader(MessageOf(call)), MessageStatus::kOk), IntValue{1});
  EXPECT_EQ(ToHex(*reply), "0000002020008086000000010000003c00000001000000010000000000000001");

  WireBuffer open = FromHex(
      "000000382000808600000001000000010000000000000002000000000000000100000010736563726574"
      "3a2f2f2f73797374656d00000000");
  auto args = DecodePayload<OpenArgs>(PayloadOf(open));
  ASSERT_TRUE(args);
  EXPECT_EQ(args->name, "secret:///system");
  EXPECT_EQ(args->flags, 0u);
  auto encoded = EncodeFrame(CallHeader(Proc::kConnectOpen, 2), *args);
  EXPECT_EQ(ToHex(*encoded), ToHex(open));
  EXPECT_EQ(ToHex(EmptyFrame(ReplyHeader(CallHeader(Proc::kConnectOpen, 2), MessageStatus::kOk))),
            "0000001c200080860000000100000001000000010000000200000000");
}

TEST(RpcCodecTest, DefineXmlCallAndReply) {
  WireBuffer call = FromHex(kDefineCall);
  auto h = DecodeHeader(MessageOf(call));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->proc, 142);
  EXPECT_EQ(h->serial, 6u);
  auto args = DecodePayload<DefineXmlArgs>(PayloadOf(call));
  ASSERT_TRUE(args);
  EXPECT_EQ(args->xml, kSec1Xml);
  EXPECT_EQ(args->xml.size(), 225u);
  EXPECT_EQ(args->flags, 0u);
  EXPECT_EQ(ToHex(*EncodeFrame(*h, *args)), kDefineCall);

  auto reply = EncodeFrame(ReplyHeader(*h, MessageStatus::kOk), SecretHandle{kVolumeRef});
  EXPECT_EQ(
      ToHex(*reply),
      "0000004c20008086000000010000008e000000010000000600000000111111112222333344445555555555550000000100"
      "0000152f7661722f6c69622f696d616765732f612e696d67000000");
}

TEST(RpcCodecTest, ListAllSecretsReply) {
  WireBuffer call = FromHex(
      "00000024"
      "20008086"
      "00000001"
      "0000011f"
      "00000000"
      "00000006"
      "00000000"
      "00000001"
      "00000000");
  auto args = DecodePayload<ListAllArgs>(PayloadOf(call));
  ASSERT_TRUE(args);
  EXPECT_EQ(args->need_results, 1);
  EXPECT_EQ(args->flags, 0u);

  ListAllRet ret;
  ret.secrets = {
      kVolumeRef,
      {*Uuid::Parse("00000000-0000-0000-0000-00000000abcd"), UsageType::kNone, ""},
      {*Uuid::Parse("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"), UsageType::kCeph, "client.admin secret"}};
  ret.ret = 3;
  Header reply_header = ReplyHeader(CallHeader(Proc::kConnectListAllSecrets, 6), MessageStatus::kOk);
  EXPECT_EQ(
      ToHex(*EncodeFrame(reply_header, ret)),
      "0000009820008086000000010000011f00000001000000060000000000000003111111112222333344445555555555550000"
      "0001000000152f7661722f6c69622f696d616765732f612e696d670000000000000000000000000000000000abcd0000000"
      "000000000aaaaaaaabbbbccccddddeeeeeeeeeeee0000000200000013636c69656e742e61646d696e2073656372657400000"
      "00003");
  EXPECT_EQ(ToHex(*EncodeFrame(reply_header, ListAllRet{})),
            "00000024"
            "20008086"
            "00000001"
            "0000011f"
            "00000001"
            "00000006"
            "00000000"
            "00000000"
            "00000000");
}

TEST(RpcCodecTest, SetValueGetValueUndefine) {
  WireBuffer set = FromHex(
      "0000006020008086000000010000009000000000000000070000000011111111222233334444555555555555000000010000"
      "00152f7661722f6c69622f696d616765732f612e696d670000000000000973656372657431323300000000000000");
  auto args = DecodePayload<SetValueArgs>(PayloadOf(set));
  ASSERT_TRUE(args);
  EXPECT_EQ(args->secret, kVolumeRef);
  EXPECT_EQ(args->value.AsStringView(), "secret123");
  EXPECT_EQ(args->flags, 0u);

  WireBuffer get = FromHex(
      "0000005020008086000000010000009100000000000000070000000011111111222233334444555555555555000000010000"
      "00152f7661722f6c69622f696d616765732f612e696d6700000000000000");
  auto get_args = DecodePayload<SecretFlagsArgs>(PayloadOf(get));
  ASSERT_TRUE(get_args);
  EXPECT_EQ(get_args->secret, kVolumeRef);
  auto reply = EncodeFrame(ReplyHeader(*DecodeHeader(MessageOf(get)), MessageStatus::kOk),
                           GetValueRet{SecretBytes(std::string_view("secret123"))});
  EXPECT_EQ(ToHex(*reply),
            "0000002c20008086000000010000009100000001000000070000000000000009736563726574313233000000");

  WireBuffer undefine = FromHex(
      "000000342000808600000001000000920000000000000007000000000000000000000000000000000000abcd00000000000000"
      "00");
  auto handle = DecodePayload<SecretHandle>(PayloadOf(undefine));
  ASSERT_TRUE(handle);
  EXPECT_EQ(handle->secret.uuid.ToString(), "00000000-0000-0000-0000-00000000abcd");
  EXPECT_EQ(handle->secret.usage_type, UsageType::kNone);
}

TEST(RpcCodecTest, LookupByUuidCall) {
  WireBuffer call =
      FromHex("0000002c20008086000000010000008d00000000000000060000000011111111222233334444555555555555");
  auto args = DecodePayload<LookupByUuidArgs>(PayloadOf(call));
  ASSERT_TRUE(args);
  EXPECT_EQ(args->uuid, kUuid1);
  EXPECT_EQ(ToHex(*EncodeFrame(CallHeader(Proc::kSecretLookupByUuid, 6), *args)), ToHex(call));
}

TEST(RpcCodecTest, ErrorReplies) {
  Error not_found(ErrorCode::kNoSecret, ErrorDomain::kSecret,
                  "Secret not found: no secret with matching uuid '99999999-2222-3333-4444-555555555555'");
  WireBuffer frame = ErrorReplyFrame(CallHeader(Proc::kSecretLookupByUuid, 6), not_found);
  EXPECT_EQ(
      ToHex(frame),
      "0000010420008086000000010000008d000000010000000600000001000000420000001e0000000100000055536563726574"
      "206e6f7420666f756e643a206e6f207365637265742077697468206d61746368696e672075756964202739393939393939"
      "392d323232322d333333332d343434342d3535353535353535353535352700000000000002000000000000000100000014"
      "536563726574206e6f7420666f756e643a20257300000001000000436e6f207365637265742077697468206d61746368"
      "696e672075756964202739393939393939392d323232322d333333332d343434342d353535353535353535353535270000"
      "000000ffffffffffffffff00000000");

  Error is_private(ErrorCode::kInvalidSecret, ErrorDomain::kSecret, "Invalid secret: secret is private");
  EXPECT_EQ(
      ToHex(ErrorReplyFrame(CallHeader(Proc::kSecretGetValue, 7), is_private)),
      "000000a0200080860000000100000091000000010000000700000001000000410000001e0000000100000021496e76616c"
      "6964207365637265743a20736563726574206973207072697661746500000000000002000000000000000100000012496e"
      "76616c6964207365637265743a20257300000000000100000011736563726574206973207072697661746500000000000"
      "000ffffffffffffffff00000000");

  auto decoded = DecodePayload<RemoteError>(PayloadOf(frame));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->ToError(), not_found);
  EXPECT_EQ(decoded->str1, "Secret not found: %s");
}

TEST(RpcCodecTest, UnknownProcedureBecomesNoSupportOnTheClient) {
  RemoteError e = RemoteError::FromError(Error(ErrorCode::kRpc, ErrorDomain::kRpc, "unknown procedure: 59"));
  EXPECT_EQ(e.ToError().code(), ErrorCode::kNoSupport);
  EXPECT_EQ(e.ToError().message(), "unknown procedure: 59");
  RemoteError other = RemoteError::FromError(DecodePayloadError());
  EXPECT_EQ(other.ToError().code(), ErrorCode::kRpc);
  RemoteError no_message;
  no_message.code = 1;
  EXPECT_EQ(no_message.ToError().message(), "An error occurred, but the cause is unknown");
}

TEST(RpcCodecTest, Events) {
  WireBuffer reg = FromHex("0000002420008086000000010000017c0000000000000006000000000000000000000000");
  auto args = DecodePayload<EventRegisterArgs>(PayloadOf(reg));
  ASSERT_TRUE(args);
  EXPECT_EQ(args->event_id, 0);
  EXPECT_FALSE(args->secret);

  WireBuffer filtered = FromHex(
      "0000005420008086000000010000017c0000000000000007000000000000000100000001111111112222333344445555555555"
      "55"
      "00000001000000152f7661722f6c69622f696d616765732f612e696d67000000");
  auto fargs = DecodePayload<EventRegisterArgs>(PayloadOf(filtered));
  ASSERT_TRUE(fargs);
  EXPECT_EQ(fargs->event_id, 1);
  ASSERT_TRUE(fargs->secret);
  EXPECT_EQ(*fargs->secret, kVolumeRef);
  EXPECT_EQ(ToHex(*EncodeFrame(CallHeader(Proc::kConnectSecretEventRegisterAny, 7), *fargs)),
            ToHex(filtered));

  Header msg;
  msg.proc = static_cast<std::int32_t>(Proc::kSecretEventLifecycle);
  msg.type = MessageType::kMessage;
  msg.serial = 1;
  LifecycleMsg life{1, {*Uuid::Parse("00000000-0000-0000-0000-00000000abcd"), UsageType::kNone, ""}, 1, 0};
  EXPECT_EQ(
      ToHex(*EncodeFrame(msg, life)),
      "0000004020008086000000010000017e000000020000000100000000000000010000000000000000000000000000abcd00"
      "000000000000000000000100000000");
  msg.proc = static_cast<std::int32_t>(Proc::kSecretEventValueChanged);
  EXPECT_EQ(
      ToHex(*EncodeFrame(msg, ValueChangedMsg{2, kVolumeRef})),
      "0000005020008086000000010000017f0000000200000001000000000000000211111111222233334444555555555555000000"
      "01000000152f7661722f6c69622f696d616765732f612e696d67000000");
}

TEST(RpcCodecTest, KeepAliveFrames) {
  Header ping;
  ping.prog = kKeepAliveProgram;
  ping.vers = kKeepAliveVersion;
  ping.proc = kProcPing;
  ping.type = MessageType::kMessage;
  EXPECT_EQ(ToHex(EmptyFrame(ping)), "0000001c6b6565700000000100000001000000020000000000000000");
  ping.proc = kProcPong;
  EXPECT_EQ(ToHex(EmptyFrame(ping)), "0000001c6b6565700000000100000002000000020000000000000000");
}

// A payload made of one length word and n bytes of 'x' (padded).
WireBuffer LengthPrefixed(std::size_t n) {
  WireBuffer buf;
  XdrEncoder enc(buf);
  enc.String(std::string(n, 'x'));
  return buf;
}

TEST(RpcCodecTest, StringAndValueLimits) {
  WireBuffer at_limit = LengthPrefixed(kStringMax);
  at_limit.insert(at_limit.end(), 4, 0);  // flags
  EXPECT_TRUE(DecodePayload<DefineXmlArgs>(at_limit));
  WireBuffer over = LengthPrefixed(kStringMax + 1);
  over.insert(over.end(), 4, 0);
  auto r = DecodePayload<DefineXmlArgs>(over);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "Unable to decode message payload");
  EXPECT_EQ(r.error().code(), ErrorCode::kRpc);

  EXPECT_TRUE(DecodePayload<GetValueRet>(LengthPrefixed(kSecretValueMax)));
  EXPECT_FALSE(DecodePayload<GetValueRet>(LengthPrefixed(kSecretValueMax + 1)));
}

TEST(RpcCodecTest, MalformedPayloadsFailCleanly) {
  // Too short for a UUID.
  EXPECT_FALSE(DecodePayload<LookupByUuidArgs>(FromHex("1111111122223333")));
  // A pointer discriminant of 2.
  EXPECT_FALSE(DecodePayload<EventRegisterArgs>(FromHex("0000000000000002")));
  // A list count over the limit, and one the payload cannot hold.
  EXPECT_FALSE(DecodePayload<ListAllRet>(FromHex("00004001")));
  EXPECT_FALSE(DecodePayload<ListAllRet>(FromHex("0000300000000000")));
  EXPECT_FALSE(DecodePayload<AuthListRet>(FromHex("00000015")));
  // A string length larger than what follows.
  EXPECT_FALSE(DecodePayload<StringValue>(FromHex("7fffffff41414141")));
  // Trailing bytes are ignored, like libvirtd.
  EXPECT_TRUE(DecodePayload<IntValue>(FromHex("0000000adeadbeef")));
}

TEST(RpcFrameTest, ReaderSplitsAStreamAtAnyBoundary) {
  WireBuffer stream = FromHex(kDefineCall);
  WireBuffer second = FromHex("0000001c200080860000000100000042000000000000000000000000");
  stream.insert(stream.end(), second.begin(), second.end());
  for (std::size_t chunk : {1u, 3u, 7u, 28u, 100u, 1000u}) {
    FrameReader reader;
    std::vector<std::string> frames;
    std::size_t pos = 0;
    while (pos < stream.size()) {
      auto space = reader.Space();
      std::size_t n = std::min({chunk, space.size(), stream.size() - pos});
      std::copy_n(stream.begin() + pos, n, space.begin());
      reader.Commit(n);
      pos += n;
      std::span<const std::uint8_t> msg;
      FrameReader::Status st;
      while ((st = reader.Next(&msg)) == FrameReader::Status::kFrame) frames.push_back(ToHex(msg));
      ASSERT_EQ(st, FrameReader::Status::kNeedMore);
    }
    ASSERT_EQ(frames.size(), 2u) << chunk;
    EXPECT_EQ(frames[0], std::string(kDefineCall).substr(8));
    EXPECT_FALSE(reader.HasPartial());
  }
}

FrameReader::Status FeedOnly(const WireBuffer& bytes) {
  FrameReader reader;
  auto space = reader.Space();
  std::copy(bytes.begin(), bytes.end(), space.begin());
  reader.Commit(bytes.size());
  std::span<const std::uint8_t> msg;
  return reader.Next(&msg);
}

TEST(RpcFrameTest, LengthWordBounds) {
  EXPECT_EQ(FeedOnly(FromHex("00000008")), FrameReader::Status::kBad);
  EXPECT_EQ(FeedOnly(FromHex("0000001b")), FrameReader::Status::kBad);
  EXPECT_EQ(FeedOnly(FromHex("0000001c")), FrameReader::Status::kNeedMore);
  EXPECT_EQ(FeedOnly(FromHex("02000004")), FrameReader::Status::kNeedMore);  // 33 554 436: legal
  EXPECT_EQ(FeedOnly(FromHex("02000005")), FrameReader::Status::kBad);
  EXPECT_EQ(FeedOnly(FromHex("ffffffff")), FrameReader::Status::kBad);
}

TEST(RpcFrameTest, LargestFrameIsAssembled) {
  FrameReader reader;
  WireBuffer head = FromHex("02000004200080860000000100000042000000000000000000000000");
  std::size_t total = kMaxFrame, pos = 0;
  std::span<const std::uint8_t> msg;
  while (pos < total) {
    auto space = reader.Space();
    std::size_t n = std::min(space.size(), total - pos);
    for (std::size_t i = 0; i < n; ++i) space[i] = pos + i < head.size() ? head[pos + i] : 0;
    reader.Commit(n);
    pos += n;
    if (pos < total) {
      ASSERT_EQ(reader.Next(&msg), FrameReader::Status::kNeedMore);
    }
  }
  ASSERT_EQ(reader.Next(&msg), FrameReader::Status::kFrame);
  EXPECT_EQ(msg.size(), kMaxMessage);
}

// Feeds `count` bytes of a frame announced as `announced` bytes long; false when the reader
// refused to make room (its budget ran out).
bool FeedPartial(FrameReader& reader, std::size_t announced, std::size_t count) {
  std::size_t pos = 0;
  while (pos < count) {
    auto space = reader.Space();
    if (space.empty()) return false;
    std::size_t n = std::min(space.size(), count - pos);
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t at = pos + i;
      space[i] = at < 4 ? static_cast<std::uint8_t>(announced >> (8 * (3 - at))) : 0;
    }
    reader.Commit(n);
    pos += n;
  }
  return true;
}

TEST(RpcFrameTest, BufferGrowsOnlyWithTheBytesThatArrive) {
  FrameReader reader;
  // A 32 MiB frame announced, 100 bytes sent: the base buffer is all it holds.
  ASSERT_TRUE(FeedPartial(reader, kMaxFrame, 100));
  EXPECT_EQ(reader.Capacity(), FrameReader::kBaseBuffer);
  FrameReader reader2;
  ASSERT_TRUE(FeedPartial(reader2, kMaxFrame, 300000));
  EXPECT_GE(reader2.Capacity(), 300000u);
  EXPECT_LE(reader2.Capacity(), 2 * 300000u);
}

TEST(RpcFrameTest, GrowthIsChargedToTheSharedBudgetAndGivenBack) {
  auto budget = std::make_shared<InputBudget>(1 << 20);
  {
    FrameReader a(budget), b(budget);
    ASSERT_TRUE(FeedPartial(a, kMaxFrame, 600000));
    std::size_t charged = budget->used();
    EXPECT_EQ(charged, a.Capacity() - FrameReader::kBaseBuffer);
    // The second frame cannot get what the first one holds: Space() comes back empty.
    EXPECT_FALSE(FeedPartial(b, kMaxFrame, 900000));
    EXPECT_EQ(budget->used(), charged + (b.Capacity() - FrameReader::kBaseBuffer));
    EXPECT_LE(budget->used(), budget->limit());
  }
  EXPECT_EQ(budget->used(), 0u);  // both readers gone
  // A finished frame gives its growth back when the buffer is reused.
  FrameReader c(budget);
  ASSERT_TRUE(FeedPartial(c, 0x4001c, 0x4001c));  // 262 172 bytes, header all zero
  EXPECT_GT(budget->used(), 0u);
  std::span<const std::uint8_t> msg;
  ASSERT_EQ(c.Next(&msg), FrameReader::Status::kFrame);
  EXPECT_EQ(c.Space().size(), FrameReader::kBaseBuffer);
  EXPECT_EQ(budget->used(), 0u);
}

TEST(RpcFrameTest, OversizeReplyIsAnEncodeError) {
  FrameBuilder b(Header{});
  b.payload().String(std::string(kMaxPayload, 'x'));
  auto r = std::move(b).Finish();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "Unable to encode message payload");
}

}  // namespace
}  // namespace vsecret::rpc
