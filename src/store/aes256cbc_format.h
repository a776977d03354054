// libvirt 12.1's "<uuid>.aes256cbc" value file, read and written
// byte-compatibly so that a store moves between libvirt and vsecret in both directions.
//
//   file    = base64(IV || CIPHERTEXT), one line, no newline, no header, no MAC
//   IV      = 16 random bytes per write
//   CIPHER  = AES-256-CBC under the raw 32-byte key, PKCS#7 padding of 1..16 bytes
//
// The format has no integrity protection and no key id: a wrong key is noticed only when the
// padding happens not to check out (about 255 times in 256), and tampering not at all. vsecret
// therefore only reads it (and writes it for a downgrade export); new values go to .vsenc.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "store/cipher.h"
#include "store/encryption_key.h"
#include "store/value_codec.h"

namespace vsecret {

// The file content for value under key with the given IV (exposed for known-answer tests).
Result<SecretBytes> EncodeAes256CbcValue(const EncryptionKey& key,
                                         std::span<const std::uint8_t, kAesBlockBytes> iv,
                                         const SecretBytes& value);
// The same with a fresh random IV.
Result<SecretBytes> EncodeAes256CbcValue(const EncryptionKey& key, const SecretBytes& value);

// Decodes leniently (as base64 files), then decrypts with the keyring's first key only (see
// MakeAes256CbcValueCodec for why not every key). Errors:
//   decoded size < 16: "Invalid secret: Encrypted secret size '<n>' is invalid" (kInvalid; n is
//     the decoded size, where libvirt prints an unrelated number)
//   no key:            "Invalid secret: cannot decrypt '<path>': no encryption key is loaded"
//                      (kKeyUnavailable)
//   the key does not fit: "Invalid secret: cannot decrypt '<path>': wrong key or corrupted file"
//                      (kInvalid)
DecodeResult DecodeAes256CbcValue(const Keyring* keyring, const SecretBytes& content,
                                  const std::string& path);

}  // namespace vsecret
