// Must pass scripts/thread_safety.sh: the same kind of class as unguarded_access.cc with every
// access under the lock, using each part of src/base/thread_annotations.h the sources use (a
// scoped lock stepping out and back in, waits on a CondVar, try_lock), so that a refusal of the
// other probe comes from its violations and not from a broken setup.
#include <chrono>

#include "base/thread_annotations.h"

namespace {

class Counter {
 public:
  void Increment() EXCLUDES(mutex_) {
    vsecret::MutexLock lock(mutex_);
    ++value_;
    lock.Unlock();
    Notify();
    lock.Lock();
    ++value_;
  }
  int Read() EXCLUDES(mutex_) {
    vsecret::MutexLock lock(mutex_);
    return ReadLocked();
  }
  void WaitForPositive() EXCLUDES(mutex_) {
    vsecret::MutexLock lock(mutex_);
    while (value_ <= 0) changed_.Wait(mutex_);
  }
  bool WaitBriefly() EXCLUDES(mutex_) {
    vsecret::MutexLock lock(mutex_);
    return changed_.WaitFor(mutex_, std::chrono::milliseconds(1)) || value_ > 0;
  }
  bool TryRead(int* out) EXCLUDES(mutex_) {
    if (!mutex_.try_lock()) return false;
    *out = value_;
    mutex_.unlock();
    return true;
  }

 private:
  int ReadLocked() REQUIRES(mutex_) { return value_; }
  void Notify() EXCLUDES(mutex_) { changed_.NotifyAll(); }

  vsecret::Mutex mutex_;
  vsecret::CondVar changed_;
  int value_ GUARDED_BY(mutex_) = 0;
};

}  // namespace

int GuardedProbe() {
  Counter c;
  c.Increment();
  c.WaitForPositive();
  int v = 0;
  (void)c.TryRead(&v);
  return c.Read() + v + (c.WaitBriefly() ? 1 : 0);
}
