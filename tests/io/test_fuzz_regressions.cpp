// Fuzzer findings, replayed: every file in tests/fuzz/regressions/ is an input that once made a
// parser crash, leak, hang or allocate without bound (found by tests/fuzz/run.sh). Its name
// says which parser it goes to: "<target>-<what>.<ext>", target as in tests/fuzz/fuzz_<target>.cpp.
// Each one must now give a clean yolite::Error that names the input -- no other exception, no
// sanitizer report (these run under YOLITE_SANITIZE too).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <yolite/data/coco.hpp>
#include <yolite/data/dataset_yaml.hpp>
#include <yolite/data/image_io.hpp>
#include <yolite/data/yaml.hpp>
#include <yolite/data/yolo_txt.hpp>
#include <yolite/io/checkpoint.hpp>
#include <yolite/io/inflate.hpp>
#include <yolite/io/npy.hpp>
#include <yolite/io/pickle.hpp>
#include <yolite/io/safetensors.hpp>
#include <yolite/io/torch_pt.hpp>
#include <yolite/io/zip.hpp>
#include <yolite/train/hyp.hpp>

#include "io_test_util.hpp"

namespace fs = std::filesystem;
using namespace yolite;

namespace {

// Feeds one regression file to the parser its name selects, the way the fuzz target does.
// Returns the yolite::Error message ("" if the input was accepted).
std::string replay(const std::string& target, const std::string& path) {
  return iotest::error_of([&] {
    if (target == "coco") {
      data::CocoOptions opt;
      data::Coco c = data::read_coco(path, opt);
      (void)data::coco_to_dataset(c);
    } else if (target == "yolo_txt") {
      (void)data::read_yolo_rows(path, -1);
    } else if (target == "yaml") {
      data::Yaml y = data::read_yaml(path);
      (void)data::parse_yaml(data::to_yaml(y), path);
      (void)data::dataset_yaml_from(y, path);
    } else if (target == "hyp") {
      (void)train::hyp_from_yaml(data::read_yaml(path), path);
    } else if (target == "pt") {
      (void)io::load_yolov5_pt(path);
    } else if (target == "pickle") {
      io::pickle::Pickle p = io::pickle::unpickle(io::read_file_bytes(path), path);
      if (p.root()) (void)io::detail::pickle_to_json(p.root()).dump();
    } else if (target == "zip") {
      io::ZipReader z(path);
      for (auto& e : z.entries()) (void)z.read(e.name);
      (void)io::load_npz(path);
    } else if (target == "inflate") {
      std::string b = io::read_file_bytes(path);
      REQUIRE(b.size() >= 2);
      std::string out(size_t(uint8_t(b[0])) | (size_t(uint8_t(b[1])) << 8), '\0');
      io::inflate(b.data() + 2, b.size() - 2, out.data(), out.size(), path);
    } else if (target == "npy") {
      (void)io::read_npy(path).f32();
    } else if (target == "safetensors") {
      io::Safetensors st = io::load_safetensors(path);
      for (auto& [n, a] : st.tensors) (void)st.f32(n);
    } else if (target == "checkpoint") {
      (void)io::load_checkpoint(path);
    } else if (target == "image") {
      (void)data::load_image(path);
    } else {
      FAIL("unknown regression target '", target, "' in ", path);
    }
  });
}

}  // namespace

TEST_CASE("fuzz regressions: every saved input gives a clean yolite::Error naming it") {
  fs::path dir = fs::path(YOLITE_SOURCE_DIR) / "tests/fuzz/regressions";
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "README.md") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(!files.empty());
  for (auto& f : files) {
    std::string name = f.filename().string();
    std::string target = name.substr(0, name.find('-'));
    CAPTURE(name);
    std::string e = replay(target, f.string());
    CHECK(!e.empty());
    CHECK(e.find(f.string()) != std::string::npos);
  }
}
