// A process-wide Cyrus SASL set-up for the SASL unit tests: a private directory with a
// libvirt.conf (mech_list and sasldb_path) and a sasldb made with saslpasswd2, pointed to by
// SASL_CONF_PATH. Cyrus reads the application config once per process, at its first
// initialisation, so every test shares this one directory; SaslTestEnv() must run before any
// SASL session is created (each SASL test calls it first).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "test_util.h"

namespace vsecret::test {

inline constexpr char kSaslUser[] = "alice";
inline constexpr char kSaslPassword[] = "alice-wonderland-7";
inline constexpr char kSaslOtherUser[] = "bob";
inline constexpr char kSaslOtherPassword[] = "bob-builder-3";

struct SaslEnv {
  std::string dir;
  bool ok = false;
};

// realm empty: saslpasswd2's default, the host name (what a daemon without a configured FQDN
// uses); the tests' sessions name the server "localhost", so users exist in both realms.
inline bool AddSaslUser(const std::string& db, const std::string& user, const std::string& password,
                        const std::string& realm = "") {
  // The password goes through stdin (-p), never argv.
  std::string cmd = "saslpasswd2 -f '" + db + "' -p -a libvirt -c '" + user + "'";
  if (!realm.empty()) cmd += " -u '" + realm + "'";
  FILE* p = ::popen(cmd.c_str(), "w");
  if (p == nullptr) return false;
  std::fputs(password.c_str(), p);
  return ::pclose(p) == 0;
}

inline const SaslEnv& SaslTestEnv() {
  static SaslEnv env = [] {
    SaslEnv e;
    static TempDir dir;  // lives until the process exits
    e.dir = dir.path();
    const std::string db = e.dir + "/passwd.db";
    WriteFileRaw(e.dir + "/libvirt.conf",
                 "mech_list: digest-md5 scram-sha-256 plain\nsasldb_path: " + db + "\n");
    e.ok = AddSaslUser(db, kSaslUser, kSaslPassword) && AddSaslUser(db, kSaslOtherUser, kSaslOtherPassword) &&
           AddSaslUser(db, kSaslUser, kSaslPassword, "localhost") &&
           AddSaslUser(db, kSaslOtherUser, kSaslOtherPassword, "localhost");
    ::setenv("SASL_CONF_PATH", e.dir.c_str(), 1);
    return e;
  }();
  return env;
}

}  // namespace vsecret::test
