// Framing of libvirt RPC messages (wire-protocol spec §1.1): a 4-byte big-endian length that
// counts itself, a 24-byte header, then the XDR payload.
//
// Thread-safety: FrameBuilder and FrameReader objects are not synchronised.
#pragma once

#include <cstddef>
#include <cstdint>
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

// Splits a byte stream into frames. Feed it with Space()/Commit() and drain it with Next().
class FrameReader {
 public:
  enum class Status {
    kNeedMore,  // no complete frame buffered
    kFrame,     // *message is the next frame's header and payload (no length word)
    kBad,       // the next length word is below kMinFrame or above kMaxFrame: drop the stream
  };

  FrameReader();

  // Where the next read should store bytes; never empty. Invalidates spans from Next().
  std::span<std::uint8_t> Space();
  void Commit(std::size_t n) { end_ += n; }
  // The span stays valid until the next Space() call.
  Status Next(std::span<const std::uint8_t>* message);
  // True when a frame has been started but not finished (EOF then truncates it).
  bool HasPartial() const { return end_ != begin_; }
  // The length word of the frame being assembled, 0 if not known yet (for log lines).
  std::size_t PendingLength() const;

 private:
  static constexpr std::size_t kInitialBuffer = 65536;

  WireBuffer buf_;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last byte read
};

// Hex of bytes, lowercase and unseparated: for tests and debug logs of non-secret frames.
std::string ToHex(std::span<const std::uint8_t> bytes);

}  // namespace vsecret::rpc
