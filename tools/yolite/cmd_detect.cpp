// yolite detect -- run a detector on images; flags as YOLOv5's detect.py.
//
//   yolite detect --source images/test --weights runs/train/exp/weights/best.pt --conf 0.25
//       [--img 640] [--iou-thres 0.45] [--max-det 1000] [--classes 0 2] [--agnostic-nms] [--augment]
//       [--save-txt] [--save-conf] [--save-crop] [--line-thickness 3] [--hide-labels]
//       [--hide-conf] [--project runs/detect] [--name exp] [--exist-ok] [--grid 4x4]
//
// --source: an image file, a folder, a glob ("imgs/*.jpg") or a .txt list of paths; or a video
// file (mp4, avi, mkv, mov, ...), a camera ("0", "/dev/video0") or a stream (rtsp://, http://)
// when the program was built with FFmpeg's libraries (io/video.hpp): then every --vid-stride-th
// frame is detected, the annotated video is written as NAME.mp4 at the source's frame rate and
// --save-txt writes labels/NAME_FRAME.txt (frames counted from 1, as detect.py). Ctrl-C stops a
// camera or stream cleanly (the video so far is kept).
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

#ifdef YOLITE_HAVE_VIDEO
#include <csignal>
#include <atomic>
#include <chrono>
#include <memory>
#include <yolite/io/video.hpp>
#endif

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

// What --save-txt writes for one image: "cls cx cy w h [score]" per detection, normalised.
std::string label_text(const std::vector<yolite::Detection>& dets, int w, int h, bool save_conf) {
  std::string txt;
  for (auto& d : dets) {
    char line[160];
    float cx = (d.x1 + d.x2) / 2 / w, cy = (d.y1 + d.y2) / 2 / h;
    float bw = (d.x2 - d.x1) / w, bh = (d.y2 - d.y1) / h;
    if (save_conf)
      std::snprintf(line, sizeof line, "%d %.6g %.6g %.6g %.6g %.6g\n", d.cls, cx, cy, bw, bh, d.score);
    else
      std::snprintf(line, sizeof line, "%d %.6g %.6g %.6g %.6g\n", d.cls, cx, cy, bw, bh);
    txt += line;
  }
  return txt;
}

// "2 bottles, 1 can, " -- detect.py's per-image summary
std::string summarize(const yolite::Detector& det, const std::vector<yolite::Detection>& dets) {
  std::map<int, int> counts;
  for (auto& d : dets) counts[d.cls]++;
  std::string summary;
  for (auto& [c, n] : counts) summary += yolite::str(n, " ", plural(det.name(c), n), ", ");
  return summary.empty() ? "(no detections), " : summary;
}

struct DrawStyle {
  bool hide_labels = false, hide_conf = false;
  int line_thickness = 3;
};
void draw(yolite::Image& out, const yolite::Detector& det, const std::vector<yolite::Detection>& dets, const DrawStyle& st) {
  for (auto& d : dets) {
    std::string label;
    if (!st.hide_labels) label = st.hide_conf ? det.name(d.cls) : yolite::str(det.name(d.cls), " ", int(d.score * 100 + 0.5) / 100.0);
    yolite::viz::draw_box_label(out, d.x1, d.y1, d.x2, d.y2, label, yolite::viz::class_color(d.cls), st.line_thickness);
  }
}

#ifdef YOLITE_HAVE_VIDEO
std::atomic<bool> g_stop{false};  // set by SIGINT during a video run
extern "C" void on_sigint_video(int) { g_stop.store(true); }

// A file's stem; "webcam0" for a camera; the last part of a stream's address.
std::string video_name(const std::string& source) {
  if (source.find("://") == std::string::npos) {
    if (source.rfind("/dev/video", 0) == 0) return "webcam" + source.substr(10);
    if (source.size() <= 3 && source.find_first_not_of("0123456789") == std::string::npos) return "webcam" + source;
    return fs::path(source).stem().string();
  }
  std::string tail = source.substr(source.find("://") + 3), r;
  if (auto q = tail.find_first_of("?#"); q != std::string::npos) tail.resize(q);
  while (!tail.empty() && tail.back() == '/') tail.pop_back();
  if (auto slash = tail.find_last_of('/'); slash != std::string::npos) tail = tail.substr(slash + 1);
  for (char c : fs::path(tail).stem().string()) r += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '_';
  return r.empty() ? "stream" : r;
}

