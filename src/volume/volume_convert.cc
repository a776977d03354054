// The layout half of vol-convert: which LUKS1 header describes a LUKS2 volume's keyslots and
// which LUKS2 metadata describes a LUKS1 volume's (the rules are in volume_convert.h).
#include "volume/volume_convert.h"

#include <algorithm>
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "base/base64.h"
#include "volume/luks_crypto.h"

namespace vsecret::volume {
namespace {

using Json = nlohmann::json;

constexpr std::uint64_t kAlign = 4096;
constexpr std::uint64_t kSector = kLuksSectorSize;

std::uint64_t RoundUp(std::uint64_t v, std::uint64_t unit) { return (v + unit - 1) / unit * unit; }

std::string B64(std::span<const std::uint8_t> bytes) {
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::unexpected<Error> CannotConvert(const std::string& path, const char* target, const std::string& why) {
  return Fail(ErrorCode::kOperationInvalid, ErrorDomain::kStorage,
              "Requested operation is not valid: cannot convert '" + path + "' to " + target + ": " + why);
}

bool Overlaps(std::uint64_t a, std::uint64_t a_len, std::uint64_t b, std::uint64_t b_len) {
  return a < b + b_len && b < a + a_len;
}

}  // namespace

Result<Luks1ToLuks2Plan> PlanLuks1ToLuks2(const LuksHeader& header, const std::string& path) {
  auto refuse = [&](const std::string& why) { return CannotConvert(path, "LUKS2", why); };
  Luks1ToLuks2Plan plan;
  plan.staged = header;
  LuksHeader& h = plan.staged;
  // A slot's extent is its material rounded up to 4 KiB (ValidateLuksHeader's rule, qemu's).
  const std::uint64_t material = std::uint64_t{h.SlotMaterialSectors()} * kSector;
  const std::uint64_t extent = RoundUp(material, kAlign);
  const std::uint64_t payload = std::uint64_t{h.payload_offset} * kSector;
  const std::uint64_t areas_begin = 2 * kConvertLuks2HdrSize;
  if (payload < areas_begin + material) {
    return refuse("the payload starts at " + std::to_string(payload) +
                  " bytes, leaving no room for the LUKS2 headers and a keyslot area before it");
  }
  const std::uint64_t keyslots_size = (payload - areas_begin) / kAlign * kAlign;
  const std::uint64_t areas_end = areas_begin + keyslots_size;
  auto offset_of = [&](int i) {
    return std::uint64_t{h.slots[static_cast<std::size_t>(i)].key_offset} * kSector;
  };
  // Where a slot's area may stay or go: after the metadata copies, inside the keyslots area.
  auto usable = [&](std::uint64_t off) {
    return off >= areas_begin && off % kSector == 0 && off + material <= areas_end;
  };

  std::vector<int> to_move;
  for (int i = 0; i < static_cast<int>(kLuksNumKeySlots); ++i) {
    if (h.slots[static_cast<std::size_t>(i)].active && !usable(offset_of(i))) to_move.push_back(i);
  }
  auto clear_of_active = [&](std::uint64_t off, int except) {
    for (int k = 0; k < static_cast<int>(kLuksNumKeySlots); ++k) {
      if (k != except && h.slots[static_cast<std::size_t>(k)].active &&
          Overlaps(off, extent, offset_of(k), extent))
        return false;
    }
    return true;
  };
  // cryptsetup's own layout first: the slot shifted by 28 KiB (where `cryptsetup convert` puts
  // it, and where `cryptsetup convert --type luks1` expects it back). That place overlaps the
  // slot's own material, so the material goes through a free slot's area: copied there, the
  // LUKS1 header pointed at it, then copied to its place, the live copy intact at every step.
  std::map<int, std::uint64_t> areas;  // LUKS2 area offsets that differ from the staged LUKS1 ones
  if (to_move.size() == 1) {
    const int i = to_move.front();
    const std::uint64_t shifted = offset_of(i) + areas_begin - kLuksAlignSectors * kSector;
    std::optional<int> hop;
    for (int j = 0; j < static_cast<int>(kLuksNumKeySlots) && !hop; ++j) {
      if (h.slots[static_cast<std::size_t>(j)].active || offset_of(j) < areas_begin) continue;
      if (!Overlaps(offset_of(j), extent, shifted, extent) && clear_of_active(offset_of(j), -1)) hop = j;
    }
    if (hop && usable(shifted) && clear_of_active(shifted, i)) {
      plan.moves.push_back(MaterialMove{i, offset_of(i), offset_of(*hop), material});
      plan.final_moves.push_back(MaterialMove{i, offset_of(*hop), shifted, material});
      std::swap(h.slots[static_cast<std::size_t>(i)].key_offset,
                h.slots[static_cast<std::size_t>(*hop)].key_offset);
      areas[i] = shifted;
      to_move.clear();
    }
  }
  // Otherwise into the area of a free slot that lies clear of the headers and of live material.
  for (int i : to_move) {
    std::optional<int> target;
    for (int j = 0; j < static_cast<int>(kLuksNumKeySlots) && !target; ++j) {
      if (!h.slots[static_cast<std::size_t>(j)].active && usable(offset_of(j)) &&
          clear_of_active(offset_of(j), -1))
        target = j;
    }
    if (!target) {
      return refuse("the key material of keyslot " + std::to_string(i) +
                    " lies where the LUKS2 headers go and no free keyslot area is left to move it to "
                    "(remove a keyslot with vol-key-remove first)");
    }
    plan.moves.push_back(MaterialMove{i, offset_of(i), offset_of(*target), material});
    std::swap(h.slots[static_cast<std::size_t>(i)].key_offset,
              h.slots[static_cast<std::size_t>(*target)].key_offset);
  }
  if (Result<void> valid = ValidateLuksHeader(h); !valid)
    return refuse("its keyslots do not fit the new layout (" + valid.error().message() + ")");

  const std::string encryption = h.cipher_name + "-" + h.cipher_mode;
  Json j;
  j["keyslots"] = Json::object();
  std::vector<std::string> ids;
  for (int i = 0; i < static_cast<int>(kLuksNumKeySlots); ++i) {
    const LuksKeySlot& s = h.slots[static_cast<std::size_t>(i)];
    if (!s.active) continue;
    const std::uint64_t off = areas.count(i) ? areas[i] : offset_of(i);
    // cryptsetup's area size (material rounded up to 4 KiB) where the keyslots area allows it.
    const std::uint64_t size = std::min(extent, areas_end - off);
    ids.push_back(std::to_string(i));
    j["keyslots"][std::to_string(i)] = {
        {"type", "luks2"},
        {"key_size", h.key_bytes},
        {"af", {{"type", "luks1"}, {"stripes", s.stripes}, {"hash", h.hash_spec}}},
        {"area",
         {{"type", "raw"},
          {"offset", std::to_string(off)},
          {"size", std::to_string(size)},
          {"encryption", encryption},
          {"key_size", h.key_bytes}}},
        {"kdf",
         {{"type", "pbkdf2"}, {"hash", h.hash_spec}, {"iterations", s.iterations}, {"salt", B64(s.salt)}}},
    };
  }
  if (ids.empty()) return refuse("no keyslot is active");
  j["tokens"] = Json::object();
  j["segments"]["0"] = {
      {"type", "crypt"}, {"offset", std::to_string(payload)}, {"size", "dynamic"},
      {"iv_tweak", "0"}, {"encryption", encryption},          {"sector_size", kSector},
  };
  j["digests"]["0"] = {
      {"type", "pbkdf2"},
      {"keyslots", ids},
      {"segments", {"0"}},
      {"hash", h.hash_spec},
      {"iterations", h.mk_digest_iterations},
      {"salt", B64(h.mk_digest_salt)},
      {"digest", B64(h.mk_digest)},
  };
  j["config"] = {{"json_size", std::to_string(kConvertLuks2HdrSize - kLuks2BinaryHeaderSize)},
                 {"keyslots_size", std::to_string(keyslots_size)}};
  plan.json = j.dump();
  return plan;
}

Result<Luks2ToLuks1Plan> PlanLuks2ToLuks1(const Luks2Header& header, const std::string& path) {
  auto refuse = [&](const std::string& why) { return CannotConvert(path, "LUKS1", why); };
  const Luks2Segment& seg = header.segment;
  if (seg.sector_size != kSector) {
    return refuse("its sector size is " + std::to_string(seg.sector_size) +
                  " bytes; LUKS1 has 512-byte sectors");
  }
  if (seg.size)
    return refuse("its data segment has a fixed size; a LUKS1 payload runs to the end of the file");
  if (seg.iv_tweak != 0) return refuse("its data segment has an IV tweak; LUKS1 has none");
  if (seg.offset % kSector != 0 || seg.offset / kSector > 0xFFFFFFFFu)
    return refuse("its data offset does not fit in a LUKS1 header");
  if (header.tokens != 0)
    return refuse("it has " + std::to_string(header.tokens) + " token(s); LUKS1 has none");
  if (header.keyslots.empty()) return refuse("no keyslot is active");
  if (header.digests.size() != 1) return refuse("it has more than one digest");
  const Luks2Digest& digest = header.digests.front();
  if (digest.salt.size() != kLuksSaltSize || digest.digest.size() < kLuksDigestSize)
    return refuse("its volume key digest does not fit in a LUKS1 header");
  const std::size_t dash = seg.encryption.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == seg.encryption.size())
    return refuse("its cipher '" + seg.encryption + "' has no LUKS1 form");

