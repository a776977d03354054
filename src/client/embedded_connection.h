// EmbeddedConnection: a Connection served by an in-process SecretDriver
// (URI secret:///embed?root=DIR).
//
// Like libvirt, one process has at most one embedded root open at a time: connections to the
// same root share a driver (and its instance lock); a different root is refused while the
// first is open.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "base/thread_annotations.h"
#include "driver/secret_driver.h"
#include "vsecret/connection.h"

namespace vsecret {

class EmbeddedConnection final : public Connection {
 public:
  // root must be absolute. Fails with libvirt's messages for a relative root or a second root.
  static Result<std::unique_ptr<EmbeddedConnection>> Open(const std::string& uri, const std::string& root,
                                                          bool read_only);
  ~EmbeddedConnection() override;

  std::string Uri() const override { return uri_; }
  bool IsReadOnly() const override { return caller_.read_only; }
  SecretDriver* LocalSecretDriver() override { return driver_.get(); }

  Result<SecretRef> DefineXml(std::string_view xml, unsigned flags) override;
  Result<void> Undefine(const Uuid& uuid) override;
  Result<void> SetValue(const Uuid& uuid, const SecretBytes& value, unsigned flags) override;
  Result<SecretBytes> GetValue(const Uuid& uuid, unsigned flags) override;
  Result<std::string> GetXmlDesc(const Uuid& uuid, unsigned flags) override;
  Result<SecretRef> LookupByUuid(const Uuid& uuid) override;
  Result<SecretRef> LookupByUsage(int usage_type, std::string_view usage_id) override;
  Result<std::vector<SecretRef>> ListAll(unsigned flags) override;
  Result<int> NumOfSecrets() override;
  Result<std::vector<std::string>> ListUuids(int max) override;
  Result<int> RegisterEvent(SecretEventId id, std::optional<Uuid> filter,
                            SecretEventCallback callback) override;
  Result<void> DeregisterEvent(int callback_id) override;

  // The driver behind this connection, for trusted in-process consumers (volumes).
  SecretDriver& driver() { return *driver_; }

 private:
  EmbeddedConnection(std::string uri, std::shared_ptr<SecretDriver> driver, bool read_only);

  std::string uri_;
  std::shared_ptr<SecretDriver> driver_;
  Caller caller_;
  Mutex mutex_;
  std::set<int> callbacks_ GUARDED_BY(mutex_);  // deregistered on close
};

}  // namespace vsecret
