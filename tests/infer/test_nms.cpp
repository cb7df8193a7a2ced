#include <doctest/doctest.h>

#include <yolite/infer/nms.hpp>

using namespace yolite;

namespace {
// one row: cx, cy, w, h, obj, cls0, cls1
std::vector<float> row(float cx, float cy, float w, float h, float obj, float c0, float c1) {
  return {cx, cy, w, h, obj, c0, c1};
}
std::vector<float> cat(std::initializer_list<std::vector<float>> rows) {
  std::vector<float> v;
  for (auto& r : rows) v.insert(v.end(), r.begin(), r.end());
  return v;
}
}  // namespace

TEST_SUITE("infer") {
  TEST_CASE("nms: overlapping boxes of one class collapse to the best; other classes survive") {
    auto p = cat({row(50, 50, 20, 20, 0.9f, 0.9f, 0.1f),    // score .81, class 0
                  row(51, 50, 20, 20, 0.8f, 0.9f, 0.1f),    // IoU ~.9 with the first: suppressed
                  row(50, 50, 20, 20, 0.7f, 0.1f, 0.9f),    // class 1 at the same place: kept
                  row(150, 150, 20, 20, 0.6f, 0.8f, 0.2f),  // elsewhere: kept
                  row(10, 10, 5, 5, 0.2f, 0.9f, 0.1f)});    // objectness under conf: dropped
    NmsOptions o;
    auto d = non_max_suppression(p.data(), 5, 7, o);
    REQUIRE(d.size() == 3);
    CHECK(d[0].score == doctest::Approx(0.81f));
    CHECK(d[0].cls == 0);
    CHECK(d[0].x1 == doctest::Approx(40.f));
    CHECK(d[1].cls == 1);
    CHECK(d[2].x1 == doctest::Approx(140.f));
    o.agnostic = true;
    CHECK(non_max_suppression(p.data(), 5, 7, o).size() == 2);
    o.agnostic = false;
    o.max_det = 1;
    CHECK(non_max_suppression(p.data(), 5, 7, o).size() == 1);
    o.max_det = 300;
    o.classes = {1};
    auto only1 = non_max_suppression(p.data(), 5, 7, o);
    REQUIRE(only1.size() == 1);
    CHECK(only1[0].cls == 1);
  }

  TEST_CASE("nms: multi-label emits every class above the threshold") {
    auto p = cat({row(50, 50, 20, 20, 0.9f, 0.6f, 0.5f)});
    NmsOptions o;
    o.conf_thres = 0.001f;
    o.multi_label = true;
    auto d = non_max_suppression(p.data(), 1, 7, o);
    REQUIRE(d.size() == 2);
    CHECK(d[0].cls == 0);
    CHECK(d[1].cls == 1);
    o.multi_label = false;
    CHECK(non_max_suppression(p.data(), 1, 7, o).size() == 1);
  }

  TEST_CASE("nms: bad arguments are clear errors") {
    float p[5] = {0, 0, 1, 1, 1};
    CHECK_THROWS_AS(non_max_suppression(p, 1, 5), Error);
    NmsOptions o;
    o.iou_thres = 2;
    float q[6] = {0, 0, 1, 1, 1, 1};
    CHECK_THROWS_AS(non_max_suppression(q, 1, 6, o), Error);
  }
}
