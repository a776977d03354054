// secret-event: output and status for events, timeouts and interrupts. Event lines and the
// summary are those virsh 9.0 printed through a session daemon.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <thread>

#include "cli/secret_event_command.h"
#include "cli_test_support.h"

namespace vsecret::cli {
namespace {

using test::CliHarness;
using test::CliResult;
using test::kUuid1;
using test::kUuid2;

SecretEvent Lifecycle(const char* uuid, LifecycleEvent kind) {
  SecretEvent e;
  e.id = SecretEventId::kLifecycle;
  e.secret.uuid = *Uuid::Parse(uuid);
  e.lifecycle = kind;
  return e;
}

SecretEvent ValueChanged(const char* uuid) {
  SecretEvent e;
  e.id = SecretEventId::kValueChanged;
  e.secret.uuid = *Uuid::Parse(uuid);
  return e;
}

// Fires the events once a listener is registered, from another thread as a driver would.
std::thread FireWhenListening(CliHarness& h, std::vector<SecretEvent> events, bool then_interrupt = false) {
  auto store = h.store;
  return std::thread([store, events, then_interrupt] {
    while (store->ListenerCount() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (const auto& e : events) store->Fire(e);
    if (then_interrupt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      InterruptEventWait();
    }
  });
}

TEST(CliEventTest, List) {
  CliHarness h;
  CliResult r = h.Run({"-c", "fake:///x", "secret-event", "--list"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "lifecycle\nvalue-changed\n\n");
  EXPECT_EQ(h.Run({"-q", "-c", "fake:///x", "secret-event", "--list", "--event", "foo"}).out,
            "lifecycle\nvalue-changed\n");
}

TEST(CliEventTest, ArgumentErrors) {
  CliHarness h;
  CliResult r = h.Run({"-c", "fake:///x", "secret-event"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "\n");
  EXPECT_EQ(r.err, "error: either --list or --event <type> is required\n");
  EXPECT_EQ(h.Run({"-c", "fake:///x", "secret-event", "--event", "foo"}).err,
            "error: unknown event type foo\n");
  EXPECT_EQ(h.Run({"-c", "fake:///x", "secret-event", "--event="}).err,
            "error: Failed to get option 'event': Option argument is empty\n");
}

TEST(CliEventTest, FirstEventEndsTheWait) {
  CliHarness h;
  std::thread fire = FireWhenListening(
      h, {Lifecycle(kUuid1, LifecycleEvent::kDefined), Lifecycle(kUuid1, LifecycleEvent::kUndefined)});
  CliResult r = h.Run({"-c", "fake:///x", "secret-event", "--event", "lifecycle", "--timeout", "5"});
  fire.join();
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out,
            std::string("event 'lifecycle' for secret ") + kUuid1 + ": Defined\nevents received: 1\n\n");
  EXPECT_EQ(h.store->ListenerCount(), 0u);  // deregistered
}

TEST(CliEventTest, LoopUntilTimeout) {
  CliHarness h;
  std::thread fire = FireWhenListening(h, {ValueChanged(kUuid1), ValueChanged(kUuid2)});
  CliResult r =
      h.Run({"-c", "fake:///x", "secret-event", "--event", "value-changed", "--loop", "--timeout", "1"});
  fire.join();
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, std::string("event 'value-changed' for secret ") + kUuid1 +
                       "\nevent 'value-changed' for secret " + kUuid2 +
                       "\nevent loop timed out\nevents received: 2\n\n");
}

TEST(CliEventTest, TimeoutWithoutEventsFails) {
  CliHarness h;
  CliResult r = h.Run({"-c", "fake:///x", "secret-event", "--event", "lifecycle", "--timeout", "1"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "event loop timed out\nevents received: 0\n\n");
  EXPECT_EQ(r.err, "");
  r = h.Run({"-q", "-c", "fake:///x", "secret-event", "--event", "lifecycle", "--timeout", "1"});
  EXPECT_EQ(r.out, "event loop timed out\nevents received: 0\n");
}

TEST(CliEventTest, InterruptEndsTheLoop) {
  CliHarness h;
  std::thread fire =
      FireWhenListening(h, {Lifecycle(kUuid2, LifecycleEvent::kUndefined)}, /*then_interrupt=*/true);
  CliResult r = h.Run({"-c", "fake:///x", "secret-event", "--event", "lifecycle", "--loop"});
  fire.join();
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, std::string("event 'lifecycle' for secret ") + kUuid2 +
                       ": Undefined\nevent loop interrupted\nevents received: 1\n\n");
}

TEST(CliEventTest, TimestampPrefix) {
  CliHarness h;
  std::thread fire = FireWhenListening(h, {ValueChanged(kUuid1)});
  CliResult r = h.Run({"-c", "fake:///x", "secret-event", "--event", "value-changed", "--timestamp"});
  fire.join();
  std::regex line(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: event 'value-changed' for secret )" +
                  std::string(kUuid1) + "\nevents received: 1\n\n");
  EXPECT_TRUE(std::regex_match(r.out, line)) << r.out;
}

TEST(CliEventTest, FilterBySecret) {
  CliHarness h;
  h.store->Add(kUuid1);
  std::thread fire = FireWhenListening(h, {ValueChanged(kUuid2), ValueChanged(kUuid1)});
  CliResult r =
      h.Run({"-q", "-c", "fake:///x", "secret-event", "--event", "value-changed", "--secret", kUuid1});
  fire.join();
  EXPECT_EQ(r.out, std::string("event 'value-changed' for secret ") + kUuid1 + "\nevents received: 1\n");
}

TEST(CliEventTest, UnknownSecretIsReportedThenEverythingIsWatched) {
  CliHarness h;
  CliResult r =
      h.Run({"-c", "fake:///x", "secret-event", "--event", "lifecycle", "--timeout", "1", "--secret", "zzz"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "event loop timed out\nevents received: 0\n\n");
  EXPECT_EQ(r.err,
            "error: failed to get secret 'zzz'\n"
            "error: uuidstr in virSecretLookupByUUIDString must be a valid UUID\n");
}

TEST(CliEventTest, DeregisterFailureFailsTheCommand) {
  CliHarness h;
  h.store->fail_next_deregister =
      Error(ErrorCode::kRpc, ErrorDomain::kRpc, "internal error: connection closed");
  std::thread fire = FireWhenListening(h, {ValueChanged(kUuid1)});
  CliResult r = h.Run({"-q", "-c", "fake:///x", "secret-event", "--event", "value-changed"});
  fire.join();
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "error: internal error: connection closed\n");
}

}  // namespace
}  // namespace vsecret::cli
