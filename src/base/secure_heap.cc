// The secure heap behind WipingAllocator (contract in vsecret/secret_bytes.h).
//
// Every page it hands out is madvise(MADV_DONTDUMP)'d, so secret values stay out of core dumps
// however the dump comes about. Small blocks come from power-of-two size classes carved out of
// slabs; a freed block goes on a free list of its class (LIFO) for reuse: first the freeing
// thread's own, then, past a few blocks, the shared one. Free blocks are all zero
// except their link word, which is cleared when the block is handed out again, so every
// allocation starts zero-filled. Large blocks are mappings of their own; a few freed ones (wiped)
// are kept for the next request of the same length, so a repeated large reply (a 64 KiB value
// in a 128 KiB frame buffer) costs no mmap, page faults and munmap each time.
//
// AddressSanitizer cannot see inside mappings it did not make, so under ASan the heap poisons
// what is not allocated: slab space not carved yet, free blocks, and the slack between the size
// asked for and the end of its block or mapping. Use after free and overflow into the slack are
// then reported as for malloc'd memory. Without ASan an overflow inside a slab goes unnoticed.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>

#include "base/thread_annotations.h"
#include "vsecret/secret_bytes.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define VSECRET_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define VSECRET_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define VSECRET_POISON(p, n) ((void)(p), (void)(n))
#define VSECRET_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace vsecret {
namespace {

constexpr std::size_t kMinClassShift = 4;   // 16 bytes: alignof(max_align_t)
constexpr std::size_t kMaxClassShift = 16;  // 64 KiB: most RPC frames, e.g. FrameReader's 16 KiB buffer
constexpr std::size_t kMaxSmall = std::size_t{1} << kMaxClassShift;
constexpr std::size_t kClassCount = kMaxClassShift - kMinClassShift + 1;
constexpr std::size_t kSlabSize = std::size_t{1} << 20;
static_assert(alignof(std::max_align_t) <= (std::size_t{1} << kMinClassShift));

std::size_t ClassIndex(std::size_t n) {
  if (n <= (std::size_t{1} << kMinClassShift)) return 0;
  return static_cast<std::size_t>(std::bit_width(n - 1)) - kMinClassShift;
}

std::size_t ClassSize(std::size_t index) { return std::size_t{1} << (index + kMinClassShift); }

std::size_t PageSize() {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

// A fresh anonymous mapping of len bytes (zero-filled), excluded from core dumps.
std::byte* MapDontDump(std::size_t len) {
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Best effort: only a kernel older than 3.4 refuses the advice, and the process is already
  // undumpable (ProtectProcessMemory); failing every allocation there would be an outage.
  (void)::madvise(p, len, MADV_DONTDUMP);
  return static_cast<std::byte*>(p);
}

struct FreeBlock {
  FreeBlock* next;
};

// A LIFO list of free blocks of one class. Free blocks are poisoned (under ASan) apart from the
// moment their link word is read or written.
class FreeList {
 public:
  bool empty() const { return head_ == nullptr; }
  std::size_t count() const { return count_; }

  void Push(std::byte* p, std::size_t class_size) {
    VSECRET_UNPOISON(p, sizeof(FreeBlock));
    auto* block = reinterpret_cast<FreeBlock*>(p);
    block->next = head_;
    head_ = block;
    ++count_;
    VSECRET_POISON(p, class_size);
  }

  // The block comes back all zero: the link word is cleared, the rest was wiped when freed.
  std::byte* Pop() {
    FreeBlock* block = head_;
    VSECRET_UNPOISON(block, sizeof(FreeBlock));
    head_ = block->next;
    block->next = nullptr;
    --count_;
    return reinterpret_cast<std::byte*>(block);
  }

 private:
  FreeBlock* head_ = nullptr;
  std::size_t count_ = 0;
};

// The blocks every thread shares: free lists and the slab being carved.
class SharedHeap {
 public:
  std::byte* Allocate(std::size_t index) EXCLUDES(mu_) {
    const std::size_t size = ClassSize(index);
    MutexLock lock(mu_);
    if (!free_[index].empty()) return free_[index].Pop();
    if (static_cast<std::size_t>(slab_end_ - slab_next_) < size) {
      // The tail of the old slab (less than one block of this class) is abandoned.
      slab_next_ = MapDontDump(kSlabSize);
      slab_end_ = slab_next_ + kSlabSize;
      VSECRET_POISON(slab_next_, kSlabSize);
    }
    std::byte* p = slab_next_;
    slab_next_ += size;
    return p;
  }

  // p must be a wiped block of class index.
  void Free(std::byte* p, std::size_t index) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    free_[index].Push(p, ClassSize(index));
  }

  // Takes every block of list, a list of class index.
  void Absorb(FreeList& list, std::size_t index) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    while (!list.empty()) free_[index].Push(list.Pop(), ClassSize(index));
  }

 private:
  Mutex mu_;
  std::array<FreeList, kClassCount> free_ GUARDED_BY(mu_);
  std::byte* slab_next_ GUARDED_BY(mu_) = nullptr;  // next uncarved byte
  std::byte* slab_end_ GUARDED_BY(mu_) = nullptr;   // end of the current slab
};

