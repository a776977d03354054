#include "driver/event_bus.h"

#include <gtest/gtest.h>

#include <vector>

namespace vsecret {
namespace {

SecretEvent Lifecycle(const Uuid& u, LifecycleEvent e) {
  return SecretEvent{SecretEventId::kLifecycle, SecretRef{u, UsageType::kNone, ""}, e, 0};
}

TEST(EventBus, DeliversByIdAndFilter) {
  EventBus bus;
  Uuid a = Uuid::Random(), b = Uuid::Random();
  std::vector<std::string> got;
  bus.Register(SecretEventId::kLifecycle, std::nullopt,
               [&](const SecretEvent& e) { got.push_back("all:" + e.secret.uuid.ToString()); });
  bus.Register(SecretEventId::kLifecycle, a,
               [&](const SecretEvent& e) { got.push_back("a:" + e.secret.uuid.ToString()); });
  bus.Register(SecretEventId::kValueChanged, std::nullopt,
               [&](const SecretEvent&) { got.push_back("value"); });
  bus.Dispatch({Lifecycle(a, LifecycleEvent::kDefined), Lifecycle(b, LifecycleEvent::kUndefined)});
  EXPECT_EQ(got,
            (std::vector<std::string>{"all:" + a.ToString(), "a:" + a.ToString(), "all:" + b.ToString()}));
}

TEST(EventBus, DeregisterStopsDeliveryAndUnknownIdFails) {
  EventBus bus;
  int count = 0;
  int id = bus.Register(SecretEventId::kLifecycle, std::nullopt, [&](const SecretEvent&) { ++count; });
  EXPECT_GT(id, 0);
  ASSERT_TRUE(bus.Deregister(id));
  bus.Dispatch({Lifecycle(Uuid::Random(), LifecycleEvent::kDefined)});
  EXPECT_EQ(count, 0);
  auto again = bus.Deregister(id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message(),
            "invalid argument: could not find event callback " + std::to_string(id) + " for deletion");
}

TEST(EventBus, CallbackMayDeregisterItselfAndOthers) {
  EventBus bus;
  int first = 0, second = 0;
  int id2 = 0;
  int id1 = bus.Register(SecretEventId::kLifecycle, std::nullopt, [&](const SecretEvent&) {
    ++first;
    (void)bus.Deregister(id2);
  });
  id2 = bus.Register(SecretEventId::kLifecycle, std::nullopt, [&](const SecretEvent&) { ++second; });
  bus.Dispatch({Lifecycle(Uuid::Random(), LifecycleEvent::kDefined)});
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 0);
  EXPECT_TRUE(bus.Deregister(id1));
  EXPECT_EQ(bus.ListenerCount(), 0u);
}

TEST(EventApiChecksTest, MadeOnceForEveryConnection) {
  EXPECT_TRUE(CheckSecretEventId(SecretEventId::kLifecycle).has_value());
  EXPECT_TRUE(CheckSecretEventId(SecretEventId::kValueChanged).has_value());
  auto bad = CheckSecretEventId(static_cast<SecretEventId>(2));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArg);
  EXPECT_EQ(bad.error().message(), "eventID in virConnectSecretEventRegisterAny must be less than 2");
  EXPECT_FALSE(CheckSecretEventId(static_cast<SecretEventId>(-1)).has_value());
  EXPECT_EQ(NoSuchEventCallback(7).error().message(),
            "invalid argument: could not find event callback 7 for deletion");
  EventBus bus;
  EXPECT_EQ(bus.Deregister(3).error().message(), NoSuchEventCallback(3).error().message());
}

}  // namespace
}  // namespace vsecret
