#include "vsecret/compat.h"

#include <atomic>

namespace vsecret {
namespace {

std::atomic<LibvirtBehaviour> g_behaviour{LibvirtBehaviour::kLibvirt12};

}  // namespace

LibvirtBehaviour CurrentLibvirtBehaviour() { return g_behaviour.load(std::memory_order_relaxed); }

void SetLibvirtBehaviour(LibvirtBehaviour behaviour) {
  g_behaviour.store(behaviour, std::memory_order_relaxed);
}

std::optional<LibvirtBehaviour> ParseLibvirtBehaviour(std::string_view text) {
  if (text == "9.0" || text == "9") return LibvirtBehaviour::kLibvirt9;
  if (text.empty() || text == "12" || text == "12.x") return LibvirtBehaviour::kLibvirt12;
  return std::nullopt;
}

}  // namespace vsecret
