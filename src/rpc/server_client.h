// ServerClient: one connection to vsecretd, as libvirt's virNetServerClient is to its
// virNetServer. RpcServer (rpc/server.h) owns the listeners, the epoll loop, client admission
// and the map of clients; everything that belongs to one connection lives here:
//  * the transport: a non-blocking stream socket, optionally with a TLS session whose
//    handshake is driven from the loop's readiness events, followed by the one-byte
//    confirmation (0x01) libvirt's client waits for before it sends any frame;
//  * frame reassembly (FrameReader, charged to the server-wide InputBudget) and the length
//    check: a length word outside [28, 33 554 436] ends the connection;
//  * the output queue and its limits: once max_requests replies (or 1 MiB) wait unread, no
//    further calls are taken from the socket (EPOLLIN is dropped), so a pipelining client that
//    never reads costs bounded memory; unsolicited output (events, PINGs) cannot be held back
//    that way, and a client letting more than max_output bytes of it pile up is disconnected;
//  * dispatch of one frame: keepalive PINGs are answered with PONGs, REMOTE calls go to the
//    connection's RemoteSession (which holds its identity and open/auth state), other
//    programs, statuses and descriptor passing get libvirtd's errors;
//  * the keepalive timer (rpc/keepalive.h) and the TLS handshake deadline;
//  * the SASL security layer: once the reply completing a SASL handshake with SSF > 0 (plain
//    TCP) is queued, every later frame is queued SASL-encoded and every byte read is decoded
//    before framing, as libvirt's virNetSocket wraps the byte stream. Input that arrived in the
//    clear after the completing call ends the connection. The SASL handshake deadline is here
//    too.
//
// The client keeps its own epoll registration (the fd, with the tag the server gave it) in
// step with what it can take: EPOLLIN while it accepts calls, EPOLLOUT while output waits.
// The On* handlers return what the loop must do next; the client never removes itself.
//
// Thread-safety: SendFrame() may be called from any thread (driver events); the mutex guards
// the transport, the output queue and the flags below it. Everything else is for the server's
// loop thread only. The last reference may be dropped on any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>

#include "base/thread_annotations.h"
#include "driver/secret_driver.h"
#include "rpc/frame.h"
#include "rpc/keepalive.h"
#include "rpc/remote_dispatcher.h"
#include "rpc/sasl_session.h"
#include "rpc/tls_stream.h"
#include "rpc/unix_socket.h"

namespace vsecret::rpc {

class ServerClient final : public FrameSink {
 public:
  using Clock = std::chrono::steady_clock;

  // Output back-pressure: no calls are taken from a client this far behind, whatever
  // max_requests says.
  static constexpr std::size_t kPauseReadingAt = std::size_t{1} << 20;

  struct Options {
    std::size_t max_requests = 5;                    // ServerOptions::max_client_requests
    std::size_t max_output = std::size_t{16} << 20;  // ServerOptions::max_client_output
    // Shared with every client of the server: partially received frames beyond the base
    // buffers, and the bytes queued for all clients together. Null: a private account.
    std::shared_ptr<InputBudget> input_budget;
    std::shared_ptr<std::atomic<std::size_t>> total_queued;
  };

  // What the loop does after a handler returned.
  enum class Next {
    kWait,        // wait for the next readiness event
    kServeAgain,  // call OnReadable() again without waiting: OpenSSL holds input epoll cannot see
    kClose,       // close the connection (Detach() it and drop it)
  };

  // Adopts a connected non-blocking socket (and its TLS session, null for a plain stream),
  // creates the connection's RemoteSession and registers the socket with epoll_fd for EPOLLIN
  // under epoll_tag. driver must outlive the client. Fails only when epoll refuses the socket.
  static Result<std::shared_ptr<ServerClient>> Create(SecretDriver& driver, SessionPolicy policy,
                                                      UniqueFd socket, std::unique_ptr<TlsSession> tls,
                                                      int epoll_fd, std::uint64_t epoll_tag, Options options,
                                                      Clock::time_point now);
  ~ServerClient() override;

  ServerClient(const ServerClient&) = delete;
  ServerClient& operator=(const ServerClient&) = delete;

  // Unsolicited output (events, PINGs); thread-safe. Queues the frame and writes as much as
  // the socket takes now; past max_output bytes of it waiting, the client is disconnected.
  void SendFrame(WireBuffer frame) override EXCLUDES(mutex_);

  // Readiness handlers; hangup: epoll reported EPOLLHUP or EPOLLERR with the input.
  Next OnReadable(bool hangup = false);
  Next OnWritable();

  // Leaves epoll and drops the RemoteSession (deregistering its events). The descriptor closes
  // with the last reference. Idempotent.
  void Detach();

  // True when a TLS handshake started at accept time has not finished within timeout.
  bool HandshakeExpired(Clock::time_point now, std::chrono::seconds timeout);
  // True when the listener asks for SASL and the client has not authenticated within timeout.
  bool AuthExpired(Clock::time_point now, std::chrono::seconds timeout) const;
  // The SASL security layer wraps the stream.
  bool sasl_wrapped() const { return wrapped_; }
  // Server-side keepalive, only once the client asked about the keepalive feature: PINGs a
  // silent client. False when `count` PINGs went unanswered (the caller closes it).
  bool KeepAliveTick(Clock::time_point now, int interval, int count);

