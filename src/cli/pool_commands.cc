// The pool-* commands, with virsh 9.0's output and messages (directory pools only).
#include <strings.h>

#include <algorithm>
#include <cstdio>

#include "base/env.h"
#include "cli/command_def.h"
#include "cli/command_parser.h"
#include "cli/input_files.h"
#include "cli/shell.h"
#include "cli/storage_cli.h"
#include "cli/table.h"
#include "cli/xpath_dump.h"
#include "conf/xml_escape.h"

namespace vsecret::cli {
namespace {

using volume::PoolStatus;
using volume::StorageDriver;

// Runs one state-changing pool operation with virsh's success and failure lines.
template <typename Op>
bool PoolAction(Shell& shell, const ParsedCommand& cmd, const char* api, Op op, const char* done_fmt,
                const char* fail_fmt) {
  auto storage = OpenStorage(shell, api);
  if (!storage) return false;
  std::string arg;
  std::optional<PoolStatus> pool = LookupPoolOption(shell, *storage, cmd, "pool", &arg);
  if (!pool) return false;
  const std::string& name = pool->def.name;
  Result<void> r = op(*storage, name);
  // The messages carry the pool name where the "%s" is, as virsh's format strings do.
  auto with_name = [&](std::string_view fmt) {
    std::string out(fmt);
    out.replace(out.find("%s"), 2, name);
    return out;
  };
  if (!r) {
    shell.SaveError(r.error());
    shell.console().Error(with_name(fail_fmt));
    return false;
  }
  shell.console().PrintExtra(with_name(done_fmt));
  return true;
}

bool Define(Shell& shell, const std::string& xml, const std::string& shown) {
  auto storage = OpenStorage(shell, "virStoragePoolDefineXML");
  if (!storage) return false;
  Result<PoolDef> def = storage->DefinePool(xml);
  if (!def) {
    shell.SaveError(def.error());
    shell.console().Error("Failed to define pool " + shown);
    return false;
  }
  shell.console().PrintExtra("Pool " + def->name + " defined\n");
  return true;
}

bool CmdPoolDefine(Shell& shell, const ParsedCommand& cmd) {
  std::optional<std::string_view> file;
  if (!OptStringReq(shell.console(), cmd, "file", &file) || !file) return false;
  Result<std::string> xml = ReadXmlFile(std::string(*file));
  if (!xml) {
    shell.SaveError(xml.error());
    return false;
  }
  auto storage = OpenStorage(shell, "virStoragePoolDefineXML");
  if (!storage) return false;
  Result<PoolDef> def = storage->DefinePool(*xml);
  if (!def) {
    shell.SaveError(def.error());
    shell.console().Error("Failed to define pool from " + std::string(*file));
    return false;
  }
  shell.console().PrintExtra("Pool " + def->name + " defined from " + std::string(*file) + "\n");
  return true;
}

bool CmdPoolDefineAs(Shell& shell, const ParsedCommand& cmd) {
  std::optional<std::string_view> name, type, target;
  if (!OptStringReq(shell.console(), cmd, "name", &name) || !name) return false;
  if (!OptStringReq(shell.console(), cmd, "type", &type) || !type) return false;
  if (!OptStringReq(shell.console(), cmd, "target", &target)) return false;
  // virshBuildPoolXML: only the parts given, escaped.
  std::string xml = "<pool type='";
  AppendXmlEscaped(xml, *type);
  xml += "'>\n  <name>";
  AppendXmlEscaped(xml, *name);
  xml += "</name>\n";
  if (target) {
    xml += "  <target>\n    <path>";
    AppendXmlEscaped(xml, *target);
    xml += "</path>\n  </target>\n";
  }
  xml += "</pool>\n";
  if (cmd.Has("print-xml")) {
    shell.console().Print(xml);
    return true;
  }
  return Define(shell, xml, std::string(*name));
}

bool CmdPoolBuild(Shell& shell, const ParsedCommand& cmd) {
  return PoolAction(
      shell, cmd, "virStoragePoolBuild",
      [](StorageDriver& s, const std::string& n) { return s.BuildPool(n); }, "Pool %s built\n",
      "Failed to build pool %s");
}

bool CmdPoolStart(Shell& shell, const ParsedCommand& cmd) {
  return PoolAction(
      shell, cmd, "virStoragePoolCreate",
      [](StorageDriver& s, const std::string& n) { return s.StartPool(n); }, "Pool %s started\n",
      "Failed to start pool %s");
}

bool CmdPoolDestroy(Shell& shell, const ParsedCommand& cmd) {
  return PoolAction(
      shell, cmd, "virStoragePoolDestroy",
      [](StorageDriver& s, const std::string& n) { return s.DestroyPool(n); }, "Pool %s destroyed\n",
      "Failed to destroy pool %s");
}

bool CmdPoolUndefine(Shell& shell, const ParsedCommand& cmd) {
  return PoolAction(
      shell, cmd, "virStoragePoolUndefine",
      [](StorageDriver& s, const std::string& n) { return s.UndefinePool(n); },
      "Pool %s has been undefined\n", "Failed to undefine pool %s");
}

bool CmdPoolRefresh(Shell& shell, const ParsedCommand& cmd) {
  return PoolAction(
      shell, cmd, "virStoragePoolRefresh",
      [](StorageDriver& s, const std::string& n) { return s.RefreshPool(n); }, "Pool %s refreshed\n",
      "Failed to refresh pool %s");
}

bool CmdPoolAutostart(Shell& shell, const ParsedCommand& cmd) {
  const bool disable = cmd.Has("disable");
  return PoolAction(
      shell, cmd, "virStoragePoolSetAutostart",
      [disable](StorageDriver& s, const std::string& n) { return s.SetAutostart(n, !disable); },
      disable ? "Pool %s unmarked as autostarted\n" : "Pool %s marked as autostarted\n",
      disable ? "failed to unmark pool %s as autostarted" : "failed to mark pool %s as autostarted");
}

bool CmdPoolList(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, nullptr);
  if (!storage) return false;
  const bool all = cmd.Has("all");
  const bool inactive = cmd.Has("inactive");
  const bool details = cmd.Has("details");
  std::vector<PoolStatus> pools;
  for (PoolStatus& p : storage->ListPools()) {
    const bool state_ok = all || (inactive ? !p.active : p.active);
    const bool autostart_ok =
        !(cmd.Has("autostart") && !p.autostart) && !(cmd.Has("no-autostart") && p.autostart);
    // Every vsecret pool is persistent.
    const bool persistence_ok = !cmd.Has("transient") || cmd.Has("persistent");
    if (state_ok && autostart_ok && persistence_ok) pools.push_back(std::move(p));
  }
  if (std::optional<std::string_view> type; OptStringReq(shell.console(), cmd, "type", &type) && type) {
    std::erase_if(pools,
                  [&](const PoolStatus& p) { return std::string_view(PoolTypeName(p.def.type)) != *type; });
  }
  std::sort(pools.begin(), pools.end(), [](const PoolStatus& a, const PoolStatus& b) {
    return strcasecmp(a.def.name.c_str(), b.def.name.c_str()) < 0;
  });
  Console& console = shell.console();
  if (cmd.Has("name") || cmd.Has("uuid")) {
    for (const PoolStatus& p : pools) {
      if (cmd.Has("uuid") && cmd.Has("name")) {
        console.Print(p.def.uuid.ToString() + " " + p.def.name + "\n");
      } else {
        console.Print((cmd.Has("uuid") ? p.def.uuid.ToString() : p.def.name) + "\n");
      }
    }
    return true;
  }
  if (!details) {
    Table table({"Name", "State", "Autostart"});
    for (const PoolStatus& p : pools) {
      table.AddRow({p.def.name, p.active ? "active" : "inactive", p.autostart ? "yes" : "no"});
    }
    console.Print(table.Render(!console.quiet()));
    return true;
  }
  Table table({"Name", "State", "Autostart", "Persistent", "Capacity", "Allocation", "Available"});
  for (const PoolStatus& p : pools) {
    const auto size = [&](std::uint64_t v) {
      return p.active ? volume::PrettyCapacity(v) : std::string("-");
    };
    table.AddRow({p.def.name, p.active ? "running" : "inactive", p.autostart ? "yes" : "no", "yes",
                  size(p.sizes.capacity), size(p.sizes.allocation), size(p.sizes.available)});
  }
  console.Print(table.Render(!console.quiet()));
  return true;
}

bool CmdPoolInfo(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, nullptr);
  if (!storage) return false;
  std::optional<PoolStatus> p = LookupPoolOption(shell, *storage, cmd, "pool");
  if (!p) return false;
  std::string out = InfoLine("Name:", p->def.name) + InfoLine("UUID:", p->def.uuid.ToString()) +
                    InfoLine("State:", p->active ? "running" : "inactive") + InfoLine("Persistent:", "yes") +
                    InfoLine("Autostart:", p->autostart ? "yes" : "no");
  if (p->active) {
    const bool bytes = cmd.Has("bytes");
    const auto size = [&](std::uint64_t v) { return bytes ? std::to_string(v) : volume::PrettyCapacity(v); };
    out += InfoLine("Capacity:", size(p->sizes.capacity)) +
           InfoLine("Allocation:", size(p->sizes.allocation)) +
           InfoLine("Available:", size(p->sizes.available));
  }
  shell.console().Print(out);
  return true;
}

