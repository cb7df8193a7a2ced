// Optimizer parity with YOLOv5 v7.0 train.py's first step (shared/fixtures/
// yolov5n_nc5_seed0_train.npz): the fixture's gradients fed to the fixture weights
// (yolov5n_nc5_seed0_state.npz) through our groups, warm-up, clipping and SGD reproduce
// after_step/* and after_step_plain/*.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include <yolite/io/npy.hpp>
#include <yolite/optim/param_groups.hpp>
#include <yolite/optim/schedule.hpp>
#include <yolite/optim/sgd.hpp>

using namespace yolite;
using namespace yolite::optim;

namespace {

const io::Npz& train_npz() {
  static const io::Npz z =
      io::load_npz(std::string(YOLITE_SHARED_DIR) + "/fixtures/yolov5n_nc5_seed0_train.npz");
  return z;
}
const io::Npz& state_npz() {
  static const io::Npz z =
      io::load_npz(std::string(YOLITE_SHARED_DIR) + "/fixtures/yolov5n_nc5_seed0_state.npz");
  return z;
}

// The 177 parameters (every key with a grad/ entry), fresh copies of the fixture weights, with
// the fixture's gradients attached.
NamedParams<float> fixture_params() {
  NamedParams<float> ps;
  for (const auto& k : train_npz().keys()) {
    if (k.rfind("grad/", 0) != 0) continue;
    const std::string name = k.substr(5);
    Var<float> v(state_npz().f32(name).clone(), true);
    v.grad() = train_npz().f32(k).clone();
    ps.emplace_back(name, v);
  }
  return ps;
}

// |a - b| <= 1e-7 + 1e-6 |b| for every element; returns the number of violations.
int64_t count_bad(const Tensor<float>& a, const Tensor<float>& b) {
  int64_t bad = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    bad += !(std::abs(double(a[i]) - double(b[i])) <= 1e-7 + 1e-6 * std::abs(double(b[i])));
  return bad;
}

}  // namespace

TEST_SUITE("optim") {
  TEST_CASE("parameter groups of the yolov5n fixture") {
    auto ps = fixture_params();
    REQUIRE(ps.size() == 177);
    auto g = yolo_param_groups(ps, 0.01, 0.937, 5e-4);
    const size_t tensors[3] = {60, 60, 57};
    const int64_t values[3] = {4842, 1761088, 4752};
    for (int i = 0; i < 3; ++i) {
      CHECK(g[size_t(i)].params.size() == tensors[i]);
      int64_t n = 0;
      for (auto& [name, v] : g[size_t(i)].params) n += v.value().numel();
      CHECK(n == values[i]);
    }
  }

  TEST_CASE("warm-up step (train.py, ni = 0) reproduces after_step/*") {
    const auto& z = train_npz();
    auto ps = fixture_params();
    SGD<float> opt(yolo_param_groups(ps, 0.01, 0.937, 5e-4), /*nesterov=*/true);
    // train.py at ni = 0: nw = max(round(3 * nb), 100); any nw > 0 gives the start values.
    const int64_t nw = warmup_iterations(1, 3.0);
    auto w = warmup(0, nw, 0, linear_lr(300, 0.01), opt.groups(), WarmupHyp{}, 2);
    CHECK(w.accumulate == 1);
    apply_warmup(w, opt.groups());
    Tensor<double> og = z.f64("opt_groups_warmup");  // rows: groups; cols: lr, momentum, wd
    for (int j = 0; j < 3; ++j) {
      CHECK(opt.groups()[size_t(j)].lr == og.at(j, 0));
      CHECK(opt.groups()[size_t(j)].momentum == og.at(j, 1));
      CHECK(opt.groups()[size_t(j)].weight_decay == og.at(j, 2));
    }
    const double norm = clip_grad_norm(ps, 10.0);
    const double ref_norm = double(z.f32("grad_total_norm")[0]);
    CHECK(std::abs(norm - ref_norm) <= 1e-4 * ref_norm);
    opt.step();
    int moved = 0, unchanged_ok = 0;
    for (auto& [name, v] : ps) {
      INFO("parameter ", name);
      Tensor<float> ref = z.f32("after_step/" + name);
      CHECK(count_bad(v.value(), ref) == 0);
      if (yolo_group_of(name) == 0) {
        ++moved;
      } else {  // lr 0: bit-identical to the starting weights
        Tensor<float> p0 = state_npz().f32(name);
        bool same = true;
        for (int64_t i = 0; i < p0.numel(); ++i) same = same && v.value()[i] == p0[i];
        unchanged_ok += same;
      }
    }
    CHECK(moved == 60);
    CHECK(unchanged_ok == 117);
    // every parameter now has a momentum buffer (filled even where lr is 0)
    CHECK(opt.state_dict().size() == 177);
  }

  TEST_CASE("plain step (lr 0.01, momentum 0.937, nesterov) reproduces after_step_plain/*") {
    const auto& z = train_npz();
    auto ps = fixture_params();
    SGD<float> opt(yolo_param_groups(ps, 0.01, 0.937, 5e-4), /*nesterov=*/true);
    Tensor<double> og = z.f64("opt_groups_plain");
    for (int j = 0; j < 3; ++j) {
      CHECK(opt.groups()[size_t(j)].lr == og.at(j, 0));
      CHECK(opt.groups()[size_t(j)].momentum == og.at(j, 1));
      CHECK(opt.groups()[size_t(j)].weight_decay == og.at(j, 2));
    }
    clip_grad_norm(ps, 10.0);
    opt.step();
    int64_t bad = 0;
    double worst = 0;
    for (auto& [name, v] : ps) {
      Tensor<float> ref = z.f32("after_step_plain/" + name);
      bad += count_bad(v.value(), ref);
      for (int64_t i = 0; i < ref.numel(); ++i)
        worst = std::max(worst, std::abs(double(v.value()[i]) - double(ref[i])));
    }
    INFO("worst |a - b| = ", worst);
    CHECK(bad == 0);
    // The same step without Nesterov misses by far more than the tolerance (README: 1.8e-3).
    auto ps2 = fixture_params();
    SGD<float> classic(yolo_param_groups(ps2, 0.01, 0.937, 5e-4), /*nesterov=*/false);
    classic.step();
    int64_t bad2 = 0;
    for (auto& [name, v] : ps2) bad2 += count_bad(v.value(), z.f32("after_step_plain/" + name));
    CHECK(bad2 > 1000);
  }
}
