// TCP stream sockets for the network transports (TLS and plain TCP): listen and connect.
// Every descriptor returned is close-on-exec and owned by the caller.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "rpc/unix_socket.h"
#include "vsecret/error.h"

namespace vsecret::rpc {

struct TcpListenOptions {
  // "" listens on every address (IPv4 and IPv6), like libvirtd's default listen_addr.
  std::string address;
  int port = 0;  // 0 = any free port (tests read it back with BoundPort)
  // When false, any address that is not loopback (127.0.0.0/8, ::1) is refused before binding:
  // the plain TCP transport has no authentication of its own.
  bool allow_non_loopback = true;
  int backlog = 128;
};

// Binds one socket per resolved address (IPv6 sockets are V6ONLY). Errors:
// "Failed to bind socket to '<addr>:<port>': <strerror>", or CONFIG_UNSUPPORTED for a refused
// non-loopback address.
Result<std::vector<UniqueFd>> ListenTcp(const TcpListenOptions& options);

// Connects a blocking socket to host:port, trying each resolved address in turn, each bounded
// by timeout_ms. Errors read "unable to connect to server at '<host>:<port>': <strerror>"
// (SYSTEM_ERROR, domain RPC), as libvirt's client words them.
Result<UniqueFd> ConnectTcp(const std::string& host, int port, int timeout_ms = 10000);

// The local port of a bound socket, or 0.
int BoundPort(int fd);
// A connected TCP socket's local (peer = false) or remote address as Cyrus SASL wants it,
// "ip;port" with a numeric host; null when the socket has no such address.
std::optional<std::string> SaslAddress(int fd, bool peer);

// True for 127.0.0.0/8 and ::1 (and v4-mapped loopback).
bool IsLoopbackAddress(const std::string& numeric_address);

}  // namespace vsecret::rpc
