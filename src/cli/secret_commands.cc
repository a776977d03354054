// The secret-* commands except secret-event (secret_event_command.cc).
//
// Every message, its stream and its order follow virsh 9.0: a command's own complaints are
// printed at once, while errors coming from the connection are saved on the shell and printed
// after the command has failed.
#include <strings.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/base64.h"
#include "base/env.h"
#include "cli/command_def.h"
#include "cli/command_parser.h"
#include "cli/input_files.h"
#include "cli/secret_event_command.h"
#include "cli/shell.h"
#include "cli/table.h"
#include "cli/xpath_dump.h"
#include "vsecret/compat.h"
#include "vsecret/secret.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::cli {
namespace {

constexpr std::size_t kMaxValueFile = 1024;  // secret-set-value --file

bool CmdSecretDefine(Shell& shell, const ParsedCommand& cmd) {
  std::optional<std::string_view> from;
  if (!OptStringReq(shell.console(), cmd, "file", &from) || !from) return false;
  unsigned flags = cmd.Has("validate") ? kDefineValidate : 0;
  std::string path(*from);
  auto content = ReadInputFile(path, kMaxXmlFile);
  if (!content) {
    shell.SaveError(content.error());
    return false;
  }
  auto secret = shell.conn().DefineXml(UpToNul(content->AsStringView()), flags);
  if (!secret) {
    shell.SaveError(secret.error());
    shell.console().Error("Failed to set attributes from " + path);
    return false;
  }
  shell.console().PrintExtra("Secret " + secret->uuid.ToString() + " created\n");
  return true;
}

bool CmdSecretDumpXml(Shell& shell, const ParsedCommand& cmd) {
  auto secret = LookupSecretOption(shell, cmd);
  if (!secret) return false;
  std::optional<std::string_view> xpath;
  if (OptStringQuiet(cmd, "xpath", &xpath) < 0) {
    // virsh 9.0 returns here without releasing the secret it looked up, which it reports
    // when the connection is closed; reproduced for identical output.
    shell.NoteLeakedReference();
    return false;
  }
  auto xml = shell.conn().GetXmlDesc(secret->uuid, 0);
  if (!xml) {
    shell.SaveError(xml.error());
    return false;
  }
  auto dumped = DumpXml(shell.console(), *xml, xpath, cmd.Has("wrap"));
  if (!dumped) {
    if (!dumped.error().message().empty()) shell.SaveError(dumped.error());
    return false;
  }
  return true;
}

bool CmdSecretSetValue(Shell& shell, const ParsedCommand& cmd) {
  Console& console = shell.console();
  bool plain = cmd.Has("plain");
  bool interactive = cmd.Has("interactive");
  if (!OptExclusive(console, cmd, "file", "base64") || !OptExclusive(console, cmd, "plain", "base64") ||
      !OptExclusive(console, cmd, "interactive", "base64") ||
      !OptExclusive(console, cmd, "interactive", "plain") ||
      !OptExclusive(console, cmd, "interactive", "file")) {
    return false;
  }
  auto secret = LookupSecretOption(shell, cmd);
  if (!secret) return false;

  std::optional<std::string_view> base64;
  std::optional<std::string_view> filename;
  if (!OptStringReq(console, cmd, "base64", &base64)) return false;
  if (!OptStringReq(console, cmd, "file", &filename)) return false;

  SecretBytes value;
  if (base64) {
    // Only a warning: the value is still used. libvirt 9.0 printed it as an error.
    constexpr std::string_view kArgvWarning = "Passing secret value as command-line argument is insecure!";
    if (Libvirt9Compat()) {
      console.Error(kArgvWarning);
    } else {
      console.Warning(kArgvWarning);
    }
    value = SecretBytes(*base64);
  } else if (filename) {
    auto content = ReadInputFile(std::string(*filename), kMaxValueFile);
    if (!content) {
      shell.SaveError(content.error());
      return false;
    }
    value = std::move(*content);
  } else if (interactive) {
    console.Print("Enter new value for secret:");
    console.Flush();
    auto typed = shell.passwords().ReadPassword();
    if (!typed) {
      console.Error("Failed to read secret");
      return false;
    }
    value = std::move(*typed);
    // The terminal hands over a C string: it ends at the first NUL.
    value.Resize(UpToNul(value.AsStringView()).size());
    plain = true;
  } else {
    console.Error("Input secret value is missing");
    return false;
  }

  if (!plain) {
    SecretBytes decoded = Base64DecodeLenient(UpToNul(value.AsStringView()));
    value = std::move(decoded);  // the move-assignment wipes the encoded form
  }

  auto set = shell.conn().SetValue(secret->uuid, value, 0);
  value.Wipe();
  if (!set) {
    shell.SaveError(set.error());
    console.Error("Failed to set secret value");
    return false;
  }
  console.PrintExtra("Secret value set\n");
  return true;
}

bool CmdSecretGetValue(Shell& shell, const ParsedCommand& cmd) {
  auto secret = LookupSecretOption(shell, cmd);
  if (!secret) return false;
  auto value = shell.conn().GetValue(secret->uuid, 0);
  if (!value) {
    shell.SaveError(value.error());
    return false;
  }
  if (cmd.Has("plain")) {
    if (!shell.console().WriteSecret(value->span())) {
      shell.console().Error("failed to write secret");
      return false;
    }
    return true;
  }
  SecretBytes encoded = Base64EncodeSecret(value->AsStringView());
  shell.console().WriteSecret(encoded.span());
  return true;
}

bool CmdSecretUndefine(Shell& shell, const ParsedCommand& cmd) {
  std::string_view arg;
  auto secret = LookupSecretOption(shell, cmd, &arg);
  if (!secret) return false;
  std::string typed(arg);  // virsh echoes the argument as typed, not the canonical UUID
  auto done = shell.conn().Undefine(secret->uuid);
  if (!done) {
    shell.SaveError(done.error());
    shell.console().Error("Failed to delete secret " + typed);
    return false;
  }
  shell.console().PrintExtra("Secret " + typed + " deleted\n");
  return true;
}

// virshSecretListCollect: ListAll, or the pre-0.10.2 count-and-list fallback when the
// connection does not support it; sorted by UUID.
std::optional<std::vector<SecretRef>> CollectSecrets(Shell& shell, unsigned flags) {
  Console& console = shell.console();
  Connection& conn = shell.conn();
  std::vector<SecretRef> secrets;
  auto all = conn.ListAll(flags);
  if (all) {
    secrets = std::move(*all);
  } else if (all.error().code() == ErrorCode::kNoSupport) {
    shell.ResetError();
    if (flags != 0) {
      console.Error("Filtering is not supported by this libvirt");
      return std::nullopt;
    }
    auto count = conn.NumOfSecrets();
    if (!count) {
      shell.SaveError(count.error());
      console.Error("Failed to count secrets");
      return std::nullopt;
    }
    if (*count == 0) return secrets;
    auto uuids = conn.ListUuids(*count);
    if (!uuids) {
      shell.SaveError(uuids.error());
      console.Error("Failed to list secrets");
      return std::nullopt;
    }
    for (const auto& text : *uuids) {
      auto uuid = Uuid::Parse(text);
      if (!uuid) continue;
      auto ref = conn.LookupByUuid(*uuid);
      if (!ref) {
        shell.SaveError(ref.error());  // skipped, but the error stays pending as in virsh
        continue;
      }
      secrets.push_back(std::move(*ref));
    }
  } else {
    shell.SaveError(all.error());
    console.Error("Failed to list node secrets");
    return std::nullopt;
  }
  std::vector<std::pair<std::string, SecretRef>> keyed;
  keyed.reserve(secrets.size());
  for (auto& s : secrets) keyed.emplace_back(s.uuid.ToString(), std::move(s));
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    return strcasecmp(a.first.c_str(), b.first.c_str()) < 0;
  });
  secrets.clear();
  for (auto& [key, ref] : keyed) secrets.push_back(std::move(ref));
  return secrets;
}

