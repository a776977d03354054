// Unencrypted raw volumes: the plaintext is the file.
#include "volume/volume_image.h"

namespace vsecret::volume {
namespace {

class RawImage final : public VolumeImage {
 public:
  RawImage(std::unique_ptr<BlockFile> file, std::uint64_t size) : file_(std::move(file)), size_(size) {}

  std::uint64_t capacity() const override { return size_; }
  Result<void> Read(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (Result<void> r = Check(offset, out.size()); !r) return r;
    return file_->ReadAt(offset, out, "data");
  }
  Result<void> Write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
    if (Result<void> r = Check(offset, data.size()); !r) return r;
    return file_->WriteAt(offset, data, "data");
  }
  Result<void> Resize(std::uint64_t new_capacity) override {
    if (Result<void> r = file_->Resize(new_capacity); !r) return r;
    size_ = new_capacity;
    return {};
  }
  Result<void> Flush() override { return file_->Sync(); }

 private:
  Result<void> Check(std::uint64_t offset, std::size_t len) const {
    if (offset > size_ || len > size_ - offset) {
      return Fail(ErrorCode::kInvalidArg, ErrorDomain::kStorage,
                  "invalid argument: range " + std::to_string(offset) + "+" + std::to_string(len) +
                      " is beyond the volume capacity " + std::to_string(size_));
    }
    return {};
  }

  std::unique_ptr<BlockFile> file_;
  std::uint64_t size_;
};

}  // namespace

Result<std::unique_ptr<VolumeImage>> OpenRawImage(std::unique_ptr<BlockFile> file) {
  Result<std::uint64_t> size = file->Size();
  if (!size) return std::unexpected(size.error());
  return std::unique_ptr<VolumeImage>(new RawImage(std::move(file), *size));
}

}  // namespace vsecret::volume
