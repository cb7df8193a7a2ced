// fuzz_coco: COCO instances json (data/coco.hpp) -- streaming SAX reader, validation (strict and
// skip_invalid), the class mapping, the Dataset conversion and the writer's json text.
#include <yolite/data/coco.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yolite::data;
  std::string path = yolite_fuzz::write_scratch(data, size, ".json");
  for (bool skip : {false, true}) {
    YOLITE_FUZZ_EXPECT_ERRORS({
      CocoOptions opt;
      opt.skip_invalid = skip;
      CocoReport rep;
      Coco c = read_coco(path, opt, &rep);
      (void)rep.summary();
      Dataset ds = coco_to_dataset(c);
      (void)coco_json(c);
    });
  }
  return 0;
}
