// The client side of the network transports: the TLS handshake with libvirt's confirmation
// byte, and relays that let RpcClient (which speaks to one plain stream socket) run unchanged
// over TLS or over a child process such as ssh.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rpc/tls_stream.h"
#include "rpc/unix_socket.h"
#include "vsecret/error.h"

namespace vsecret::rpc {

// Whatever keeps a transport alive besides its socket (a relay thread, a child process).
// Destroy it only after the RpcClient using the socket is gone.
class TransportHolder {
 public:
  virtual ~TransportHolder() = default;
};

// Runs the client handshake on a connected TCP socket and waits for the server's confirmation
// byte, all within timeout_ms. Errors follow libvirt's wording: "TLS handshake failed: ...",
// "Unable to read TLS confirmation: ...", "server verification (of our certificate or IP
// address) failed" (SYSTEM_ERROR / RPC).
Result<std::unique_ptr<TlsSession>> TlsClientHandshake(std::shared_ptr<TlsContext> ctx, int fd,
                                                       int timeout_ms = 15000);

// Moves bytes between one end of a socket pair and a TLS session on a thread of its own. The
// other end, returned by Start, is what RpcClient adopts. EOF on either side is passed on.
class TlsRelay final : public TransportHolder {
 public:
  // tcp: the connected socket tls runs on (the relay owns both from here).
  static Result<std::pair<std::unique_ptr<TlsRelay>, UniqueFd>> Start(UniqueFd tcp,
                                                                      std::unique_ptr<TlsSession> tls);
  ~TlsRelay() override;  // stops the thread, sends close_notify when it can

 private:
  TlsRelay(UniqueFd tcp, UniqueFd local, UniqueFd stop, std::unique_ptr<TlsSession> tls);
  void Run();

  UniqueFd tcp_;
  UniqueFd local_;
  UniqueFd stop_;                    // eventfd: the destructor's wake-up
  std::unique_ptr<TlsSession> tls_;  // used only by the relay thread once started
  std::thread thread_;
};

// A child process whose stdin and stdout are one end of a socket pair (the returned socket is
// the other end); its stderr is inherited so the user sees ssh's own messages.
class ChildTransport final : public TransportHolder {
 public:
  static Result<std::pair<std::unique_ptr<ChildTransport>, UniqueFd>> Spawn(
      const std::vector<std::string>& argv);
  // Waits briefly for the child (it sees EOF once the socket closed), then SIGTERM, SIGKILL.
  ~ChildTransport() override;

 private:
  explicit ChildTransport(pid_t pid) : pid_(pid) {}
  pid_t pid_;
};

}  // namespace vsecret::rpc
