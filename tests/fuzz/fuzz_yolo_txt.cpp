// fuzz_yolo_txt: YOLO label files and classes.txt (data/yolo_txt.hpp): any nc, then the text
// written back from the parsed rows must parse again to the same number of rows.
#include <yolite/data/yolo_txt.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace yolite::data;
  std::string_view text = yolite_fuzz::as_text(data, size);
  for (int nc : {-1, 1, 80}) {
    YOLITE_FUZZ_EXPECT_ERRORS({
      auto rows = parse_yolo_rows(text, "fuzz.txt", nc);
      bool conf = !rows.empty() && rows[0].conf >= 0;
      bool all_conf = true;
      for (auto& r : rows) all_conf = all_conf && r.conf >= 0;
      std::string back = format_yolo_rows(rows, conf && all_conf);
      auto again = parse_yolo_rows(back, "fuzz.txt (written back)", nc);
      if (again.size() != rows.size()) std::abort();
    });
  }
  std::string path = yolite_fuzz::write_scratch(data, size, ".txt");
  YOLITE_FUZZ_EXPECT_ERRORS(read_class_names(path));
  YOLITE_FUZZ_EXPECT_ERRORS(read_yolo_labels(path, 5));
  return 0;
}
