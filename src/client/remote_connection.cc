#include "client/remote_connection.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "base/strings.h"
#include "driver/event_bus.h"
#include "rpc/auth_conf.h"
#include "rpc/sasl_messages.h"
#include "rpc/sasl_session.h"
#include "rpc/socket_paths.h"
#include "rpc/tcp_socket.h"
#include "rpc/tls_stream.h"

namespace vsecret {
namespace {

using rpc::NoArgs;
using rpc::NoRet;
using rpc::Proc;

// Query parameters the client consumes itself; the rest travel in the CONNECT_OPEN name.
constexpr std::array<std::string_view, 17> kClientParams = {
    "name",         "command", "socket",  "auth",        "sshauth",
    "netcat",       "keyfile", "pkipath", "known_hosts", "known_hosts_verify",
    "tls_priority", "mode",    "proxy",   "no_sanity",   "no_verify",
    "no_tty",       "authfile"};

// Keepalive as virsh sets it up (virConnectSetKeepAlive(conn, 5, 6)).
constexpr int kKeepAliveInterval = 5;
constexpr int kKeepAliveCount = 6;

std::string PercentEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || std::string_view("-._~/:,").find(static_cast<char>(c)) != std::string_view::npos) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

constexpr int kDefaultTlsPort = 16514;
constexpr int kDefaultTcpPort = 16509;

bool FlagParam(const ConnectionUri& uri, const char* name) {
  auto v = uri.Param(name);
  return v && !v->empty() && *v != "0";
}

std::string NetcatCommand(const std::string& netcat, const std::string& socket) {
  // Some nc builds need -q0 to exit when stdin closes; probe the way libvirt does.
  std::string nc = ShellSingleQuoted(netcat);
  return "if " + nc + " -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then ARG=-q0;else ARG=;fi;" +
         nc + " $ARG -U " + ShellSingleQuoted(socket);
}

}  // namespace

Result<std::vector<std::string>> RemoteConnection::SshArgvFor(const ConnectionUri& uri, bool read_only) {
  if (uri.Param("mode") == std::optional<std::string>("direct")) {
    return Fail(ErrorCode::kInvalidArg, ErrorDomain::kRemote,
                "invalid argument: Cannot use direct socket mode for ssh transport");
  }
  std::vector<std::string> argv{uri.Param("command").value_or("ssh")};
  if (uri.port > 0) argv.insert(argv.end(), {"-p", std::to_string(uri.port)});
  if (!uri.user.empty()) argv.insert(argv.end(), {"-l", uri.user});
  if (auto key = uri.Param("keyfile")) argv.insert(argv.end(), {"-i", *key});
  argv.insert(argv.end(), {"-T", "-e", "none"});
  if (FlagParam(uri, "no_tty")) argv.insert(argv.end(), {"-o", "BatchMode=yes"});
  if (FlagParam(uri, "no_verify")) argv.insert(argv.end(), {"-o", "StrictHostKeyChecking=no"});
  argv.insert(argv.end(), {"--", uri.host});

  std::string proxy = uri.Param("proxy").value_or("auto");
  std::string netcat = uri.Param("netcat").value_or("nc");
  auto socket = uri.Param("socket");
  bool session = uri.path == "/session";
  std::string name = uri.scheme + "://" + uri.path;
  std::string helper = std::string("virt-ssh-helper") + (read_only ? " -r " : " ") + ShellSingleQuoted(name);
  std::string fallback_socket =
      socket.value_or(std::string("/var/run/libvirt/") + (read_only ? "libvirt-sock-ro" : "libvirt-sock"));
  std::string remote;
  if (proxy == "native" || (proxy == "auto" && session && !socket)) {
    remote = helper;
  } else if (proxy == "netcat" || socket) {
    remote = NetcatCommand(netcat, fallback_socket);
  } else if (proxy == "auto") {
    remote = "which virt-ssh-helper 1>/dev/null 2>&1; if test $? = 0; then " + helper + "; else " +
             NetcatCommand(netcat, fallback_socket) + "; fi";
  } else {
    return Fail(ErrorCode::kInvalidArg, ErrorDomain::kRemote,
                "invalid argument: Unknown proxy mode '" + proxy + "'");
  }
  argv.push_back("sh -c " + ShellSingleQuoted(remote));
  return argv;
}

std::string RemoteConnection::OpenNameFor(const ConnectionUri& uri) {
  if (auto name = uri.Param("name")) return *name;
  std::string name = uri.scheme + "://" + uri.path;
  char sep = '?';
  for (const auto& [key, value] : uri.params) {
    if (std::find(kClientParams.begin(), kClientParams.end(), key) != kClientParams.end()) continue;
    name += sep + PercentEncode(key) + "=" + PercentEncode(value);
    sep = '&';
  }
  return name;
}

