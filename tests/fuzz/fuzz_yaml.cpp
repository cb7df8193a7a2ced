// fuzz_yaml: the YAML subset (data/yaml.hpp) and what is built on it: dataset yamls
// (data/dataset_yaml.hpp), hyperparameter yamls (train/hyp.hpp), and the writer (to_yaml output
// must parse again).
#include <yolite/data/dataset_yaml.hpp>
#include <yolite/data/yaml.hpp>
#include <yolite/train/hyp.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yolite;
  std::string_view text = yolite_fuzz::as_text(data, size);
  YOLITE_FUZZ_EXPECT_ERRORS({
    data::Yaml y = data::parse_yaml(text, "fuzz.yaml");
    std::string back = data::to_yaml(y);
    (void)data::parse_yaml(back, "fuzz.yaml (written back)");
    YOLITE_FUZZ_EXPECT_ERRORS(data::dataset_yaml_from(y, "/nonexistent/fuzz.yaml"));
    YOLITE_FUZZ_EXPECT_ERRORS(train::hyp_from_yaml(y, "fuzz.yaml"));
  });
  return 0;
}
