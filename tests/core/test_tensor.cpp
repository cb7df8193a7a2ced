#include <doctest/doctest.h>

#include <yolite/core/rng.hpp>
#include <yolite/core/tensor.hpp>

using namespace yolite;

TEST_SUITE("core") {
  TEST_CASE("tensor: shape, zero fill, alignment, element access") {
    Tensor<float> t({2, 3, 4, 5});
    CHECK(t.numel() == 120);
    CHECK(t.shape().str() == "[2, 3, 4, 5]");
    CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
    for (float v : t) CHECK(v == 0.f);
    t.at(1, 2, 3, 4) = 7.f;
    CHECK(t[119] == 7.f);
    CHECK_THROWS_AS(t.at(2, 0, 0, 0), Error);
    CHECK_THROWS_AS(t.at(0, 0, 0), Error);
  }

  TEST_CASE("tensor: reshape is a view; mismatches name both shapes") {
    Tensor<double> t({2, 6});
    auto v = t.reshape({3, -1});
    CHECK(v.shape() == Shape({3, 4}));
    v[5] = 1.5;
    CHECK(t[5] == 1.5);
    try {
      (void)t.reshape({5, 5});
      FAIL("expected an error");
    } catch (const Error& e) {
      std::string m = e.what();
      CHECK(m.find("[2, 6]") != std::string::npos);
      CHECK(m.find("[5, 5]") != std::string::npos);
    }
    Tensor<double> u({3, 4});
    CHECK_THROWS_AS(u.copy_from(t), Error);
  }

  TEST_CASE("tensor: clone is deep, batch index is a view, Eigen map shares memory") {
    Tensor<float> t({2, 2, 2});
    auto c = t.clone();
    c[0] = 1;
    CHECK(t[0] == 0);
    auto b1 = t(1);
    CHECK(b1.shape() == Shape({2, 2}));
    b1[0] = 3;
    CHECK(t[4] == 3);
    auto m = t.matrix(2, 4);
    CHECK(m(1, 0) == 3);
    m(0, 1) = 9;
    CHECK(t[1] == 9);
  }

  TEST_CASE("tensor: absurd sizes are refused before allocating") {
    CHECK_THROWS_AS(Tensor<float>({100000, 100000, 100000}), Error);
    CHECK_THROWS_AS(Tensor<float>({-1, 3}), Error);
  }

  TEST_CASE("rng: deterministic, split streams differ, uniform in range") {
    Rng a(42), b(42);
    for (int i = 0; i < 100; ++i) CHECK(a.next_u32() == b.next_u32());
    Rng s1 = a.split(1), s2 = a.split(2);
    CHECK(s1.next_u64() != s2.next_u64());
    double mean = 0;
    for (int i = 0; i < 10000; ++i) {
      double u = a.uniform();
      CHECK(u >= 0.0);
      CHECK(u < 1.0);
      mean += u;
    }
    CHECK(mean / 10000 == doctest::Approx(0.5).epsilon(0.02));
    int lo = 0;
    for (int i = 0; i < 1000; ++i) {
      int r = a.randint(3, 5);
      CHECK(r >= 3);
      CHECK(r <= 5);
      lo += r == 3;
    }
    CHECK(lo > 250);
  }
}
