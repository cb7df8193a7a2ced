// yolite val -- score a detector on a labelled split; flags as YOLOv5's val.py.
//
//   yolite val --data dataset.yaml --weights runs/train/exp/weights/best.pt --img 320 --task test
//       [--batch-size 32] [--conf-thres 0.001] [--iou-thres 0.6] [--max-det 300] [--single-cls] [--augment]
//       [--save-json] [--save-txt] [--save-conf] [--project runs/val] [--name exp] [--exist-ok]
//
// Prints YOLOv5's table (Class, Images, Instances, P, R, mAP50, mAP50-95) for all classes and
// each class -- AP by YOLOv5's rule -- then the same detections scored by the COCO-exact rule
// (pycocotools' 101-point interpolation), and the speed per image. Writes the confusion matrix,
// PR and F1 curves and val_batch0 pictures to runs/val/NAME; --save-json writes
// <weights stem>_predictions.json in COCO's results format with the image and category ids
// that `yolite yolo2coco --data D --task T` gives (image ids from 1 in split order,
// category id = class + 1), so pycocotools can score it against that export.
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include <yolite/data/dataset_yaml.hpp>
#include <yolite/data/fs.hpp>
#include <yolite/train/plots.hpp>
#include <yolite/train/run_dir.hpp>
#include <yolite/train/report.hpp>
#include <yolite/train/validate.hpp>
#include <yolite/model/weights.hpp>

#include "command.hpp"
#include "ranks.hpp"

