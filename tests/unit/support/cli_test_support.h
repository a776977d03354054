// Test support for the CLI: an in-memory Connection and a harness that runs RunCli in-process.
//
// The fake keeps secrets in a store shared by every connection the factory opens (as a real
// driver would), reproduces the driver messages the CLI relays (from the spec), and lets tests
// fire events, script failures and simulate a connection without ListAll.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_app.h"
#include "cli/console.h"
#include "cli/shell.h"
#include "vsecret/connection.h"

namespace vsecret::cli::test {

struct FakeSecret {
  SecretRef ref;
  bool ephemeral = false;
  bool is_private = false;
  std::optional<std::string> description;
  std::optional<std::string> value;  // test data only; the CLI sees SecretBytes
};

struct FakeStore {
  std::mutex mutex;
  std::map<Uuid, FakeSecret> secrets;
  struct Listener {
    SecretEventId id;
    std::optional<Uuid> filter;
    SecretEventCallback callback;
  };
  std::map<int, Listener> listeners;
  int next_listener = 0;
  bool list_all_unsupported = false;
  std::optional<Error> fail_next_deregister;
  int opens = 0;

  void Add(const std::string& uuid, UsageType type = UsageType::kNone, const std::string& usage_id = "",
           bool ephemeral = false, bool is_private = false) {
    FakeSecret s;
    s.ref = SecretRef{*Uuid::Parse(uuid), type, usage_id};
    s.ephemeral = ephemeral;
    s.is_private = is_private;
    std::lock_guard lock(mutex);
    secrets[s.ref.uuid] = s;
  }

  // Delivers an event to matching listeners on the calling thread.
  void Fire(const SecretEvent& event) {
    std::vector<SecretEventCallback> targets;
    {
      std::lock_guard lock(mutex);
      for (auto& [id, l] : listeners) {
        if (l.id == event.id && (!l.filter || *l.filter == event.secret.uuid)) targets.push_back(l.callback);
      }
    }
    for (auto& cb : targets) cb(event);
  }
  std::size_t ListenerCount() {
    std::lock_guard lock(mutex);
    return listeners.size();
  }
};

class FakeConnection final : public Connection {
 public:
  FakeConnection(std::shared_ptr<FakeStore> store, std::string uri, bool read_only)
      : store_(std::move(store)), uri_(std::move(uri)), read_only_(read_only) {}

  std::string Uri() const override { return uri_; }
  bool IsReadOnly() const override { return read_only_; }

