#include "volume/luks2_format.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/base64.h"
#include "volume/luks_crypto.h"
#include "vsecret/uuid.h"

namespace vsecret::volume {
namespace {

using Json = nlohmann::json;

constexpr std::uint64_t kHdrSize = 16384;
constexpr std::uint64_t kDataOffset = 16u << 20;
constexpr std::uint64_t kAreaOffset = 2 * kHdrSize;
constexpr std::uint32_t kStripes = 4000;
constexpr std::size_t kSaltBytes = 32;

void PutBe64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}

std::string B64(std::span<const std::uint8_t> bytes) {
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::optional<std::uint32_t> EnvNumber(const char* text) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(text, &end, 10);
  if (end == text || v == 0 || v > 0xFFFFFFFFul) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

}  // namespace

Result<std::vector<std::uint8_t>> BuildLuks2Copy(std::uint64_t at, const std::string& json,
                                                 const std::string& uuid, std::span<const std::uint8_t> salt,
                                                 std::uint64_t seqid) {
  std::vector<std::uint8_t> area(kHdrSize, 0);
  if (json.size() >= kHdrSize - kLuks2BinaryHeaderSize)
    return InternalError(ErrorDomain::kStorage, "LUKS2 metadata does not fit in its area");
  const std::uint8_t magic[6] = {at == 0 ? std::uint8_t{'L'} : std::uint8_t{'S'},
                                 at == 0 ? std::uint8_t{'U'} : std::uint8_t{'K'},
                                 at == 0 ? std::uint8_t{'K'} : std::uint8_t{'U'},
                                 at == 0 ? std::uint8_t{'S'} : std::uint8_t{'L'},
                                 0xBA,
                                 0xBE};
  std::memcpy(area.data(), magic, sizeof magic);
  area[7] = 2;                         // version
  PutBe64(area.data() + 8, kHdrSize);  // hdr_size
  PutBe64(area.data() + 16, seqid);
  std::memcpy(area.data() + 72, "sha256", 6);
  std::memcpy(area.data() + 104, salt.data(), std::min<std::size_t>(salt.size(), kLuks2SaltSize));
  std::memcpy(area.data() + 168, uuid.data(), std::min<std::size_t>(uuid.size(), 39));
  PutBe64(area.data() + 256, at);  // hdr_offset
  std::memcpy(area.data() + kLuks2BinaryHeaderSize, json.data(), json.size());
  std::uint8_t digest[32];
  if (Result<void> r = HashBytes(HashAlgo::kSha256, area, digest); !r) return std::unexpected(r.error());
  std::memcpy(area.data() + 448, digest, sizeof digest);
  return area;
}

Luks2FormatOptions DefaultLuks2FormatOptions() {
  Luks2FormatOptions o;
  o.cipher = *ParseCipherSpec("aes", "xts-plain64", 64);
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0) o.argon2_cpus = static_cast<std::uint32_t>(std::min<long>(cpus, 4));
  if (const char* argon = std::getenv("VSECRET_LUKS2_ARGON2")) {
    std::string text(argon);
    std::vector<std::uint32_t> parts;
    std::size_t start = 0;
    while (start <= text.size()) {
      const std::size_t comma = std::min(text.find(',', start), text.size());
      if (auto n = EnvNumber(text.substr(start, comma - start).c_str())) parts.push_back(*n);
      start = comma + 1;
    }
    if (parts.size() == 3 && parts[1] >= 8 * parts[2]) {
      o.argon2_time = parts[0];
      o.argon2_memory = parts[1];
      o.argon2_cpus = parts[2];
    }
  }
  if (const char* iterations = std::getenv("VSECRET_LUKS_ITERATIONS")) {
    if (auto n = EnvNumber(iterations); n && *n >= 1000) o.digest_iterations = *n;
  }
  return o;
}

