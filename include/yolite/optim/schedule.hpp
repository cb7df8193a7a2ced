// optim/schedule.hpp -- YOLOv5's learning-rate lambdas, warm-up and gradient accumulation.
//
//   optim::LrLambda lf = optim::linear_lr(epochs, /*lrf=*/0.01);   // or optim::one_cycle_lr
//   int64_t nw = optim::warmup_iterations(nb /*batches per epoch*/, 3.0);
//   for each iteration ni (= i + nb * epoch):
//     auto w = optim::warmup(ni, nw, epoch, lf, opt.groups(), hyp, batch_size);
//     if (w.active) optim::apply_warmup(w, opt.groups());            // per-group lr and momentum
//     ... backward; if (ni - last_opt_step >= w.accumulate) step ...
//   at the end of each epoch: optim::set_epoch_lr(opt.groups(), lf, epoch + 1);  // LambdaLR
//
// Facts (train.py v7.0):
//   linear:     lf(e) = (1 - e/epochs) * (1 - lrf) + lrf
//   one-cycle:  lf(e) = ((1 - cos(e*pi/epochs)) / 2) * (lrf - 1) + 1      (--cos-lr)
//   LambdaLR:   lr = initial_lr * lf(epoch)
//   warm-up iterations nw = max(round(warmup_epochs * nb), 100); while ni <= nw, with
//   xi = [0, nw] and np.interp:
//     accumulate = max(1, round(interp(ni, xi, [1, nbs / batch])))
//     group j lr = interp(ni, xi, [warmup_bias_lr if j == 0 else 0, initial_lr * lf(epoch)])
//     group momentum = interp(ni, xi, [warmup_momentum, momentum])
//   Python's round() rounds halves to even; so does py_round here.
// Group 0 is the bias group (optim/param_groups.hpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numbers>
#include <vector>

#include "../core/error.hpp"
#include "param_groups.hpp"

