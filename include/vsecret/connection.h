// Connection: the one client-side interface to a secret driver, whatever the transport.
//
// The CLI is written against this interface. An embedded connection (secret:///embed?root=DIR,
// src/client/embedded_connection.h) calls the in-process SecretDriver; a remote connection
// (src/client/remote_connection.h) speaks libvirt's RPC protocol to vsecretd or libvirtd. The
// storage commands need the in-process driver itself (they hand private passphrases to the
// volume code, as libvirt's storage driver does inside the daemon): LocalSecretDriver() gives
// it where there is one.
//
// Thread-safety: every method may be called from any thread. Event callbacks run on a thread
// owned by the connection (embedded: the thread that performed the change) and must not call
// back into the connection synchronously while holding their own locks.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vsecret/error.h"
#include "vsecret/secret.h"
#include "vsecret/secret_bytes.h"
#include "vsecret/uuid.h"

namespace vsecret {

class SecretDriver;  // src/driver/secret_driver.h

using SecretEventCallback = std::function<void(const SecretEvent&)>;

class Connection {
 public:
  virtual ~Connection() = default;

  // The URI this connection was opened with, canonicalised.
  virtual std::string Uri() const = 0;
  virtual bool IsReadOnly() const = 0;
  // The in-process secret driver behind this connection, for trusted in-process users (the
  // storage driver); nullptr when the driver is in another process.
  virtual SecretDriver* LocalSecretDriver() { return nullptr; }

  // virSecretDefineXML. flags: kDefineValidate.
  virtual Result<SecretRef> DefineXml(std::string_view xml, unsigned flags) = 0;
  virtual Result<void> Undefine(const Uuid& uuid) = 0;
  // virSecretSetValue; flags must be 0. An empty value is rejected.
  virtual Result<void> SetValue(const Uuid& uuid, const SecretBytes& value, unsigned flags) = 0;
  // virSecretGetValue; private secrets are refused.
  virtual Result<SecretBytes> GetValue(const Uuid& uuid, unsigned flags) = 0;
  // virSecretGetXMLDesc; flags must be 0.
  virtual Result<std::string> GetXmlDesc(const Uuid& uuid, unsigned flags) = 0;

  virtual Result<SecretRef> LookupByUuid(const Uuid& uuid) = 0;
  // usage_type is an int so out-of-range values reach the driver as libvirt's API allows.
  virtual Result<SecretRef> LookupByUsage(int usage_type, std::string_view usage_id) = 0;

  // virConnectListAllSecrets; order unspecified.
  virtual Result<std::vector<SecretRef>> ListAll(unsigned flags) = 0;
  virtual Result<int> NumOfSecrets() = 0;
  // virConnectListSecrets: up to max canonical UUID strings; max < 0 is an error.
  virtual Result<std::vector<std::string>> ListUuids(int max) = 0;

  // virConnectSecretEventRegisterAny: returns a callback id (>= 0). filter limits delivery to
  // one secret.
  virtual Result<int> RegisterEvent(SecretEventId id, std::optional<Uuid> filter,
                                    SecretEventCallback callback) = 0;
  virtual Result<void> DeregisterEvent(int callback_id) = 0;
};

// Opens a connection for a URI (secret:///embed?root=DIR, secret:///system, ...).
// An empty uri selects the default: VSECRET_DEFAULT_URI, then LIBVIRT_DEFAULT_URI, then the
// per-user embedded store under $XDG_STATE_HOME/vsecret.
Result<std::unique_ptr<Connection>> OpenConnection(std::string_view uri, bool read_only);

}  // namespace vsecret
