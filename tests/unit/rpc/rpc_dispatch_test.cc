// libvirtd's dispatch rules as vsecretd reproduces them (errors for unknown programs and
// procedures, calls before open; probed against libvirtd 9.0.0 and 12.8.0), read-only enforcement, limits,
// and hostile input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "rpc_test_support.h"

namespace vsecret::rpc {
namespace {

using test::CallFrame;
using test::ErrorOf;
using test::HeaderOf;
using test::OpenRaw;
using test::PayloadOf;
using test::RawClient;
using test::TestServer;
using test::VoidCall;

class RpcDispatchTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.Start(); }
  std::string ErrorText(RawClient& c) {
    auto f = c.ReadFrame();
    if (!f) return "<no reply>";
    if (HeaderOf(*f).status != MessageStatus::kError) return "<ok>";
    Error e = ErrorOf(*f);
    return std::to_string(static_cast<int>(e.code())) + "/" + std::to_string(static_cast<int>(e.domain())) +
           " " + e.message();
  }
  // The raw error message (without the client's NO_SUPPORT mapping).
  std::string RawErrorText(RawClient& c) {
    auto f = c.ReadFrame();
    if (!f) return "<no reply>";
    auto e = DecodePayload<RemoteError>(PayloadOf(*f));
    return std::to_string(e->code) + "/" + std::to_string(e->domain) + " " + e->message.value_or("");
  }
  TestServer server_;
};

TEST_F(RpcDispatchTest, BeforeOpen) {
  RawClient c(server_.rw_path());
  c.Send(CallFrame(Proc::kSecretLookupByUuid, 1, LookupByUuidArgs{}));
  EXPECT_EQ(ErrorText(c), "1/7 internal error: connection not open");
  c.Send(VoidCall(Proc::kConnectGetHostname, 2));
  EXPECT_EQ(ErrorText(c), "1/7 internal error: hypervisor connection not open");
  c.Send(CallFrame(Proc::kConnectSupportsFeature, 3, IntValue{14}));
  EXPECT_EQ(ErrorText(c), "1/7 internal error: hypervisor connection not open");
  c.Send(CallFrame(Proc::kConnectSupportsFeature, 4, IntValue{10}));
  EXPECT_EQ(DecodePayload<IntValue>(PayloadOf(*c.ReadFrame()))->value, 1);
  // Arguments are decoded before the open check.
  c.Send(VoidCall(Proc::kSecretLookupByUuid, 5));
  EXPECT_EQ(ErrorText(c), "39/7 Unable to decode message payload");
  c.Send(VoidCall(static_cast<Proc>(107), 6));
  EXPECT_EQ(RawErrorText(c), "39/7 unknown procedure: 107");
}

TEST_F(RpcDispatchTest, AfterOpen) {
  RawClient c(server_.rw_path());
  OpenRaw(c);
  c.Send(VoidCall(Proc::kConnectGetHostname, 2));
  EXPECT_EQ(ErrorText(c),
            "3/20 this function is not supported by the connection driver: virConnectGetHostname");
  c.Send(VoidCall(static_cast<Proc>(52), 3));
  EXPECT_EQ(ErrorText(c),
            "3/19 this function is not supported by the connection driver: virConnectNumOfNetworks");
  // 446, 453-455 are event messages and 457 is past libvirt 12.8's last procedure.
  for (int proc : {0, -1, 446, 453, 455, 457, 9999}) {
    c.Send(VoidCall(static_cast<Proc>(proc), 4));
    EXPECT_EQ(RawErrorText(c), "39/7 unknown procedure: " + std::to_string(proc));
  }
  c.Send(CallFrame(Proc::kConnectOpen, 5, OpenArgs{"secret:///system", 0}));
  EXPECT_EQ(ErrorText(c), "1/7 internal error: connection already open");
  c.Send(VoidCall(Proc::kConnectGetType, 6));
  EXPECT_EQ(DecodePayload<StringValue>(PayloadOf(*c.ReadFrame()))->value, "secret");
  c.Send(VoidCall(Proc::kConnectGetLibVersion, 7));
  EXPECT_EQ(DecodePayload<HyperValue>(PayloadOf(*c.ReadFrame()))->value, 12008000u);  // libvirt 12.8.0
  c.Send(VoidCall(Proc::kConnectGetUri, 8));
  EXPECT_EQ(DecodePayload<StringValue>(PayloadOf(*c.ReadFrame()))->value, "secret:///system");
  c.Send(CallFrame(Proc::kConnectSupportsFeature, 9, IntValue{999}));
  EXPECT_EQ(DecodePayload<IntValue>(PayloadOf(*c.ReadFrame()))->value, 0);
  c.Send(CallFrame(Proc::kConnectListSecrets, 10, IntValue{-1}));
  EXPECT_EQ(ErrorText(c), "39/7 maxuuids must be non-negative");
  c.Send(CallFrame(Proc::kConnectListSecrets, 11, IntValue{16385}));
  EXPECT_EQ(ErrorText(c), "39/7 maxuuids > REMOTE_SECRET_LIST_MAX");
  c.Send(CallFrame(Proc::kConnectListAllSecrets, 12, ListAllArgs{1, 16}));
  EXPECT_EQ(ErrorText(c), "8/30 unsupported flags (0x10) in function secretConnectListAllSecrets");
}

