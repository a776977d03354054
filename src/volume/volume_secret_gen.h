// Secrets generated for new LUKS volumes (libvirt's "automatically generate a secret value at the
// time of volume creation, and store it using the specified uuid", and one step further).
//
// At vol-create, the <encryption format='luks'> of the request decides where the passphrase
// comes from:
//   * <secret> names a secret that has a value: that value (nothing is generated);
//   * <secret> names a defined secret without a value: a generated passphrase, stored as that
//     secret's value;
//   * no <secret> at all (and vol-create-as --encrypt): a generated passphrase in a new secret,
//     private='yes' ephemeral='no', usage type volume with the volume's path as usage, whose
//     UUID is recorded in the volume's <encryption>.
// A generated passphrase is 32 bytes from the kernel's RNG (getrandom) written as 64 lowercase
// hex characters: plain ASCII, so qemu and cryptsetup use it as it is. It lives in SecretBytes
// and is never printed or logged.
//
// Atomicity is by ordering: Prepare decides and generates without changing anything; the caller
// creates the volume, then calls Commit as its last step, and removes the volume if Commit fails.
// Commit is all-or-nothing itself (a secret it defined is undefined again when storing the value
// fails). So a failed creation leaves neither a new secret nor a value, and a secret that could
// not be stored leaves no volume.
#pragma once

#include <optional>
#include <string>

#include "conf/encryption_xml.h"
#include "driver/secret_driver.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"
#include "vsecret/uuid.h"

namespace vsecret::volume {

inline constexpr std::size_t kGeneratedPassphraseBytes = 32;

// kGeneratedPassphraseBytes random bytes (getrandom) as 2 x that many lowercase hex characters.
Result<SecretBytes> GeneratePassphrase();

class VolumeSecretPlan {
 public:
  enum class Kind {
    kExisting,   // the named secret has a value: use it
    kFillValue,  // the named secret has no value: store a generated one
    kNewSecret,  // no secret named: define one and store a generated value
  };

  // encryption is the request's (format luks, at most one <secret>); for kNewSecret the new
  // secret's UUID is added to it here, so that the caller records it with the volume. path is
  // the volume's path (the new secret's usage). Changes nothing in the secret driver.
  static Result<VolumeSecretPlan> Prepare(SecretDriver& secrets, EncryptionDef& encryption,
                                          const std::string& path);

  Kind kind() const { return kind_; }
  const Uuid& uuid() const { return uuid_; }
  const SecretBytes& passphrase() const { return passphrase_; }

  // Makes the secret side real: defines the new secret and/or stores the generated value.
  // Nothing to do for kExisting. On failure nothing of it is left behind.
  Result<void> Commit();

 private:
  VolumeSecretPlan(SecretDriver& secrets, Kind kind, Uuid uuid, SecretBytes passphrase, std::string path)
      : secrets_(&secrets),
        kind_(kind),
        uuid_(uuid),
        passphrase_(std::move(passphrase)),
        path_(std::move(path)) {}

  SecretDriver* secrets_;
  Kind kind_;
  Uuid uuid_;
  SecretBytes passphrase_;
  std::string path_;
};

}  // namespace vsecret::volume
