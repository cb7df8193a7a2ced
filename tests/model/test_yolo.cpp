// model/: building, modes, transfer learning, the yaml reader, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <yolite/autograd/ops.hpp>
#include <yolite/io/npy.hpp>
#include <yolite/model/cfg_yaml.hpp>
#include <yolite/model/yolo.hpp>

using namespace yolite;

namespace {
const std::string kFix = std::string(YOLITE_SHARED_DIR) + "/fixtures/";

std::vector<std::pair<std::string, Tensor<float>>> npz_floats(const io::Npz& z) {
  std::vector<std::pair<std::string, Tensor<float>>> f;
  for (auto& k : z.keys())
    if (k.find("num_batches_tracked") == std::string::npos) f.emplace_back(k, z.f32(k));
  return f;
}

// models/yolov5s.yaml as YOLOv5 ships it (v6.0+ layout, comments and all).
const char* kYolov5sYaml = R"(# YOLOv5 by Ultralytics, GPL-3.0 license

# Parameters
nc: 80  # number of classes
depth_multiple: 0.33  # model depth multiple
width_multiple: 0.50  # layer channel multiple
anchors:
  - [10,13, 16,30, 33,23]  # P3/8
  - [30,61, 62,45, 59,119]  # P4/16
  - [116,90, 156,198, 373,326]  # P5/32

# YOLOv5 v6.0 backbone
backbone:
  # [from, number, module, args]
  [[-1, 1, Conv, [64, 6, 2, 2]],  # 0-P1/2
   [-1, 1, Conv, [128, 3, 2]],  # 1-P2/4
   [-1, 3, C3, [128]],
   [-1, 1, Conv, [256, 3, 2]],  # 3-P3/8
   [-1, 6, C3, [256]],
   [-1, 1, Conv, [512, 3, 2]],  # 5-P4/16
   [-1, 9, C3, [512]],
   [-1, 1, Conv, [1024, 3, 2]],  # 7-P5/32
   [-1, 3, C3, [1024]],
   [-1, 1, SPPF, [1024, 5]],  # 9
  ]

# YOLOv5 v6.0 head
head:
  [[-1, 1, Conv, [512, 1, 1]],
   [-1, 1, nn.Upsample, [None, 2, 'nearest']],
   [[-1, 6], 1, Concat, [1]],  # cat backbone P4
   [-1, 3, C3, [512, False]],  # 13

   [-1, 1, Conv, [256, 1, 1]],
   [-1, 1, nn.Upsample, [None, 2, 'nearest']],
   [[-1, 4], 1, Concat, [1]],  # cat backbone P3
   [-1, 3, C3, [256, False]],  # 17 (P3/8-small)

   [-1, 1, Conv, [256, 3, 2]],
   [[-1, 14], 1, Concat, [1]],  # cat head P4
   [-1, 3, C3, [512, False]],  # 20 (P4/16-medium)

   [-1, 1, Conv, [512, 3, 2]],
   [[-1, 10], 1, Concat, [1]],  # cat head P5
   [-1, 3, C3, [1024, False]],  # 23 (P5/32-large)

   [[17, 20, 23], 1, Detect, [nc, anchors]],  # Detect(P3, P4, P5)
  ]
)";
}  // namespace

