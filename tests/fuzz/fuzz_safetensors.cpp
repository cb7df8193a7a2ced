// fuzz_safetensors: safetensors files (io/safetensors.hpp): the 8-byte header length, the JSON
// header, dtypes, shapes and data offsets, then every tensor converted to float32.
#include <yolite/io/safetensors.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yolite::io;
  std::string path = yolite_fuzz::write_scratch(data, size, ".safetensors");
  YOLITE_FUZZ_EXPECT_ERRORS({
    Safetensors st = load_safetensors(path);
    for (auto& [name, a] : st.tensors) YOLITE_FUZZ_EXPECT_ERRORS(st.f32(name));
  });
  return 0;
}
