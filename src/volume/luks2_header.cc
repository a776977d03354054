#include "volume/luks2_header.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/base64.h"

namespace vsecret::volume {
namespace {

using Json = nlohmann::json;

constexpr std::uint8_t kPrimaryMagic[6] = {'L', 'U', 'K', 'S', 0xBA, 0xBE};
constexpr std::uint8_t kSecondaryMagic[6] = {'S', 'K', 'U', 'L', 0xBA, 0xBE};

// Field offsets of the binary header (integers big-endian).
constexpr std::size_t kOffVersion = 6;
constexpr std::size_t kOffHdrSize = 8;
constexpr std::size_t kOffSeqid = 16;
constexpr std::size_t kOffLabel = 24;
constexpr std::size_t kOffCsumAlg = 72;
constexpr std::size_t kOffSalt = 104;
constexpr std::size_t kOffUuid = 168;
constexpr std::size_t kOffSubsystem = 208;
constexpr std::size_t kOffHdrOffset = 256;
constexpr std::size_t kOffCsum = 448;
constexpr std::size_t kLabelSize = 48;
constexpr std::size_t kCsumAlgSize = 32;
constexpr std::size_t kUuidSize = 40;

constexpr std::size_t kMaxKeyslots = 32;
constexpr std::uint64_t kMaxHdrSize = 4u << 20;

std::uint64_t Be64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

// A NUL-padded text field; unterminated fields are cut at their size, as cryptsetup reads them.
std::string TextField(const std::uint8_t* p, std::size_t size) {
  const void* nul = std::memchr(p, 0, size);
  const std::size_t len =
      nul == nullptr ? size : static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - p);
  return std::string(reinterpret_cast<const char*>(p), len);
}

// Errors of one copy carry its offset, so a report on a damaged file says which copy is bad.
class CopyErrors {
 public:
  explicit CopyErrors(std::uint64_t at) : at_(at) {}
  std::unexpected<Error> operator()(const std::string& detail) const {
    return InternalError(ErrorDomain::kStorage,
                         "LUKS2 header at offset " + std::to_string(at_) + ": " + detail);
  }

 private:
  std::uint64_t at_;
};

// JSON field access with errors naming the path ("keyslot 0: kdf.salt is missing").
struct Fields {
  const CopyErrors& fail;
  std::string where;

