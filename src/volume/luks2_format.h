// Writing new LUKS2 volumes in cryptsetup 2.6's layout, so that cryptsetup luksDump, open
// --test-passphrase and luksAddKey accept them.
//
// Layout (cryptsetup's defaults for a file): 16 KiB metadata copies at 0 and 16 KiB, the keyslots
// area from 32 KiB to 16 MiB, keyslot 0's area at 32 KiB (64-byte key x 4000 stripes, rounded up
// to 4 KiB), the data segment at 16 MiB of "dynamic" size, one pbkdf2 digest over keyslot 0 and
// segment 0. Key material is written and synced before the headers that point at it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "volume/block_file.h"
#include "volume/luks2_image.h"
#include "volume/luks2_keyslots.h"
#include "volume/sector_cipher.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::volume {

struct Luks2FormatOptions {
  CipherSpec cipher;  // aes-256 xts-plain64 (64-byte key) by default; also the keyslot area cipher
  std::uint32_t sector_size = 512;
  // argon2id keyslot: cryptsetup 2.6's ceiling for memory (1 GiB) and parallelism (4), 4 passes.
  std::uint32_t argon2_time = 4;
  std::uint32_t argon2_memory = 1048576;  // KiB
  std::uint32_t argon2_cpus = 4;
  // The volume key digest (pbkdf2-sha256), cryptsetup's minimum by default.
  std::uint32_t digest_iterations = 1000;
};

// Options from the environment: VSECRET_LUKS2_ARGON2="time,memory_kib,cpus" (test fixtures use
// small values) and VSECRET_LUKS_ITERATIONS for the digest. Without them: the defaults above,
// with cpus capped at the number of online CPUs.
Luks2FormatOptions DefaultLuks2FormatOptions();

// One 16 KiB metadata copy for file offset `at` (0: primary "LUKS", 16 KiB: secondary "SKUL"):
// binary header with seqid, uuid and salt, then json NUL-padded, checksummed with sha256. An error
// when json does not fit.
Result<std::vector<std::uint8_t>> BuildLuks2Copy(std::uint64_t at, const std::string& json,
                                                 const std::string& uuid, std::span<const std::uint8_t> salt,
                                                 std::uint64_t seqid);

// Writes a new LUKS2 header with a random volume key and keyslot 0 for passphrase at the start of
// file. The caller sizes the file (at least the data offset, 16 MiB).
Result<UnlockedLuks2> FormatLuks2(BlockFile& file, const SecretBytes& passphrase,
                                  const Luks2FormatOptions& options);

// Creates path (which must not exist) with perms as a LUKS2 volume of capacity bytes (rounded up
// to the sector size). On failure the new file is removed again.
Result<std::unique_ptr<Luks2Image>> CreateLuks2Image(const std::string& path, mode_t perms,
                                                     std::uint64_t capacity, const SecretBytes& passphrase,
                                                     const Luks2FormatOptions& options);

}  // namespace vsecret::volume
