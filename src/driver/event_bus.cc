#include "driver/event_bus.h"

#include <memory>
#include <string>

namespace vsecret {

int EventBus::Register(SecretEventId id, std::optional<Uuid> filter, SecretEventCallback callback) {
  std::lock_guard<std::mutex> lock(mutex_);
  int callback_id = next_id_++;
  listeners_.emplace(callback_id,
                     Listener{id, filter, std::make_shared<SecretEventCallback>(std::move(callback))});
  return callback_id;
}

Result<void> EventBus::Deregister(int callback_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (listeners_.erase(callback_id) == 0) {
    return Fail(ErrorCode::kInvalidArg, ErrorDomain::kNone,
                "invalid argument: could not find event callback " + std::to_string(callback_id) +
                    " for deletion");
  }
  return {};
}

void EventBus::Dispatch(const std::vector<SecretEvent>& events) {
  for (const SecretEvent& event : events) {
    // Snapshot the matching listeners so callbacks run without the mutex held.
    std::vector<std::pair<int, std::shared_ptr<SecretEventCallback>>> targets;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& [cid, listener] : listeners_) {
        if (listener.id != event.id) continue;
        if (listener.filter && *listener.filter != event.secret.uuid) continue;
        targets.emplace_back(cid, listener.callback);
      }
    }
    for (const auto& [cid, callback] : targets) {
      {
        // A listener deregistered by an earlier callback of this round must not fire.
        std::lock_guard<std::mutex> lock(mutex_);
        if (!listeners_.contains(cid)) continue;
      }
      (*callback)(event);
    }
  }
}

std::size_t EventBus::ListenerCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return listeners_.size();
}

}  // namespace vsecret
