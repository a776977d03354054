#include "rpc/frame.h"

#include <algorithm>
#include <cstring>

namespace vsecret::rpc {
namespace {

std::uint32_t ReadBe32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

void WriteBe32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

void EncodeHeader(XdrEncoder& enc, const Header& h) {
  enc.U32(h.prog);
  enc.U32(h.vers);
  enc.I32(h.proc);
  enc.I32(static_cast<std::int32_t>(h.type));
  enc.U32(h.serial);
  enc.I32(static_cast<std::int32_t>(h.status));
}

}  // namespace

Result<Header> DecodeHeader(std::span<const std::uint8_t> message) {
  XdrDecoder dec(message);
  Header h;
  std::int32_t type = 0, status = 0;
  dec.U32(&h.prog);
  dec.U32(&h.vers);
  dec.I32(&h.proc);
  dec.I32(&type);
  dec.U32(&h.serial);
  dec.I32(&status);
  if (!dec.ok()) return Fail(ErrorCode::kRpc, ErrorDomain::kRpc, "Unable to decode message header");
  h.type = static_cast<MessageType>(type);
  h.status = static_cast<MessageStatus>(status);
  return h;
}

Header ReplyHeader(const Header& call, MessageStatus status) {
  Header h = call;
  h.type = MessageType::kReply;
  h.status = status;
  return h;
}

FrameBuilder::FrameBuilder(const Header& header) : encoder_(buf_) {
  buf_.reserve(256);
  encoder_.U32(0);  // length word, patched by Finish()
  EncodeHeader(encoder_, header);
}

Result<WireBuffer> FrameBuilder::Finish() && {
  if (buf_.size() > kMaxFrame) {
    return Fail(ErrorCode::kRpc, ErrorDomain::kRpc, "Unable to encode message payload");
  }
  WriteBe32(buf_.data(), static_cast<std::uint32_t>(buf_.size()));
  return std::move(buf_);
}

WireBuffer EmptyFrame(const Header& header) {
  FrameBuilder b(header);
  return *std::move(b).Finish();  // 28 bytes can never be oversize
}

bool InputBudget::Take(std::size_t n) {
  std::size_t used = used_.load(std::memory_order_relaxed);
  do {
    if (n > limit_ || used > limit_ - n) return false;
  } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
  return true;
}

FrameReader::FrameReader(std::shared_ptr<InputBudget> budget)
    : budget_(std::move(budget)), buf_(kBaseBuffer) {}

FrameReader::~FrameReader() {
  if (budget_ && buf_.size() > kBaseBuffer) budget_->Give(buf_.size() - kBaseBuffer);
}

void FrameReader::Resize(std::size_t n) {
  std::size_t old_extra = buf_.size() > kBaseBuffer ? buf_.size() - kBaseBuffer : 0;
  std::size_t new_extra = n > kBaseBuffer ? n - kBaseBuffer : 0;
  if (budget_ && new_extra > old_extra && !budget_->Take(new_extra - old_extra)) return;
  if (n < buf_.size()) {
    WireBuffer(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n)).swap(buf_);  // old one wiped
  } else {
    buf_.resize(n);
  }
  if (budget_ && new_extra < old_extra) budget_->Give(old_extra - new_extra);
}

std::size_t FrameReader::PendingLength() const {
  if (end_ - begin_ < kLengthWordSize) return 0;
  return ReadBe32(buf_.data() + begin_);
}

bool FrameReader::HasFrame() const {
  std::size_t len = PendingLength();
  if (end_ - begin_ < kLengthWordSize) return false;
  return len < kMinFrame || len > kMaxFrame || end_ - begin_ >= len;
}

std::span<std::uint8_t> FrameReader::Space() {
  if (begin_ == end_) {
    begin_ = end_ = 0;
    // A long frame is done with: give its memory back (wiped by the allocator).
    if (buf_.size() > kBaseBuffer) Resize(kBaseBuffer);
  }
  if (end_ < buf_.size()) return {buf_.data() + end_, buf_.size() - end_};
  // Full. Move the unconsumed bytes to the front; if they are one unfinished frame that
  // fills the whole buffer, grow towards its length.
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  } else {
    std::size_t need = PendingLength();
    if (need > buf_.size() && need <= kMaxFrame) Resize(std::min(need, buf_.size() * 2));
  }
  return {buf_.data() + end_, buf_.size() - end_};
}
FrameReader::Status FrameReader::Next(std::span<const std::uint8_t>* message) {
  std::size_t avail = end_ - begin_;
  if (avail < kLengthWordSize) return Status::kNeedMore;
  std::size_t len = ReadBe32(buf_.data() + begin_);
  if (len < kMinFrame || len > kMaxFrame) return Status::kBad;
  if (avail < len) return Status::kNeedMore;
  *message = {buf_.data() + begin_ + kLengthWordSize, len - kLengthWordSize};
  begin_ += len;
  return Status::kFrame;
}

std::string ToHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

}  // namespace vsecret::rpc
