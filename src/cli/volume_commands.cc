// The vol-* commands that describe and manage volumes, with virsh 9.0's output and messages. The
// data-moving ones (upload, download) and the qemu hand-over live in volume_data_commands.cc.
#include <algorithm>
#include <cstdio>

#include "base/env.h"
#include "cli/command_def.h"
#include "cli/command_parser.h"
#include "cli/input_files.h"
#include "cli/shell.h"
#include "cli/storage_cli.h"
#include "cli/table.h"
#include "cli/volume_convert_command.h"
#include "cli/volume_key_commands.h"
#include "cli/xpath_dump.h"
#include "conf/volume_xml.h"

namespace vsecret::cli {

// Defined in volume_data_commands.cc.
bool CmdVolUpload(Shell& shell, const ParsedCommand& cmd);
bool CmdVolDownload(Shell& shell, const ParsedCommand& cmd);
bool CmdVolQemuArgs(Shell& shell, const ParsedCommand& cmd);
bool CmdVolQemuExec(Shell& shell, const ParsedCommand& cmd);

namespace {

using volume::StorageDriver;
using volume::VolumeRef;

std::string SizeText(std::uint64_t v, bool bytes) {
  return bytes ? std::to_string(v) + " bytes" : volume::PrettyCapacity(v);
}

bool CreateFromXml(Shell& shell, StorageDriver& storage, const std::string& pool, const std::string& xml,
                   const std::string& fail_line, const std::string& done_line) {
  ProgressBar bar("Creating");
  Result<VolumeRef> vol = storage.CreateVolume(pool, xml, bar.Callback());
  bar.Finish();
  if (!vol) {
    shell.SaveError(vol.error());
    shell.console().Error(fail_line);
    return false;
  }
  shell.console().PrintExtra(done_line);
  return true;
}

bool CmdVolCreate(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, "virStorageVolCreateXML");
  if (!storage) return false;
  std::optional<volume::PoolStatus> pool = LookupPoolOption(shell, *storage, cmd, "pool");
  if (!pool) return false;
  std::optional<std::string_view> file;
  if (!OptStringReq(shell.console(), cmd, "file", &file) || !file) return false;
  const std::string from(*file);
  Result<std::string> read = ReadXmlFile(from);
  if (!read) {
    shell.SaveError(read.error());
    return false;
  }
  const std::string& xml = *read;
  // The name for the success line comes from the created volume, as virsh asks for it.
  Result<VolumeDef> def = ParseVolumeXml(xml);
  const std::string name = def ? def->name : std::string();
  return CreateFromXml(shell, *storage, pool->def.name, xml, "Failed to create vol from " + from,
                       "Vol " + name + " created from " + from + "\n");
}

bool CmdVolCreateAs(Shell& shell, const ParsedCommand& cmd) {
  Console& console = shell.console();
  auto storage = OpenStorage(shell, cmd.Has("print-xml") ? nullptr : "virStorageVolCreateXML");
  if (!storage) return false;
  std::optional<volume::PoolStatus> pool = LookupPoolOption(shell, *storage, cmd, "pool");
  if (!pool) return false;
  std::optional<std::string_view> name, capacity_text, allocation_text, format, secret;
  if (!OptStringReq(console, cmd, "name", &name) || !name) return false;
  if (!OptStringReq(console, cmd, "capacity", &capacity_text) || !capacity_text) return false;
  Result<std::uint64_t> capacity = ParseScaledSize(*capacity_text);
  if (!capacity) {
    console.Error("Malformed size " + std::string(*capacity_text));
    if (!capacity.error().message().empty()) shell.SaveError(capacity.error());
    return false;
  }
  std::optional<std::uint64_t> allocation;
  if (OptStringQuiet(cmd, "allocation", &allocation_text) > 0) {
    Result<std::uint64_t> a = ParseScaledSize(*allocation_text);
    if (!a) {
      console.Error("Malformed size " + std::string(*allocation_text));
      if (!a.error().message().empty()) shell.SaveError(a.error());
      return false;
    }
    allocation = *a;
  }
  if (!OptStringReq(console, cmd, "format", &format) || !OptStringReq(console, cmd, "secret", &secret))
    return false;
  if (cmd.Has("backing-vol") && !cmd.Has("print-xml")) {
    shell.SaveError(Error(ErrorCode::kConfigUnsupported, ErrorDomain::kStorage,
                          "unsupported configuration: backing stores are not supported"));
    console.Error("Failed to create vol " + std::string(*name));
    return false;
  }
  std::optional<EncryptionDef> encryption;
  if (secret || cmd.Has("encrypt")) {
    // vsecret extensions: LUKS encryption keyed by a secret given by UUID or usage (--secret), or
    // by a new secret the driver generates and records with the volume (--encrypt alone).
    EncryptionDef enc;
    enc.format = EncryptionFormat::kLuks;
    if (secret) {
      EncryptionSecret s;
      if (std::optional<Uuid> uuid = Uuid::Parse(*secret)) {
        s.uuid = *uuid;
      } else {
        s.usage = std::string(*secret);
      }
      enc.secrets.push_back(std::move(s));
    }
    encryption = std::move(enc);
  }
  const std::string xml =
      FormatVolumeRequestXml(std::string(*name), *capacity, allocation,
                             format ? std::optional<std::string>(*format) : std::nullopt, encryption);
  if (cmd.Has("print-xml")) {
    console.Print(xml);
    return true;
  }
  return CreateFromXml(shell, *storage, pool->def.name, xml, "Failed to create vol " + std::string(*name),
                       "Vol " + std::string(*name) + " created\n");
}

bool CmdVolList(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, nullptr);
  if (!storage) return false;
  std::optional<volume::PoolStatus> pool = LookupPoolOption(shell, *storage, cmd, "pool");
  if (!pool) return false;
  Result<std::vector<VolumeStatus>> vols = storage->ListVolumes(pool->def.name);
  if (!vols) {
    shell.SaveError(vols.error());
    shell.console().Error("Failed to list volumes");
    return false;
  }
  Console& console = shell.console();
  if (!cmd.Has("details")) {
    Table table({"Name", "Path"});
    for (const VolumeStatus& v : *vols) table.AddRow({v.name, v.path});
    console.Print(table.Render(!console.quiet()));
    return true;
  }
  Table table({"Name", "Path", "Type", "Capacity", "Allocation"});
  for (const VolumeStatus& v : *vols) {
    table.AddRow({v.name, v.path, v.is_dir ? "dir" : "file", volume::PrettyCapacity(v.capacity),
                  volume::PrettyCapacity(v.allocation)});
  }
  console.Print(table.Render(!console.quiet()));
  return true;
}

