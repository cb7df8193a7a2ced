// A user's program: only find_package(yolite) and #include <yolite/yolite.hpp>.
#include <yolite/yolite.hpp>
#include <cstdio>

int main() {
  yolite::Tensor<float> t({1, 3, 4, 4});
  t.fill(0.5f);
  double s = 0;
  for (float v : t.span()) s += v;
  std::printf("consumer: %s sum %.1f\n", t.shape().str().c_str(), s);
  return s == 24.0 ? 0 : 1;
}
