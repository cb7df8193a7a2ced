// nn/conv.hpp -- Conv2d, BatchNorm2d and YOLOv5's Conv block (conv -> BN -> SiLU).
//
//   auto c = std::make_shared<nn::Conv<float>>(3, 16, /*k=*/6, /*s=*/2, /*p=*/2);
//   Var<float> y = c->forward(x);          // x [B,3,H,W] -> y [B,16,H/2,W/2]
//
// State-dict names: Conv2d "weight" ["bias"]; BatchNorm2d "weight", "bias", "running_mean",
// "running_var", "num_batches_tracked"; Conv "conv.weight", "bn.*" (no conv bias: BN has one).
// YOLOv5 sets every BatchNorm2d to eps 1e-3, momentum 0.03 (PyTorch's defaults are 1e-5, 0.1;
// using them moves the head logits by up to ~10, see shared/fixtures/README.md).
// Default initialisation is PyTorch's: conv weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
// (kaiming_uniform with a = sqrt(5)); BN weight 1, bias 0, running mean 0, var 1.
//
// Inference fusion (YOLOv5's fuse_conv_and_bn): in eval mode BN is a per-channel affine map,
// so conv -> BN equals one conv with scaled weights and a bias:
//   scale[k] = gamma[k] / sqrt(running_var[k] + eps)
//   w'[k]    = w[k] * scale[k]
//   b'[k]    = beta[k] + (b[k] - running_mean[k]) * scale[k]      (b = 0 without a conv bias)
//   nn::fuse_conv_bn(*model);   // every Conv block below *model; eval-mode forwards use w', b'
//                               // (and the other Conv2d layers, Detect's heads, get packed)
// The fused tensors are a snapshot (computed in double, stored as T): the block's state dict is
// unchanged, training mode ignores them, and Conv::unfuse() (or fusing again after the weights
// changed) keeps them honest. A fused block's eval forward is ag::conv2d_silu: the SiLU done by
// the convolution's epilogue and, for float, the weights packed once at fuse() time.
#pragma once
#include <cmath>
#include <memory>
#include <type_traits>

#include "../autograd/ops/activation.hpp"
#include "../autograd/ops/batchnorm.hpp"
#include "../autograd/ops/batchnorm_silu.hpp"
#include "../autograd/ops/conv2d.hpp"
#include "module.hpp"

namespace yolite::nn {

template <class T>
class Conv2d : public Module<T> {
 public:
  Conv2d(int c1, int c2, int k, int s, int p, bool with_bias) : c1(c1), c2(c2), k(k), s(s), p(p) {
    YOLITE_CHECK(c1 > 0 && c2 > 0 && k > 0 && s > 0 && p >= 0, "Conv2d: bad arguments c1=", c1,
                 " c2=", c2, " k=", k, " s=", s, " p=", p);
    this->register_parameter("weight", weight, Tensor<T>({c2, c1, k, k}));
    if (with_bias) this->register_parameter("bias", bias, Tensor<T>({c2}));
  }
  std::string type_name() const override { return "Conv2d"; }
  Var<T> forward(const Var<T>& x) override {
    YOLITE_CHECK(x.shape().ndim() == 4 && x.shape()[1] == c1, "Conv2d(", c1, "->", c2,
                 "): input must be [B,", c1, ",H,W], got ", x.shape().str());
    if (packed_ && !this->is_training())
      return ag::conv2d_act(x, weight, bias, s, p, ops::ConvAct::none, packed_.get());
    return ag::conv2d(x, weight, bias, s, p);
  }
  bool has_bias() const { return bias.defined(); }