Result<UnlockedLuks2> FormatLuks2(BlockFile& file, const SecretBytes& passphrase,
                                  const Luks2FormatOptions& options) {
  const CipherSpec& spec = options.cipher;
  const std::string encryption = spec.cipher_name + "-" + spec.ModeString();
  const std::uint32_t key_size = spec.key_bytes;
  const std::uint64_t material = static_cast<std::uint64_t>(key_size) * kStripes;
  const std::uint64_t area_size = (material + 4095) / 4096 * 4096;

  UnlockedLuks2 out;
  out.volume_key.Resize(key_size);
  if (Result<void> r = RandomBytes({out.volume_key.data(), out.volume_key.size()}); !r)
    return std::unexpected(r.error());
  std::vector<std::uint8_t> kdf_salt(kSaltBytes), digest_salt(kSaltBytes), hdr_salt(kLuks2SaltSize);
  for (auto* salt : {&kdf_salt, &digest_salt, &hdr_salt}) {
    if (Result<void> r = RandomBytes(*salt); !r) return std::unexpected(r.error());
  }
  std::vector<std::uint8_t> digest(32);
  if (Result<void> r =
          Pbkdf2(HashAlgo::kSha256, out.volume_key.span(), digest_salt, options.digest_iterations, digest);
      !r) {
    return std::unexpected(r.error());
  }

  // Keyslot 0's material: AF-split volume key encrypted with the argon2id-derived area key.
  Luks2Kdf kdf;
  kdf.type = "argon2id";
  kdf.salt = kdf_salt;
  kdf.time = options.argon2_time;
  kdf.memory = options.argon2_memory;
  kdf.cpus = options.argon2_cpus;
  SecretBytes area_key;
  area_key.Resize(key_size);
  if (Result<void> r = DeriveLuks2Key(kdf, passphrase, {area_key.data(), area_key.size()}); !r)
    return std::unexpected(r.error());
  Result<SecretBytes> split = AfSplit(out.volume_key, kStripes, HashAlgo::kSha256);
  if (!split) return std::unexpected(split.error());
  SecretBytes area;
  area.Resize(area_size);
  std::memcpy(area.data(), split->data(), material);
  Result<std::unique_ptr<SectorCipher>> cipher = SectorCipher::Create(spec, area_key);
  if (!cipher) return std::unexpected(cipher.error());
  if (Result<void> r =
          (*cipher)->Encrypt(0, {area.data(), (material + kSectorSize - 1) / kSectorSize * kSectorSize});
      !r) {
    return std::unexpected(r.error());
  }

  Json j;
  j["keyslots"]["0"] = {
      {"type", "luks2"},
      {"key_size", key_size},
      {"af", {{"type", "luks1"}, {"stripes", kStripes}, {"hash", "sha256"}}},
      {"area",
       {{"type", "raw"},
        {"offset", std::to_string(kAreaOffset)},
        {"size", std::to_string(area_size)},
        {"encryption", encryption},
        {"key_size", key_size}}},
      {"kdf",
       {{"type", "argon2id"},
        {"time", kdf.time},
        {"memory", kdf.memory},
        {"cpus", kdf.cpus},
        {"salt", B64(kdf_salt)}}},
  };
  j["tokens"] = Json::object();
  j["segments"]["0"] = {
      {"type", "crypt"},          {"offset", std::to_string(kDataOffset)},
      {"size", "dynamic"},        {"iv_tweak", "0"},
      {"encryption", encryption}, {"sector_size", options.sector_size},
  };
  j["digests"]["0"] = {
      {"type", "pbkdf2"},
      {"keyslots", {"0"}},
      {"segments", {"0"}},
      {"hash", "sha256"},
      {"iterations", options.digest_iterations},
      {"salt", B64(digest_salt)},
      {"digest", B64(digest)},
  };
  j["config"] = {{"json_size", std::to_string(kHdrSize - kLuks2BinaryHeaderSize)},
                 {"keyslots_size", std::to_string(kDataOffset - 2 * kHdrSize)}};
  const std::string json = j.dump();
  const std::string uuid = Uuid::Random().ToString();

  // Material first (synced), then both metadata copies: a crash never leaves a header pointing
  // at missing key material.
  if (Result<void> r = file.WriteAt(kAreaOffset, area.span(), "keyslot area"); !r)
    return std::unexpected(r.error());
  if (Result<void> r = file.Sync(); !r) return std::unexpected(r.error());
  for (std::uint64_t at : {std::uint64_t{0}, kHdrSize}) {
    Result<std::vector<std::uint8_t>> copy = BuildLuks2Copy(at, json, uuid, hdr_salt, 1);
    if (!copy) return std::unexpected(copy.error());
    if (Result<void> r = file.WriteAt(at, *copy, "LUKS2 header"); !r) return std::unexpected(r.error());
  }
  if (Result<void> r = file.Sync(); !r) return std::unexpected(r.error());
  // What was written must read back as what cryptsetup would accept.
  Result<Luks2Header> header = ReadLuks2Header(file);
  if (!header) return std::unexpected(header.error());
  out.header = std::move(*header);
  out.keyslot = 0;
  return out;
}

Result<std::unique_ptr<Luks2Image>> CreateLuks2Image(const std::string& path, mode_t perms,
                                                     std::uint64_t capacity, const SecretBytes& passphrase,
                                                     const Luks2FormatOptions& options) {
  Result<std::unique_ptr<BlockFile>> file = BlockFile::Create(path, perms);
  if (!file) return std::unexpected(file.error());
  auto fail = [&](const Error& e) -> Result<std::unique_ptr<Luks2Image>> {
    ::unlink(path.c_str());
    return std::unexpected(e);
  };
  const std::uint64_t rounded =
      (capacity + options.sector_size - 1) / options.sector_size * options.sector_size;
  if (Result<void> r = (*file)->Resize(kDataOffset + rounded); !r) return fail(r.error());
  Result<UnlockedLuks2> luks = FormatLuks2(**file, passphrase, options);
  if (!luks) return fail(luks.error());
  Result<std::unique_ptr<Luks2Image>> image = Luks2Image::Adopt(std::move(*file), std::move(*luks));
  if (!image) return fail(image.error());
  return image;
}

}  // namespace vsecret::volume
