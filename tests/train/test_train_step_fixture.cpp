// One YOLOv5 training step end to end against PyTorch ("training parity"; the idea of
// llm.c's test_gpt2): the yolov5n fixture checkpoint is loaded from its .pt, put in train mode and
// run on the fixture batch; then every stage is compared with what YOLOv5 v7.0 train.py computed
// at iteration 0 (shared/fixtures/yolov5n_nc5_seed0_train.npz, see fixtures/README.md, section
// "yolov5n_nc5_seed0_train.npz: one training step", for the setup and the tolerances used here):
//   1. the raw head outputs p0/p1/p2,
//   2. BatchNorm running statistics after the train-mode forward (and num_batches_tracked 4 -> 5),
//   3. build_targets (indices, classes, boxes, anchors; compared as sets),
//   4. the loss items and total,
//   5. all 177 parameter gradients and their total norm (clip_grad_norm at 10 is a no-op),
//   6. the SGD step, with train.py's warm-up (iteration 0) and without it, fed with OUR gradients.
// A one-line summary of the worst error/tolerance ratio per stage is printed (1.0 = at the limit).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <yolite/io/npy.hpp>
#include <yolite/loss/yolo_loss.hpp>
#include <yolite/optim/param_groups.hpp>
#include <yolite/optim/schedule.hpp>
#include <yolite/optim/sgd.hpp>
#include <yolite/train/weights.hpp>

using namespace yolite;

namespace {

const std::string kFix = std::string(YOLITE_SHARED_DIR) + "/fixtures/";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One positive of build_targets, comparable as a set element.
struct Positive {
  std::array<int64_t, 4> idx{};  // b, a, gj, gi
  int64_t cls = 0;
  std::array<double, 4> box{};
  std::array<double, 2> anchor{};
  bool operator<(const Positive& o) const { return idx < o.idx || (idx == o.idx && cls < o.cls); }
};

}  // namespace