  // Inference: prepares the current weights once for the fp32 forward kernel (float only), used
  // by eval-mode forwards without a graph until unpack(). A snapshot, like Conv::fuse(): pack
  // again after changing the weights. nn::fuse_conv_bn packs the Conv2d layers outside Conv
  // blocks (Detect's heads).
  void pack() {
    packed_.reset();
    if constexpr (std::is_same_v<T, float>) {
      ops::Conv2dParams q;
      q.C = c1, q.K = c2, q.R = q.S = k, q.stride = s, q.pad = p;
      packed_ = std::make_shared<const ops::fast::PackedConvWeights>(
          ops::fast::pack_conv2d_weights(q, weight.value().data()));
    }
  }
  void unpack() { packed_.reset(); }
  bool packed() const { return packed_ != nullptr; }
  // Multiply-accumulates of one image through this conv for an input of h x w pixels.
  int64_t macs(int64_t h, int64_t w) const {
    int64_t oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
    return oh * ow * c2 * int64_t(c1) * k * k;
  }
  int64_t out_size(int64_t n) const { return (n + 2 * p - k) / s + 1; }

  Var<T> weight, bias;  // bias undefined when the conv has none
  const int c1, c2, k, s, p;

 private:
  std::shared_ptr<const ops::fast::PackedConvWeights> packed_;  // pack(); float only

 protected:
  void reset_parameters(Rng& rng) override {
    const double bound = 1.0 / std::sqrt(double(c1) * k * k);
    for (auto& v : weight.value()) v = T(rng.uniform(-bound, bound));
    if (bias.defined())
      for (auto& v : bias.value()) v = T(rng.uniform(-bound, bound));
  }
};

template <class T>
class BatchNorm2d : public Module<T> {
 public:
  explicit BatchNorm2d(int c, double eps = 1e-3, double momentum = 0.03)
      : c(c), eps(eps), momentum(momentum) {
    this->register_parameter("weight", weight, Tensor<T>({c}, T(1)));
    this->register_parameter("bias", bias, Tensor<T>({c}));
    running_mean = Tensor<T>({c});
    running_var = Tensor<T>({c}, T(1));
    this->register_buffer("running_mean", running_mean);
    this->register_buffer("running_var", running_var);
    this->register_int_buffer("num_batches_tracked", num_batches_tracked);
  }
  std::string type_name() const override { return "BatchNorm2d"; }
  Var<T> forward(const Var<T>& x) override {
    YOLITE_CHECK(x.shape().ndim() == 4 && x.shape()[1] == c, "BatchNorm2d(", c,
                 "): input must be [B,", c, ",H,W], got ", x.shape().str());
    return ag::batch_norm2d(x, weight, bias, running_mean, running_var, &num_batches_tracked,
                            this->is_training(), momentum, eps, sync);
  }

  Var<T> weight, bias;
  Tensor<T> running_mean, running_var;
  int64_t num_batches_tracked = 0;
  const int c;
  const double eps, momentum;
  // Sync-BN: training statistics over every process of a data-parallel job (set_sync_bn);
  // nullptr: this process's batch.
  const ops::BnSync* sync = nullptr;

 protected:
  void reset_parameters(Rng&) override {
    weight.value().fill(T(1));
    bias.value().fill(T(0));
    running_mean.fill(T(0));
    running_var.fill(T(1));
    num_batches_tracked = 0;
  }
};

// YOLOv5's Conv: Conv2d(c1, c2, k, s, p = k/2, no bias) -> BatchNorm2d -> SiLU, the last two
// as one fused op (bn_silu) that never stores the BN output.
template <class T>
class Conv : public Module<T> {
 public:
  Conv(int c1, int c2, int k = 1, int s = 1, int p = -1)
      : conv(std::make_shared<Conv2d<T>>(c1, c2, k, s, p < 0 ? k / 2 : p, false)),
        bn(std::make_shared<BatchNorm2d<T>>(c2)) {
    this->register_module("conv", conv);
    this->register_module("bn", bn);
  }
  std::string type_name() const override { return "Conv"; }
  Var<T> forward(const Var<T>& x) override {
    if (fused() && !this->is_training()) {
      YOLITE_CHECK(x.shape().ndim() == 4 && x.shape()[1] == conv->c1, "Conv(", conv->c1, "->",
                   conv->c2, ", fused): input must be [B,", conv->c1, ",H,W], got ",
                   x.shape().str());
      return ag::conv2d_silu(x, fused_w_, fused_b_, conv->s, conv->p, packed_.get());
    }
    return bn_silu(conv->forward(x));
  }
  // The block's BN -> SiLU on a conv output y, as one fused op (ag::batch_norm_silu2d; same
  // values and gradients as ag::silu(bn->forward(y))).
  Var<T> bn_silu(const Var<T>& y) {
    YOLITE_CHECK(y.shape().ndim() == 4 && y.shape()[1] == bn->c, "Conv: BN(", bn->c,
                 ") input must be [B,", bn->c, ",H,W], got ", y.shape().str());
    return ag::batch_norm_silu2d(y, bn->weight, bn->bias, bn->running_mean, bn->running_var,
                                 &bn->num_batches_tracked, bn->is_training(), bn->momentum,
                                 bn->eps, bn->sync);
  }
  int c1() const { return conv->c1; }
  int c2() const { return conv->c2; }