Result<std::unique_ptr<RemoteConnection>> RemoteConnection::Open(const std::string& uri_text,
                                                                 const ConnectionUri& uri, bool read_only) {
  std::string transport = uri.EffectiveTransport();
  if (transport == "tls" || transport == "tcp") {
    if (uri.host.empty()) {
      return InvalidArg(ErrorDomain::kRemote,
                        "invalid argument: transport '" + transport + "' requires a host");
    }
    bool tls = transport == "tls";
    auto tcp = rpc::ConnectTcp(uri.host, uri.port > 0 ? uri.port : tls ? kDefaultTlsPort : kDefaultTcpPort);
    if (!tcp) return std::unexpected(tcp.error());
    SaslTarget target;
    target.host = uri.host;
    target.secure = tls;
    if (!tls) {
      target.local_addr = rpc::SaslAddress(tcp->get(), false);
      target.remote_addr = rpc::SaslAddress(tcp->get(), true);
      return OpenOn(std::move(*tcp), nullptr, uri_text, OpenNameFor(uri), read_only, target);
    }
    rpc::TlsClientConfig config;
    auto pki = uri.Param("pkipath");
    config.files = pki ? rpc::ClientFilesIn(*pki) : rpc::DefaultClientFiles();
    config.verify = !FlagParam(uri, "no_verify");
    config.host = uri.host;
    auto ctx = rpc::TlsContext::CreateClient(config);
    if (!ctx) return std::unexpected(ctx.error());
    auto session = rpc::TlsClientHandshake(*ctx, tcp->get());
    if (!session) return std::unexpected(session.error());
    auto relay = rpc::TlsRelay::Start(std::move(*tcp), std::move(*session));
    if (!relay) return std::unexpected(relay.error());
    return OpenOn(std::move(relay->second), std::move(relay->first), uri_text, OpenNameFor(uri), read_only,
                  target);
  }
  if (transport == "ssh" || transport == "ext") {
    std::vector<std::string> argv;
    if (transport == "ssh") {
      auto built = SshArgvFor(uri, read_only);
      if (!built) return std::unexpected(built.error());
      argv = std::move(*built);
    } else {
      auto command = uri.Param("command");
      if (!command)
        return InvalidArg(ErrorDomain::kRemote,
                          "invalid argument: remote command required for ext transport");
      argv = {*command};
    }
    auto child = rpc::ChildTransport::Spawn(argv);
    if (!child) return std::unexpected(child.error());
    // The child's end is a socketpair, which libvirt's client counts as local and secure.
    SaslTarget target;
    target.host = uri.host.empty() ? "localhost" : uri.host;
    return OpenOn(std::move(child->second), std::move(child->first), uri_text, OpenNameFor(uri), read_only,
                  target);
  }
  if (transport != "unix") {
    return Fail(ErrorCode::kNoSupport, ErrorDomain::kRemote,
                "this function is not supported by the connection driver: transport '" + transport +
                    "' (use secret+ssh:// for the external ssh client)");
  }
  Result<rpc::UniqueFd> fd = std::unexpected(Error());
  if (auto socket = uri.Param("socket")) {
    fd = rpc::ConnectUnix(*socket);  // an explicit socket: no mode lookup, no auto-start
  } else {
    fd = rpc::ConnectLocalDaemon(uri.path, read_only);
  }
  if (!fd) return std::unexpected(fd.error());
  return OpenOnSocket(std::move(*fd), uri_text, OpenNameFor(uri), read_only);
}

Result<std::unique_ptr<RemoteConnection>> RemoteConnection::OpenOnSocket(rpc::UniqueFd fd,
                                                                         const std::string& uri_text,
                                                                         const std::string& open_name,
                                                                         bool read_only) {
  return OpenOn(std::move(fd), nullptr, uri_text, open_name, read_only, SaslTarget{});
}

Result<std::unique_ptr<RemoteConnection>> RemoteConnection::OpenOn(
    rpc::UniqueFd fd, std::unique_ptr<rpc::TransportHolder> transport, const std::string& uri_text,
    const std::string& open_name, bool read_only, const SaslTarget& target) {
  std::unique_ptr<RemoteConnection> conn(new RemoteConnection(uri_text, read_only));
  conn->transport_ = std::move(transport);
  RemoteConnection* self = conn.get();
  conn->client_ = rpc::RpcClient::Start(
      std::move(fd),
      [self](const rpc::Header& h, std::span<const std::uint8_t> payload) { self->OnMessage(h, payload); });
  if (auto ok = conn->Handshake(open_name, target); !ok) return std::unexpected(ok.error());
  return conn;
}

