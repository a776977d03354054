// RemoteConnection (the client side) against the in-process server, and event delivery on the
// wire: callback ids, filters, one MESSAGE per matching registration, cleanup on disconnect.
#include "client/remote_connection.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>

#include "rpc_test_support.h"

namespace vsecret {
namespace {

using rpc::test::CallFrame;
using rpc::test::HeaderOf;
using rpc::test::OpenRaw;
using rpc::test::PayloadOf;
using rpc::test::RawClient;
using rpc::test::TestServer;

constexpr char kCephXml[] =
    "<secret ephemeral='no' private='no'>\n  <uuid>aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</uuid>\n"
    "  <usage type='ceph'>\n    <name>client.admin secret</name>\n  </usage>\n</secret>\n";
const Uuid kCephUuid = *Uuid::Parse("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");

class RpcRemoteConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.Start(); }
  std::unique_ptr<RemoteConnection> Open(bool read_only = false, bool ro_socket = false) {
    std::string path = ro_socket ? server_.ro_path() : server_.rw_path();
    auto uri = ParseConnectionUri("secret+unix:///system?socket=" + path);
    auto conn = RemoteConnection::Open("secret+unix:///system?socket=" + path, *uri, read_only);
    EXPECT_TRUE(conn) << (conn ? "" : conn.error().message());
    return conn ? std::move(*conn) : nullptr;
  }
  TestServer server_;
};

// Collects events delivered on the connection's event thread.
struct EventLog {
  void Add(const SecretEvent& e) {
    std::lock_guard<std::mutex> lock(mutex);
    events.push_back(e);
    cv.notify_all();
  }
  bool WaitFor(std::size_t n) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(5), [&] { return events.size() >= n; });
  }
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<SecretEvent> events;
};

TEST_F(RpcRemoteConnectionTest, EverySecretCall) {
  auto conn = Open();
  ASSERT_TRUE(conn);
  auto ref = conn->DefineXml(kCephXml, 0);
  ASSERT_TRUE(ref) << ref.error().message();
  EXPECT_EQ(*ref, (SecretRef{kCephUuid, UsageType::kCeph, "client.admin secret"}));
  ASSERT_TRUE(conn->SetValue(kCephUuid, SecretBytes(std::string_view("s3cret")), 0));
  auto value = conn->GetValue(kCephUuid, 0);
  ASSERT_TRUE(value);
  EXPECT_EQ(value->AsStringView(), "s3cret");
  EXPECT_EQ(*conn->GetXmlDesc(kCephUuid, 0), kCephXml);
  EXPECT_EQ(*conn->LookupByUuid(kCephUuid), *ref);
  EXPECT_EQ(*conn->LookupByUsage(2, "client.admin secret"), *ref);
  EXPECT_EQ(conn->LookupByUsage(1, "client.admin secret").error().message(),
            "Secret not found: no secret with matching usage 'client.admin secret'");
  EXPECT_EQ(*conn->NumOfSecrets(), 1);
  EXPECT_EQ(*conn->ListUuids(10), std::vector<std::string>{"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"});
  EXPECT_EQ(conn->ListAll(kListNoEphemeral)->size(), 1u);
  EXPECT_EQ(conn->ListAll(kListEphemeral)->size(), 0u);
  EXPECT_EQ(conn->GetValue(kCephUuid, 1).error().message(),
            "unsupported flags (0x1) in function secretGetValue");
  ASSERT_TRUE(conn->Undefine(kCephUuid));
  auto gone = conn->GetXmlDesc(kCephUuid, 0);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kNoSecret);
  EXPECT_EQ(gone.error().domain(), ErrorDomain::kSecret);
}

