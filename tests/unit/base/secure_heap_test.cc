// The secure heap behind SecretBytes and WireBuffer: dump exclusion, reuse, wiping.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rpc/xdr.h"
#include "vsecret/secret_bytes.h"

namespace vsecret {
namespace {

// The VmFlags of the /proc/self/smaps entry whose range holds p (e.g. "rd wr mr mw me dd ac"),
// or nullopt if no mapping holds it.
std::optional<std::string> VmFlagsOf(const void* p) {
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long long begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx ", &begin, &end) == 2 && line.find(':') > line.find(' ')) {
      inside = begin <= addr && addr < end;  // a header line: "begin-end perms offset dev inode path"
      continue;
    }
    if (inside && line.starts_with("VmFlags:")) return line.substr(std::string("VmFlags:").size());
  }
  return std::nullopt;
}

bool ExcludedFromDumps(const void* p) {
  std::optional<std::string> flags = VmFlagsOf(p);
  if (!flags) return false;
  std::istringstream words(*flags);
  std::string flag;
  while (words >> flag) {
    if (flag == "dd") return true;
  }
  return false;
}

TEST(SecureHeap, SmallSecretIsExcludedFromCoreDumps) {
  SecretBytes value(std::string_view("correct horse battery staple"));
  ASSERT_TRUE(VmFlagsOf(value.data()).has_value());
  EXPECT_TRUE(ExcludedFromDumps(value.data())) << *VmFlagsOf(value.data());
}

TEST(SecureHeap, LargeSecretIsExcludedFromCoreDumps) {
  SecretBytes value;
  value.Resize(1 << 20);
  ASSERT_TRUE(VmFlagsOf(value.data()).has_value());
  EXPECT_TRUE(ExcludedFromDumps(value.data())) << *VmFlagsOf(value.data());
  EXPECT_TRUE(ExcludedFromDumps(value.data() + value.size() - 1));
}

TEST(SecureHeap, WireBufferIsExcludedFromCoreDumps) {
  for (std::size_t n : {std::size_t{28}, std::size_t{16384}, std::size_t{4} << 20}) {
    rpc::WireBuffer frame(n);
    EXPECT_TRUE(ExcludedFromDumps(frame.data())) << n;
  }
}

// The check above tells the two kinds of memory apart: ordinary heap memory is dumped.
TEST(SecureHeap, OrdinaryHeapMemoryIsNotExcluded) {
  std::vector<std::uint8_t> small(32), large(1 << 20);
  ASSERT_TRUE(VmFlagsOf(small.data()).has_value());
  ASSERT_TRUE(VmFlagsOf(large.data()).has_value());
  EXPECT_FALSE(ExcludedFromDumps(small.data()));
  EXPECT_FALSE(ExcludedFromDumps(large.data()));
}

TEST(SecureHeap, AllocationsAreZeroFilledAndAligned) {
  for (std::size_t n : {0, 1, 15, 16, 17, 100, 4095, 4096, 4097, 65536, 65537, 300000}) {
    auto* p = static_cast<std::uint8_t*>(SecureAllocate(n));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignof(std::max_align_t), 0u) << n;
    EXPECT_TRUE(std::all_of(p, p + n, [](std::uint8_t b) { return b == 0; })) << n;
    std::fill(p, p + n, 0xee);
    SecureFree(p, n);
  }
  SecureFree(nullptr, 10);  // a no-op
}

// A freed block is reused, and comes back wiped, including the bytes of its size class beyond
// what the previous owner asked for.
TEST(SecureHeap, FreedBlocksAreReusedWiped) {
  constexpr std::size_t kAsked = 100, kClass = 128, kCount = 64;
  std::set<void*> freed;
  std::vector<std::uint8_t*> blocks;
  for (std::size_t i = 0; i < kCount; ++i) {
    blocks.push_back(static_cast<std::uint8_t*>(SecureAllocate(kAsked)));
    std::fill(blocks.back(), blocks.back() + kAsked, 0xa5);
  }
  for (std::uint8_t* p : blocks) {
    freed.insert(p);
    SecureFree(p, kAsked);
  }
  std::size_t reused = 0;
  blocks.clear();
  for (std::size_t i = 0; i < kCount; ++i) {
    auto* p = static_cast<std::uint8_t*>(SecureAllocate(kClass));
    blocks.push_back(p);
    reused += freed.count(p);
    EXPECT_TRUE(std::all_of(p, p + kClass, [](std::uint8_t b) { return b == 0; })) << i;
  }
  // Other threads of the test binary may take a few blocks in between, not most of them.
  EXPECT_GE(reused, kCount / 2);
  for (std::uint8_t* p : blocks) SecureFree(p, kClass);
}

