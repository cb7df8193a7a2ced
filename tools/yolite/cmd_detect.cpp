// yolite detect -- run a detector on images; flags as YOLOv5's detect.py.
//
//   yolite detect --source images/test --weights runs/train/exp/weights/best.pt --conf 0.25
//       [--img 640] [--iou-thres 0.45] [--max-det 1000] [--classes 0 2] [--agnostic-nms]
//       [--save-txt] [--save-conf] [--save-crop] [--line-thickness 3] [--hide-labels]
//       [--hide-conf] [--project runs/detect] [--name exp] [--exist-ok] [--grid 4x4]
//
// --source: an image file, a folder, a glob ("imgs/*.jpg") or a .txt list of paths.
// Writes the annotated images to runs/detect/NAME (NAME2, ... unless --exist-ok), labels/*.txt
// with --save-txt (YOLO format, + confidence with --save-conf), crops/<class>/ with
// --save-crop, and with --grid RxC one collage of random results (grid.jpg).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <yolite/core/rng.hpp>
#include <yolite/data/dataset_yaml.hpp>
#include <yolite/data/fs.hpp>
#include <yolite/data/image_io.hpp>
#include <yolite/infer/detector.hpp>
#include <yolite/train/run_dir.hpp>
#include <yolite/viz/colors.hpp>
#include <yolite/viz/draw.hpp>
#include <yolite/viz/grid.hpp>

#include "command.hpp"

namespace {

namespace fs = std::filesystem;

// file, folder, glob (* and ? in the file name part) or a .txt list -> image paths
std::vector<fs::path> resolve_source(const std::string& src) {
  std::vector<fs::path> out;
  fs::path p(src);
  if (src.find_first_of("*?") != std::string::npos) {
    fs::path dir = p.parent_path().empty() ? "." : p.parent_path();
    std::string pat = p.filename().string();
    auto match = [&](const std::string& s) {
      // simple glob: * any run, ? one character
      std::vector<std::vector<char>> dp(pat.size() + 1, std::vector<char>(s.size() + 1, 0));
      dp[0][0] = 1;
      for (size_t i = 1; i <= pat.size(); ++i) {
        if (pat[i - 1] == '*') dp[i][0] = dp[i - 1][0];
        for (size_t j = 1; j <= s.size(); ++j) {
          if (pat[i - 1] == '*') dp[i][j] = dp[i - 1][j] || dp[i][j - 1];
          else if (pat[i - 1] == '?' || pat[i - 1] == s[j - 1]) dp[i][j] = dp[i - 1][j - 1];
        }
      }
      return dp[pat.size()][s.size()] != 0;
    };
    YOLITE_CHECK(fs::is_directory(dir), "--source ", src, ": folder ", dir.string(), " not found");
    for (auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && match(e.path().filename().string()) && yolite::data::is_image_file(e.path()))
        out.push_back(e.path());
    std::sort(out.begin(), out.end());
  } else if (fs::is_directory(p)) {
    out = yolite::data::list_images(p);
  } else if (p.extension() == ".txt") {
    std::ifstream in(p);
    YOLITE_CHECK(in.good(), "--source ", src, ": cannot read the list");
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty()) out.push_back(fs::path(line).is_absolute() ? fs::path(line) : p.parent_path() / line);
    }
  } else {
    YOLITE_CHECK(fs::exists(p), "--source ", src, ": no such file or folder");
    out.push_back(p);
  }
  YOLITE_CHECK(!out.empty(), "--source ", src, ": no images found (JPEG, PNG or BMP)");
  return out;
}

std::string plural(const std::string& name, int n) { return n == 1 ? name : name + "s"; }

