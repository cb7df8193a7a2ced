// yolite coco2yolo -- convert a COCO instances json into YOLO label files.
//
//   yolite coco2yolo --coco instances.json --images DIR --out labels [--skip-invalid] [--exist-ok]
//
// Writes OUT/<image stem>.txt for every image (empty when it has no boxes) and OUT/classes.txt
// (see include/yolite/data/convert.hpp for the class mapping). The json is validated first
// (include/yolite/data/coco.hpp): with --images every image file must exist there; any
// defect stops the command with the first offenders listed and nothing written, unless
// --skip-invalid, which drops them and says how many. Boxes past the image edge are clipped
// and counted.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include <yolite/data/coco.hpp>
#include <yolite/data/convert.hpp>

#include "command.hpp"

namespace {

int run_coco2yolo(int argc, char** argv) {
  CLI::App app{"convert a COCO instances json to YOLO label files + classes.txt", "yolite coco2yolo"};
  std::string coco_path, images, out;
  bool skip_invalid = false, exist_ok = false;
  app.add_option("--coco", coco_path, "COCO instances json")->required();
  app.add_option("--images", images, "folder of the images (file_name is relative to it); checks they exist");
  app.add_option("--out", out, "output folder for the label files")->required();
  app.add_flag("--skip-invalid", skip_invalid, "drop defective entries (and report how many) instead of failing");
  app.add_flag("--exist-ok", exist_ok, "write into a non-empty output folder");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  namespace data = yolite::data;
  data::CocoOptions opt;
  opt.images_dir = images;
  opt.skip_invalid = skip_invalid;
  data::CocoReport rep;
  data::Coco coco = data::read_coco(coco_path, opt, &rep);
  std::printf("%s", rep.summary().c_str());
  auto sum = data::coco_to_yolo(coco, out, exist_ok);
  std::printf("wrote %s\n", sum.text().c_str());
  return 0;
}

}  // namespace

YOLITE_COMMAND(coco2yolo, "convert a COCO json to YOLO labels (+ classes.txt)", run_coco2yolo);
