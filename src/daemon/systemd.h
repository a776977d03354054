// The two small systemd protocols vsecretd speaks without libsystemd:
//  * socket activation: LISTEN_PID / LISTEN_FDS / LISTEN_FDNAMES, descriptors from 3 up;
//  * readiness notification: a datagram such as "READY=1" sent to $NOTIFY_SOCKET (a path, or
//    an abstract name written with a leading '@').
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vsecret::daemon {

struct ActivatedSocket {
  int fd;
  std::string name;  // from LISTEN_FDNAMES, "" when not given
};

// The sockets systemd passed to this process (none unless LISTEN_PID is our pid). They are
// made close-on-exec and the variables are removed, so children do not inherit them.
std::vector<ActivatedSocket> TakeActivatedSockets();

// Sends `state` to the service manager; does nothing when $NOTIFY_SOCKET is unset. Failures
// are logged, never fatal: the daemon works the same without a manager.
void NotifySystemd(std::string_view state);

}  // namespace vsecret::daemon