// A CALL of proc whose payload `fill` writes.
template <typename Fill>
WireBuffer RawCall(int proc, std::uint32_t serial, Fill fill) {
  Header h;
  h.proc = proc;
  h.serial = serial;
  FrameBuilder b(h);
  fill(b.payload());
  return *std::move(b).Finish();
}

void Domain(XdrEncoder& e, std::string_view name = "dom1") {
  e.String(name);
  std::uint8_t uuid[16] = {1, 2, 3};
  e.FixedOpaque(uuid);
  e.I32(7);
}

// Procedures libvirt added after 9.0 (444-456), answered as libvirtd 12.8 answers them: the
// arguments are decoded before the open check, the API's own checks come before NO_SUPPORT.
TEST_F(RpcDispatchTest, ProceduresAddedAfter9DecodeTheirArguments) {
  RawClient c(server_.rw_path());
  for (int proc : {444, 445, 447, 448, 449, 450, 451, 452, 456}) {
    c.Send(RawCall(proc, 1, [](XdrEncoder&) {}));
    EXPECT_EQ(RawErrorText(c), "39/7 Unable to decode message payload") << proc;
  }
  c.Send(RawCall(448, 2, [](XdrEncoder& e) { Domain(e), e.U32(0), e.U32(0); }));
  EXPECT_EQ(RawErrorText(c), "1/7 internal error: hypervisor connection not open");
  c.Send(RawCall(447, 3, [](XdrEncoder& e) { e.String("dev"), e.String("<device/>"), e.U32(0); }));
  EXPECT_EQ(RawErrorText(c), "1/7 internal error: connection not open");

  OpenRaw(c);
  struct Case {
    int proc;
    std::function<void(XdrEncoder&)> fill;
    std::string want;
  };
  const std::string ns = "3/20 this function is not supported by the connection driver: ";
  auto param = [](XdrEncoder& e, std::string_view name, std::int32_t type) {
    e.String(name);
    e.I32(type);
    if (type == 7) {
      e.String("v");
    } else {
      e.I32(5);
    }
  };
  const Case cases[] = {
      {444,
       [](XdrEncoder& e) {
         const std::uint8_t uuid[16] = {9};
         e.String("net1"), e.FixedOpaque(uuid);
         e.I32(1), e.OptionalString("<m/>"), e.OptionalString("k"), e.OptionalString("http://x"), e.U32(0);
       },
       "8/19 uri in virNetworkSetMetadata must be NULL"},
      {444,
       [](XdrEncoder& e) {
         const std::uint8_t uuid[16] = {9};
         e.String("net1"), e.FixedOpaque(uuid);
         e.I32(2), e.OptionalString("<m/>"), e.OptionalString("k"), e.OptionalString("http://x"), e.U32(0);
       },
       "3/19 this function is not supported by the connection driver: virNetworkSetMetadata"},
      {445,
       [](XdrEncoder& e) {
         const std::uint8_t uuid[16] = {9};
         e.String("net1"), e.FixedOpaque(uuid);
         e.I32(2), e.OptionalString(std::nullopt), e.U32(0);
       },
       "8/19 uri in virNetworkGetMetadata must not be NULL"},
      {447, [](XdrEncoder& e) { e.String("dev"), e.String("<device/>"), e.U32(0); },
       "3/22 this function is not supported by the connection driver: virNodeDeviceUpdate"},
      {448, [](XdrEncoder& e) { Domain(e), e.U32(0), e.U32(0); }, ns + "virDomainGraphicsReload"},
      {449, [](XdrEncoder& e) { Domain(e); }, ns + "virDomainGetAutostartOnce"},
      {450, [](XdrEncoder& e) { Domain(e), e.I32(1); }, ns + "virDomainSetAutostartOnce"},
      {451, [](XdrEncoder& e) { Domain(e), e.String("g"), e.U32(0), e.U32(0); },
       "8/20 nparams in virDomainSetThrottleGroup must be greater than zero"},
      {451,
       [&](XdrEncoder& e) {
         Domain(e), e.String("g"), e.U32(2), param(e, "x", 1), param(e, "s", 7), e.U32(0);
       },
       "8/0 string parameter 's' unsupported"},
      {451,
       [&](XdrEncoder& e) {
         Domain(e), e.String("g"), e.U32(1), param(e, std::string(80, 'a'), 1), e.U32(0);
       },
       "1/0 internal error: parameter " + std::string(80, 'a') + " too big for destination"},
      {451, [&](XdrEncoder& e) { Domain(e), e.String("g"), e.U32(1), param(e, "x", 9), e.U32(0); },
       "39/7 Unable to decode message payload"},
      {451,
       [&](XdrEncoder& e) {
         Domain(e), e.String("g"), e.U32(33);
         for (int i = 0; i < 33; ++i) param(e, "x", 1);
         e.U32(0);
       },
       "39/7 Unable to decode message payload"},
      {451,
       [&](XdrEncoder& e) {
         Domain(e), e.String("g"), e.U32(32);
         for (int i = 0; i < 32; ++i) param(e, "x", 1);
         e.U32(0);
       },
       ns + "virDomainSetThrottleGroup"},
      {452, [](XdrEncoder& e) { Domain(e), e.OptionalString(std::nullopt), e.U32(0); },
       "8/20 group in virDomainDelThrottleGroup must not be NULL"},
      {452, [](XdrEncoder& e) { Domain(e), e.OptionalString(""), e.U32(0); },
       ns + "virDomainDelThrottleGroup"},
      {456, [](XdrEncoder& e) { Domain(e), e.OptionalString("eth0"), e.U32(0), e.U32(0); },
       ns + "virDomainAnnounceInterface"},
      // Older procedures whose arguments 12.x's API checks before the driver.
      {63, [](XdrEncoder& e) { e.String(""), e.String(""), e.String(""), e.U64(0); },
       "8/20 string dname in virDomainMigrateFinish must not be empty"},
      {63, [](XdrEncoder& e) { e.String("d"), e.String("abc"), e.String("u"), e.U64(0); },
       ns + "virDomainMigrateFinish"},
      {109, [](XdrEncoder& e) { e.String(""), e.String(""), e.String(""), e.U64(0), e.I32(0); },
       "8/20 string dname in virDomainMigrateFinish2 must not be empty"},
      {217,
       [](XdrEncoder& e) {
         e.String(""), e.String(""), e.OptionalString(std::nullopt), e.OptionalString(std::nullopt), e.U64(0),
             e.I32(0);
       },
       "8/20 string dname in virDomainMigrateFinish3 must not be empty"},
      {217, [](XdrEncoder& e) { e.String(""), e.String(""), e.U32(0); },
       "39/7 Unable to decode message payload"},
      {278, [](XdrEncoder& e) { Domain(e); }, ns + "virDomainGetSecurityLabelList"},
  };
  std::uint32_t serial = 10;
  for (const Case& k : cases) {
    c.Send(RawCall(k.proc, serial++, k.fill));
    EXPECT_EQ(RawErrorText(c), k.want) << k.proc;
  }
}