bool CmdSecretList(Shell& shell, const ParsedCommand& cmd) {
  unsigned flags = 0;
  if (cmd.Has("ephemeral")) flags |= kListEphemeral;
  if (cmd.Has("no-ephemeral")) flags |= kListNoEphemeral;
  if (cmd.Has("private")) flags |= kListPrivate;
  if (cmd.Has("no-private")) flags |= kListNoPrivate;

  auto secrets = CollectSecrets(shell, flags);
  if (!secrets) return false;

  Table table({"UUID", "Usage"});
  for (const auto& s : *secrets) {
    std::string usage = s.usage_type == UsageType::kNone
                            ? std::string("Unused")
                            : std::string(UsageTypeName(s.usage_type)) + " " + s.usage_id;
    table.AddRow({s.uuid.ToString(), usage});
  }
  shell.console().Print(table.Render(!shell.console().quiet()));
  return true;
}

constexpr OptDef kDefineOpts[] = {
    {"file", OptType::kData, kOptRequired, "the XML document describing the secret"},
    {"validate", OptType::kBool, 0, "check the document against the secret schema first"},
};
constexpr OptDef kDumpXmlOpts[] = {
    {"secret", OptType::kData, kOptRequired, "UUID of the secret"},
    {"xpath", OptType::kString, kOptNamedOnly, "print only the nodes this XPath expression selects"},
    {"wrap", OptType::kBool, 0, "put the selected nodes inside one <nodes> element"},
};
constexpr OptDef kSetValueOpts[] = {
    {"secret", OptType::kData, kOptRequired, "UUID of the secret"},
    {"file", OptType::kString, kOptNamedOnly, "take the value from this file (base64 unless --plain)"},
    {"plain", OptType::kBool, 0, "use the file content as the raw value instead of decoding base64"},
    {"interactive", OptType::kBool, 0, "type the raw value at a prompt, without echo"},
    {"base64", OptType::kString, 0, "the value in base64 (visible to other users: avoid)"},
};
constexpr OptDef kGetValueOpts[] = {
    {"secret", OptType::kData, kOptRequired, "UUID of the secret"},
    {"plain", OptType::kBool, 0, "print the raw bytes instead of base64"},
};
constexpr OptDef kListOpts[] = {
    {"ephemeral", OptType::kBool, 0, "only secrets kept in memory"},
    {"no-ephemeral", OptType::kBool, 0, "only secrets stored on disk"},
    {"private", OptType::kBool, 0, "only secrets whose value cannot be read back"},
    {"no-private", OptType::kBool, 0, "only secrets whose value can be read back"},
};
constexpr OptDef kUndefineOpts[] = {
    {"secret", OptType::kData, kOptRequired, "UUID of the secret"},
};