bool CmdPoolDumpXml(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, nullptr);
  if (!storage) return false;
  std::optional<PoolStatus> p = LookupPoolOption(shell, *storage, cmd, "pool");
  if (!p) return false;
  std::optional<std::string_view> xpath;
  if (OptStringQuiet(cmd, "xpath", &xpath) < 0) return false;
  PoolStatus shown = *p;
  if (cmd.Has("inactive")) {
    shown.active = false;
    shown.sizes = {};
  }
  auto dumped = DumpXml(shell.console(), storage->PoolXml(shown), xpath, cmd.Has("wrap"));
  if (!dumped) {
    if (!dumped.error().message().empty()) shell.SaveError(dumped.error());
    return false;
  }
  return true;
}

bool CmdPoolUuidOrName(Shell& shell, const ParsedCommand& cmd, bool want_uuid) {
  auto storage = OpenStorage(shell, nullptr);
  if (!storage) return false;
  std::optional<PoolStatus> p = LookupPoolOption(shell, *storage, cmd, "pool");
  if (!p) return false;
  shell.console().Print((want_uuid ? p->def.uuid.ToString() : p->def.name) + "\n");
  return true;
}

bool CmdPoolUuid(Shell& shell, const ParsedCommand& cmd) { return CmdPoolUuidOrName(shell, cmd, true); }
bool CmdPoolName(Shell& shell, const ParsedCommand& cmd) { return CmdPoolUuidOrName(shell, cmd, false); }