  Result<SecretRef> DefineXml(std::string_view xml, unsigned /*flags*/) override {
    if (read_only_) return Denied("virSecretDefineXML");
    auto between = [&](std::string_view open, std::string_view close) -> std::optional<std::string> {
      auto a = xml.find(open);
      if (a == std::string_view::npos) return std::nullopt;
      auto b = xml.find(close, a + open.size());
      if (b == std::string_view::npos) return std::nullopt;
      return std::string(xml.substr(a + open.size(), b - a - open.size()));
    };
    if (xml.find("<secret") == std::string_view::npos) {
      return XmlError(ErrorDomain::kSecret, "expecting root element of 'secret'");
    }
    FakeSecret s;
    auto uuid_text = between("<uuid>", "</uuid>");
    auto uuid = uuid_text ? Uuid::Parse(*uuid_text) : std::optional<Uuid>(Uuid::Random());
    if (!uuid) return InternalError(ErrorDomain::kSecret, "malformed uuid element");
    s.ref.uuid = *uuid;
    if (auto name = between("<name>", "</name>")) {
      s.ref.usage_type = UsageType::kCeph;
      s.ref.usage_id = *name;
    }
    s.ephemeral = xml.find("ephemeral='yes'") != std::string_view::npos;
    s.is_private = xml.find("private='yes'") != std::string_view::npos;
    std::lock_guard lock(store_->mutex);
    store_->secrets[s.ref.uuid] = s;
    return s.ref;
  }
  Result<void> Undefine(const Uuid& uuid) override {
    if (read_only_) return Denied("virSecretUndefine");
    std::lock_guard lock(store_->mutex);
    if (!store_->secrets.erase(uuid)) return NotFound(uuid);
    return {};
  }
  Result<void> SetValue(const Uuid& uuid, const SecretBytes& value, unsigned /*flags*/) override {
    if (read_only_) return Denied("virSecretSetValue");
    if (value.empty()) return InvalidArg(ErrorDomain::kNone, "value in virSecretSetValue must not be NULL");
    std::lock_guard lock(store_->mutex);
    auto it = store_->secrets.find(uuid);
    if (it == store_->secrets.end()) return NotFound(uuid);
    it->second.value = std::string(value.AsStringView());
    return {};
  }
  Result<SecretBytes> GetValue(const Uuid& uuid, unsigned /*flags*/) override {
    if (read_only_) return Denied("virSecretGetValue");
    std::lock_guard lock(store_->mutex);
    auto it = store_->secrets.find(uuid);
    if (it == store_->secrets.end()) return NotFound(uuid);
    if (it->second.is_private) return InvalidSecret("secret is private");
    if (!it->second.value) return NoSecret("secret '" + uuid.ToString() + "' does not have a value");
    return SecretBytes(std::string_view(*it->second.value));
  }
  Result<std::string> GetXmlDesc(const Uuid& uuid, unsigned /*flags*/) override {
    std::lock_guard lock(store_->mutex);
    auto it = store_->secrets.find(uuid);
    if (it == store_->secrets.end()) return NotFound(uuid);
    const FakeSecret& s = it->second;
    std::string xml = std::string("<secret ephemeral='") + (s.ephemeral ? "yes" : "no") + "' private='" +
                      (s.is_private ? "yes" : "no") + "'>\n  <uuid>" + uuid.ToString() + "</uuid>\n";
    if (s.description) xml += "  <description>" + *s.description + "</description>\n";
    if (s.ref.usage_type != UsageType::kNone) {
      xml += "  <usage type='" + std::string(UsageTypeName(s.ref.usage_type)) + "'>\n    <name>" +
             s.ref.usage_id + "</name>\n  </usage>\n";
    }
    return xml + "</secret>\n";
  }
  Result<SecretRef> LookupByUuid(const Uuid& uuid) override {
    std::lock_guard lock(store_->mutex);
    auto it = store_->secrets.find(uuid);
    if (it == store_->secrets.end()) return NotFound(uuid);
    return it->second.ref;
  }
  Result<SecretRef> LookupByUsage(int /*usage_type*/, std::string_view usage_id) override {
    return NoSecret("no secret with matching usage '" + std::string(usage_id) + "'");
  }
  Result<std::vector<SecretRef>> ListAll(unsigned flags) override {
    std::lock_guard lock(store_->mutex);
    if (store_->list_all_unsupported) {
      return Fail(ErrorCode::kNoSupport, ErrorDomain::kNone,
                  "this function is not supported by the connection driver: virConnectListAllSecrets");
    }
    std::vector<SecretRef> out;
    // Reverse order on purpose: the CLI must sort.
    for (auto it = store_->secrets.rbegin(); it != store_->secrets.rend(); ++it) {
      const FakeSecret& s = it->second;
      bool eph = flags & (kListEphemeral | kListNoEphemeral);
      bool priv = flags & (kListPrivate | kListNoPrivate);
      if (eph && !((flags & kListEphemeral) && s.ephemeral) && !((flags & kListNoEphemeral) && !s.ephemeral))
        continue;
      if (priv && !((flags & kListPrivate) && s.is_private) && !((flags & kListNoPrivate) && !s.is_private))
        continue;
      out.push_back(s.ref);
    }
    return out;
  }
  Result<int> NumOfSecrets() override {
    std::lock_guard lock(store_->mutex);
    return static_cast<int>(store_->secrets.size());
  }
  Result<std::vector<std::string>> ListUuids(int max) override {
    std::lock_guard lock(store_->mutex);
    std::vector<std::string> out;
    for (auto& [uuid, s] : store_->secrets) {
      if (static_cast<int>(out.size()) < max) out.push_back(uuid.ToString());
    }
    return out;
  }
  Result<int> RegisterEvent(SecretEventId id, std::optional<Uuid> filter,
                            SecretEventCallback callback) override {
    std::lock_guard lock(store_->mutex);
    int handle = store_->next_listener++;
    store_->listeners[handle] = FakeStore::Listener{id, filter, std::move(callback)};
    return handle;
  }
  Result<void> DeregisterEvent(int callback_id) override {
    std::lock_guard lock(store_->mutex);
    store_->listeners.erase(callback_id);
    if (store_->fail_next_deregister) {
      Error e = *store_->fail_next_deregister;
      store_->fail_next_deregister.reset();
      return std::unexpected(e);
    }
    return {};
  }

