// fuzz_inflate: raw DEFLATE streams (io/inflate.hpp). The first 2 bytes give the expected output
// size (0..65535), the rest is the compressed stream.
#include <string>

#include <yolite/io/inflate.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t out_len = size_t(data[0]) | (size_t(data[1]) << 8);
  std::string out(out_len, '\0');
  YOLITE_FUZZ_EXPECT_ERRORS(yolite::io::inflate(data + 2, size - 2, out.data(), out.size(), "fuzz.deflate"));
  return 0;
}