  int fd() const { return fd_.get(); }
  bool tls() const { return tls_ != nullptr; }
  // Observations for the server and for tests.
  bool AcceptsCalls() const EXCLUDES(mutex_);
  std::uint32_t interest() const EXCLUDES(mutex_);  // the epoll mask currently registered
  std::size_t QueuedBytes() const EXCLUDES(mutex_);
  std::size_t BufferedInputCapacity() const { return reader_.Capacity(); }

 private:
  struct Outgoing {
    WireBuffer frame;
    bool response;  // answers something the client sent (a reply or a PONG)
  };

  ServerClient(UniqueFd socket, std::unique_ptr<TlsSession> tls, int epoll_fd, std::uint64_t epoll_tag,
               Options options, Clock::time_point now);

  // Handles the complete frames the reader holds, as far as the limits allow. False when the
  // connection must close.
  bool ProcessFrames();
  void HandleMessage(std::span<const std::uint8_t> message);
  // A reply or PONG. Counted against max_requests until fully written.
  void Respond(WireBuffer frame);
  // Reads what the transport has: >0 bytes, 0 at EOF or failure, -1 (errno EAGAIN) when
  // nothing is ready. TLS reads take the mutex (OpenSSL sessions are not thread-safe).
  ssize_t ReadSome(std::span<std::uint8_t> into);
  // ReadSome through the SASL layer: decodes what the socket has, keeps the plaintext that
  // did not fit (at most one decode's output).
  ssize_t ReadSasl(std::span<std::uint8_t> into) EXCLUDES(mutex_);
  // After a reply: installs the security layer the session negotiated, if any.
  void InstallSaslLayer();
  // After frames were taken: whether OpenSSL holds more that epoll cannot report.
  Next AfterReading();

  // Queues (SASL-encoding it when the layer is on) and flushes; returns the bytes queued.
  std::size_t QueueLocked(Outgoing item) REQUIRES(mutex_);
  bool AcceptsCallsLocked() const REQUIRES(mutex_);
  void FlushLocked() REQUIRES(mutex_);  // writes queued frames until the socket would block
  void KillLocked() REQUIRES(mutex_);   // I/O failed or limit passed: shut the socket down, drop the output
  void AdvanceHandshakeLocked() REQUIRES(mutex_);
  void UpdateInterestLocked() REQUIRES(mutex_);
  bool FinishedLocked() const REQUIRES(mutex_) { return dead_ || (closing_ && out_.empty()); }

  UniqueFd fd_;
  const int epoll_fd_;
  const std::uint64_t epoll_tag_;
  const Options options_;
  const Clock::time_point accepted_at_;

  // Loop thread only.
  std::unique_ptr<RemoteSession> session_;  // null once detached
  FrameReader reader_;
  KeepAliveTimer keepalive_timer_;
  bool keepalive_ = false;  // the client asked about feature 10: it may be pinged
  bool watched_ = false;    // registered with epoll
  bool wrapped_ = false;    // sasl_ is installed (set once, on this thread, before any use)

  mutable Mutex mutex_;
  std::unique_ptr<TlsSession> tls_ PT_GUARDED_BY(mutex_);    // null for plain streams
  std::unique_ptr<SaslSession> sasl_ PT_GUARDED_BY(mutex_);  // the SASL layer; null when none
  WireBuffer sasl_plain_ GUARDED_BY(mutex_);                 // decoded, not yet framed
  std::size_t sasl_plain_off_ GUARDED_BY(mutex_) = 0;        // bytes of sasl_plain_ handed out
  std::deque<Outgoing> out_ GUARDED_BY(mutex_);
  std::size_t out_offset_ GUARDED_BY(mutex_) = 0;        // bytes of out_.front() already sent
  std::size_t queued_ GUARDED_BY(mutex_) = 0;            // bytes waiting in out_
  std::size_t responses_ GUARDED_BY(mutex_) = 0;         // response frames in out_
  std::size_t unsolicited_ GUARDED_BY(mutex_) = 0;       // bytes of unsolicited frames in out_
  bool dead_ GUARDED_BY(mutex_) = false;                 // I/O failed or dropped: close it
  bool closing_ GUARDED_BY(mutex_) = false;              // CONNECT_CLOSE answered: close once drained
  std::uint32_t interest_ GUARDED_BY(mutex_) = 0;        // the registered epoll mask
  bool handshaking_ GUARDED_BY(mutex_) = false;          // TLS handshake not finished yet
  std::uint32_t handshake_want_ GUARDED_BY(mutex_) = 0;  // EPOLLIN or EPOLLOUT
  bool read_wants_write_ GUARDED_BY(mutex_) = false;     // TLS read must wait for writability
  bool refused_ GUARDED_BY(mutex_) = false;              // handshake failed: draining until EOF
};

}  // namespace vsecret::rpc