bool CmdVolInfo(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, nullptr);
  if (!storage) return false;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd);
  if (!vol) return false;
  std::string out = InfoLine("Name:", vol->name);
  Result<VolumeStatus> status = storage->GetVolume(*vol);
  if (!status) {
    shell.console().Print(out);
    shell.SaveError(status.error());
    return false;
  }
  const bool bytes = cmd.Has("bytes");
  out += InfoLine("Type:", status->is_dir ? "dir" : "file");
  out += InfoLine("Capacity:", SizeText(status->capacity, bytes));
  out += cmd.Has("physical") ? InfoLine("Physical:", SizeText(status->physical, bytes))
                             : InfoLine("Allocation:", SizeText(status->allocation, bytes));
  shell.console().Print(out);
  return true;
}

bool CmdVolDumpXml(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, nullptr);
  if (!storage) return false;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd);
  if (!vol) return false;
  std::optional<std::string_view> xpath;
  if (OptStringQuiet(cmd, "xpath", &xpath) < 0) return false;
  Result<VolumeStatus> status = storage->GetVolume(*vol);
  if (!status) {
    shell.SaveError(status.error());
    return false;
  }
  auto dumped = DumpXml(shell.console(), FormatVolumeXml(*status), xpath, cmd.Has("wrap"));
  if (!dumped) {
    if (!dumped.error().message().empty()) shell.SaveError(dumped.error());
    return false;
  }
  return true;
}

bool CmdVolDelete(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, "virStorageVolDelete");
  if (!storage) return false;
  std::string name;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd, &name);
  if (!vol) return false;
  if (Result<void> r = storage->DeleteVolume(*vol); !r) {
    shell.SaveError(r.error());
    shell.console().Error("Failed to delete vol " + name);
    return false;
  }
  shell.console().PrintExtra("Vol " + name + " deleted\n");
  return true;
}

