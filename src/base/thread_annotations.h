// Lock annotations for clang's thread-safety analysis (-Wthread-safety), and the mutex types that
// carry them. A member written `int n_ GUARDED_BY(mu_);` is then checked at compile time: every
// read or write of n_ must happen where mu_ is provably held, and a function declared
// `REQUIRES(mu_)` may be called only with mu_ held. scripts/thread_safety.sh runs the analysis
// over src/ in CI; GCC, which builds the binaries, sees empty macros.
//
// Use Mutex (not std::mutex) for every lock that protects data, MutexLock for a scope that holds
// it, and CondVar to wait on it: the standard types carry no annotations, so the analysis cannot
// follow them. The wrappers add nothing at run time (each call is the std::mutex call inline).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define VSECRET_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define VSECRET_THREAD_ANNOTATION(x)
#endif

// On a class: objects of it are capabilities (locks) that the analysis tracks.
#define CAPABILITY(name) VSECRET_THREAD_ANNOTATION(capability(name))
// On a class: an RAII object that acquires a capability in its constructor and releases it in
// its destructor.
#define SCOPED_CAPABILITY VSECRET_THREAD_ANNOTATION(scoped_lockable)
// On a data member or global: access only with the given capability held.
#define GUARDED_BY(x) VSECRET_THREAD_ANNOTATION(guarded_by(x))
// On a pointer (smart or raw): the pointee may be accessed only with the capability held.
#define PT_GUARDED_BY(x) VSECRET_THREAD_ANNOTATION(pt_guarded_by(x))
// On a capability member: it is always acquired before / after the named ones.
#define ACQUIRED_BEFORE(...) VSECRET_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) VSECRET_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
// On a function: the caller must hold the capabilities (exclusively / shared).
#define REQUIRES(...) VSECRET_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) VSECRET_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
// On a function: it acquires / releases the capabilities (on a member function without
// arguments: `this`).
#define ACQUIRE(...) VSECRET_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) VSECRET_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) VSECRET_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) VSECRET_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) VSECRET_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
// On a function: it acquires the capability only when it returns the given value.
#define TRY_ACQUIRE(...) VSECRET_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) VSECRET_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))
// On a function: the caller must NOT hold the capabilities (the function takes them itself, and
// the mutex is not recursive).
#define EXCLUDES(...) VSECRET_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// On a function: it checks at run time that the capability is held, and the analysis trusts it.
#define ASSERT_CAPABILITY(x) VSECRET_THREAD_ANNOTATION(assert_capability(x))
#define ASSERT_SHARED_CAPABILITY(x) VSECRET_THREAD_ANNOTATION(assert_shared_capability(x))
// On a function: it returns a reference to the given capability.
#define RETURN_CAPABILITY(x) VSECRET_THREAD_ANNOTATION(lock_returned(x))
// On a function: the analysis does not look inside it. Each use says why in a comment.
#define NO_THREAD_SAFETY_ANALYSIS VSECRET_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace vsecret {

class CondVar;

// A non-recursive exclusive lock: std::mutex with annotations. The lower-case names make it a
// standard Lockable, so std algorithms that take locks work with it too.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mutex_.lock(); }
  void unlock() RELEASE() { mutex_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mutex_.try_lock(); }

 private:
  friend class CondVar;
  std::mutex mutex_;
};

// Holds a Mutex for the rest of the scope. Unlock() and Lock() let the scope step out of the
// lock and back in (e.g. to run a callback without it); the destructor releases it only if held.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) ACQUIRE(mutex) : mutex_(mutex) { mutex_.lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mutex_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RELEASE() {
    mutex_.unlock();
    held_ = false;
  }
  void Lock() ACQUIRE() {
    mutex_.lock();
    held_ = true;
  }

 private:
  Mutex& mutex_;
  bool held_ = true;
};

// A condition variable waited on with a Mutex held: std::condition_variable, with the waits
// declared as requiring the mutex (they release it while blocked and hold it again on return,
// which is what the analysis needs to know). Spurious wake-ups happen: wait in a loop on the
// condition, written in the caller, where the analysis sees the guarded reads under the lock.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex& mutex) REQUIRES(mutex) {
    std::unique_lock<std::mutex> lock(mutex.mutex_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // still held: the caller's scope owns it
  }
  // Returns false if the time ran out (the mutex is held again either way).
  template <class Rep, class Period>
  bool WaitFor(Mutex& mutex, std::chrono::duration<Rep, Period> timeout) REQUIRES(mutex) {
    std::unique_lock<std::mutex> lock(mutex.mutex_, std::adopt_lock);
    const std::cv_status status = cv_.wait_for(lock, timeout);
    lock.release();
    return status == std::cv_status::no_timeout;
  }
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace vsecret
