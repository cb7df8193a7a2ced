// autograd/ops.hpp -- every differentiable op of yolite, in namespace yolite::ag.
//
//   #include <yolite/autograd/ops.hpp>
//   Var<float> y = ag::silu(ag::batch_norm2d(ag::conv2d(x, w, {}, 1, 1), g, b, rm, rv, &n, true));
//   ag::mean(y).backward();
//
// One op per file under autograd/ops/ (forward + backward closure), each calling the CPU
// kernels of ops/cpu/ (reference loops beside fast OpenMP/vectorised versions):
//   conv2d            conv2d(x, w, b, stride, pad)
//   batchnorm         batch_norm2d(x, gamma, beta, running_mean, running_var, &tracked, training,
//                                  momentum = 0.03, eps = 1e-3)
//   batchnorm_silu    batch_norm_silu2d(same arguments)   (= silu(batch_norm2d(...)), fused)
//   activation        silu(x), sigmoid(x)
//   elementwise       add(a, b), mul(a, b), scale(a, s)
//   concat            concat({a, b, ...})          (channels)
//   upsample          upsample_nearest2x(x)
//   maxpool           max_pool2d(x, k, stride, pad)
//   reduce            sum(x), mean(x)               -> [1]
//   bce               bce_with_logits(logits, targets, pos_weight = 1)   -> [1], mean
#pragma once
#include "ops/activation.hpp"
#include "ops/batchnorm.hpp"
#include "ops/batchnorm_silu.hpp"
#include "ops/bce.hpp"
#include "ops/concat.hpp"
#include "ops/conv2d.hpp"
#include "ops/elementwise.hpp"
#include "ops/maxpool.hpp"
#include "ops/reduce.hpp"
#include "ops/upsample.hpp"
#include "variable.hpp"