TEST_F(RpcDispatchTest, OpenNames) {
  struct Case {
    std::optional<std::string> name;
    std::string want;
  };
  for (const Case& k :
       {Case{"secret:///session",
             "1/0 internal error: unexpected secret URI path '/session', try "
             "secret:///system"},
        Case{"qemu:///system", "5/0 no connection driver available for qemu:///system"},
        Case{"", "5/0 no connection driver available for <null>"},
        Case{std::nullopt, "1/7 internal error: connection not open"},
        Case{"secret+unix:///system", "5/0 no connection driver available for secret+unix:///system"},
        Case{"secret:///system?foo=bar", "<ok>"}}) {
    RawClient c(server_.rw_path());
    c.Send(CallFrame(Proc::kConnectOpen, 0, OpenArgs{k.name, 0}));
    EXPECT_EQ(ErrorText(c), k.want) << k.name.value_or("(null)");
  }
}

TEST_F(RpcDispatchTest, ProgramVersionStatusAndType) {
  RawClient c(server_.rw_path());
  Header h;
  h.proc = static_cast<std::int32_t>(Proc::kAuthList);
  h.vers = 2;
  c.Send(EmptyFrame(h));
  EXPECT_EQ(ErrorText(c), "39/7 Cannot find program 536903814 version 2");
  h.vers = 1;
  h.status = MessageStatus::kError;
  c.Send(EmptyFrame(h));
  EXPECT_EQ(ErrorText(c), "39/7 Unexpected message status 1");
  h.prog = kKeepAliveProgram;
  h.status = MessageStatus::kOk;
  h.proc = kProcPing;
  c.Send(EmptyFrame(h));  // keepalive as a CALL
  EXPECT_EQ(ErrorText(c), "39/7 Cannot find program 1801807216 version 1");
  // REPLY, MESSAGE and STREAM frames from a client are ignored: the next reply is the AUTH_LIST's.
  for (MessageType t : {MessageType::kReply, MessageType::kMessage, MessageType::kStream}) {
    Header ignored;
    ignored.proc = 66;
    ignored.type = t;
    ignored.serial = 77;
    c.Send(EmptyFrame(ignored));
  }
  c.Send(VoidCall(Proc::kAuthList, 5));
  auto reply = c.ReadFrame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(HeaderOf(*reply).serial, 5u);
}