  LuksHeader h;
  h.cipher_name = seg.encryption.substr(0, dash);
  h.cipher_mode = seg.encryption.substr(dash + 1);
  h.hash_spec = std::string(HashName(digest.hash));
  h.payload_offset = static_cast<std::uint32_t>(seg.offset / kSector);
  h.key_bytes = header.keyslots.front().key_size;
  std::copy_n(digest.digest.begin(), kLuksDigestSize, h.mk_digest.begin());
  std::copy_n(digest.salt.begin(), kLuksSaltSize, h.mk_digest_salt.begin());
  h.mk_digest_iterations = digest.iterations;
  h.uuid = header.uuid;
  if (h.cipher_name.size() >= kLuksNameSize || h.cipher_mode.size() >= kLuksNameSize ||
      h.uuid.size() >= kLuksUuidSize)
    return refuse("its cipher or UUID does not fit in a LUKS1 header");

  std::vector<std::pair<std::uint64_t, std::uint64_t>> used;  // extents in bytes
  const std::uint64_t extent = RoundUp(std::uint64_t{h.SlotMaterialSectors()} * kSector, kAlign);
  for (const Luks2Keyslot& k : header.keyslots) {
    const std::string n = "keyslot " + std::to_string(k.id);
    if (k.kdf.type != "pbkdf2")
      return refuse(n + " uses " + k.kdf.type +
                    "; LUKS1 keyslots are pbkdf2 only (re-key the volume into a "
                    "pbkdf2 keyslot with cryptsetup luksConvertKey, or remove the keyslot)");
    if (k.id >= static_cast<int>(kLuksNumKeySlots)) return refuse(n + " has an id beyond LUKS1's 0-7");
    if (std::find(digest.keyslots.begin(), digest.keyslots.end(), k.id) == digest.keyslots.end())
      return refuse(n + " is not bound to the data segment's key");
    if (k.key_size != h.key_bytes || k.area_key_size != h.key_bytes || k.area_encryption != seg.encryption)
      return refuse(n +
                    " is encrypted with another cipher or key size than the data; LUKS1 uses one for both");
    if (k.kdf.hash != digest.hash || k.af_hash != digest.hash)
      return refuse(n + " uses another hash than the volume key digest; LUKS1 uses one hash for both");
    if (k.kdf.salt.size() != kLuksSaltSize || k.stripes != kLuksStripes)
      return refuse(n + "'s salt or stripes do not fit in a LUKS1 header");
    if (k.area_offset % kAlign != 0 || k.area_offset / kSector > 0xFFFFFFFFu)
      return refuse(n + "'s area is not 4 KiB aligned");
    LuksKeySlot& s = h.slots[static_cast<std::size_t>(k.id)];
    s.active = true;
    s.iterations = k.kdf.iterations;
    std::copy_n(k.kdf.salt.begin(), kLuksSaltSize, s.salt.begin());
    s.key_offset = static_cast<std::uint32_t>(k.area_offset / kSector);
    s.stripes = k.stripes;
    used.emplace_back(k.area_offset, extent);
  }
  // Inactive slots still need extents of their own (qemu checks every slot's).
  Luks2ToLuks1Plan plan;
  const LuksHeader in_place = h;
  bool fits = true;
  for (LuksKeySlot& s : h.slots) {
    if (s.active) continue;
    std::optional<std::uint64_t> found;
    for (std::uint64_t off = kAlign; off + extent <= seg.offset && !found; off += kAlign) {
      if (std::none_of(used.begin(), used.end(),
                       [&](const auto& u) { return Overlaps(off, extent, u.first, u.second); }))
        found = off;
    }
    if (!found) {
      fits = false;
      break;
    }
    s.key_offset = static_cast<std::uint32_t>(*found / kSector);
    used.emplace_back(*found, extent);
  }
  if (!fits) {
    // qemu's layout instead (eight extents from 4 KiB): an active keyslot not on one of its
    // places is copied to a place that is free space of the LUKS2 volume (outside its metadata
    // copies and every keyslot area), so the LUKS2 volume stays intact until the LUKS1 header.
    h = in_place;
    LuksHeader layout = h;
    if (LayOutKeySlots(layout) > h.payload_offset)
      return refuse("there is no room before the payload for the extents of eight LUKS1 keyslots");
    std::array<bool, kLuksNumKeySlots> taken{};
    auto place = [&](std::size_t k) { return std::uint64_t{layout.slots[k].key_offset} * kSector; };
    for (const Luks2Keyslot& k : header.keyslots) {
      for (std::size_t p = 0; p < kLuksNumKeySlots; ++p) {
        if (place(p) == k.area_offset) taken[p] = true;
      }
    }
    auto free_space = [&](std::uint64_t off) {
      if (off < 2 * header.hdr_size) return false;
      return std::none_of(header.keyslots.begin(), header.keyslots.end(), [&](const Luks2Keyslot& k) {
        return Overlaps(off, extent, k.area_offset, RoundUp(k.area_size, kAlign));
      });
    };
    for (const Luks2Keyslot& k : header.keyslots) {
      const auto on_place = [&](std::size_t p) { return place(p) == k.area_offset; };
      bool placed = false;
      for (std::size_t p = 0; p < kLuksNumKeySlots && !placed; ++p) placed = on_place(p);
      if (placed) continue;
      std::optional<std::size_t> target;
      const std::size_t own = static_cast<std::size_t>(k.id);
      if (!taken[own] && free_space(place(own))) target = own;
      for (std::size_t p = 0; p < kLuksNumKeySlots && !target; ++p) {
        if (!taken[p] && free_space(place(p))) target = p;
      }
      if (!target)
        return refuse("there is no free place in LUKS1's layout for keyslot " + std::to_string(k.id));
      taken[*target] = true;
      plan.moves.push_back(MaterialMove{k.id, k.area_offset, place(*target),
                                        std::uint64_t{h.SlotMaterialSectors()} * kSector});
      h.slots[own].key_offset = layout.slots[*target].key_offset;
    }
    for (LuksKeySlot& s : h.slots) {
      if (s.active) continue;
      for (std::size_t p = 0; p < kLuksNumKeySlots; ++p) {
        if (!taken[p]) {
          taken[p] = true;
          s.key_offset = layout.slots[p].key_offset;
          break;
        }
      }
    }
  }
  if (Result<void> valid = ValidateLuksHeader(h); !valid)
    return refuse("its keyslot areas do not fit LUKS1's layout (" + valid.error().message() + ")");
  plan.header = std::move(h);
  return plan;
}

}  // namespace vsecret::volume
