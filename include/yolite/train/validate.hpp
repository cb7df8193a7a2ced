// train/validate.hpp -- run a model over a labelled split and score it (YOLOv5's val.py).
//
//   train::ValOptions o;  o.imgsz = 320;
//   train::ValResult r = train::validate(*model, test_set, o);
//   std::printf("%s", train::format_val_table(r, model->names).c_str());
//
// Per batch: letterboxed images (rectangular batches padded to a stride multiple, as val.py),
// an eval-mode forward without a graph, optionally the training loss on the raw maps, NMS
// (conf 0.001, IoU 0.6, multi-label, 300 per image), then predictions and labels mapped back
// to the ORIGINAL image pixels and matched (eval/match.hpp). The table's P, R, mAP@0.5 and
// mAP@0.5:0.95 follow YOLOv5's AP rule (eval/ap.hpp); `coco` holds the same detections scored
// by the COCO-exact rule (pycocotools' 101-point AP, eval/coco_eval.hpp) for comparison.
#pragma once
#include <array>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "../data/loader.hpp"
#include "../eval/ap.hpp"
#include "../eval/coco_eval.hpp"
#include "../eval/confusion.hpp"
#include "../eval/match.hpp"
#include "../infer/augment.hpp"
#include "../infer/nms.hpp"
#include "../loss/yolo_loss.hpp"
#include "../model/yolo.hpp"
#include "../dist/comm.hpp"
#include "val_result.hpp"

