#include "volume/transfer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>
#include <vector>

#include "base/thread_annotations.h"
#include "volume/luks_crypto.h"

namespace vsecret::volume {
namespace {

// Chunk k of a range starting at `offset`: boundaries fall on multiples of `chunk` in image
// space, so chunks never share a sector or cluster even when offset is unaligned.
struct Plan {
  std::uint64_t offset;
  std::uint64_t length;
  std::uint64_t chunk;
  std::uint64_t count() const {
    if (length == 0) return 0;
    const std::uint64_t first = offset / chunk;
    const std::uint64_t last = (offset + length - 1) / chunk;
    return last - first + 1;
  }
  // [begin, end) of chunk k in image space.
  std::pair<std::uint64_t, std::uint64_t> Range(std::uint64_t k) const {
    const std::uint64_t base = (offset / chunk + k) * chunk;
    return {std::max(base, offset), std::min(base + chunk, offset + length)};
  }
};

std::uint64_t ChunkSize(const VolumeImage& image, const TransferOptions& options) {
  const std::uint64_t unit = std::max<std::uint64_t>(image.transfer_unit(), 512);
  return std::max<std::uint64_t>(options.chunk / unit, 1) * unit;
}

bool IsRegular(int fd, std::uint64_t* position) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const off_t pos = ::lseek(fd, 0, SEEK_CUR);
  if (pos < 0) return false;
  *position = static_cast<std::uint64_t>(pos);
  return true;
}

// Shared state of one transfer: the first error, the progress count, cancellation.
class Job {
 public:
  Job(std::uint64_t total, const TransferOptions& options) : total_(total), options_(options) {}

  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  void Fail(Error e) {
    MutexLock lock(mutex_);
    if (!error_) error_ = std::move(e);
    failed_ = true;
  }
  void Advance(std::uint64_t n) {
    MutexLock lock(mutex_);
    done_ += n;
    if (options_.progress) options_.progress(done_, total_);
  }
  std::uint64_t done() const {
    MutexLock lock(mutex_);
    return done_;
  }
  Result<void> Outcome() {
    MutexLock lock(mutex_);
    if (error_) return std::unexpected(*error_);
    return {};
  }

  // Runs body(worker) on the configured number of threads.
  void RunWorkers(const std::function<void()>& body) {
    const unsigned n = std::max(1u, options_.threads);
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < n; ++i) threads.emplace_back(body);
    body();
    for (std::thread& t : threads) t.join();
  }

 private:
  const std::uint64_t total_;
  const TransferOptions& options_;
  std::atomic<bool> failed_{false};
  mutable Mutex mutex_;
  std::optional<Error> error_ GUARDED_BY(mutex_);
  std::uint64_t done_ GUARDED_BY(mutex_) = 0;
};

