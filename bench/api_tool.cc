// vsecret-api-bench: in-process counterpart of bench/compare_libvirt.py's python3-libvirt runs.
//
//   vsecret-api-bench lookups URI N      N lookups by usage over the secrets already in URI
//   vsecret-api-bench defines URI DIR    defines every DIR/*.xml through one connection
//
// Prints one JSON object: {"op": ..., "count": ..., "open_s": ..., "seconds": ...}.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "vsecret/connection.h"

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int Usage() {
  std::fprintf(stderr, "usage: vsecret-api-bench lookups URI N | defines URI DIR\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return Usage();
  std::string op = argv[1];
  double t0 = Now();
  auto conn = vsecret::OpenConnection(argv[2], false);
  if (!conn) {
    std::fprintf(stderr, "error: %s\n", conn.error().message().c_str());
    return 1;
  }
  double open_s = Now() - t0;
  long count = 0;
  double seconds = 0;
  if (op == "lookups") {
    long n = std::atol(argv[3]);
    auto all = (*conn)->ListAll(0);
    std::vector<vsecret::SecretRef> refs;
    for (auto& r : *all) {
      if (r.usage_type != vsecret::UsageType::kNone) refs.push_back(r);
    }
    if (refs.empty()) return 1;
    double t = Now();
    for (long i = 0; i < n; ++i) {
      const auto& r = refs[static_cast<std::size_t>(i) % refs.size()];
      auto found = (*conn)->LookupByUsage(static_cast<int>(r.usage_type), r.usage_id);
      if (!found) return 1;
    }
    seconds = Now() - t;
    count = n;
  } else if (op == "defines") {
    std::vector<std::string> files;
    for (auto& e : std::filesystem::directory_iterator(argv[3])) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    double t = Now();
    for (auto& f : files) {
      std::ifstream in(f);
      std::stringstream ss;
      ss << in.rdbuf();
      auto r = (*conn)->DefineXml(ss.str(), 0);
      if (!r) {
        std::fprintf(stderr, "error: %s\n", r.error().message().c_str());
        return 1;
      }
    }
    seconds = Now() - t;
    count = static_cast<long>(files.size());
  } else {
    return Usage();
  }
  std::printf("{\"op\": \"%s\", \"count\": %ld, \"open_s\": %.6f, \"seconds\": %.6f}\n", op.c_str(), count,
              open_s, seconds);
  return 0;
}