bool CmdVolResize(Shell& shell, const ParsedCommand& cmd) {
  Console& console = shell.console();
  unsigned flags = 0;
  if (cmd.Has("allocate")) flags |= volume::kResizeAllocate;
  if (cmd.Has("delta")) flags |= volume::kResizeDelta;
  if (cmd.Has("shrink")) flags |= volume::kResizeShrink;
  auto storage = OpenStorage(shell, "virStorageVolResize");
  if (!storage) return false;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd);
  if (!vol) return false;
  std::optional<std::string_view> text;
  if (!OptStringReq(console, cmd, "capacity", &text) || !text) return false;
  std::string_view capacity_text = *text;
  while (!capacity_text.empty() && (capacity_text.front() == ' ' || capacity_text.front() == '\t')) {
    capacity_text.remove_prefix(1);
  }
  if (!capacity_text.empty() && capacity_text.front() == '-') {
    // A negative size is a convenience for --delta --shrink.
    if (!(flags & volume::kResizeShrink)) {
      console.Error("negative size requires --shrink");
      return false;
    }
    flags |= volume::kResizeDelta;
    capacity_text.remove_prefix(1);
  }
  const std::string shown(capacity_text);
  Result<std::uint64_t> capacity = ParseScaledSize(capacity_text);
  if (!capacity) {
    console.Error("Malformed size " + shown);
    if (!capacity.error().message().empty()) shell.SaveError(capacity.error());
    return false;
  }
  const bool delta = flags & volume::kResizeDelta;
  ProgressBar bar("Resizing");
  Result<std::uint64_t> done = storage->ResizeVolume(*vol, *capacity, flags, bar.Callback());
  bar.Finish();
  if (!done) {
    shell.SaveError(done.error());
    console.Error("Failed to change size of volume '" + vol->name + (delta ? "' by " : "' to ") + shown);
    return false;
  }
  console.PrintExtra("Size of volume '" + vol->name +
                     (delta ? "' successfully changed by " : "' successfully changed to ") + shown + "\n");
  return true;
}

bool CmdVolWipe(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, "virStorageVolWipe");
  if (!storage) return false;
  std::string name;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd, &name);
  if (!vol) return false;
  std::optional<std::string_view> algorithm;
  if (!OptStringReq(shell.console(), cmd, "algorithm", &algorithm)) return false;
  volume::WipeAlgorithm alg = volume::WipeAlgorithm::kZero;
  if (algorithm) {
    static constexpr std::string_view kKnown[] = {"zero",     "nnsa",      "dod",        "bsi",    "gutmann",
                                                  "schneier", "pfitzner7", "pfitzner33", "random", "trim"};
    if (std::find(std::begin(kKnown), std::end(kKnown), *algorithm) == std::end(kKnown)) {
      shell.console().Error("Unsupported algorithm '" + std::string(*algorithm) + "'");
      return false;
    }
    alg = *algorithm == "zero"     ? volume::WipeAlgorithm::kZero
          : *algorithm == "random" ? volume::WipeAlgorithm::kRandom
                                   : volume::WipeAlgorithm::kOther;
  }
  ProgressBar bar("Wiping");
  Result<void> r = storage->Wipe(*vol, alg, bar.Callback());
  bar.Finish();
  if (!r) {
    shell.SaveError(r.error());
    shell.console().Error("Failed to wipe vol " + name);
    return false;
  }
  shell.console().PrintExtra("Vol " + name + " wiped\n");
  return true;
}

bool CmdVolPath(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, nullptr);
  if (!storage) return false;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd);
  if (!vol) return false;
  shell.console().Print(vol->path + "\n");
  return true;
}

bool CmdVolName(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, nullptr);
  if (!storage) return false;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd);
  if (!vol) return false;
  shell.console().Print(vol->name + "\n");
  return true;
}

bool CmdVolPool(Shell& shell, const ParsedCommand& cmd) {
  auto storage = OpenStorage(shell, nullptr);
  if (!storage) return false;
  std::optional<VolumeRef> vol = LookupVolumeOption(shell, *storage, cmd);
  if (!vol) return false;
  if (cmd.Has("uuid")) {
    Result<volume::PoolStatus> pool = storage->LookupPoolByName(vol->pool);
    if (!pool) {
      shell.SaveError(pool.error());
      return false;
    }
    shell.console().Print(pool->def.uuid.ToString() + "\n");
  } else {
    shell.console().Print(vol->pool + "\n");
  }
  return true;
}

