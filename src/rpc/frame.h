// Framing of libvirt RPC messages: a 4-byte big-endian length that
// counts itself, a 24-byte header, then the XDR payload.
//
// Thread-safety: FrameBuilder and FrameReader objects are not synchronised.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "rpc/protocol.h"
#include "rpc/xdr.h"
#include "vsecret/error.h"

namespace vsecret::rpc {

struct Header {
  std::uint32_t prog = kRemoteProgram;
  std::uint32_t vers = kRemoteVersion;
  std::int32_t proc = 0;
  MessageType type = MessageType::kCall;
  std::uint32_t serial = 0;
  MessageStatus status = MessageStatus::kOk;

  bool operator==(const Header&) const = default;
};

// Decodes the 24-byte header at the start of a message (a frame without its length word).
// Fails only when fewer than 24 bytes are given; enum fields carry whatever value was sent.
Result<Header> DecodeHeader(std::span<const std::uint8_t> message);

// The header of the reply to a call: same prog, vers, proc and serial.
Header ReplyHeader(const Header& call, MessageStatus status);

// Builds one frame. The payload is appended through payload(); Finish() writes the length word.
class FrameBuilder {
 public:
  explicit FrameBuilder(const Header& header);

  XdrEncoder& payload() { return encoder_; }
  // The finished frame. A frame over kMaxFrame is an RPC error ("Unable to encode message
  // payload"), as libvirt reports for an oversize reply.
  Result<WireBuffer> Finish() &&;

 private:
  WireBuffer buf_;
  XdrEncoder encoder_;
};

// A header-only frame (void replies, keepalive, void calls).
WireBuffer EmptyFrame(const Header& header);

// Memory that partially received frames may hold beyond their readers' base buffers, shared by
// every FrameReader given the same budget (vsecretd: all its clients). Thread-safe: a reader
// may be destroyed on another thread than the one that filled it.
class InputBudget {
 public:
  explicit InputBudget(std::size_t limit) : limit_(limit) {}
  // Reserves n bytes; false (and nothing reserved) if that would pass the limit.
  bool Take(std::size_t n);
  void Give(std::size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

// Splits a byte stream into frames. Feed it with Space()/Commit() and drain it with Next().
// The buffer starts at kBaseBuffer and grows only as a long frame's bytes actually arrive
// (doubling, never past the frame's length), so a peer that announces a 32 MiB frame and
// sends nothing holds no more than the base buffer. Growth beyond the base is charged to the
// budget, if one is given, and given back once the frame has been consumed.
class FrameReader {
 public:
  enum class Status {
    kNeedMore,  // no complete frame buffered
    kFrame,     // *message is the next frame's header and payload (no length word)
    kBad,       // the next length word is below kMinFrame or above kMaxFrame: drop the stream
  };
  static constexpr std::size_t kBaseBuffer = 16384;

  explicit FrameReader(std::shared_ptr<InputBudget> budget = nullptr);
  ~FrameReader();
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // Where the next read should store bytes. Empty only when the frame being assembled needs
  // more memory than the budget has left (the caller drops the stream) or when complete
  // frames fill the buffer (drain them with Next() first). Invalidates spans from Next().
  std::span<std::uint8_t> Space();
  void Commit(std::size_t n) { end_ += n; }
  // The span stays valid until the next Space() call.
  Status Next(std::span<const std::uint8_t>* message);
  // True when a frame has been started but not finished (EOF then truncates it).
  bool HasPartial() const { return end_ != begin_; }
  // True when a whole frame (or a bad length word) waits for Next().
  bool HasFrame() const;
  // The length word of the frame being assembled, 0 if not known yet (for log lines).
  std::size_t PendingLength() const;
  // Bytes the buffer holds now (base plus any growth).
  std::size_t Capacity() const { return buf_.size(); }

 private:
  void Resize(std::size_t n);  // keeps the budget's account of growth beyond kBaseBuffer

  std::shared_ptr<InputBudget> budget_;
  WireBuffer buf_;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last byte read
};

// Hex of bytes, lowercase and unseparated: for tests and debug logs of non-secret frames.
std::string ToHex(std::span<const std::uint8_t> bytes);

}  // namespace vsecret::rpc
