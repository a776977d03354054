#include "rpc/sasl_session.h"

#include <sasl/sasl.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace vsecret::rpc {
namespace {

constexpr unsigned kMaxBufSize = 100000;  // libvirt's secprops.maxbufsize
constexpr unsigned kMaxSsf = 100000;      // "arbitrary big number", as libvirt
// Decode input per sasl_decode call: Cyrus refuses inputs above maxbufsize.
constexpr std::size_t kDecodeChunk = 8192;

// VIR_ERR_AUTH_FAILED's text, as libvirt's client reports SASL trouble ("authentication
// failed: Failed to start SASL negotiation: -4 (SASL(-4): no mechanism available: ...)").
std::unexpected<Error> AuthError(const std::string& message) {
  return Fail(ErrorCode::kAuthFailed, ErrorDomain::kRpc, "authentication failed: " + message);
}

Result<void> InitServerOnce() {
  static std::once_flag once;
  static int rc = SASL_OK;
  std::call_once(once, [] { rc = sasl_server_init(nullptr, "libvirt"); });
  if (rc != SASL_OK)
    return AuthError(std::string("failed to initialize SASL library: ") +
                     sasl_errstring(rc, nullptr, nullptr));
  return {};
}

Result<void> InitClientOnce() {
  static std::once_flag once;
  static int rc = SASL_OK;
  std::call_once(once, [] { rc = sasl_client_init(nullptr); });
  if (rc != SASL_OK)
    return AuthError(std::string("failed to initialize SASL library: ") +
                     sasl_errstring(rc, nullptr, nullptr));
  return {};
}

const char* OrNull(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }

Result<void> ApplySecurity(sasl_conn_t* conn, const SaslSecurity& security) {
  if (security.external_ssf > 0) {
    sasl_ssf_t ext = security.external_ssf;
    if (int rc = sasl_setprop(conn, SASL_SSF_EXTERNAL, &ext); rc != SASL_OK)
      return AuthError(std::string("cannot set external SSF: ") + sasl_errdetail(conn));
  }
  sasl_security_properties_t props{};
  if (security.secure_transport) {
    props.min_ssf = 0;
    props.max_ssf = 0;
    props.security_flags = 0;
  } else {
    props.min_ssf = security.tcp_min_ssf;
    props.max_ssf = kMaxSsf;
    props.security_flags = SASL_SEC_NOANONYMOUS | SASL_SEC_NOPLAINTEXT;
  }
  props.maxbufsize = kMaxBufSize;
  if (int rc = sasl_setprop(conn, SASL_SEC_PROPS, &props); rc != SASL_OK)
    return AuthError(std::string("cannot set security properties: ") + sasl_errdetail(conn));
  return {};
}

SaslToken TokenFrom(const char* out, unsigned outlen) {
  SaslToken t;
  t.nil = out == nullptr;
  if (out != nullptr)
    t.data = SecretBytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(out), outlen));
  return t;
}

const char* TokenData(const SaslToken& t) {
  if (t.nil) return nullptr;
  // SASL tells NULL from "": a present empty token must still be a valid pointer.
  static const char kEmpty[1] = {0};
  return t.data.empty() ? kEmpty : reinterpret_cast<const char*>(t.data.data());
}

}  // namespace

SaslSession::~SaslSession() {
  if (conn_ != nullptr) sasl_dispose(&conn_);
}

std::unexpected<Error> SaslSession::CyrusError(const std::string& what, int rc) const {
  const char* detail = conn_ != nullptr ? sasl_errdetail(conn_) : sasl_errstring(rc, nullptr, nullptr);
  return AuthError(what + ": " + std::to_string(rc) + " (" + (detail ? detail : "") + ")");
}

Result<unsigned> SaslSession::Ssf() const {
  const void* v = nullptr;
  if (int rc = sasl_getprop(conn_, SASL_SSF, &v); rc != SASL_OK || v == nullptr)
    return CyrusError("cannot query SASL ssf on connection", rc);
  return static_cast<unsigned>(*static_cast<const sasl_ssf_t*>(v));
}

Result<std::size_t> SaslSession::MaxOutBuf() const {
  const void* v = nullptr;
  if (int rc = sasl_getprop(conn_, SASL_MAXOUTBUF, &v); rc != SASL_OK || v == nullptr)
    return CyrusError("cannot get security props", rc);
  return static_cast<std::size_t>(*static_cast<const unsigned*>(v));
}

Result<void> SaslSession::Encode(std::span<const std::uint8_t> plain, WireBuffer* out) {
  auto max = MaxOutBuf();
  if (!max) return std::unexpected(max.error());
  const std::size_t chunk = std::max<std::size_t>(*max, 1);
  for (std::size_t off = 0; off < plain.size(); off += chunk) {
    const std::size_t n = std::min(chunk, plain.size() - off);
    const char* enc = nullptr;
    unsigned enclen = 0;
    int rc = sasl_encode(conn_, reinterpret_cast<const char*>(plain.data() + off), static_cast<unsigned>(n),
                         &enc, &enclen);
    if (rc != SASL_OK) return CyrusError("failed to encode SASL data", rc);
    out->insert(out->end(), reinterpret_cast<const std::uint8_t*>(enc),
                reinterpret_cast<const std::uint8_t*>(enc) + enclen);
  }
  return {};
}

