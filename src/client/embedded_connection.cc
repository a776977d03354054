#include "client/embedded_connection.h"

namespace vsecret {
namespace {

// The process-wide embedded driver (libvirt allows exactly one embedded root per process).
Mutex g_embed_mutex;
std::weak_ptr<SecretDriver> g_embed_driver GUARDED_BY(g_embed_mutex);
std::string g_embed_root GUARDED_BY(g_embed_mutex);

}  // namespace

Result<std::unique_ptr<EmbeddedConnection>> EmbeddedConnection::Open(const std::string& uri,
                                                                     const std::string& root,
                                                                     bool read_only) {
  if (root.empty() || root[0] != '/') {
    return ConfigUnsupported(ErrorDomain::kNone, "root path must be absolute");
  }
  MutexLock lock(g_embed_mutex);
  std::shared_ptr<SecretDriver> driver = g_embed_driver.lock();
  if (driver && g_embed_root != root) {
    return InternalError(ErrorDomain::kSecret, "Cannot open embedded driver at path '" + root +
                                                   "', already open with path '" + g_embed_root + "'");
  }
  if (!driver) {
    auto opened = SecretDriver::Open(StorePaths::ForRoot(root));
    if (!opened) return std::unexpected(opened.error());
    driver = std::shared_ptr<SecretDriver>(std::move(*opened));
    g_embed_driver = driver;
    g_embed_root = root;
  }
  return std::unique_ptr<EmbeddedConnection>(new EmbeddedConnection(uri, std::move(driver), read_only));
}

EmbeddedConnection::EmbeddedConnection(std::string uri, std::shared_ptr<SecretDriver> driver, bool read_only)
    : uri_(std::move(uri)), driver_(std::move(driver)) {
  caller_.read_only = read_only;
}

EmbeddedConnection::~EmbeddedConnection() {
  MutexLock lock(mutex_);
  for (int id : callbacks_) (void)driver_->events().Deregister(id);
}

Result<SecretRef> EmbeddedConnection::DefineXml(std::string_view xml, unsigned flags) {
  return driver_->DefineXml(caller_, xml, flags);
}
Result<void> EmbeddedConnection::Undefine(const Uuid& uuid) { return driver_->Undefine(caller_, uuid); }
Result<void> EmbeddedConnection::SetValue(const Uuid& uuid, const SecretBytes& value, unsigned flags) {
  return driver_->SetValue(caller_, uuid, value, flags);
}
Result<SecretBytes> EmbeddedConnection::GetValue(const Uuid& uuid, unsigned flags) {
  return driver_->GetValue(caller_, uuid, flags);
}
Result<std::string> EmbeddedConnection::GetXmlDesc(const Uuid& uuid, unsigned flags) {
  return driver_->GetXmlDesc(caller_, uuid, flags);
}
Result<SecretRef> EmbeddedConnection::LookupByUuid(const Uuid& uuid) { return driver_->LookupByUuid(uuid); }
Result<SecretRef> EmbeddedConnection::LookupByUsage(int usage_type, std::string_view usage_id) {
  return driver_->LookupByUsage(usage_type, usage_id);
}
Result<std::vector<SecretRef>> EmbeddedConnection::ListAll(unsigned flags) { return driver_->ListAll(flags); }
Result<int> EmbeddedConnection::NumOfSecrets() { return driver_->NumOfSecrets(); }
Result<std::vector<std::string>> EmbeddedConnection::ListUuids(int max) { return driver_->ListUuids(max); }

Result<int> EmbeddedConnection::RegisterEvent(SecretEventId id, std::optional<Uuid> filter,
                                              SecretEventCallback callback) {
  if (auto valid = CheckSecretEventId(id); !valid) return std::unexpected(valid.error());
  int cid = driver_->events().Register(id, filter, std::move(callback));
  MutexLock lock(mutex_);
  callbacks_.insert(cid);
  return cid;
}

Result<void> EmbeddedConnection::DeregisterEvent(int callback_id) {
  {
    MutexLock lock(mutex_);
    if (callbacks_.erase(callback_id) == 0) return NoSuchEventCallback(callback_id);
  }
  return driver_->events().Deregister(callback_id);
}

}  // namespace vsecret
