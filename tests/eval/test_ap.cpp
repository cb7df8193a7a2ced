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

  TEST_CASE("match_image: same class only, best IoU first, each box used once, per threshold") {
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
