// yolite compare -- are two yolite checkpoints' tensors bitwise equal, or within a tolerance?
//
//   yolite compare runs/train/a/weights/last.pt runs/train/b/weights/last.pt [--prefix model.]
//   yolite compare a.pt b.pt --atol 1e-5      # every float within 1e-5 (integers still equal)
//
// Loads both with io::load_checkpoint (size and checksum checked), then compares every tensor
// (or those whose name starts with --prefix): names, shapes and bytes, or with --atol the
// float values' largest difference. The metadata (dates, paths, timings) is not compared.
// Prints one line; exit 0 when identical (within --atol), 1 when not.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include <yolite/core/error.hpp>
#include <yolite/io/checkpoint.hpp>

#include "command.hpp"

namespace {

int run_compare(int argc, char** argv) {
  CLI::App app{"compare the tensors of two yolite checkpoints (bit for bit, or --atol)"};
  std::string a_path, b_path, prefix;
  app.add_option("a", a_path, "first checkpoint")->required();
  app.add_option("b", b_path, "second checkpoint")->required();
  app.add_option("--prefix", prefix, "compare only tensors whose name starts with this");
  double atol = 0;
  app.add_option("--atol", atol, "float values may differ by up to this much (default: bit for bit)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  yolite::io::Checkpoint a = yolite::io::load_checkpoint(a_path), b = yolite::io::load_checkpoint(b_path);
  auto wanted = [&](const std::string& n) { return n.compare(0, prefix.size(), prefix) == 0; };
  struct Raw {
    std::string shape;
    const void* data;
    size_t bytes;
    const float* f;  // float tensors: for the size of the difference
    int64_t n;
  };
  auto index = [&](const yolite::io::Checkpoint& c) {
    std::map<std::string, Raw> m;
    for (auto& [n, t] : c.tensors)
      if (wanted(n)) m[n] = {t.shape().str(), t.data(), size_t(t.numel()) * sizeof(float), t.data(), t.numel()};
    for (auto& [n, t] : c.int_tensors)
      if (wanted(n)) m[n] = {t.shape().str(), t.data(), size_t(t.numel()) * sizeof(int64_t), nullptr, t.numel()};
    return m;
  };
  auto ma = index(a), mb = index(b);
  int64_t values = 0;
  double worst_all = 0;
  std::string worst_name;
  for (auto& [n, ra] : ma) {
    auto it = mb.find(n);
    if (it == mb.end()) yolite::fail(b_path, ": has no tensor '", n, "' (", a_path, " has)");
    const Raw& rb = it->second;
    if (ra.shape != rb.shape)
      yolite::fail("tensor '", n, "': shape ", ra.shape, " in ", a_path, ", ", rb.shape, " in ", b_path);
    if (ra.bytes && std::memcmp(ra.data, rb.data, ra.bytes) != 0) {
      int64_t diff = 0;
      double worst = 0;
      bool nan = false;
      if (ra.f && rb.f)
        for (int64_t i = 0; i < ra.n; ++i)
          if (std::memcmp(ra.f + i, rb.f + i, sizeof(float)) != 0) {
            const double d = std::fabs(double(ra.f[i]) - double(rb.f[i]));
            ++diff, worst = std::fmax(worst, d), nan = nan || std::isnan(d);
          }
      if (!ra.f || nan || worst > atol) {
        std::printf("differ: tensor '%s': %lld of %lld values differ (max |a-b| %.3g%s)\n", n.c_str(),
                    (long long)diff, (long long)ra.n, worst, atol > 0 ? (", over --atol " + std::to_string(atol)).c_str() : "");
        return 1;
      }
      if (worst > worst_all) worst_all = worst, worst_name = n;
    }
    values += ra.n;
  }
  for (auto& [n, rb] : mb)
    if (!ma.count(n)) yolite::fail(a_path, ": has no tensor '", n, "' (", b_path, " has)");
  if (ma.empty()) yolite::fail(a_path, ": no tensors", prefix.empty() ? "" : " with that prefix");
  if (worst_all > 0)
    std::printf("within %g: %zu tensors, %lld values, max |a-b| %.3g (tensor '%s')\n", atol, ma.size(),
                (long long)values, worst_all, worst_name.c_str());
  else
    std::printf("identical: %zu tensors, %lld values\n", ma.size(), (long long)values);
  return 0;
}

}  // namespace

YOLITE_COMMAND(compare, "compare the tensors of two yolite checkpoints (bit for bit, or --atol)", run_compare);
