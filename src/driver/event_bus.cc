#include "driver/event_bus.h"

#include <memory>
#include <string>

namespace vsecret {

Result<void> CheckSecretEventId(SecretEventId id) {
  const int raw = static_cast<int>(id);
  if (raw < 0 || raw > static_cast<int>(SecretEventId::kValueChanged)) {
    return InvalidArg(ErrorDomain::kSecret,
                      "eventID in virConnectSecretEventRegisterAny must be less than " +
                          std::to_string(static_cast<int>(SecretEventId::kValueChanged) + 1));
  }
  return {};
}

std::unexpected<Error> NoSuchEventCallback(int callback_id) {
  std::string message = "invalid argument: could not find event callback ";
  message.append(std::to_string(callback_id)).append(" for deletion");
  return Fail(ErrorCode::kInvalidArg, ErrorDomain::kNone, std::move(message));
}

int EventBus::Register(SecretEventId id, std::optional<Uuid> filter, SecretEventCallback callback) {
  MutexLock lock(mutex_);
  int callback_id = next_id_++;
  listeners_.emplace(callback_id,
                     Listener{id, filter, std::make_shared<SecretEventCallback>(std::move(callback))});
  return callback_id;
}

Result<void> EventBus::Deregister(int callback_id) {
  MutexLock lock(mutex_);
  if (listeners_.erase(callback_id) == 0) return NoSuchEventCallback(callback_id);
  return {};
}

void EventBus::Dispatch(const std::vector<SecretEvent>& events) {
  for (const SecretEvent& event : events) {
    // Snapshot the matching listeners so callbacks run without the mutex held.
    std::vector<std::pair<int, std::shared_ptr<SecretEventCallback>>> targets;
    {
      MutexLock lock(mutex_);
      for (const auto& [cid, listener] : listeners_) {
        if (listener.id != event.id) continue;
        if (listener.filter && *listener.filter != event.secret.uuid) continue;
        targets.emplace_back(cid, listener.callback);
      }
    }
    for (const auto& [cid, callback] : targets) {
      {
        // A listener deregistered by an earlier callback of this round must not fire.
        MutexLock lock(mutex_);
        if (!listeners_.contains(cid)) continue;
      }
      (*callback)(event);
    }
  }
}

std::size_t EventBus::ListenerCount() const {
  MutexLock lock(mutex_);
  return listeners_.size();
}

}  // namespace vsecret