constexpr OptDef kVolPoolOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
};
constexpr OptDef kCreateOpts[] = {
    {"pool", OptType::kData, kOptRequired, "pool name"},
    {"file", OptType::kData, kOptRequired, "file containing an XML vol description"},
    {"prealloc-metadata", OptType::kBool, 0, "preallocate metadata (for qcow2 instead of full allocation)"},
    {"validate", OptType::kBool, 0, "validate the XML against the schema (accepted, not applied)"},
};
constexpr OptDef kCreateAsOpts[] = {
    {"pool", OptType::kData, kOptRequired, "pool name"},
    {"name", OptType::kData, kOptRequired, "name of the volume"},
    {"capacity", OptType::kData, kOptRequired, "size of the vol, as scaled integer (default bytes)"},
    {"allocation", OptType::kString, kOptNamedOnly,
     "initial allocation size, as scaled integer (default bytes); a full allocation zero-fills an encrypted "
     "volume"},
    {"format", OptType::kString, kOptNamedOnly, "file format type raw,qcow2"},
    {"backing-vol", OptType::kString, kOptNamedOnly,
     "the backing volume if taking a snapshot (not supported)"},
    {"backing-vol-format", OptType::kString, kOptNamedOnly, "format of backing volume if taking a snapshot"},
    {"prealloc-metadata", OptType::kBool, 0, "preallocate metadata (for qcow2 instead of full allocation)"},
    {"print-xml", OptType::kBool, 0, "print XML document, but don't define/create"},
    {"secret", OptType::kString, kOptNamedOnly,
     "encrypt with LUKS using this secret (UUID or volume usage; a secret without a value gets a generated "
     "one); vsecret extension"},
    {"encrypt", OptType::kBool, 0,
     "encrypt with LUKS under a new private secret holding a generated passphrase; vsecret extension"},
};
constexpr OptDef kListOpts[] = {
    {"pool", OptType::kData, kOptRequired, "pool name or uuid"},
    {"details", OptType::kBool, 0, "display extended details for volumes"},
};
constexpr OptDef kInfoOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"bytes", OptType::kBool, 0, "sizes are represented in bytes rather than pretty units"},
    {"physical", OptType::kBool, 0, "return the physical size of the volume in allocation field"},
};
constexpr OptDef kDumpXmlOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"xpath", OptType::kString, kOptNamedOnly, "xpath expression to filter the XML document"},
    {"wrap", OptType::kBool, 0, "wrap xpath results in an common root element"},
};
constexpr OptDef kDeleteOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"delete-snapshots", OptType::kBool, 0,
     "delete snapshots associated with volume (none in a directory pool)"},
};
constexpr OptDef kResizeOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"capacity", OptType::kData, kOptRequired, "new capacity for the vol, as scaled integer (default bytes)"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"allocate", OptType::kBool, 0, "allocate the new capacity, rather than leaving it sparse"},
    {"delta", OptType::kBool, 0, "use capacity as a delta to current size, rather than the new size"},
    {"shrink", OptType::kBool, 0, "allow the resize to shrink the volume"},
};
constexpr OptDef kWipeOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"algorithm", OptType::kString, kOptNamedOnly, "perform selected wiping algorithm (zero or random)"},
};
constexpr OptDef kTransferOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"file", OptType::kData, kOptRequired, "file"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"offset", OptType::kInt, kOptNamedOnly, "volume offset"},
    {"length", OptType::kInt, kOptNamedOnly, "amount of data"},
    {"sparse", OptType::kBool, 0, "preserve sparseness of volume (accepted; data is always written)"},
};
constexpr OptDef kVolPoolUuidOpts[] = {
    {"vol", OptType::kData, kOptRequired, "volume key or path"},
    {"uuid", OptType::kBool, 0, "return the pool uuid rather than pool name"},
};
constexpr OptDef kVolOnlyOpts[] = {
    {"vol", OptType::kData, kOptRequired, "volume key or path"},
};
constexpr OptDef kQemuArgsOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"secret-file", OptType::kString, kOptNamedOnly,
     "write the passphrase to this new file (mode 0600) instead of a private temporary one"},
};
constexpr OptDef kQemuExecOpts[] = {
    {"vol", OptType::kData, kOptRequired, "vol name, key or path"},
    {"pool", OptType::kString, kOptNamedOnly, "pool name or uuid"},
    {"command", OptType::kArgv, kOptRequired,
     "the program and its arguments, after '--'; {secret} and {image} are replaced"},
};

