// autograd/gradcheck.hpp -- compare autograd gradients with central finite differences.
//
//   auto f = [&](std::vector<Var<double>>& in) { return ag::sum(ag::silu(in[0])); };
//   auto r = gradcheck<double>(f, {x});   // r.ok, r.max_abs_err, r.message
//
// f must return a scalar Var. Each input that requires grad is perturbed element by element
// (+-eps) and the numeric slope compared with the analytic gradient:
//   |analytic - numeric| <= atol + rtol * |numeric|.
// Meant for double precision and small tensors (it runs f 2*numel times).
#pragma once
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "variable.hpp"

namespace yolite {

struct GradcheckResult {
  bool ok = true;
  double max_abs_err = 0;
  std::string message;  // the first mismatch, when !ok
};

template <class T>
GradcheckResult gradcheck(const std::function<Var<T>(std::vector<Var<T>>&)>& f,
                          std::vector<Var<T>> inputs, double eps = 1e-6, double atol = 1e-5,
                          double rtol = 1e-4) {
  GradcheckResult res;
  for (auto& v : inputs) v.zero_grad();
  Var<T> out = f(inputs);
  YOLITE_CHECK(out.value().numel() == 1, "gradcheck: f must return a scalar, got ",
               out.shape().str());
  out.backward();
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad()) continue;
    Tensor<T> analytic = inputs[k].grad().defined() ? inputs[k].grad().clone()
                                                     : Tensor<T>(inputs[k].shape());
    Tensor<T>& x = inputs[k].value();
    for (int64_t i = 0; i < x.numel(); ++i) {
      T saved = x[i];
      double lo, hi;
      {
        NoGradGuard ng;
        x[i] = T(saved + eps);
        hi = double(f(inputs).value()[0]);
        x[i] = T(saved - eps);
        lo = double(f(inputs).value()[0]);
        x[i] = saved;
      }
      double numeric = (hi - lo) / (2 * eps);
      double err = std::abs(double(analytic[i]) - numeric);
      res.max_abs_err = std::max(res.max_abs_err, err);
      if (res.ok && err > atol + rtol * std::abs(numeric)) {
        res.ok = false;
        res.message = str("input ", k, " ", x.shape().str(), " element ", i, ": analytic ",
                          double(analytic[i]), " numeric ", numeric);
      }
    }
  }
  return res;
}

}  // namespace yolite
