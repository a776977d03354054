// The remote end of secret+ssh:// connections, doing what libvirt's virt-ssh-helper does: it
// connects to the local daemon a URI names and copies bytes between that socket and its own
// stdin/stdout until either side closes.
//
//   vsecret ssh-helper [-r|--readonly] URI
//   virt-ssh-helper [-r|--readonly] URI     (vsecret installed or linked under that name)
//
// The URI must be local (secret:///system, secret:///session, or ?socket=PATH); the socket is
// chosen exactly as a local vsecret client chooses it, including the session auto-start.
#pragma once

#include <string>
#include <vector>

namespace vsecret::cli {

// True when args (argv, program name first) ask for the helper rather than the shell.
bool IsSshHelperInvocation(const std::vector<std::string>& args);

// Runs the helper on the given descriptors (borrowed). Returns the exit status: 0 once the
// streams are done, 1 after an error, which is written to err_fd as one line.
int RunSshHelper(const std::vector<std::string>& args, int in_fd, int out_fd, int err_fd);

}  // namespace vsecret::cli