TEST_F(RpcDispatchTest, KeepAlivePingBeforeOpen) {
  RawClient c(server_.rw_path());
  c.SendHex("0000001c6b6565700000000100000001000000020000000000000000");
  EXPECT_EQ(c.ReadHex(), "0000001c6b6565700000000100000002000000020000000000000000");
}

TEST_F(RpcDispatchTest, ReadOnlySocketAndReadOnlyOpen) {
  ASSERT_TRUE(server_.driver().DefineXml(Caller{},
                                         "<secret><uuid>11111111-2222-3333-4444-555555555555</uuid>"
                                         "<usage type='ceph'><name>n</name></usage></secret>",
                                         0));
  ASSERT_TRUE(server_.driver().SetValue(Caller{}, *Uuid::Parse("11111111-2222-3333-4444-555555555555"),
                                        SecretBytes(std::string_view("v")), 0));
  SecretRef handle{*Uuid::Parse("11111111-2222-3333-4444-555555555555"), UsageType::kCeph, "n"};
  for (int variant = 0; variant < 2; ++variant) {
    RawClient c(variant == 0 ? server_.ro_path() : server_.rw_path());
    OpenRaw(c, variant == 0 ? 0 : kConnectReadOnly);
    c.Send(CallFrame(Proc::kSecretDefineXml, 2, DefineXmlArgs{"<secret/>", 0}));
    EXPECT_EQ(ErrorText(c), "29/30 operation forbidden: read only access prevents virSecretDefineXML");
    c.Send(CallFrame(Proc::kSecretSetValue, 3, SetValueArgs{handle, SecretBytes(std::string_view("x")), 0}));
    EXPECT_EQ(ErrorText(c), "29/30 operation forbidden: read only access prevents virSecretSetValue");
    c.Send(CallFrame(Proc::kSecretGetValue, 4, SecretFlagsArgs{handle, 0}));
    EXPECT_EQ(ErrorText(c), "29/30 operation forbidden: read only access prevents virSecretGetValue");
    c.Send(CallFrame(Proc::kSecretUndefine, 5, SecretHandle{handle}));
    EXPECT_EQ(ErrorText(c), "29/30 operation forbidden: read only access prevents virSecretUndefine");
    c.Send(CallFrame(Proc::kSecretGetXmlDesc, 6, SecretFlagsArgs{handle, 0}));
    EXPECT_EQ(ErrorText(c), "<ok>");
    c.Send(CallFrame(Proc::kConnectListAllSecrets, 7, ListAllArgs{1, 0}));
    auto list = c.ReadFrame();
    ASSERT_TRUE(list);
    EXPECT_EQ(DecodePayload<ListAllRet>(PayloadOf(*list))->secrets, std::vector<SecretRef>{handle});
  }
  EXPECT_EQ(server_.driver().NumOfSecrets(), 1);
}