// Not constexpr: secret-event's options live in its own file.
const CommandDef kSecretCommands[] = {
    {"secret-define", "create or update a secret from an XML file",
     "Creates a secret, or updates an existing one with the same UUID, from its XML description.",
     kDefineOpts, CmdSecretDefine, 0},
    {"secret-dumpxml", "show the XML of a secret", "Prints the XML description of a secret.", kDumpXmlOpts,
     CmdSecretDumpXml, 0},
    {"secret-event", "wait for secret events", "Lists the event types, or waits for events about secrets.",
     SecretEventOpts(), CmdSecretEvent, 0},
    {"secret-get-value", "print the value of a secret",
     "Prints the value of a secret, base64-encoded unless --plain is given.", kGetValueOpts,
     CmdSecretGetValue, 0},
    {"secret-list", "list the secrets", "Lists the secrets, optionally only those with given properties.",
     kListOpts, CmdSecretList, 0},
    {"secret-set-value", "change the value of a secret",
     "Sets the value of a secret from a file, a prompt or (insecurely) the command line.", kSetValueOpts,
     CmdSecretSetValue, 0},
    {"secret-undefine", "delete a secret", "Deletes a secret together with its value.", kUndefineOpts,
     CmdSecretUndefine, 0},
};

}  // namespace

std::span<const CommandDef> SecretCommands() { return kSecretCommands; }

}  // namespace vsecret::cli
