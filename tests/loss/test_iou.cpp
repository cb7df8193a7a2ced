// IoU family on hand-computed boxes, and box_iou_grad against finite differences.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include <yolite/core/rng.hpp>
#include <yolite/loss/iou.hpp>

using namespace yolite;
using namespace yolite::loss;
using B = std::array<double, 4>;

TEST_SUITE("loss") {
  TEST_CASE("IoU, GIoU, DIoU, CIoU of two overlapping boxes (hand-computed)") {
    // Box 1: x 0..4, y 0..2 (area 8, centre (2, 1)); box 2: x 1..3, y 1..4 (area 6, centre
    // (2, 2.5)). Intersection 2 x 1 = 2, union 12, enclosing box 4 x 4 (area 16, diagonal^2 32),
    // centre distance^2 2.25. v = 4/pi^2 (atan(2/3) - atan(2))^2.
    const B a_xyxy{0, 0, 4, 2}, b_xyxy{1, 1, 3, 4};
    const B a_xywh{2, 1, 4, 2}, b_xywh{2, 2.5, 2, 3};
    const double eps = 1e-7;
    const double iou = 2 / (12 + eps);
    const double giou = iou - 4 / (16 + eps);
    const double diou = iou - 2.25 / (32 + eps);
    const double v = 4 / (std::numbers::pi * std::numbers::pi) *
                     std::pow(std::atan(2.0 / 3.0) - std::atan(2.0), 2);
    const double alpha = v / (v - iou + 1 + eps);
    // The same numbers computed independently in Python (float64).
    CHECK(iou == doctest::Approx(0.1666666652777778).epsilon(1e-14));
    CHECK(giou == doctest::Approx(-0.08333333315972224).epsilon(1e-12));
    CHECK(diou == doctest::Approx(0.09635416549750436).epsilon(1e-12));
    CHECK(v == doctest::Approx(0.10922937819372631).epsilon(1e-12));
    CHECK(alpha == doctest::Approx(0.11588551627218363).epsilon(1e-12));
    const double ciou = 0.08369606261343479;
    for (auto fmt : {BoxFormat::xyxy, BoxFormat::xywh}) {
      const B& a = fmt == BoxFormat::xyxy ? a_xyxy : a_xywh;
      const B& b = fmt == BoxFormat::xyxy ? b_xyxy : b_xywh;
      CHECK(box_iou(a, b, IoUKind::IoU, fmt) == doctest::Approx(iou).epsilon(1e-12));
      CHECK(box_iou(a, b, IoUKind::GIoU, fmt) == doctest::Approx(giou).epsilon(1e-12));
      CHECK(box_iou(a, b, IoUKind::DIoU, fmt) == doctest::Approx(diou).epsilon(1e-12));
      CHECK(box_iou(a, b, IoUKind::CIoU, fmt) == doctest::Approx(ciou).epsilon(1e-12));
      // symmetric for IoU
      CHECK(box_iou(b, a, IoUKind::IoU, fmt) == doctest::Approx(iou).epsilon(1e-12));
    }
    auto t = ciou_terms(a_xywh, b_xywh);
    CHECK(t.iou == doctest::Approx(iou).epsilon(1e-12));
    CHECK(t.rho2_c2 == doctest::Approx(2.25 / (32 + eps)).epsilon(1e-12));
    CHECK(t.alpha == doctest::Approx(alpha).epsilon(1e-12));
    CHECK(t.ciou() == doctest::Approx(ciou).epsilon(1e-12));
  }

  TEST_CASE("disjoint, identical and nested boxes") {
    // Disjoint: x 0..1 and x 3..4 on the same row: IoU 0; GIoU = -(C - U)/C with C = 4, U = 2.
    const B a{0, 0, 1, 1}, b{3, 0, 4, 1};
    CHECK(box_iou(a, b, IoUKind::IoU, BoxFormat::xyxy) == 0.0);
    CHECK(box_iou(a, b, IoUKind::GIoU, BoxFormat::xyxy) == doctest::Approx(-0.5).epsilon(1e-6));
    // DIoU: centres 3 apart, enclosing diagonal^2 = 16 + 1.
    CHECK(box_iou(a, b, IoUKind::DIoU, BoxFormat::xyxy) ==
          doctest::Approx(-9.0 / 17.0).epsilon(1e-6));
    // Identical boxes: everything is ~1 (v = 0, rho = 0).
    const B c{5, 5, 2, 3};
    for (auto k : {IoUKind::IoU, IoUKind::GIoU, IoUKind::DIoU, IoUKind::CIoU})
      CHECK(box_iou(c, c, k) == doctest::Approx(1.0).epsilon(1e-6));
    // Nested: 1x1 box centred inside a 2x2 box: IoU 1/4; same centre, same aspect: CIoU = IoU.
    const B in{0, 0, 1, 1}, out{0, 0, 2, 2};
    CHECK(box_iou(in, out) == doctest::Approx(0.25).epsilon(1e-6));
    CHECK(box_iou(in, out, IoUKind::CIoU) == doctest::Approx(0.25).epsilon(1e-6));
    // xyxy heights are clamped at eps like YOLOv5's (a degenerate box gives IoU ~0, no NaN).
    const B flat{0, 1, 2, 1};
    CHECK(std::isfinite(box_iou(flat, a, IoUKind::CIoU, BoxFormat::xyxy)));
  }

  TEST_CASE("box_iou_grad matches central differences (CIoU with alpha held constant)") {
    Rng rng(7);
    int checked = 0;
    for (int trial = 0; trial < 200; ++trial) {
      B p{rng.uniform() * 2 - 0.5, rng.uniform() * 2 - 0.5, 0.2 + rng.uniform() * 3,
          0.2 + rng.uniform() * 3};
      B t{rng.uniform(), rng.uniform(), 0.2 + rng.uniform() * 3, 0.2 + rng.uniform() * 3};
      for (auto kind : {IoUKind::IoU, IoUKind::GIoU, IoUKind::DIoU, IoUKind::CIoU}) {
        B d{};
        double val = box_iou_grad(p, t, kind, d);
        CHECK(val == doctest::Approx(box_iou(p, t, kind)).epsilon(1e-12));
        const double alpha0 = ciou_terms(p, t).alpha;
        // The function whose derivative box_iou_grad returns: for CIoU, alpha frozen.
        auto f = [&](const B& q) {
          if (kind != IoUKind::CIoU) return box_iou(q, t, kind);
          return ciou_terms(q, t).ciou_with_alpha(alpha0);
        };
        for (int i = 0; i < 4; ++i) {
          const double h = 1e-6;
          B hi = p, lo = p;
          hi[size_t(i)] += h;
          lo[size_t(i)] -= h;
          double num = (f(hi) - f(lo)) / (2 * h);
          CHECK(std::abs(d[size_t(i)] - num) <= 1e-7 + 1e-5 * std::abs(num));
          ++checked;
        }
      }
    }
    CHECK(checked == 3200);
  }

  TEST_CASE("CIoU's gradient differs from the full derivative when alpha is not detached") {
    // Shows that the detach matters (and that the test above would notice a non-detached alpha).
    const B p{0.3, 0.4, 2.5, 0.8}, t{0.5, 0.5, 1.0, 2.0};
    B d{};
    box_iou_grad(p, t, IoUKind::CIoU, d);
    const double h = 1e-6;
    B hi = p, lo = p;
    hi[2] += h;
    lo[2] -= h;
    double full = (box_iou(hi, t, IoUKind::CIoU) - box_iou(lo, t, IoUKind::CIoU)) / (2 * h);
    CHECK(std::abs(full - d[2]) > 1e-3);
  }
}