TEST_F(RpcDispatchTest, ValueAndStringLimits) {
  ASSERT_TRUE(server_.driver().DefineXml(
      Caller{}, "<secret><uuid>11111111-2222-3333-4444-555555555555</uuid></secret>", 0));
  SecretRef handle{*Uuid::Parse("11111111-2222-3333-4444-555555555555"), UsageType::kNone, ""};
  RawClient c(server_.rw_path());
  OpenRaw(c);
  std::string big(kSecretValueMax, 'v');
  c.Send(CallFrame(Proc::kSecretSetValue, 2, SetValueArgs{handle, SecretBytes(std::string_view(big)), 0}));
  EXPECT_EQ(ErrorText(c), "<ok>");
  std::string over(kSecretValueMax + 1, 'w');
  c.Send(CallFrame(Proc::kSecretSetValue, 3, SetValueArgs{handle, SecretBytes(std::string_view(over)), 0}));
  EXPECT_EQ(ErrorText(c), "39/7 Unable to decode message payload");
  c.Send(CallFrame(Proc::kSecretGetValue, 4, SecretFlagsArgs{handle, 0}));
  auto value = c.ReadFrame();
  ASSERT_TRUE(value);
  EXPECT_EQ(DecodePayload<GetValueRet>(PayloadOf(*value))->value.AsStringView(), big);
  c.Send(CallFrame(Proc::kSecretDefineXml, 5, DefineXmlArgs{std::string(kStringMax + 1, ' '), 0}));
  EXPECT_EQ(ErrorText(c), "39/7 Unable to decode message payload");
  c.Send(CallFrame(Proc::kSecretSetValue, 6, SetValueArgs{handle, SecretBytes(), 0}));
  EXPECT_EQ(ErrorText(c), "8/30 value in virSecretSetValue must not be NULL");
}

TEST_F(RpcDispatchTest, BadLengthWordsCloseOnlyThatConnection) {
  RawClient good(server_.rw_path());
  OpenRaw(good);
  for (const char* word : {"00000008", "0000001b", "02000005", "ffffffff"}) {
    RawClient bad(server_.rw_path());
    bad.SendHex(word);
    EXPECT_TRUE(bad.SeesEof()) << word;
  }
  // Truncated frames and clients that vanish mid-call leave the daemon serving.
  {
    RawClient truncated(server_.rw_path());
    truncated.SendHex("000001002000808600000001");
  }
  {
    RawClient vanish(server_.rw_path());
    OpenRaw(vanish);
    vanish.Send(VoidCall(Proc::kConnectNumOfSecrets, 2));
  }
  good.Send(VoidCall(Proc::kConnectNumOfSecrets, 2));
  EXPECT_EQ(ErrorText(good), "<ok>");
}

TEST_F(RpcDispatchTest, GarbagePayloadsNeverChangeTheStore) {
  RawClient c(server_.rw_path());
  OpenRaw(c);
  std::uint32_t serial = 2;
  for (Proc proc :
       {Proc::kSecretDefineXml, Proc::kSecretSetValue, Proc::kSecretUndefine, Proc::kSecretGetValue,
        Proc::kConnectSecretEventRegisterAny, Proc::kConnectListAllSecrets}) {
    for (const char* hex : {"", "ff", "ffffffff", "7fffffff00000000", "0000000100000002ffffffff"}) {
      Header h;
      h.proc = static_cast<std::int32_t>(proc);
      h.serial = serial++;
      FrameBuilder b(h);
      WireBuffer bytes = test::FromHex(hex);
      b.payload().FixedOpaque(bytes);
      c.Send(*std::move(b).Finish());
      auto reply = c.ReadFrame();
      ASSERT_TRUE(reply) << static_cast<int>(proc) << " " << hex;
    }
  }
  EXPECT_EQ(server_.driver().NumOfSecrets(), 0);
}

TEST_F(RpcDispatchTest, PipelinedCallsAreAllAnswered) {
  RawClient c(server_.rw_path());
  WireBuffer batch;
  for (std::uint32_t s = 0; s < 4; ++s) {
    WireBuffer f = VoidCall(Proc::kAuthList, s);
    batch.insert(batch.end(), f.begin(), f.end());
  }
  c.Send(batch);
  for (std::uint32_t s = 0; s < 4; ++s) {
    auto reply = c.ReadFrame();
    ASSERT_TRUE(reply);
    EXPECT_EQ(HeaderOf(*reply).serial, s);
  }
}

