// SecretBytes: the only type that holds secret values (passphrases, keys, plaintext).
//
// * The buffer is wiped (OPENSSL_cleanse-style, not optimisable away) whenever it is released:
//   on destruction, on reassignment and when it grows.
// * The buffer lives in the secure heap (SecureAllocate below), whose pages are marked
//   MADV_DONTDUMP: a value is left out of core dumps even if dumps are re-enabled after
//   ProtectProcessMemory, or the process is dumped from outside (gcore, a kernel dump).
// * It is move-only; copying is explicit (Clone) so that every duplicate of a secret is greppable.
// * It is never printable: there is no operator<<, no implicit conversion to string.
// * Equality is constant-time (EqualsConstantTime).
// Reaching the raw bytes is deliberate: data()/size() or AsStringView() (for codecs and I/O).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <span>
#include <string_view>
#include <vector>

namespace vsecret {

// Overwrites n bytes at p in a way the optimiser cannot elide.
void SecureWipe(void* p, std::size_t n);

// The secure heap: memory for secret values that is excluded from core dumps (MADV_DONTDUMP).
// Requests up to 64 KiB are served from size classes carved out of 1 MiB slabs; larger ones get
// a mapping of their own, unmapped when freed. Slabs are kept for reuse, never unmapped.
//
// SecureAllocate returns memory aligned for any fundamental type, zero-filled, and throws
// std::bad_alloc when the system has none to give. SecureFree takes the pointer and the same n
// it was allocated with, wipes those n bytes and releases the block (nullptr is a no-op).
// Thread-safe. Not async-signal-safe: a child of fork() must exec before allocating.
void* SecureAllocate(std::size_t n);
void SecureFree(void* p, std::size_t n) noexcept;

// Allocates from the secure heap and wipes on release (SecureFree), so every container using it
// (SecretBytes, the RPC WireBuffer) keeps its contents out of core dumps and out of freed memory.
template <typename T>
struct WipingAllocator {
  static_assert(alignof(T) <= alignof(std::max_align_t), "the secure heap aligns to max_align_t");
  using value_type = T;
  WipingAllocator() noexcept = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(SecureAllocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { SecureFree(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const WipingAllocator<U>&) const noexcept {
    return true;
  }
};

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::span<const std::uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}
  explicit SecretBytes(std::string_view bytes)
      : bytes_(reinterpret_cast<const std::uint8_t*>(bytes.data()),
               reinterpret_cast<const std::uint8_t*>(bytes.data()) + bytes.size()) {}
  ~SecretBytes() { Wipe(); }

  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.bytes_.clear(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      Wipe();
      bytes_ = std::move(other.bytes_);
      other.bytes_.clear();
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  SecretBytes Clone() const { return SecretBytes(std::span<const std::uint8_t>(bytes_)); }

  const std::uint8_t* data() const { return bytes_.data(); }
  std::uint8_t* data() { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  std::span<const std::uint8_t> span() const { return bytes_; }
  std::string_view AsStringView() const {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }

  // Resizes in place; on growth the old buffer is wiped by the allocator.
  void Resize(std::size_t n) { bytes_.resize(n); }
  void Append(std::span<const std::uint8_t> more) { bytes_.insert(bytes_.end(), more.begin(), more.end()); }
  void Append(std::string_view more) {
    Append({reinterpret_cast<const std::uint8_t*>(more.data()), more.size()});
  }

  bool EqualsConstantTime(const SecretBytes& other) const;

  // Wipes the contents and leaves the object empty.
  void Wipe() {
    SecureWipe(bytes_.data(), bytes_.size());
    bytes_.clear();
  }

 private:
  std::vector<std::uint8_t, WipingAllocator<std::uint8_t>> bytes_;
};

// Makes the process undumpable and disables core files, so secret values held in memory
// cannot end up in a core dump. Call once at start-up of every executable that holds secrets.
void ProtectProcessMemory();

}  // namespace vsecret
