// Which libvirt release vsecret reproduces where libvirt's own releases disagree.
//
// libvirt 12.x is the reference: messages, XML diagnostics and CLI output follow it by default.
// A few things that users can see differ between libvirt 9.0 and 12.x: the warning for a secret value given
// on the command line, the form of XML syntax errors, the usage-type errors, and whether an XML encoding
// declaration in API input is honoured. Scripts written against 9.0's virsh can ask the `vsecret` command
// line for 9.0's behaviour with the one setting VSECRET_COMPAT=9.0 (README, `vsecret help`). vsecretd always
// answers as libvirt 12.x does.
//
// Thread-safety: the setting is a process-wide atomic. Set it once at start-up, before other
// threads parse XML; reading it is always safe.
#pragma once

#include <optional>
#include <string_view>

namespace vsecret {

enum class LibvirtBehaviour {
  kLibvirt12,  // the default
  kLibvirt9,
};

// The environment variable the `vsecret` command line reads, and its one accepted value besides
// the default.
inline constexpr std::string_view kCompatEnvVar = "VSECRET_COMPAT";

LibvirtBehaviour CurrentLibvirtBehaviour();
void SetLibvirtBehaviour(LibvirtBehaviour behaviour);
inline bool Libvirt9Compat() { return CurrentLibvirtBehaviour() == LibvirtBehaviour::kLibvirt9; }

// "9.0" (also "9") selects 9.0's behaviour; "", "12" and "12.x" the default; nullopt for anything
// else.
std::optional<LibvirtBehaviour> ParseLibvirtBehaviour(std::string_view text);

// Sets the behaviour for the lifetime of the object and restores the previous one (tests).
class ScopedLibvirtBehaviour {
 public:
  explicit ScopedLibvirtBehaviour(LibvirtBehaviour behaviour) : saved_(CurrentLibvirtBehaviour()) {
    SetLibvirtBehaviour(behaviour);
  }
  ~ScopedLibvirtBehaviour() { SetLibvirtBehaviour(saved_); }
  ScopedLibvirtBehaviour(const ScopedLibvirtBehaviour&) = delete;
  ScopedLibvirtBehaviour& operator=(const ScopedLibvirtBehaviour&) = delete;

 private:
  LibvirtBehaviour saved_;
};

}  // namespace vsecret
