// Every op rejects bad shapes with a yolite::Error that names the op and both shapes.
#include <doctest/doctest.h>

#include <functional>
#include <string>

#include <yolite/autograd/ops.hpp>

using namespace yolite;

namespace {
// Runs f, which must throw yolite::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  std::string msg;
  try {
    f();
  } catch (const Error& e) {
    msg = e.what();
  }
  INFO("message: ", msg);
  REQUIRE_FALSE(msg.empty());
  for (const auto& p : parts) CHECK(msg.find(p) != std::string::npos);
}
Var<float> V(Shape s) { return Var<float>(Tensor<float>(s), true); }
}  // namespace

TEST_SUITE("autograd") {
  TEST_CASE("ops: shape mismatches throw yolite::Error naming the op and both shapes") {
    expect_error([] { ag::add(V({2, 3}), V({3, 2})); }, {"ag::add", "[2, 3]", "[3, 2]"});
    expect_error([] { ag::mul(V({1, 3, 5, 7}), V({1, 3, 7, 5})); }, {"ag::mul", "[1, 3, 5, 7]", "[1, 3, 7, 5]"});
    expect_error([] { ag::concat<float>({V({1, 3, 5, 7}), V({1, 2, 5, 6})}); },
                 {"ag::concat", "[1, 3, 5, 7]", "[1, 2, 5, 6]"});
    expect_error([] { ag::concat<float>({V({2, 3, 5, 7}), V({1, 3, 5, 7})}); }, {"ag::concat", "[2, 3, 5, 7]", "[1, 3, 5, 7]"});
    expect_error([] { ag::concat<float>({}); }, {"ag::concat"});
    expect_error([] { ag::conv2d(V({1, 3, 8, 8}), V({4, 5, 3, 3}), Var<float>(), 1, 1); },
                 {"ag::conv2d", "[1, 3, 8, 8]", "[4, 5, 3, 3]"});
    expect_error([] { ag::conv2d(V({1, 3, 8, 8}), V({4, 3, 3, 3}), V({5}), 1, 1); },
                 {"ag::conv2d", "[5]", "[4, 3, 3, 3]"});
    expect_error([] { ag::conv2d(V({3, 8, 8}), V({4, 3, 3, 3}), Var<float>(), 1, 1); }, {"ag::conv2d", "[3, 8, 8]"});
    expect_error([] { ag::conv2d(V({1, 3, 2, 2}), V({4, 3, 6, 6}), Var<float>(), 2, 1); },
                 {"ag::conv2d", "[1, 3, 2, 2]", "[4, 3, 6, 6]"});
    Tensor<float> rm({3}), rv({3}, 1.f), rm4({4});
    expect_error([&] { ag::batch_norm2d(V({2, 3, 4, 4}), V({4}), V({3}), rm, rv, nullptr, true); },
                 {"ag::batch_norm2d", "[2, 3, 4, 4]", "[4]"});
    expect_error([&] { ag::batch_norm2d(V({2, 3, 4, 4}), V({3}), V({3}), rm4, rv, nullptr, false); },
                 {"ag::batch_norm2d", "[2, 3, 4, 4]", "[4]"});
    expect_error([] { ag::bce_with_logits(V({2, 5}), Tensor<float>({5, 2})); },
                 {"ag::bce_with_logits", "[2, 5]", "[5, 2]"});
    expect_error([] { ag::max_pool2d(V({1, 3, 5, 7}), 3, 1, 2); }, {"ag::max_pool2d", "[1, 3, 5, 7]", "pad 2"});
    expect_error([] { ag::upsample_nearest2x(V({3, 5, 7})); }, {"ag::upsample_nearest2x", "[3, 5, 7]"});
  }
}
