// EventBus: secret lifecycle and value-changed events for in-process listeners
// (secret-driver spec §2.7).
//
// Thread-safety: all methods are safe from any thread. Callbacks run on the thread that
// calls Dispatch(), after the driver has released its own lock, and never while the bus's
// mutex is held, so a callback may register or deregister (itself included).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "vsecret/connection.h"
#include "vsecret/secret.h"

namespace vsecret {

class EventBus {
 public:
  // Returns the callback id; ids are never reused within one bus.
  int Register(SecretEventId id, std::optional<Uuid> filter, SecretEventCallback callback);
  // Fails with "invalid argument: could not find event callback <id> for deletion".
  Result<void> Deregister(int callback_id);
  // Delivers each event to every matching listener, in order.
  void Dispatch(const std::vector<SecretEvent>& events);
  std::size_t ListenerCount() const;

 private:
  struct Listener {
    SecretEventId id;
    std::optional<Uuid> filter;
    std::shared_ptr<SecretEventCallback> callback;
  };
  mutable std::mutex mutex_;
  std::map<int, Listener> listeners_;  // guarded by mutex_
  int next_id_ = 1;                    // guarded by mutex_
};

}  // namespace vsecret