// Not constexpr: the key-slot commands' options live in volume_key_commands.cc.
const CommandDef kVolumeCommands[] = {
    {"vol-convert", "convert an encrypted volume between LUKS1 and LUKS2 in place (vsecret extension)",
     "Rewrites the LUKS header and keyslot areas in the other format, as cryptsetup convert does; the "
     "encrypted data is neither moved nor re-encrypted. LUKS1 needs pbkdf2 keyslots only; qcow2 encryption "
     "stays LUKS1. A crash at any point leaves a volume that opens with the secret's value, and the next "
     "command finishes the conversion.",
     VolConvertOpts(), CmdVolConvert, 0},
    {"vol-create", "create a vol from an XML file", "Create a vol.", kCreateOpts, CmdVolCreate, 0},
    {"vol-create-as", "create a volume from a set of args", "Create a vol.", kCreateAsOpts, CmdVolCreateAs,
     0},
    {"vol-delete", "delete a vol", "Delete a given vol.", kDeleteOpts, CmdVolDelete, 0},
    {"vol-download", "download volume contents to a file",
     "Download the plaintext contents of a volume (decrypted when it is encrypted) to a file.", kTransferOpts,
     CmdVolDownload, 0},
    {"vol-dumpxml", "vol information in XML", "Output the vol information as an XML dump to stdout.",
     kDumpXmlOpts, CmdVolDumpXml, 0},
    {"vol-info", "storage vol information", "Returns basic information about the storage vol.", kInfoOpts,
     CmdVolInfo, 0},
    {"vol-key", "returns the volume key for a given volume name or path", "", kVolPoolOpts, CmdVolPath, 0},
    {"vol-key-add", "add a passphrase to an encrypted volume (vsecret extension)",
     "Adds a passphrase (read from a file or standard input) in a free LUKS keyslot, unlocking the volume "
     "with "
     "its secret's value.",
     VolKeyAddOpts(), CmdVolKeyAdd, 0},
    {"vol-key-remove", "remove a passphrase from an encrypted volume (vsecret extension)",
     "Removes a LUKS keyslot, given by number or by the passphrase it holds. The last keyslot is never "
     "removed, "
     "the one the volume's secret opens only with --force.",
     VolKeyRemoveOpts(), CmdVolKeyRemove, 0},
    {"vol-list", "list vols", "Returns list of vols by pool.", kListOpts, CmdVolList, 0},
    {"vol-name", "returns the volume name for a given volume key or path", "", kVolOnlyOpts, CmdVolName, 0},
    {"vol-path", "returns the volume path for a given volume name or key", "", kVolPoolOpts, CmdVolPath, 0},
    {"vol-pool", "returns the storage pool for a given volume key or path", "", kVolPoolUuidOpts, CmdVolPool,
     0},
    {"vol-qemu-args", "print qemu arguments that open a volume, its key in a 0600 file",
     "Prints --object secret,... and --image-opts arguments for qemu-img or qemu. The passphrase goes into a "
     "new "
     "file of mode 0600 (never into the arguments); remove it when done.",
     kQemuArgsOpts, CmdVolQemuArgs, 0},
    {"vol-qemu-exec", "run qemu-img or qemu on a volume, its key on an inherited descriptor",
     "Runs the command given after '--' with {secret} replaced by a secret object definition that reads the "
     "passphrase from an inherited pipe and {image} by the volume's --image-opts value.",
     kQemuExecOpts, CmdVolQemuExec, 0},
    {"vol-rekey", "change the passphrase of an encrypted volume and its secret (vsecret extension)",
     "Adds a keyslot for the new value (from a file, standard input or the kernel's RNG), checks it, sets "
     "the "
     "secret's value, then removes the old keyslot; a crash at any point leaves a volume that opens with the "
     "secret's value, and the next command finishes the change. With --old-value-file the secret's current "
     "value (set by secret-set-value) replaces the passphrase given.",
     VolRekeyOpts(), CmdVolRekey, 0},
    {"vol-resize", "resize a vol", "Resizes a storage volume.", kResizeOpts, CmdVolResize, 0},
    {"vol-upload", "upload file contents to a volume",
     "Upload plaintext from a file into a volume (encrypted when the volume is).", kTransferOpts,
     CmdVolUpload, 0},
    {"vol-wipe", "wipe a vol", "Ensure data previously on a volume is not accessible to future reads.",
     kWipeOpts, CmdVolWipe, 0},
};

}  // namespace

std::span<const CommandDef> VolumeCommands() { return kVolumeCommands; }

}  // namespace vsecret::cli