namespace yolite::train {

// The model's anchors in pixels as the loss takes them: [level][anchor] = (w, h).
inline loss::AnchorSet anchor_set(const model::YoloModel& m) {
  Tensor<float> a = m.anchors_px();
  loss::AnchorSet s(size_t(a.size(0)));
  for (int64_t l = 0; l < a.size(0); ++l)
    for (int64_t k = 0; k < a.size(1); ++k) s[size_t(l)].push_back({a.at(l, k, 0), a.at(l, k, 1)});
  return s;
}

struct ValOptions {
  int imgsz = 640;
  int batch = 32;
  float conf_thres = 0.001f;
  float iou_thres = 0.6f;
  int max_det = 300;
  bool single_cls = false;
  int workers = 2;
  bool rect = true;  // rectangular batches, pad 0.5 (val.py)
  std::optional<loss::LossConfig> loss;  // set: also compute the validation loss
  bool keep_detections = false;          // fill ValResult::detections (save-json/txt, plots)
  bool augment = false;                  // test-time augmentation (infer/augment.hpp), as val.py --augment
  dist::Comm* comm = nullptr;            // processes validating together (each a share of the
                                         // batches; every rank gets the whole result)
};

namespace detail {
// One validated image: where it sits in the batch order, its detections and labels (original
// pixels). What each process sends the others when they share the work.
struct ImageEval {
  int64_t batch = 0;
  int pos = 0;       // position in its batch
  int index = 0;     // position in the data set
  int width = 0, height = 0;
  std::string path;
  std::vector<Detection> dets;
  std::vector<eval::GtBox> gts;
};
// The sums of one process: losses, batches, milliseconds (pre, inference, NMS).
struct ValSums {
  std::array<double, 3> loss{};
  int64_t batches = 0;
  std::array<double, 3> ms{};
};

inline std::string pack(const std::vector<ImageEval>& ims, const ValSums& s) {
  dist::Bytes b;
  b.put(s).put(uint64_t(ims.size()));
  for (auto& im : ims)
    b.put(im.batch).put(int32_t(im.pos)).put(int32_t(im.index)).put(int32_t(im.width)).put(int32_t(im.height))
        .put(im.path).put(im.dets).put(im.gts);
  return b.str();
}
inline void unpack(std::string bytes, std::vector<ImageEval>& ims, ValSums& s) {
  dist::Bytes b(std::move(bytes));
  const ValSums t = b.get<ValSums>();
  for (int k = 0; k < 3; ++k) s.loss[size_t(k)] += t.loss[size_t(k)], s.ms[size_t(k)] += t.ms[size_t(k)];
  s.batches += t.batches;
  for (uint64_t n = b.get<uint64_t>(); n > 0; --n) {
    ImageEval im;
    im.batch = b.get<int64_t>();
    im.pos = b.get<int32_t>(), im.index = b.get<int32_t>();
    im.width = b.get<int32_t>(), im.height = b.get<int32_t>();
    im.path = b.get_string();
    im.dets = b.get_vector<Detection>();
    im.gts = b.get_vector<eval::GtBox>();
    ims.push_back(std::move(im));
  }
}
}  // namespace detail

inline ValResult validate(model::YoloModel& m, const data::Dataset& ds, const ValOptions& o) {
  using clock = std::chrono::steady_clock;
  dist::SelfComm self;
  dist::Comm& comm = o.comm ? *o.comm : self;
  const int nc = o.single_cls ? 1 : m.nc();
  data::LoaderOptions lo;
  lo.imgsz = o.imgsz;
  lo.batch = o.batch;
  lo.augment = false;
  lo.shuffle = false;
  lo.workers = o.workers;
  lo.rect = o.rect;
  lo.rect_pad = 0.5f;
  lo.stride = int(m.max_stride());
  lo.shard = comm.rank(), lo.shards = comm.size();  // whole batches: the same shapes as one process
  data::Loader loader(ds, lo);

  NmsOptions nms;
  nms.conf_thres = o.conf_thres;
  nms.iou_thres = o.iou_thres;
  nms.max_det = o.max_det;
  nms.multi_label = true;
  nms.agnostic = o.single_cls;

  // ---- this process's batches: forward, NMS, detections and labels in original pixels
  std::vector<detail::ImageEval> ims;
  detail::ValSums sums;
  std::string err;
  const bool was_training = m.is_training();
  m.eval();
  try {
    NoGradGuard ng;
    loader.start_epoch(0);
    data::Batch b;
    int64_t k = 0;
    auto t_prev = clock::now();
    while (loader.next(b)) {
      const int64_t number = loader.batch_number(k++);
      auto t0 = clock::now();
      sums.ms[0] += std::chrono::duration<double, std::milli>(t0 - t_prev).count();
      std::vector<Var<float>> raw;
      if (!o.augment || o.loss) raw = m.forward_raw(Var<float>(b.images));
      Tensor<float> dec = o.augment ? forward_augment(m, b.images) : m.detect().decode(raw);
      auto t1 = clock::now();
      sums.ms[1] += std::chrono::duration<double, std::milli>(t1 - t0).count();
      if (o.loss) {
        auto lo_out = loss::yolo_loss<float>(raw, b.targets, anchor_set(m), m.stride(), *o.loss);
        for (int c = 0; c < 3; ++c) sums.loss[size_t(c)] += lo_out.items[size_t(c)];
      }
      const int64_t B = b.images.size(0), H = b.images.size(2), W = b.images.size(3);
      const int64_t N = dec.size(1), no = dec.size(2);
      for (int64_t i = 0; i < B; ++i) {
        detail::ImageEval im;
        im.batch = number, im.pos = int(i), im.index = b.indices[size_t(i)];
        im.width = b.orig_hw[size_t(i)][1], im.height = b.orig_hw[size_t(i)][0];
        im.path = b.paths[size_t(i)];
        im.dets = non_max_suppression(dec.data() + i * N * no, N, int(no), nms);
        if (o.single_cls)
          for (auto& d : im.dets) d.cls = 0;
        const data::LetterboxInfo& L = b.letterbox[size_t(i)];
        for (auto& d : im.dets) d = L.to_original(d);
        for (int64_t t = 0; t < b.targets.size(0); ++t) {
          if (int64_t(b.targets.at(t, 0)) != i) continue;
          float cx = b.targets.at(t, 2) * float(W), cy = b.targets.at(t, 3) * float(H);
          float w = b.targets.at(t, 4) * float(W), h = b.targets.at(t, 5) * float(H);
          eval::GtBox g{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2,
                        o.single_cls ? 0 : int(b.targets.at(t, 1))};
          g = L.to_original(g);
          YOLITE_CHECK(g.cls >= 0 && g.cls < nc, b.paths[size_t(i)], ": label class ", g.cls,
                       " outside the model's ", nc, " classes");
          im.gts.push_back(g);
        }
        ims.push_back(std::move(im));
      }
      t_prev = clock::now();
      sums.ms[2] += std::chrono::duration<double, std::milli>(t_prev - t1).count();
      ++sums.batches;
    }
  } catch (const std::exception& e) {
    if (comm.size() == 1) {
      if (was_training) m.train(true);
      throw;
    }
    err = e.what();
  }
  if (was_training) m.train(true);

  // ---- every process's images, in the order one process sees them
  if (comm.size() > 1) {
    comm.check_all(err);
    std::vector<std::string> parts = comm.allgather(detail::pack(ims, sums));
    ims.clear();
    sums = {};
    for (auto& p : parts) detail::unpack(std::move(p), ims, sums);
    std::stable_sort(ims.begin(), ims.end(), [](const detail::ImageEval& a, const detail::ImageEval& b) {
      return a.batch != b.batch ? a.batch < b.batch : a.pos < b.pos;
    });
  }

  // ---- the statistics
  ValResult r;
  r.instances_per_class.assign(size_t(nc), 0);
  r.images_per_class.assign(size_t(nc), 0);
  r.confusion.emplace(nc);
  std::vector<eval::ScoredDetection> scored;
  std::vector<eval::CocoImage> coco_images;
  for (auto& im : ims) {
    std::vector<char> seen(size_t(nc), 0);
    for (auto& g : im.gts) {
      r.instances_per_class[size_t(g.cls)]++;
      seen[size_t(g.cls)] = 1;
    }
    for (int c = 0; c < nc; ++c) r.images_per_class[size_t(c)] += seen[size_t(c)];
    r.instances += int(im.gts.size());
    auto sd = eval::match_image(im.dets, im.gts);
    scored.insert(scored.end(), sd.begin(), sd.end());
    r.confusion->add_image(im.dets, im.gts);
    coco_images.push_back({im.gts, im.dets});
    if (o.keep_detections)
      r.detections.push_back({im.path, im.index, im.width, im.height, std::move(im.dets), std::move(im.gts)});
    ++r.images;
  }
  r.metrics = eval::ap_per_class(scored, r.instances_per_class, eval::ApRule::yolov5);
  r.coco = eval::coco_evaluate(coco_images);
  if (r.images) r.ms_pre = sums.ms[0] / r.images, r.ms_inf = sums.ms[1] / r.images, r.ms_nms = sums.ms[2] / r.images;
  if (sums.batches)
    for (int c = 0; c < 3; ++c) r.loss[size_t(c)] = sums.loss[size_t(c)] / double(sums.batches);
  return r;
}

// YOLOv5 v7.0's validation table: "all" then one row per class with instances. As in v7.0, the
// Images column of a class row is the number of images validated, not the images holding the
// class (ValResult::images_per_class has that).
inline std::string format_val_table(const ValResult& r, const std::vector<std::string>& names) {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%22s%11s%11s%11s%11s%11s%11s\n", "Class", "Images", "Instances",
                "P", "R", "mAP50", "mAP50-95");
  out += buf;
  std::snprintf(buf, sizeof buf, "%22s%11d%11d%11.3g%11.3g%11.3g%11.3g\n", "all", r.images,
                r.instances, r.metrics.mp, r.metrics.mr, r.metrics.map50, r.metrics.map);
  out += buf;
  for (auto& c : r.metrics.per_class) {
    std::string name = c.cls < int(names.size()) ? names[size_t(c.cls)] : std::to_string(c.cls);
    std::snprintf(buf, sizeof buf, "%22s%11d%11d%11.3g%11.3g%11.3g%11.3g\n", name.c_str(),
                  r.images, c.n_gt, c.p, c.r, c.ap50(), c.ap50_95());
    out += buf;
  }
  return out;
}

}  // namespace yolite::train
