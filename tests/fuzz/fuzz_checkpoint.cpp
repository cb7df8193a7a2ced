// fuzz_checkpoint: yolite's own checkpoints (io/checkpoint.hpp: safetensors + checksum + meta
// JSON), then the training-state accessors a resume uses.
#include <yolite/io/checkpoint.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yolite::io;
  std::string path = yolite_fuzz::write_scratch(data, size, ".pt");
  YOLITE_FUZZ_EXPECT_ERRORS({
    Checkpoint ck = load_checkpoint(path);
    for (auto& [name, t] : ck.int_tensors) YOLITE_FUZZ_EXPECT_ERRORS(ck.get_int(name));
    (void)ck.meta.dump();
  });
  return 0;
}