RemoteConnection::RemoteConnection(std::string uri, bool read_only)
    : uri_(std::move(uri)), read_only_(read_only) {}

RemoteConnection::~RemoteConnection() {
  if (client_ && client_->IsOpen()) (void)client_->Call<NoRet>(Proc::kConnectClose, NoArgs{});
  client_.reset();     // joins the reader: no OnMessage after this
  transport_.reset();  // the relay or child process goes once nobody uses the socket
  {
    MutexLock lock(events_mutex_);
    stopping_ = true;
  }
  events_cv_.NotifyAll();
  if (event_thread_.joinable()) event_thread_.join();
}

Result<void> RemoteConnection::AuthenticateSasl(const SaslTarget& target) {
  rpc::SaslEndpoint endpoint;
  endpoint.fqdn = target.host;
  endpoint.local_addr = target.local_addr;
  endpoint.remote_addr = target.remote_addr;
  rpc::SaslSecurity security;
  security.secure_transport = target.secure;
  auto session = rpc::SaslClientSession::Create(endpoint, security, rpc::ClientSaslCredentials(target.host));
  if (!session) return std::unexpected(session.error());
  auto init = client_->Call<rpc::SaslInitRet>(Proc::kAuthSaslInit, NoArgs{});
  if (!init) return std::unexpected(init.error());
  auto start = (*session)->Start(init->mechlist);
  if (!start) return std::unexpected(start.error());
  bool client_done = start->step.complete;
  auto reply = client_->Call<rpc::SaslStepRet>(Proc::kAuthSaslStart,
                                               rpc::SaslStartArgs{start->mech, std::move(start->step.token)});
  if (!reply) return std::unexpected(reply.error());
  // libvirt's loop: step until both sides are complete (the server's last data, e.g.
  // DIGEST-MD5's rspauth, still goes through the client). Bounded: the mechanisms libvirt uses
  // finish in a few round trips.
  bool server_done = reply->complete;
  rpc::SaslToken token = std::move(reply->token);
  for (int round = 0; !(server_done && client_done); ++round) {
    if (round >= 32)
      return Fail(ErrorCode::kAuthFailed, ErrorDomain::kRemote, "authentication failed: too many SASL steps");
    auto next = (*session)->Step(token);
    if (!next) return std::unexpected(next.error());
    client_done = next->complete;
    if (server_done && client_done) break;
    auto stepped =
        client_->Call<rpc::SaslStepRet>(Proc::kAuthSaslStep, rpc::SaslStepArgs{std::move(next->token)});
    if (!stepped) return std::unexpected(stepped.error());
    server_done = stepped->complete;
    token = std::move(stepped->token);
  }
  auto ssf = (*session)->Ssf();
  if (!ssf) return std::unexpected(ssf.error());
  if (!target.secure) {
    if (*ssf < rpc::kSaslDefaultTcpMinSsf) {
      return Fail(
          ErrorCode::kAuthFailed, ErrorDomain::kRemote,
          "authentication failed: negotiation SSF " + std::to_string(*ssf) + " was not strong enough");
    }
    client_->InstallSaslLayer(std::move(*session));
  }
  return {};
}

Result<void> RemoteConnection::Handshake(const std::string& open_name, const SaslTarget& target) {
  auto auth = client_->Call<rpc::AuthListRet>(Proc::kAuthList, NoArgs{});
  if (!auth) {
    // A server without AUTH_LIST is treated as needing no authentication, as libvirt does.
    if (auth.error().code() != ErrorCode::kNoSupport) return std::unexpected(auth.error());
  } else if (!auth->types.empty() &&
             std::find(auth->types.begin(), auth->types.end(), rpc::kAuthTypeNone) == auth->types.end()) {
    if (std::find(auth->types.begin(), auth->types.end(), rpc::kAuthTypePolkit) != auth->types.end()) {
      auto polkit = client_->Call<rpc::IntValue>(Proc::kAuthPolkit, NoArgs{});
      if (!polkit) return std::unexpected(polkit.error());
    } else if (auth->types[0] == rpc::kAuthTypeSasl) {
      if (auto ok = AuthenticateSasl(target); !ok) return ok;
    } else {
      return Fail(ErrorCode::kAuthFailed, ErrorDomain::kRemote,
                  "authentication failed: unsupported authentication type " + std::to_string(auth->types[0]));
    }
  }
  auto keepalive = client_->Call<rpc::IntValue>(Proc::kConnectSupportsFeature,
                                                rpc::IntValue{rpc::kFeatureProgramKeepAlive});
  auto opened = client_->Call<NoRet>(Proc::kConnectOpen,
                                     rpc::OpenArgs{open_name, read_only_ ? rpc::kConnectReadOnly : 0u});
  if (!opened) return std::unexpected(opened.error());
  if (keepalive && keepalive->value == 1) client_->StartKeepAlive(kKeepAliveInterval, kKeepAliveCount);
  return {};
}