TEST_SUITE("model") {
  TEST_CASE("spec: scaling rules and names") {
    CHECK(model::scale_channels(64, 0.25) == 16);
    CHECK(model::scale_channels(64, 0.75) == 48);
    CHECK(model::scale_channels(1024, 1.25) == 1280);
    CHECK(model::scale_channels(100, 0.33) == 40);  // ceil(33/8)*8
    CHECK(model::scale_repeats(3, 0.33) == 1);
    CHECK(model::scale_repeats(9, 0.33) == 3);
    CHECK(model::scale_repeats(9, 0.67) == 6);
    CHECK(model::scale_repeats(3, 1.33) == 4);
    CHECK(model::scale_repeats(1, 0.33) == 1);
    CHECK(model::yolov5_spec("yolov5m.yaml").name == "yolov5m");
    CHECK(model::yolov5_spec("models/yolov5x.yaml").width_multiple == 1.25);
    CHECK(model::yolov5_spec("l").depth_multiple == 1.0);
    CHECK_THROWS_WITH_AS(model::yolov5_spec("yolov8s"), doctest::Contains("yolov8s"), Error);
  }

  TEST_CASE("model: named_parameters, strides, anchors, Detect prior biases") {
    auto m = model::make_yolov5("n", 5, 0);
    CHECK(m->named_parameters().size() == 177);  // 57 conv + 57*2 BN + 3*2 Detect
    CHECK(m->state_dict().size() == 349 - 57);    // minus the integer buffers
    CHECK(m->int_buffers().size() == 57);
    CHECK(m->stride() == std::vector<double>{8, 16, 32});
    Tensor<float> a = m->anchors_px();
    CHECK(a.at(2, 2, 0) == 373.f);
    CHECK(a.at(0, 1, 1) == 30.f);
    CHECK(m->detect().anchors.at(2, 2, 0) == doctest::Approx(373.0 / 32));
    CHECK(m->detect().no == 10);
    // bias = U(-1/sqrt(fan_in), +) + prior; check the prior is there, per level
    for (int l = 0; l < 3; ++l) {
      const auto& conv = *m->detect().convs[size_t(l)];
      const double bound = 1.0 / std::sqrt(double(conv.c1));
      const double s = m->stride()[size_t(l)];
      const double obj = std::log(8.0 / ((640.0 / s) * (640.0 / s))), cls = std::log(0.6 / (5 - 0.99));
      const Tensor<float>& b = conv.bias.value();
      for (int an = 0; an < 3; ++an) {
        CHECK(std::abs(b[an * 10 + 4] - obj) <= bound + 1e-6);
        for (int c = 0; c < 5; ++c) CHECK(std::abs(b[an * 10 + 5 + c] - cls) <= bound + 1e-6);
        CHECK(std::abs(b[an * 10 + 0]) <= bound + 1e-6);
      }
    }
    // same seed, same weights; another seed, other weights
    auto m2 = model::make_yolov5("n", 5, 0), m3 = model::make_yolov5("n", 5, 1);
    auto s1 = m->state_dict(), s2 = m2->state_dict(), s3 = m3->state_dict();
    bool same = true, differ = false;
    for (size_t i = 0; i < s1.size(); ++i) {
      same = same && std::equal(s1[i].second.begin(), s1[i].second.end(), s2[i].second.begin());
      differ = differ || !std::equal(s1[i].second.begin(), s1[i].second.end(), s3[i].second.begin());
    }
    CHECK(same);
    CHECK(differ);
  }

  TEST_CASE("transfer: a nc=5 checkpoint into a nc=3 model loads all but the 6 Detect convs") {
    auto m = model::make_yolov5("n", 3, 7);
    io::Npz z = io::load_npz(kFix + "yolov5n_nc5_seed0_state.npz");
    Tensor<float> head_before = m->detect().convs[0]->weight.value().clone();
    CHECK_THROWS_AS(m->load_state_dict(npz_floats(z), nn::LoadMode::strict), Error);
    auto rep = m->load_state_dict(npz_floats(z), nn::LoadMode::transfer);
    MESSAGE(rep.summary());
    CHECK(rep.total == 349);
    CHECK(rep.loaded.size() == 349 - 57 - 6);  // num_batches_tracked were not passed as ints
    REQUIRE(rep.mismatched.size() == 6);
    CHECK(rep.mismatched[0].rfind("model.24.m.0.weight: model [24, 64, 1, 1], source [30, 64, 1, 1]", 0) == 0);
    CHECK(rep.mismatched[5].rfind("model.24.m.2.bias", 0) == 0);
    CHECK(rep.unexpected.empty());
    CHECK(rep.missing.size() == 57);
    // loaded tensors equal the source; the head is left as initialised
    CHECK(std::equal(m->state_dict()[0].second.begin(), m->state_dict()[0].second.end(),
                     z.f32("model.0.conv.weight").begin()));
    const Tensor<float>& after = m->detect().convs[0]->weight.value();
    CHECK(std::equal(after.begin(), after.end(), head_before.begin()));
    Tensor<float> anc = z.f32("model.24.anchors");
    CHECK(std::equal(anc.begin(), anc.end(), m->detect().anchors.begin()));
  }

  TEST_CASE("Detect::decode_above: the rows of decode() with objectness above the threshold") {
    auto m = model::make_yolov5("n", 3, 5);
    Rng rng(12);
    std::vector<Tensor<float>> raw;
    for (auto [ny, nx] : {std::pair<int, int>{8, 6}, {4, 3}, {2, 2}}) {
      Tensor<float> r({2, 3 * 8, ny, nx});
      for (auto& v : r) v = float(rng.uniform(-4.0, 4.0));
      raw.push_back(r);
    }
    const Tensor<float> all = m->detect().decode(raw);  // [2, N, 8]
    for (int64_t b = 0; b < 2; ++b)
      for (float t : {0.0f, 0.25f, 0.9f, 1.0f}) {
        CAPTURE(b);
        CAPTURE(t);
        const Tensor<float> above = m->detect().decode_above(raw, b, t);
        std::vector<float> want;
        for (int64_t r = 0; r < all.size(1); ++r)
          if (all.at(b, r, 4) > t)
            for (int64_t k = 0; k < 8; ++k) want.push_back(all.at(b, r, k));
        REQUIRE(above.numel() == int64_t(want.size()));
        REQUIRE((above.numel() == 0 || above.size(1) == 8));
        int bad = 0;
        for (int64_t i = 0; i < above.numel(); ++i)
          bad += !(std::fabs(above[i] - want[size_t(i)]) <= 1e-6f * (1 + std::fabs(want[size_t(i)])));
        CHECK(bad == 0);
      }
    CHECK_THROWS_AS(m->detect().decode_above(raw, 2, 0.5f), Error);
  }

  TEST_CASE("train mode returns raw maps and records a graph; eval decodes") {
    auto m = model::make_yolov5("n", 2, 3);
    Rng rng(9);
    Tensor<float> x({2, 3, 64, 96});
    for (auto& v : x) v = rng.uniformf();
    auto out = (*m)(Var<float>(x));
    REQUIRE(out.raw.size() == 3);
    CHECK(out.raw[0].shape() == Shape({2, 21, 8, 12}));
    CHECK(out.raw[1].shape() == Shape({2, 21, 4, 6}));
    CHECK(out.raw[2].shape() == Shape({2, 21, 2, 3}));
    CHECK_FALSE(out.decoded.defined());
    CHECK(out.raw[0].requires_grad());
    CHECK(*m->int_buffers()[0].second == 1);
    // a loss through the whole network reaches the first conv
    ag::sum(ag::add(ag::mean(out.raw[0]), ag::add(ag::mean(out.raw[1]), ag::mean(out.raw[2])))).backward();
    const Tensor<float>& g = m->named_parameters()[0].second.grad();
    REQUIRE(g.defined());
    double n2 = 0;
    for (float v : g) n2 += double(v) * v;
    CHECK(n2 > 0);
    CHECK(std::isfinite(n2));

    m->eval();
    auto ev = (*m)(Var<float>(x));
    REQUIRE(ev.decoded.defined());
    CHECK(ev.decoded.shape() == Shape({2, 3 * (96 + 24 + 6), 7}));
    CHECK(*m->int_buffers()[0].second == 1);  // eval: running stats untouched
    // predict() restores the training mode it found
    m->train();
    Tensor<float> p = m->predict(x);
    CHECK(m->is_training());
    CHECK(std::equal(p.begin(), p.end(), ev.decoded.begin()));
    // decoded values: boxes inside plausible ranges, probabilities in (0, 1)
    for (int64_t r = 0; r < p.size(1); ++r) {
      CHECK(p.at(1, r, 2) > 0);
      CHECK(p.at(1, r, 4) > 0);
      CHECK(p.at(1, r, 4) < 1);
    }
  }

  TEST_CASE("decode: row order level, anchor, gy, gx and YOLOv5's formulas") {
    auto m = model::make_yolov5("n", 1, 0);
    const auto& det = m->detect();
    std::vector<Tensor<float>> raw;
    int64_t sizes[3][2] = {{2, 3}, {1, 2}, {1, 1}};
    for (int l = 0; l < 3; ++l) {
      Tensor<float> r({1, 18, sizes[l][0], sizes[l][1]});
      for (int64_t i = 0; i < r.numel(); ++i) r[i] = float(std::sin(0.37 * double(i) + l));
      raw.push_back(r);
    }
    Tensor<float> y = det.decode(raw);
    REQUIRE(y.shape() == Shape({1, 3 * 6 + 3 * 2 + 3 * 1, 6}));
    auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
    // level 0, anchor 2, gy 1, gx 0 -> row (2*2 + 1)*3 + 0 = 15
    const Tensor<float>& r0 = raw[0];
    auto logit = [&](int k) { return double(r0.at(0, 2 * 6 + k, 1, 0)); };
    CHECK(y.at(0, 15, 0) == doctest::Approx((2 * sig(logit(0)) - 0.5 + 0) * 8).epsilon(1e-5));
    CHECK(y.at(0, 15, 1) == doctest::Approx((2 * sig(logit(1)) - 0.5 + 1) * 8).epsilon(1e-5));
    CHECK(y.at(0, 15, 2) == doctest::Approx(std::pow(2 * sig(logit(2)), 2) * 33).epsilon(1e-5));
    CHECK(y.at(0, 15, 3) == doctest::Approx(std::pow(2 * sig(logit(3)), 2) * 23).epsilon(1e-5));
    CHECK(y.at(0, 15, 5) == doctest::Approx(sig(logit(5))).epsilon(1e-6));
    // level 1 starts at row 18: anchor 1, gy 0, gx 1 -> 18 + (1*1 + 0)*2 + 1 = 21
    CHECK(y.at(0, 21, 2) == doctest::Approx(std::pow(2 * sig(raw[1].at(0, 6 + 2, 0, 1)), 2) * 62).epsilon(1e-5));
    // the (B, na, ny, nx, no) view
    Tensor<float> v = model::Detect<float>::to_yolov5_layout(raw[0], 3);
    CHECK(v.shape() == Shape({1, 3, 2, 3, 6}));
    CHECK(v.at(0, 2, 1, 0, 3) == r0.at(0, 2 * 6 + 3, 1, 0));
  }

  TEST_CASE("yaml: YOLOv5's yolov5s.yaml text gives the built-in spec; custom yamls build") {
    auto s = model::spec_from_json(model::parse_model_yaml(kYolov5sYaml, "yolov5s.yaml"), "yolov5s");
    auto b = model::yolov5_spec("s");
    CHECK(s.nc == 80);
    CHECK(s.depth_multiple == 0.33);
    CHECK(s.width_multiple == 0.5);
    CHECK(s.anchors == b.anchors);
    CHECK(s.backbone_size == 10);
    REQUIRE(s.layers.size() == 25);
    for (size_t i = 0; i < 25; ++i) {
      INFO("layer ", i);
      CHECK(s.layers[i].from == b.layers[i].from);
      CHECK(s.layers[i].repeats == b.layers[i].repeats);
      CHECK(s.layers[i].block == b.layers[i].block);
      CHECK(s.layers[i].args == b.layers[i].args);
    }
    // a custom file: two detection levels, block-list layout, fewer channels
    auto dir = std::filesystem::temp_directory_path() / "yolite_test_model_yaml";
    std::filesystem::create_directories(dir);
    auto path = (dir / "tiny.yaml").string();
    {
      std::ofstream f(path);
      f << "nc: 3\ndepth_multiple: 1.0\nwidth_multiple: 0.25\n"
           "anchors:\n  - [10,13, 16,30]\n  - [30,61, 62,45]\n"
           "backbone:\n  - [-1, 1, Conv, [32, 3, 2]]   # 0 /2\n  - [-1, 1, Conv, [64, 3, 2]]\n"
           "  - [-1, 2, C3, [64]]\n  - [-1, 1, Conv, [128, 3, 2]]  # 3 /8\n"
           "  - [-1, 1, Conv, [128, 3, 2]]  # 4 /16\n  - [-1, 1, SPPF, [128, 5]]\n"
           "head:\n  - [-1, 1, nn.Upsample, [None, 2, 'nearest']]\n  - [[-1, 3], 1, Concat, [1]]\n"
           "  - [-1, 1, C3, [64, False]]   # 8\n  - [[8, 5], 1, Detect, [nc, anchors]]\n";
    }
    auto t = model::load_model_spec(path);
    CHECK(t.name == "tiny");
    model::YoloModel tiny(t, 0, 1);
    CHECK(tiny.nc() == 3);
    CHECK(tiny.stride() == std::vector<double>{8, 16});
    CHECK(tiny.state_keys()[0].name == "model.0.conv.weight");
    CHECK(tiny.state_keys()[0].shape == Shape({8, 3, 3, 3}));
    Tensor<float> y = tiny.predict(Tensor<float>({1, 3, 32, 64}));
    CHECK(y.shape() == Shape({1, 2 * (4 * 8) + 2 * (2 * 4), 8}));
    // built-in names need no file
    CHECK(model::load_model_spec("yolov5n.yaml").name == "yolov5n");
    CHECK_THROWS_WITH_AS(model::load_model_spec((dir / "missing.yaml").string()),
                         doctest::Contains("missing.yaml"), Error);
    // errors name the file and line / layer
    {
      std::ofstream f(dir / "bad.yaml");
      f << "nc: 3\nanchors:\n  - [10,13]\nbackbone:\n  [[-1, 1, Conv, [16, 3, 2]],\n   [-1, 1, Conv, [16, 3, 2]]\nhead: []\n";  // unterminated
    }
    CHECK_THROWS_WITH_AS(model::load_model_spec((dir / "bad.yaml").string()),
                         doctest::Contains("bad.yaml:"), Error);
    {
      std::ofstream f(dir / "unknown.yaml");
      f << "nc: 3\nanchors:\n  - [10,13]\nbackbone:\n  - [-1, 1, Focus, [16, 3]]\nhead:\n  - [[0], 1, Detect, [nc, anchors]]\n";
    }
    auto u = model::load_model_spec((dir / "unknown.yaml").string());
    CHECK_THROWS_WITH_AS(model::YoloModel(u, 0), doctest::Contains("Focus"), Error);
    std::filesystem::remove_all(dir);
  }

  TEST_CASE("errors: wrong input shapes name the model and what is expected") {
    auto m = model::make_yolov5("n", 2);
    CHECK_THROWS_WITH_AS(m->predict(Tensor<float>({1, 3, 100, 96})), doctest::Contains("multiples of 32"), Error);
    CHECK_THROWS_WITH_AS(m->predict(Tensor<float>({1, 1, 64, 64})), doctest::Contains("[B, 3, H, W]"), Error);
    CHECK_THROWS_WITH_AS(m->predict(Tensor<float>({3, 64, 64})), doctest::Contains("yolov5n"), Error);
    model::ModelSpec s = model::yolov5_spec("n");
    s.layers[12].from = {-1, 30};
    CHECK_THROWS_WITH_AS(model::YoloModel(s, 2), doctest::Contains("layer 12"), Error);
    s = model::yolov5_spec("n");
    s.layers[12].from = {-1, 2};  // stride 4 with stride 16: cannot concatenate
    CHECK_THROWS_WITH_AS(model::YoloModel(s, 2), doctest::Contains("different resolutions"), Error);
  }
}