namespace yolite::optim {

using LrLambda = std::function<double(double epoch)>;

// (1 - e/epochs) * (1 - lrf) + lrf
inline LrLambda linear_lr(int epochs, double lrf) {
  YOLITE_CHECK(epochs > 0, "linear_lr: epochs is ", epochs, ", expected > 0");
  return [epochs, lrf](double e) { return (1.0 - e / epochs) * (1.0 - lrf) + lrf; };
}

// ((1 - cos(e*pi/epochs)) / 2) * (lrf - 1) + 1  (YOLOv5's one_cycle(1, lrf, epochs))
inline LrLambda one_cycle_lr(int epochs, double lrf) {
  YOLITE_CHECK(epochs > 0, "one_cycle_lr: epochs is ", epochs, ", expected > 0");
  return [epochs, lrf](double e) {
    return ((1.0 - std::cos(e * std::numbers::pi / epochs)) / 2.0) * (lrf - 1.0) + 1.0;
  };
}

// numpy.interp(x, [x0, x1], [y0, y1]) for x0 < x1, computed as numpy does:
// y0 below x0, y1 at or above x1, else slope * (x - x0) + y0.
inline double np_interp(double x, double x0, double x1, double y0, double y1) {
  if (x <= x0) return y0;  // numpy returns fp[0] for x <= xp[0]
  if (x >= x1) return y1;
  double slope = (y1 - y0) / (x1 - x0);
  return slope * (x - x0) + y0;
}

// Python's round(): nearest integer, halves to even.
inline int64_t py_round(double x) {
  double f = std::floor(x), d = x - f;
  double r = d > 0.5 ? f + 1 : (d < 0.5 ? f : (std::fmod(f, 2.0) == 0 ? f : f + 1));
  return int64_t(r);
}

// max(round(warmup_epochs * nb), 100): the number of warm-up iterations.
inline int64_t warmup_iterations(int64_t nb, double warmup_epochs = 3.0) {
  return std::max<int64_t>(py_round(warmup_epochs * double(nb)), 100);
}

// The warm-up hyperparameters of hyp.scratch-low.yaml (plus the nominal batch size nbs).
struct WarmupHyp {
  double warmup_bias_lr = 0.1;
  double warmup_momentum = 0.8;
  double momentum = 0.937;
  int nbs = 64;
};

// What train.py sets at iteration ni. When !active (ni > nw) only `accumulate` is meaningful:
// the warm-up leaves lr/momentum alone then, and accumulate stays at max(round(nbs/batch), 1).
struct WarmupState {
  bool active = false;
  std::vector<double> lr, momentum;  // per group
  int64_t accumulate = 1;
};

// Gradient accumulation steps outside the warm-up: max(round(nbs / batch), 1).
inline int64_t accumulate_steps(int batch_size, int nbs = 64) {
  YOLITE_CHECK(batch_size > 0, "accumulate_steps: batch size ", batch_size, ", expected > 0");
  return std::max<int64_t>(py_round(double(nbs) / double(batch_size)), 1);
}

// Warm-up values at iteration ni (nw from warmup_iterations), epoch, for groups whose
// initial_lr values are given (group 0 = biases).
inline WarmupState warmup(int64_t ni, int64_t nw, int epoch, const LrLambda& lf,
                          const std::vector<double>& initial_lr, const WarmupHyp& hyp,
                          int batch_size) {
  YOLITE_CHECK(nw > 0, "warmup: nw is ", nw, ", expected > 0");
  WarmupState w;
  w.accumulate = accumulate_steps(batch_size, hyp.nbs);
  if (ni > nw) return w;
  w.active = true;
  const double x = double(ni), x1 = double(nw);
  w.accumulate = std::max<int64_t>(
      1, py_round(np_interp(x, 0.0, x1, 1.0, double(hyp.nbs) / double(batch_size))));
  const double f = lf(double(epoch));
  for (size_t j = 0; j < initial_lr.size(); ++j) {
    w.lr.push_back(np_interp(x, 0.0, x1, j == 0 ? hyp.warmup_bias_lr : 0.0, initial_lr[j] * f));
    w.momentum.push_back(np_interp(x, 0.0, x1, hyp.warmup_momentum, hyp.momentum));
  }
  return w;
}

// Same, reading initial_lr from the optimizer's groups.
template <class T>
WarmupState warmup(int64_t ni, int64_t nw, int epoch, const LrLambda& lf,
                   const std::vector<ParamGroup<T>>& groups, const WarmupHyp& hyp, int batch_size) {
  std::vector<double> init;
  for (const auto& g : groups) init.push_back(g.initial_lr);
  return warmup(ni, nw, epoch, lf, init, hyp, batch_size);
}

// Writes an active warm-up's lr and momentum into the groups.
template <class T>
void apply_warmup(const WarmupState& w, std::vector<ParamGroup<T>>& groups) {
  if (!w.active) return;
  YOLITE_CHECK(w.lr.size() == groups.size(), "apply_warmup: ", w.lr.size(),
               " group values for ", groups.size(), " groups");
  for (size_t j = 0; j < groups.size(); ++j) {
    groups[j].lr = w.lr[j];
    groups[j].momentum = w.momentum[j];
  }
}

// The same under the short name. Call it qualified (optim::apply): unqualified, argument-
// dependent lookup also finds std::apply for a std::vector argument.
template <class T>
void apply(const WarmupState& w, std::vector<ParamGroup<T>>& groups) {
  apply_warmup(w, groups);
}

// LambdaLR: lr = initial_lr * lf(epoch) in every group (what scheduler.step() leaves after
// `epoch` steps).
template <class T>
void set_epoch_lr(std::vector<ParamGroup<T>>& groups, const LrLambda& lf, int epoch) {
  const double f = lf(double(epoch));
  for (auto& g : groups) g.lr = g.initial_lr * f;
}

}  // namespace yolite::optim
