// fuzz_image: image decoding through yolite's wrapper (data/image_io.hpp): the header check
// (size limits) and stb's JPEG / PNG / BMP decoders, from memory and from a file, then a resize.
#include <yolite/data/image_io.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yolite::data;
  // A small pixel budget keeps each run fast; the default limit is tested in tests/data.
  constexpr int64_t kFuzzMaxPixels = int64_t(1) << 22;
  YOLITE_FUZZ_EXPECT_ERRORS({
    yolite::Image img = decode_image(yolite_fuzz::as_text(data, size), "fuzz.img", 3, kFuzzMaxPixels);
    (void)resize(img, 17, 9);
  });
  std::string path = yolite_fuzz::write_scratch(data, size, ".jpg");
  YOLITE_FUZZ_EXPECT_ERRORS(image_size(path));
  return 0;
}
