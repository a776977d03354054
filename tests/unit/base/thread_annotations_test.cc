// The annotated lock types: what MutexLock and CondVar do at run time (the annotations
// themselves are checked by tests/thread_safety/).
#include "base/thread_annotations.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace vsecret {
namespace {

using namespace std::chrono_literals;

// Whether another thread can take the mutex right now.
bool FreeElsewhere(Mutex& mutex) {
  bool got = false;
  std::thread([&] {
    got = mutex.try_lock();
    if (got) mutex.unlock();
  }).join();
  return got;
}

TEST(ThreadAnnotationsTest, MutexLockHoldsForItsScope) {
  Mutex mutex;
  {
    MutexLock lock(mutex);
    EXPECT_FALSE(FreeElsewhere(mutex));
  }
  EXPECT_TRUE(FreeElsewhere(mutex));
}

TEST(ThreadAnnotationsTest, MutexLockStepsOutAndBackIn) {
  Mutex mutex;
  {
    MutexLock lock(mutex);
    lock.Unlock();
    EXPECT_TRUE(FreeElsewhere(mutex));
    lock.Lock();
    EXPECT_FALSE(FreeElsewhere(mutex));
  }
  EXPECT_TRUE(FreeElsewhere(mutex));
}

TEST(ThreadAnnotationsTest, ScopeLeftUnlockedDoesNotUnlockAgain) {
  Mutex mutex;
  {
    MutexLock lock(mutex);
    lock.Unlock();
    // Another owner now; the scope's end must not release the lock it took.
    ASSERT_TRUE(mutex.try_lock());
  }
  EXPECT_FALSE(FreeElsewhere(mutex));
  mutex.unlock();
}

TEST(ThreadAnnotationsTest, TryLockFailsWhileHeld) {
  Mutex mutex;
  ASSERT_TRUE(mutex.try_lock());
  EXPECT_FALSE(FreeElsewhere(mutex));
  mutex.unlock();
  EXPECT_TRUE(FreeElsewhere(mutex));
}

// Sets *ready once *waiting is seen under the lock: the waiter set it with the lock held and
// released the lock only inside its wait, so it is waiting (or about to be woken) by then.
void ReleaseWaiter(Mutex& mutex, const bool& waiting, bool& ready) {
  while (true) {
    MutexLock lock(mutex);
    if (waiting) {
      ready = true;
      return;
    }
    lock.Unlock();
    std::this_thread::sleep_for(1ms);
  }
}

TEST(ThreadAnnotationsTest, WaitReleasesWhileBlockedAndHoldsOnReturn) {
  Mutex mutex;
  CondVar cv;
  bool waiting = false;
  bool ready = false;
  std::atomic<bool> holds_after_wake{false};
  std::thread waiter([&] {
    MutexLock lock(mutex);
    waiting = true;
    while (!ready) cv.Wait(mutex);
    holds_after_wake = !FreeElsewhere(mutex);
  });
  ReleaseWaiter(mutex, waiting, ready);  // takes the mutex: Wait released it
  cv.NotifyAll();
  waiter.join();
  EXPECT_TRUE(holds_after_wake);
  EXPECT_TRUE(FreeElsewhere(mutex));
}

TEST(ThreadAnnotationsTest, WaitForTimesOutHoldingTheMutex) {
  Mutex mutex;
  CondVar cv;
  MutexLock lock(mutex);
  const auto start = std::chrono::steady_clock::now();
  bool notified = true;
  // A spurious wake-up returns true early; the loop waits out the whole time.
  while (notified && std::chrono::steady_clock::now() - start < 20ms) notified = cv.WaitFor(mutex, 20ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  EXPECT_FALSE(FreeElsewhere(mutex));
}

TEST(ThreadAnnotationsTest, WaitForReturnsTrueWhenNotified) {
  Mutex mutex;
  CondVar cv;
  bool waiting = false;
  bool ready = false;
  bool notified = false;
  std::thread waiter([&] {
    MutexLock lock(mutex);
    waiting = true;
    while (!ready) notified = cv.WaitFor(mutex, 60s);
  });
  ReleaseWaiter(mutex, waiting, ready);
  cv.NotifyOne();
  waiter.join();
  EXPECT_TRUE(notified);
}

}  // namespace
}  // namespace vsecret
