// Model size and cost as YOLOv5 reports them (model/summary.hpp).
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include <yolite/model/summary.hpp>

using namespace yolite;

namespace {
std::string one_decimal(double v) { return model::ModelSummary::fmt1(v); }
}  // namespace

TEST_SUITE("model") {
  TEST_CASE("summary: n/s/m/l/x at nc 80 match YOLOv5's README (params M, GFLOPs@640)") {
    struct Row {
      const char* scale;
      const char* params_m;
      const char* gflops;
      int64_t exact_params;  // YOLOv5's unfused count at nc 80
      int64_t layers;        // len(list(model.modules())), as YOLOv5 prints it
      int64_t bns;           // BatchNorm2d modules (one per Conv block)
    };
    const Row rows[] = {{"n", "1.9", "4.5", 1872157, 214, 57},
                        {"s", "7.2", "16.5", 7235389, 214, 57},
                        {"m", "21.2", "49.0", 21190557, 291, 79},
                        {"l", "46.5", "109.1", 46563709, 368, 101},
                        {"x", "86.7", "205.7", 86749405, 445, 123}};
    for (const Row& r : rows) {
      auto m = model::make_yolov5(r.scale, 80);
      auto s = model::summarize(*m);
      INFO(s.line(), " | fused: ", s.fused_line());
      CHECK(s.parameters == r.exact_params);
      CHECK(s.gradients == s.parameters);
      CHECK(one_decimal(double(s.fused_parameters) / 1e6) == r.params_m);
      CHECK(one_decimal(s.fused_gflops) == r.gflops);
      CHECK(s.fused_parameters < s.parameters);
      CHECK(s.layers == r.layers);
      CHECK(s.layers - s.fused_layers == r.bns);
    }
  }

  TEST_CASE("summary: yolov5s lines as YOLOv5 prints them") {
    auto s = model::summarize(*model::make_yolov5("yolov5s.yaml", 80));
    CHECK(s.line() == "YOLOv5s summary: 214 layers, 7235389 parameters, 7235389 gradients, 16.6 GFLOPs");
    CHECK(s.fused_line() == "YOLOv5s summary: 157 layers, 7225885 parameters, 0 gradients, 16.5 GFLOPs");
    auto n = model::summarize(*model::make_yolov5("n", 80));
    CHECK(n.line() == "YOLOv5n summary: 214 layers, 1872157 parameters, 1872157 gradients, 4.6 GFLOPs");
  }

  TEST_CASE("summary: parameter counts at nc 5 (the fixtures')") {
    CHECK(model::make_yolov5("n", 5)->num_parameters() == 1770682);
    CHECK(model::make_yolov5("s", 5)->num_parameters() == 7033114);
  }

  TEST_CASE("layer_table: one row per layer with YOLOv5's arguments") {
    auto m = model::make_yolov5("s", 80);
    std::string t = model::layer_table(*m);
    CHECK(t.find("[3, 32, 6, 2, 2]") != std::string::npos);
    CHECK(t.find("[17, 20, 23]") != std::string::npos);
    CHECK(t.find("[80, anchors, [128, 256, 512]]") != std::string::npos);
    CHECK(t.find("models.common.SPPF") != std::string::npos);
    int lines = 0;
    for (char c : t) lines += c == '\n';
    CHECK(lines == 26);  // header + 25 layers
  }
}