Result<SecretRef> RemoteConnection::DefineXml(std::string_view xml, unsigned flags) {
  auto r =
      client_->Call<rpc::SecretHandle>(Proc::kSecretDefineXml, rpc::DefineXmlArgs{std::string(xml), flags});
  if (!r) return std::unexpected(r.error());
  return r->secret;
}

Result<void> RemoteConnection::Undefine(const Uuid& uuid) {
  auto r = client_->Call<NoRet>(Proc::kSecretUndefine, rpc::SecretHandle{HandleFor(uuid)});
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<void> RemoteConnection::SetValue(const Uuid& uuid, const SecretBytes& value, unsigned flags) {
  auto r =
      client_->Call<NoRet>(Proc::kSecretSetValue, rpc::SetValueArgs{HandleFor(uuid), value.Clone(), flags});
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<SecretBytes> RemoteConnection::GetValue(const Uuid& uuid, unsigned flags) {
  auto r =
      client_->Call<rpc::GetValueRet>(Proc::kSecretGetValue, rpc::SecretFlagsArgs{HandleFor(uuid), flags});
  if (!r) return std::unexpected(r.error());
  return std::move(r->value);
}

Result<std::string> RemoteConnection::GetXmlDesc(const Uuid& uuid, unsigned flags) {
  auto r =
      client_->Call<rpc::StringValue>(Proc::kSecretGetXmlDesc, rpc::SecretFlagsArgs{HandleFor(uuid), flags});
  if (!r) return std::unexpected(r.error());
  return std::move(r->value);
}

Result<SecretRef> RemoteConnection::LookupByUuid(const Uuid& uuid) {
  auto r = client_->Call<rpc::SecretHandle>(Proc::kSecretLookupByUuid, rpc::LookupByUuidArgs{uuid});
  if (!r) return std::unexpected(r.error());
  return r->secret;
}

Result<SecretRef> RemoteConnection::LookupByUsage(int usage_type, std::string_view usage_id) {
  auto r = client_->Call<rpc::SecretHandle>(Proc::kSecretLookupByUsage,
                                            rpc::LookupByUsageArgs{usage_type, std::string(usage_id)});
  if (!r) return std::unexpected(r.error());
  return r->secret;
}

Result<std::vector<SecretRef>> RemoteConnection::ListAll(unsigned flags) {
  auto r = client_->Call<rpc::ListAllRet>(Proc::kConnectListAllSecrets, rpc::ListAllArgs{1, flags});
  if (!r) return std::unexpected(r.error());
  // libvirt's client trusts `ret` for the count; a disagreeing server is a protocol error.
  if (r->ret != r->secrets.size()) {
    return Fail(ErrorCode::kRpc, ErrorDomain::kRemote, "too many remote secrets: " + std::to_string(r->ret));
  }
  return std::move(r->secrets);
}

Result<int> RemoteConnection::NumOfSecrets() {
  auto r = client_->Call<rpc::IntValue>(Proc::kConnectNumOfSecrets, NoArgs{});
  if (!r) return std::unexpected(r.error());
  return r->value;
}

Result<std::vector<std::string>> RemoteConnection::ListUuids(int max) {
  if (max < 0) {
    return InvalidArg(ErrorDomain::kSecret,
                      "maxuuids in virConnectListSecrets must be greater than or equal to zero");
  }
  if (static_cast<std::size_t>(max) > rpc::kSecretListMax) {
    return Fail(
        ErrorCode::kRpc, ErrorDomain::kRemote,
        "too many remote UUIDs: " + std::to_string(max) + " > " + std::to_string(rpc::kSecretListMax));
  }
  auto r = client_->Call<rpc::ListSecretsRet>(Proc::kConnectListSecrets, rpc::IntValue{max});
  if (!r) return std::unexpected(r.error());
  if (r->uuids.size() > static_cast<std::size_t>(max)) {
    return Fail(ErrorCode::kRpc, ErrorDomain::kRemote,
                "remote host replied with too many UUIDs: " + std::to_string(r->uuids.size()));
  }
  return std::move(r->uuids);
}

Result<int> RemoteConnection::RegisterEvent(SecretEventId id, std::optional<Uuid> filter,
                                            SecretEventCallback callback) {
  if (auto valid = CheckSecretEventId(id); !valid) return std::unexpected(valid.error());
  const int raw_id = static_cast<int>(id);
  RegistrationKey key{raw_id, filter};
  MutexLock lock(events_mutex_);
  if (!event_thread_.joinable()) event_thread_ = std::thread([this] { EventLoop(); });
  int local_id = next_local_id_++;
  listeners_[local_id] = Listener{id, filter, std::make_shared<SecretEventCallback>(std::move(callback))};
  auto existing = registrations_.find(key);
  if (existing != registrations_.end()) {
    existing->second.local_ids.push_back(local_id);
    return local_id;
  }
  // The server call happens without the lock (events may arrive meanwhile); the local id is
  // reserved, and the registration recorded once the server's id is known.
  lock.Unlock();
  rpc::EventRegisterArgs args{raw_id, std::nullopt};
  if (filter) args.secret = HandleFor(*filter);
  auto r = client_->Call<rpc::IntValue>(Proc::kConnectSecretEventRegisterAny, args);
  lock.Lock();
  if (!r) {
    listeners_.erase(local_id);
    return std::unexpected(r.error());
  }
  auto& reg = registrations_[key];
  reg.server_id = r->value;
  reg.local_ids.push_back(local_id);
  return local_id;
}

Result<void> RemoteConnection::DeregisterEvent(int callback_id) {
  MutexLock lock(events_mutex_);
  auto it = listeners_.find(callback_id);
  if (it == listeners_.end()) return NoSuchEventCallback(callback_id);
  RegistrationKey key{static_cast<int>(it->second.id), it->second.filter};
  listeners_.erase(it);
  auto reg = registrations_.find(key);
  if (reg == registrations_.end()) return {};
  auto& ids = reg->second.local_ids;
  ids.erase(std::remove(ids.begin(), ids.end(), callback_id), ids.end());
  if (!ids.empty()) return {};
  int server_id = reg->second.server_id;
  registrations_.erase(reg);
  lock.Unlock();
  auto r = client_->Call<NoRet>(Proc::kConnectSecretEventDeregisterAny, rpc::IntValue{server_id});
  if (!r) return std::unexpected(r.error());
  return {};
}

void RemoteConnection::OnMessage(const rpc::Header& header, std::span<const std::uint8_t> payload) {
  SecretEvent event;
  int server_id;
  if (header.proc == static_cast<std::int32_t>(Proc::kSecretEventLifecycle)) {
    auto msg = rpc::DecodePayload<rpc::LifecycleMsg>(payload);
    if (!msg) return;
    server_id = msg->callback_id;
    event = SecretEvent{SecretEventId::kLifecycle, msg->secret, static_cast<LifecycleEvent>(msg->event),
                        msg->detail};
  } else if (header.proc == static_cast<std::int32_t>(Proc::kSecretEventValueChanged)) {
    auto msg = rpc::DecodePayload<rpc::ValueChangedMsg>(payload);
    if (!msg) return;
    server_id = msg->callback_id;
    event = SecretEvent{SecretEventId::kValueChanged, msg->secret, LifecycleEvent::kDefined, 0};
  } else {
    return;  // other REMOTE messages (connection-closed, domain events) do not concern secrets
  }
  {
    MutexLock lock(events_mutex_);
    queue_.emplace_back(server_id, std::move(event));
  }
  events_cv_.NotifyAll();
}

void RemoteConnection::EventLoop() {
  MutexLock lock(events_mutex_);
  for (;;) {
    while (!stopping_ && queue_.empty()) events_cv_.Wait(events_mutex_);
    if (queue_.empty()) return;
    auto [server_id, event] = std::move(queue_.front());
    queue_.pop_front();
    // Route by the server's callback id, then apply the local filter as libvirt's client does.
    std::vector<std::shared_ptr<SecretEventCallback>> targets;
    for (const auto& [key, reg] : registrations_) {
      if (reg.server_id != server_id) continue;
      for (int local : reg.local_ids) {
        auto l = listeners_.find(local);
        if (l == listeners_.end() || l->second.id != event.id) continue;
        if (l->second.filter && *l->second.filter != event.secret.uuid) continue;
        targets.push_back(l->second.callback);
      }
    }
    lock.Unlock();
    for (const auto& cb : targets) (*cb)(event);
    lock.Lock();
  }
}

}  // namespace vsecret