  // Folds the BN's current eval-mode affine map into a fused weight and bias (see the header).
  void fuse() {
    const Tensor<T>& w = conv->weight.value();
    const int K = conv->c2;
    const int64_t per = w.numel() / K;
    Tensor<T> fw(w.shape()), fb({K});
    for (int k = 0; k < K; ++k) {
      const double scale = double(bn->weight.value()[k]) /
                           std::sqrt(double(bn->running_var[k]) + bn->eps);
      for (int64_t i = 0; i < per; ++i) fw[k * per + i] = T(double(w[k * per + i]) * scale);
      const double b0 = conv->has_bias() ? double(conv->bias.value()[k]) : 0.0;
      fb[k] = T(double(bn->bias.value()[k]) + (b0 - double(bn->running_mean[k])) * scale);
    }
    fused_w_ = Var<T>(fw);
    fused_b_ = Var<T>(fb);
    packed_.reset();
    if constexpr (std::is_same_v<T, float>) {
      ops::Conv2dParams p;
      p.C = conv->c1, p.K = conv->c2, p.R = p.S = conv->k, p.stride = conv->s, p.pad = conv->p;
      packed_ = std::make_shared<const ops::fast::PackedConvWeights>(
          ops::fast::pack_conv2d_weights(p, fw.data()));
    }
  }
  void unfuse() {
    fused_w_ = Var<T>();
    fused_b_ = Var<T>();
    packed_.reset();
  }
  bool fused() const { return fused_w_.defined(); }

  std::shared_ptr<Conv2d<T>> conv;
  std::shared_ptr<BatchNorm2d<T>> bn;

 private:
  Var<T> fused_w_, fused_b_;  // not parameters: never in the state dict, never trained
  // fused_w_ packed once for the fp32 forward kernel (float only; ag::conv2d_silu)
  std::shared_ptr<const ops::fast::PackedConvWeights> packed_;
};

// Fuses every Conv block in the module tree below (and including) m, and packs every Conv2d
// outside a Conv block (Detect's heads: Conv2d::pack); returns how many Conv blocks it fused.
template <class T>
int fuse_conv_bn(Module<T>& m) {
  if (auto* c = dynamic_cast<Conv<T>*>(&m)) {
    c->fuse();  // (its own Conv2d is bypassed by the fused forward: not packed)
    return 1;
  }
  if (auto* c = dynamic_cast<Conv2d<T>*>(&m)) c->pack();
  int n = 0;
  for (auto& [name, child] : m.children()) n += fuse_conv_bn(*child);
  return n;
}

// Sync-BN for every BatchNorm2d under `root` (nullptr turns it off). `sync` must outlive the
// forward and backward passes that use it.
template <class T>
void set_sync_bn(Module<T>& root, const ops::BnSync* sync) {
  if (auto* bn = dynamic_cast<BatchNorm2d<T>*>(&root)) bn->sync = sync;
  for (auto& [name, child] : root.children()) set_sync_bn(*child, sync);
}

}  // namespace yolite::nn
