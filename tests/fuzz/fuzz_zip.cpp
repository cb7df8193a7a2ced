// fuzz_zip: zip archives (io/zip.hpp: central directory, zip64, local headers, CRC) and DEFLATE
// members (io/inflate.hpp), then every member as a .npy array (io/npy.hpp load_npz).
#include <yolite/io/npy.hpp>
#include <yolite/io/zip.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yolite::io;
  std::string path = yolite_fuzz::write_scratch(data, size, ".zip");
  YOLITE_FUZZ_EXPECT_ERRORS({
    ZipReader z(path);
    for (const auto& e : z.entries()) YOLITE_FUZZ_EXPECT_ERRORS(z.read(e.name));
  });
  YOLITE_FUZZ_EXPECT_ERRORS(load_npz(path));
  return 0;
}