constexpr OptDef kPoolOpt[] = {{"pool", OptType::kData, kOptRequired, "pool name or uuid"}};
constexpr OptDef kDefineOpts[] = {
    {"file", OptType::kData, kOptRequired, "file containing an XML pool description"},
    {"validate", OptType::kBool, 0, "validate the XML against the schema (accepted, not applied)"},
};
constexpr OptDef kDefineAsOpts[] = {
    {"name", OptType::kData, kOptRequired, "name of the pool"},
    {"type", OptType::kData, kOptRequired, "type of the pool (only 'dir' has a backend)"},
    {"print-xml", OptType::kBool, 0, "print XML document, but don't define/create"},
    {"target", OptType::kString, kOptNamedOnly, "target for underlying storage"},
};
constexpr OptDef kBuildOpts[] = {
    {"pool", OptType::kData, kOptRequired, "pool name or uuid"},
    {"no-overwrite", OptType::kBool, 0, "do not overwrite any existing data (a directory never is)"},
    {"overwrite", OptType::kBool, 0, "overwrite any existing data (a directory never is)"},
};
constexpr OptDef kAutostartOpts[] = {
    {"pool", OptType::kData, kOptRequired, "pool name or uuid"},
    {"disable", OptType::kBool, 0, "disable autostarting"},
};
constexpr OptDef kListOpts[] = {
    {"inactive", OptType::kBool, 0, "list inactive pools"},
    {"all", OptType::kBool, 0, "list inactive & active pools"},
    {"transient", OptType::kBool, 0, "list transient pools"},
    {"persistent", OptType::kBool, 0, "list persistent pools"},
    {"autostart", OptType::kBool, 0, "list pools with autostart enabled"},
    {"no-autostart", OptType::kBool, 0, "list pools with autostart disabled"},
    {"type", OptType::kString, kOptNamedOnly, "only list pool of specified type(s) (if supported)"},
    {"details", OptType::kBool, 0, "display extended details for pools"},
    {"uuid", OptType::kBool, 0, "list UUID of active pools only"},
    {"name", OptType::kBool, 0, "list name of active pools only"},
};
constexpr OptDef kInfoOpts[] = {
    {"pool", OptType::kData, kOptRequired, "pool name or uuid"},
    {"bytes", OptType::kBool, 0, "Return pool info in bytes"},
};
constexpr OptDef kDumpXmlOpts[] = {
    {"pool", OptType::kData, kOptRequired, "pool name or uuid"},
    {"inactive", OptType::kBool, 0, "show inactive defined XML"},
    {"xpath", OptType::kString, kOptNamedOnly, "xpath expression to filter the XML document"},
    {"wrap", OptType::kBool, 0, "wrap xpath results in an common root element"},
};

