// Client credentials for SASL as libvirt's clients find them: libvirt's auth.conf
// (LIBVIRT_AUTH_FILE, else $XDG_CONFIG_HOME/libvirt/auth.conf, i.e. ~/.config/libvirt/auth.conf,
// else /etc/libvirt/auth.conf), then an interactive prompt when stdin is a terminal (the
// password without echo).
//
// auth.conf is an ini file: [credentials-NAME] groups hold authname=, username= and password=;
// [auth-libvirt-HOST] (or [auth-libvirt-default]) names the group with credentials=NAME.
// SASL's authentication name is "authname", falling back to "username".
//
// The password is returned in SecretBytes and never logged.
#pragma once

#include <optional>
#include <string>

#include "rpc/sasl_session.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::rpc {

struct AuthConfCredentials {
  std::optional<std::string> authname;
  std::optional<std::string> username;
  std::optional<SecretBytes> password;
};

// The credentials auth.conf text gives for host ("libvirt" service); empty fields when absent.
// A syntax error is an error naming the file and line.
Result<AuthConfCredentials> ParseAuthConf(const std::string& text, const std::string& origin,
                                          const std::string& host);

// The file the environment selects (see above), or null when none exists.
std::optional<std::string> FindAuthConf();

// SaslCredentials for host: auth.conf first, then a terminal prompt; failing with libvirt's
// "authentication failed" text when neither can answer.
SaslCredentials ClientSaslCredentials(const std::string& host);

}  // namespace vsecret::rpc
