#include <doctest/doctest.h>

#include <yolite/autograd/gradcheck.hpp>
#include <yolite/autograd/variable.hpp>

using namespace yolite;

// A tiny op defined right here, to test the tape without depending on the op library:
// y = x * x (elementwise) and s = sum(y).
template <class T>
static Var<T> square(const Var<T>& x) {
  Tensor<T> y(x.shape());
  for (int64_t i = 0; i < y.numel(); ++i) y[i] = x.value()[i] * x.value()[i];
  Tensor<T> xv = x.value();
  return ag::make_result<T>(y, {x}, "square", [xv](Node<T>& self) {
    if (auto* g = ag::grad_of(self, 0))
      for (int64_t i = 0; i < xv.numel(); ++i) (*g)[i] += 2 * xv[i] * self.grad[i];
  });
}
template <class T>
static Var<T> total(const Var<T>& x) {
  Tensor<T> y({1});
  for (auto v : x.value()) y[0] += v;
  return ag::make_result<T>(y, {x}, "sum", [](Node<T>& self) {
    if (auto* g = ag::grad_of(self, 0))
      for (auto& v : *g) v += self.grad[0];
  });
}

TEST_SUITE("autograd") {
  TEST_CASE("tape: gradients accumulate over shared inputs (diamond graph)") {
    Var<double> x(Tensor<double>::from({3}, std::vector<double>{1, -2, 3}), true);
    auto a = square(x);
    auto b = square(x);
    auto s1 = total(a), s2 = total(b);
    // s = sum(x^2) + sum(x^2) via two paths that meet: build one more node joining them
    Tensor<double> joined({1});
    joined[0] = s1.value()[0] + s2.value()[0];
    auto s = ag::make_result<double>(joined, {s1, s2}, "add", [](Node<double>& self) {
      for (size_t i = 0; i < 2; ++i)
        if (auto* g = ag::grad_of(self, i)) (*g)[0] += self.grad[0];
    });
    s.backward();
    REQUIRE(x.grad().defined());
    CHECK(x.grad()[0] == doctest::Approx(4));
    CHECK(x.grad()[1] == doctest::Approx(-8));
    CHECK(x.grad()[2] == doctest::Approx(12));
  }

  TEST_CASE("tape: no-grad scope records nothing") {
    Var<double> x(Tensor<double>({2}, 1.0), true);
    {
      NoGradGuard ng;
      auto y = square(x);
      CHECK_FALSE(y.requires_grad());
    }
    CHECK(square(x).requires_grad());
  }

  TEST_CASE("gradcheck: passes a right gradient and catches a wrong one") {
    Var<double> x(Tensor<double>::from({4}, std::vector<double>{0.3, -1.2, 2.0, 0.7}), true);
    std::function<Var<double>(std::vector<Var<double>>&)> good = [](auto& in) {
      return total(square(in[0]));
    };
    CHECK(gradcheck<double>(good, {x}).ok);
    std::function<Var<double>(std::vector<Var<double>>&)> bad = [](auto& in) {
      const Var<double>& v = in[0];
      Tensor<double> y({1});
      for (auto e : v.value()) y[0] += e * e * e;
      return ag::make_result<double>(y, {v}, "wrong", [](Node<double>& self) {
        if (auto* g = ag::grad_of(self, 0))
          for (auto& e : *g) e += self.grad[0];  // wrong on purpose
      });
    };
    CHECK_FALSE(gradcheck<double>(bad, {x}).ok);
  }
}