int run_detect(int argc, char** argv) {
  std::string source, weights = "yolov5s.pt", project = "runs/detect", name = "exp", grid;
  yolite::DetectorOptions o;
  std::vector<int> classes;
  bool save_txt = false, save_conf = false, save_crop = false, hide_labels = false,
       hide_conf = false, exist_ok = false, nosave = false;
  int line_thickness = 3;
  uint64_t seed = 0;
  CLI::App app{"Detect objects in images (flags as YOLOv5's detect.py)", "yolite detect"};
  app.add_option("--source", source, "file, folder, glob or .txt list of images")->required();
  app.add_option("--weights", weights, "yolite checkpoint or YOLOv5 .pt");
  app.add_option("--imgsz,--img,--img-size", o.imgsz, "inference size (pixels)");
  app.add_option("--conf-thres,--conf", o.conf_thres, "confidence threshold")->check(CLI::Range(0.0, 1.0));
  app.add_option("--iou-thres,--iou", o.iou_thres, "NMS IoU threshold")->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-det", o.max_det, "maximum detections per image")->check(CLI::PositiveNumber);
  app.add_option("--classes", classes, "keep only these class ids");
  app.add_flag("--agnostic-nms", o.agnostic_nms, "class-agnostic NMS");
  app.add_flag("--save-txt", save_txt, "save results to labels/*.txt");
  app.add_flag("--save-conf", save_conf, "add confidences to --save-txt labels");
  app.add_flag("--save-crop", save_crop, "save cropped boxes to crops/<class>/");
  app.add_flag("--nosave", nosave, "do not save annotated images");
  app.add_option("--line-thickness", line_thickness, "box line thickness (pixels)")->check(CLI::PositiveNumber);
  app.add_flag("--hide-labels", hide_labels, "hide labels");
  app.add_flag("--hide-conf", hide_conf, "hide confidences");
  app.add_option("--project", project, "save to project/name");
  app.add_option("--name", name, "save to project/name");
  app.add_flag("--exist-ok", exist_ok, "reuse project/name instead of incrementing");
  app.add_option("--grid", grid, "also write grid.jpg: a RxC collage of random results, e.g. 4x4");
  app.add_option("--seed", seed, "seed of the --grid choice");
  std::string device = "cpu";
  app.add_option("--device", device, "cpu");
  app.add_flag("--bf16", o.bf16, "convolutions in bf16 (CPUs with AVX512_BF16)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  YOLITE_CHECK(device == "cpu", "--device ", device, ": this build has no CUDA support; use --device cpu");
  int grid_r = 0, grid_c = 0;
  if (!grid.empty())
    YOLITE_CHECK(std::sscanf(grid.c_str(), "%dx%d", &grid_r, &grid_c) == 2 && grid_r > 0 && grid_c > 0,
                 "--grid ", grid, ": expected ROWSxCOLS, e.g. 4x4");
  o.classes = classes;
  auto images = resolve_source(source);
  yolite::Detector det(weights, o);
  fs::path save_dir = yolite::train::make_run_dir(project, name, exist_ok);
  if (save_txt) fs::create_directories(save_dir / "labels");

  std::vector<yolite::Image> annotated;
  std::vector<std::string> titles;
  double total_ms = 0;
  int n_ok = 0;
  for (size_t k = 0; k < images.size(); ++k) {
    const fs::path& path = images[k];
    yolite::Image img;
    try {
      img = yolite::data::load_image(path);
    } catch (const yolite::Error& e) {
      std::fprintf(stderr, "WARNING: skipping %s\n", e.what());
      continue;
    }
    yolite::DetectTiming tm;
    auto dets = det.detect(img, &tm);
    total_ms += tm.pre + tm.inference + tm.nms;
    ++n_ok;
    std::map<int, int> counts;
    for (auto& d : dets) counts[d.cls]++;
    std::string summary;
    for (auto& [c, n] : counts) summary += yolite::str(n, " ", plural(det.name(c), n), ", ");
    if (summary.empty()) summary = "(no detections), ";
    std::printf("image %zu/%zu %s: %dx%d %s%.1fms\n", k + 1, images.size(), path.string().c_str(),
                img.w, img.h, summary.c_str(), tm.inference);
    yolite::Image out = img;
    std::string txt;
    for (auto& d : dets) {
      if (save_txt) {
        char line[160];
        float cx = (d.x1 + d.x2) / 2 / img.w, cy = (d.y1 + d.y2) / 2 / img.h;
        float w = (d.x2 - d.x1) / img.w, h = (d.y2 - d.y1) / img.h;
        if (save_conf)
          std::snprintf(line, sizeof line, "%d %.6g %.6g %.6g %.6g %.6g\n", d.cls, cx, cy, w, h, d.score);
        else
          std::snprintf(line, sizeof line, "%d %.6g %.6g %.6g %.6g\n", d.cls, cx, cy, w, h);
        txt += line;
      }
      if (save_crop) {
        int x0 = std::clamp(int(d.x1), 0, img.w - 1), y0 = std::clamp(int(d.y1), 0, img.h - 1);
        int x1 = std::clamp(int(std::ceil(d.x2)), x0 + 1, img.w), y1 = std::clamp(int(std::ceil(d.y2)), y0 + 1, img.h);
        yolite::Image crop(x1 - x0, y1 - y0, img.c);
        for (int y = y0; y < y1; ++y)
          std::copy_n(img.at(x0, y), size_t(x1 - x0) * size_t(img.c), crop.at(0, y - y0));
        fs::path cdir = save_dir / "crops" / det.name(d.cls);
        fs::create_directories(cdir);
        fs::path cp = cdir / (path.stem().string() + ".jpg");
        for (int n = 2; fs::exists(cp); ++n) cp = cdir / yolite::str(path.stem().string(), n, ".jpg");
        yolite::data::save_image(cp, crop);
      }
      std::string label;
      if (!hide_labels) label = hide_conf ? det.name(d.cls) : yolite::str(det.name(d.cls), " ", int(d.score * 100 + 0.5) / 100.0);
      yolite::viz::draw_box_label(out, d.x1, d.y1, d.x2, d.y2, label, yolite::viz::class_color(d.cls),
                                  line_thickness);
    }
    if (save_txt) yolite::data::write_file_atomic(save_dir / "labels" / (path.stem().string() + ".txt"), txt);
    if (!nosave) yolite::data::save_image(save_dir / path.filename().replace_extension(path.extension() == ".png" ? ".png" : ".jpg"), out);
    if (grid_r > 0) {
      annotated.push_back(std::move(out));
      titles.push_back(path.filename().string());
    }
  }
  YOLITE_CHECK(n_ok > 0, "--source ", source, ": no image could be read");
  if (grid_r > 0) {
    // a random choice of results, like the tutorial's matplotlib grid
    std::vector<size_t> idx(annotated.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    yolite::Rng rng(seed);
    rng.shuffle(idx.begin(), idx.end());
    idx.resize(std::min(idx.size(), size_t(grid_r * grid_c)));
    std::vector<yolite::Image> tiles;
    std::vector<std::string> t;
    for (size_t i : idx) tiles.push_back(annotated[i]), t.push_back(titles[i]);
    yolite::viz::GridOptions go;
    go.cols = grid_c;
    go.cell_w = go.cell_h = 320;
    yolite::data::save_image(save_dir / "grid.jpg", yolite::viz::make_grid(tiles, go, t));
  }
  std::printf("Speed: %.1fms per image (pre-process, inference and NMS) at %d pixels\n",
              total_ms / std::max(n_ok, 1), det.input_size());
  std::printf("Results saved to %s\n", save_dir.string().c_str());
  if (grid_r > 0) std::printf("Collage: %s\n", (save_dir / "grid.jpg").string().c_str());
  return 0;
}

}  // namespace

YOLITE_COMMAND(detect, "detect objects in images (YOLOv5 detect.py flags)", run_detect);
