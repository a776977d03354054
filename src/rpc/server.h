// RpcServer: vsecretd's network side, as libvirt's virNetServer. One epoll loop owns the
// listening sockets and every client connection. The server keeps what is shared: listeners,
// the loop and its timers, admission of new clients (max_clients, peer credentials, the
// read-write peer check, TLS session setup, the per-connection SessionPolicy) and the
// accounting every client draws on. Each connection is a ServerClient (rpc/server_client.h,
// libvirt's virNetServerClient): its transport, frame reassembly, output queue and limits,
// keepalive and dispatch to its RemoteSession are there; the server turns readiness events
// into calls on it and closes it when it says so.
//
// Calls are dispatched on the loop thread itself. The driver serialises every operation under
// one mutex, so worker threads would add hand-offs without adding parallelism; what keeps one
// client from stalling the others is that no socket operation ever blocks:
//  * sockets are non-blocking; partial frames are buffered as their bytes arrive (up to the
//    32 MiB frame limit), and all clients together may hold at most max_pending_input bytes
//    in frame buffers beyond their small base buffers: the client whose frame would pass that
//    is disconnected;
//  * a length word outside [28, 33 554 436] closes that connection only;
//  * output is queued per client. A client whose replies are not read stops being served once
//    max_client_requests replies (or 1 MiB) wait for it: its further calls stay unread in the
//    kernel's socket buffer, so a pipelining client that never reads costs a bounded amount of
//    memory. Unsolicited output (events, PINGs) cannot be held back that way: a client that
//    lets more than max_client_output bytes of it pile up is disconnected;
//  * each wakeup reads at most one buffer per client, so a flooding client cannot starve others.
//
// Listeners may be UNIX sockets or TCP sockets, the latter plain or TLS (a TlsContext given to
// AddListener). TLS handshakes are driven by the same loop without blocking; a client that has
// not finished its handshake within tls_handshake_timeout seconds is dropped, so a slow or
// silent peer holds one descriptor and nothing else. A finished handshake is answered with the
// one-byte confirmation libvirt's client waits for before any frame. The
// read-write peer check (rw_peer_check) applies to UNIX listeners only: on the network the
// listener's TLS client-certificate verification and its read-only flag decide.
//
// Thread-safety: Run() on one thread. RequestStop() and RequestReload() are async-signal-safe
// and may be called from any thread or a signal handler. Everything else is loop-thread only.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "driver/secret_driver.h"
#include "rpc/remote_dispatcher.h"
#include "rpc/server_client.h"
#include "rpc/tls_stream.h"
#include "rpc/unix_socket.h"

namespace vsecret::rpc {

struct ServerOptions {
  // Server-side keepalive for clients that asked about feature 10: a PING after this many
  // seconds of silence, the connection dropped after keepalive_count unanswered PINGs.
  // interval <= 0 disables server PINGs (PINGs from clients are always answered).
  int keepalive_interval = 5;
  int keepalive_count = 5;
  std::size_t max_clients = 5000;
  // Per-client limits, so that one misbehaving client cannot exhaust the daemon's memory (see
  // the top of this file): replies that may wait unread before the client's calls are no
  // longer taken (libvirtd's max_client_requests); bytes of unsolicited output (events) that
  // may wait before the client is disconnected; event callbacks one connection may register.
  std::size_t max_client_requests = 5;
  std::size_t max_client_output = std::size_t{16} << 20;
  std::size_t max_client_event_callbacks = 256;
  // Bytes all clients together may hold in partially received frames beyond their base
  // buffers (FrameReader::kBaseBuffer each).
  std::size_t max_pending_input = std::size_t{128} << 20;
  // Exit Run() after this many seconds with no client and no ephemeral secret; 0 = never.
  int idle_timeout = 0;
  // The CONNECT_OPEN path this instance serves ("/system" or "/session").
  std::string uri_path = "/system";
  // Seconds a TLS client may take to finish its handshake.
  int tls_handshake_timeout = 10;
  // SASL on listeners added with sasl = true: sasl_allowed_username_list (null: everyone,
  // empty: nobody), libvirtd's tcp_min_ssf, the seconds a client may take to authenticate
  // before it is disconnected, and the failed attempts one connection may make.
  std::optional<std::vector<std::string>> sasl_allowed_usernames;
  unsigned tcp_min_ssf = 56;
  int sasl_auth_timeout = 60;
  int sasl_max_failures = 5;
  // Decides whether a peer may use a read-write socket; null admits everyone. Returns an
  // explanation when the peer is refused.
  std::function<std::optional<std::string>(const PeerCredentials&)> rw_peer_check;
  // The host's system token (rpc/identity.h): connections that delegate an identity carrying
  // it may read private values. Null: no connection is ever elevated.
  std::shared_ptr<const SecretBytes> system_token;
  // Called on the loop thread for RequestReload() (SIGHUP); null reloads the driver only.
  std::function<void()> on_reload;
};

class RpcServer {
 public:
  enum class StopReason { kRequested, kIdle };

  // driver must outlive the server.
  static Result<std::unique_ptr<RpcServer>> Create(SecretDriver& driver, ServerOptions options);
  ~RpcServer();

  // Adopts a bound, listening socket (made non-blocking here). With tls, every connection
  // accepted on it speaks TLS with that (shared) context.
  // With sasl, its clients must authenticate with SASL (auth_* = "sasl") before anything else.
  Result<void> AddListener(UniqueFd fd, bool read_only, std::shared_ptr<TlsContext> tls = nullptr,
                           bool sasl = false);
  // Serves until RequestStop() or the idle timeout. Closes every client before returning.
  StopReason Run();

  void RequestStop();
  void RequestReload();

  // Loop-thread only (or after Run() returned).
  std::size_t ClientCount() const { return clients_.size(); }
  // Thread-safe readings of the memory clients hold: bytes queued for them to read, and bytes
  // of partially received frames charged to max_pending_input.
  std::size_t QueuedOutputBytes() const { return queued_output_->load(std::memory_order_relaxed); }
  std::size_t PendingInputBytes() const { return input_budget_->used(); }

 private:
  struct Listener {
    UniqueFd fd;
    bool read_only;
    std::shared_ptr<TlsContext> tls;  // null: plain stream
    bool network;                     // TCP rather than UNIX: no peer credentials
    bool sasl;                        // clients authenticate with SASL first
  };
  using Clock = ServerClient::Clock;

  RpcServer(SecretDriver& driver, ServerOptions options, UniqueFd epoll, UniqueFd wake);

  void Accept(Listener& listener);
  SaslPolicy MakeSaslPolicy(const Listener& listener, int fd) const;
  // Acts on what a client handler asked for; false when the client was closed.
  bool Handle(ServerClient& client, ServerClient::Next next);
  void CloseClient(int fd);
  // TLS handshake deadlines and server-side keepalive.
  void Tick(Clock::time_point now);
  void DrainWakeups();
  void ServeBufferedTls();

  SecretDriver& driver_;
  ServerOptions options_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd poked by RequestStop/RequestReload
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> reload_requested_{false};
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::map<int, std::shared_ptr<ServerClient>> clients_;  // by fd; loop thread only
  Clock::time_point idle_since_;
  std::shared_ptr<InputBudget> input_budget_;
  std::shared_ptr<std::atomic<std::size_t>> queued_output_;  // sum of every client's queued bytes
  std::vector<int> tls_buffered_;  // clients whose TLS layer holds unread data; loop thread only
};

}  // namespace vsecret::rpc
