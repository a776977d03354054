// XDR (RFC 4506) encoding and decoding, limited to what libvirt's RPC uses: 32- and 64-bit
// integers, fixed opaques, bounded variable opaques and strings, optional-pointer
// discriminants and array counts, all big-endian and padded to 4-byte alignment.
//
// Buffers holding wire bytes use a wiping allocator: a SET_VALUE call or a GET_VALUE reply
// carries a secret value, and every frame buffer is treated as if it might.
//
// Thread-safety: encoder and decoder objects are not synchronised; use one per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vsecret/secret_bytes.h"

namespace vsecret::rpc {

using WireBuffer = std::vector<std::uint8_t, WipingAllocator<std::uint8_t>>;

// Appends XDR items to a WireBuffer it borrows (the buffer must outlive the encoder).
class XdrEncoder {
 public:
  explicit XdrEncoder(WireBuffer& out) : out_(out) {}

  void U32(std::uint32_t v);
  void I32(std::int32_t v) { U32(static_cast<std::uint32_t>(v)); }
  void U64(std::uint64_t v);
  // Exactly bytes.size() raw bytes, then zero padding to a multiple of 4 (none for 16).
  void FixedOpaque(std::span<const std::uint8_t> bytes);
  // Length word, bytes, padding. The caller enforces the declared maximum.
  void Opaque(std::span<const std::uint8_t> bytes);
  void String(std::string_view s);
  // The optional-pointer discriminant: 1 when present, 0 for NULL.
  void Present(bool present) { U32(present ? 1 : 0); }
  void OptionalString(const std::optional<std::string>& s);

 private:
  void Pad(std::size_t n);
  WireBuffer& out_;
};

// Reads XDR items from a byte span it borrows. Failures are sticky: after the first item that
// does not fit (short input, a length over its bound, a discriminant other than 0 or 1) every
// later read fails too and ok() is false, so a decoder can read a whole struct and check once.
class XdrDecoder {
 public:
  explicit XdrDecoder(std::span<const std::uint8_t> data) : data_(data) {}

  bool U32(std::uint32_t* v);
  bool I32(std::int32_t* v);
  bool U64(std::uint64_t* v);
  bool FixedOpaque(std::span<std::uint8_t> out);
  // A variable opaque of at most max bytes; the value goes into a wiping buffer.
  bool Opaque(std::size_t max, SecretBytes* out);
  bool String(std::size_t max, std::string* out);
  bool Present(bool* present);
  bool OptionalString(std::size_t max, std::optional<std::string>* out);
  // An array count bounded by max.
  bool Count(std::size_t max, std::uint32_t* count);

  bool ok() const { return ok_; }
  std::size_t remaining() const { return data_.size() - pos_; }

 private:
  // Returns a pointer to n bytes (plus padding to 4) and advances, or nullptr on failure.
  const std::uint8_t* Take(std::size_t n, bool padded);
  bool Fail() {
    ok_ = false;
    return false;
  }

  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace vsecret::rpc