TEST_F(RpcDispatchTest, ClientThatNeverReadsDoesNotBlockOthers) {
  ASSERT_TRUE(server_.driver().DefineXml(
      Caller{}, "<secret><uuid>11111111-2222-3333-4444-555555555555</uuid></secret>", 0));
  SecretRef handle{*Uuid::Parse("11111111-2222-3333-4444-555555555555"), UsageType::kNone, ""};
  ASSERT_TRUE(
      server_.driver().SetValue(Caller{}, handle.uuid, SecretBytes(std::string(kSecretValueMax, 'x')), 0));
  RawClient hog(server_.rw_path());
  OpenRaw(hog);
  // Ask for 64 KiB values without ever reading: megabytes pile up on the server side.
  ::fcntl(hog.fd(), F_SETFL, O_NONBLOCK);
  WireBuffer call = CallFrame(Proc::kSecretGetValue, 9, SecretFlagsArgs{handle, 0});
  for (int i = 0; i < 400; ++i) {
    if (::send(hog.fd(), call.data(), call.size(), MSG_NOSIGNAL) < 0) break;
  }
  RawClient other(server_.rw_path());
  OpenRaw(other);
  other.Send(VoidCall(Proc::kConnectNumOfSecrets, 2));
  EXPECT_EQ(ErrorText(other), "<ok>");
}

