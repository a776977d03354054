#include "cli/help.h"

#include <cstdio>

#include "vsecret/compat.h"

namespace vsecret::cli {
namespace {

// printf's "%-Ns": left-justified in a field of width bytes.
std::string PadRight(std::string_view text, std::size_t width) {
  std::string out(text);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out;
}

std::string CommandLine(const CommandDef& def) {
  return "    " + PadRight(def.name, 30) + " " + std::string(def.help) + "\n";
}

// " <name> (help keyword '<keyword>')", appended piece by piece (see base/strings.h for why).
std::string GroupHeading(const CommandGroup& group) {
  std::string out = " ";
  out.append(group.name).append(" (help keyword '").append(group.keyword).append("')");
  return out;
}

}  // namespace

std::string CommandHelpText(const CommandDef& def) {
  std::string name(def.name);
  std::string out = "  NAME\n    " + name + " - " + std::string(def.help) + "\n";

  // "shortopt": once an option can be given positionally, later argv options show that the
  // --name is optional too.
  bool shortopt = false;
  out += "\n  SYNOPSIS\n    " + name;
  for (const OptDef& opt : def.opts) {
    std::string n(opt.name);
    bool positional = !(opt.flags & kOptNamedOnly);
    bool required = opt.flags & kOptRequired;
    switch (opt.type) {
      case OptType::kBool:
        out += " [--" + n + "]";
        break;
      case OptType::kInt:
        out += required ? " <" + n + ">" : " [--" + n + " <number>]";
        shortopt = shortopt || positional;
        break;
      case OptType::kString:
        out += " [--" + n + " <string>]";
        shortopt = shortopt || positional;
        break;
      case OptType::kData:
        out += required ? " <" + n + ">" : " [<" + n + ">]";
        shortopt = shortopt || positional;
        break;
      case OptType::kArgv:
        if (shortopt) {
          out += required ? " {[--" + n + "] <string>}..." : " [[--" + n + "] <string>]...";
        } else {
          out += required ? " <" + n + ">..." : " [<" + n + ">]...";
        }
        break;
      case OptType::kAlias:
        break;  // aliases are deliberately undocumented
    }
  }
  out += "\n";

  if (!def.desc.empty()) out += "\n  DESCRIPTION\n    " + std::string(def.desc) + "\n";

  if (!def.opts.empty()) {
    out += "\n  OPTIONS\n";
    for (const OptDef& opt : def.opts) {
      std::string n(opt.name);
      std::string label;
      switch (opt.type) {
        case OptType::kBool:
          label = "--" + n;
          break;
        case OptType::kInt:
          label = (opt.flags & kOptRequired) ? "[--" + n + "] <number>" : "--" + n + " <number>";
          break;
        case OptType::kString:
          label = "--" + n + " <string>";
          break;
        case OptType::kData:
          label = "[--" + n + "] <string>";
          break;
        case OptType::kArgv:
          label = shortopt ? "[--" + n + "] <string>" : "<" + n + ">";
          break;
        case OptType::kAlias:
          continue;
      }
      out += "    " + PadRight(label, 15) + "  " + std::string(opt.help) + "\n";
    }
  }
  // libvirt 9.0's virsh ended a command's help with one more blank line than 12.x's.
  if (Libvirt9Compat()) out += "\n";
  return out;
}

std::string GroupHelpText(const CommandGroup& group) {
  std::string out = GroupHeading(group);
  out += ":\n";
  for (const CommandDef& def : group.commands) {
    if (!(def.flags & kCmdHidden)) out += CommandLine(def);
  }
  return out;
}

std::string GlobalHelpText() {
  std::string out = "Grouped commands:\n\n";
  for (const CommandGroup& group : CommandGroups()) out += GroupHelpText(group) + "\n";
  out +=
      " Output follows libvirt 12.x's virsh; set VSECRET_COMPAT=9.0 in the environment for 9.0's\n"
      " where the two differ (the argv value warning, XML errors, help layout).\n\n";
  return out;
}

std::string UsageText(std::string_view progname) {
  std::string p(progname);
  std::string out =
      "\n" + p + " [options]... [<command_string>]\n" + p + " [options]... <command> [args...]\n\n";
  out +=
      "  options:\n"
      "    -c | --connect=URI      connection URI of the secret driver\n"
      "    -d | --debug=NUM        debug level [0-4] (accepted, no effect)\n"
      "    -e | --escape <char>    console escape sequence (accepted, no effect)\n"
      "    -h | --help             show this help\n"
      "    -k | --keepalive-interval=NUM\n"
      "                            keepalive interval in seconds (accepted, no effect)\n"
      "    -K | --keepalive-count=NUM\n"
      "                            keepalive messages that may be missed (accepted, no effect)\n"
      "    -l | --log=FILE         log file (accepted, nothing is logged)\n"
      "    -q | --quiet            quiet mode\n"
      "    -r | --readonly         open the connection read-only\n"
      "    -t | --timing           show how long each command took\n"
      "    -v                      short version\n"
      "    -V                      long version\n"
      "         --version[=TYPE]   version, TYPE is short or long (default short)\n"
      "  environment:\n"
      "    VSECRET_COMPAT=9.0      print what libvirt 9.0's virsh prints where it differs from 12.x\n"
      "                            (argv value warning, XML errors, help layout)\n"
      "  commands (non interactive mode):\n\n";
  for (const CommandGroup& group : CommandGroups()) {
    out += GroupHeading(group);
    out += "\n";
    for (const CommandDef& def : group.commands) {
      if (!(def.flags & kCmdHidden)) out += CommandLine(def);
    }
    out += "\n";
  }
  out += "\n  (specify help <group> for details about the commands in the group)\n";
  out += "\n  (specify help <command> for details about the command)\n\n";
  return out;
}

}  // namespace vsecret::cli
