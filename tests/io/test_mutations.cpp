// Robustness of the io readers: thousands of randomly damaged inputs (flipped bytes, cut
// files) must each either load or throw yolite::Error -- never crash, hang, or throw anything
// else (std::bad_alloc, std::out_of_range, ...). Seeded, so every run checks the same inputs.
#include <doctest/doctest.h>

#include <yolite/core/rng.hpp>
#include <yolite/io/checkpoint.hpp>
#include <yolite/io/npy.hpp>
#include <yolite/io/pickle.hpp>
#include <yolite/io/safetensors.hpp>
#include <yolite/io/torch_pt.hpp>
#include <yolite/io/zip.hpp>

#include "io_test_util.hpp"

using namespace yolite;

namespace {
// 0 = loaded, 1 = yolite::Error; anything else is recorded as a failure.
template <class F>
int outcome(F&& f, const std::string& label) {
  try {
    f();
    return 0;
  } catch (const Error&) {
    return 1;
  } catch (const std::exception& e) {
    FAIL_CHECK("non-yolite exception for ", label, ": ", e.what());
  } catch (...) {
    FAIL_CHECK("unknown exception for ", label);
  }
  return 2;
}

std::string mutate(const std::string& in, Rng& rng, size_t lo = 0) {
  std::string s = in;
  int n = 1 + int(rng.below(4));
  for (int k = 0; k < n; ++k) {
    size_t at = lo + size_t(rng.below(uint32_t(s.size() - lo)));
    switch (rng.below(3)) {
      case 0: s[at] = char(rng.below(256)); break;
      case 1: s[at] ^= char(1u << rng.below(8)); break;
      default: s[at] = char(s[at] == 0 ? 0xff : 0); break;
    }
  }
  if (rng.below(4) == 0) s.resize(lo + size_t(rng.below(uint32_t(s.size() - lo))));
  return s;
}
}  // namespace

TEST_SUITE("io") {
  TEST_CASE("mutations: YOLOv5 data.pkl through the unpickler and the module walker") {
    std::string pt = iotest::shared("fixtures/yolov5n_nc5_seed0.pt");
    io::ZipReader z(pt);
    std::string pkl = z.read("yolov5n_nc5_seed0/data.pkl");
    Rng rng(12345);
    int errors = 0;
    for (int it = 0; it < 250; ++it) {
      std::string m = mutate(pkl, rng);
      errors += outcome([&] { io::pickle::unpickle(m, "mutated"); }, str("pickle mutation ", it)) == 1;
    }
    CHECK(errors > 40);  // most damage is noticed...
    CHECK(errors < 250);  // ...but not all of it is fatal (e.g. a changed float)
    // the whole loader (module walk, storages) with a damaged pickle and intact storages
    for (int it = 0; it < 25; ++it) {
      std::string m = mutate(pkl, rng, 100);
      outcome([&] { io::load_yolov5_pickle(pt, z, "yolov5n_nc5_seed0/", m); }, str("pt mutation ", it));
    }
  }

  TEST_CASE("mutations: zip, npz, safetensors and checkpoint files") {
    iotest::TempDir tmp("mut_files");
    Rng rng(777);
    io::Npz npz;
    npz.set("a/b", Tensor<float>({3, 4}, 1.5f));
    npz.set("i", Tensor<int64_t>({2}, int64_t(3)));
    io::save_npz(tmp / "ok.npz", npz);
    io::Checkpoint ck;
    ck.add("w", Tensor<float>({4, 4}, 0.25f));
    ck.add_int("n", 9);
    ck.meta = {{"epoch", 3}, {"names", {"a", "b"}}};
    io::save_checkpoint(tmp / "ok.safetensors", ck);
    std::string npz_bytes = iotest::slurp(tmp / "ok.npz");
    std::string ck_bytes = iotest::slurp(tmp / "ok.safetensors");
    int npz_err = 0, ck_err = 0;
    for (int it = 0; it < 100; ++it) {
      iotest::spit(tmp / "m.npz", mutate(npz_bytes, rng));
      npz_err += outcome(
          [&] {
            io::Npz r = io::load_npz(tmp / "m.npz");
            for (auto& k : r.keys()) {
              auto& a = r.get(k);
              if (dtype_is_float(a.dtype)) r.f64(k);
              else r.i64(k);
            }
          },
          str("npz mutation ", it));
      iotest::spit(tmp / "m.safetensors", mutate(ck_bytes, rng));
      ck_err += outcome([&] { io::load_checkpoint(tmp / "m.safetensors"); }, str("checkpoint mutation ", it));
    }
    // zip CRCs and the checkpoint checksum catch nearly every change to the data
    CHECK(npz_err > 80);
    CHECK(ck_err > 90);
  }
}