// Waits up to `ms` for the condition, polling.
template <typename F>
bool WaitFor(F done, int ms = 5000) {
  for (int i = 0; i < ms / 10; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// Reads and discards until the server closes the connection; false on timeout.
bool DrainsToEof(RawClient& c, int timeout_ms = 5000) {
  char sink[65536];
  for (;;) {
    pollfd pfd{c.fd(), POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return false;
    ssize_t n = ::recv(c.fd(), sink, sizeof sink, 0);
    if (n <= 0) return true;
  }
}

TEST(RpcServerLimitsTest, PipeliningClientThatNeverReadsIsHeldBackAndLosesNothing) {
  TestServer server;
  server.Start();
  ASSERT_TRUE(server.driver().DefineXml(
      Caller{}, "<secret><uuid>11111111-2222-3333-4444-555555555555</uuid></secret>", 0));
  SecretRef handle{*Uuid::Parse("11111111-2222-3333-4444-555555555555"), UsageType::kNone, ""};
  ASSERT_TRUE(
      server.driver().SetValue(Caller{}, handle.uuid, SecretBytes(std::string(kSecretValueMax, 'x')), 0));
  RawClient hog(server.rw_path());
  OpenRaw(hog);
  // Pipeline 64 KiB GET_VALUE calls without reading until the socket takes no more. Each call
  // is ~60 bytes: a server that kept taking calls would queue over a gigabyte of replies.
  ::fcntl(hog.fd(), F_SETFL, O_NONBLOCK);
  std::uint32_t sent = 0;
  for (std::uint32_t serial = 100; serial < 100 + 40000; ++serial) {
    WireBuffer call = CallFrame(Proc::kSecretGetValue, serial, SecretFlagsArgs{handle, 0});
    if (::send(hog.fd(), call.data(), call.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(call.size())) break;
    ++sent;
  }
  ASSERT_GT(sent, 100u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // At most max_client_requests (5) replies wait in the server; the kernel holds the rest.
  EXPECT_LE(server.server().QueuedOutputBytes(), 5u * (kSecretValueMax + 64));
  // Others are served meanwhile.
  RawClient other(server.rw_path());
  OpenRaw(other);
  other.Send(VoidCall(Proc::kConnectNumOfSecrets, 2));
  auto reply = other.ReadFrame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(HeaderOf(*reply).status, MessageStatus::kOk);
  // When the hog reads at last, every call it sent is answered, in order.
  ::fcntl(hog.fd(), F_SETFL, 0);
  for (std::uint32_t i = 0; i < sent; ++i) {
    auto r = hog.ReadFrame();
    ASSERT_TRUE(r) << "reply " << i << " of " << sent;
    ASSERT_EQ(HeaderOf(*r).serial, 100 + i);
    ASSERT_EQ(HeaderOf(*r).status, MessageStatus::kOk);
  }
  EXPECT_TRUE(WaitFor([&] { return server.server().QueuedOutputBytes() == 0; }));
}

TEST(RpcServerLimitsTest, ClientThatDoesNotReadItsEventsIsDisconnected) {
  ServerOptions options;
  options.max_client_output = 64 << 10;
  TestServer server(std::move(options));
  server.Start();
  RawClient deaf(server.rw_path());
  OpenRaw(deaf);
  deaf.Send(CallFrame(Proc::kConnectSecretEventRegisterAny, 2, EventRegisterArgs{0, std::nullopt}));
  ASSERT_TRUE(deaf.ReadFrame());
  // Shrink the client's receive buffer so the kernel cannot absorb the flood.
  int small = 4096;
  ::setsockopt(deaf.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  RawClient reader(server.rw_path());
  OpenRaw(reader);
  reader.Send(CallFrame(Proc::kConnectSecretEventRegisterAny, 2, EventRegisterArgs{0, std::nullopt}));
  ASSERT_TRUE(reader.ReadFrame());
  constexpr int kRounds = 5000;  // two lifecycle events (~64 bytes each) per round
  // The reading client must never fall 64 KiB behind either (it would be cut off as well, which
  // is right): on a loaded machine its thread can be descheduled for a while, so the producer
  // waits whenever the reader is more than kWindow events (~13 KiB) behind. The deaf client
  // falls behind regardless.
  constexpr int kWindow = 200;
  std::atomic<int> events = 0;
  std::thread consumer([&] {
    while (events.load() < 2 * kRounds && reader.ReadFrame()) ++events;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < kRounds; ++i) {
    while (events.load() < 2 * i - kWindow && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    auto ref = server.driver().DefineXml(Caller{}, "<secret ephemeral='yes'/>", 0);
    ASSERT_TRUE(ref);
    ASSERT_TRUE(server.driver().Undefine(Caller{}, ref->uuid));
  }
  consumer.join();
  // The client that reads got every event; the one that does not was cut off, and the
  // server holds nothing more for it.
  EXPECT_EQ(events, 2 * kRounds);
  EXPECT_TRUE(DrainsToEof(deaf));
  EXPECT_TRUE(WaitFor([&] { return server.server().QueuedOutputBytes() == 0; }));
}

TEST(RpcServerLimitsTest, EventCallbacksPerConnectionAreLimited) {
  ServerOptions options;
  options.max_client_event_callbacks = 2;
  TestServer server(std::move(options));
  server.Start();
  RawClient c(server.rw_path());
  OpenRaw(c);
  c.Send(CallFrame(Proc::kConnectSecretEventRegisterAny, 2, EventRegisterArgs{0, std::nullopt}));
  auto first = c.ReadFrame();
  ASSERT_TRUE(first);
  ASSERT_EQ(HeaderOf(*first).status, MessageStatus::kOk);
  c.Send(CallFrame(Proc::kConnectSecretEventRegisterAny, 3, EventRegisterArgs{1, std::nullopt}));
  auto second = c.ReadFrame();
  ASSERT_TRUE(second);
  ASSERT_EQ(HeaderOf(*second).status, MessageStatus::kOk);
  SecretRef some{*Uuid::Parse("11111111-2222-3333-4444-555555555555"), UsageType::kNone, ""};
  c.Send(CallFrame(Proc::kConnectSecretEventRegisterAny, 4, EventRegisterArgs{0, some}));
  auto refused = c.ReadFrame();
  ASSERT_TRUE(refused);
  ASSERT_EQ(HeaderOf(*refused).status, MessageStatus::kError);
  EXPECT_EQ(ErrorOf(*refused).message(),
            "operation failed: too many secret event callbacks on this connection "
            "(max_client_event_callbacks 2)");
  EXPECT_EQ(ErrorOf(*refused).code(), ErrorCode::kOperationFailed);
  // Another connection has its own allowance; a freed slot can be used again.
  RawClient d(server.rw_path());
  OpenRaw(d);
  d.Send(CallFrame(Proc::kConnectSecretEventRegisterAny, 2, EventRegisterArgs{0, some}));
  auto other = d.ReadFrame();
  ASSERT_TRUE(other);
  EXPECT_EQ(HeaderOf(*other).status, MessageStatus::kOk);
  int id = DecodePayload<IntValue>(PayloadOf(*first))->value;
  c.Send(CallFrame(Proc::kConnectSecretEventDeregisterAny, 5, IntValue{id}));
  ASSERT_TRUE(c.ReadFrame());
  c.Send(CallFrame(Proc::kConnectSecretEventRegisterAny, 6, EventRegisterArgs{0, some}));
  auto again = c.ReadFrame();
  ASSERT_TRUE(again);
  EXPECT_EQ(HeaderOf(*again).status, MessageStatus::kOk);
}

TEST(RpcServerLimitsTest, PartialFramesShareOneMemoryBudget) {
  ServerOptions options;
  options.max_pending_input = 1 << 20;
  TestServer server(std::move(options));
  server.Start();
  auto announce = [](RawClient& c, std::size_t bytes) {
    WireBuffer head = test::FromHex("02000004");  // a 32 MiB frame
    head.resize(bytes, 0);
    c.Send(head);
  };
  // Announcing a huge frame costs nothing until its bytes arrive.
  RawClient idle(server.rw_path());
  announce(idle, 4);
  RawClient big(server.rw_path());
  announce(big, 600000);
  ASSERT_TRUE(WaitFor([&] { return server.server().PendingInputBytes() >= 500000; }));
  EXPECT_LE(server.server().PendingInputBytes(), std::size_t{1} << 20);
  // A second large partial frame does not fit in what is left: that client is dropped.
  RawClient greedy(server.rw_path());
  announce(greedy, 700000);
  EXPECT_TRUE(DrainsToEof(greedy));
  EXPECT_LE(server.server().PendingInputBytes(), std::size_t{1} << 20);
  // The first ones are still connected and served (a new client too).
  RawClient fresh(server.rw_path());
  fresh.Send(VoidCall(Proc::kAuthList, 0));
  EXPECT_TRUE(fresh.ReadFrame());
  EXPECT_FALSE(big.SeesEof(200));
  // Their memory comes back when they go.
  big = RawClient(server.rw_path());
  EXPECT_TRUE(WaitFor([&] { return server.server().PendingInputBytes() == 0; }));
}

TEST(RpcServerPolicyTest, RefusedPeerGetsAuthenticationError) {
  ServerOptions options;
  options.rw_peer_check = [](const PeerCredentials&) -> std::optional<std::string> {
    return "uid 7 is not allowed";
  };
  TestServer server(std::move(options));
  server.Start();
  RawClient c(server.rw_path());
  c.Send(VoidCall(Proc::kAuthList, 0));
  auto reply = c.ReadFrame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(ErrorOf(*reply).message(), "authentication failed: uid 7 is not allowed");
  EXPECT_EQ(ErrorOf(*reply).code(), ErrorCode::kAuthFailed);
  // The read-only socket does not ask.
  RawClient ro(server.ro_path());
  ro.Send(VoidCall(Proc::kAuthList, 0));
  reply = ro.ReadFrame();
  ASSERT_TRUE(reply);
  EXPECT_EQ(HeaderOf(*reply).status, MessageStatus::kOk);
}

TEST(RpcServerPolicyTest, ServerPingsAndDropsSilentKeepAliveClients) {
  ServerOptions options;
  options.keepalive_interval = 1;
  options.keepalive_count = 1;
  TestServer server(std::move(options));
  server.Start();
  RawClient quiet(server.rw_path());
  quiet.Send(CallFrame(Proc::kConnectSupportsFeature, 0, IntValue{kFeatureProgramKeepAlive}));
  ASSERT_TRUE(quiet.ReadFrame());
  EXPECT_EQ(quiet.ReadHex(3000), "0000001c6b6565700000000100000001000000020000000000000000");  // PING
  EXPECT_TRUE(quiet.SeesEof(4000));
  // A client that never asked about keepalive is never pinged.
  RawClient plain(server.rw_path());
  plain.Send(VoidCall(Proc::kAuthList, 0));
  ASSERT_TRUE(plain.ReadFrame());
  EXPECT_FALSE(plain.ReadFrame(2500));
}

TEST(RpcServerPolicyTest, IdleTimeoutStopsTheLoop) {
  ServerOptions options;
  options.idle_timeout = 1;
  TestServer server(std::move(options));
  server.Start();
  server.thread().join();
  EXPECT_EQ(server.stop_reason(), RpcServer::StopReason::kIdle);
}

TEST(RpcServerPolicyTest, EphemeralSecretsKeepAnIdleServerAlive) {
  ServerOptions options;
  options.idle_timeout = 1;
  TestServer server(std::move(options));
  ASSERT_TRUE(server.driver().DefineXml(Caller{}, "<secret ephemeral='yes'/>", 0));
  server.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  RawClient c(server.rw_path());
  EXPECT_TRUE(c.connected());
  c.Send(VoidCall(Proc::kAuthList, 0));
  EXPECT_TRUE(c.ReadFrame());
}

}  // namespace
}  // namespace vsecret::rpc
