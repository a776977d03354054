// RpcClient: the client half of one libvirt RPC connection (to vsecretd or to a stock libvirtd).
//
// A reader thread owns the receiving side: it routes each REPLY to the call waiting for its
// serial, hands REMOTE MESSAGEs (events) to the message handler, answers keepalive PINGs and,
// once StartKeepAlive() was called, pings a silent server and gives up on it after `count`
// unanswered PINGs. Calls may be issued from any number of threads
// at once; they are pipelined on the socket and each waits for its own reply.
//
// When the connection fails (EOF, I/O error, protocol violation, keepalive timeout) every
// waiting call fails with the reason, and so does every later call.
//
// Thread-safety: every public method is safe from any thread. The message handler runs on
// the reader thread and must not issue calls on this client (it would wait for itself).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <thread>

#include "base/thread_annotations.h"
#include "rpc/frame.h"
#include "rpc/remote_messages.h"
#include "rpc/sasl_session.h"
#include "rpc/unix_socket.h"
#include "vsecret/error.h"

namespace vsecret::rpc {

// Argument and result types for procedures without arguments or without a result.
struct NoArgs {};
struct NoRet {};
inline void Encode(XdrEncoder&, const NoArgs&) {}
inline bool Decode(XdrDecoder&, NoRet*) { return true; }

class RpcClient {
 public:
  using MessageHandler = std::function<void(const Header& header, std::span<const std::uint8_t> payload)>;

  // Adopts a connected stream socket and starts the reader thread.
  static std::unique_ptr<RpcClient> Start(UniqueFd fd, MessageHandler on_message);
  ~RpcClient();  // Close(), then joins the reader thread

  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // Sends a REMOTE program CALL and waits for the reply. Returns the reply payload, or the
  // server's error (RemoteError::ToError), or the connection failure.
  Result<WireBuffer> CallRaw(std::int32_t proc, const WireBuffer& args);

  template <typename Ret, typename Args>
  Result<Ret> Call(Proc proc, const Args& args) {
    WireBuffer encoded;
    XdrEncoder enc(encoded);
    Encode(enc, args);
    auto reply = CallRaw(static_cast<std::int32_t>(proc), encoded);
    if (!reply) return std::unexpected(reply.error());
    auto decoded = DecodePayload<Ret>(*reply);
    if (!decoded) return std::unexpected(decoded.error());
    return decoded;
  }

  // From now on every byte written is SASL-encoded and every byte read decoded (a completed
  // SASL handshake with a security layer). Call between calls, after the reply that completed
  // the handshake, before anything else is sent.
  void InstallSaslLayer(std::unique_ptr<SaslSession> layer) EXCLUDES(write_mutex_, sasl_mutex_);

  // Turns on client keepalive (interval seconds, count unanswered PINGs).
  void StartKeepAlive(int interval, int count);
  // Shuts the socket down; waiting and later calls fail. Idempotent.
  void Close();
  bool IsOpen() const;

 private:
  struct Pending {
    bool done = false;
    std::optional<Result<WireBuffer>> result;
  };

  RpcClient(UniqueFd fd, MessageHandler on_message);
  void ReaderLoop();
  void HandleFrame(std::span<const std::uint8_t> message);
  // Records the first failure, wakes every waiting call and shuts the socket down.
  void Fail(Error reason) EXCLUDES(mutex_);
  bool WriteFrame(const WireBuffer& frame) EXCLUDES(write_mutex_);

  UniqueFd fd_;
  MessageHandler on_message_;
  std::thread reader_;

  Mutex write_mutex_;  // serialises whole frames on the socket
  // Cyrus sessions are not thread-safe: encode (writers) and decode (the reader) take this,
  // after write_mutex_ when both are held.
  Mutex sasl_mutex_ ACQUIRED_AFTER(write_mutex_);
  std::unique_ptr<SaslSession> sasl_ PT_GUARDED_BY(sasl_mutex_);

  mutable Mutex mutex_;
  CondVar cv_;
  std::map<std::uint32_t, Pending*> pending_ GUARDED_BY(mutex_);  // by serial
  std::uint32_t next_serial_ GUARDED_BY(mutex_) = 0;
  std::optional<Error> failure_ GUARDED_BY(mutex_);
  int keepalive_interval_ GUARDED_BY(mutex_) = 0;  // 0 = off
  int keepalive_count_ GUARDED_BY(mutex_) = 0;
};

}  // namespace vsecret::rpc
