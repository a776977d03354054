// Writes the binary seed corpora that cannot be copied from tests/data: value files of every
// format (sealed and aes256cbc with the fuzz key), RPC frames of every message type, and a
// LUKS1 header with qemu's layout. Usage: fuzz_seeds <corpus root>; creates
// <root>/value_codec, <root>/rpc_frame and <root>/luks_header.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base64.h"
#include "rpc/frame.h"
#include "rpc/remote_messages.h"
#include "store/aes256cbc_format.h"
#include "store/sealed_format.h"
#include "volume/luks_header.h"

namespace fs = std::filesystem;
namespace rpc = vsecret::rpc;

namespace {

void Write(const fs::path& path, std::span<const std::uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void Write(const fs::path& path, std::string_view text) {
  Write(path, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

template <typename T>
void WriteFrame(const fs::path& dir, const std::string& name, rpc::Proc proc, const T& v) {
  rpc::Header h;
  h.proc = static_cast<std::int32_t>(proc);
  h.serial = 7;
  auto frame = rpc::EncodeFrame(h, v);
  if (!frame) return;
  // The first byte of an rpc_frame input is the read chunk size (see rpc_frame_fuzz.cc).
  // The first byte selects the path in rpc_frame_fuzz.cc: 16k+1 feeds the frame to a
  // FrameReader in chunks of 1 + 7k bytes; 0 decodes the message without its length word.
  std::vector<std::uint8_t> input{0x21};
  input.insert(input.end(), frame->begin(), frame->end());
  Write(dir / (name + "-stream"), input);
  std::vector<std::uint8_t> message{0};
  message.insert(message.end(), frame->begin() + rpc::kLengthWordSize, frame->end());
  Write(dir / name, message);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds <corpus root>\n");
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* d : {"value_codec", "rpc_frame", "luks_header"}) fs::create_directories(root / d);

  // Value files. The key must match value_codec_fuzz.cc.
  std::string raw;
  for (int i = 0; i < 32; ++i) raw.push_back(static_cast<char>(i));
  auto key = vsecret::EncryptionKey::FromBytes(vsecret::SecretBytes(std::string_view(raw)), "fuzz-key");
  const auto uuid = *vsecret::Uuid::Parse("0a81f5b2-8403-7b23-c8d6-21ccc2f80d6d");
  int n = 0;
  for (std::string_view value :
       {"", "x", "correct horse battery staple", "0123456789abcdef0123456789abcdef"}) {
    const vsecret::SecretBytes v(value);
    Write(root / "value_codec" / ("base64-" + std::to_string(n)), vsecret::Base64Encode(value));
    if (key) {
      if (auto sealed = vsecret::SealValue(*key, uuid, v)) {
        Write(root / "value_codec" / ("sealed-" + std::to_string(n)), sealed->span());
      }
      if (auto cbc = vsecret::EncodeAes256CbcValue(*key, v)) {
        Write(root / "value_codec" / ("aes256cbc-" + std::to_string(n)), cbc->span());
      }
    }
    ++n;
  }

  // RPC frames.
  const fs::path frames = root / "rpc_frame";
  vsecret::SecretRef ref{uuid, vsecret::UsageType::kVolume, "/var/lib/images/a.img"};
  WriteFrame(frames, "open", rpc::Proc::kConnectOpen, rpc::OpenArgs{std::string("secret:///system"), 0});
  WriteFrame(frames, "define", rpc::Proc::kSecretDefineXml,
             rpc::DefineXmlArgs{"<secret ephemeral='no' private='yes'><usage type='ceph'><name>c</name>"
                                "</usage></secret>",
                                0});
  WriteFrame(frames, "lookup", rpc::Proc::kSecretLookupByUuid, rpc::LookupByUuidArgs{uuid});
  WriteFrame(frames, "handle", rpc::Proc::kSecretLookupByUuid, rpc::SecretHandle{ref});
  WriteFrame(frames, "set-value", rpc::Proc::kSecretSetValue,
             rpc::SetValueArgs{ref, vsecret::SecretBytes(std::string_view("hunter2")), 0});
  WriteFrame(frames, "get-value-ret", rpc::Proc::kSecretGetValue,
             rpc::GetValueRet{vsecret::SecretBytes(std::string_view("hunter2"))});
  WriteFrame(frames, "by-usage", rpc::Proc::kSecretLookupByUsage, rpc::LookupByUsageArgs{2, "name"});
  WriteFrame(frames, "list-secrets", rpc::Proc::kConnectListSecrets,
             rpc::ListSecretsRet{{uuid.ToString(), uuid.ToString()}});
  WriteFrame(frames, "list-all", rpc::Proc::kConnectListAllSecrets, rpc::ListAllRet{{ref, ref}, 2});
  WriteFrame(frames, "event-register", rpc::Proc::kConnectSecretEventRegisterAny,
             rpc::EventRegisterArgs{0, ref});
  WriteFrame(frames, "lifecycle", rpc::Proc::kSecretEventLifecycle, rpc::LifecycleMsg{3, ref, 1, 0});
  rpc::RemoteError err;
  WriteFrame(frames, "error", rpc::Proc::kSecretGetValue, err);

  // A LUKS1 header with qemu's layout and two active slots.
  vsecret::volume::LuksHeader h;
  h.cipher_name = "aes";
  h.cipher_mode = "xts-plain64";
  h.hash_spec = "sha256";
  h.key_bytes = 64;
  h.mk_digest_iterations = 1000;
  h.uuid = uuid.ToString();
  h.payload_offset = vsecret::volume::LayOutKeySlots(h);
  h.slots[0].active = true;
  h.slots[0].iterations = 2000;
  h.slots[3].active = true;
  h.slots[3].iterations = 1;
  const auto header = vsecret::volume::SerializeLuksHeader(h);
  Write(root / "luks_header" / "luks1-xts", header);
  h.cipher_mode = "cbc-essiv:sha256";
  h.key_bytes = 32;
  h.payload_offset = vsecret::volume::LayOutKeySlots(h);
  Write(root / "luks_header" / "luks1-cbc", vsecret::volume::SerializeLuksHeader(h));
  return 0;
}
