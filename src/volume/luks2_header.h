// LUKS2 on-disk metadata: the two binary headers and their JSON areas (cryptsetup 2.x's format).
//
// A LUKS2 file starts with a metadata area of hdr_size bytes (16 KiB by default): a 4096-byte
// binary header (magic "LUKS\xba\xbe", version 2, big-endian integers, a checksum over the whole
// area with the checksum field zeroed) followed by NUL-padded JSON describing keyslots, segments,
// digests and config. A second copy (magic "SKUL\xba\xbe") follows at offset hdr_size. The copy
// with a valid checksum and the higher sequence id wins, as in cryptsetup; a file whose copies are
// both damaged is refused with an error naming what is wrong in each.
//
// This file knows the layout and the structural rules (areas inside the keyslots area and not
// overlapping, the data segment after it, known types and sizes); it does no cryptography beyond
// the header checksum.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "volume/block_file.h"
#include "volume/luks_crypto.h"
#include "vsecret/error.h"

namespace vsecret::volume {

inline constexpr std::size_t kLuks2BinaryHeaderSize = 4096;
inline constexpr std::size_t kLuks2ChecksumSize = 64;
inline constexpr std::size_t kLuks2SaltSize = 64;

struct Luks2Kdf {
  std::string type;  // "pbkdf2", "argon2i", "argon2id"
  std::vector<std::uint8_t> salt;
  // pbkdf2
  HashAlgo hash = HashAlgo::kSha256;
  std::uint32_t iterations = 0;
  // argon2
  std::uint32_t time = 0;
  std::uint32_t memory = 0;  // KiB
  std::uint32_t cpus = 0;
  bool operator==(const Luks2Kdf&) const = default;
};

struct Luks2Keyslot {
  int id = 0;
  std::uint32_t key_size = 0;  // the volume key it stores
  std::uint32_t stripes = 4000;
  HashAlgo af_hash = HashAlgo::kSha256;
  std::uint64_t area_offset = 0;  // bytes from the start of the file
  std::uint64_t area_size = 0;
  std::string area_encryption;  // "aes-xts-plain64"
  std::uint32_t area_key_size = 0;
  Luks2Kdf kdf;
  std::optional<int> priority;  // 0 = ignore, 1 = normal, 2 = high
  bool operator==(const Luks2Keyslot&) const = default;
};

struct Luks2Segment {
  int id = 0;
  std::uint64_t offset = 0;           // bytes
  std::optional<std::uint64_t> size;  // nullopt: "dynamic" (to the end of the file)
  std::uint64_t iv_tweak = 0;
  std::string encryption;  // "aes-xts-plain64"
  std::uint32_t sector_size = 512;
  bool operator==(const Luks2Segment&) const = default;
};

struct Luks2Digest {
  int id = 0;
  std::vector<int> keyslots;
  std::vector<int> segments;
  HashAlgo hash = HashAlgo::kSha256;
  std::uint32_t iterations = 0;
  std::vector<std::uint8_t> salt;
  std::vector<std::uint8_t> digest;
  bool operator==(const Luks2Digest&) const = default;
};

struct Luks2Header {
  // Binary header (of the copy in use).
  std::uint64_t hdr_size = 0;  // binary header + JSON area
  std::uint64_t seqid = 0;
  std::string label;
  std::string checksum_alg;  // "sha256"
  std::array<std::uint8_t, kLuks2SaltSize> salt{};
  std::string uuid;
  std::string subsystem;
  // JSON.
  std::vector<Luks2Keyslot> keyslots;  // sorted by id
  Luks2Segment segment;                // the one crypt segment vsecret supports
  std::vector<Luks2Digest> digests;    // sorted by id
  std::uint64_t json_size = 0;
  std::uint64_t keyslots_size = 0;
  std::vector<std::string> flags;  // config.flags ("allow-discards", ...)
  std::size_t tokens = 0;          // entries of "tokens" (kept, not modelled; LUKS1 has none)
  // Which copies had a valid checksum (the other one is reported, not repaired).
  bool primary_valid = false;
  bool secondary_valid = false;
  bool operator==(const Luks2Header&) const = default;

  // Where the keyslots area ends and data may begin: 2 x hdr_size + keyslots_size.
  std::uint64_t MetadataEnd() const { return 2 * hdr_size + keyslots_size; }
};

// Parses one copy (binary header + JSON area; bytes.size() >= its hdr_size) that sits at
// file offset `at` (0 for the primary, hdr_size for the secondary). Errors (code
// kInternalError, domain kStorage) name the copy and the defect: "LUKS2 header at offset 0: bad
// checksum", "... invalid JSON metadata: ...", "... keyslot 1: area overlaps keyslot 0", ...
Result<Luks2Header> ParseLuks2Copy(std::span<const std::uint8_t> bytes, std::uint64_t at);

// Reads both copies from the file and returns the valid one with the higher sequence id. When
// neither is valid the error names both defects.
Result<Luks2Header> ReadLuks2Header(const BlockFile& file);

// The offset of a LUKS2 secondary header's magic ("SKUL\xba\xbe") at one of the offsets
// cryptsetup looks at (16 KiB to 4 MiB), or nullopt. For files whose primary magic is gone.
Result<std::optional<std::uint64_t>> FindLuks2Secondary(const BlockFile& file);

// The metadata area sizes cryptsetup allows (16 KiB to 4 MiB, powers of two).
bool IsValidLuks2HeaderSize(std::uint64_t size);

}  // namespace vsecret::volume
