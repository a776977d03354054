// libgcrypt for the one LUKS hash OpenSSL's default provider lacks: whirlpool (OpenSSL 3 keeps it
// in the legacy provider, which vsecret does not load). cryptsetup formats whirlpool volumes on
// request; qemu cannot open them, so vsecret reads them but never creates them.
//
// Thread-safety: libgcrypt is initialised once (std::call_once) on first use; the functions may
// run concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "vsecret/error.h"

namespace vsecret::volume {

// libgcrypt's digest size for a LUKS hash name ("whirlpool", "sha256", ...); 0 if it lacks it.
std::size_t GcryptDigestSize(std::string_view hash_name);
// out (>= the digest size) = H(a || b); b alone when a is empty (the AF diffuser hashes
// be32(j) || piece without copying the two together).
Result<void> GcryptHash(std::string_view hash_name, std::span<const std::uint8_t> a,
                        std::span<const std::uint8_t> b, std::span<std::uint8_t> out);
// PBKDF2-HMAC-H (gcry_kdf_derive). iterations >= 1.
Result<void> GcryptPbkdf2(std::string_view hash_name, std::span<const std::uint8_t> password,
                          std::span<const std::uint8_t> salt, std::uint32_t iterations,
                          std::span<std::uint8_t> out);

}  // namespace vsecret::volume
