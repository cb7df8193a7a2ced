// fuzz_npy: .npy arrays (io/npy.hpp): the preamble, numpy's header dict, sizes against the
// bytes present, and every widening conversion.
#include <yolite/io/npy.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yolite::io;
  YOLITE_FUZZ_EXPECT_ERRORS({
    NpyArray a = parse_npy(std::string(yolite_fuzz::as_text(data, size)), "fuzz.npy");
    YOLITE_FUZZ_EXPECT_ERRORS(a.f32());
    YOLITE_FUZZ_EXPECT_ERRORS(a.f64());
    YOLITE_FUZZ_EXPECT_ERRORS(a.i64());
  });
  std::string path = yolite_fuzz::write_scratch(data, size, ".npy");
  YOLITE_FUZZ_EXPECT_ERRORS(load_npy_f32(path));
  return 0;
}