 private:
  static std::unexpected<Error> Denied(const char* api) {
    return OperationDenied(ErrorDomain::kSecret, std::string("read only access prevents ") + api);
  }
  static std::unexpected<Error> NotFound(const Uuid& uuid) {
    return NoSecret("no secret with matching uuid '" + uuid.ToString() + "'");
  }

  std::shared_ptr<FakeStore> store_;
  std::string uri_;
  bool read_only_;
};

class FakePasswordReader final : public PasswordReader {
 public:
  std::optional<std::string> next = std::string();
  int calls = 0;
  std::optional<SecretBytes> ReadPassword() override {
    ++calls;
    if (!next) return std::nullopt;
    return SecretBytes(std::string_view(*next));
  }
};

// Echoes like readline does when stdin is not a terminal: the prompt, the line, a newline.
class FakeLineReader final : public LineReader {
 public:
  FakeLineReader(OutputSink& out, std::vector<std::string> lines) : out_(out), lines_(std::move(lines)) {}
  std::optional<std::string> ReadLine(const std::string& prompt) override {
    out_.Write(prompt);
    if (next_ >= lines_.size()) return std::nullopt;
    out_.Write(lines_[next_] + "\n");
    return lines_[next_++];
  }
  void AddHistory(const std::string& line) override { history.push_back(line); }
  std::vector<std::string> history;

 private:
  OutputSink& out_;
  std::vector<std::string> lines_;
  std::size_t next_ = 0;
};

struct CliResult {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs RunCli against a FakeStore. The URI "fake:///bad" fails to open with a libvirt-style
// error; any other URI (or none) opens a FakeConnection.
class CliHarness {
 public:
  std::shared_ptr<FakeStore> store = std::make_shared<FakeStore>();
  FakePasswordReader passwords;
  std::vector<std::string> input_lines;  // for the interactive shell
  std::vector<std::string> opened_uris;

  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), "vsecret");
    StringSink out, err;
    FakeLineReader lines(out, input_lines);
    CliIo io;
    io.out = &out;
    io.err = &err;
    io.passwords = &passwords;
    io.line_reader = &lines;
    io.factory = [this](std::string_view uri, bool ro) -> Result<std::unique_ptr<Connection>> {
      opened_uris.emplace_back(uri);
      if (uri == "fake:///bad")
        return InvalidArg(ErrorDomain::kNone, "invalid argument: Missing URI parameter 'root'");
      ++store->opens;
      return std::unique_ptr<Connection>(std::make_unique<FakeConnection>(store, std::string(uri), ro));
    };
    CliResult r;
    r.status = RunCli(args, io);
    r.out = out.text();
    r.err = err.text();
    history = lines.history;
    return r;
  }
  std::vector<std::string> history;
};

inline constexpr char kUuid1[] = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";
inline constexpr char kUuid2[] = "11111111-2222-3333-4444-555555555555";

}  // namespace vsecret::cli::test
