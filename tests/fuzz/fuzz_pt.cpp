// fuzz_pt: PyTorch / YOLOv5 .pt checkpoints (io/torch_pt.hpp): zip container, restricted
// unpickler, storages, the module-tree walk and the pickle->JSON conversion, from a file.
#include <yolite/io/torch_pt.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = yolite_fuzz::write_scratch(data, size, ".pt");
  YOLITE_FUZZ_EXPECT_ERRORS(yolite::io::load_yolov5_pt(path));
  return 0;
}
