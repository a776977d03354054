#include "volume/luks2_keyslot_edit.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/base64.h"
#include "volume/luks_crypto.h"
#include "volume/sector_cipher.h"
#include "volume/volume_rekey.h"

namespace vsecret::volume {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kOffSeqid = 16;
constexpr std::size_t kOffHdrOffset = 256;
constexpr std::size_t kOffCsum = 448;
constexpr std::uint64_t kAreaAlign = 4096;
constexpr std::uint32_t kStripes = 4000;
constexpr std::size_t kSaltBytes = 32;
constexpr std::size_t kWipeChunk = 1u << 20;

std::unexpected<Error> KeyslotError(const std::string& detail) {
  return Fail(ErrorCode::kOperationInvalid, ErrorDomain::kStorage,
              "Requested operation is not valid: " + detail);
}

void PutBe64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}

std::uint64_t RoundUp(std::uint64_t v, std::uint64_t unit) { return (v + unit - 1) / unit * unit; }

std::string B64(std::span<const std::uint8_t> bytes) {
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// The metadata copy `header` was read from: its binary header and its JSON.
struct RawCopy {
  std::vector<std::uint8_t> bytes;  // hdr_size bytes
  Json json;
};

Result<RawCopy> ReadCopyInUse(const BlockFile& file, const Luks2Header& header) {
  for (std::uint64_t at : {std::uint64_t{0}, header.hdr_size}) {
    RawCopy copy;
    copy.bytes.resize(header.hdr_size);
    if (Result<void> r = file.ReadAt(at, copy.bytes, "LUKS2 header"); !r) return std::unexpected(r.error());
    Result<Luks2Header> parsed = ParseLuks2Copy(copy.bytes, at);
    if (!parsed || parsed->seqid != header.seqid || parsed->uuid != header.uuid) continue;
    const auto* json = reinterpret_cast<const char*>(copy.bytes.data() + kLuks2BinaryHeaderSize);
    const std::size_t len = strnlen(json, header.hdr_size - kLuks2BinaryHeaderSize);
    copy.json = Json::parse(std::string_view(json, len), nullptr, false);
    if (copy.json.is_discarded() || !copy.json.is_object()) break;
    return copy;
  }
  return InternalError(ErrorDomain::kStorage, "LUKS2 header changed while it was being edited");
}

// Writes both copies of `json` with seqid + 1 (primary, then secondary), syncs, and returns the
// header as read back.
Result<Luks2Header> WriteCopies(BlockFile& file, const Luks2Header& header, const RawCopy& copy,
                                const Json& json) {
  const std::string text = json.dump();
  if (text.size() >= header.hdr_size - kLuks2BinaryHeaderSize)
    return InternalError(ErrorDomain::kStorage, "LUKS2 metadata does not fit in its area");
  const std::optional<HashAlgo> csum = HashFromName(header.checksum_alg);
  if (!csum) return InternalError(ErrorDomain::kStorage, "unsupported LUKS2 checksum algorithm");
  static constexpr std::uint8_t kMagic[2][6] = {{'L', 'U', 'K', 'S', 0xBA, 0xBE},
                                                {'S', 'K', 'U', 'L', 0xBA, 0xBE}};
  for (int i = 0; i < 2; ++i) {
    const std::uint64_t at = i == 0 ? 0 : header.hdr_size;
    std::vector<std::uint8_t> area(header.hdr_size, 0);
    std::memcpy(area.data(), copy.bytes.data(), kLuks2BinaryHeaderSize);
    std::memcpy(area.data(), kMagic[i], sizeof kMagic[i]);
    PutBe64(area.data() + kOffSeqid, header.seqid + 1);
    PutBe64(area.data() + kOffHdrOffset, at);
    std::memset(area.data() + kOffCsum, 0, kLuks2ChecksumSize);
    std::memcpy(area.data() + kLuks2BinaryHeaderSize, text.data(), text.size());
    std::uint8_t digest[64] = {};
    if (Result<void> r = HashBytes(*csum, area, std::span(digest, HashDigestSize(*csum))); !r)
      return std::unexpected(r.error());
    std::memcpy(area.data() + kOffCsum, digest, HashDigestSize(*csum));
    if (Result<void> r = file.WriteAt(at, area, "LUKS2 header"); !r) return std::unexpected(r.error());
  }
  if (Result<void> r = file.Sync(); !r) return std::unexpected(r.error());
  return ReadLuks2Header(file);
}

Result<void> WipeRange(BlockFile& file, std::uint64_t offset, std::uint64_t size) {
  std::vector<std::uint8_t> noise(static_cast<std::size_t>(std::min<std::uint64_t>(size, kWipeChunk)));
  for (std::uint64_t done = 0; done < size;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size - done, noise.size()));
    if (Result<void> r = RandomBytes(std::span(noise).first(n)); !r) return r;
    if (Result<void> r = file.WriteAt(offset + done, std::span(noise).first(n), "keyslot area"); !r) return r;
    done += n;
  }
  return {};
}