Result<void> SaslSession::Decode(std::span<const std::uint8_t> wire, WireBuffer* out) {
  for (std::size_t off = 0; off < wire.size(); off += kDecodeChunk) {
    const std::size_t n = std::min(kDecodeChunk, wire.size() - off);
    const char* dec = nullptr;
    unsigned declen = 0;
    int rc = sasl_decode(conn_, reinterpret_cast<const char*>(wire.data() + off), static_cast<unsigned>(n),
                         &dec, &declen);
    if (rc != SASL_OK) return CyrusError("failed to decode SASL data", rc);
    if (dec != nullptr)
      out->insert(out->end(), reinterpret_cast<const std::uint8_t*>(dec),
                  reinterpret_cast<const std::uint8_t*>(dec) + declen);
  }
  return {};
}

// ---- server ----

Result<std::unique_ptr<SaslServerSession>> SaslServerSession::Create(const SaslEndpoint& endpoint,
                                                                     const SaslSecurity& security) {
  if (auto ok = InitServerOnce(); !ok) return std::unexpected(ok.error());
  sasl_conn_t* conn = nullptr;
  int rc =
      sasl_server_new(endpoint.service.c_str(), OrNull(endpoint.fqdn), nullptr, OrNull(endpoint.local_addr),
                      OrNull(endpoint.remote_addr), nullptr, SASL_SUCCESS_DATA, &conn);
  if (rc != SASL_OK) {
    if (conn != nullptr) sasl_dispose(&conn);
    return AuthError(std::string("Failed to create SASL server context: ") +
                     sasl_errstring(rc, nullptr, nullptr));
  }
  std::unique_ptr<SaslServerSession> s(new SaslServerSession(conn));
  if (auto ok = ApplySecurity(conn, security); !ok) return std::unexpected(ok.error());
  return s;
}

Result<std::string> SaslServerSession::ListMechanisms() {
  const char* list = nullptr;
  int rc = sasl_listmech(conn_, nullptr, "", ",", "", &list, nullptr, nullptr);
  if (rc != SASL_OK || list == nullptr) return CyrusError("cannot list SASL mechanisms", rc);
  return std::string(list);
}

Result<SaslStepResult> SaslServerSession::Finish(int rc, const char* out, unsigned outlen, const char* what) {
  if (rc != SASL_OK && rc != SASL_CONTINUE) return CyrusError(what, rc);
  if (outlen > kSaslDataMax)
    return AuthError("SASL negotiation data too long: " + std::to_string(outlen) + " bytes");
  SaslStepResult r;
  r.complete = rc == SASL_OK;
  r.token = TokenFrom(out, outlen);
  return r;
}

Result<SaslStepResult> SaslServerSession::Start(const std::string& mech, const SaslToken& in) {
  const char* out = nullptr;
  unsigned outlen = 0;
  int rc = sasl_server_start(conn_, mech.c_str(), TokenData(in),
                             static_cast<unsigned>(in.nil ? 0 : in.data.size()), &out, &outlen);
  return Finish(rc, out, outlen, "Failed to start SASL negotiation");
}

Result<SaslStepResult> SaslServerSession::Step(const SaslToken& in) {
  const char* out = nullptr;
  unsigned outlen = 0;
  int rc = sasl_server_step(conn_, TokenData(in), static_cast<unsigned>(in.nil ? 0 : in.data.size()), &out,
                            &outlen);
  return Finish(rc, out, outlen, "Failed to step SASL negotiation");
}

Result<std::string> SaslServerSession::UserName() const {
  const void* v = nullptr;
  if (int rc = sasl_getprop(conn_, SASL_USERNAME, &v); rc != SASL_OK || v == nullptr)
    return CyrusError("cannot query SASL username on connection", rc);
  return std::string(static_cast<const char*>(v));
}

// ---- client ----

// Cyrus keeps the pointers it is given by callbacks until the next step, so the answers live
// here, the password in a wiping buffer.
struct SaslClientSession::Callbacks {
  SaslCredentials credentials;
  std::string username;
  std::vector<std::uint8_t, WipingAllocator<std::uint8_t>> secret;  // sasl_secret_t + bytes
  std::optional<Error> failure;
  sasl_callback_t table[4];

