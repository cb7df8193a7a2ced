// build_targets on a hand-worked 4x4 grid: neighbour cells, the anchor ratio test, the order of
// the positives, and clamping at the grid edge.
#include <doctest/doctest.h>

#include <yolite/loss/assign.hpp>

using namespace yolite;
using namespace yolite::loss;

TEST_SUITE("loss") {
  TEST_CASE("build_targets by hand on a 4x4 grid with one 1x1 anchor") {
    // t0: (cx, cy) = (0.3, 0.6) -> (gx, gy) = (1.2, 2.4), 1x1 cells: kept (ratio 1).
    //     frac(gx) = 0.2 < 0.5 and gx > 1 -> left; frac(gy) = 0.4 < 0.5 and gy > 1 -> up;
    //     4 - gx = 2.8, 4 - gy = 1.6: fractions >= 0.5 -> no right / down.
    // t1: 0.08 x 0.08 cells against the 1x1 anchor: ratio 12.5 >= 4 -> no positives.
    // t2: centre on the right edge (gx, gy) = (4, 2): left (frac 0), up (frac 0, gy > 1),
    //     down (frac(4 - 2) = 0, 2 > 1), not right (4 - gx = 0 is not > 1). The centre cell
    //     gi = 4 is clamped to 3, and so tbox x = 4 - 3 = 1.
    Tensor<double> t({3, 6});
    const double rows[3][6] = {{0, 2, 0.3, 0.6, 0.25, 0.25},
                               {1, 0, 0.5, 0.5, 0.02, 0.02},
                               {1, 1, 1.0, 0.5, 0.25, 0.5}};
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 6; ++c) t.at(r, c) = rows[r][c];
    std::vector<std::vector<std::array<double, 2>>> anchors{{{1.0, 1.0}}};
    auto lv = build_targets<double>(t, {{4, 4}}, anchors, 4.0);
    REQUIRE(lv.size() == 1);
    const auto& L = lv[0];
    // Order: offset block (centre, left, up, right, down), then anchor, then target.
    struct Expect {
      std::array<int64_t, 4> idx;  // b, a, gj, gi
      int64_t cls;
      std::array<double, 4> box;
    };
    const Expect e[] = {
        {{0, 0, 2, 1}, 2, {0.2, 0.4, 1.0, 1.0}},  // t0 centre
        {{1, 0, 2, 3}, 1, {1.0, 0.0, 1.0, 2.0}},  // t2 centre (gi 4 clamped to 3)
        {{0, 0, 2, 0}, 2, {1.2, 0.4, 1.0, 1.0}},  // t0 left
        {{1, 0, 2, 3}, 1, {1.0, 0.0, 1.0, 2.0}},  // t2 left (3.5 -> 3)
        {{0, 0, 1, 1}, 2, {0.2, 1.4, 1.0, 1.0}},  // t0 up
        {{1, 0, 1, 3}, 1, {1.0, 1.0, 1.0, 2.0}},  // t2 up
        {{1, 0, 2, 3}, 1, {1.0, 0.0, 1.0, 2.0}},  // t2 down (2.5 -> 2)
    };
    REQUIRE(L.size() == 7);
    for (size_t k = 0; k < 7; ++k) {
      INFO("positive ", k);
      CHECK(L.idx[k] == e[k].idx);
      CHECK(L.cls[k] == e[k].cls);
      for (int c = 0; c < 4; ++c)
        CHECK(L.box[k][size_t(c)] == doctest::Approx(e[k].box[size_t(c)]).epsilon(1e-12));
      CHECK(L.anchor[k] == std::array<double, 2>{1.0, 1.0});
    }
    // No targets: no positives; a bad targets shape is refused.
    CHECK(build_targets<double>(Tensor<double>({0, 6}), {{4, 4}}, anchors)[0].size() == 0);
    CHECK_THROWS_AS(build_targets<double>(Tensor<double>({2, 5}), {{4, 4}}, anchors), Error);
  }

  TEST_CASE("the anchor ratio threshold anchor_t") {
    // gw = 3.9 against aw = 1 keeps the pair at anchor_t 4, drops it at anchor_t 3.5.
    Tensor<double> t({1, 6});
    const double row[6] = {0, 0, 0.5, 0.5, 3.9 / 8, 1.0 / 8};
    for (int c = 0; c < 6; ++c) t.at(0, c) = row[c];
    std::vector<std::vector<std::array<double, 2>>> anchors{{{1.0, 1.0}}};
    CHECK(build_targets<double>(t, {{8, 8}}, anchors, 4.0)[0].size() > 0);
    CHECK(build_targets<double>(t, {{8, 8}}, anchors, 3.5)[0].size() == 0);
  }
}
