// Must be refused by scripts/thread_safety.sh: a GUARDED_BY member read and written without its
// mutex, and a REQUIRES function called without the lock (tests/thread_safety/check.sh).
#include "base/thread_annotations.h"

namespace {

class Counter {
 public:
  void Increment() { ++value_; }       // no lock held
  int Read() { return ReadLocked(); }  // the caller should hold mutex_

 private:
  int ReadLocked() REQUIRES(mutex_) { return value_; }

  vsecret::Mutex mutex_;
  int value_ GUARDED_BY(mutex_) = 0;
};

}  // namespace

int UnguardedProbe() {
  Counter c;
  c.Increment();
  return c.Read();
}
