// A libFuzzer stand-in for machines without clang's runtime: runs LLVMFuzzerTestOneInput over
// every file (or every file in every directory) named on the command line, then over
// `-runs=N` inputs made by random byte-level mutations of those files. Built with ASan+UBSan it
// is a dumb-but-useful fuzzer and, more importantly, a replayer of the regression corpus.
// Flags understood: -runs=N, -seed=N, -max_total_time=S; other -flags are ignored.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Input = std::vector<std::uint8_t>;

Input ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Input(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void Mutate(Input& in, std::mt19937_64& rng, const std::vector<Input>& corpus) {
  const int steps = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < steps; ++i) {
    const std::size_t pos = in.empty() ? 0 : rng() % (in.size() + 1);
    switch (rng() % 6) {
      case 0:  // flip a bit
        if (!in.empty()) in[pos % in.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // random byte
        if (!in.empty()) in[pos % in.size()] = static_cast<std::uint8_t>(rng());
        break;
      case 2:  // insert a byte
        in.insert(in.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<std::uint8_t>(rng()));
        break;
      case 3:  // erase a range
        if (!in.empty()) {
          const std::size_t start = pos % in.size();
          const std::size_t len = 1 + rng() % std::min<std::size_t>(16, in.size() - start);
          in.erase(in.begin() + static_cast<std::ptrdiff_t>(start),
                   in.begin() + static_cast<std::ptrdiff_t>(start + len));
        }
        break;
      case 4:  // splice in part of another corpus entry
        if (!corpus.empty()) {
          const Input& other = corpus[rng() % corpus.size()];
          if (!other.empty()) {
            const std::size_t start = rng() % other.size();
            const std::size_t len = 1 + rng() % std::min<std::size_t>(64, other.size() - start);
            in.insert(in.begin() + static_cast<std::ptrdiff_t>(pos), other.begin() + start,
                      other.begin() + start + len);
          }
        }
        break;
      default:  // interesting integers, the usual suspects for length fields
        if (in.size() >= 4) {
          static constexpr std::uint32_t kInteresting[] = {0,          1,          0x7f,       0x80,    0xff,
                                                           0x7fffffff, 0x80000000, 0xffffffff, 0x10000, 28};
          const std::uint32_t v = kInteresting[rng() % std::size(kInteresting)];
          const std::size_t at = pos % (in.size() - 3);
          for (int b = 0; b < 4; ++b) in[at + b] = static_cast<std::uint8_t>(v >> (8 * (3 - b)));
        }
        break;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 0;
  long seconds = 0;
  std::uint64_t seed = std::random_device{}();
  std::vector<Input> corpus;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("-runs=")) {
      runs = std::atol(argv[i] + 6);
    } else if (arg.starts_with("-seed=")) {
      seed = std::strtoull(argv[i] + 6, nullptr, 10);
    } else if (arg.starts_with("-max_total_time=")) {
      seconds = std::atol(argv[i] + 16);
    } else if (arg.starts_with("-")) {
      continue;
    } else if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
        if (entry.is_regular_file()) corpus.push_back(ReadFile(entry.path()));
      }
    } else {
      corpus.push_back(ReadFile(arg));
    }
  }
  for (const Input& in : corpus) LLVMFuzzerTestOneInput(in.data(), in.size());
  std::fprintf(stderr, "standalone: replayed %zu inputs; seed %llu\n", corpus.size(),
               static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  long done = 0;
  for (; done < runs || (seconds > 0 && std::chrono::steady_clock::now() < deadline); ++done) {
    Input in = corpus.empty() ? Input{} : corpus[rng() % corpus.size()];
    Mutate(in, rng, corpus);
    LLVMFuzzerTestOneInput(in.data(), in.size());
  }
  std::fprintf(stderr, "standalone: %ld mutated inputs, no crash\n", done);
  return 0;
}
