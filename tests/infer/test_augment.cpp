#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <yolite/infer/augment.hpp>
#include <yolite/model/cfg_yaml.hpp>

using namespace yolite;

TEST_SUITE("infer") {
  TEST_CASE("resize: bilinear resize is PyTorch's align_corners=False, whatever the threads") {
    // F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode='bilinear',
    // align_corners=False), worked by hand from the rule in the header
    Tensor<float> x = Tensor<float>::from(Shape({1, 1, 2, 2}), std::vector<float>{0, 1, 2, 3});
    Tensor<float> y = ops::resize_bilinear(x, 4, 4);
    const float want[16] = {0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3};
    for (int i = 0; i < 16; ++i) CHECK(y[i] == doctest::Approx(want[i]).epsilon(1e-6));
    // shrinking a ramp by 2 samples it halfway between pixels: 2d + 0.5
    Tensor<float> r({2, 3, 4, 10});
    for (int64_t i = 0; i < r.numel(); ++i) r[i] = float(i % 10);
    Tensor<float> h = ops::resize_bilinear(r, 2, 5);
    REQUIRE(h.shape() == Shape({2, 3, 2, 5}));
    for (int64_t i = 0; i < h.numel(); ++i) CHECK(h[i] == doctest::Approx(2.0 * double(i % 5) + 0.5));
    CHECK_THROWS_AS(ops::resize_bilinear(r, 0, 5), Error);
    // each value is one expression of its taps: the same bits on 1 thread and on 2
    Tensor<float> big({3, 4, 37, 53});
    for (int64_t i = 0; i < big.numel(); ++i) big[i] = std::sin(0.37f * float(i));
    const int before = max_threads();
    set_threads(1);
    Tensor<float> one = ops::resize_bilinear(big, 61, 29);
    set_threads(2);
    Tensor<float> two = ops::resize_bilinear(big, 61, 29);
    set_threads(before);
    for (int64_t i = 0; i < one.numel(); ++i) REQUIRE(one[i] == two[i]);
  }

  TEST_CASE("augment: scale_img pads to the stride with 0.447; flip_lr mirrors") {
    Tensor<float> x(Shape({1, 3, 320, 256}), 0.2f);
    Tensor<float> s = tta::scale_img(x, 0.83, 32);
    // int(320 * 0.83) = 265 rows and int(256 * 0.83) = 212 columns of image, padded to 288 x 224
    REQUIRE(s.shape() == Shape({1, 3, 288, 224}));
    CHECK(s[264 * 224 + 211] == doctest::Approx(0.2f));
    CHECK(s[265 * 224 + 10] == doctest::Approx(0.447f));
    CHECK(s[10 * 224 + 212] == doctest::Approx(0.447f));
    Tensor<float> t({1, 2, 2, 3});
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = float(i);
    Tensor<float> f = tta::flip_lr(t);
    CHECK(f[0] == 2.0f);
    CHECK(f[2] == 0.0f);
    CHECK(f[3] == 5.0f);
    Tensor<float> ff = tta::flip_lr(f);
    for (int64_t i = 0; i < t.numel(); ++i) CHECK(ff[i] == t[i]);
  }

  TEST_CASE("augment: three passes, descaled, the full-size P5 and the smallest pass's P3 left out") {
    model::YoloModel m(model::load_model_spec("yolov5n.yaml"), 2, 3);
    m.eval();
    // a left-right symmetric picture, so the mirrored pass sees what the plain pass would
    const int64_t H = 128, W = 96;
    Tensor<float> x({1, 3, H, W});
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t i = 0; i < W; ++i) {
          const int64_t j = std::min(i, W - 1 - i);
          x[(c * H + y) * W + i] = float((j * 7 + y * 3 + c * 11) % 17) / 16.0f;
        }
    Tensor<float> all = forward_augment(m, x);
    const int64_t no = 7;
    REQUIRE(all.size(2) == no);
    // rows per pass: 3 anchors per cell on the P3, P4, P5 grids of each input size
    auto rows = [](int64_t h, int64_t w) {
      return std::vector<int64_t>{3 * (h / 8) * (w / 8), 3 * (h / 16) * (w / 16), 3 * (h / 32) * (w / 32)};
    };
    // 0.83: 106x79 of image padded to 128x96; 0.67: 85x64 padded to 96x96 (ceil(64.32 / 32) = 3)
    const auto r1 = rows(128, 96), r2 = rows(128, 96), r3 = rows(96, 96);
    const int64_t n1 = r1[0] + r1[1], n2 = r2[0] + r2[1] + r2[2], n3 = r3[1] + r3[2];
    REQUIRE(all.size(1) == n1 + n2 + n3);
    // pass 1 is the plain prediction without its P5 rows
    Tensor<float> plain = m.predict(x);
    for (int64_t i = 0; i < n1 * no; ++i) REQUIRE(all[i] == plain[i]);
    // pass 2: the 0.83 picture's prediction, divided by 0.83 and mirrored back
    Tensor<float> p2 = m.predict(tta::scale_img(x, 0.83, 32));
    const float inv2 = float(1.0 / 0.83);
    int bad = 0;
    for (int64_t r = 0; r < n2; ++r) {
      const float* a = all.data() + (n1 + r) * no;
      const float* b = p2.data() + r * no;
      bad += a[0] != float(W) - b[0] * inv2 || a[1] != b[1] * inv2 || a[2] != b[2] * inv2 || a[3] != b[3] * inv2 ||
             a[4] != b[4] || a[5] != b[5];
    }
    CHECK(bad == 0);
    // pass 3: the 0.67 picture's prediction from its P4 rows on, divided by 0.67
    Tensor<float> p3 = m.predict(tta::scale_img(x, 0.67, 32));
    const float inv3 = float(1.0 / 0.67);
    bad = 0;
    for (int64_t r = 0; r < n3; ++r) {
      const float* a = all.data() + (n1 + n2 + r) * no;
      const float* b = p3.data() + (r3[0] + r) * no;
      bad += a[0] != b[0] * inv3 || a[1] != b[1] * inv3 || a[2] != b[2] * inv3 || a[4] != b[4];
    }
    CHECK(bad == 0);
  }
}