Result<std::size_t> ReadFull(int fd, std::uint8_t* buf, std::size_t len) {
  std::size_t got = 0;
  while (got < len) {
    const ssize_t n = ::read(fd, buf + got, len - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError(ErrorDomain::kStorage, errno, "cannot read from input");
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

Result<void> PreadFull(int fd, std::uint8_t* buf, std::size_t len, std::uint64_t at) {
  std::size_t got = 0;
  while (got < len) {
    const ssize_t n = ::pread(fd, buf + got, len - got, static_cast<off_t>(at + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError(ErrorDomain::kStorage, errno, "cannot read from input");
    }
    if (n == 0) return InternalError(ErrorDomain::kStorage, "input ended early");
    got += static_cast<std::size_t>(n);
  }
  return {};
}

Result<void> WriteFull(int fd, const std::uint8_t* buf, std::size_t len, std::optional<std::uint64_t> at) {
  std::size_t done = 0;
  while (done < len) {
    const ssize_t n = at ? ::pwrite(fd, buf + done, len - done, static_cast<off_t>(*at + done))
                         : ::write(fd, buf + done, len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError(ErrorDomain::kStorage, errno, "cannot write to output");
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

std::unexpected<Error> BeyondCapacity(std::uint64_t capacity) {
  return Fail(
      ErrorCode::kInvalidArg, ErrorDomain::kStorage,
      "invalid argument: data goes beyond the volume capacity of " + std::to_string(capacity) + " bytes");
}

}  // namespace

Result<std::uint64_t> CopyToImage(int fd, VolumeImage& image, std::uint64_t offset,
                                  std::optional<std::uint64_t> length, const TransferOptions& options) {
  const std::uint64_t capacity = image.capacity();
  if (offset > capacity) return BeyondCapacity(capacity);
  std::uint64_t position = 0;
  const bool regular = IsRegular(fd, &position);
  if (!length && regular) {
    struct stat st;
    ::fstat(fd, &st);
    length = static_cast<std::uint64_t>(st.st_size) > position
                 ? static_cast<std::uint64_t>(st.st_size) - position
                 : 0;
  }
  // A stream of unknown length is planned up to the capacity and stops at end of input.
  const std::uint64_t planned = length.value_or(capacity - offset);
  if (length && *length > capacity - offset) return BeyondCapacity(capacity);
  const Plan plan{offset, planned, ChunkSize(image, options)};
  const std::uint64_t chunks = plan.count();
  Job job(planned, options);
  struct {  // the read position in a stream (files claim chunks with next_file_chunk)
    Mutex mutex;
    std::uint64_t next GUARDED_BY(mutex) = 0;
    bool ended GUARDED_BY(mutex) = false;
  } input;
  std::atomic<std::uint64_t> next_file_chunk{0};
  std::atomic<std::uint64_t> written{0};
  job.RunWorkers([&] {
    std::vector<std::uint8_t> buffer(plan.chunk);
    while (!job.failed()) {
      std::uint64_t k;
      std::size_t len;
      if (regular) {
        k = next_file_chunk.fetch_add(1);
        if (k >= chunks) return;
        const auto [begin, end] = plan.Range(k);
        len = static_cast<std::size_t>(end - begin);
        if (Result<void> r = PreadFull(fd, buffer.data(), len, position + (begin - offset)); !r) {
          job.Fail(r.error());
          return;
        }
      } else {
        MutexLock lock(input.mutex);
        if (input.ended || input.next >= chunks) {
          if (!input.ended && input.next >= chunks && !length) {
            // Planned up to capacity: anything more in the stream does not fit.
            std::uint8_t probe;
            Result<std::size_t> extra = ReadFull(fd, &probe, 1);
            if (extra && *extra > 0) job.Fail(BeyondCapacity(capacity).error());
            input.ended = true;
          }
          return;
        }
        k = input.next++;
        const auto [begin, end] = plan.Range(k);
        Result<std::size_t> got = ReadFull(fd, buffer.data(), static_cast<std::size_t>(end - begin));
        if (!got) {
          job.Fail(got.error());
          return;
        }
        len = *got;
        if (len < end - begin) {
          input.ended = true;
          if (length) {
            job.Fail(InternalError(ErrorDomain::kStorage,
                                   "input ended before " + std::to_string(*length) + " bytes")
                         .error());
            return;
          }
        }
        if (len == 0) return;
      }
      const std::uint64_t begin = plan.Range(k).first;
      if (Result<void> r = image.WriteClobbering(begin, {buffer.data(), len}); !r) {
        job.Fail(r.error());
        return;
      }
      written += len;
      job.Advance(len);
    }
  });
  if (Result<void> r = job.Outcome(); !r) return std::unexpected(r.error());
  return written.load();
}

Result<std::uint64_t> CopyFromImage(VolumeImage& image, std::uint64_t offset, std::uint64_t length, int fd,
                                    const TransferOptions& options) {
  const std::uint64_t capacity = image.capacity();
  if (offset > capacity || length > capacity - offset) return BeyondCapacity(capacity);
  std::uint64_t position = 0;
  const bool regular = IsRegular(fd, &position);
  const Plan plan{offset, length, ChunkSize(image, options)};
  const std::uint64_t chunks = plan.count();
  Job job(length, options);
  std::atomic<std::uint64_t> next{0};
  struct {  // streams only: chunks are written in order
    Mutex mutex;
    CondVar turn;
    std::uint64_t next_to_write GUARDED_BY(mutex) = 0;
  } order;
  job.RunWorkers([&] {
    std::vector<std::uint8_t> buffer(plan.chunk);
    while (!job.failed()) {
      const std::uint64_t k = next.fetch_add(1);
      if (k >= chunks) return;
      const auto [begin, end] = plan.Range(k);
      const std::size_t len = static_cast<std::size_t>(end - begin);
      Result<void> r = image.Read(begin, {buffer.data(), len});
      if (regular) {
        if (r) r = WriteFull(fd, buffer.data(), len, position + (begin - offset));
      } else {
        MutexLock lock(order.mutex);
        while (order.next_to_write != k && !job.failed()) order.turn.Wait(order.mutex);
        if (r && !job.failed()) r = WriteFull(fd, buffer.data(), len, std::nullopt);
        ++order.next_to_write;
        order.turn.NotifyAll();
      }
      if (!r) {
        job.Fail(r.error());
        MutexLock lock(order.mutex);
        order.turn.NotifyAll();
        return;
      }
      job.Advance(len);
    }
  });
  if (Result<void> r = job.Outcome(); !r) return std::unexpected(r.error());
  if (regular) ::lseek(fd, static_cast<off_t>(position + length), SEEK_SET);
  return length;
}

Result<void> FillImage(VolumeImage& image, std::uint64_t offset, std::uint64_t length, bool random,
                       const TransferOptions& options) {
  const std::uint64_t capacity = image.capacity();
  if (offset > capacity || length > capacity - offset) return BeyondCapacity(capacity);
  const Plan plan{offset, length, ChunkSize(image, options)};
  const std::uint64_t chunks = plan.count();
  Job job(length, options);
  std::atomic<std::uint64_t> next{0};
  job.RunWorkers([&] {
    std::vector<std::uint8_t> buffer(plan.chunk, 0);
    while (!job.failed()) {
      const std::uint64_t k = next.fetch_add(1);
      if (k >= chunks) return;
      const auto [begin, end] = plan.Range(k);
      const std::size_t len = static_cast<std::size_t>(end - begin);
      if (random) {
        if (Result<void> r = RandomBytes({buffer.data(), len}); !r) {
          job.Fail(r.error());
          return;
        }
      }
      if (Result<void> r = image.Write(begin, {buffer.data(), len}); !r) {
        job.Fail(r.error());
        return;
      }
      job.Advance(len);
    }
  });
  return job.Outcome();
}

}  // namespace vsecret::volume