  Result<const Json*> Get(const Json& obj, const char* key) const {
    if (!obj.is_object()) return fail(where + ": not a JSON object");
    auto it = obj.find(key);
    if (it == obj.end()) return fail(where + ": '" + key + "' is missing");
    return &*it;
  }
  Result<std::string> String(const Json& obj, const char* key) const {
    Result<const Json*> v = Get(obj, key);
    if (!v) return std::unexpected(v.error());
    if (!(*v)->is_string()) return fail(where + ": '" + key + "' is not a string");
    return (*v)->get<std::string>();
  }
  // LUKS2 stores 64-bit quantities as decimal strings.
  Result<std::uint64_t> U64String(const Json& obj, const char* key) const {
    Result<std::string> s = String(obj, key);
    if (!s) return std::unexpected(s.error());
    if (s->empty() || s->size() > 20 ||
        !std::all_of(s->begin(), s->end(), [](char c) { return c >= '0' && c <= '9'; }))
      return fail(where + ": '" + key + "' is not a decimal number");
    unsigned long long v = 0;
    for (char c : *s) {
      if (v > (~0ULL - static_cast<unsigned>(c - '0')) / 10)
        return fail(where + ": '" + key + "' is out of range");
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return static_cast<std::uint64_t>(v);
  }
  Result<std::uint32_t> U32(const Json& obj, const char* key) const {
    Result<const Json*> v = Get(obj, key);
    if (!v) return std::unexpected(v.error());
    if (!(*v)->is_number_unsigned() || (*v)->get<std::uint64_t>() > 0xFFFFFFFFu)
      return fail(where + ": '" + key + "' is not an unsigned 32-bit number");
    return static_cast<std::uint32_t>((*v)->get<std::uint64_t>());
  }
  Result<std::vector<std::uint8_t>> Base64(const Json& obj, const char* key) const {
    Result<std::string> s = String(obj, key);
    if (!s) return std::unexpected(s.error());
    SecretBytes decoded = Base64DecodeLenient(*s);
    const std::string_view view(reinterpret_cast<const char*>(decoded.data()), decoded.size());
    if (s->empty() || Base64Encode(view) != *s) return fail(where + ": '" + key + "' is not valid base64");
    return std::vector<std::uint8_t>(decoded.data(), decoded.data() + decoded.size());
  }
  Result<HashAlgo> Hash(const Json& obj, const char* key) const {
    Result<std::string> s = String(obj, key);
    if (!s) return std::unexpected(s.error());
    std::optional<HashAlgo> hash = HashFromName(*s);
    if (!hash) return fail(where + ": unsupported hash '" + *s + "'");
    return *hash;
  }
  // Object keys and array entries naming keyslots/segments are decimal strings.
  Result<int> Id(const std::string& text) const {
    if (text.empty() || text.size() > 3 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return fail(where + ": '" + text + "' is not a valid id");
    return std::stoi(text);
  }
  Result<std::vector<int>> IdArray(const Json& obj, const char* key) const {
    Result<const Json*> v = Get(obj, key);
    if (!v) return std::unexpected(v.error());
    if (!(*v)->is_array()) return fail(where + ": '" + key + "' is not an array");
    std::vector<int> out;
    for (const Json& e : **v) {
      if (!e.is_string()) return fail(where + ": '" + key + "' holds a non-string entry");
      Result<int> id = Id(e.get<std::string>());
      if (!id) return std::unexpected(id.error());
      out.push_back(*id);
    }
    return out;
  }
};

#define VS_TRY(var, expr)                                          \
  auto var##_result = (expr);                                      \
  if (!var##_result) return std::unexpected(var##_result.error()); \
  auto var = std::move(*var##_result)

Result<Luks2Kdf> ParseKdf(const Fields& f, const Json& kdf) {
  Luks2Kdf out;
  VS_TRY(type, f.String(kdf, "type"));
  out.type = type;
  // cryptsetup validates only the kdf types it knows and loads a header whose keyslot names
  // another (its own test image luks2_valid_hdr.img has type "argon2"); such a keyslot is
  // unusable, not a damaged header, so it is refused at unlock (DeriveLuks2Key) naming the type.
  if (type != "pbkdf2" && type != "argon2i" && type != "argon2id") return out;
  VS_TRY(salt, f.Base64(kdf, "salt"));
  out.salt = std::move(salt);
  if (type == "pbkdf2") {
    VS_TRY(hash, f.Hash(kdf, "hash"));
    VS_TRY(iterations, f.U32(kdf, "iterations"));
    if (iterations == 0) return f.fail(f.where + ": kdf iterations must be at least 1");
    out.hash = hash;
    out.iterations = iterations;
  } else {
    VS_TRY(time, f.U32(kdf, "time"));
    VS_TRY(memory, f.U32(kdf, "memory"));
    VS_TRY(cpus, f.U32(kdf, "cpus"));
    if (time == 0 || memory < 8 || cpus == 0 || memory < 8 * cpus)
      return f.fail(f.where + ": invalid argon2 parameters");
    out.time = time;
    out.memory = memory;
    out.cpus = cpus;
  }
  return out;
}

Result<Luks2Keyslot> ParseKeyslot(const CopyErrors& fail, int id, const Json& ks, std::uint64_t hdr_size,
                                  std::uint64_t metadata_end) {
  const Fields f{fail, "keyslot " + std::to_string(id)};
  Luks2Keyslot out;
  out.id = id;
  VS_TRY(type, f.String(ks, "type"));
  if (type != "luks2") return fail(f.where + ": unsupported keyslot type '" + type + "'");
  VS_TRY(key_size, f.U32(ks, "key_size"));
  if (key_size == 0 || key_size > 512)
    return fail(f.where + ": invalid key_size " + std::to_string(key_size));
  out.key_size = key_size;
  if (auto p = ks.find("priority"); p != ks.end()) {
    if (!p->is_number_unsigned() || p->get<std::uint64_t>() > 2) return fail(f.where + ": invalid priority");
    out.priority = static_cast<int>(p->get<std::uint64_t>());
  }

  VS_TRY(af, f.Get(ks, "af"));
  const Fields af_f{fail, f.where + " af"};
  VS_TRY(af_type, af_f.String(*af, "type"));
  if (af_type != "luks1") return fail(f.where + ": unsupported af type '" + af_type + "'");
  VS_TRY(stripes, af_f.U32(*af, "stripes"));
  if (stripes != 4000) return fail(f.where + ": stripes " + std::to_string(stripes) + " != 4000");
  out.stripes = stripes;
  VS_TRY(af_hash, af_f.Hash(*af, "hash"));
  out.af_hash = af_hash;

  VS_TRY(area, f.Get(ks, "area"));
  const Fields area_f{fail, f.where + " area"};
  VS_TRY(area_type, area_f.String(*area, "type"));
  if (area_type != "raw") return fail(f.where + ": unsupported area type '" + area_type + "'");
  VS_TRY(area_offset, area_f.U64String(*area, "offset"));
  VS_TRY(area_size, area_f.U64String(*area, "size"));
  VS_TRY(encryption, area_f.String(*area, "encryption"));
  VS_TRY(area_key_size, area_f.U32(*area, "key_size"));
  if (area_key_size == 0 || area_key_size > 512) return fail(f.where + ": invalid area key_size");
  const std::uint64_t material = static_cast<std::uint64_t>(key_size) * stripes;
  if (area_offset % 512 != 0 || area_size % 512 != 0) return fail(f.where + ": area is not sector aligned");
  if (area_size < (material + 511) / 512 * 512)
    return fail(f.where + ": area size " + std::to_string(area_size) + " is too small for its key material");
  if (area_offset < 2 * hdr_size || area_offset > metadata_end || area_size > metadata_end - area_offset)
    return fail(f.where + ": area is outside the keyslots area");
  out.area_offset = area_offset;
  out.area_size = area_size;
  out.area_encryption = encryption;
  out.area_key_size = area_key_size;

  VS_TRY(kdf_json, f.Get(ks, "kdf"));
  const Fields kdf_f{fail, f.where + " kdf"};
  VS_TRY(kdf, ParseKdf(kdf_f, *kdf_json));
  out.kdf = std::move(kdf);
  return out;
}

Result<Luks2Segment> ParseSegment(const CopyErrors& fail, int id, const Json& seg,
                                  std::uint64_t metadata_end) {
  const Fields f{fail, "segment " + std::to_string(id)};
  Luks2Segment out;
  out.id = id;
  VS_TRY(type, f.String(seg, "type"));
  if (type != "crypt") return fail(f.where + ": unsupported segment type '" + type + "'");
  if (seg.contains("integrity"))
    return fail(f.where + ": authenticated encryption (integrity) is not supported");
  VS_TRY(offset, f.U64String(seg, "offset"));
  VS_TRY(size_text, f.String(seg, "size"));
  if (size_text != "dynamic") {
    VS_TRY(size, f.U64String(seg, "size"));
    out.size = size;
  }
  VS_TRY(iv_tweak, f.U64String(seg, "iv_tweak"));
  VS_TRY(encryption, f.String(seg, "encryption"));
  if (encryption.empty()) return fail(f.where + ": 'encryption' is empty");
  if (auto flags = seg.find("flags"); flags != seg.end()) {
    if (!flags->is_array()) return fail(f.where + ": 'flags' is not an array");
    if (!std::all_of(flags->begin(), flags->end(), [](const Json& e) { return e.is_string(); }))
      return fail(f.where + ": 'flags' holds a non-string entry");
  }
  VS_TRY(sector_size, f.U32(seg, "sector_size"));
  if (sector_size != 512 && sector_size != 1024 && sector_size != 2048 && sector_size != 4096)
    return fail(f.where + ": invalid sector_size " + std::to_string(sector_size));
  if (offset % sector_size != 0) return fail(f.where + ": offset is not aligned to the sector size");
  if (out.size && *out.size % sector_size != 0)
    return fail(f.where + ": size is not a multiple of the sector size");
  if (offset < metadata_end) return fail(f.where + ": data overlaps the keyslots area");
  if (iv_tweak % (sector_size / 512) != 0)
    return fail(f.where + ": iv_tweak is not aligned to the sector size");
  out.offset = offset;
  out.iv_tweak = iv_tweak;
  out.encryption = encryption;
  out.sector_size = sector_size;
  return out;
}

Result<Luks2Digest> ParseDigest(const CopyErrors& fail, int id, const Json& dg) {
  const Fields f{fail, "digest " + std::to_string(id)};
  Luks2Digest out;
  out.id = id;
  VS_TRY(type, f.String(dg, "type"));
  if (type != "pbkdf2") return fail(f.where + ": unsupported digest type '" + type + "'");
  VS_TRY(keyslots, f.IdArray(dg, "keyslots"));
  VS_TRY(segments, f.IdArray(dg, "segments"));
  VS_TRY(hash, f.Hash(dg, "hash"));
  VS_TRY(iterations, f.U32(dg, "iterations"));
  VS_TRY(salt, f.Base64(dg, "salt"));
  VS_TRY(digest, f.Base64(dg, "digest"));
  if (iterations == 0) return fail(f.where + ": iterations must be at least 1");
  if (digest.empty() || digest.size() > HashDigestSize(hash))
    return fail(f.where + ": invalid digest length");
  out.keyslots = std::move(keyslots);
  out.segments = std::move(segments);
  out.hash = hash;
  out.iterations = iterations;
  out.salt = std::move(salt);
  out.digest = std::move(digest);
  return out;
}

Result<void> ParseJson(const CopyErrors& fail, const std::string& text, Luks2Header& h) {
  Json root = Json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_object()) return fail("invalid JSON metadata");
  const Fields f{fail, "metadata"};
  for (const char* section : {"keyslots", "segments", "digests", "config", "tokens"}) {
    VS_TRY(obj, f.Get(root, section));
    if (!obj->is_object()) return fail(std::string("'") + section + "' is not an object");
  }

  h.tokens = root["tokens"].size();
  const Json& config = root["config"];
  const Fields cf{fail, "config"};
  VS_TRY(json_size, cf.U64String(config, "json_size"));
  VS_TRY(keyslots_size, cf.U64String(config, "keyslots_size"));
  if (json_size != h.hdr_size - kLuks2BinaryHeaderSize)
    return fail("json_size " + std::to_string(json_size) + " does not match the header size " +
                std::to_string(h.hdr_size));
  if (keyslots_size % 4096 != 0) return fail("keyslots_size is not a multiple of 4096");
  h.json_size = json_size;
  h.keyslots_size = keyslots_size;
  if (auto flags = config.find("flags"); flags != config.end()) {
    if (!flags->is_array()) return fail("config flags is not an array");
    for (const Json& flag : *flags) {
      if (!flag.is_string()) return fail("config flags holds a non-string entry");
      h.flags.push_back(flag.get<std::string>());
    }
  }
  if (auto req = config.find("requirements"); req != config.end()) {
    if (!req->is_object()) return fail("config requirements is not an object");
    if (auto mandatory = req->find("mandatory"); mandatory != req->end()) {
      if (!mandatory->is_array()) return fail("config requirements mandatory is not an array");
      std::string names;
      for (const Json& r : *mandatory) {
        if (!names.empty()) names += ", ";
        names += r.is_string() ? r.get<std::string>() : std::string("?");
      }
      if (!names.empty())
        return fail("unmet requirements (" + names +
                    "): the volume is being re-encrypted or needs a newer cryptsetup");
    }
  }

  const std::uint64_t metadata_end = h.MetadataEnd();
  for (const auto& [key, ks] : root["keyslots"].items()) {
    VS_TRY(id, f.Id(key));
    if (id >= static_cast<int>(kMaxKeyslots)) return fail("keyslot id " + key + " is out of range");
    VS_TRY(slot, ParseKeyslot(fail, id, ks, h.hdr_size, metadata_end));
    h.keyslots.push_back(std::move(slot));
  }
  std::sort(h.keyslots.begin(), h.keyslots.end(),
            [](const Luks2Keyslot& a, const Luks2Keyslot& b) { return a.id < b.id; });
  for (std::size_t i = 0; i < h.keyslots.size(); ++i) {
    for (std::size_t j = i + 1; j < h.keyslots.size(); ++j) {
      const Luks2Keyslot& a = h.keyslots[i];
      const Luks2Keyslot& b = h.keyslots[j];
      if (a.area_offset < b.area_offset + b.area_size && b.area_offset < a.area_offset + a.area_size) {
        return fail("keyslots " + std::to_string(a.id) + " and " + std::to_string(b.id) + " are overlapping");
      }
    }
  }

  const Json& segments = root["segments"];
  if (segments.size() != 1 || !segments.contains("0")) {
    return fail("exactly one data segment (segment 0) is supported, found " +
                std::to_string(segments.size()));
  }
  VS_TRY(segment, ParseSegment(fail, 0, segments["0"], metadata_end));
  h.segment = std::move(segment);

  for (const auto& [key, dg] : root["digests"].items()) {
    VS_TRY(id, f.Id(key));
    VS_TRY(digest, ParseDigest(fail, id, dg));
    for (int slot : digest.keyslots) {
      if (std::none_of(h.keyslots.begin(), h.keyslots.end(),
                       [&](const Luks2Keyslot& k) { return k.id == slot; }))
        return fail("digest " + key + " names keyslot " + std::to_string(slot) + " that does not exist");
    }
    for (int seg : digest.segments) {
      if (seg != 0)
        return fail("digest " + key + " names segment " + std::to_string(seg) + " that does not exist");
    }
    h.digests.push_back(std::move(digest));
  }
  std::sort(h.digests.begin(), h.digests.end(),
            [](const Luks2Digest& a, const Luks2Digest& b) { return a.id < b.id; });
  if (std::none_of(h.digests.begin(), h.digests.end(), [](const Luks2Digest& d) {
        return std::find(d.segments.begin(), d.segments.end(), 0) != d.segments.end();
      })) {
    return fail("no digest is assigned to segment 0");
  }
  // cryptsetup's rule: a keyslot's key is checked by exactly one digest (an unbound keyslot has
  // one too, assigned to no segment), else which key it holds is ambiguous or unverifiable.
  for (const Luks2Keyslot& k : h.keyslots) {
    const auto count = std::count_if(h.digests.begin(), h.digests.end(), [&](const Luks2Digest& d) {
      return std::find(d.keyslots.begin(), d.keyslots.end(), k.id) != d.keyslots.end();
    });
    if (count != 1) {
      return fail("keyslot " + std::to_string(k.id) + " is assigned to " + std::to_string(count) +
                  " digests, not exactly one");
    }
  }
  // Tokens are not used by vsecret, but one naming a keyslot that does not exist is a damaged
  // header for cryptsetup, and so here.
  for (const auto& [key, token] : root["tokens"].items()) {
    const Fields tf{fail, "token " + key};
    VS_TRY(id, tf.Id(key));
    (void)id;
    VS_TRY(type, tf.String(token, "type"));
    (void)type;
    VS_TRY(slots, tf.IdArray(token, "keyslots"));
    for (int slot : slots) {
      if (std::none_of(h.keyslots.begin(), h.keyslots.end(),
                       [&](const Luks2Keyslot& k) { return k.id == slot; }))
        return fail("token " + key + " names keyslot " + std::to_string(slot) + " that does not exist");
    }
  }
  return {};
}

// The message without the code's libvirt prefix, for joining two of them into one.
std::string Detail(const Error& e) {
  const std::string_view prefix = LibvirtMessagePrefix(e.code());
  const std::string& m = e.message();
  return m.starts_with(prefix) ? m.substr(prefix.size()) : m;
}

}  // namespace

bool IsValidLuks2HeaderSize(std::uint64_t size) {
  return size >= 0x4000 && size <= kMaxHdrSize && (size & (size - 1)) == 0;
}

Result<Luks2Header> ParseLuks2Copy(std::span<const std::uint8_t> bytes, std::uint64_t at) {
  const CopyErrors fail(at);
  if (bytes.size() < kLuks2BinaryHeaderSize) return fail("truncated header");
  const std::uint8_t* p = bytes.data();
  const std::uint8_t* magic = at == 0 ? kPrimaryMagic : kSecondaryMagic;
  if (std::memcmp(p, magic, sizeof kPrimaryMagic) != 0) return fail("bad magic");
  const unsigned version = static_cast<unsigned>(p[kOffVersion]) << 8 | p[kOffVersion + 1];
  if (version != 2) return fail("version " + std::to_string(version) + " is not 2");
  Luks2Header h;
  h.hdr_size = Be64(p + kOffHdrSize);
  if (!IsValidLuks2HeaderSize(h.hdr_size)) return fail("invalid header size " + std::to_string(h.hdr_size));
  if (Be64(p + kOffHdrOffset) != at) return fail("header offset field does not match its position");
  if (bytes.size() < h.hdr_size) return fail("truncated metadata area");
  h.seqid = Be64(p + kOffSeqid);
  h.label = TextField(p + kOffLabel, kLabelSize);
  h.checksum_alg = TextField(p + kOffCsumAlg, kCsumAlgSize);
  std::memcpy(h.salt.data(), p + kOffSalt, kLuks2SaltSize);
  h.uuid = TextField(p + kOffUuid, kUuidSize);
  h.subsystem = TextField(p + kOffSubsystem, kLabelSize);

  std::optional<HashAlgo> csum_hash = HashFromName(h.checksum_alg);
  if (!csum_hash) return fail("unsupported checksum algorithm '" + h.checksum_alg + "'");
  std::vector<std::uint8_t> area(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(h.hdr_size));
  std::memset(area.data() + kOffCsum, 0, kLuks2ChecksumSize);
  std::uint8_t digest[64] = {};
  if (Result<void> r = HashBytes(*csum_hash, area, std::span(digest, HashDigestSize(*csum_hash))); !r)
    return std::unexpected(r.error());
  if (std::memcmp(digest, p + kOffCsum, HashDigestSize(*csum_hash)) != 0) return fail("bad checksum");

  const std::uint8_t* json = p + kLuks2BinaryHeaderSize;
  const std::size_t json_area = h.hdr_size - kLuks2BinaryHeaderSize;
  const void* nul = std::memchr(json, 0, json_area);
  if (nul == nullptr) return fail("JSON metadata is not NUL terminated");
  const std::string text(reinterpret_cast<const char*>(json), static_cast<const std::uint8_t*>(nul) - json);
  // As cryptsetup requires: the object starts the area, and the area after its terminating NUL is
  // all zeros (anything there is damage, or data smuggled past the checksummed JSON parser).
  if (text.empty() || text.front() != '{') return fail("JSON metadata does not start with '{'");
  const std::uint8_t* rest = static_cast<const std::uint8_t*>(nul);
  if (std::any_of(rest, json + json_area, [](std::uint8_t b) { return b != 0; }))
    return fail("non-zero bytes after the JSON metadata");
  if (Result<void> r = ParseJson(fail, text, h); !r) return std::unexpected(r.error());
  return h;
}

namespace {

// One copy at `at`: nullopt when there is no copy there at all (no magic), else its parse result.
Result<std::optional<Result<Luks2Header>>> ReadCopy(const BlockFile& file, std::uint64_t at) {
  std::vector<std::uint8_t> bytes(kLuks2BinaryHeaderSize);
  Result<std::size_t> got = file.ReadSomeAt(at, bytes);
  if (!got) return std::unexpected(got.error());
  const std::uint8_t* magic = at == 0 ? kPrimaryMagic : kSecondaryMagic;
  if (*got < sizeof kPrimaryMagic || std::memcmp(bytes.data(), magic, sizeof kPrimaryMagic) != 0) {
    if (at != 0) return std::optional<Result<Luks2Header>>();
  }
  const std::uint64_t size = *got >= kOffHdrSize + 8 ? Be64(bytes.data() + kOffHdrSize) : 0;
  if (*got == kLuks2BinaryHeaderSize && IsValidLuks2HeaderSize(size)) {
    bytes.resize(size);
    Result<std::size_t> more = file.ReadSomeAt(at, bytes);
    if (!more) return std::unexpected(more.error());
    got = more;
  }
  bytes.resize(*got);
  return std::optional<Result<Luks2Header>>(ParseLuks2Copy(bytes, at));
}

}  // namespace

Result<std::optional<std::uint64_t>> FindLuks2Secondary(const BlockFile& file) {
  for (std::uint64_t at = 0x4000; at <= kMaxHdrSize; at <<= 1) {
    std::uint8_t magic[sizeof kSecondaryMagic] = {};
    Result<std::size_t> got = file.ReadSomeAt(at, magic);
    if (!got) return std::unexpected(got.error());
    if (*got == sizeof magic && std::memcmp(magic, kSecondaryMagic, sizeof magic) == 0)
      return std::optional<std::uint64_t>(at);
  }
  return std::optional<std::uint64_t>();
}

Result<Luks2Header> ReadLuks2Header(const BlockFile& file) {
  Result<std::optional<Result<Luks2Header>>> primary = ReadCopy(file, 0);
  if (!primary) return std::unexpected(primary.error());
  Result<Luks2Header> first = std::move(**primary);
  // The primary's size field tells where the secondary is; if the primary is too damaged to say,
  // look at every offset cryptsetup allows, as it does.
  std::vector<std::uint64_t> candidates;
  if (first) {
    candidates.push_back(first->hdr_size);
  } else {
    for (std::uint64_t s = 0x4000; s <= kMaxHdrSize; s <<= 1) candidates.push_back(s);
  }
  std::optional<Result<Luks2Header>> second;
  for (std::uint64_t at : candidates) {
    Result<std::optional<Result<Luks2Header>>> copy = ReadCopy(file, at);
    if (!copy) return std::unexpected(copy.error());
    if (!*copy) continue;
    second = std::move(**copy);
    if (*second) break;
  }
  if (first && second && *second) {
    Luks2Header& pick = (*second)->seqid > first->seqid ? **second : *first;
    pick.primary_valid = pick.secondary_valid = true;
    return std::move(pick);
  }
  if (first) {
    first->primary_valid = true;
    return std::move(*first);
  }
  if (second && *second) {
    (*second)->secondary_valid = true;
    return std::move(**second);
  }
  std::string message = "Volume has a damaged LUKS2 header: " + Detail(first.error());
  message += second ? "; " + Detail(second->error()) : "; no secondary header found";
  return InternalError(ErrorDomain::kStorage, message);
}

}  // namespace vsecret::volume
