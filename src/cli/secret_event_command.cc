#include "cli/secret_event_command.h"

#include <signal.h>
#include <sys/time.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "base/thread_annotations.h"
#include "cli/command_parser.h"
#include "cli/shell.h"

namespace vsecret::cli {
namespace {

// Set from the SIGINT handler; a lock-free atomic is async-signal-safe, a condition variable
// is not, so the waiter polls this flag between short waits.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

constexpr auto kInterruptPoll = std::chrono::milliseconds(100);

void OnSigint(int /*sig*/) { InterruptEventWait(); }

struct EventType {
  std::string_view name;
  SecretEventId id;
};
constexpr std::array<EventType, 2> kEventTypes = {{
    {"lifecycle", SecretEventId::kLifecycle},
    {"value-changed", SecretEventId::kValueChanged},
}};

// virTimeStringNowRaw: UTC with milliseconds.
std::string TimestampNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d+0000", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ts.tv_nsec / 1000000));
  return buf;
}

std::string_view LifecycleName(LifecycleEvent event) {
  switch (event) {
    case LifecycleEvent::kDefined:
      return "Defined";
    case LifecycleEvent::kUndefined:
      return "Undefined";
  }
  return "unknown";
}

// Shared between the waiting command and the callback, which may run on another thread and
// is only guaranteed to stop once deregistered; hence shared ownership.
struct WaitState {
  Mutex mutex;
  CondVar cv;
  bool loop = false;       // immutable after registration
  bool timestamp = false;  // immutable after registration
  std::string_view type_name;
  Console* console = nullptr;
  int count GUARDED_BY(mutex) = 0;
  bool done GUARDED_BY(mutex) = false;
};

void OnEvent(WaitState& state, const SecretEvent& event) {
  MutexLock lock(state.mutex);
  if (!state.loop && state.count > 0) return;
  std::string line = state.timestamp ? TimestampNow() + ": " : std::string();
  line += "event '" + std::string(state.type_name) + "' for secret " + event.secret.uuid.ToString();
  if (event.id == SecretEventId::kLifecycle) line += ": " + std::string(LifecycleName(event.lifecycle));
  state.console->Print(line + "\n");
  ++state.count;
  if (!state.loop) {
    state.done = true;
    state.cv.NotifyAll();
  }
}

enum class WaitEnd { kDone, kTimeout, kInterrupt };

WaitEnd WaitForEvents(WaitState& state, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  MutexLock lock(state.mutex);
  while (true) {
    if (state.done) return WaitEnd::kDone;
    if (g_interrupted.load()) return WaitEnd::kInterrupt;
    auto slice = kInterruptPoll;
    if (timeout_ms > 0) {
      auto now = Clock::now();
      if (now >= deadline) return WaitEnd::kTimeout;
      slice = std::min(slice, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                                  std::chrono::milliseconds(1));
    }
    state.cv.WaitFor(state.mutex, slice);
  }
}

// Routes SIGINT to the wait for the lifetime of the object, restoring the previous action.
class SigintGuard {
 public:
  SigintGuard() {
    g_interrupted.store(false);
    struct sigaction action {};
    action.sa_handler = OnSigint;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_);
  }
  ~SigintGuard() { sigaction(SIGINT, &old_, nullptr); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction old_ {};
};

constexpr OptDef kEventOpts[] = {
    {"secret", OptType::kString, 0, "only events about the secret with this UUID"},
    {"event", OptType::kString, 0, "the event type to wait for (see --list)"},
    {"loop", OptType::kBool, 0, "keep waiting after the first event, until timeout or interrupt"},
    {"timeout", OptType::kInt, 0, "stop waiting after this many seconds"},
    {"list", OptType::kBool, 0, "print the event types and stop"},
    {"timestamp", OptType::kBool, 0, "prefix each event with the time it was received"},
};

}  // namespace

void InterruptEventWait() { g_interrupted.store(true); }

std::span<const OptDef> SecretEventOpts() { return kEventOpts; }

bool CmdSecretEvent(Shell& shell, const ParsedCommand& cmd) {
  Console& console = shell.console();
  if (cmd.Has("list")) {
    for (const auto& type : kEventTypes) console.Print(std::string(type.name) + "\n");
    return true;
  }
  std::optional<std::string_view> name;
  if (!OptStringReq(console, cmd, "event", &name)) return false;
  if (!name) {
    console.Error("either --list or --event <type> is required");
    return false;
  }
  const EventType* type = nullptr;
  for (const auto& t : kEventTypes) {
    if (t.name == *name) type = &t;
  }
  if (type == nullptr) {
    console.Error("unknown event type " + std::string(*name));
    return false;
  }

  auto state = std::make_shared<WaitState>();
  state->loop = cmd.Has("loop");
  state->timestamp = cmd.Has("timestamp");
  state->type_name = type->name;
  state->console = &console;
  int timeout_ms = 0;
  if (OptTimeoutMs(console, cmd, &timeout_ms) < 0) return false;

  // A secret that cannot be resolved is reported, and then the wait covers every secret
  // (virsh 9.0 behaviour).
  std::optional<Uuid> filter;
  if (cmd.Has("secret")) {
    if (auto secret = LookupSecretOption(shell, cmd)) filter = secret->uuid;
  }

  SigintGuard sigint;
  auto id = shell.conn().RegisterEvent(type->id, filter,
                                       [state](const SecretEvent& event) { OnEvent(*state, event); });
  if (!id) {
    shell.SaveError(id.error());
    return false;
  }
  bool ret = false;
  switch (WaitForEvents(*state, timeout_ms)) {
    case WaitEnd::kInterrupt:
      console.Print("event loop interrupted\n");
      break;
    case WaitEnd::kTimeout:
      console.Print("event loop timed out\n");
      break;
    case WaitEnd::kDone:
      break;
  }
  int count;
  {
    MutexLock lock(state->mutex);
    count = state->count;
  }
  console.Print("events received: " + std::to_string(count) + "\n");
  ret = count > 0;
  if (auto gone = shell.conn().DeregisterEvent(*id); !gone) {
    shell.SaveError(gone.error());
    ret = false;
  }
  return ret;
}

}  // namespace vsecret::cli