// The used ranges of the keyslots area, sorted.
std::vector<std::pair<std::uint64_t, std::uint64_t>> UsedAreas(const Luks2Header& header) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> used;
  for (const Luks2Keyslot& k : header.keyslots) used.emplace_back(k.area_offset, k.area_offset + k.area_size);
  std::sort(used.begin(), used.end());
  return used;
}

}  // namespace

std::optional<std::uint64_t> FindLuks2Area(const Luks2Header& header, std::uint64_t area_size) {
  std::uint64_t at = 2 * header.hdr_size;
  for (const auto& [begin, end] : UsedAreas(header)) {
    if (at + area_size <= begin) return at;
    at = std::max(at, RoundUp(end, kAreaAlign));
  }
  if (at + area_size <= header.MetadataEnd()) return at;
  return std::nullopt;
}

Result<int> AddLuks2Keyslot(BlockFile& file, UnlockedLuks2& luks, const SecretBytes& passphrase,
                            std::optional<int> slot, const Luks2FormatOptions& options) {
  const Luks2Header& h = luks.header;
  auto in_use = [&](int id) {
    return std::any_of(h.keyslots.begin(), h.keyslots.end(),
                       [&](const Luks2Keyslot& k) { return k.id == id; });
  };
  int id = -1;
  if (slot) {
    if (*slot < 0 || *slot >= kLuks2MaxKeyslots)
      return KeyslotError("keyslot " + std::to_string(*slot) + " does not exist (0-31)");
    if (in_use(*slot)) return KeyslotError("keyslot " + std::to_string(*slot) + " is already active");
    id = *slot;
  } else {
    for (int i = 0; i < kLuks2MaxKeyslots && id < 0; ++i) {
      if (!in_use(i)) id = i;
    }
    if (id < 0) return KeyslotError("no free keyslot");
  }
  const auto opener = std::find_if(h.keyslots.begin(), h.keyslots.end(),
                                   [&](const Luks2Keyslot& k) { return k.id == luks.keyslot; });
  if (opener == h.keyslots.end()) return KeyslotError("the unlocking keyslot is gone");
  const std::uint32_t key_size = static_cast<std::uint32_t>(luks.volume_key.size());
  const std::uint64_t material = static_cast<std::uint64_t>(key_size) * kStripes;
  const std::uint64_t area_size = RoundUp(material, kAreaAlign);
  const std::optional<std::uint64_t> area_offset = FindLuks2Area(h, area_size);
  if (!area_offset) return KeyslotError("no room for a new keyslot in the LUKS2 keyslots area");

  // The KDF: pbkdf2 like the keyslot that opened the volume, else argon2id.
  Luks2Kdf kdf;
  kdf.salt.resize(kSaltBytes);
  if (Result<void> r = RandomBytes(kdf.salt); !r) return std::unexpected(r.error());
  if (opener->kdf.type == "pbkdf2") {
    kdf.type = "pbkdf2";
    kdf.hash = opener->kdf.hash;
    kdf.iterations = opener->kdf.iterations;
  } else {
    kdf.type = "argon2id";
    kdf.time = options.argon2_time;
    kdf.memory = options.argon2_memory;
    kdf.cpus = options.argon2_cpus;
  }
  const auto [cipher_name, mode] = SplitLuks2Cipher(opener->area_encryption);
  Result<CipherSpec> spec = ParseCipherSpec(cipher_name, mode, opener->area_key_size);
  if (!spec) return std::unexpected(spec.error());
  SecretBytes area_key;
  area_key.Resize(opener->area_key_size);
  if (Result<void> r = DeriveLuks2Key(kdf, passphrase, {area_key.data(), area_key.size()}); !r)
    return std::unexpected(r.error());
  Result<SecretBytes> split = AfSplit(luks.volume_key, kStripes, HashAlgo::kSha256);
  if (!split) return std::unexpected(split.error());
  SecretBytes area;
  area.Resize(area_size);
  std::memcpy(area.data(), split->data(), material);
  Result<std::unique_ptr<SectorCipher>> cipher = SectorCipher::Create(*spec, area_key);
  if (!cipher) return std::unexpected(cipher.error());
  if (Result<void> r = (*cipher)->Encrypt(0, {area.data(), RoundUp(material, kSectorSize)}); !r)
    return std::unexpected(r.error());

  Result<RawCopy> copy = ReadCopyInUse(file, h);
  if (!copy) return std::unexpected(copy.error());
  Json json = copy->json;
  Json kdf_json = {{"type", kdf.type}, {"salt", B64(kdf.salt)}};
  if (kdf.type == "pbkdf2") {
    kdf_json["hash"] = std::string(HashName(kdf.hash));
    kdf_json["iterations"] = kdf.iterations;
  } else {
    kdf_json["time"] = kdf.time;
    kdf_json["memory"] = kdf.memory;
    kdf_json["cpus"] = kdf.cpus;
  }
  json["keyslots"][std::to_string(id)] = {
      {"type", "luks2"},
      {"key_size", key_size},
      {"af", {{"type", "luks1"}, {"stripes", kStripes}, {"hash", "sha256"}}},
      {"area",
       {{"type", "raw"},
        {"offset", std::to_string(*area_offset)},
        {"size", std::to_string(area_size)},
        {"encryption", opener->area_encryption},
        {"key_size", opener->area_key_size}}},
      {"kdf", kdf_json},
  };
  // Bind it to the digest the opening keyslot uses (the one of segment 0).
  bool bound = false;
  for (auto& [name, digest] : json["digests"].items()) {
    Json& slots = digest["keyslots"];
    if (!slots.is_array()) continue;
    if (std::find(slots.begin(), slots.end(), Json(std::to_string(luks.keyslot))) == slots.end()) continue;
    slots.push_back(std::to_string(id));
    bound = true;
    break;
  }
  if (!bound) return KeyslotError("no digest references keyslot " + std::to_string(luks.keyslot));

  if (Result<void> r = file.WriteAt(*area_offset, area.span(), "keyslot area"); !r)
    return std::unexpected(r.error());
  if (Result<void> r = file.Sync(); !r) return std::unexpected(r.error());
  CrashPoint("keyslot-add-material");
  Result<Luks2Header> written = WriteCopies(file, h, *copy, json);
  if (!written) return std::unexpected(written.error());
  luks.header = std::move(*written);
  return id;
}