// Never destroyed: blocks may be freed by static destructors that run after this one would.
SharedHeap& Shared() {
  static SharedHeap* const heap = new SharedHeap();
  return *heap;
}

// Each thread keeps a few freed blocks per class for itself, so that the common pattern (a value
// or frame allocated, grown and freed on one thread) takes no lock. Any block may go to any
// thread's cache: a block freed on another thread than the one that allocated it is fine.
constexpr std::size_t kThreadCacheBytesPerClass = 64 * 1024;

class ThreadCache {
 public:
  ThreadCache() = default;
  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;
  ~ThreadCache();

  std::byte* Allocate(std::size_t index) {
    return lists_[index].empty() ? Shared().Allocate(index) : lists_[index].Pop();
  }
  void Free(std::byte* p, std::size_t index) {
    const std::size_t size = ClassSize(index);
    if (lists_[index].count() * size >= std::max(kThreadCacheBytesPerClass, 2 * size)) {
      Shared().Free(p, index);
    } else {
      lists_[index].Push(p, size);
    }
  }

 private:
  std::array<FreeList, kClassCount> lists_;
};

// Set once the thread's cache is destroyed: later frees on the thread (other thread_local
// destructors) go straight to the shared heap.
thread_local bool t_cache_destroyed = false;

ThreadCache::~ThreadCache() {
  t_cache_destroyed = true;
  for (std::size_t i = 0; i < kClassCount; ++i) Shared().Absorb(lists_[i], i);
}

// The calling thread's cache, or nullptr once it has been destroyed.
ThreadCache* Cache() {
  if (t_cache_destroyed) return nullptr;
  thread_local ThreadCache cache;
  return &cache;
}

std::byte* AllocateSmall(std::size_t index) {
  ThreadCache* cache = Cache();
  return cache != nullptr ? cache->Allocate(index) : Shared().Allocate(index);
}

void FreeSmall(std::byte* p, std::size_t index) {
  if (ThreadCache* cache = Cache(); cache != nullptr) {
    cache->Free(p, index);
  } else {
    Shared().Free(p, index);
  }
}

// Freed large mappings kept for reuse: at most kCachedMappings of at most kCachedMappingMax
// bytes each. Their bytes are all zero: the n bytes in use were wiped and the rest of the
// mapping was never handed out.
constexpr std::size_t kCachedMappings = 8;
constexpr std::size_t kCachedMappingMax = std::size_t{4} << 20;

class MappingCache {
 public:
  // A cached mapping of exactly len bytes, or nullptr.
  std::byte* Take(std::size_t len) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    for (std::size_t i = 0; i < count_; ++i) {
      if (entries_[i].len == len) {
        std::byte* p = entries_[i].p;
        entries_[i] = entries_[--count_];
        return p;
      }
    }
    return nullptr;
  }
  // Keeps a wiped mapping; false when it is not kept (the caller unmaps it).
  bool Put(std::byte* p, std::size_t len) EXCLUDES(mu_) {
    if (len > kCachedMappingMax) return false;
    MutexLock lock(mu_);
    if (count_ == kCachedMappings) return false;
    entries_[count_++] = Entry{p, len};
    return true;
  }

 private:
  struct Entry {
    std::byte* p;
    std::size_t len;
  };
  Mutex mu_;
  std::array<Entry, kCachedMappings> entries_ GUARDED_BY(mu_){};
  std::size_t count_ GUARDED_BY(mu_) = 0;
};

MappingCache& Mappings() {
  static MappingCache* const cache = new MappingCache();  // never destroyed, as Shared()
  return *cache;
}

}  // namespace

void* SecureAllocate(std::size_t n) {
  if (n <= kMaxSmall) {
    const std::size_t index = ClassIndex(n);
    std::byte* p = AllocateSmall(index);
    VSECRET_POISON(p, ClassSize(index));
    VSECRET_UNPOISON(p, n);
    return p;
  }
  const std::size_t page = PageSize();
  if (n > std::numeric_limits<std::size_t>::max() - page) throw std::bad_alloc();
  const std::size_t len = (n + page - 1) & ~(page - 1);
  std::byte* p = Mappings().Take(len);
  if (p == nullptr) p = MapDontDump(len);
  VSECRET_UNPOISON(p, n);
  VSECRET_POISON(p + n, len - n);
  return p;
}

void SecureFree(void* p, std::size_t n) noexcept {
  if (p == nullptr) return;
  SecureWipe(p, n);
  if (n <= kMaxSmall) {
    FreeSmall(static_cast<std::byte*>(p), ClassIndex(n));
    return;
  }
  const std::size_t page = PageSize();
  const std::size_t len = (n + page - 1) & ~(page - 1);
  // Poisoned before it is offered to the cache: once Put returns, another thread may already
  // have taken the mapping and unpoisoned it, and poisoning it then would poison that thread's
  // live block (ASan's use-after-poison in SecureHeap.ConcurrentBlocksDoNotOverlap).
  VSECRET_POISON(p, len);  // cached: any use now is a use after free
  if (Mappings().Put(static_cast<std::byte*>(p), len)) return;
  // The address range may be mapped again by anyone: leave no poison behind.
  VSECRET_UNPOISON(p, len);
  ::munmap(p, len);
}

}  // namespace vsecret
