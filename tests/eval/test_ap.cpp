#include <algorithm>
#include <cstdint>
#include <doctest/doctest.h>

#include <yolite/eval/ap.hpp>
#include <yolite/eval/coco_eval.hpp>
#include <yolite/eval/confusion.hpp>
#include <yolite/eval/match.hpp>

using namespace yolite;
using namespace yolite::eval;

namespace {
ScoredDetection sd(int cls, float score, bool tp50) {
  ScoredDetection d;
  d.cls = cls, d.score = score;
  d.tp.fill(false);
  d.tp[0] = tp50;
  return d;
}
Detection det(float x1, float y1, float x2, float y2, float s, int c) { return {x1, y1, x2, y2, s, c}; }
GtBox gt(float x1, float y1, float x2, float y2, int c, bool crowd = false) {
  return {x1, y1, x2, y2, c, crowd};
}
}  // namespace

TEST_SUITE("eval") {
  // 2 ground-truth boxes; detections by score: TP, FP, TP.
  //   recall    0.5, 0.5, 1.0
  //   precision 1.0, 0.5, 2/3
  // COCO: envelope = 1 for recall <= 0.5 (51 of the 101 points), 2/3 for the 50 points above:
  //   AP = (51 + 50 * 2/3) / 101.
  // YOLOv5: envelope over (0,1) (0.5,1) (0.5,2/3) (1,2/3) (1,0), trapezoids on the 101 points:
  //   0.49 + 0.01*(1+2/3)/2 + 0.49*2/3 + 0.01*(2/3)/2 = 0.828333...
  TEST_CASE("AP: hand-computed TP, FP, TP example under both rules") {
    std::vector<double> rec{0.5, 0.5, 1.0}, pre{1.0, 0.5, 2.0 / 3};
    CHECK(ap_coco101(rec, pre) == doctest::Approx((51 + 50 * 2.0 / 3) / 101).epsilon(1e-12));
    CHECK(ap_yolov5(rec, pre) == doctest::Approx(0.8283333333333331).epsilon(1e-12));
  }

  // First detection a false positive (recall 0 at precision 0), then a TP; 2 ground truths.
  // numpy.interp takes the LAST of the repeated recall-0 points, so the curve starts at 0.5:
  //   0.5 * 0.5 + the ramp from (0.5, 0.5) to (1, 0) = 0.25 + 0.125.
  TEST_CASE("AP: a leading false positive follows numpy.interp's repeated-x rule") {
    CHECK(ap_yolov5({0.0, 0.5}, {0.0, 0.5}) == doctest::Approx(0.375).epsilon(1e-12));
    // COCO: recall thresholds 0..0.5 (51 points) see precision 0.5; the rest 0.
    CHECK(ap_coco101({0.0, 0.5}, {0.0, 0.5}) == doctest::Approx(51 * 0.5 / 101).epsilon(1e-12));
  }

  TEST_CASE("ap_per_class: classes without ground truth are not scored; means over the rest") {
    std::vector<ScoredDetection> d{sd(0, 0.9f, true), sd(0, 0.8f, false), sd(0, 0.7f, true),
                                   sd(1, 0.95f, false)};
    auto m = ap_per_class(d, {2, 0});
    REQUIRE(m.per_class.size() == 1);
    CHECK(m.per_class[0].ap50() == doctest::Approx(0.8283333333333331));
    CHECK(m.map50 == doctest::Approx(0.8283333333333331));
    CHECK(m.map == doctest::Approx(0.8283333333333331 / 10));  // TP only at IoU 0.5
    // operating point: the best-F1 confidence keeps all three (P 2/3, R 1) or the first (P 1, R .5)
    CHECK(m.per_class[0].f1 > 0.79);
    CHECK(m.per_class[0].p > 0.6);
  }

  TEST_CASE("match_image: same class only, each label used once, per threshold") {
    std::vector<GtBox> g{gt(0, 0, 10, 10, 0), gt(20, 20, 30, 30, 1)};
    std::vector<Detection> d{det(0, 0, 10, 10, 0.9f, 0),    // perfect
                             det(0, 0, 10, 9, 0.8f, 0),     // IoU 0.9 with the same gt: duplicate
                             det(20, 20, 30, 27, 0.7f, 1),  // IoU 0.7
                             det(20, 20, 30, 30, 0.6f, 0)}; // wrong class
    auto m = match_image(d, g);
    CHECK(m[0].tp[0]);
    CHECK(m[0].tp[9]);
    CHECK_FALSE(m[1].tp[0]);
    CHECK(m[2].tp[0]);   // 0.7 >= 0.5 .. 0.70
    CHECK(m[2].tp[4]);   // threshold 0.70
    CHECK_FALSE(m[2].tp[5]);  // 0.75
    CHECK_FALSE(m[3].tp[0]);
  }

  // The case that separates val.py's rule from greedy-by-IoU: the label's TP is its
  // highest-SCORING detection among those that pick it, not its best-overlapping one.
  TEST_CASE("match_image: the confident box wins over a low-score near-duplicate with more IoU") {
    std::vector<GtBox> g{gt(0, 0, 100, 100, 0)};
    std::vector<Detection> d{det(0, 0, 100, 80, 0.9f, 0),   // A: IoU 0.80
                             det(0, 0, 100, 95, 0.1f, 0)};  // B: IoU 0.95
    auto m = match_image(d, g);
    for (int t = 0; t < kNumIou; ++t) {
      CAPTURE(t);
      if (t <= 5) CHECK(m[0].tp[size_t(t)]);        // 0.50 .. 0.75: A is the TP
      if (t >= 7) CHECK_FALSE(m[0].tp[size_t(t)]);  // 0.85 .. 0.95: A is below the threshold
      CHECK(m[1].tp[size_t(t)] == !m[0].tp[size_t(t)]);  // B takes the label exactly where A cannot
    }
    CHECK(m[0].tp[0]);
    CHECK_FALSE(m[1].tp[0]);
    CHECK_FALSE(m[0].tp[7]);  // 0.85: A is out, B (0.95) is the TP
    CHECK(m[1].tp[7]);
    CHECK(m[1].tp[9]);
  }

  TEST_CASE("match_image: a detection whose best label is taken gets no fallback") {
    // L0 and L1 of one class; A (0.9) and B (0.8) both overlap L0 best. B also overlaps the
    // free L1 at IoU 0.6, but val.py keeps only each detection's best label: B is a FP.
    std::vector<GtBox> g{gt(0, 0, 100, 100, 0), gt(0, 40, 100, 140, 0)};
    std::vector<Detection> d{det(0, 0, 100, 95, 0.9f, 0),   // L0 0.95, L1 0.55/1.05 -> L0
                             det(0, 10, 100, 110, 0.8f, 0)}; // L0 0.818, L1 0.5385 -> L0
    REQUIRE(iou_valpy(g[1], d[1]) > 0.5f);
    REQUIRE(iou_valpy(g[0], d[1]) > iou_valpy(g[1], d[1]));
    auto m = match_image(d, g);
    CHECK(m[0].tp[0]);
    CHECK_FALSE(m[1].tp[0]);  // greedy-by-IoU with fallback would give B -> L1 here
    // At 0.75 both still pick L0; A takes it. At 0.85 B (0.818) has no candidate at all.
    CHECK(m[0].tp[5]);
    CHECK_FALSE(m[1].tp[5]);
  }

  TEST_CASE("match_image: the order of detections decides, not their IoU") {
    // Same two detections as above but the low-score one listed first: NMS order is score
    // order, and the first in that order that picks a label takes it.
    std::vector<GtBox> g{gt(0, 0, 100, 100, 0)};
    std::vector<Detection> d{det(0, 0, 100, 95, 0.7f, 0), det(0, 0, 100, 80, 0.6f, 0)};
    auto m = match_image(d, g);
    for (int t = 0; t < kNumIou; ++t) CHECK_FALSE(m[1].tp[size_t(t)]);
    for (int t = 0; t < kNumIou; ++t) CHECK(m[0].tp[size_t(t)]);
  }

  // A literal transcription of val.py's numpy steps (candidate rows, sort by IoU and reverse,
  // np.unique on the detection column, np.unique on the label column), checked against
  // match_image on random crowded scenes with several labels and classes.
  TEST_CASE("match_image: equals a literal transcription of process_batch on random scenes") {
    struct Row { int label, det; float iou; };
    auto unique_first = [](const std::vector<Row>& rows, bool by_det) {
      // np.unique(col, return_index=True)[1]: the first row of each value, ordered by value
      std::vector<Row> out;
      std::vector<int> keys;
      for (const Row& r : rows) keys.push_back(by_det ? r.det : r.label);
      std::vector<int> sorted = keys;
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      for (int k : sorted)
        for (size_t i = 0; i < rows.size(); ++i)
          if (keys[i] == k) { out.push_back(rows[i]); break; }
      return out;
    };
    uint32_t state = 12345;
    auto rnd = [&](float lo, float hi) {
      state = state * 1664525u + 1013904223u;
      return lo + (hi - lo) * float(state >> 8) / float(1 << 24);
    };
    const auto thr = iou_thresholds_f32();
    int checked_tp = 0, differs_from_greedy = 0;
    for (int scene = 0; scene < 300; ++scene) {
      std::vector<GtBox> g;
      std::vector<Detection> d;
      const int ng = 1 + int(rnd(0, 6)), nd = int(rnd(0, 12));
      for (int i = 0; i < ng; ++i) {
        float x = rnd(0, 60), y = rnd(0, 60), w = rnd(10, 40), h = rnd(10, 40);
        g.push_back(gt(x, y, x + w, y + h, int(rnd(0, 2))));
      }
      for (int i = 0; i < nd; ++i) {  // jittered copies of labels, scores decreasing
        const GtBox& s = g[size_t(rnd(0, float(ng)))];
        float j = rnd(0, 8);
        d.push_back(det(s.x1 + rnd(-j, j), s.y1 + rnd(-j, j), s.x2 + rnd(-j, j), s.y2 + rnd(-j, j),
                        1.0f - 0.05f * float(i), rnd(0, 1) < 0.85f ? s.cls : 1 - s.cls));
      }
      auto m = match_image(d, g);
      for (int t = 0; t < kNumIou; ++t) {
        std::vector<Row> rows;  // torch.where order: label-major
        for (int l = 0; l < ng; ++l)
          for (int k = 0; k < nd; ++k) {
            float iou = iou_valpy(g[size_t(l)], d[size_t(k)]);
            if (g[size_t(l)].cls == d[size_t(k)].cls && iou >= thr[size_t(t)]) rows.push_back({l, k, iou});
          }
        std::vector<char> want(size_t(nd), 0);
        if (rows.size() > 1) {
          std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.iou < b.iou; });
          std::reverse(rows.begin(), rows.end());
          rows = unique_first(rows, true);
          rows = unique_first(rows, false);
        }
        for (const Row& r : rows) want[size_t(r.det)] = 1;
        // greedy by IoU with fallback (the rule this replaces), to show the scenes separate them
        std::vector<Row> all;
        for (int l = 0; l < ng; ++l)
          for (int k = 0; k < nd; ++k) {
            float iou = iou_valpy(g[size_t(l)], d[size_t(k)]);
            if (g[size_t(l)].cls == d[size_t(k)].cls && iou >= thr[size_t(t)]) all.push_back({l, k, iou});
          }
        std::stable_sort(all.begin(), all.end(), [](const Row& a, const Row& b) { return a.iou > b.iou; });
        std::vector<char> gu(size_t(ng), 0), du(size_t(nd), 0), greedy(size_t(nd), 0);
        for (const Row& r : all)
          if (!gu[size_t(r.label)] && !du[size_t(r.det)]) gu[size_t(r.label)] = du[size_t(r.det)] = greedy[size_t(r.det)] = 1;
        for (int k = 0; k < nd; ++k) {
          CAPTURE(scene);
          CAPTURE(t);
          CAPTURE(k);
          CHECK(m[size_t(k)].tp[size_t(t)] == bool(want[size_t(k)]));
          checked_tp += want[size_t(k)];
          differs_from_greedy += want[size_t(k)] != greedy[size_t(k)];
        }
      }
    }
    CHECK(checked_tp > 500);
    CHECK(differs_from_greedy > 20);  // the scenes do exercise the difference
  }

  TEST_CASE("COCO eval: perfect detections give AP 1; an image with no boxes adds false positives") {
    std::vector<CocoImage> ims(3);
    ims[0].gts = {gt(0, 0, 10, 10, 0)};
    ims[0].dets = {det(0, 0, 10, 10, 0.9f, 0)};
    ims[1].gts = {gt(5, 5, 25, 25, 0)};
    ims[1].dets = {det(5, 5, 25, 25, 0.8f, 0)};
    auto r = coco_evaluate(ims);
    CHECK(r.map == doctest::Approx(1.0));
    // image 2 has no ground truth but a confident detection: precision drops at the top
    ims[2].dets = {det(0, 0, 10, 10, 0.95f, 0)};
    r = coco_evaluate(ims);
    // scores: 0.95 FP, 0.9 TP, 0.8 TP -> recall 0, .5, 1; precision 0, .5, 2/3 -> envelope 2/3
    CHECK(r.map == doctest::Approx(2.0 / 3).epsilon(1e-9));
    // an image with neither boxes nor detections changes nothing
    ims.push_back(CocoImage{});
    CHECK(coco_evaluate(ims).map == doctest::Approx(2.0 / 3).epsilon(1e-9));
  }

  TEST_CASE("COCO eval: tied scores keep image order (stable sort), as pycocotools' mergesort") {
    // two images, one detection each with the SAME score; the first is a FP, the second a TP.
    std::vector<CocoImage> ims(2);
    ims[0].gts = {gt(100, 100, 110, 110, 0)};
    ims[0].dets = {det(0, 0, 10, 10, 0.5f, 0)};  // misses
    ims[1].gts = {gt(0, 0, 10, 10, 0)};
    ims[1].dets = {det(0, 0, 10, 10, 0.5f, 0)};  // hits
    // order FP, TP: recall 0, .5; precision 0, .5 -> 51 points of 0.5
    CHECK(coco_evaluate(ims).map50 == doctest::Approx(51 * 0.5 / 101).epsilon(1e-12));
    std::swap(ims[0], ims[1]);
    // order TP, FP: recall .5, .5; precision 1, .5 -> 51 points of 1
    CHECK(coco_evaluate(ims).map50 == doctest::Approx(51 * 1.0 / 101).epsilon(1e-12));
  }

  TEST_CASE("COCO eval: greedy by score, a crowd region swallows duplicates without counting") {
    std::vector<CocoImage> ims(1);
    ims[0].gts = {gt(0, 0, 10, 10, 0), gt(50, 50, 100, 100, 0, /*crowd=*/true)};
    ims[0].dets = {det(0, 0, 10, 10, 0.9f, 0), det(60, 60, 70, 70, 0.8f, 0),
                   det(70, 70, 80, 80, 0.7f, 0)};
    // both detections inside the crowd are ignored: AP 1
    CHECK(coco_evaluate(ims).map == doctest::Approx(1.0));
  }

  TEST_CASE("COCO eval: max 100 detections per image and class") {
    std::vector<CocoImage> ims(1);
    ims[0].gts = {gt(0, 0, 10, 10, 0)};
    for (int i = 0; i < 100; ++i) ims[0].dets.push_back(det(200, 200, 210, 210, 0.9f, 0));
    ims[0].dets.push_back(det(0, 0, 10, 10, 0.1f, 0));  // the hit is number 101: cut off
    CHECK(coco_evaluate(ims).map == doctest::Approx(0.0));
  }

  TEST_CASE("confusion matrix: hits, misses and background detections") {
    ConfusionMatrix cm(2);
    cm.add_image({det(0, 0, 10, 10, 0.9f, 0), det(50, 50, 60, 60, 0.9f, 1), det(0, 0, 10, 10, 0.1f, 1)},
                 {gt(0, 0, 10, 10, 0), gt(20, 20, 30, 30, 1)});
    CHECK(cm.at(0, 0) == 1);  // class 0 found
    CHECK(cm.at(2, 1) == 1);  // class 1 missed
    CHECK(cm.at(1, 2) == 1);  // class 1 predicted on background
    CHECK(cm.at(1, 0) == 0);  // the 0.1 detection is under the confidence threshold
  }
}