const CommandDef kPoolCommands[] = {
    {"pool-autostart", "autostart a pool", "Configure a pool to be automatically started at boot.",
     kAutostartOpts, CmdPoolAutostart, 0},
    {"pool-build", "build a pool", "Build a given pool (create its directory).", kBuildOpts, CmdPoolBuild, 0},
    {"pool-define",
     "define an inactive persistent storage pool or modify an existing persistent one from an XML file",
     "Define or modify a persistent storage pool.", kDefineOpts, CmdPoolDefine, 0},
    {"pool-define-as", "define a pool from a set of args", "Define a pool.", kDefineAsOpts, CmdPoolDefineAs,
     0},
    {"pool-destroy", "destroy (stop) a pool",
     "Forcefully stop a given pool. Raw data in the pool is untouched", kPoolOpt, CmdPoolDestroy, 0},
    {"pool-dumpxml", "pool information in XML", "Output the pool information as an XML dump to stdout.",
     kDumpXmlOpts, CmdPoolDumpXml, 0},
    {"pool-info", "storage pool information", "Returns basic information about the storage pool.", kInfoOpts,
     CmdPoolInfo, 0},
    {"pool-list", "list pools", "Returns list of pools.", kListOpts, CmdPoolList, 0},
    {"pool-name", "convert a pool UUID to pool name", "", kPoolOpt, CmdPoolName, 0},
    {"pool-refresh", "refresh a pool", "Refresh a given pool.", kPoolOpt, CmdPoolRefresh, 0},
    {"pool-start", "start a pool", "Start a pool.", kPoolOpt, CmdPoolStart, 0},
    {"pool-undefine", "undefine an inactive pool", "Undefine the configuration for an inactive pool.",
     kPoolOpt, CmdPoolUndefine, 0},
    {"pool-uuid", "convert a pool name to pool UUID", "", kPoolOpt, CmdPoolUuid, 0},
};

}  // namespace

std::span<const CommandDef> PoolCommands() { return kPoolCommands; }

}  // namespace vsecret::cli