namespace {

namespace fs = std::filesystem;

int run_val(int argc, char** argv) {
  std::string data, weights = "yolov5s.pt", task = "val", project = "runs/val", name = "exp";
  yolite::train::ValOptions o;
  bool save_json = false, save_txt = false, save_conf = false, exist_ok = false, noplots = false;
  CLI::App app{"Validate a detector on a labelled split (flags as YOLOv5's val.py)", "yolite val"};
  app.add_option("--data", data, "dataset yaml")->required();
  app.add_option("--weights", weights, "yolite checkpoint or YOLOv5 .pt");
  app.add_option("--batch-size,--batch", o.batch, "batch size")->check(CLI::PositiveNumber);
  app.add_option("--imgsz,--img,--img-size", o.imgsz, "inference size (pixels)")->check(CLI::PositiveNumber);
  app.add_option("--conf-thres,--conf", o.conf_thres, "confidence threshold")->check(CLI::Range(0.0, 1.0));
  app.add_option("--iou-thres,--iou", o.iou_thres, "NMS IoU threshold")->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-det", o.max_det, "maximum detections per image")->check(CLI::PositiveNumber);
  app.add_option("--task", task, "train, val or test")->check(CLI::IsMember({"train", "val", "test"}));
  app.add_option("--workers", o.workers, "data loader threads");
  bool bf16 = false;
  app.add_flag("--bf16", bf16, "convolutions in bf16 (CPUs with AVX512_BF16)");
  app.add_flag("--single-cls", o.single_cls, "treat as single-class data");
  app.add_flag("--augment", o.augment, "test-time augmentation: 3 passes (scales 1, 0.83, 0.67, one mirrored)");
  app.add_flag("--save-json", save_json, "save a COCO-format results json");
  app.add_flag("--save-txt", save_txt, "save results to labels/*.txt");
  app.add_flag("--save-conf", save_conf, "add confidences to --save-txt labels");
  app.add_option("--project", project, "save to project/name");
  app.add_option("--name", name, "save to project/name");
  app.add_flag("--exist-ok", exist_ok, "reuse project/name instead of incrementing");
  app.add_flag("--noplots", noplots, "save no plots");
  std::string device = "cpu";
  app.add_option("--device", device, "cpu");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  YOLITE_CHECK(device == "cpu", "--device ", device, ": this build has no CUDA support; use --device cpu");
  auto w = yolite::model::read_weights(weights);
  auto model = yolite::model::build_model(w);
  auto dy = yolite::data::read_dataset_yaml(data);
  YOLITE_CHECK(!dy.split(task).empty(), data, ": has no '", task, "' split");
  auto ds = yolite::data::load_yolo_split(dy, task);
  YOLITE_CHECK(!ds.samples.empty(), data, ": the ", task, " split has no images");
  if (!dy.names.empty() && !o.single_cls)
    YOLITE_CHECK(int(dy.names.size()) == model->nc(), weights, " has ", model->nc(), " classes but ",
                 data, " names ", dy.names.size());
  o.imgsz = yolite::data::round_up_to_stride(o.imgsz, std::max(32, int(model->max_stride())));
  o.keep_detections = true;
  o.comm = yolite::cli::ranks();  // mpirun -np N: each rank validates a share of the batches
  const bool writer = yolite::cli::is_writer();
  fs::path save_dir = writer ? yolite::train::make_run_dir(project, name, exist_ok) : fs::path();
  auto names = o.single_cls ? std::vector<std::string>{"item"} : model->names;

  yolite::ops::PrecisionGuard prec(bf16 ? yolite::ops::Precision::bf16 : yolite::ops::Precision::fp32, "--bf16");
  auto r = yolite::train::validate(*model, ds, o);
  if (!writer) return 0;  // rank 0 prints and writes
  std::printf("%s", yolite::train::format_val_table(r, names).c_str());
  std::printf("COCO-exact (pycocotools rule, 101-point AP, max 100 dets/image): mAP50 %.3f, mAP50-95 %.3f\n",
              r.coco.map50, r.coco.map);
  std::printf("Table AP rule: YOLOv5's (envelope sampled at 101 points, trapezoids, ramp to recall 1)\n");
  std::printf("Speed: %.1fms pre-process, %.1fms inference, %.1fms NMS per image at shape (%d, 3, %d, %d)%s\n",
              r.ms_pre, r.ms_inf, r.ms_nms, o.batch, o.imgsz, o.imgsz,
              o.comm ? (", per rank of " + std::to_string(o.comm->size())).c_str() : "");
  if (!noplots) yolite::train::plot_validation(r, names, save_dir);
  {
    yolite::train::Report rep;
    rep.kind = "val";
    rep.title = save_dir.string();
    rep.names = names;
    rep.val = &r;
    rep.facts = {{"weights", weights}, {"data", data + " (" + task + ", " + std::to_string(r.images) + " images)"}};
    for (const char* f : {"PR_curve.png", "F1_curve.png", "confusion_matrix.png", "val_batch0_labels.jpg", "val_batch0_pred.jpg"})
      rep.images.push_back(save_dir / f);
    yolite::train::write_report(save_dir / "report.html", rep);
  }
  if (save_txt) {
    fs::create_directories(save_dir / "labels");
    for (auto& im : r.detections) {
      std::string txt;
      for (auto& d : im.dets) {
        char line[160];
        float cx = (d.x1 + d.x2) / 2 / im.width, cy = (d.y1 + d.y2) / 2 / im.height;
        float bw = (d.x2 - d.x1) / im.width, bh = (d.y2 - d.y1) / im.height;
        if (save_conf)
          std::snprintf(line, sizeof line, "%d %.6g %.6g %.6g %.6g %.6g\n", d.cls, cx, cy, bw, bh, d.score);
        else
          std::snprintf(line, sizeof line, "%d %.6g %.6g %.6g %.6g\n", d.cls, cx, cy, bw, bh);
        txt += line;
      }
      yolite::data::write_file_atomic(save_dir / "labels" / (fs::path(im.path).stem().string() + ".txt"), txt);
    }
  }
  if (save_json) {
    // COCO results format, one object per detection (written directly: it can be large)
    std::string out = "[";
    bool first = true;
    for (auto& im : r.detections)
      for (auto& d : im.dets) {
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "%s{\"image_id\":%d,\"category_id\":%d,\"bbox\":[%.3f,%.3f,%.3f,%.3f],\"score\":%.5f}",
                      first ? "" : ",", im.index + 1, d.cls + 1, d.x1, d.y1, d.x2 - d.x1, d.y2 - d.y1,
                      double(d.score));
        out += buf;
        first = false;
      }
    out += "]\n";
    fs::path jp = save_dir / (fs::path(weights).stem().string() + "_predictions.json");
    yolite::data::write_file_atomic(jp, out);
    std::printf("Saving %s (score it against `yolite yolo2coco --data %s --task %s`)\n",
                jp.string().c_str(), data.c_str(), task.c_str());
  }
  std::printf("Results saved to %s\n", save_dir.string().c_str());
  return 0;
}

}  // namespace

YOLITE_RANKED_COMMAND(val, "validate a detector on a labelled split (YOLOv5 val.py flags)", run_val);