int run_video(const std::string& source, yolite::Detector& det, const fs::path& save_dir, int vid_stride, bool save_txt,
              bool save_conf, bool nosave, const DrawStyle& st) {
  using clock = std::chrono::steady_clock;
  // FFmpeg's own log lines (codec banners, "moov atom not found") stay quiet: the program
  // reports every failure itself, in one line naming the source
  av_log_set_level(AV_LOG_FATAL);
  yolite::VideoSource src(source);
  const yolite::VideoInfo& vi = src.info();
  const std::string name = video_name(source);
  std::unique_ptr<yolite::VideoWriter> writer;
  const fs::path out_path = save_dir / (name + ".mp4");
  if (!nosave) writer = std::make_unique<yolite::VideoWriter>(out_path.string(), vi.width, vi.height, vi.fps_num, vi.fps_den);
  std::printf("video %s: %dx%d, %.3g frames/s, %s%s\n", source.c_str(), vi.width, vi.height, vi.fps, vi.codec.c_str(),
              vi.frames > 0 ? yolite::str(", ", vi.frames, " frames").c_str() : "");
  g_stop.store(false);
  auto old_handler = std::signal(SIGINT, on_sigint_video);
  struct Restore {
    void (*h)(int);
    ~Restore() { std::signal(SIGINT, h); }
  } restore{old_handler};
  std::vector<std::pair<fs::path, std::string>> labels;  // written when the run has succeeded
  yolite::Image frame;
  const auto t0 = clock::now();
  int64_t done = 0;
  double ms = 0;
  while (!g_stop.load() && src.read(frame)) {
    const int64_t k = src.frame_index();  // 1-based
    if ((k - 1) % vid_stride) continue;
    yolite::DetectTiming tm;
    auto dets = det.detect(frame, &tm);
    ms += tm.pre + tm.inference + tm.nms;
    ++done;
    const double secs = std::chrono::duration<double>(clock::now() - t0).count();
    std::printf("video (frame %lld%s, %.1f frames/s) %s: %dx%d %s%.1fms\n", static_cast<long long>(k),
                vi.frames > 0 ? yolite::str("/", vi.frames).c_str() : "", secs > 0 ? double(done) / secs : 0.0,
                source.c_str(), frame.w, frame.h, summarize(det, dets).c_str(), tm.inference);
    if (save_txt) labels.emplace_back(save_dir / "labels" / yolite::str(name, "_", k, ".txt"), label_text(dets, frame.w, frame.h, save_conf));
    if (writer) {
      draw(frame, det, dets, st);
      writer->write(frame);
    }
  }
  if (g_stop.load()) std::printf("stopped (Ctrl-C) after %lld frames\n", static_cast<long long>(src.frame_index()));
  else if (!src.end_reason().empty()) std::printf("the stream ended after %lld frames: %s\n", static_cast<long long>(src.frame_index()), src.end_reason().c_str());
  YOLITE_CHECK(done > 0, "--source ", source, ": no frame could be decoded");
  if (writer) writer->finish();
  for (auto& [p, txt] : labels) yolite::data::write_file_atomic(p, txt);
  const double secs = std::chrono::duration<double>(clock::now() - t0).count();
  std::printf("%lld frames detected in %.1f s (%.1f frames/s; %.1fms per frame: pre-process, inference and NMS)\n",
              static_cast<long long>(done), secs, secs > 0 ? double(done) / secs : 0.0, ms / double(done));
  if (writer) std::printf("Video saved to %s (%lld frames, %.3g frames/s, %s)\n", out_path.string().c_str(),
                          static_cast<long long>(writer->frames()), vi.fps, writer->codec().c_str());
  std::printf("Results saved to %s\n", save_dir.string().c_str());
  return 0;
}
#endif

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
  app.add_flag("--augment", o.augment, "test-time augmentation: 3 passes (scales 1, 0.83, 0.67, one mirrored)");
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
  int vid_stride = 1;
  app.add_option("--vid-stride", vid_stride, "video: detect every Nth frame")->check(CLI::PositiveNumber);
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
  DrawStyle style{hide_labels, hide_conf, line_thickness};
  if (yolite::data::is_video_source(source)) {
#ifdef YOLITE_HAVE_VIDEO
    YOLITE_CHECK(grid.empty() && !save_crop, "--source ", source, ": --grid and --save-crop are for images, not videos");
    yolite::Detector vdet(weights, o);
    fs::path vdir = yolite::train::make_run_dir(project, name, exist_ok);
    if (save_txt) fs::create_directories(vdir / "labels");
    return run_video(source, vdet, vdir, vid_stride, save_txt, save_conf, nosave, style);
#else
    yolite::fail("--source ", source, ": a video, but this yolite was built without FFmpeg's libraries (install ",
                 "libavformat-dev libavcodec-dev libswscale-dev libavdevice-dev and rebuild)");
#endif
  }
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
    std::printf("image %zu/%zu %s: %dx%d %s%.1fms\n", k + 1, images.size(), path.string().c_str(),
                img.w, img.h, summarize(det, dets).c_str(), tm.inference);
    yolite::Image out = img;
    const std::string txt = save_txt ? label_text(dets, img.w, img.h, save_conf) : std::string();
    for (auto& d : dets) {
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
    }
    draw(out, det, dets, style);
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

YOLITE_COMMAND(detect, "detect objects in images and videos (YOLOv5 detect.py flags)", run_detect);