// Same, through the allocator the containers use: a WireBuffer does not wipe itself, its
// allocator does.
TEST(SecureHeap, WireBufferMemoryIsWipedBeforeReuse) {
  constexpr std::size_t kCount = 16, kSize = 40;
  std::set<const void*> released;
  {
    std::vector<rpc::WireBuffer> frames;
    for (std::size_t i = 0; i < kCount; ++i) {
      frames.emplace_back(kSize, std::uint8_t{0xa5});
      released.insert(frames.back().data());
    }
  }
  WipingAllocator<std::uint8_t> alloc;
  std::vector<std::uint8_t*> blocks;
  std::size_t reused = 0;
  for (std::size_t i = 0; i < kCount; ++i) {
    std::uint8_t* p = alloc.allocate(kSize);
    blocks.push_back(p);
    reused += released.count(p);
    EXPECT_TRUE(std::all_of(p, p + kSize, [](std::uint8_t b) { return b == 0; })) << i;
  }
  EXPECT_GE(reused, kCount / 2);
  for (std::uint8_t* p : blocks) alloc.deallocate(p, kSize);
}

// A freed large mapping is kept for the next request of the same length, and comes back wiped
// (including the part of its last page beyond what the previous owner asked for).
TEST(SecureHeap, LargeMappingsAreReusedWiped) {
  constexpr std::size_t kAsked = 200000, kAgain = 200704;  // both round to 49 pages
  auto* first = static_cast<std::uint8_t*>(SecureAllocate(kAsked));
  std::fill(first, first + kAsked, 0x5a);
  SecureFree(first, kAsked);
  auto* second = static_cast<std::uint8_t*>(SecureAllocate(kAgain));
  EXPECT_EQ(second, first);
  EXPECT_TRUE(std::all_of(second, second + kAgain, [](std::uint8_t b) { return b == 0; }));
  EXPECT_TRUE(ExcludedFromDumps(second));
  SecureFree(second, kAgain);
}

// Several threads allocate and free blocks of mixed sizes (both small classes and mappings of
// their own); each block carries a pattern of its own that must be intact when it is freed.
TEST(SecureHeap, ConcurrentBlocksDoNotOverlap) {
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<int> failures(kThreads, 0);
  auto worker = [&](int t) {
    struct Live {
      std::uint8_t* p;
      std::size_t n;
      std::uint8_t pattern;
    };
    std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1);
    const std::size_t sizes[] = {1,   8,    16,   24,   33,    64,    100,   255,
                                 512, 1000, 4096, 4097, 20000, 65536, 65537, 200000};
    std::vector<Live> live;
    auto check_and_free = [&](std::size_t i) {
      Live b = live[i];
      if (!std::all_of(b.p, b.p + b.n, [&](std::uint8_t x) { return x == b.pattern; })) ++failures[t];
      SecureFree(b.p, b.n);
      live[i] = live.back();
      live.pop_back();
    };
    for (int round = 0; round < kRounds; ++round) {
      if (live.size() < 64 && (live.empty() || rng() % 3 != 0)) {
        std::size_t n = sizes[rng() % std::size(sizes)];
        auto* p = static_cast<std::uint8_t*>(SecureAllocate(n));
        if (!std::all_of(p, p + n, [](std::uint8_t x) { return x == 0; })) ++failures[t];
        auto pattern = static_cast<std::uint8_t>((t << 6) ^ round ^ 0x5a);
        if (pattern == 0) pattern = 1;
        std::fill(p, p + n, pattern);
        live.push_back({p, n, pattern});
      } else {
        check_and_free(rng() % live.size());
      }
    }
    while (!live.empty()) check_and_free(live.size() - 1);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace vsecret
