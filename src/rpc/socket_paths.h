// Where vsecretd's sockets live, and how a client reaches (or starts) the daemon for a URI
// without ?socket=, following the paths and auto-spawn rules of libvirt's client.
//
//   system:   /run/libvirt/virtsecretd-sock and virtsecretd-sock-ro (the client names them
//             /var/run/libvirt/..., as libvirt does; Debian links /var/run to /run)
//   session:  $XDG_RUNTIME_DIR/libvirt/virtsecretd-sock (no -ro socket); without
//             $XDG_RUNTIME_DIR, ~/.cache/libvirt
//
// A client that finds no virtsecretd-sock but a libvirt-sock (a monolithic libvirtd) uses that,
// like libvirt's "auto" mode. For a non-root session URI it starts `vsecretd --session
// --timeout=120` once, under a lock, and retries for about five seconds, unless
// LIBVIRT_AUTOSTART=0.
#pragma once

#include <string>

#include "rpc/unix_socket.h"
#include "vsecret/error.h"

namespace vsecret::rpc {

inline constexpr char kSocketName[] = "virtsecretd-sock";
inline constexpr char kSocketNameRo[] = "virtsecretd-sock-ro";
inline constexpr char kLegacySocketName[] = "libvirt-sock";
inline constexpr char kLegacySocketNameRo[] = "libvirt-sock-ro";

// "/run/libvirt" for the daemon side.
std::string SystemSocketDir();
// $XDG_RUNTIME_DIR/libvirt, else ~/.cache/libvirt.
std::string SessionRuntimeDir();

// Connects to the local daemon for a URI path without ?socket=: "/system" (or any path when
// running as root) uses the system sockets, "/session" the per-user one, with on-demand start.
// The error is libvirt's: "Failed to connect socket to '<path>': <strerror>".
Result<UniqueFd> ConnectLocalDaemon(const std::string& uri_path, bool read_only);

// The vsecretd binary a client starts: $VSECRETD_PATH, else vsecretd next to the running
// executable, else /usr/sbin/vsecretd.
std::string FindDaemonBinary();

}  // namespace vsecret::rpc