TEST_SUITE("train") {
  TEST_CASE("training step parity with PyTorch: yolov5n forward, targets, loss, gradients, SGD step") {
    const auto t_start = std::chrono::steady_clock::now();
    const io::Npz tr = io::load_npz(kFix + "yolov5n_nc5_seed0_train.npz");
    const model::Weights w = model::read_weights(kFix + "yolov5n_nc5_seed0.pt");
    REQUIRE(w.nc == 5);
    auto m = model::build_model(w);
    m->train();  // train.py: model.train(); every parameter requires grad

    // The starting weights (p0 of the README's after_step tolerance) and their optimizer group.
    optim::NamedParams<float> params = m->named_parameters();
    REQUIRE(params.size() == 177);
    std::map<std::string, Tensor<float>> start;
    for (auto& [n, v] : params) start[n] = v.value().clone();
    std::map<std::string, int64_t> nbt_before;
    for (auto& [n, p] : m->int_buffers()) nbt_before[n] = *p;
    REQUIRE(nbt_before.size() == 57);

    // ---- 1. forward (train mode) ------------------------------------------------------------
    const Tensor<float> x = tr.f32("x");
    const Tensor<float> targets = tr.f32("targets");
    REQUIRE(x.shape() == Shape({2, 3, 320, 320}));
    std::vector<Var<float>> maps = m->forward_raw(Var<float>(x));
    REQUIRE(maps.size() == 3);
    const int64_t na = 3, no = 10;
    double worst_p = 0;
    for (int l = 0; l < 3; ++l) {
      const Tensor<float> ref = tr.f32("p" + std::to_string(l));  // (B, na, ny, nx, no)
      const Tensor<float>& got = maps[size_t(l)].value();         // (B, na*no, ny, nx)
      REQUIRE(ref.ndim() == 5);
      const int64_t B = ref.size(0), ny = ref.size(2), nx = ref.size(3);
      REQUIRE(got.shape() == Shape({B, na * no, ny, nx}));
      int64_t bad = 0;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t a = 0; a < na; ++a)
          for (int64_t y = 0; y < ny; ++y)
            for (int64_t xx = 0; xx < nx; ++xx)
              for (int64_t k = 0; k < no; ++k) {
                const double r = ref.at(b, a, y, xx, k), g = got.at(b, a * no + k, y, xx);
                const double ratio = std::abs(g - r) / (1e-3 + 1e-3 * std::abs(r));
                worst_p = std::max(worst_p, ratio);
                bad += ratio > 1.0;
              }
      INFO("level ", l);
      CHECK(bad == 0);
    }

    // ---- 2. BatchNorm running statistics after the forward ----------------------------------
    double worst_bn = 0;
    int n_bn = 0;
    for (auto& [key, t] : m->state_dict()) {
      const bool is_mean = ends_with(key, ".running_mean"), is_var = ends_with(key, ".running_var");
      if (!is_mean && !is_var) continue;
      const std::string bn = key.substr(0, key.rfind('.'));
      const Tensor<float> ref = tr.f32((is_mean ? "bn_running_mean/" : "bn_running_var/") + bn);
      REQUIRE(ref.shape() == t.shape());
      double wt = 0;
      for (int64_t i = 0; i < t.numel(); ++i) {
        const double r = ref[i], d = std::abs(double(t[i]) - r);
        wt = std::max(wt, d / (is_mean ? 1e-5 + 1e-5 * std::abs(r) : 1e-5 * std::abs(r)));
      }
      INFO(key);
      CHECK(wt <= 1.0);
      worst_bn = std::max(worst_bn, wt);
      ++n_bn;
    }
    CHECK(n_bn == 2 * 57);
    for (auto& [n, p] : m->int_buffers()) {
      INFO(n);
      const std::string bn = n.substr(0, n.rfind('.'));
      CHECK(nbt_before[n] == 4);
      CHECK(*p == 5);
      CHECK(tr.i64("bn_num_batches_tracked/" + bn) == std::vector<int64_t>{5});
    }

    // ---- 3. build_targets, with the anchors the checkpoint carries -------------------------
    const loss::AnchorSet anchors_px = loss::anchors_px_from_grid(m->detect().anchors, m->stride());
    CHECK(anchors_px == loss::yolov5_anchors_px());
    std::vector<loss::GridSize> grids;
    for (auto& mp : maps) grids.push_back({mp.shape()[2], mp.shape()[3]});
    const auto levels = loss::build_targets<float>(
        targets, grids, loss::anchors_in_grid_units<float>(anchors_px, m->stride()), 4.0);
    REQUIRE(levels.size() == 3);
    const size_t expected_n[3] = {42, 27, 18};
    double worst_tb = 0;
    for (int l = 0; l < 3; ++l) {
      INFO("level ", l);
      const auto& lv = levels[size_t(l)];
      const std::string s = std::to_string(l);
      const std::vector<int64_t> tcls = tr.i64("tcls_" + s);
      const std::vector<int64_t> ind = tr.i64("indices_" + s);  // (4, n) row-major
      const Tensor<float> tbox = tr.f32("tbox_" + s), anch = tr.f32("anch_" + s);
      const size_t n = tcls.size();
      CHECK(n == expected_n[l]);
      REQUIRE(lv.size() == n);
      std::vector<Positive> mine(n), ref(n);
      for (size_t k = 0; k < n; ++k) {
        mine[k].idx = lv.idx[k];
        mine[k].cls = lv.cls[k];
        for (int c = 0; c < 4; ++c) mine[k].box[size_t(c)] = lv.box[k][size_t(c)];
        for (int c = 0; c < 2; ++c) mine[k].anchor[size_t(c)] = lv.anchor[k][size_t(c)];
        for (size_t r = 0; r < 4; ++r) ref[k].idx[r] = ind[r * n + k];
        ref[k].cls = tcls[k];
        for (int c = 0; c < 4; ++c) ref[k].box[size_t(c)] = tbox.at(int64_t(k), c);
        for (int c = 0; c < 2; ++c) ref[k].anchor[size_t(c)] = anch.at(int64_t(k), c);
      }
      std::sort(mine.begin(), mine.end());
      std::sort(ref.begin(), ref.end());
      for (size_t k = 0; k < n; ++k) {
        INFO("positive ", k, " (b, a, gj, gi) = (", ref[k].idx[0], ", ", ref[k].idx[1], ", ",
             ref[k].idx[2], ", ", ref[k].idx[3], ")");
        CHECK(mine[k].idx == ref[k].idx);
        CHECK(mine[k].cls == ref[k].cls);
        for (int c = 0; c < 4; ++c)
          worst_tb = std::max(worst_tb, std::abs(mine[k].box[size_t(c)] - ref[k].box[size_t(c)]) / 1e-5);
        for (int c = 0; c < 2; ++c)
          worst_tb = std::max(worst_tb,
                              std::abs(mine[k].anchor[size_t(c)] - ref[k].anchor[size_t(c)]) / 1e-5);
      }
    }
    CHECK(worst_tb <= 1.0);

    // ---- 4. the loss (train.py's gains for nc=5, nl=3, imgsz=320) ----------------------------
    const loss::LossConfig cfg = loss::scale_loss_gains(loss::LossConfig{}, 5, 3, 320);
    CHECK(cfg.box == doctest::Approx(0.05));
    CHECK(cfg.obj == doctest::Approx(0.25));
    CHECK(cfg.cls == doctest::Approx(0.03125));
    auto out = loss::yolo_loss<float>(maps, targets, anchors_px, m->stride(), cfg);
    const Tensor<float> items_ref = tr.f32("loss_items");
    const double total_ref = tr.f32("loss_total")[0];
    double worst_loss = std::abs(double(out.total.value()[0]) - total_ref) / (1e-5 * total_ref);
    for (int i = 0; i < 3; ++i)
      worst_loss = std::max(worst_loss, std::abs(out.items[size_t(i)] - double(items_ref[i])) /
                                            (1e-5 * std::abs(double(items_ref[i]))));
    CHECK(worst_loss <= 1.0);
    CHECK(total_ref == doctest::Approx(0.3480823).epsilon(1e-6));  // the fixture is the one described

    // ---- 5. backward: every gradient, the total norm ----------------------------------------
    out.total.backward();
    double worst_g = 0;
    std::string worst_g_name;
    for (auto& [n, v] : params) {
      INFO(n);
      REQUIRE(v.grad().defined());
      const Tensor<float> ref = tr.f32("grad/" + n);
      REQUIRE(ref.shape() == v.shape());
      double mb = 0, md = 0;
      for (int64_t i = 0; i < ref.numel(); ++i) {
        mb = std::max(mb, double(std::abs(ref[i])));
        md = std::max(md, std::abs(double(ref[i]) - double(v.grad()[i])));
      }
      REQUIRE(mb > 0);  // every parameter receives a gradient in this fixture
      const double r = md / (1e-3 * mb);
      CHECK(r <= 1.0);
      if (r > worst_g) worst_g = r, worst_g_name = n;
    }
    std::map<std::string, Tensor<float>> grads;
    for (auto& [n, v] : params) grads[n] = v.grad().clone();
    const double norm = optim::clip_grad_norm(params, 10.0);
    const double norm_ref = tr.f32("grad_total_norm")[0];
    const double worst_norm = std::abs(norm - norm_ref) / (1e-4 * norm_ref);
    CHECK(worst_norm <= 1.0);
    REQUIRE(norm < 10.0);
    for (auto& [n, v] : params) {  // below max_norm, clipping leaves the gradients alone
      const Tensor<float>& g = v.grad();
      bool same = true;
      for (int64_t i = 0; i < g.numel(); ++i) same = same && g[i] == grads[n][i];
      INFO(n);
      CHECK(same);
    }

    // ---- 6. the SGD step (nesterov, YOLOv5's three groups), warm-up and plain ----------------
    double worst_step[2] = {0, 0};
    for (int variant = 0; variant < 2; ++variant) {
      const bool warm = variant == 0;
      INFO((warm ? "after_step (warm-up, iteration 0)" : "after_step_plain"));
      for (auto& [n, v] : params) v.value().copy_from(start[n]);  // same start, same gradients
      optim::SGD<float> opt(optim::yolo_param_groups(params, 0.01, 0.937, 5e-4), true);
      if (warm) {
        const auto ws = optim::warmup(0, optim::warmup_iterations(4), 0, optim::linear_lr(300, 0.01),
                                      opt.groups(), optim::WarmupHyp{}, 2);
        CHECK(ws.accumulate == 1);  // so train.py steps at iteration 0
        optim::apply_warmup(ws, opt.groups());
      }
      const Tensor<double> gref = tr.f64(warm ? "opt_groups_warmup" : "opt_groups_plain");
      REQUIRE(opt.groups().size() == 3);
      const size_t expected_members[3] = {60, 60, 57};
      for (int g = 0; g < 3; ++g) {
        INFO("group ", g);
        const auto& grp = opt.groups()[size_t(g)];
        CHECK(grp.params.size() == expected_members[g]);
        CHECK(grp.lr == doctest::Approx(gref.at(g, 0)).epsilon(1e-12));
        CHECK(grp.momentum == doctest::Approx(gref.at(g, 1)).epsilon(1e-12));
        CHECK(grp.weight_decay == doctest::Approx(gref.at(g, 2)).epsilon(1e-12));
      }
      opt.step();
      const std::string prefix = warm ? "after_step/" : "after_step_plain/";
      for (int g = 0; g < 3; ++g) {
        const bool frozen = opt.groups()[size_t(g)].lr == 0.0;
        for (auto& [n, v] : opt.groups()[size_t(g)].params) {
          INFO(n);
          const Tensor<float> ref = tr.f32(prefix + n);
          const Tensor<float>& p0 = start[n];
          const Tensor<float>& a = v.value();
          if (frozen) {  // lr 0: the parameter must not move, and the fixture's did not either
            bool same = true;
            for (int64_t i = 0; i < a.numel(); ++i) same = same && a[i] == p0[i] && ref[i] == p0[i];
            CHECK(same);
            continue;
          }
          double moved = 0;
          for (int64_t i = 0; i < ref.numel(); ++i)
            moved = std::max(moved, std::abs(double(ref[i]) - double(p0[i])));
          REQUIRE(moved > 0);
          double wt = 0;
          for (int64_t i = 0; i < ref.numel(); ++i) {
            const double tol = 1e-3 * moved + 1e-6 * std::abs(double(ref[i]));
            wt = std::max(wt, std::abs(double(a[i]) - double(ref[i])) / tol);
          }
          CHECK(wt <= 1.0);
          worst_step[variant] = std::max(worst_step[variant], wt);
        }
      }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    std::printf(
        "train step parity (worst error/tolerance, must be <= 1): p %.3g, bn stats %.3g, "
        "tbox/anch %.3g, loss %.3g, grads %.3g (%s), norm %.3g, after_step %.3g, "
        "after_step_plain %.3g; %.1f s\n",
        worst_p, worst_bn, worst_tb, worst_loss, worst_g, worst_g_name.c_str(), worst_norm,
        worst_step[0], worst_step[1], secs);
  }
}