Result<void> RemoveLuks2Keyslot(BlockFile& file, Luks2Header& header, int slot) {
  const auto it = std::find_if(header.keyslots.begin(), header.keyslots.end(),
                               [&](const Luks2Keyslot& k) { return k.id == slot; });
  if (it == header.keyslots.end()) return KeyslotError("keyslot " + std::to_string(slot) + " is not active");
  if (header.keyslots.size() == 1) return KeyslotError("cannot remove the last active keyslot");
  const std::uint64_t offset = it->area_offset;
  const std::uint64_t size = it->area_size;
  Result<RawCopy> copy = ReadCopyInUse(file, header);
  if (!copy) return std::unexpected(copy.error());
  Json json = copy->json;
  const std::string name = std::to_string(slot);
  json["keyslots"].erase(name);
  // Digests and tokens must not name a keyslot that is gone (cryptsetup refuses such headers).
  for (const char* section : {"digests", "tokens"}) {
    if (!json.contains(section) || !json[section].is_object()) continue;
    for (auto& [entry_name, entry] : json[section].items()) {
      if (!entry.is_object() || !entry.contains("keyslots") || !entry["keyslots"].is_array()) continue;
      Json& slots = entry["keyslots"];
      slots.erase(std::remove(slots.begin(), slots.end(), Json(name)), slots.end());
    }
  }
  Result<Luks2Header> written = WriteCopies(file, header, *copy, json);
  if (!written) return std::unexpected(written.error());
  header = std::move(*written);
  CrashPoint("keyslot-remove-header");
  if (Result<void> r = WipeRange(file, offset, size); !r) return r;
  return file.Sync();
}

Result<void> WipeLuks2FreeAreas(BlockFile& file, const Luks2Header& header) {
  std::uint64_t at = 2 * header.hdr_size;
  for (const auto& [begin, end] : UsedAreas(header)) {
    if (begin > at) {
      if (Result<void> r = WipeRange(file, at, begin - at); !r) return r;
    }
    at = std::max(at, end);
  }
  if (header.MetadataEnd() > at) {
    if (Result<void> r = WipeRange(file, at, header.MetadataEnd() - at); !r) return r;
  }
  return file.Sync();
}

}  // namespace vsecret::volume