  static int GetSimple(void* context, int id, const char** result, unsigned* len) {
    auto* self = static_cast<Callbacks*>(context);
    if (id == SASL_CB_USER) {
      // No separate authorization identity: the server uses the authentication name.
      *result = "";
      if (len) *len = 0;
      return SASL_OK;
    }
    if (!self->credentials.username) return SASL_FAIL;
    auto name = self->credentials.username();
    if (!name) {
      self->failure = name.error();
      return SASL_FAIL;
    }
    self->username = std::move(*name);
    *result = self->username.c_str();
    if (len) *len = static_cast<unsigned>(self->username.size());
    return SASL_OK;
  }

  static int GetSecret(sasl_conn_t*, void* context, int, sasl_secret_t** psecret) {
    auto* self = static_cast<Callbacks*>(context);
    if (!self->credentials.password) return SASL_FAIL;
    auto pw = self->credentials.password();
    if (!pw) {
      self->failure = pw.error();
      return SASL_FAIL;
    }
    self->secret.assign(sizeof(sasl_secret_t) + pw->size() + 1, 0);
    auto* s = reinterpret_cast<sasl_secret_t*>(self->secret.data());
    s->len = pw->size();
    std::memcpy(s->data, pw->data(), pw->size());
    *psecret = s;
    return SASL_OK;
  }
};

SaslClientSession::SaslClientSession(sasl_conn* conn, std::unique_ptr<Callbacks> callbacks)
    : SaslSession(conn), callbacks_(std::move(callbacks)) {}

SaslClientSession::~SaslClientSession() {
  // The connection may still point into the callbacks: dispose of it first.
  if (conn_ != nullptr) sasl_dispose(&conn_);
}

Result<std::unique_ptr<SaslClientSession>> SaslClientSession::Create(const SaslEndpoint& endpoint,
                                                                     const SaslSecurity& security,
                                                                     SaslCredentials credentials) {
  if (auto ok = InitClientOnce(); !ok) return std::unexpected(ok.error());
  auto cb = std::make_unique<Callbacks>();
  cb->credentials = std::move(credentials);
  // Cyrus stores every callback as int (*)(void); going through void (*)(void) is the
  // sanctioned way to say the cast is intended.
  auto generic = [](auto fn) { return reinterpret_cast<int (*)()>(reinterpret_cast<void (*)()>(fn)); };
  cb->table[0] = {SASL_CB_AUTHNAME, generic(&Callbacks::GetSimple), cb.get()};
  cb->table[1] = {SASL_CB_USER, generic(&Callbacks::GetSimple), cb.get()};
  cb->table[2] = {SASL_CB_PASS, generic(&Callbacks::GetSecret), cb.get()};
  cb->table[3] = {SASL_CB_LIST_END, nullptr, nullptr};
  sasl_conn_t* conn = nullptr;
  const std::string host = endpoint.fqdn.value_or("localhost");
  int rc = sasl_client_new(endpoint.service.c_str(), host.c_str(), OrNull(endpoint.local_addr),
                           OrNull(endpoint.remote_addr), cb->table, 0, &conn);
  if (rc != SASL_OK) {
    if (conn != nullptr) sasl_dispose(&conn);
    return AuthError(std::string("Failed to create SASL client context: ") +
                     sasl_errstring(rc, nullptr, nullptr));
  }
  std::unique_ptr<SaslClientSession> s(new SaslClientSession(conn, std::move(cb)));
  if (auto ok = ApplySecurity(conn, security); !ok) return std::unexpected(ok.error());
  return s;
}

Result<SaslClientSession::StartResult> SaslClientSession::Start(const std::string& mechlist) {
  const char* out = nullptr;
  unsigned outlen = 0;
  const char* mech = nullptr;
  int rc = sasl_client_start(conn_, mechlist.c_str(), nullptr, &out, &outlen, &mech);
  if (callbacks_->failure) return std::unexpected(*callbacks_->failure);
  if (rc != SASL_OK && rc != SASL_CONTINUE) return CyrusError("Failed to start SASL negotiation", rc);
  if (outlen > kSaslDataMax)
    return AuthError("SASL negotiation data too long: " + std::to_string(outlen) + " bytes");
  StartResult r;
  r.mech = mech != nullptr ? mech : "";
  r.step.complete = rc == SASL_OK;
  r.step.token = TokenFrom(out, outlen);
  return r;
}

Result<SaslStepResult> SaslClientSession::Step(const SaslToken& in) {
  const char* out = nullptr;
  unsigned outlen = 0;
  int rc = sasl_client_step(conn_, TokenData(in), static_cast<unsigned>(in.nil ? 0 : in.data.size()), nullptr,
                            &out, &outlen);
  if (callbacks_->failure) return std::unexpected(*callbacks_->failure);
  if (rc != SASL_OK && rc != SASL_CONTINUE) return CyrusError("Failed to step SASL negotiation", rc);
  if (outlen > kSaslDataMax)
    return AuthError("SASL negotiation data too long: " + std::to_string(outlen) + " bytes");
  SaslStepResult r;
  r.complete = rc == SASL_OK;
  r.token = TokenFrom(out, outlen);
  return r;
}

}  // namespace vsecret::rpc
