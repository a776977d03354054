// EventBus: secret lifecycle and value-changed events for in-process listeners.
//
// Thread-safety: all methods are safe from any thread. Callbacks run on the thread that
// calls Dispatch(), after the driver has released its own lock, and never while the bus's
// mutex is held, so a callback may register or deregister (itself included).
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "base/thread_annotations.h"
#include "vsecret/connection.h"
#include "vsecret/error.h"
#include "vsecret/secret.h"

namespace vsecret {

// The argument checks libvirt makes once, above every driver (virConnectSecretEventRegisterAny
// and ...DeregisterAny), shared by every connection type:
//   an event id out of range: "eventID in virConnectSecretEventRegisterAny must be less than 2"
//   an unknown callback id:   "invalid argument: could not find event callback <id> for deletion"
// (both INVALID_ARG).
Result<void> CheckSecretEventId(SecretEventId id);
std::unexpected<Error> NoSuchEventCallback(int callback_id);

class EventBus {
 public:
  // Returns the callback id; ids are never reused within one bus.
  int Register(SecretEventId id, std::optional<Uuid> filter, SecretEventCallback callback) EXCLUDES(mutex_);
  // Fails with "invalid argument: could not find event callback <id> for deletion".
  Result<void> Deregister(int callback_id) EXCLUDES(mutex_);
  // Delivers each event to every matching listener, in order.
  void Dispatch(const std::vector<SecretEvent>& events) EXCLUDES(mutex_);
  std::size_t ListenerCount() const EXCLUDES(mutex_);

 private:
  struct Listener {
    SecretEventId id;
    std::optional<Uuid> filter;
    std::shared_ptr<SecretEventCallback> callback;
  };
  mutable Mutex mutex_;
  std::map<int, Listener> listeners_ GUARDED_BY(mutex_);
  int next_id_ GUARDED_BY(mutex_) = 1;
};

}  // namespace vsecret
