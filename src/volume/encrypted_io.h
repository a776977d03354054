// Plaintext reads and writes on a contiguous encrypted region of a file, at any alignment.
//
// A region is a run of 512-byte sectors starting at file offset region_offset whose first sector
// has IV number region_sector (raw LUKS: the payload, sector 0; qcow2: one data cluster, whose
// sector numbers are host offset / 512). Partial sectors at either end are read, decrypted,
// merged and re-encrypted. Buffers are per thread and reused, so bulk transfers do not page-fault
// on fresh allocations for every chunk.
#pragma once

#include <cstdint>
#include <span>

#include "volume/block_file.h"
#include "volume/sector_cipher.h"
#include "vsecret/error.h"

namespace vsecret::volume {

Result<void> ReadEncrypted(const BlockFile& file, SectorCipher& cipher, std::uint64_t region_offset,
                           std::uint64_t region_sector, std::uint64_t offset, std::span<std::uint8_t> out);
Result<void> WriteEncrypted(BlockFile& file, SectorCipher& cipher, std::uint64_t region_offset,
                            std::uint64_t region_sector, std::uint64_t offset,
                            std::span<const std::uint8_t> data);

}  // namespace vsecret::volume