TEST_F(RpcRemoteConnectionTest, ReadOnlyConnections) {
  ASSERT_TRUE(server_.driver().DefineXml(Caller{}, kCephXml, 0));
  for (bool ro_socket : {false, true}) {
    auto conn = Open(/*read_only=*/true, ro_socket);
    ASSERT_TRUE(conn);
    EXPECT_TRUE(conn->IsReadOnly());
    EXPECT_EQ(conn->DefineXml(kCephXml, 0).error().message(),
              "operation forbidden: read only access prevents virSecretDefineXML");
    EXPECT_EQ(conn->GetValue(kCephUuid, 0).error().code(), ErrorCode::kOperationDenied);
    EXPECT_TRUE(conn->GetXmlDesc(kCephUuid, 0));
    EXPECT_EQ(conn->ListAll(0)->size(), 1u);
  }
}

TEST_F(RpcRemoteConnectionTest, EventsReachOtherConnections) {
  auto watcher = Open();
  auto writer = Open();
  ASSERT_TRUE(watcher && writer);
  EventLog all, filtered;
  auto life = watcher->RegisterEvent(SecretEventId::kLifecycle, std::nullopt,
                                     [&](const SecretEvent& e) { all.Add(e); });
  auto value = watcher->RegisterEvent(SecretEventId::kValueChanged, kCephUuid,
                                      [&](const SecretEvent& e) { filtered.Add(e); });
  ASSERT_TRUE(life && value);
  EXPECT_EQ(server_.driver().events().ListenerCount(), 2u);

  ASSERT_TRUE(writer->DefineXml(kCephXml, 0));
  ASSERT_TRUE(writer->SetValue(kCephUuid, SecretBytes(std::string_view("v")), 0));
  ASSERT_TRUE(writer->DefineXml("<secret><uuid>11111111-2222-3333-4444-555555555555</uuid></secret>", 0));
  ASSERT_TRUE(writer->SetValue(*Uuid::Parse("11111111-2222-3333-4444-555555555555"),
                               SecretBytes(std::string_view("v")), 0));
  ASSERT_TRUE(writer->Undefine(kCephUuid));

  ASSERT_TRUE(all.WaitFor(3));
  ASSERT_TRUE(filtered.WaitFor(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(all.events.size(), 3u);
  EXPECT_EQ(all.events[0].secret, (SecretRef{kCephUuid, UsageType::kCeph, "client.admin secret"}));
  EXPECT_EQ(all.events[0].lifecycle, LifecycleEvent::kDefined);
  EXPECT_EQ(all.events[2].lifecycle, LifecycleEvent::kUndefined);
  ASSERT_EQ(filtered.events.size(), 1u);  // the other secret's value change is filtered out
  EXPECT_EQ(filtered.events[0].id, SecretEventId::kValueChanged);

  ASSERT_TRUE(watcher->DeregisterEvent(*life));
  EXPECT_EQ(server_.driver().events().ListenerCount(), 1u);
  EXPECT_FALSE(watcher->DeregisterEvent(*life));
  watcher.reset();  // closing drops the remaining server registration
  for (int i = 0; i < 100 && server_.driver().events().ListenerCount() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server_.driver().events().ListenerCount(), 0u);
}

TEST_F(RpcRemoteConnectionTest, IdenticalRegistrationsShareOneServerCallback) {
  auto conn = Open();
  EventLog a, b;
  auto id1 =
      conn->RegisterEvent(SecretEventId::kLifecycle, std::nullopt, [&](const SecretEvent& e) { a.Add(e); });
  auto id2 =
      conn->RegisterEvent(SecretEventId::kLifecycle, std::nullopt, [&](const SecretEvent& e) { b.Add(e); });
  ASSERT_TRUE(id1 && id2);
  EXPECT_NE(*id1, *id2);
  EXPECT_EQ(server_.driver().events().ListenerCount(), 1u);
  ASSERT_TRUE(conn->DefineXml(kCephXml, 0));  // the connection's own change is delivered too
  EXPECT_TRUE(a.WaitFor(1));
  EXPECT_TRUE(b.WaitFor(1));
  ASSERT_TRUE(conn->DeregisterEvent(*id1));
  EXPECT_EQ(server_.driver().events().ListenerCount(), 1u);
  ASSERT_TRUE(conn->DeregisterEvent(*id2));
  EXPECT_EQ(server_.driver().events().ListenerCount(), 0u);
}

TEST_F(RpcRemoteConnectionTest, WireEventsCarryEachRegistrationsId) {
  RawClient c(server_.rw_path());
  OpenRaw(c);
  c.Send(CallFrame(rpc::Proc::kConnectSecretEventRegisterAny, 2, rpc::EventRegisterArgs{0, std::nullopt}));
  int all_id = rpc::DecodePayload<rpc::IntValue>(PayloadOf(*c.ReadFrame()))->value;
  c.Send(CallFrame(rpc::Proc::kConnectSecretEventRegisterAny, 3,
                   rpc::EventRegisterArgs{0, SecretRef{kCephUuid, UsageType::kNone, ""}}));
  int one_id = rpc::DecodePayload<rpc::IntValue>(PayloadOf(*c.ReadFrame()))->value;
  EXPECT_NE(all_id, one_id);
  c.Send(CallFrame(rpc::Proc::kConnectSecretEventRegisterAny, 4, rpc::EventRegisterArgs{0, std::nullopt}));
  EXPECT_EQ(rpc::test::ErrorOf(*c.ReadFrame()).message(), "invalid argument: event callback already tracked");
  c.Send(CallFrame(rpc::Proc::kConnectSecretEventRegisterAny, 5, rpc::EventRegisterArgs{7, std::nullopt}));
  EXPECT_EQ(rpc::test::ErrorOf(*c.ReadFrame()).message(), "internal error: unsupported secret event ID 7");
  c.Send(CallFrame(rpc::Proc::kConnectSecretEventDeregisterAny, 6, rpc::IntValue{12345}));
  EXPECT_EQ(rpc::test::ErrorOf(*c.ReadFrame()).message(),
            "internal error: secret event callback 12345 not registered");

  ASSERT_TRUE(server_.driver().DefineXml(Caller{}, kCephXml, 0));
  std::set<int> ids;
  for (int i = 0; i < 2; ++i) {
    auto msg = c.ReadFrame();
    ASSERT_TRUE(msg);
    rpc::Header h = HeaderOf(*msg);
    EXPECT_EQ(h.type, rpc::MessageType::kMessage);
    EXPECT_EQ(h.proc, 382);
    EXPECT_EQ(h.serial, 1u);
    auto life = rpc::DecodePayload<rpc::LifecycleMsg>(PayloadOf(*msg));
    EXPECT_EQ(life->secret, (SecretRef{kCephUuid, UsageType::kCeph, "client.admin secret"}));
    ids.insert(life->callback_id);
  }
  EXPECT_EQ(ids, (std::set<int>{all_id, one_id}));
}

TEST(RpcOpenNameTest, StripsTransportHostAndClientParameters) {
  auto name = [](const char* text) { return RemoteConnection::OpenNameFor(*ParseConnectionUri(text)); };
  EXPECT_EQ(name("secret:///system"), "secret:///system");
  EXPECT_EQ(name("secret+unix:///system?socket=/tmp/x"), "secret:///system");
  EXPECT_EQ(name("secret+tcp://127.0.0.1:26509/system"), "secret:///system");
  EXPECT_EQ(name("secret+unix:///system?socket=/x&foo=bar"), "secret:///system?foo=bar");
  EXPECT_EQ(name("secret:///session?name=secret:///system"), "secret:///system");
}

TEST(RpcOpenNameTest, MissingSocketIsLibvirtsConnectError) {
  auto conn = OpenConnection("secret+unix:///system?socket=/nonexistent/vsecret-sock", false);
  ASSERT_FALSE(conn);
  EXPECT_EQ(conn.error().message(),
            "Failed to connect socket to '/nonexistent/vsecret-sock': No such file or directory");
}

}  // namespace
}  // namespace vsecret
